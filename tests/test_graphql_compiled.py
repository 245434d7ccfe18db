"""GraphQL compiled to Cypher (graphinv/api/compiled.py) answers exactly as the resolver path does.

Two real uvicorn servers over the same Neo4j and the same hand-made landscape: the default app
(compiled root fields, resolvers for the rest) and `batch_loads=True` (the DataLoader resolvers
alone). Every GraphQL query in docs/ and GraphiQL's default query run through both and must give
identical JSON; so must a set of queries exercising what the compiler translates (fragments,
aliases, @skip/@include, __typename, timestamps, JSON properties, cursors, totalCount) and the
requests it leaves to the resolvers (errors, history, capacity). Round trips show which path ran.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import FragmentDefinitionNode, OperationDefinitionNode, OperationType, parse, print_ast
from graphql.language import DocumentNode

from graphinv.api import create_app
from graphinv.api.graphiql import DEFAULT_QUERY
from graphinv.api.settings import ApiSettings
from graphinv.api.threaded import serving
from graphinv.db import Graph
from tests.support.api_landscape import Landscape, build_landscape, fingerprint
from tests.support.graph import wipe

DOCS = Path(__file__).resolve().parents[1] / "docs"
# The docs' example names, bound to nodes of the test landscape so the examples return data.
DOC_NAMES = {'"dev"': '"alpha"', '"aws-eu1"': '"seed-aws"'}


def doc_queries() -> list[tuple[str, str]]:
    """(where, query) for every query and fragment-using operation in docs/*.md's graphql blocks."""
    found: list[tuple[str, str]] = []
    for path in sorted(DOCS.rglob("*.md")):
        for n, block in enumerate(re.findall(r"```graphql\n(.*?)```", path.read_text(), re.S)):
            document = parse(block)
            fragments = [d for d in document.definitions if isinstance(d, FragmentDefinitionNode)]
            for op in document.definitions:
                if isinstance(op, OperationDefinitionNode) and op.operation == OperationType.QUERY:
                    single = DocumentNode(definitions=(op, *fragments))
                    found.append((f"{path.name} block {n + 1}", print_ast(single)))
    return found


def post(base: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = httpx.post(f"{base}/graphql", json={"query": query, "variables": variables or {}}, timeout=120)
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture(scope="module")
def running(session_graph: Graph) -> Iterator[tuple[str, str, Landscape]]:
    landscape = build_landscape()
    wipe(session_graph)
    landscape.write(session_graph)
    with serving(create_app(session_graph, ApiSettings())) as compiled, \
            serving(create_app(session_graph, ApiSettings(), batch_loads=True)) as resolvers:
        yield compiled, resolvers, landscape


@pytest.fixture
def servers(running: tuple[str, str, Landscape], session_graph: Graph) -> tuple[str, str, Landscape]:
    """The two servers (compiled, resolvers), the landscape in the graph as written."""
    if fingerprint(session_graph) != running[2].written_as:
        wipe(session_graph)
        running[2].write(session_graph)
    return running


def same_answer(servers: tuple[str, str, Landscape], query: str,
                variables: dict[str, Any] | None = None) -> tuple[dict[str, Any], int, int]:
    """Both paths' answer (data and errors) must be identical JSON; returns the compiled body and
    both round-trip counts."""
    compiled, resolvers, _ = servers
    fast, slow = post(compiled, query, variables), post(resolvers, query, variables)
    assert {k: fast.get(k) for k in ("data", "errors")} == {k: slow.get(k) for k in ("data", "errors")}, query
    assert fast["extensions"]["graphinv"]["cost"] == slow["extensions"]["graphinv"]["cost"]
    return fast, fast["extensions"]["graphinv"]["roundTrips"], slow["extensions"]["graphinv"]["roundTrips"]


def test_docs_contain_queries() -> None:
    assert len(doc_queries()) >= 6  # the extraction itself works


@pytest.mark.parametrize(("where", "query"), doc_queries())
def test_every_docs_query_gives_identical_json(servers: tuple[str, str, Landscape], where: str, query: str) -> None:
    landscape = servers[2]
    vm = sorted(landscape.machine_vm.values())[0]
    for literal, real in {**DOC_NAMES, '"i-0123456789abcdef0"': f'"{vm}"'}.items():
        query = query.replace(literal, real)
    variables = {"uid": vm} if "$uid" in query else {}
    body, _, _ = same_answer(servers, query, variables)
    assert not body.get("errors"), (where, body.get("errors"))
    assert any(value not in (None, [], {}) for value in body["data"].values()), (where, body["data"])


def test_graphiql_default_query_gives_identical_json(servers: tuple[str, str, Landscape]) -> None:
    body, compiled_trips, resolver_trips = same_answer(servers, DEFAULT_QUERY)
    assert body["data"]["projects"]["edges"]
    # `stats` keeps its resolver; `projects` is one compiled query instead of four levels.
    _, stats_trips, _ = same_answer(servers, "{ stats { projects shoots machines instances disks ips } }")
    assert compiled_trips == stats_trips + 1 < resolver_trips


DEEP = """{ project(name: "alpha") { name shoots { uid machines { uid instance { uid disks { uid } ips { uid } } } } }
}"""

COMPILED = [
    DEEP,
    # every stored scalar kind: text, numbers, booleans, lists, JSON, timestamps; __typename at each level
    """{ instances(first: 50) { __typename totalCount pageInfo { __typename hasNextPage hasPreviousPage startCursor
        endCursor } edges { __typename cursor node { __typename uid name provider status created firstSeen lastSeen
        tags cluster machine { uid created } shoot { technicalId hibernated workers created }
        disks { uid sizeGb boot attached attachedInstances } ips { address allocation } } } } }""",
    # aliases, the same field twice with different pages, fragments (named and inline), directives
    """query($skip: Boolean!, $n: Int!) { a: project(name: "alpha") { ...P } b: project(name: "beta") { ...P }
        __typename
        shoots(first: $n, filter: {provider: "aws"}) { edges { node { uid one: machines(first: 1) { uid }
          all: machines { uid ... on Machine { phase } } skipped: name @skip(if: $skip)
          kept: name @include(if: true) } }
          pageInfo { hasNextPage endCursor } } }
      fragment P on Project { name __typename shoots(first: 2) { ...S } }
      fragment S on Shoot { uid seed { name } project { name } machines(first: 1) { ...M } }
      fragment M on Machine { uid instance { ... on Instance { uid disks(first: 1) { uid } } } }""",
    # every filter, and missing keys
    """{ f1: instances(filter: {provider: "gcp", role: "node"}) { totalCount edges { node { uid } } }
        f2: disks(filter: {project: "alpha"}) { totalCount edges { node { uid instance { uid } shoot { uid } } } }
        f3: ips(filter: {state: "unassigned"}) { totalCount edges { node { uid address } } }
        f4: machines(filter: {project: "alpha", phase: "Running"}) { totalCount edges { node { uid } } }
        f5: seeds(filter: {provider: "aws"}) { edges { node { name shoots { uid } } } }
        f6: cloudAccounts { edges { node { uid instances(first: 3) { uid } disks(first: 2) { uid } ips { uid } } } }
        f7: shoots(filter: {namePrefix: "o", hibernated: false}) { totalCount edges { node { uid bastions { uid } } } }
        f8: projects(filter: {namePrefix: "zzz"}) { totalCount pageInfo { hasNextPage startCursor endCursor }
                                                    edges { cursor } }
        f9: seeds(first: 1) { p1: pageInfo { hasNextPage } p2: pageInfo { endCursor }
                              e1: edges { cursor } e2: edges { node { uid } } }
        none: instance(uid: "i-none") { uid } s1: shoot(technicalId: "shoot--alpha--one") { uid ownedInstances { uid } }
        s2: shoot(uid: "garden-alpha/one") { technicalId ownedDisks { uid } ownedIps { uid } } }""",
]

RESOLVED = [
    '{ projects(first: 0) { edges { node { uid } } } }',  # page size error
    '{ instances(after: "bm90IGEgY3Vyc29y") { edges { node { uid } } } }',  # bad cursor
    '{ shoot(uid: "garden-alpha/one", technicalId: "x") { uid } }',  # both keys
    '{ project(name: "alpha") { shoots(first: 5000) { uid } } }',  # nested page size error
    '{ project(name: "alpha") { capacity { vms vcpus } shoots { uid } } }',  # computed field
    '{ instances(first: 3) { edges { node { uid history { kind } } } } }',  # its own query per level
    '{ seeds { a: edges { node { uid } } b: edges { node { name } } } }',  # two node shapes
]


@pytest.mark.parametrize("query", COMPILED)
def test_compiled_queries_give_identical_json_in_one_query_per_root_field(
        servers: tuple[str, str, Landscape], query: str) -> None:
    variables = {"skip": True, "n": 2}
    body, compiled_trips, resolver_trips = same_answer(servers, query, variables)
    assert not body.get("errors"), body["errors"]
    roots = [k for k in body["data"] if k != "__typename"]
    assert compiled_trips == len(roots) < resolver_trips


@pytest.mark.parametrize("query", RESOLVED)
def test_what_the_compiler_leaves_to_the_resolvers_gives_identical_json(
        servers: tuple[str, str, Landscape], query: str) -> None:
    _, compiled_trips, resolver_trips = same_answer(servers, query)
    assert compiled_trips == resolver_trips


def test_cursor_pages_are_identical(servers: tuple[str, str, Landscape]) -> None:
    query = """query($after: String) { instances(first: 3, after: $after) { totalCount
        edges { cursor node { uid } } pageInfo { hasNextPage hasPreviousPage endCursor } } }"""
    after = None
    seen: list[str] = []
    while True:
        body, _, _ = same_answer(servers, query, {"after": after})
        conn = body["data"]["instances"]
        seen += [e["node"]["uid"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert seen == sorted(servers[2].instances)


ODD_DATA = """
CREATE (:Instance {uid: 'i-odd-1', name: datetime('2026-01-01T00:00:00Z'), created: '2026-01-01', tags: '{no json'})
CREATE (:Instance {uid: 'i-odd-2', name: 'fine', created: localdatetime('2026-01-01T00:00:00')})
CREATE (:Disk {uid: 'vol-odd', size_gb: 1099511627776, boot: 'yes'})
CREATE (:Instance {name: 'no uid'})
"""
ODD_QUERIES = [
    '{ instance(uid: "i-odd-1") { uid name } }',
    '{ instance(uid: "i-odd-1") { uid created } }',
    '{ instance(uid: "i-odd-1") { uid tags } }',
    '{ instance(uid: "i-odd-2") { uid name created } }',
    '{ disks { edges { node { uid sizeGb } } } }',
    '{ disk(uid: "vol-odd") { uid boot } }',
    '{ instances { edges { node { name } } } }',
]


def test_stored_values_the_resolvers_render_differently_fall_back(
        servers: tuple[str, str, Landscape], session_graph: Graph) -> None:
    """Values of the wrong type, timestamps without a zone, bad JSON, a 40-bit Int, a null uid: the
    compiled answer is dropped and the resolvers give theirs (errors included), identical JSON."""
    wipe(session_graph)
    session_graph.run_write(ODD_DATA)
    for query in ODD_QUERIES:
        _, compiled_trips, resolver_trips = same_answer(servers, query)
        assert compiled_trips == 1 + resolver_trips, query  # the dropped compiled query, then the resolvers
    ok, trips, _ = same_answer(servers, '{ instance(uid: "i-odd-2") { uid name } }')
    assert ok["data"] == {"instance": {"uid": "i-odd-2", "name": "fine"}} and trips == 1
