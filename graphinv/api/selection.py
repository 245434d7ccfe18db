"""Which stored properties a query asks for, so Cypher returns only those.

Shipping every property of every node costs more than the graph walk itself (the driver turns
each stored datetime into a Python object): the deep benchmark query spent most of its time there.
So each fetch names the properties the selection needs (always `uid`, which cursors and nested
fields use) and Neo4j returns just those values.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField
from strawberry.utils.str_converters import to_camel_case

Props = tuple[str, ...]


@cache
def stored_fields(cls: Any) -> dict[str, str]:
    """GraphQL name -> property name for the fields of a node type that are stored properties."""
    definition = cls.__strawberry_definition__
    return {f.graphql_name or to_camel_case(f.python_name): f.python_name
            for f in definition.fields if f.base_resolver is None}


def _fields(selections: Iterable[Any]) -> Iterable[SelectedField]:
    for selection in selections:
        if isinstance(selection, SelectedField):
            yield selection
        elif isinstance(selection, FragmentSpread | InlineFragment):
            yield from _fields(selection.selections)


def _below(selections: Iterable[Any], path: Sequence[str]) -> list[Any]:
    """The selections under a path of field names (e.g. edges -> node of a connection)."""
    current = list(selections)
    for name in path:
        current = [s for f in _fields(current) if f.name == name for s in f.selections]
    return current


def requested_props(selected: Sequence[Any], cls: Any, path: Sequence[str] = ()) -> Props:
    """The stored properties of `cls` the current field's selection (`info.selected_fields`) asks
    for, plus uid, sorted."""
    known = stored_fields(cls)
    wanted = {"uid"}
    for field in _fields(selected):
        for sub in _fields(_below(field.selections, path)):
            if sub.name in known:
                wanted.add(known[sub.name])
    return tuple(sorted(wanted))


def as_dict(props: Sequence[str], values: Sequence[Any]) -> dict[str, Any]:
    return dict(zip(props, values, strict=True))
