"""The local Neo4j server: real start/stop/status, versions, Browser, and clear errors."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from graphinv.config import Neo4jConnection
from graphinv.db import Graph, GraphUnavailable
from graphinv.neo4j_server import LocalNeo4j, LocalNeo4jError, LocalNeo4jSettings
from graphinv.neo4j_server.manager import NEO4J_VERSION, _pid_alive
from graphinv.ports import free_port


def test_write_and_read_back_through_bolt(graph: Graph) -> None:
    version = graph.verify()
    assert version.startswith("5.26."), version
    graph.run_write("CREATE (:Probe {name: $name, n: 42})", {"name": "hello"})
    rows = graph.run_read("MATCH (p:Probe) RETURN p.name AS name, p.n AS n")
    assert rows == [{"name": "hello", "n": 42}]
    edition = graph.run_read("CALL dbms.components() YIELD name, versions, edition RETURN *")
    assert edition[0]["edition"] == "community"
    assert edition[0]["versions"] == [NEO4J_VERSION]


def test_unreachable_server_is_a_clear_error() -> None:
    with Graph(Neo4jConnection(uri=f"bolt://127.0.0.1:{free_port()}")) as graph, pytest.raises(
        GraphUnavailable, match="not reachable"
    ):
        graph.verify()


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNeo4j]:
    """A second server, so lifecycle tests never disturb the session's one."""
    settings = LocalNeo4jSettings(
        home=tmp_path_factory.mktemp("lifecycle"), bolt_port=free_port(), http_port=free_port(),
        heap="512m", pagecache="128m",
    )
    server = LocalNeo4j(settings)
    yield server
    server.stop()


def test_lifecycle_start_is_idempotent_browser_served_stop_is_clean(own_server: LocalNeo4j) -> None:
    assert not own_server.status().running
    first = own_server.start()
    assert first.running and first.version == NEO4J_VERSION
    again = own_server.start()  # a second start is a no-op: same process
    assert again.pid == first.pid
    with urllib.request.urlopen(own_server.http_url + "/browser/", timeout=10) as resp:
        page = resp.read().decode()
    assert resp.status == 200 and "<html" in page.lower()
    conf = (own_server.conf_dir / "neo4j.conf").read_text()
    assert f"server.bolt.listen_address=127.0.0.1:{own_server.settings.bolt_port}" in conf
    assert first.pid is not None
    assert own_server.stop() is True
    assert not _pid_alive(first.pid)
    assert not own_server.status().running
    assert own_server.stop() is False
    # Data persists across restarts.
    own_server.start()
    with Graph(Neo4jConnection(uri=own_server.bolt_uri)) as graph:
        graph.run_write("MERGE (:Persist {k: 1})")
    own_server.stop()
    own_server.start()
    with Graph(Neo4jConnection(uri=own_server.bolt_uri)) as graph:
        assert graph.run_read("MATCH (p:Persist) RETURN count(p) AS c") == [{"c": 1}]
    own_server.stop()


def test_taken_port_is_refused_clearly(tmp_path: Path, own_server: LocalNeo4j) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        settings = LocalNeo4jSettings(
            home=tmp_path / "h", jar_cache=own_server.settings.jar_cache, bolt_port=port, http_port=free_port()
        )
        with pytest.raises(LocalNeo4jError, match=f"Port {port} .* taken"):
            LocalNeo4j(settings).start()


def _fake_bin(tmp_path: Path, name: str, script: str) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    exe = bindir / name
    exe.write_text("#!/bin/sh\n" + script)
    exe.chmod(0o755)
    return bindir


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "graphinv", *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)


def test_old_java_is_refused_with_the_reason(tmp_path: Path) -> None:
    # A real program named java on PATH that reports version 11: the manager must refuse it.
    bindir = _fake_bin(tmp_path, "java", 'echo \'openjdk version "11.0.2" 2019-01-15\' >&2\n')
    _fake_bin(tmp_path, "mvn", "exit 0\n")
    env = {**os.environ, "PATH": f"{bindir}:/usr/bin:/bin", "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "GRAPHINV_LOCAL_HOME": str(tmp_path / "home"),
           "GRAPHINV_LOCAL_BOLT_PORT": str(free_port()), "GRAPHINV_LOCAL_HTTP_PORT": str(free_port())}
    result = _cli(["neo4j", "start"], env)
    assert result.returncode == 2
    assert "needs Java 17 or newer" in result.stderr and "Java 11" in result.stderr


def test_missing_maven_is_refused_with_the_reason(tmp_path: Path) -> None:
    bindir = _fake_bin(tmp_path, "java", 'echo \'openjdk version "17.0.15" 2025-04-15\' >&2\n')
    env = {**os.environ, "PATH": str(bindir), "XDG_CACHE_HOME": str(tmp_path / "empty-cache"),
           "GRAPHINV_LOCAL_HOME": str(tmp_path / "home")}
    result = _cli(["neo4j", "install"], env)
    assert result.returncode == 2
    assert "Maven (`mvn`)" in result.stderr


def test_status_exit_code_tells_the_truth(tmp_path: Path) -> None:
    env = {**os.environ, "GRAPHINV_LOCAL_HOME": str(tmp_path / "nothing-here")}
    result = _cli(["neo4j", "status"], env)
    assert result.returncode == 3 and "stopped" in result.stdout
