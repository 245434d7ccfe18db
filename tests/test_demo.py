"""The main job: `graphinv demo` collects a simulated landscape, prints orphans, and serves the API."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

from graphinv.config import Neo4jConnection
from graphinv.db import Graph
from graphinv.ports import free_port


def test_demo_reports_orphans_then_serves_graphql_until_sigterm(graph: Graph,
                                                                neo4j_connection: Neo4jConnection) -> None:
    port = free_port()
    env = {**os.environ, "GRAPHINV_NEO4J_URI": neo4j_connection.uri, "COLUMNS": "200"}
    env.pop("GRAPHINV_CONFIG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "graphinv", "demo", "--scale", "0.05", "--seed", "7", "--api-port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd="/",
    )
    lines: list[str] = []
    url = None
    deadline = time.monotonic() + 400
    try:
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            match = re.search(r"GraphQL API with GraphiQL: (http://\S+)/graphql", line)
            if match:
                url = match.group(1)
                break
        output = "".join(lines)
        assert url, f"the demo never served the API:\n{output[-3000:]}"
        # Orphans were printed per provider, with the planted unreadable seed's scope failed.
        for provider in ("aws", "gcp", "azure", "openstack"):
            assert re.search(rf"{provider}: \d+ orphans", output), provider
        assert "1 failed" in output and "Machine" in output
        body = json.dumps({"query": "{ stats { projects shoots } }"}).encode()
        request = urllib.request.Request(url + "/graphql", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as resp:
            stats = json.loads(resp.read())["data"]["stats"]
        counted = graph.run_read("MATCH (p:Project) RETURN count(p) AS c")[0]["c"]
        assert stats["projects"] == counted > 0
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
