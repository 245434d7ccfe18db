"""`graphinv watch`: only the Gardener watches, in the foreground, one line per applied event."""

from __future__ import annotations

import contextlib
import logging
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from graphinv.commands.common import config, connected, fail, out
from graphinv.db import Graph
from graphinv.watch.settings import WatchSettings

if TYPE_CHECKING:  # the Kubernetes client and cloud SDKs load only when watching
    from graphinv.watch.service import WatchService
    from graphinv.watch.stream import Change, ResourceWatch


def event_line(watch: ResourceWatch, change: Change, committed: float) -> str:
    """`12:00:01.234  aws-1/Machine  DELETED   aws-1/shoot--core--a/m1  (lag 12 ms)`"""
    when = datetime.fromtimestamp(committed).strftime("%H:%M:%S.%f")[:-3]
    uid = change.record.uid if change.record is not None else "-"
    lag = (committed - change.received) * 1000
    return f"{when}  {watch.name:24} {change.type:9} {uid}  (lag {lag:.0f} ms)"


def watch(
    duration: Annotated[float | None, typer.Option("--for", help="stop after this many seconds (default: Ctrl-C)")]
    = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="no line per event, only the status changes")] = False,
) -> None:
    """Watch the Gardener side and keep the graph current, printing each applied change."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    cfg = config()
    settings: WatchSettings = getattr(cfg, "watch", None) or WatchSettings()
    if getattr(cfg.sources, "gardener", None) is None:
        fail("no `sources.gardener` section in the config: there is nothing to watch")
    stop = threading.Event()
    lock = threading.Lock()

    def print_changes(resource_watch: ResourceWatch, changes: list[Change], committed: float) -> None:
        if quiet:
            return
        with lock:
            for change in changes:
                if not change.initial:
                    out.print(event_line(resource_watch, change, committed), highlight=False, markup=False)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    with connected(cfg) as graph:
        from graphinv.watch.service import WatchService

        service = WatchService(graph, cfg.sources, settings, listeners=[print_changes])
        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            service.start()
            out.print("watching; Ctrl-C to stop", highlight=False)
            deadline = None if duration is None else time.monotonic() + duration
            shown: dict[str, Any] = {}
            while not stop.wait(0.5):
                for status in service.statuses():  # say when a watch connects or goes down
                    state = "up" if status["connected"] else "down"
                    if shown.get(status["name"]) != state:
                        shown[status["name"]] = state
                        why = f" ({status['last_error']})" if state == "down" and status["last_error"] else ""
                        with lock:
                            out.print(f"watch {status['name']} {state}{why}", highlight=False, markup=False)
                if deadline is not None and time.monotonic() >= deadline:
                    break
        finally:
            service.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    out.print("stopped", highlight=False)


@contextlib.contextmanager
def watching_simulation(graph: Graph, world: Any, churn_rate: float = 0.5) -> Iterator[WatchService]:
    """For `graphinv demo`: serve `world` again (same deterministic ids), keep it moving with
    graphinv.sim.churn, and watch it into `graph`, printing each applied change."""
    from graphinv.sim.churn import Churn  # the simulator is a demo harness: imported only here
    from graphinv.sim.runtime import SimulatedLandscape

    lock = threading.Lock()

    def print_changes(resource_watch: ResourceWatch, changes: list[Change], committed: float) -> None:
        with lock:
            for change in changes:
                if not change.initial:
                    out.print(event_line(resource_watch, change, committed), highlight=False, markup=False)

    with tempfile.TemporaryDirectory(prefix="graphinv-demo-watch-") as workdir, \
            SimulatedLandscape(world, Path(workdir)) as sim:
        assert sim.gardener is not None
        from graphinv.watch.service import WatchService

        service = WatchService(graph, sim.config()["sources"], WatchSettings(), listeners=[print_changes]).start()
        churn = Churn(sim.gardener.api, sim.clouds.get("aws"), seed=world.seed)
        churn.start(churn_rate)
        out.print(f"Watching the landscape while it changes (about {churn_rate:g} API events/s):", highlight=False)
        try:
            yield service
        finally:
            churn.stop()
            service.stop()
