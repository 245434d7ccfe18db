"""The GraphQL API over the inventory graph (strawberry on Starlette, served by uvicorn)."""

from graphinv.api.app import create_app
from graphinv.api.schema import build_schema, schema_sdl
from graphinv.api.settings import ApiSettings

__all__ = ["ApiSettings", "build_schema", "create_app", "schema_sdl"]
