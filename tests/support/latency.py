"""The simulators' answer latency for the length of a test, put back as it was afterwards."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from graphinv.sim.http import LATENCY, set_latency


@contextlib.contextmanager
def simulator_latency(seconds: float, jitter: float = 0.0) -> Iterator[None]:
    """Every simulated answer waits `seconds` (± `jitter`) until the block ends."""
    before = (LATENCY.mean, LATENCY.jitter)
    set_latency(seconds, jitter)
    try:
        yield
    finally:
        set_latency(*before)
