"""The `collect:` section: how `graphinv collect` (and by default the scheduler) reads the sources."""

from __future__ import annotations

from pydantic import PositiveInt

from graphinv.settings.types import Section


class CollectSettings(Section):
    concurrency: PositiveInt = 8  # scopes read at once; writes stay on one thread
