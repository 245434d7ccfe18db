"""graphinv's settings, under their older names: `load_config` is `graphinv.settings.load_settings`.

The models, the loading rules and the GRAPHINV_* overrides live in `graphinv.settings`
(see docs/configuration.md). `Config(sections={...})` builds settings from a mapping of sections,
the way tests and tools that write a configuration in code had it; it validates like a file does.
"""

from __future__ import annotations

from typing import Any

from pydantic import model_validator

from graphinv.settings.load import find_config_file, load_settings, settings_from_mapping
from graphinv.settings.neo4j import Neo4jConnection
from graphinv.settings.root import Settings
from graphinv.settings.types import ConfigError

__all__ = ["Config", "ConfigError", "Neo4jConnection", "Settings", "find_config_file", "load_config",
           "settings_from_mapping"]

load_config = load_settings


class Config(Settings):
    """Settings; `sections=` takes the file's sections as one mapping."""

    @model_validator(mode="before")
    @classmethod
    def _unpack_sections(cls, data: Any) -> Any:
        if isinstance(data, dict) and "sections" in data:
            data = {**(data.get("sections") or {}), **{k: v for k, v in data.items() if k != "sections"}}
        return data
