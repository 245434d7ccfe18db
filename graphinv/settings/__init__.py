"""graphinv's configuration: one typed tree (pydantic), validated once at load.

- `graphinv.settings.types`: the building blocks (Section, Duration, Secret, CLOUD_PROVIDERS, ConfigError).
- `graphinv.settings.root`: the root model `Settings`; mount new sections there, one line each.
- `graphinv.settings.load`: file + GRAPHINV_* environment overrides -> `Settings`, errors per key path.
- `graphinv.settings.envtable`: the environment override table, generated from the models.

Names are re-exported lazily (`from graphinv.settings import Settings, load_settings` works), so that
importing `graphinv.settings.types` from a section module never imports the sections themselves.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from graphinv.settings.load import load_settings, settings_from_mapping
    from graphinv.settings.root import Settings

__all__ = ["Settings", "load_settings", "settings_from_mapping"]

_LAZY = {"Settings": "graphinv.settings.root", "load_settings": "graphinv.settings.load",
         "settings_from_mapping": "graphinv.settings.load"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
