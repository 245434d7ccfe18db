"""The root of graphinv's configuration: one model per section, mounted here, validated once at load.

To add a section: declare it as a `Section` in your own module, with defaults that work, and mount
it below with ONE line `name: YourSection = Field(default_factory=YourSection)`. Loading
(file + GRAPHINV_* overrides), error messages and the override table follow from the models.

(This module, not `graphinv/settings/__init__.py`, imports the sections: every section module
imports `graphinv.settings.types`, which runs the package's `__init__` first; if that imported the
sections, whichever section was imported first would find itself half-initialised.)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from pydantic import Field, PrivateAttr, model_validator

from collectors.settings import SOURCES, SourcesSettings
from graphinv.alerts.settings import AlertSettings, AlertsSection
from graphinv.api.settings import ApiSettings
from graphinv.distributed.settings import QueueSettings
from graphinv.history.settings import HistorySettings
from graphinv.inventory.settings import InventorySettings
from graphinv.neo4j_server.manager import LocalNeo4jSettings
from graphinv.orphan_settings import OrphansSettings
from graphinv.scheduler.settings import SchedulerSection, SchedulerSettings
from graphinv.settings.collect import CollectSettings
from graphinv.settings.neo4j import Neo4jConnection
from graphinv.settings.types import Section
from graphinv.watch.settings import WatchSettings


class Settings(Section):
    """graphinv's whole configuration file."""

    neo4j: Neo4jConnection = Field(default_factory=Neo4jConnection)
    local_neo4j: LocalNeo4jSettings = Field(default_factory=LocalNeo4jSettings)
    sources: SourcesSettings = Field(default_factory=SourcesSettings)
    collect: CollectSettings = Field(default_factory=CollectSettings)
    orphans: OrphansSettings = Field(default_factory=OrphansSettings)
    scheduler: SchedulerSection = Field(default_factory=SchedulerSection)
    alerts: AlertsSection = Field(default_factory=AlertsSection)
    api: ApiSettings = Field(default_factory=ApiSettings)
    inventory: InventorySettings = Field(default_factory=InventorySettings)
    history: HistorySettings = Field(default_factory=HistorySettings)
    watch: WatchSettings = Field(default_factory=WatchSettings)
    queue: QueueSettings = Field(default_factory=QueueSettings)
    # Sections of later parts mount here, one line each.

    _source_path: Path | None = PrivateAttr(default=None)
    _alert_settings: AlertSettings | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _cross_section_rules(self) -> Settings:
        if "uri" not in self.neo4j.model_fields_set:
            # Nobody named a server: use the local one graphinv manages, on whatever port it has.
            self.neo4j.uri = f"bolt://127.0.0.1:{self.local_neo4j.bolt_port}"
        missing = self.scheduler.unconfigured(self.configured_sources)
        if missing:
            raise ValueError(f"scheduler.collect names source(s) without a `sources:` section: {', '.join(missing)}")
        return self

    @property
    def source_path(self) -> Path | None:
        """The file this was loaded from (None: defaults and environment only)."""
        return self._source_path

    @property
    def configured_sources(self) -> list[str]:
        """Sources with a `sources.<name>` section, in collection order (Gardener first)."""
        return [name for name in SOURCES if getattr(self.sources, name, None) is not None]

    @property
    def uses_local_server(self) -> bool:
        """The graph is the local server graphinv manages (not just any Neo4j on loopback)."""
        return self.neo4j.is_local and (self.neo4j.port or 7687) == self.local_neo4j.bolt_port

    def scheduler_settings(self) -> SchedulerSettings:
        """The scheduler's jobs for the configured sources."""
        return self.scheduler.runtime(self.configured_sources, self.collect.concurrency)

    def alert_settings(self, env: Mapping[str, str] | None = None) -> AlertSettings:
        """The alerts section with its sinks' secrets read (once: at load, so a missing one stops the start)."""
        if self._alert_settings is None or env is not None:
            self._alert_settings = self.alerts.runtime(self.orphans.max_staleness, os.environ if env is None else env,
                                                       self.orphans.prices)
        return self._alert_settings

    @property
    def max_staleness(self) -> timedelta:
        return self.orphans.max_staleness
