"""The GraphQL API over real HTTP: a uvicorn server in a thread, the session's real Neo4j, httpx.

A small hand-made landscape (two projects, two seeds, three shoots on AWS and GCP, machines on VMs
with disks and IPs, a leaked VM, a VM of a deleted shoot, a lone Elastic IP, a bastion) is written
through the real ingest engine; expectations are computed from the same definitions, never typed in.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from neo4j.exceptions import ClientError

from bench.synthetic import Synthetic
from graphinv.api import create_app, schema_sdl
from graphinv.api.limits import MASKED_MESSAGE
from graphinv.api.request_graph import ReadOnly, RequestGraph
from graphinv.api.settings import ApiSettings, require_token_off_loopback
from graphinv.api.threaded import serving
from graphinv.config import ConfigError, Neo4jConnection, settings_from_mapping
from graphinv.db import Graph
from graphinv.ingest import Ingest
from graphinv.orphans import OrphanFilter, freshness, orphan_report
from graphinv.ports import free_port
from graphinv.settings.types import parse_duration
from tests.support.api_landscape import (
    ACCOUNTS,
    MACHINES_PER_SHOOT,
    PROJECTS,
    SEEDS,
    SHOOTS,
    Landscape,
    build_landscape,
    ensure_schema,
    fingerprint,
)
from tests.support.graph import wipe

REPO = Path(__file__).resolve().parents[1]


# -- a real server (graphinv.api.threaded.serving: uvicorn on a free port in a thread) -------------
def gql(base: str, query: str, variables: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = httpx.post(f"{base}/graphql", json={"query": query, "variables": variables or {}},
                          headers=headers or {}, timeout=60)
    assert response.headers["content-type"].startswith("application/json"), response.text
    body: dict[str, Any] = response.json()
    return body


def data_of(body: dict[str, Any]) -> dict[str, Any]:
    assert not body.get("errors"), body.get("errors")
    result: dict[str, Any] = body["data"]
    return result


def round_trips(body: dict[str, Any]) -> int:
    return int(body["extensions"]["graphinv"]["roundTrips"])


@pytest.fixture(scope="module")
def built_landscape() -> Landscape:
    return build_landscape()


@pytest.fixture
def landscape(session_graph: Graph, built_landscape: Landscape) -> Landscape:
    """The landscape in the graph; written once per module, again only when a test replaced it.

    Tests using it only read; tests that need other data take the `graph` fixture, which wipes."""
    if built_landscape.written_as is None or fingerprint(session_graph) != built_landscape.written_as:
        wipe(session_graph)
        built_landscape.write(session_graph)
    return built_landscape


@pytest.fixture(scope="module")
def api_server(session_graph: Graph) -> Iterator[str]:
    with serving(create_app(session_graph, ApiSettings())) as base:
        yield base


@pytest.fixture
def api(api_server: str, landscape: Landscape) -> str:
    return api_server


# -- traversals ----------------------------------------------------------------------------------------
def test_project_down_to_disks_and_ips(api: str, landscape: Landscape) -> None:
    body = gql(api, """
      { project(name: "alpha") { name shoots { uid machines { uid instance { uid disks { uid } ips { uid } } } } } }
    """)
    project = data_of(body)["project"]
    assert project["name"] == "alpha"
    expected_shoots = sorted(uid for uid in landscape.shoots if uid.startswith("garden-alpha/"))
    assert [s["uid"] for s in project["shoots"]] == expected_shoots
    for shoot in project["shoots"]:
        assert [m["uid"] for m in shoot["machines"]] == sorted(landscape.shoot_machines[shoot["uid"]])
        for machine in shoot["machines"]:
            vm = landscape.machine_vm[machine["uid"]]
            assert machine["instance"]["uid"] == vm
            assert [d["uid"] for d in machine["instance"]["disks"]] == landscape.vm_disks[vm]
            assert [i["uid"] for i in machine["instance"]["ips"]] == landscape.vm_ips[vm]


def test_instance_up_to_project(api: str, landscape: Landscape) -> None:
    machine_uid, vm = sorted(landscape.machine_vm.items())[0]
    body = gql(api, "query($uid: String!) { instance(uid: $uid) { uid machine { uid shoot { uid project { name } } } "
                    "shoot { technicalId } account { uid accountId } } }", {"uid": vm})
    inst = data_of(body)["instance"]
    record = landscape.instances[vm]
    assert inst["machine"]["uid"] == machine_uid
    shoot_uid = next(uid for uid, ms in landscape.shoot_machines.items() if machine_uid in ms)
    assert inst["machine"]["shoot"]["uid"] == shoot_uid
    assert inst["machine"]["shoot"]["project"]["name"] == landscape.shoots[shoot_uid].project_ref
    assert inst["shoot"]["technicalId"] == record.cluster
    assert inst["account"] == {"uid": record.account_ref, "accountId": record.account_id}


def test_leaked_vm_has_no_machine_and_gone_shoot_vm_has_no_shoot(api: str, landscape: Landscape) -> None:
    leaked = next(i for i in landscape.instances.values() if i.name == "shoot--alpha--one-leaked")
    gone = next(i for i in landscape.instances.values() if i.cluster == "shoot--alpha--gone")
    body = gql(api, """query($a: String!, $b: String!) {
        a: instance(uid: $a) { machine { uid } shoot { uid } cluster }
        b: instance(uid: $b) { machine { uid } shoot { uid } cluster } }""", {"a": leaked.uid, "b": gone.uid})
    data = data_of(body)
    assert data["a"] == {"machine": None, "shoot": {"uid": "garden-alpha/one"}, "cluster": "shoot--alpha--one"}
    assert data["b"] == {"machine": None, "shoot": None, "cluster": "shoot--alpha--gone"}


def test_account_seed_and_shoot_ownership(api: str, landscape: Landscape) -> None:
    body = gql(api, """{
      cloudAccount(uid: "aws:111111111111") { provider instances(first: 1000) { uid } disks(first: 1000) { uid }
                                              ips(first: 1000) { uid } }
      seed(name: "seed-aws") { shoots { uid } }
      shoot(technicalId: "shoot--alpha--one") { uid seed { name } project { name } bastions { uid shoot { uid } }
        ownedInstances(first: 1000) { uid } ownedDisks(first: 1000) { uid } ownedIps(first: 1000) { uid } }
    }""")
    data = data_of(body)
    account = data["cloudAccount"]
    assert account["provider"] == "aws"
    assert [i["uid"] for i in account["instances"]] == sorted(
        uid for uid, i in landscape.instances.items() if i.account_ref == "aws:111111111111")
    assert [d["uid"] for d in account["disks"]] == sorted(
        uid for uid, d in landscape.disks.items() if d.account_ref == "aws:111111111111")
    assert [i["uid"] for i in account["ips"]] == sorted(
        uid for uid, i in landscape.ips.items() if i.account_ref == "aws:111111111111")
    assert [s["uid"] for s in data["seed"]["shoots"]] == sorted(
        uid for uid, s in landscape.shoots.items() if s.seed_ref == "seed-aws")
    shoot = data["shoot"]
    assert shoot["uid"] == "garden-alpha/one"
    assert shoot["seed"] == {"name": "seed-aws"} and shoot["project"] == {"name": "alpha"}
    assert shoot["bastions"] == [{"uid": "garden-alpha/one-bastion", "shoot": {"uid": "garden-alpha/one"}}]
    assert [i["uid"] for i in shoot["ownedInstances"]] == sorted(
        uid for uid, i in landscape.instances.items() if i.cluster == "shoot--alpha--one")
    assert [d["uid"] for d in shoot["ownedDisks"]] == sorted(
        uid for uid, d in landscape.disks.items() if d.cluster == "shoot--alpha--one")
    assert [i["uid"] for i in shoot["ownedIps"]] == sorted(
        uid for uid, i in landscape.ips.items() if i.cluster == "shoot--alpha--one")


def test_disk_and_ip_lead_back_to_their_vm(api: str, landscape: Landscape) -> None:
    vm = next(uid for uid, ips in landscape.vm_ips.items() if ips)
    body = gql(api, "query($d: String!, $i: String!) { disk(uid: $d) { instance { uid } shoot { uid } account { uid } }"
                    " ip(uid: $i) { address instance { uid } } }",
               {"d": landscape.vm_disks[vm][0], "i": landscape.vm_ips[vm][0]})
    data = data_of(body)
    assert data["disk"]["instance"]["uid"] == vm
    assert data["disk"]["account"]["uid"] == landscape.instances[vm].account_ref
    assert data["ip"] == {"address": landscape.ips[landscape.vm_ips[vm][0]].address, "instance": {"uid": vm}}


def test_nested_first_limits_each_parent(api: str, landscape: Landscape) -> None:
    data = data_of(gql(api, '{ project(name: "alpha") { shoots(first: 1) { machines(first: 2) { uid } } } }'))
    shoots = data["project"]["shoots"]
    assert len(shoots) == 1
    assert [m["uid"] for m in shoots[0]["machines"]] == sorted(landscape.shoot_machines[
        min(uid for uid in landscape.shoots if uid.startswith("garden-alpha/"))])[:2]


def test_lookups_of_missing_keys_are_null(api: str) -> None:
    data = data_of(gql(api, '{ project(name: "nope") { name } instance(uid: "i-none") { uid } '
                            'shoot(uid: "garden-x/y") { uid } }'))
    assert data == {"project": None, "instance": None, "shoot": None}


# -- pagination and filters ------------------------------------------------------------------------------
PAGE_QUERY = """query($after: String, $filter: InstanceFilter) {
  instances(first: 4, after: $after, filter: $filter) {
    totalCount edges { cursor node { uid provider } } pageInfo { hasNextPage hasPreviousPage endCursor } } }"""


def _all_pages(base: str, filter: dict[str, Any] | None = None) -> tuple[list[str], int, int]:
    uids: list[str] = []
    after = None
    pages = 0
    total = -1
    while True:
        conn = data_of(gql(base, PAGE_QUERY, {"after": after, "filter": filter}))["instances"]
        pages += 1
        total = conn["totalCount"]
        assert conn["pageInfo"]["hasPreviousPage"] == (after is not None)
        uids += [e["node"]["uid"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            return uids, pages, total
        assert len(conn["edges"]) == 4
        after = conn["pageInfo"]["endCursor"]
        assert after == conn["edges"][-1]["cursor"]


def test_pagination_walks_every_instance_once(api: str, landscape: Landscape) -> None:
    uids, pages, total = _all_pages(api)
    assert uids == sorted(landscape.instances)
    assert total == len(landscape.instances)
    assert pages == -(-len(landscape.instances) // 4)


def test_filters(api: str, landscape: Landscape) -> None:
    gcp, _, total = _all_pages(api, {"provider": "gcp"})
    assert gcp == sorted(uid for uid, i in landscape.instances.items() if i.provider == "gcp") and total == len(gcp)
    beta, _, _ = _all_pages(api, {"project": "beta"})
    assert beta == sorted(uid for uid, i in landscape.instances.items()
                          if (i.cluster or "").startswith("shoot--beta--"))
    one_nodes, _, _ = _all_pages(api, {"shoot": "shoot--alpha--one", "role": "node"})
    assert one_nodes == sorted(uid for uid, i in landscape.instances.items()
                               if i.cluster == "shoot--alpha--one" and i.role == "node")
    prefix, _, _ = _all_pages(api, {"namePrefix": "shoot--alpha--one-", "account": "111111111111",
                                    "region": "eu-west-1", "state": "running"})
    assert prefix == sorted(uid for uid, i in landscape.instances.items()
                            if (i.name or "").startswith("shoot--alpha--one-"))
    assert _all_pages(api, {"state": "stopped"})[0] == []

    data = data_of(gql(api, """{
      shoots(filter: {seed: "seed-aws"}) { edges { node { uid } } }
      bySeedProvider: shoots(filter: {provider: "gcp", project: "alpha"}) { edges { node { uid } } }
      machines(filter: {shoot: "shoot--beta--three"}, first: 100) { totalCount edges { node { uid } } }
      alphaMachines: machines(filter: {project: "alpha"}, first: 100) { totalCount }
      disks(filter: {state: "available"}) { edges { node { uid } } }
      ips(filter: {namePrefix: "zzz"}) { totalCount edges { node { uid } } }
      cloudAccounts(filter: {provider: "gcp"}) { edges { node { uid } } }
      projects(filter: {namePrefix: "b"}) { edges { node { name } } }
    }"""))
    assert [e["node"]["uid"] for e in data["shoots"]["edges"]] == sorted(
        uid for uid, s in landscape.shoots.items() if s.seed_ref == "seed-aws")
    assert [e["node"]["uid"] for e in data["bySeedProvider"]["edges"]] == ["garden-alpha/two"]
    assert [e["node"]["uid"] for e in data["machines"]["edges"]] == sorted(
        landscape.shoot_machines["garden-beta/three"])
    assert data["machines"]["totalCount"] == MACHINES_PER_SHOOT
    assert data["alphaMachines"]["totalCount"] == 2 * MACHINES_PER_SHOOT
    assert [e["node"]["uid"] for e in data["disks"]["edges"]] == ["vol-spare"]
    assert data["ips"] == {"totalCount": 0, "edges": []}
    assert [e["node"]["uid"] for e in data["cloudAccounts"]["edges"]] == sorted(
        {f"gcp:{a['gcp']}" for p, a in ACCOUNTS.items() if any(s[0] == p and s[2] == "seed-gcp" for s in SHOOTS)})
    assert [e["node"]["name"] for e in data["projects"]["edges"]] == ["beta"]


def test_bad_cursor_and_page_size_are_graphql_errors(api: str) -> None:
    body = gql(api, '{ instances(after: "not-a-cursor") { edges { cursor } } }')
    assert body["data"] is None and "cursor" in body["errors"][0]["message"]
    body = gql(api, "{ instances(first: 5000) { edges { cursor } } }")
    assert "first must be between 1 and 1000" in body["errors"][0]["message"]
    body = gql(api, '{ project(name: "alpha") { shoots(first: 0) { uid } } }')
    assert "first must be between" in body["errors"][0]["message"]


# -- reports -----------------------------------------------------------------------------------------------
ORPHAN_FIELDS = ("verdict reason kind provider uid name account region zone state shoot project instanceType "
                 "sizeGb diskType address created firstSeen ageDays estMonthlyCostUsd")
SNAKE = {"instanceType": "instance_type", "sizeGb": "size_gb", "diskType": "disk_type", "firstSeen": "first_seen",
         "ageDays": "age_days", "estMonthlyCostUsd": "est_monthly_cost_usd"}


@pytest.mark.parametrize("args, filt", [
    ("", OrphanFilter()),
    ('(provider: "aws", kind: INSTANCE)', OrphanFilter(provider="aws", kind="instance")),
    ('(kind: DISK, includeInformational: true)', OrphanFilter(kind="disk")),
    ('(kind: IP, olderThan: "7d", project: "alpha")', OrphanFilter(kind="ip", older_than=parse_duration("7d"),
                                                                     project="alpha")),
    ('(olderThan: "400d")', OrphanFilter(older_than=parse_duration("400d"))),
])
def test_orphans_equal_the_cli_report(api: str, session_graph: Graph, args: str, filt: OrphanFilter) -> None:
    body = gql(api, f"{{ orphans{args} {{ {ORPHAN_FIELDS} }} }}")
    got = data_of(body)["orphans"]
    expected = orphan_report(session_graph, filt, include_informational="includeInformational" in args)
    assert [(r["uid"], r["verdict"], r["kind"]) for r in got] == [(r["uid"], r["verdict"], r["kind"]) for r in expected]
    for row, want in zip(got, expected, strict=True):
        for name in ORPHAN_FIELDS.split():
            value, wanted = row[name], want[SNAKE.get(name, name)]
            if name in ("created", "firstSeen"):
                assert (datetime.fromisoformat(value) if value else None) == (
                    datetime.fromisoformat(wanted) if wanted else None)
            elif name == "ageDays":
                assert abs(value - wanted) <= 0.1  # both round "now" to a tenth of a day
            else:
                assert value == wanted, name
    if not args:
        verdicts = {r["name"]: r["verdict"] for r in got}
        # The data is built so that the report has something to say.
        assert verdicts["shoot--alpha--one-leaked"] == "orphan"
        assert not [name for name in verdicts if name.endswith("-bastion")]  # the live bastion is claimed


def test_orphans_reject_bad_arguments(api: str) -> None:
    assert "olderThan" in gql(api, '{ orphans(olderThan: "soon") { uid } }')["errors"][0]["message"]
    assert "provider must be one of" in gql(api, '{ orphans(provider: "ibm") { uid } }')["errors"][0]["message"]


def test_stats_and_freshness(api: str, session_graph: Graph, landscape: Landscape) -> None:
    data = data_of(gql(api, "{ stats { projects seeds shoots machines bastions accounts instances disks ips "
                            "byProvider { provider instances disks ips accounts } } "
                            "freshness { scope status lastComplete written } "
                            'gardener: freshness(source: "gardener") { scope } }'))
    stats = data["stats"]
    assert (stats["projects"], stats["seeds"], stats["shoots"], stats["bastions"]) == (
        len(PROJECTS), len(SEEDS), len(SHOOTS), 1)
    assert stats["machines"] == len(landscape.machine_vm)
    assert (stats["instances"], stats["disks"], stats["ips"]) == (
        len(landscape.instances), len(landscape.disks), len(landscape.ips))
    by = {row["provider"]: row for row in stats["byProvider"]}
    assert by["gcp"]["instances"] == sum(1 for i in landscape.instances.values() if i.provider == "gcp")
    assert by["aws"]["disks"] == sum(1 for d in landscape.disks.values() if d.provider == "aws")
    expected = freshness(session_graph)
    assert [(r["scope"], r["status"], r["written"]) for r in data["freshness"]] == [
        (r["scope"], r["status"], r["written"]) for r in expected]
    assert {r["scope"] for r in data["gardener"]} == {r["scope"] for r in expected if r["source"] == "gardener"}
    assert len(expected) == len(landscape.scopes)


# -- no N+1 ------------------------------------------------------------------------------------------------------
DEEP = """{ projects(first: 50) { edges { node { name shoots(first: 5) { uid machines(first: 10) { uid
  instance { uid disks(first: 4) { uid } ips(first: 2) { uid } account { uid } machine { shoot { project { name } } } }
} } } } } }"""


def _deep(graph: Graph, syn: Synthetic, batch_loads: bool = True) -> tuple[int, int]:
    """(round trips, machines returned) of DEEP over a graph holding exactly `syn`."""
    wipe(graph)
    ensure_schema(graph)
    ingest = Ingest(graph)
    for scope, records in syn.scopes():
        ingest.write_context(scope, syn.context())
        with ingest.scope(scope) as run:
            run.write(records)
    with serving(create_app(graph, ApiSettings(), batch_loads=batch_loads)) as base:
        body = gql(base, DEEP)
    data = data_of(body)
    machines = [m for e in data["projects"]["edges"] for s in e["node"]["shoots"] for m in s["machines"]]
    assert all(m["instance"]["machine"]["shoot"]["project"]["name"] for m in machines)
    return round_trips(body), len(machines)


def test_round_trips_stay_constant_when_data_grows_tenfold(graph: Graph) -> None:
    small_trips, small_rows = _deep(graph, Synthetic(instances=60))
    large_trips, large_rows = _deep(graph, Synthetic(instances=600))
    assert large_rows >= 9 * small_rows  # the data really grew
    assert small_trips == large_trips
    # One query for the page, then one per nested field: projects, shoots, machines, instance,
    # {disks, ips, account, machine}, shoot, project.
    assert large_trips == 10


def test_naive_path_grows_with_rows(graph: Graph) -> None:
    """The counter is not a constant: without batching the same query needs a query per parent."""
    trips, rows = _deep(graph, Synthetic(instances=60), batch_loads=False)
    assert trips > rows


# -- limits and errors ---------------------------------------------------------------------------------------
def test_depth_limit(api: str) -> None:
    nested = "uid " + "machine { shoot { machines { instance { " * 3 + "uid" + " } } } }" * 3
    body = gql(api, f'{{ instance(uid: "x") {{ {nested} }} }}')
    assert body["data"] is None
    assert "exceeds maximum operation depth of 12" in body["errors"][0]["message"]


def test_cost_limit(api: str) -> None:
    body = gql(api, "{ instances(first: 1000) { edges { node { disks(first: 100) { instance { disks(first: 100) "
                    "{ uid } } } } } } }")
    assert body["data"] is None
    message = body["errors"][0]["message"]
    assert "too expensive" in message and "limit is 250000" in message
    # The same shape with small pages passes, and its estimate is reported.
    ok = gql(api, "{ instances(first: 10) { edges { node { disks(first: 2) { instance { disks(first: 2) "
                  "{ uid } } } } } } }")
    assert not ok.get("errors")
    assert ok["extensions"]["graphinv"]["cost"] == 10 + 10 + 10 + 20 + 20 + 40


def test_cost_limit_sees_variables_and_fragments(api: str) -> None:
    query = """query($n: Int!) { instances(first: $n) { edges { node { ...deep } } } }
      fragment deep on Instance { disks(first: 100) { account { disks(first: 100) { uid } } } }"""
    assert "too expensive" in gql(api, query, {"n": 100})["errors"][0]["message"]
    small = gql(api, query, {"n": 1})
    assert not small.get("errors")
    assert small["extensions"]["graphinv"]["cost"] == 1 + 1 + 1 + 100 + 100 + 100 * 100


def test_alias_limit(api: str) -> None:
    aliases = " ".join(f"a{i}: stats {{ projects }}" for i in range(40))
    body = gql(api, f"{{ {aliases} }}")
    assert body["data"] is None and "aliases" in body["errors"][0]["message"].lower()


def test_malformed_query_is_a_graphql_error_without_traceback(api: str) -> None:
    for query in ("{ projects(first: ) { edges } ", "{ noSuchField }", "{ instance { uid } }"):
        response = httpx.post(f"{api}/graphql", json={"query": query}, timeout=30)
        body = response.json()
        assert body["errors"] and body["errors"][0]["message"]
        assert "Traceback" not in response.text and 'File "' not in response.text


def test_internal_errors_are_masked(session_graph: Graph, landscape: Landscape) -> None:
    conn = session_graph.conn
    broken = Graph(Neo4jConnection(uri=conn.uri, user=conn.user, password=conn.password, database="nosuchdatabase"))
    try:
        with serving(create_app(broken, ApiSettings())) as base:
            response = httpx.post(f"{base}/graphql", json={"query": "{ stats { projects } }"}, timeout=30)
    finally:
        broken.close()
    body = response.json()
    assert body["errors"][0]["message"] == MASKED_MESSAGE
    assert "nosuchdatabase" not in response.text and "Traceback" not in response.text
    assert "neo4j" not in response.text.lower()


def test_request_timeout(session_graph: Graph, landscape: Landscape) -> None:
    # A budget no request can meet: the first query finds it spent, whatever the machine's speed.
    with serving(create_app(session_graph, ApiSettings(timeout_seconds=1e-9))) as base:
        body = gql(base, "{ stats { projects } }")
    assert body["data"] is None
    assert "took longer than its limit" in body["errors"][0]["message"]


def test_request_graph_refuses_writes(graph: Graph) -> None:
    view = RequestGraph(graph, 10)
    with pytest.raises(ReadOnly):
        view.run_write("CREATE (:Project {uid: 'x'})")
    with pytest.raises(ReadOnly):
        view.write(lambda tx: None)
    # Reads run in READ access mode: the server itself refuses a write sent down that path.
    with pytest.raises(ClientError):
        view.run_read("CREATE (:Project {uid: 'x'})")
    assert graph.run_read("MATCH (n:Project {uid: 'x'}) RETURN count(n) AS c")[0]["c"] == 0


# -- auth, health, GraphiQL page --------------------------------------------------------------------------
def test_bearer_token(session_graph: Graph, landscape: Landscape, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-token\n")
    settings = settings_from_mapping({"api": {"token_file": str(token_file)}}).api
    with serving(create_app(session_graph, settings)) as base:
        query = {"query": "{ stats { projects } }"}
        missing = httpx.post(f"{base}/graphql", json=query)
        wrong = httpx.post(f"{base}/graphql", json=query, headers={"Authorization": "Bearer nope"})
        via_get = httpx.get(f"{base}/graphql", params=query)
        right = httpx.post(f"{base}/graphql", json=query, headers={"Authorization": "Bearer s3cret-token"})
        health = httpx.get(f"{base}/healthz")
        page = httpx.get(f"{base}/graphql", headers={"Accept": "text/html"})
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    assert wrong.status_code == 401 and via_get.status_code == 401
    assert "s3cret" not in missing.text + wrong.text
    assert right.status_code == 200 and right.json()["data"]["stats"]["projects"] == len(PROJECTS)
    assert health.status_code == 200 and page.status_code == 200


def test_no_token_means_no_auth_on_loopback(api: str) -> None:
    assert httpx.post(f"{api}/graphql", json={"query": "{ stats { seeds } }"}).status_code == 200


def test_refuses_to_bind_beyond_loopback_without_token(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="without authentication"):
        require_token_off_loopback(ApiSettings(host="0.0.0.0"))
    assert require_token_off_loopback(ApiSettings.model_validate({"host": "0.0.0.0", "token": "t"})) == "t"
    assert require_token_off_loopback(ApiSettings(host="::1")) is None
    with pytest.raises(ConfigError, match=r"api\.max_depth"):
        settings_from_mapping({"api": {"max_depth": 0}})
    with pytest.raises(ConfigError, match="unknown key"):
        settings_from_mapping({"api": {"tokn": "x"}})
    # The command itself: exits before serving, and says why.
    config = tmp_path / "graphinv.yaml"
    config.write_text("api:\n  host: 0.0.0.0\n")
    result = subprocess.run([sys.executable, "-m", "graphinv.commands.serve"], cwd=REPO, capture_output=True,
                            text=True, timeout=60, env={**os.environ, "GRAPHINV_CONFIG": str(config)})
    assert result.returncode == 2
    assert "without authentication" in result.stdout + result.stderr


def test_health_and_readiness(api: str, session_graph: Graph) -> None:
    assert httpx.get(f"{api}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{api}/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    nowhere = Graph(Neo4jConnection(uri=f"bolt://127.0.0.1:{free_port()}"))
    try:
        with serving(create_app(nowhere, ApiSettings(timeout_seconds=3))) as base:
            assert httpx.get(f"{base}/healthz").status_code == 200
            not_ready = httpx.get(f"{base}/readyz", timeout=30)
            unreachable = httpx.post(f"{base}/graphql", json={"query": "{ stats { seeds } }"}, timeout=60)
    finally:
        nowhere.close()
    assert not_ready.status_code == 503 and not_ready.json()["status"] == "unavailable"
    assert "not reachable" in unreachable.json()["errors"][0]["message"]


def test_graphiql_page_and_assets_are_served_locally(api: str) -> None:
    page = httpx.get(f"{api}/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "unpkg.com" not in page.text and "jsdelivr" not in page.text
    for asset in ("graphiql.min.js", "graphiql.min.css", "react.production.min.js", "react-dom.production.min.js"):
        assert f"/graphiql-assets/{asset}" in page.text
        response = httpx.get(f"{api}/graphiql-assets/{asset}")
        assert response.status_code == 200 and len(response.content) > 1000, asset


def test_serve_command_answers(session_graph: Graph, landscape: Landscape, tmp_path: Path) -> None:
    """`graphinv serve` as a process: config file, Neo4j from the environment, a real request."""
    port = free_port()
    config = tmp_path / "graphinv.yaml"
    config.write_text(f"api:\n  port: {port}\n")
    env = {**os.environ, "GRAPHINV_CONFIG": str(config), "GRAPHINV_NEO4J_URI": session_graph.conn.uri}
    if session_graph.conn.password:
        env["GRAPHINV_NEO4J_PASSWORD"] = session_graph.conn.password.get_secret_value()
    proc = subprocess.Popen([sys.executable, "-m", "graphinv.commands.serve", "--log-level", "warning"], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "graphinv serve did not become ready"
            time.sleep(0.2)
        body = gql(f"http://127.0.0.1:{port}", "{ stats { shoots } }")
        assert data_of(body)["stats"]["shoots"] == len(SHOOTS)
    finally:
        proc.terminate()
        proc.wait(15)


# -- the exported schema -------------------------------------------------------------------------------------
def test_schema_file_matches_the_code() -> None:
    path = REPO / "docs" / "schema.graphql"
    assert path.read_text() == schema_sdl(), (
        "docs/schema.graphql is out of date: run `python -m graphinv.api.export docs/schema.graphql`")
