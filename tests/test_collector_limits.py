"""Every read ends: a list whose page token comes back (or that never stops handing out new ones)
and a server that accepts a connection and never answers both fail their scope with one clear
line, for every collector, through its real SDK; and nothing the graph knew is swept."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.mgmt.compute import ComputeManagementClient

from collectors.azure import collect_disks as azure_disks
from collectors.contract import PagingError
from collectors.records import DiskRecord, ProjectRecord, Record
from collectors.scope import Scope, ScopeTask
from graphinv.collect import run_tasks
from graphinv.db import Graph
from graphinv.ingest import Ingest, install_schema
from graphinv.sim.azure import AzureSim
from graphinv.sim.generate import generate
from graphinv.sim.http import Request, Response, SimHTTPServer
from graphinv.sim.landscape import Landscape
from graphinv.sim.openstack import OpenStackSim
from graphinv.sim.tls import self_signed_cert
from tests.support.stuck_servers import (
    BlackHole,
    StaticToken,
    arm_next_link_forever,
    ec2_next_token_forever,
    gardener_continue_forever,
    gcp_next_page_forever,
)

TIMEOUTS = {"connect_timeout": "1s", "read_timeout": "1s"}
# A bound, not a speed: the SDKs' own retries may each wait one timeout, but a read that hangs
# would never end.
ENDS_WITHIN = 30.0
AWS_KEYS = {"access_key_id": "AKIASTUCK000000000000", "secret_access_key": "stuck-secret"}
ACCOUNT = "111111111111"


@pytest.fixture(scope="module")
def landscape() -> Landscape:
    return generate(0.1, 3)


def one_task(tasks: list[ScopeTask], kind: str) -> ScopeTask:
    return next(t for t in tasks if t.scope.kind == kind)


def read_error(task: ScopeTask) -> BaseException:
    with pytest.raises(Exception) as failure:
        list(task.fetch())
    return failure.value


def assert_one_clear_line(error: BaseException, pattern: str) -> None:
    text = str(error)
    assert "\n" not in text.strip() and re.search(pattern, text), text


# -- lists that never end --------------------------------------------------------------------------
@pytest.fixture
def stuck(request: pytest.FixtureRequest) -> Iterator[SimHTTPServer]:
    server = SimHTTPServer(request.param, name="stuck").start()
    yield server
    server.stop()


@pytest.mark.parametrize("stuck", [gardener_continue_forever], indirect=True)
def test_gardener_list_whose_continue_token_comes_back(stuck: SimHTTPServer, tmp_path: Path) -> None:
    from collectors.gardener import plan
    token = tmp_path / "token"
    token.write_text("stuck-token")
    tasks = plan({"token_file": str(token), "server": stuck.url})
    # Listing the seeds while planning met the same loop: no Machine scope, the garden's kinds fail.
    assert {t.scope.kind for t in tasks} == {"Project", "Seed", "Shoot", "Bastion", "CloudProfile"}
    error = read_error(one_task(tasks, "Project"))
    assert isinstance(error, PagingError)
    assert_one_clear_line(error, r"listing projects .*page 3 repeats an earlier page token")


def test_gardener_list_that_never_stops_hits_the_page_cap(tmp_path: Path) -> None:
    from collectors.gardener import plan
    pages = iter(range(1_000_000))

    def fresh_token_forever(request: Request) -> Response:
        return Response.json({"items": [], "metadata": {"continue": f"t{next(pages)}"}})

    server = SimHTTPServer(fresh_token_forever, name="endless").start()
    try:
        token = tmp_path / "token"
        token.write_text("stuck-token")
        tasks = plan({"token_file": str(token), "server": server.url, "max_pages": 5})
        error = read_error(one_task(tasks, "Shoot"))
    finally:
        server.stop()
    assert isinstance(error, PagingError)
    assert_one_clear_line(error, r"more than 5 pages; the list does not end")


@pytest.mark.parametrize("stuck", [gcp_next_page_forever], indirect=True)
def test_gcp_aggregated_list_whose_page_token_comes_back(stuck: SimHTTPServer) -> None:
    from collectors.gcp import plan
    tasks = plan({"credentials": "anonymous", "projects": ["p"], "api_endpoint": stuck.url})
    error = read_error(one_task(tasks, "Disk"))
    assert isinstance(error, PagingError)
    assert_one_clear_line(error, r"disks of p: page 3 repeats an earlier page token")


@pytest.mark.parametrize("stuck", [ec2_next_token_forever], indirect=True)
def test_aws_paginator_whose_tokens_go_round_in_a_cycle(stuck: SimHTTPServer) -> None:
    """botocore stops a token repeated by the very next page itself; a cycle of two it follows."""
    from collectors.aws import plan
    tasks = plan({"endpoint_url": stuck.url, "region": "eu-west-1", "credentials": AWS_KEYS,
                  "accounts": [{"id": ACCOUNT, "regions": ["eu-west-1"]}]})
    error = read_error(one_task(tasks, "Disk"))
    assert isinstance(error, PagingError)
    assert_one_clear_line(error, r"EC2 describe_volumes: page 3 repeats an earlier page token")


def test_azure_pager_whose_next_link_comes_back(tmp_path: Path) -> None:
    cert = self_signed_cert(tmp_path)
    urls: list[str] = []
    server = SimHTTPServer(arm_next_link_forever(lambda: urls[0]), tls=cert.tls, name="stuck-arm").start()
    urls.append(server.url)
    try:
        compute = ComputeManagementClient(StaticToken(), "sub", base_url=server.url,
                                          connection_verify=str(cert.cert))
        with compute, pytest.raises(PagingError) as failure:
            list(azure_disks(compute, "sub"))
    finally:
        server.stop()
    assert_one_clear_line(failure.value, r"disks of subscription sub: page 3 repeats an earlier page token")


def test_openstack_next_link_that_does_not_advance(landscape: Landscape, tmp_path: Path) -> None:
    from collectors.openstack import plan
    sim = OpenStackSim(landscape, tmp_path, page_size=1, stuck_paging=True)
    sim.start()
    try:
        tasks = [t for t in plan(sim.source_config()) if t.scope.kind == "Instance"]
        outcomes: list[BaseException | int] = []
        for task in tasks:
            try:
                outcomes.append(len(list(task.fetch())))
            except Exception as exc:
                outcomes.append(exc)
    finally:
        sim.stop()
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert failures and all(isinstance(f, PagingError) for f in failures)
    assert all(o == 0 for o in outcomes if isinstance(o, int))  # only empty projects read to the end
    assert_one_clear_line(failures[0], r"servers of .* came twice; the list does not advance")


# -- servers that never answer ---------------------------------------------------------------------
KNOWN_DISK = "disk-known-before"


def seed_graph(graph: Graph, scope: Scope) -> None:
    """What the graph knew of the scope before: it must survive the failed read."""
    install_schema(graph)
    record: Record
    if scope.kind == "Project":
        record = ProjectRecord(uid=KNOWN_DISK, name=KNOWN_DISK)
    else:
        record = DiskRecord(uid=KNOWN_DISK, provider=scope.source, account_id=scope.account,
                            region=scope.region)
    with Ingest(graph).scope(scope) as run:
        run.write([record])


def fails_in_time(graph: Graph, task: ScopeTask) -> str:
    seed_graph(graph, task.scope)
    started = time.monotonic()
    summary = run_tasks(Ingest(graph), [task], concurrency=1)
    elapsed = time.monotonic() - started
    (result,) = summary.results
    assert result.status == "failed" and result.total_swept == 0, result
    assert elapsed < ENDS_WITHIN, elapsed
    label = task.scope.kind
    left = graph.run_read(f"MATCH (n:{label} {{uid: $uid}}) RETURN count(n) AS c", {"uid": KNOWN_DISK})
    assert left[0]["c"] == 1
    assert result.error and "\n" not in result.error.strip()
    assert re.search(r"time[d ]*out|timeout", result.error, re.IGNORECASE), result.error
    return result.error


def test_aws_read_that_never_answers(graph: Graph) -> None:
    from collectors.aws import plan
    with BlackHole() as hole:
        tasks = plan({"endpoint_url": hole.url, "region": "eu-west-1", "credentials": AWS_KEYS,
                      "accounts": [{"id": ACCOUNT, "regions": ["eu-west-1"]}], "max_attempts": 1, **TIMEOUTS})
        fails_in_time(graph, one_task(tasks, "Disk"))


def test_gcp_read_that_never_answers(graph: Graph) -> None:
    from collectors.gcp import plan
    with BlackHole() as hole:
        tasks = plan({"credentials": "anonymous", "projects": ["p"], "api_endpoint": hole.url, **TIMEOUTS})
        fails_in_time(graph, one_task(tasks, "Disk"))


def test_gardener_read_that_never_answers(graph: Graph, tmp_path: Path) -> None:
    from collectors.gardener import plan
    token = tmp_path / "token"
    token.write_text("stuck-token")
    with BlackHole() as hole:
        tasks = plan({"token_file": str(token), "server": hole.url, "connect_timeout": "0.5s",
                      "read_timeout": "0.5s"})
        fails_in_time(graph, one_task(tasks, "Project"))


def test_openstack_read_that_never_answers(graph: Graph) -> None:
    from collectors.openstack import plan
    with BlackHole() as hole:
        auth: dict[str, Any] = {"auth_url": f"{hole.url}/v3", "username": "reader", "password": "stuck-password",
                                "project_name": "ops", "user_domain_name": "Default",
                                "project_domain_name": "Default"}
        tasks = plan({"clouds": [{"name": "ops", "auth": auth, "regions": ["RegionOne"]}], "connect_retries": 0,
                      **TIMEOUTS})
        error = fails_in_time(graph, one_task(tasks, "Disk"))
    assert "stuck-password" not in error


def test_azure_read_that_never_answers(graph: Graph, landscape: Landscape, tmp_path: Path) -> None:
    from collectors.azure import plan
    sim = AzureSim(landscape, tmp_path)
    sim.start()
    try:
        with BlackHole() as hole:
            section = {**sim.source_config(), "base_url": f"https://127.0.0.1:{hole.port}", "retry_total": 0,
                       **TIMEOUTS}
            error = fails_in_time(graph, one_task(plan(section), "Disk"))
    finally:
        sim.stop()
    assert sim.client_secret not in error
