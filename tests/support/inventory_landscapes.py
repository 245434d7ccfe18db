"""A simulated landscape collected into the test graph, and a graphinv config file that reaches it.

For tests of what reads the graph (Ansible inventory, exports, the report, Prometheus): the
landscape is generated, served by the simulators, collected through the real collectors, and the
simulators are stopped again: what stays is the graph.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from graphinv.commands.collect import collect_into
from graphinv.config import Neo4jConnection, settings_from_mapping
from graphinv.db import Graph
from graphinv.sim.generate import generate
from graphinv.sim.landscape import Landscape
from graphinv.sim.runtime import SimulatedLandscape


def collect_simulated(graph: Graph, workdir: Path, scale: float = 0.05, seed: int = 7) -> Landscape:
    """Generate a landscape, serve it, collect every source into `graph` once; the graph keeps it."""
    landscape = generate(scale=scale, seed=seed)
    with SimulatedLandscape(landscape, workdir) as sim:
        summary = collect_into(graph, settings_from_mapping(sim.config()), [], show_progress=False)
    # The landscape's unreadable seeds fail by design; any other failure means the graph is not
    # the landscape, and a test reading it would prove nothing.
    planned = {f"gardener:{s.name}:global:Machine" for s in landscape.seeds if s.access == "forbidden"}
    unexpected = [f"{r.scope.key}: {r.error}" for r in summary.failed if r.scope.key not in planned]
    if unexpected:
        raise AssertionError("collecting the simulated landscape failed: " + "; ".join(unexpected))
    return landscape


def write_config(path: Path, conn: Neo4jConnection, sections: dict[str, Any] | None = None) -> Path:
    """A graphinv YAML config pointing at the test Neo4j, plus any other sections."""
    neo4j: dict[str, Any] = {"uri": conn.uri, "user": conn.user}
    if conn.password:
        password = conn.password
        neo4j["password"] = password.get_secret_value() if hasattr(password, "get_secret_value") else password
    path.write_text(yaml.safe_dump({"neo4j": neo4j, **(sections or {})}, sort_keys=False))
    return path


def clean_env(environ: dict[str, str], **extra: str) -> dict[str, str]:
    """The environment without any GRAPHINV_ variable of the caller's shell, plus `extra`."""
    env = {k: v for k, v in environ.items() if not k.startswith("GRAPHINV_")}
    env.update(extra)
    return env
