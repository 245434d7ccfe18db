"""`graphinv sim ...`: generate landscape files and serve them through the simulated APIs."""

from __future__ import annotations

import signal
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console

from graphinv.settings.types import parse_duration
from graphinv.sim.generate import generate, resource_counts
from graphinv.sim.http import set_latency
from graphinv.sim.landscape import LandscapeError, dump_landscape, load_landscape
from graphinv.sim.runtime import SimulatedLandscape

sim_app = typer.Typer(help="A simulated Gardener landscape on 127.0.0.1, spoken to through the real SDKs.",
                      no_args_is_help=True)

out = Console()
err = Console(stderr=True)


@sim_app.command("generate")
def generate_command(
    scale: Annotated[float, typer.Option("--scale", help="1 = about 1.5k cloud resources; 100 = ~190k objects")] = 1.0,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same landscape.")] = 0,
    out_file: Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout.")] = None,
) -> None:
    """Generate a deterministic landscape file (YAML) with planted ground truth."""
    if scale <= 0:
        err.print("[bold red]error:[/] --scale must be positive")
        raise typer.Exit(2)
    landscape = generate(scale, seed)
    text = dump_landscape(landscape)
    if out_file is None:
        sys.stdout.write(text)
        return
    out_file.write_text(text)
    counts = resource_counts(landscape)
    err.print(f"wrote {out_file}: {counts['shoots']} shoots, {counts['machines']} machines, "
              f"{counts['cloud_resources']} cloud resources")


@sim_app.command("serve")
def serve_command(
    landscape_file: Annotated[Path, typer.Argument(help="Landscape YAML (see docs/landscape.md).")],
    write_config: Annotated[Path | None, typer.Option(
        "--write-config", help="Where to write the graphinv config (default: in the work directory).")] = None,
    aws_engine: Annotated[str, typer.Option("--aws-engine", help="native | moto")] = "native",
    workdir: Annotated[Path | None, typer.Option("--workdir", help="Kubeconfigs, certificates, state "
                                                                   "(default: a temporary directory).")] = None,
    churn: Annotated[float, typer.Option("--churn", help="Keep about RATE API events per second going: machines, "
                                                         "shoots, hibernation, token expiry (0 = a still landscape).")]
    = 0.0,
    latency: Annotated[str, typer.Option("--latency", help="Delay every API answer by about this long "
                                                           "(e.g. 150ms; +/- 30% jitter), like a real cloud.")]
    = "0s",
    gcp_service_account: Annotated[bool, typer.Option(
        "--gcp-service-account", help="The GCP simulator requires credentials of its own service account and "
                                      "writes that account's JSON key file (0600) into the work directory; the "
                                      "written config names it, and google-cloud-compute or "
                                      "GOOGLE_APPLICATION_CREDENTIALS can use it (default: anonymous calls).")]
    = False,
) -> None:
    """Serve a landscape until Ctrl-C or SIGTERM."""
    if aws_engine not in ("native", "moto"):
        err.print("[bold red]error:[/] --aws-engine must be native or moto")
        raise typer.Exit(2)
    if churn < 0:
        err.print("[bold red]error:[/] --churn must be 0 or more events per second")
        raise typer.Exit(2)
    try:
        delay = parse_duration(latency).total_seconds()
    except ValueError as exc:
        err.print(f"[bold red]error:[/] --latency: {exc}")
        raise typer.Exit(2) from None
    set_latency(delay)
    try:
        landscape = load_landscape(landscape_file)
    except (LandscapeError, OSError) as exc:
        err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None
    if gcp_service_account and not any(a.provider == "gcp" for a in landscape.accounts):
        err.print(f"[bold red]error:[/] --gcp-service-account: {landscape_file} has no gcp accounts", soft_wrap=True)
        raise typer.Exit(2)
    cloud_options = {"gcp": {"auth": "service_account"}} if gcp_service_account else None
    temporary = None if workdir else tempfile.TemporaryDirectory(prefix="graphinv-sim-")
    base = workdir or Path(temporary.name)  # type: ignore[union-attr]
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with SimulatedLandscape(landscape, base, aws_engine=aws_engine,  # type: ignore[arg-type]
                                cloud_options=cloud_options) as sim:
            config_path = sim.write_config(write_config or base / "graphinv-sim.yaml")
            for name, url in sim.endpoints().items():
                out.print(f"{name:10} {url}")
            out.print(f"config     {config_path}")
            key_file = getattr(sim.clouds.get("gcp"), "key_file", None)
            if key_file is not None:
                out.print(f"gcp key    {key_file}", soft_wrap=True)
            mover = None
            if churn > 0:
                from graphinv.sim.churn import Churn

                assert sim.gardener is not None
                mover = Churn(sim.gardener.api, sim.clouds.get("aws"), seed=landscape.seed)
                mover.start(churn)
                out.print(f"churn      about {churn:g} events/s")
            if delay:
                out.print(f"latency    about {delay * 1000:g} ms per request")
            out.print("serving; Ctrl-C to stop")
            while not stop.wait(0.5):
                pass
            if mover is not None:
                mover.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if temporary is not None:
            temporary.cleanup()
    out.print("stopped")
