"""The strawberry schema, built with the limits of the given settings."""

from __future__ import annotations

import logging
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.printer import print_schema

from graphinv.api.errors import should_mask
from graphinv.api.history import Subscription
from graphinv.api.limits import extensions_for
from graphinv.api.query import Query
from graphinv.api.settings import ApiSettings

log = logging.getLogger("graphinv.api")


class InventorySchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Client mistakes (bad syntax, limits, cursors) are one info line; only internal errors get a
        traceback, in the server log (the client sees a masked message)."""
        for error in errors:
            if should_mask(error):
                log.error("internal error in %s", error.path, exc_info=error.original_error)
            else:
                log.info("query refused: %s", error.message)


def build_schema(settings: ApiSettings | None = None) -> strawberry.Schema:
    return InventorySchema(query=Query, subscription=Subscription, extensions=extensions_for(settings or ApiSettings()))


def schema_sdl() -> str:
    """The schema in SDL, as docs/schema.graphql holds it (limits do not change the SDL)."""
    return print_schema(build_schema()) + "\n"
