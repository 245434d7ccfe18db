"""`graphinv sim serve --churn` and `graphinv watch`, run as a user runs them (subprocesses)."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import yaml

from graphinv.config import Neo4jConnection
from graphinv.db import Graph
from graphinv.sim.landscape import dump_landscape
from tests.support.cli import subprocess_env
from tests.support.watching import aws_landscape, wait_for


class Lines:
    """A subprocess's stdout, line by line, readable with a timeout."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        assert process.stdout is not None
        stream = process.stdout

        def pump() -> None:
            for line in stream:
                self._queue.put(line)

        threading.Thread(target=pump, daemon=True).start()

    def until(self, predicate: str, timeout: float = 120) -> str:
        def found() -> str | None:
            while True:
                try:
                    line = self._queue.get_nowait()
                except queue.Empty:
                    return None
                self.seen.append(line)
                if predicate in line:
                    return line
        line = wait_for(found, timeout, f"a line with {predicate!r}; got {self.seen[-5:]}")
        assert line is not None
        return line


def graphinv(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "graphinv", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=subprocess_env())


def stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        raise


def test_sim_serve_with_churn_and_graphinv_watch(tmp_path: Path, graph: Graph,
                                                 neo4j_connection: Neo4jConnection) -> None:
    landscape = tmp_path / "landscape.yaml"
    landscape.write_text(dump_landscape(aws_landscape()))
    sim_config = tmp_path / "sim.yaml"
    server = graphinv("sim", "serve", str(landscape), "--churn", "5", "--write-config", str(sim_config),
                      "--workdir", str(tmp_path / "sim"))
    watcher = None
    try:
        served = Lines(server)
        served.until("churn")
        served.until("serving")
        config = yaml.safe_load(sim_config.read_text())
        config["neo4j"] = {"uri": neo4j_connection.uri}
        config["watch"] = {"batch_latency": "50ms", "backoff": {"initial": "100ms", "max": "1s"}}
        watch_config = tmp_path / "graphinv.yaml"
        watch_config.write_text(yaml.safe_dump(config))
        watcher = graphinv("--config", str(watch_config), "watch", "--for", "600")
        lines = Lines(watcher)
        lines.until("watch aws-1/Machine up")
        line = lines.until("(lag ")  # a live line per applied event, as the churn goes on
        assert "lag" in line and ("ADDED" in line or "MODIFIED" in line or "DELETED" in line)
        assert stop(watcher) == 0
        lines.until("stopped", 60)
        count = graph.run_read("MATCH (m:Machine) RETURN count(m) AS n")[0]["n"]
        assert count > 0
    finally:
        if watcher is not None and watcher.poll() is None:
            watcher.kill()
        assert stop(server) == 0
