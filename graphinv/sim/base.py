"""What every simulated API offers the simulator runtime, and shared fault injection.

A cloud simulator is built from the landscape (it serves only the accounts of its provider),
started on 127.0.0.1 on a free port, and then tells the runtime:
- `provider_ids()`: instance key -> the providerID a Gardener Machine carries for that VM, so the
  Gardener simulator can fill in `spec.providerID`;
- `source_config()`: the `sources.<provider>` section of a graphinv config that reaches it;
- `resource_ids()`: landscape key -> (graph label, the uid graphinv's collector writes for it) for
  every instance, disk and public IP the simulator serves, including the implicit ones it makes
  itself (boot disks, instances' own addresses) under keys derived from their instance's key. Tests
  use it to compare what graphinv finds with the landscape's planted ground truth.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Protocol

from graphinv.sim.landscape import Landscape


class CloudSim(Protocol):
    provider: str

    def __init__(self, landscape: Landscape, workdir: Path) -> None: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def provider_ids(self) -> dict[str, str]: ...

    def source_config(self) -> dict[str, Any]: ...

    def resource_ids(self) -> dict[str, tuple[str, str]]: ...


class Throttle:
    """Answers 'throttle this request' for the first N requests of each scope, then lets them pass.

    Deterministic: the landscape says how many requests of a scope are throttled (`throttle_times`),
    so a test knows the SDK had to retry exactly that often.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def should_throttle(self, scope_key: str, times: int) -> bool:
        if times <= 0:
            return False
        with self._lock:
            seen = self._counts.get(scope_key, 0)
            self._counts[scope_key] = seen + 1
            return seen < times

    def throttled_count(self, scope_key: str) -> int:
        with self._lock:
            return self._counts.get(scope_key, 0)
