"""`graphinv sim serve --latency`: every simulated API answer waits about that long (with jitter)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from graphinv.sim import http as sim_http
from graphinv.sim.http import Response, SimHTTPServer, set_latency
from tests.support.processes import graphinv_command


@pytest.fixture
def server() -> Iterator[SimHTTPServer]:
    srv = SimHTTPServer(lambda request: Response.json({"ok": True}), name="latency").start()
    yield srv
    srv.stop()
    set_latency(0.0)


def test_every_request_waits_at_least_the_lower_jitter_bound(server: SimHTTPServer) -> None:
    set_latency(0.2, jitter=0.3)
    with httpx.Client() as client:
        for _ in range(3):
            began = time.monotonic()
            assert client.get(f"{server.url}/x").json() == {"ok": True}
            assert time.monotonic() - began >= 0.2 * 0.7 - 0.001
    samples = [sim_http.LATENCY.sample() for _ in range(500)]
    assert min(samples) >= 0.14 and max(samples) <= 0.26
    assert len({round(s, 4) for s in samples}) > 100  # jitter, not one fixed delay


def test_no_latency_by_default() -> None:
    assert sim_http.LATENCY.sample() == 0.0


def test_bad_latency_is_a_one_line_error(tmp_path: Path) -> None:
    done = subprocess.run(graphinv_command("sim", "serve", str(tmp_path / "x.yaml"), "--latency", "soon"),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "--latency" in done.stderr and "not a duration" in done.stderr
    with pytest.raises(ValueError):
        set_latency(-1.0)
