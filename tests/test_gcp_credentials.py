"""GCP service-account credentials in a long-running process, against the simulator's own service
account (graphinv/sim/gcp_auth.py), through the real google-auth and google-cloud-compute code.

What google-cloud-compute does with a service-account key: its transport turns the credentials into
self-signed JWT credentials (AIP-4111), so Compute calls carry a JWT the client signs itself and the
token endpoint is never asked. google-auth keeps that JWT for its hour and replaces it when the API
answers 401 (AuthorizedSession refreshes the credentials and sends the call again). The simulator
takes a JWT only for `token_seconds` after its `iat`, so these tests see a stale credential refused
(`expired_calls`) and a new one made (`self_signed_jwts`): the replacement really happened.

The token endpoint (the JWT-bearer grant of a key file's token_uri) is read with google-auth's own
service-account credentials. A token living less than google-auth's refresh threshold (3m45s) is
renewed before every call, so that test revokes tokens at the simulator to make the SDK send one
the API refuses, and counts the token requests.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import AuthorizedSession
from google.auth.transport.requests import Request as AuthRequest
from google.oauth2 import service_account

from collectors.gcp import collect_instances, plan
from collectors.gcp.clients import READ_ONLY_SCOPE, build_clients, load_credentials
from collectors.gcp.retry import RetryAfter
from collectors.scope import ScopeTask
from graphinv.collect import CollectionSummary, run_tasks
from graphinv.db import Graph
from graphinv.ingest import Ingest, install_schema
from graphinv.sim.gcp import KEY_FILE, GcpSim
from graphinv.sim.landscape import Landscape, parse_landscape
from graphinv.sim.runtime import SimulatedLandscape
from tests.support.gcp_credentials import leaks, with_another_key
from tests.support.gcp_landscapes import OTHER, PROJECT, landscape_data
from tests.support.latency import simulator_latency
from tests.support.scopes import running

LIFETIME = 2  # seconds the simulator takes a credential (a self-signed JWT's iat is in whole seconds)
SLOW = 0.4  # seconds per simulated request, so one scope's pages outlive a credential
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def landscape() -> Landscape:
    return parse_landscape(landscape_data())


@pytest.fixture
def sim(landscape: Landscape, tmp_path: Path) -> Iterator[GcpSim]:
    with running(GcpSim(landscape, tmp_path / "gcp", auth="service_account", token_seconds=LIFETIME)) as server:
        yield server


@pytest.fixture
def slow_requests() -> Iterator[None]:
    with simulator_latency(SLOW):
        yield


def key_file(sim: GcpSim) -> Path:
    assert sim.key_file is not None
    return sim.key_file


def collect(graph: Graph, tasks: list[ScopeTask]) -> CollectionSummary:
    install_schema(graph)
    return run_tasks(Ingest(graph), tasks, concurrency=2)


def assert_complete(summary: CollectionSummary) -> None:
    assert summary.results and not summary.failed, [(r.scope.key, r.error) for r in summary.failed]


def cloud_uids(graph: Graph) -> set[tuple[str, str]]:
    rows = graph.run_read("MATCH (n) WHERE n:Instance OR n:Disk OR n:IP RETURN labels(n)[0] AS label, n.uid AS uid")
    return {(row["label"], row["uid"]) for row in rows}


def graph_text(graph: Graph) -> str:
    rows = graph.run_read("MATCH (n) RETURN labels(n) AS labels, properties(n) AS props")
    return json.dumps(rows, default=str)


def readable(section: dict[str, object]) -> list[ScopeTask]:
    """The scopes of the projects the account may read (the landscape also has a denied one)."""
    return [t for t in plan(section) if t.scope.account in (PROJECT, OTHER)]


def addresses_url(sim: GcpSim) -> str:
    return f"{sim.url}/compute/v1/projects/{PROJECT}/global/addresses"


# -- the simulator ---------------------------------------------------------------------------------
def test_the_api_takes_only_live_credentials_of_its_service_account(sim: GcpSim, tmp_path: Path) -> None:
    path = key_file(sim)
    assert path.parent == tmp_path / "gcp" and path.name == KEY_FILE  # the sim's work directory, never the repo
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    info = json.loads(path.read_text())
    assert info["type"] == "service_account" and info["token_uri"] == f"{sim.url}/token"
    assert sim.source_config()["credentials"] == str(path)

    missing = httpx.get(addresses_url(sim))
    assert missing.status_code == 401
    error = missing.json()["error"]
    assert (error["code"], error["status"], error["errors"][0]["reason"]) == (401, "UNAUTHENTICATED", "required")
    made_up = httpx.get(addresses_url(sim), headers={"Authorization": "Bearer ya29.not-one-of-ours"})
    assert made_up.status_code == 401 and made_up.json()["error"]["errors"][0]["reason"] == "authError"
    assert sim.auth is not None and sim.auth.expired_calls == 0  # made up, not expired

    # google-cloud-compute's way: a self-signed JWT, no token request.
    credentials = load_credentials(str(path))
    kept = build_clients(credentials, sim.url)
    first = {r.uid for r in collect_instances(kept.instances, PROJECT, {}, RetryAfter(), None, 10, 50)}
    assert first and sim.auth.token_requests == 0  # the token endpoint is not asked
    assert sim.auth.self_signed_jwts >= 1


def test_the_default_simulator_still_takes_anonymous_calls(landscape: Landscape, tmp_path: Path) -> None:
    with running(GcpSim(landscape, tmp_path)) as plain:
        assert plain.source_config()["credentials"] == "anonymous"
        assert plain.auth is None and plain.key_file is None
        assert httpx.get(addresses_url(plain)).status_code == 200
        assert httpx.post(f"{plain.url}/token").status_code == 405  # no token endpoint either
    assert not (tmp_path / KEY_FILE).exists()


def test_the_token_endpoint_grants_jwt_bearer_assertions(landscape: Landscape, tmp_path: Path) -> None:
    with running(GcpSim(landscape, tmp_path / "long", auth="service_account")) as sim:  # tokens of an hour
        assert sim.auth is not None
        credentials = service_account.Credentials.from_service_account_file(str(key_file(sim)),
                                                                            scopes=[READ_ONLY_SCOPE])
        session = AuthorizedSession(credentials)
        assert session.get(addresses_url(sim)).status_code == 200
        assert session.get(addresses_url(sim)).status_code == 200
        assert sim.auth.token_requests == 1  # one token, kept while it lives
        sim.auth.revoke()
        assert session.get(addresses_url(sim)).status_code == 200  # refused once, renewed, sent again
        assert (sim.auth.token_requests, sim.auth.expired_calls) == (2, 1)

        wrong = service_account.Credentials.from_service_account_file(
            str(with_another_key(key_file(sim), tmp_path / "wrong.json")), scopes=[READ_ONLY_SCOPE])
        with pytest.raises(RefreshError, match="invalid_grant: Invalid JWT Signature"):
            wrong.refresh(AuthRequest())
        assert sim.auth.token_refusals == 1 and sim.auth.token_requests == 2

    with running(GcpSim(landscape, tmp_path / "short", auth="service_account", token_seconds=1)) as sim:
        assert sim.auth is not None
        credentials = service_account.Credentials.from_service_account_file(str(key_file(sim)),
                                                                            scopes=[READ_ONLY_SCOPE])
        credentials.refresh(AuthRequest())
        bearer = {"Authorization": f"Bearer {credentials.token}"}
        assert httpx.get(addresses_url(sim), headers=bearer).status_code == 200
        time.sleep(1.1)
        expired = httpx.get(addresses_url(sim), headers=bearer)
        assert expired.status_code == 401 and expired.json()["error"]["status"] == "UNAUTHENTICATED"
        assert sim.auth.expired_calls == 1


# -- the collector ---------------------------------------------------------------------------------
def test_one_scope_outlives_its_credential(graph: Graph, sim: GcpSim, slow_requests: None) -> None:
    assert sim.auth is not None
    section = {**sim.source_config(), "page_size": 1}
    # OTHER's seven VMs take seven pages of SLOW seconds each through one client: past LIFETIME.
    long_scope = [t for t in plan(section) if t.scope.account == OTHER and t.scope.kind == "Instance"]
    started = time.monotonic()
    assert_complete(collect(graph, long_scope))
    assert time.monotonic() - started > LIFETIME
    assert sim.auth.expired_calls >= 1  # the SDK did send a stale credential, and recovered
    assert sim.auth.refused_calls == sim.auth.expired_calls  # no other refusal
    assert len([u for label, u in cloud_uids(graph) if label == "Instance" and f"/{OTHER}/" in f"/{u}"]) == 7


def test_collections_and_kept_clients_outlive_their_credentials(graph: Graph, sim: GcpSim,
                                                                caplog: pytest.LogCaptureFixture,
                                                                capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)  # everything any library logs, google-auth and urllib3 included
    assert sim.auth is not None
    section = sim.source_config()
    tasks = readable(section)  # one planned set of collectors, kept across both collections
    kept = build_clients(load_credentials(section["credentials"]), sim.url)  # clients kept as they are

    def kept_read() -> set[str]:
        return {r.uid for r in collect_instances(kept.instances, PROJECT, {}, RetryAfter(), None, 10, 50)}

    first = collect(graph, tasks)
    assert_complete(first)
    before = kept_read()
    made, stale = sim.auth.self_signed_jwts, sim.auth.expired_calls
    time.sleep(LIFETIME + 1.0)  # every credential made so far is past its life

    assert kept_read() == before
    assert sim.auth.expired_calls == stale + 1  # the kept client sent its old JWT once ...
    assert sim.auth.self_signed_jwts > made  # ... and made a new one
    second = collect(graph, tasks)
    assert_complete(second)
    assert len(second.results) == len(first.results) == len(tasks)
    assert sim.auth.refused_calls == sim.auth.expired_calls

    files = [key_file(sim)]
    out, err = capfd.readouterr()
    assert "aggregated" in caplog.text  # the log did capture the requests (so its check below means something)
    for where, text in (("logs", caplog.text), ("stdout", out), ("stderr", err), ("graph", graph_text(graph))):
        assert not leaks(text, files), (where, leaks(text, files))


def test_a_refused_key_fails_its_scopes_in_one_line_and_sweeps_nothing(
        graph: Graph, sim: GcpSim, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    section = sim.source_config()
    assert_complete(collect(graph, readable(section)))
    known = cloud_uids(graph)
    assert known

    wrong = with_another_key(key_file(sim), tmp_path / "wrong-key.json")
    summary = collect(graph, readable({**section, "credentials": str(wrong)}))
    assert summary.failed and len(summary.failed) == len(summary.results)
    for result in summary.failed:
        assert result.error and "\n" not in result.error
        assert str(wrong) in result.error and "refused: 401" in result.error, result.error
        assert not leaks(result.error, [wrong, key_file(sim)]), result.error
    assert cloud_uids(graph) == known  # a refused read deletes nothing
    assert sim.auth is not None and sim.auth.refused_calls > sim.auth.expired_calls  # refused, not expired
    assert not leaks(caplog.text, [wrong, key_file(sim)])
    assert not leaks(graph_text(graph), [wrong, key_file(sim)])


def test_a_watch_reread_with_a_refused_key_names_it(sim: GcpSim, tmp_path: Path) -> None:
    """A Machine watch's re-read of one VM (graphinv/watch/gcp_refresh.py) fails like a scheduled read when
    the key is refused: one line naming the key file, none of its content; the right key reads the VM."""
    from collectors.gcp.clients import GcpCredentialsRefused
    from collectors.provider_ids import instance_uid
    from graphinv.watch.gcp_refresh import GcpVmReader
    from graphinv.watch.refresh import VmTarget

    provider_id = sim.provider_ids()["node-a"]
    uid = instance_uid(provider_id)
    assert uid is not None
    target = VmTarget("gcp", uid, provider_id, None)
    section = {**sim.source_config(), "projects": [PROJECT]}
    read = GcpVmReader(section).read(target, None)
    assert read is not None and [r.uid for r in read[0][1] if r.label == "Instance"] == [uid]

    wrong = with_another_key(key_file(sim), tmp_path / "wrong-key.json")
    with pytest.raises(GcpCredentialsRefused) as refused:
        GcpVmReader({**section, "credentials": str(wrong)}).read(target, None)
    message = str(refused.value)
    assert str(wrong) in message and "refused: 401" in message and "\n" not in message, message
    assert not leaks(message, [wrong, key_file(sim)])


def test_the_simulated_landscape_hands_out_the_key_file(tmp_path: Path, landscape: Landscape) -> None:
    with pytest.raises(ValueError, match="unknown providers: gce"):
        SimulatedLandscape(landscape, tmp_path, cloud_options={"gce": {}})
    workdir = tmp_path / "sim"
    with SimulatedLandscape(landscape, workdir, cloud_options={"gcp": {"auth": "service_account"}}) as world:
        written = world.write_config(tmp_path / "graphinv.yaml")
        config_text = written.read_text()
        section = yaml.safe_load(config_text)["sources"]["gcp"]
        path = Path(section["credentials"])
        assert path.is_file() and path.is_relative_to(workdir) and not path.is_relative_to(REPO)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert "PRIVATE KEY" not in config_text  # the config names the key file, never its content
        tasks = [t for t in plan(section) if t.scope.account == PROJECT and t.scope.kind == "Instance"]
        assert list(tasks[0].fetch())
        gcp = world.clouds["gcp"]
        assert isinstance(gcp, GcpSim) and gcp.auth is not None and gcp.auth.self_signed_jwts >= 1
