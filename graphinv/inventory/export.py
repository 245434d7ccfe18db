"""Exports for spreadsheets and other tools: CSV per label, streaming NDJSON, GraphML of a subgraph.

CSV and NDJSON rows come straight from a Neo4j result as the driver streams it (records are fetched
in batches and written as they arrive), so memory stays flat however many nodes there are. GraphML
is meant for a subgraph (a project, a shoot): it keeps the subgraph's node ids in memory to write
only the edges between them.
"""

from __future__ import annotations

import contextlib
import csv
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol
from xml.sax.saxutils import escape, quoteattr

from neomodel import BooleanProperty, FloatProperty, IntegerProperty, JSONProperty

from graph_schema.registry import node_class
from graphinv.db import Graph

FORMATS = ("csv", "ndjson", "graphml")
# What an inventory export holds, in the order a whole-graph export writes it (bookkeeping nodes of
# collections and alerts are not inventory).
LABELS = ("Project", "Seed", "Shoot", "Machine", "Bastion", "CloudAccount", "Region", "Instance", "Disk", "IP")
CLOUD_RESOURCES = ("Instance", "Disk", "IP")

# Per label: how --provider, --project and --shoot select nodes ($provider, $project_prefix =
# 'shoot--<project>--', $project, $shoot). A label a filter does not apply to keeps only the nodes
# connected to what the filter selects.
_OWNED = "n.cluster STARTS WITH $project_prefix"
PROVIDER_WHERE = {
    "Project": "EXISTS { (n)-[:HAS_SHOOT]->(:Shoot {provider: $provider}) }",
    "Machine": "EXISTS { (:Shoot {provider: $provider})-[:HAS_MACHINE]->(n) }",
    "Bastion": "n.provider = $provider",
}
PROJECT_WHERE = {
    "Project": "n.name = $project",
    "Seed": "EXISTS { (n)-[:HOSTS]->(s:Shoot) WHERE s.technical_id STARTS WITH $project_prefix }",
    "Shoot": "n.technical_id STARTS WITH $project_prefix",
    "Machine": "n.shoot_ref STARTS WITH $project_prefix",
    "Bastion": "EXISTS { (s:Shoot)-[:HAS_BASTION]->(n) WHERE s.technical_id STARTS WITH $project_prefix }",
    "CloudAccount": "EXISTS { (n)-[:OWNS]->(r) WHERE r.cluster STARTS WITH $project_prefix }",
    "Region": "EXISTS { (r)-[:IN_REGION]->(n) WHERE r.cluster STARTS WITH $project_prefix }",
    **{label: _OWNED for label in CLOUD_RESOURCES},
}
SHOOT_WHERE = {
    "Project": "EXISTS { (n)-[:HAS_SHOOT]->(:Shoot {technical_id: $shoot}) }",
    "Seed": "EXISTS { (n)-[:HOSTS]->(:Shoot {technical_id: $shoot}) }",
    "Shoot": "n.technical_id = $shoot",
    "Machine": "n.shoot_ref = $shoot",
    "Bastion": "EXISTS { (:Shoot {technical_id: $shoot})-[:HAS_BASTION]->(n) }",
    "CloudAccount": "EXISTS { (n)-[:OWNS]->(r) WHERE r.cluster = $shoot }",
    "Region": "EXISTS { (r)-[:IN_REGION]->(n) WHERE r.cluster = $shoot }",
    **{label: "n.cluster = $shoot" for label in CLOUD_RESOURCES},
}


class TextSink(Protocol):
    """Where an export writes: a text file, stdout, or anything else with write(str)."""

    def write(self, text: str, /) -> int: ...


class ExportError(ValueError):
    """The export cannot be made as asked; the message says why."""


@dataclass
class ExportFilter:
    labels: Sequence[str] = LABELS
    provider: str | None = None
    project: str | None = None
    shoot: str | None = None

    def params(self) -> dict[str, Any]:
        return {"provider": self.provider, "project": self.project, "shoot": self.shoot,
                "project_prefix": f"shoot--{self.project}--" if self.project else None}


# What a spreadsheet reader looks for first, and the bookkeeping of reads last.
LEADING = ("uid", "name", "provider", "account_id", "region", "zone", "state", "cluster", "technical_id")
TRAILING = ("first_seen", "last_seen", "source", "scope", "run_id")


def columns(label: str) -> list[str]:
    """A label's CSV columns, stable: the schema's properties in declaration order, identity first and
    bookkeeping (first_seen ... run_id) last."""
    names = list(node_class(label).defined_properties(aliases=False, rels=False))
    lead = [n for n in LEADING if n in names]
    trail = [n for n in TRAILING if n in names]
    return [*lead, *[n for n in names if n not in lead and n not in trail], *trail]


def _json_properties(label: str) -> set[str]:
    props = node_class(label).defined_properties(aliases=False, rels=False)
    return {name for name, prop in props.items() if isinstance(prop, JSONProperty)}


def label_query(label: str, filt: ExportFilter) -> str:
    """Cypher returning one map per node of `label` that the filter selects, ordered by uid."""
    if label not in LABELS:
        raise ExportError(f"unknown label {label!r}; export one of {', '.join(LABELS)}")
    has_provider = "provider" in columns(label)
    where = []
    if filt.provider:
        where.append(PROVIDER_WHERE.get(label, "n.provider = $provider" if has_provider else "false"))
    if filt.project:
        where.append(PROJECT_WHERE[label])
    if filt.shoot:
        where.append(SHOOT_WHERE[label])
    clause = f"WHERE {' AND '.join(where)} " if where else ""
    return f"MATCH (n:{label}) {clause}RETURN n {{.*}} AS node, elementId(n) AS id ORDER BY n.uid"


def stream_nodes(graph: Graph, label: str, filt: ExportFilter) -> Iterator[tuple[str, dict[str, Any]]]:
    """(element id, properties) of each node, as the driver streams them (never a whole list)."""
    query = label_query(label, filt)
    with graph.session() as session:
        for record in session.run(query, filt.params()):
            yield record["id"], record["node"]


def _plain(value: Any) -> Any:
    if hasattr(value, "to_native"):
        value = value.to_native()
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _cell(value: Any) -> str:
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def write_csv(graph: Graph, label: str, filt: ExportFilter, out: TextSink) -> int:
    """One label's nodes as CSV with a header; returns the number of rows."""
    cols = columns(label)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(cols)
    count = 0
    for _id, node in stream_nodes(graph, label, filt):
        writer.writerow([_cell(node.get(c)) for c in cols])
        count += 1
    return count


def write_ndjson(graph: Graph, filt: ExportFilter, out: TextSink) -> int:
    """One JSON object per line: {"label": ..., <properties>}; JSON-valued properties (tags) as objects."""
    count = 0
    for label in filt.labels:
        cols = columns(label)
        parsed = _json_properties(label)
        for _id, node in stream_nodes(graph, label, filt):
            row: dict[str, Any] = {"label": label}
            for col in cols:
                value = _plain(node.get(col))
                if col in parsed and isinstance(value, str):
                    with contextlib.suppress(ValueError):  # not JSON after all: keep the text
                        value = json.loads(value)
                row[col] = value
            out.write(json.dumps(row, default=str, separators=(",", ":")) + "\n")
            count += 1
    return count


_GRAPHML_TYPES: tuple[tuple[type, str], ...] = (
    (BooleanProperty, "boolean"), (IntegerProperty, "long"), (FloatProperty, "double"))


def _graphml_keys(labels: Sequence[str]) -> dict[str, str]:
    """Property name -> GraphML type, over every exported label (a name has one type in the schema)."""
    keys: dict[str, str] = {"label": "string"}
    for label in labels:
        for name, prop in node_class(label).defined_properties(aliases=False, rels=False).items():
            kind = next((t for cls, t in _GRAPHML_TYPES if isinstance(prop, cls)), "string")
            keys.setdefault(name, kind)
    return keys


def _graphml_value(value: Any, kind: str) -> str:
    value = _plain(value)
    if kind == "boolean":
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def write_graphml(graph: Graph, filt: ExportFilter, out: TextSink) -> tuple[int, int]:
    """The selected nodes and the relationships between them as GraphML; returns (nodes, edges).

    Node ids are `<label>:<uid>`; each node has a `label` attribute and its properties, each edge
    its relationship `type`."""
    keys = _graphml_keys(filt.labels)
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n'
              '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">\n')
    for name, kind in keys.items():
        out.write(f'  <key id={quoteattr("n_" + name)} for="node" attr.name={quoteattr(name)} '
                  f'attr.type="{kind}"/>\n')
    out.write('  <key id="e_type" for="edge" attr.name="type" attr.type="string"/>\n')
    out.write('  <graph id="graphinv" edgedefault="directed">\n')
    ids: dict[str, str] = {}  # element id -> GraphML node id
    for label in filt.labels:
        for element_id, node in stream_nodes(graph, label, filt):
            node_id = f"{label}:{node['uid']}"
            ids[element_id] = node_id
            out.write(f"    <node id={quoteattr(node_id)}>")
            out.write(f'<data key="n_label">{escape(label)}</data>')
            for name, value in node.items():
                if value is None or name not in keys:
                    continue
                out.write(f"<data key={quoteattr('n_' + name)}>{escape(_graphml_value(value, keys[name]))}</data>")
            out.write("</node>\n")
    edges = 0
    query = ("UNWIND $ids AS id MATCH (a)-[r]->(b) WHERE elementId(a) = id "
             "RETURN elementId(a) AS source, elementId(b) AS target, type(r) AS type ORDER BY source, type, target")
    with graph.session() as session:
        for record in session.run(query, {"ids": list(ids)}):
            target = ids.get(record["target"])
            if target is None:
                continue  # the far end is outside the subgraph
            out.write(f"    <edge source={quoteattr(ids[record['source']])} target={quoteattr(target)}>"
                      f'<data key="e_type">{escape(record["type"])}</data></edge>\n')
            edges += 1
    out.write("  </graph>\n</graphml>\n")
    return len(ids), edges
