"""`graphinv demo`: the main job on a laptop. A local Neo4j, a simulated landscape served through
the real APIs, every source collected into the graph, and the orphan report per provider."""

from __future__ import annotations

import contextlib
import logging
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from collectors.settings import SourcesSettings
from graphinv.api.settings import ApiSettings
from graphinv.commands.collect import collect_into, print_summary
from graphinv.commands.common import config, connected, emit, fail, out
from graphinv.commands.orphans import TABLE_COLUMNS
from graphinv.commands.sim import require_simulator
from graphinv.db import Graph
from graphinv.neo4j_server import LocalNeo4j, LocalNeo4jError
from graphinv.neo4j_server.manager import port_in_use
from graphinv.orphans import OrphanFilter, orphan_report
from graphinv.settings.root import Settings
from graphinv.settings.types import CLOUD_PROVIDERS

BROWSER_QUERY = (
    "MATCH (s:Shoot)-[:OWNS_VM]->(i:Instance) WHERE NOT EXISTS { (:Machine)-[:RUNS_ON]->(i) } "
    "OPTIONAL MATCH (i)-[r]->(x) RETURN s, i, r, x LIMIT 100"
)


def demo(
    once: Annotated[bool, typer.Option("--once", help="exit after printing the report (for scripts and CI)")] = False,
    scale: Annotated[float, typer.Option(help="size of the generated landscape (1 = a small real one)")] = 0.2,
    seed: Annotated[int, typer.Option(help="seed of the generated landscape")] = 7,
    landscape: Annotated[Path | None, typer.Option(help="serve this landscape file instead of generating one")] = None,
    api_port: Annotated[int, typer.Option(help="port of the GraphQL API the demo leaves running")] = 8000,
) -> None:
    """Run the demo: local Neo4j, simulated landscape, collection, orphan report."""
    # The simulator is the `sim` extra: check for it before starting anything.
    require_simulator("graphinv demo")
    from graphinv.sim.generate import generate
    from graphinv.sim.landscape import LandscapeError, load_landscape
    from graphinv.sim.runtime import SimulatedLandscape

    logging.basicConfig(level=logging.ERROR)
    cfg = config()
    if cfg.uses_local_server:
        server = LocalNeo4j(cfg.local_neo4j)
        out.print("Starting the local Neo4j (the first start fetches its jars with Maven)...")
        try:
            status = server.start()
        except LocalNeo4jError as exc:
            fail(str(exc))
        out.print(f"Neo4j {status.describe()}", highlight=False)
    try:
        world = load_landscape(landscape) if landscape else generate(scale=scale, seed=seed)
    except (LandscapeError, OSError) as exc:
        fail(str(exc))
    with connected(cfg) as graph, tempfile.TemporaryDirectory(prefix="graphinv-demo-") as workdir:
        out.print(f"Serving the simulated landscape {world.name!r}: {len(world.shoots)} shoots, "
                  f"{len(world.instances())} VMs in {len(world.accounts)} cloud accounts")
        with SimulatedLandscape(world, Path(workdir)) as sim:
            cfg.sources = SourcesSettings.model_validate(sim.config()["sources"])
            started = time.monotonic()
            summary = collect_into(graph, cfg, [], show_progress=not once)
            out.print(f"Collected in {time.monotonic() - started:.1f} s.")
            print_summary(summary)
        for provider in CLOUD_PROVIDERS:
            rows = orphan_report(graph, OrphanFilter(provider=provider))
            found = [r for r in rows if r["verdict"] == "orphan"]
            cost = sum(r["est_monthly_cost_usd"] or 0 for r in found)
            title = (f"{provider}: {len(found)} orphans, estimated {cost:,.2f} USD/month; "
                     f"{len(rows) - len(found)} unverified")
            emit(rows, "table", [c for c in TABLE_COLUMNS if c != "provider"], title=title)
    browser = (f"http://127.0.0.1:{cfg.local_neo4j.http_port}/browser/" if cfg.uses_local_server
               else "(your Neo4j Browser)")
    out.print(f"\nExplore in Neo4j Browser: {browser} (connect to {cfg.neo4j.uri}, no authentication) "
              "and paste:", highlight=False)
    out.print(f"  {BROWSER_QUERY}", highlight=False, markup=False, soft_wrap=True)
    out.print("Colours: drop deploy/neo4j/graphinv.grass onto Browser; more queries: docs/exploring.md",
              highlight=False, markup=False)
    if once:
        return
    _serve_until_interrupted(cfg, api_port, world)


def _serve_until_interrupted(cfg: Settings, api_port: int, world: Any = None) -> None:
    """Keep the GraphQL API (and Neo4j) up for exploring until Ctrl-C or SIGTERM."""
    from graphinv.api.app import create_app  # the web stack only when serving
    from graphinv.api.threaded import free_port, serving

    port = api_port if not port_in_use(api_port) else free_port()
    graph = Graph(cfg.neo4j)
    app = create_app(graph, ApiSettings(port=port), orphans=cfg.orphans, history=cfg.history)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        with serving(app, port=port) as url:
            out.print(f"GraphQL API with GraphiQL: {url}/graphql")
            out.print("Neo4j and the API keep running; press Ctrl-C to leave the demo "
                      "(`graphinv neo4j stop` stops Neo4j).")
            with contextlib.ExitStack() as live, contextlib.suppress(KeyboardInterrupt):
                if world is not None:  # keep watching the simulated landscape as it changes
                    from graphinv.commands.watch import watching_simulation

                    live.enter_context(watching_simulation(graph, world))
                done.wait()
    finally:
        graph.close()
