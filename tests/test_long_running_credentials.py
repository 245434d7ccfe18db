"""Credentials that expire while graphinv keeps running: AWS AssumeRole sessions, Keystone tokens and
Azure access tokens, each with a lifetime of a few seconds that the simulator enforces.

The scheduler plans (and so builds its sessions and clients) afresh for every run, so what must
survive an expiry is one scope whose pages straddle it; the tests also run two collections with one
planned set of collectors (one long-lived session), across an expiry, as a process that kept its
clients would. Both complete, and the simulator saw the credentials renewed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from collectors.scope import ScopeTask
from graphinv.collect import CollectionSummary, run_tasks
from graphinv.db import Graph
from graphinv.ingest import Ingest, install_schema
from graphinv.sim.aws import AwsSim
from graphinv.sim.azure import AzureSim
from graphinv.sim.generate import generate
from graphinv.sim.landscape import Landscape
from graphinv.sim.openstack import OpenStackSim
from tests.support.latency import simulator_latency
from tests.support.scopes import running

# Seconds a credential lives in these tests. A simulated answer waits SLOW before the credential is
# checked, and on the suite's loaded machine a client can take a further half second between receiving
# a fresh credential and sending it: with 1 s, a credential renewed just in time sometimes arrived
# expired (once in a full suite run), which is the machine's delay, not a failure to renew.
LIFETIME = 2
# Per simulated request, so a scope of a few pages outlives one credential by the simulator's clock,
# not by the machine's slowness: the AWS Instance scope makes four requests (2.8 s). At 0.4 s it took
# 1.95 s on a fast machine, less than one credential's life, and its test could not say anything.
SLOW = 0.7


@pytest.fixture(scope="module")
def landscape() -> Landscape:
    return generate(scale=0.05, seed=7)


@pytest.fixture
def slow_requests() -> Iterator[None]:
    with simulator_latency(SLOW):
        yield


def collect(graph: Graph, tasks: list[ScopeTask]) -> CollectionSummary:
    install_schema(graph)
    return run_tasks(Ingest(graph), tasks, concurrency=2)


def assert_complete(summary: CollectionSummary) -> None:
    assert summary.results and not summary.failed, [(r.scope.key, r.error) for r in summary.failed]


def twice_across_an_expiry(graph: Graph, tasks: list[ScopeTask]) -> None:
    """Two collections with the same planned collectors, the first credential long expired between."""
    assert_complete(collect(graph, tasks))
    time.sleep(LIFETIME + 1.0)
    assert_complete(collect(graph, tasks))


# -- AWS --------------------------------------------------------------------------------------------
def test_the_simulator_refuses_expired_session_credentials(landscape: Landscape, tmp_path: Path) -> None:
    with running(AwsSim(landscape, tmp_path / "long")) as sim:  # DurationSeconds honoured
        section = sim.source_config()
        keys = section["credentials"]
        role = next(a["role_arn"] for a in section["accounts"] if "role_arn" in a)
        sts = boto3.client("sts", region_name=section["region"], endpoint_url=sim.endpoint_url,
                           aws_access_key_id=keys["access_key_id"], aws_secret_access_key=keys["secret_access_key"])
        asked = datetime.now(UTC)
        session = sts.assume_role(RoleArn=role, RoleSessionName="test", DurationSeconds=1800)
        expiry = session["Credentials"]["Expiration"]
        assert abs((expiry - asked).total_seconds() - 1800) < 60, expiry
    # Long enough that the first call is inside it on a loaded machine; the collector tests use LIFETIME.
    lifetime = 5
    with running(AwsSim(landscape, tmp_path, session_seconds=lifetime)) as sim:
        section = sim.source_config()
        keys = section["credentials"]
        role = next(a["role_arn"] for a in section["accounts"] if "role_arn" in a)
        sts = boto3.client("sts", region_name=section["region"], endpoint_url=sim.endpoint_url,
                           aws_access_key_id=keys["access_key_id"], aws_secret_access_key=keys["secret_access_key"])
        creds = sts.assume_role(RoleArn=role, RoleSessionName="test", DurationSeconds=900)["Credentials"]
        ec2 = boto3.client("ec2", region_name=section["region"], endpoint_url=sim.endpoint_url,
                           aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                           aws_session_token=creds["SessionToken"])
        ec2.describe_regions()  # valid while the session lasts
        time.sleep(lifetime + 0.5)
        with pytest.raises(ClientError) as expired:
            ec2.describe_regions()
    assert expired.value.response["Error"]["Code"] == "ExpiredToken"


def aws_role_tasks(sim: AwsSim) -> list[ScopeTask]:
    from collectors.aws import plan
    section = {**sim.source_config(), "session_duration": "15m"}
    assumed = {a["id"] for a in section["accounts"] if "role_arn" in a}
    return [t for t in plan(section) if t.scope.account in assumed and t.scope.kind in ("Instance", "Disk")]


def test_aws_assumed_role_session_outlives_its_credentials(graph: Graph, landscape: Landscape, tmp_path: Path,
                                                          slow_requests: None) -> None:
    with running(AwsSim(landscape, tmp_path, session_seconds=LIFETIME)) as sim:
        tasks = aws_role_tasks(sim)
        assert tasks
        long_scope = [t for t in tasks if t.scope.kind == "Instance"][:1]
        started = time.monotonic()
        assert_complete(collect(graph, long_scope))  # its requests outlast one session
        assert time.monotonic() - started > LIFETIME
        twice_across_an_expiry(graph, tasks[:4])
        assert sim.api is not None
        renewed = sim.api.count(action="AssumeRole", status=200)
        refused = sim.api.count(status=400)
    assert renewed >= 3, renewed
    assert refused == 0, "an expired session token was sent"


# -- OpenStack -------------------------------------------------------------------------------------
def test_keystone_token_expiry_is_met_by_reauthentication(graph: Graph, landscape: Landscape, tmp_path: Path,
                                                          slow_requests: None) -> None:
    from collectors.openstack import plan
    sim = OpenStackSim(landscape, tmp_path, page_size=2, token_seconds=LIFETIME)
    with running(sim):
        first = sim.source_config()["clouds"][0]
        tasks = [t for t in plan({"clouds": [first]}) if t.scope.kind in ("Instance", "Disk")]
        busiest = max(tasks, key=lambda t: len([s for r in landscape.accounts if r.id == t.scope.account
                                                for reg in r.regions if reg.name == t.scope.region
                                                for s in reg.instances]))
        started = time.monotonic()
        assert_complete(collect(graph, [busiest]))
        assert time.monotonic() - started > LIFETIME
        twice_across_an_expiry(graph, tasks)
        issued = sum(1 for method, path, _q in sim.requests if method == "POST" and path.endswith("/auth/tokens"))
    assert issued >= 3, issued


# -- Azure ------------------------------------------------------------------------------------------
def test_azure_access_token_expiry_is_met_by_a_new_token(graph: Graph, landscape: Landscape, tmp_path: Path,
                                                         slow_requests: None) -> None:
    from collectors.azure import plan
    sim = AzureSim(landscape, tmp_path, page_size=2, token_seconds=LIFETIME)
    with running(sim):
        section = sim.source_config()
        section["subscriptions"] = section["subscriptions"][:1]
        tasks = [t for t in plan(section) if t.scope.kind in ("Instance", "Disk")]
        started = time.monotonic()
        assert_complete(collect(graph, tasks[:1]))
        assert time.monotonic() - started > LIFETIME
        twice_across_an_expiry(graph, tasks)
        refused = sim.expired_token_calls
    assert refused == 0, "ARM was sent an expired token"
