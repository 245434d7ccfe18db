"""One `//` header parser for named queries and alert scripts: typos are errors, not silently dropped."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphinv.alerts.catalog import shipped_alerts
from graphinv.alerts.definition import AlertError, parse_alert
from graphinv.cypher_header import HeaderError, parse_header
from graphinv.queries import QueryError, load_query_file, shipped_queries


def test_continuations_and_free_comments() -> None:
    text = ("// name: q\n// description: first line\n//   and its continuation\n"
            "// A free comment, not a key.\n//   not a continuation of anything\n// params: a, b\nRETURN 1\n")
    assert parse_header(text, {"name", "description", "params"}, "q.cypher") == {
        "name": "q", "description": "first line and its continuation", "params": "a, b"}


def test_every_shipped_file_parses() -> None:
    assert len(shipped_queries()) >= 8 and len(shipped_alerts()) >= 13


def test_unknown_key_is_an_error_for_queries_and_alerts(tmp_path: Path) -> None:
    with pytest.raises(HeaderError, match="unknown header key `// parms:`"):
        parse_header("// name: q\n// parms: a\nRETURN 1", {"name", "params"}, "q.cypher")
    query = tmp_path / "mine.cypher"
    query.write_text("// name: mine\n// descripton: typo\nRETURN 1 AS x\n")
    with pytest.raises(QueryError, match=r"mine.cypher: unknown header key `// descripton:`"):
        load_query_file(query)
    with pytest.raises(AlertError, match="unknown header key `// sorces:`"):
        parse_alert("// name: a\n// sorces: aws\nRETURN 1 AS uid\n", "a.cypher", "a")


def test_a_typo_in_sources_is_an_error() -> None:
    with pytest.raises(AlertError, match=r"sources: unknown source.* asw; known: gardener, aws"):
        parse_alert("// name: a\n// sources: gardener, asw\nRETURN 1 AS uid\n", "a.cypher", "a")
    assert parse_alert("// name: a\n// sources: gardener, aws\nRETURN 1 AS uid\n", "a.cypher", "a").sources == (
        "gardener", "aws")
