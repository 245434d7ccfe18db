"""The GraphQL API over the inventory graph (strawberry on Starlette, served by uvicorn).

The names below load on first use: `graphinv.api.settings` is read by every command's config, and
importing it must not pull in strawberry and Starlette for commands that never serve."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from graphinv.api.app import create_app
    from graphinv.api.schema import build_schema, schema_sdl
    from graphinv.api.settings import ApiSettings

__all__ = ["ApiSettings", "build_schema", "create_app", "schema_sdl"]

_HOMES = {"create_app": "graphinv.api.app", "build_schema": "graphinv.api.schema",
          "schema_sdl": "graphinv.api.schema", "ApiSettings": "graphinv.api.settings"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'graphinv.api' has no attribute {name!r}")
    return getattr(import_module(_HOMES[name]), name)
