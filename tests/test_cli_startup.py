"""`graphinv --help` loads no cloud SDK, no GraphQL server stack: those load in the commands that use them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from graphinv.cli import COMMANDS

HEAVY = ("boto3", "botocore", "google.cloud", "azure", "openstack", "strawberry", "uvicorn", "matplotlib",
         "kubernetes")

PROBE = """
import gc, json, runpy, sys
sys.argv = ["graphinv", *ARGV]
code = 0
try:
    runpy.run_module("graphinv", run_name="__main__")
except SystemExit as exc:
    code = exc.code
loaded = sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in HEAVY))
from pydantic.plugin import _loader
print(json.dumps({"code": code, "loaded": loaded, "gc_enabled": gc.isenabled(), "frozen": gc.get_freeze_count(),
                  "plugins_scanned": _loader._plugins is not None}))
"""


def _python(code: str) -> str:
    """What `code` prints, run by this test's Python in a fresh interpreter (which must succeed)."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _probe(argv: list[str], watched: tuple[str, ...],
           env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """Run `graphinv ARGV` in a fresh interpreter; which of the `watched` modules it imported."""
    done = subprocess.run([sys.executable, "-c", f"HEAVY = {watched!r}\nARGV = {argv!r}\n{PROBE}"],
                          capture_output=True, text=True, timeout=300, check=False, env=env)
    assert done.returncode == 0, done.stderr
    return done, json.loads(done.stdout.strip().splitlines()[-1])


def test_help_imports_no_cloud_sdk_or_web_stack() -> None:
    done, result = _probe(["--help"], HEAVY)
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


@pytest.mark.parametrize("argv", [["orphans", "--help"], ["config", "--help"], ["changes", "--help"]])
def test_a_command_loads_only_its_own_module(argv: list[str]) -> None:
    """Each command's module is imported when that command runs: `graphinv orphans` pays for neither
    the scheduler's commands, the API, the HTTP client of the webhooks nor the cloud SDKs."""
    own = COMMANDS[argv[0]][0]
    others = tuple(sorted({module for module, _ in COMMANDS.values()} - {own, "graphinv.commands.orphans"}))
    done, result = _probe(argv, (*HEAVY, *others, "httpx"))
    assert "Usage" in done.stdout and argv[0] in done.stdout
    assert result["loaded"] == [], f"`graphinv {' '.join(argv)}` imported {result['loaded']}"


def test_the_driver_loads_without_numpy_and_numpy_still_loads() -> None:
    """graphinv never hands the driver arrays or frames, so the driver's probe for numpy, pandas and
    pyarrow (about 0.16 s of every command's start) is skipped (graphinv/_driver_import.py); the
    HTML report's charts still import numpy afterwards, and the driver still works."""
    _, result = _probe(["orphans", "--help"], ("numpy", "pandas", "pyarrow", "neo4j"))
    assert "neo4j" in result["loaded"], "the probe proves nothing if the command no longer loads the driver"
    assert [m for m in result["loaded"] if m.split(".")[0] != "neo4j"] == [], result["loaded"]
    after = subprocess.run(
        [sys.executable, "-c", "import graphinv.db, neo4j, numpy, sys; "
         "from neo4j._optional_deps import np; "
         "neo4j.Query('RETURN 1'); print(np is None, numpy.arange(3).sum())"],
        capture_output=True, text=True, timeout=300, check=False)
    assert after.returncode == 0, after.stderr
    assert after.stdout.split() == ["True", "3"]


def test_the_report_command_does_not_load_the_model_classes() -> None:
    """`graphinv orphans` runs shipped Cypher: neomodel and the model's classes (about 50 ms) load only in
    the commands that need them (`graphinv changes --kind` checks its value against graph_schema)."""
    _, result = _probe(["orphans", "--help"], ("neomodel", "graph_schema"))
    assert result["loaded"] == [], result["loaded"]
    _, changes = _probe(["changes", "--kind", "nonsense"], ("graph_schema.history",))
    assert changes["code"] == 2 and changes["loaded"] == ["graph_schema.history"], changes


def test_pydantic_plugins_are_not_looked_for_unless_asked() -> None:
    """graphinv/__main__.py: the scan of every installed distribution's entry points for pydantic plugins
    is skipped, unless PYDANTIC_DISABLE_PLUGINS is set already (an empty value asks for the plugins)."""
    quiet = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    _, skipped = _probe(["orphans", "--help"], (), quiet)
    assert skipped["plugins_scanned"] is False
    _, asked = _probe(["orphans", "--help"], (), {**quiet, "PYDANTIC_DISABLE_PLUGINS": ""})
    assert asked["plugins_scanned"] is True


@pytest.mark.parametrize("argv", [["config", "--help"], ["orphans", "--help"]])
def test_garbage_collection_waits_for_the_start_then_runs(argv: list[str]) -> None:
    """The command starts with the garbage collector held back (graphinv/__main__.py says why); once the
    command's module has loaded, what was loaded is frozen and the collector runs again, so a command
    that runs for days (the scheduler, the API server) collects its garbage."""
    _, result = _probe(argv, ())
    assert result["gc_enabled"] is True, "the collector was never resumed"
    assert result["frozen"] > 10_000, f"only {result['frozen']} objects frozen: the start was not held back"


def test_json_and_csv_output_load_no_rich() -> None:
    """Rich (40 to 60 ms to import) loads for a table or a message, not for output a script reads."""
    code = ("import sys\nfrom graphinv.commands.common import emit, out\n"
            "emit([{'a': 1}], 'json'); emit([{'a': 1}], 'csv')\n"
            "print('rich' in sys.modules)\n"
            "emit([{'a': 1}], 'table'); out.print('done')\n"
            "print('rich' in sys.modules)\n")
    lines = _python(code).splitlines()
    assert lines[-1] == "True" and "done" in lines, lines  # the table and the message did print
    assert "False" in lines, f"JSON or CSV output imported Rich: {lines}"


def test_everything_is_frozen_before_the_interpreter_exits() -> None:
    """The full collections Python runs at exit walked every object the cloud SDKs had made (1.3 to 2 s of
    a `graphinv collect`); the command freezes what is alive first, whatever ends it. `--version` loads
    no command, so nothing was frozen at the start: what is frozen here was frozen at the end."""
    _, result = _probe(["--version"], ())
    assert result["code"] in (0, None)
    assert result["frozen"] > 10_000, result


def test_planning_loads_the_cloud_sdks_without_the_collector_then_resumes_it() -> None:
    """A source's collector and its SDK load inside graphinv.loading.loading_modules (about a third of
    their import time went to the garbage collector walking the new modules): afterwards what loaded is
    frozen and the collector runs again; a collector that was off stays off; a plan that loads nothing
    new freezes nothing."""
    code = ("import gc, json, sys\n"
            "from graphinv.sources import plan_sources\n"
            "from graphinv.loading import loading_modules\n"
            "before = gc.get_freeze_count()\n"
            "tasks = plan_sources({'sources': {'aws': {'accounts': [{'id': '111111111111', "
            "'regions': ['eu-west-1']}]}}})\n"
            "after = gc.get_freeze_count()\n"
            "plan_sources({'sources': {'aws': {'accounts': [{'id': '222222222222'}]}}})\n"
            "again = gc.get_freeze_count()\n"
            "gc.disable()\n"
            "with loading_modules():\n    pass\n"
            "print(json.dumps({'tasks': len(tasks), 'boto3': 'boto3' in sys.modules, 'before': before, "
            "'after': after, 'again': again, 'enabled': gc.isenabled()}))\n")
    result = json.loads(_python(code).strip().splitlines()[-1])
    assert result["tasks"] > 0 and result["boto3"], result  # the SDK did load, while planning
    assert result["before"] == 0 and result["after"] > 10_000, result
    assert result["enabled"] is False, "loading_modules turned on a collector that was off"
    # planning again loads nothing new, so it freezes nothing (the scheduler plans every run)
    assert result["again"] <= result["after"], result  # (frozen objects that die leave the count)


def test_the_scheduler_loads_the_configured_sdks_before_its_threads_start() -> None:
    """`graphinv scheduler start` imports the configured collectors on its main thread (graphinv/scheduler/
    service.py says why imports must not race); a collector package names its parts lazily, so this must
    load the collector module and its SDK, not just the package."""
    code = ("import json, sys\n"
            "from graphinv.scheduler.service import import_collectors\n"
            "from graphinv.sources import sources_settings\n"
            "import_collectors(sources_settings({'sources': {'aws': {'accounts': [{'id': '111111111111'}]}}}))\n"
            "print(json.dumps(sorted(m for m in ('boto3', 'collectors.aws.collector', 'google.cloud.compute_v1') "
            "if m in sys.modules)))\n")
    assert json.loads(_python(code).strip().splitlines()[-1]) == ["boto3", "collectors.aws.collector"]
