"""Everything that runs for live watches, started and stopped as one: the Gardener watches, the
targeted cloud re-reads, their metrics. Used by `graphinv watch`, `graphinv scheduler start` and
`graphinv demo`."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from graphinv.db import Graph
from graphinv.ingest import Ingest, install_schema
from graphinv.watch.gardener import GardenerWatches
from graphinv.watch.readers import PROVIDERS, readers_for
from graphinv.watch.refresh import TargetedRefresh
from graphinv.watch.settings import WatchSettings
from graphinv.watch.stream import Listener

log = logging.getLogger(__name__)


def _section(sources: Any, name: str) -> Any:
    """`sources.<name>` from the typed SourcesSettings or a plain mapping; None when not configured."""
    if isinstance(sources, Mapping):
        return sources.get(name)
    return getattr(sources, name, None)


class WatchService:
    def __init__(self, graph: Graph, sources: Any, settings: WatchSettings | None = None,
                 metrics: Any | None = None, listeners: list[Listener] | None = None) -> None:
        gardener = _section(sources, "gardener")
        if gardener is None:
            raise ValueError("watches need a `sources.gardener` section")
        self.graph = graph
        self.settings = settings or WatchSettings()
        self.refresh: TargetedRefresh | None = None
        all_listeners = list(listeners or [])
        if self.settings.refresh.enabled:
            clouds = {name: _section(sources, name) for name in PROVIDERS}
            readers = readers_for({name: section for name, section in clouds.items() if section is not None})
            if readers:
                self.refresh = TargetedRefresh(Ingest(graph), readers, self.settings.refresh)
                all_listeners.append(self.refresh)
        self.watches = GardenerWatches(gardener, Ingest(graph), self.settings, all_listeners, metrics)

    def start(self) -> WatchService:
        install_schema(self.graph)
        if self.refresh is not None:
            self.refresh.start()
        self.watches.start()
        log.info("watching the Gardener side (re-list every %s)", self.settings.resync_interval)
        return self

    def stop(self) -> None:
        self.watches.stop()
        if self.refresh is not None:
            self.refresh.stop()

    def down(self) -> list[str]:
        return self.watches.down()

    def statuses(self) -> list[dict[str, Any]]:
        return self.watches.statuses()
