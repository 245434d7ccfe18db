"""Errors a client may read; everything else is masked to a generic message (no internals, no traces)."""

from __future__ import annotations

from graphql import GraphQLError


class ApiError(Exception):
    """A problem with the request the client can fix or should know of; its message is shown as is."""


class RequestTimeout(ApiError):
    pass


class GraphUnreachable(ApiError):
    pass


def should_mask(error: GraphQLError) -> bool:
    """Syntax and validation errors (no original error) and ApiErrors are shown; the rest is masked."""
    original = error.original_error
    if original is None:
        return False
    return not isinstance(original, ApiError)
