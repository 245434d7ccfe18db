"""`graphinv --help` loads no cloud SDK, no GraphQL server stack: those load in the commands that use them."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("boto3", "botocore", "google.cloud", "azure", "openstack", "strawberry", "uvicorn", "matplotlib",
         "kubernetes")

PROBE = """
import json, runpy, sys
sys.argv = ["graphinv", "--help"]
code = 0
try:
    runpy.run_module("graphinv", run_name="__main__")
except SystemExit as exc:
    code = exc.code
loaded = sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in HEAVY))
print(json.dumps({"code": code, "loaded": loaded}))
"""


def test_help_imports_no_cloud_sdk_or_web_stack() -> None:
    done = subprocess.run([sys.executable, "-c", f"HEAVY = {HEAVY!r}\n{PROBE}"], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["code"] in (0, None)
    assert "Usage" in done.stdout and "orphans" in done.stdout  # it really printed the help
    assert result["loaded"] == [], f"`graphinv --help` imported {result['loaded']}"


def test_serve_command_still_loads_the_api_on_use() -> None:
    """The lazy names of graphinv.api resolve to the real objects."""
    done = subprocess.run([sys.executable, "-c", "import graphinv.api as a, sys; "
                           "assert 'strawberry' not in sys.modules; f = a.create_app; "
                           "assert 'strawberry' in sys.modules; print(f.__module__)"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "graphinv.api.app"
