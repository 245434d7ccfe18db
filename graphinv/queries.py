"""Named Cypher files: the ones shipped in `queries/`, and a user's own.

A file starts with `//` header lines: `// name:`, `// description:` (may continue on indented
`//` lines), `// params:` (comma-separated; every listed param defaults to null when not given).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from graphinv.cypher_header import HeaderError, header_list, parse_header
from graphinv.db import Graph


class QueryError(ValueError):
    """Unknown query, bad file, or bad parameter."""


@dataclass
class NamedQuery:
    name: str
    description: str
    text: str
    params: list[str] = field(default_factory=list)
    origin: str = ""

    def bind(self, given: dict[str, Any]) -> dict[str, Any]:
        unknown = set(given) - set(self.params)
        if unknown:
            raise QueryError(f"query {self.name!r} takes no parameter(s) {', '.join(sorted(unknown))}; "
                             f"it takes: {', '.join(self.params) or 'none'}")
        return {p: given.get(p) for p in self.params}

    def run(self, graph: Graph, **params: Any) -> list[dict[str, Any]]:
        return graph.run_read(self.text, self.bind(params))


HEADER_KEYS = ("name", "description", "params", "index")  # index: which index a query uses, for humans


def parse_query(text: str, origin: str, fallback_name: str) -> NamedQuery:
    try:
        header = parse_header(text, HEADER_KEYS, origin)
    except HeaderError as exc:
        raise QueryError(str(exc)) from None
    params = list(header_list(header.get("params", "")))
    return NamedQuery(
        name=header.get("name", fallback_name), description=header.get("description", ""),
        text=text, params=params, origin=origin,
    )


def shipped_queries() -> dict[str, NamedQuery]:
    found = {}
    for entry in sorted(resources.files("queries").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".cypher"):
            query = parse_query(entry.read_text(), f"queries/{entry.name}", entry.name.removesuffix(".cypher"))
            found[query.name] = query
    return found


def load_query(name: str) -> NamedQuery:
    queries = shipped_queries()
    if name not in queries:
        raise QueryError(f"no query named {name!r}; try `graphinv query --list`")
    return queries[name]


_LOAD_CSV = re.compile(r"\bLOAD\s+CSV\b", re.IGNORECASE)
_COMMENT = re.compile(r"//[^\n]*")


def load_query_file(path: str | Path) -> NamedQuery:
    file = Path(path)
    if not file.is_file():
        raise QueryError(f"query file {file} does not exist")
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise QueryError(f"query file {file} is not UTF-8 text; save it as UTF-8") from None
    if _LOAD_CSV.search(_COMMENT.sub("", text)):
        raise QueryError(f"query file {file} uses LOAD CSV; graphinv queries read the graph only, never files or URLs")
    return parse_query(text, str(file), file.stem)


def parse_param(text: str) -> tuple[str, Any]:
    """`k=v` from the command line; numbers and true/false/null are typed, lists as a,b,c in brackets."""
    if "=" not in text:
        raise QueryError(f"parameter {text!r} must look like key=value")
    key, raw = text.split("=", 1)
    value: Any = raw
    if raw in ("null", "none", ""):
        value = None
    elif raw in ("true", "false"):
        value = raw == "true"
    elif re.fullmatch(r"-?\d+", raw):
        value = int(raw)
    elif re.fullmatch(r"-?\d+\.\d*", raw):
        value = float(raw)
    elif raw.startswith("[") and raw.endswith("]"):
        value = [v.strip() for v in raw[1:-1].split(",") if v.strip()]
    return key.strip(), value
