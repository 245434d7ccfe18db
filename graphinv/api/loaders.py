"""Per-request DataLoaders: every nested field and every look-up by key goes through one of these.

A loader collects the keys asked for while the executor walks one level of the query and sends them
to Neo4j in ONE query (`UNWIND $keys`). With `batch=False` each key is its own query: that is the
naive resolver path, kept only so the benchmark can measure the difference on the same schema.
"""

from __future__ import annotations

from typing import Any

from strawberry.dataloader import DataLoader

from graph_schema.surfaces import lookup_keys
from graphinv.api.relations import Relation
from graphinv.api.request_graph import RequestGraph
from graphinv.api.selection import as_dict

Props = dict[str, Any]
PageKey = tuple[str, int, tuple[str, ...]]  # (parent uid, first, property names wanted)
LookupKey = tuple[str, tuple[str, ...]]  # (key value, property names wanted)

# The only label/property pairs a look-up may use: they are put into Cypher text.
LOOKUP_KEYS = lookup_keys()


class Loaders:
    def __init__(self, db: RequestGraph, batch: bool = True) -> None:
        self.db = db
        self.max_batch_size = None if batch else 1
        self._related: dict[str, DataLoader[PageKey, list[Props]]] = {}
        self._lookups: dict[tuple[str, str], DataLoader[LookupKey, Props | None]] = {}

    def related(self, relation: Relation) -> DataLoader[PageKey, list[Props]]:
        loader = self._related.get(relation.name)
        if loader is None:
            loader = DataLoader(load_fn=self._related_fn(relation), max_batch_size=self.max_batch_size)
            self._related[relation.name] = loader
        return loader

    def lookup(self, label: str, key: str = "uid") -> DataLoader[LookupKey, Props | None]:
        if (label, key) not in LOOKUP_KEYS:
            raise ValueError(f"no look-up of {label} by {key}")
        loader = self._lookups.get((label, key))
        if loader is None:
            loader = DataLoader(load_fn=self._lookup_fn(label, key), max_batch_size=self.max_batch_size)
            self._lookups[(label, key)] = loader
        return loader

    def _related_fn(self, relation: Relation) -> Any:
        query = relation.batch_query()

        async def load(keys: list[PageKey]) -> list[list[Props]]:
            params = [{"uid": uid, "first": first, "props": list(props)} for uid, first, props in keys]
            rows = await self.db.fetch(query, {"keys": params})
            found = {(r["key"]["uid"], r["key"]["first"], tuple(r["key"]["props"])): r["nodes"] for r in rows}
            return [[as_dict(key[2], values) for values in found.get(key, [])] for key in keys]

        return load

    def _lookup_fn(self, label: str, key: str) -> Any:
        query = (f"UNWIND $keys AS key MATCH (n:{label} {{{key}: key.value}}) "
                 "RETURN key, [p IN key.props | n[p]] AS node")

        async def load(keys: list[LookupKey]) -> list[Props | None]:
            rows = await self.db.fetch(query, {"keys": [{"value": v, "props": list(p)} for v, p in keys]})
            found = {(r["key"]["value"], tuple(r["key"]["props"])): r["node"] for r in rows}
            return [as_dict(key[1], found[key]) if key in found else None for key in keys]

        return load
