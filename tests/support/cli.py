"""Running the real `graphinv` command (or any Python) in a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

WITHOUT_MODULES = Path(__file__).resolve().parent / "without_modules"


def subprocess_env(env: Mapping[str, str] | None = None, blocked: Iterable[str] = ()) -> dict[str, str]:
    """This environment plus `env`, wide enough for Rich's tables; the modules named in `blocked` cannot
    be imported there, as if they were not installed (see without_modules/sitecustomize.py)."""
    full = {**os.environ, "COLUMNS": "200", **(env or {})}
    names = list(blocked)
    if names:
        full["GRAPHINV_TEST_BLOCKED_MODULES"] = ",".join(names)
        full["PYTHONPATH"] = os.pathsep.join(p for p in (str(WITHOUT_MODULES), full.get("PYTHONPATH")) if p)
    return full


def run_graphinv(*args: str, env: Mapping[str, str] | None = None, blocked: Iterable[str] = (),
                 cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python -m graphinv ARGS` with this test's Python; it may fail (check its returncode)."""
    return subprocess.run([sys.executable, "-m", "graphinv", *args], capture_output=True, text=True,
                          env=subprocess_env(env, blocked), cwd=cwd, timeout=timeout, check=False)
