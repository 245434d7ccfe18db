"""Put this folder on PYTHONPATH and name modules in GRAPHINV_TEST_BLOCKED_MODULES (comma-separated):
the Python that starts then fails to import them, as if they were not installed.

tests/support/cli.py's run_graphinv(blocked=...) uses it to run the real CLI without the simulator.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType

BLOCKED = tuple(name for name in os.environ.get("GRAPHINV_TEST_BLOCKED_MODULES", "").split(",") if name)


class BlockedModules(MetaPathFinder):
    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if any(fullname == name or fullname.startswith(name + ".") for name in BLOCKED):
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


if BLOCKED:
    sys.meta_path.insert(0, BlockedModules())
