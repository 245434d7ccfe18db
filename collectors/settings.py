"""The `sources:` section: one typed sub-section per collector (owned by the collectors package).

graphinv.settings mounts SourcesSettings as the root's `sources`. A source whose key is absent or
null is not configured.
"""

from __future__ import annotations

from typing import Any

from graphinv.settings.types import Section


class SourcesSettings(Section):
    # Placeholders until each collector declares its typed model (same field names).
    gardener: dict[str, Any] | None = None
    aws: dict[str, Any] | None = None
    gcp: dict[str, Any] | None = None
    azure: dict[str, Any] | None = None
    openstack: dict[str, Any] | None = None
