"""A non-editable install carries everything the CLI needs at run time, and nothing of the test harness:
the simulator's dependencies are the `sim` extra, and only `graphinv demo` and `graphinv sim` need them."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterable
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from graphinv.commands.sim import INSTALL_HINT, SIM_EXTRA_MODULES
from tests.support.cli import run_graphinv, subprocess_env

ROOT = Path(__file__).resolve().parents[1]
# What the simulator brings: moto's server, and through it cfn-lint and sympy.
HARNESS_ONLY = {"moto", "cfn-lint", "sympy"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                    "-w", str(out), str(ROOT)], check=True, timeout=300)
    (built,) = out.glob("graphinv-*.whl")
    return built


def test_wheel_ships_queries_pom_and_price_table(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped_queries = {p.name for p in (ROOT / "queries").glob("*.cypher")}
    assert shipped_queries, "no queries in the repo?"
    assert {f"queries/{q}" for q in shipped_queries} <= names
    for needed in ("graphinv/neo4j_server/pom.xml", "graphinv/prices.yaml", "graph_schema/registry.py",
                   "collectors/records.py", "graphinv/sim/runtime.py"):
        assert needed in names, needed
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "graphinv = graphinv.__main__:run" in zipfile.ZipFile(wheel).read(entry_points).decode()


def _wheel_requirements(wheel: Path) -> list[Requirement]:
    archive = zipfile.ZipFile(wheel)
    metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
    message = Parser().parsestr(archive.read(metadata).decode())
    return [Requirement(text) for text in message.get_all("Requires-Dist") or []]


def _wanted(requirement: Requirement, extras: Iterable[str]) -> bool:
    """Whether an install that asked for `extras` (none: the empty one) pulls this requirement."""
    marker = requirement.marker
    return marker is None or any(marker.evaluate({"extra": extra}) for extra in ("", *extras))


def _installs(requirements: Iterable[Requirement]) -> set[str]:
    """The distributions these requirements pull in, followed through the metadata installed here."""
    found: set[str] = set()
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = list(requirements)
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if (name, frozenset(requirement.extras)) in seen:
            continue
        seen.add((name, frozenset(requirement.extras)))
        found.add(name)
        try:
            requires = importlib.metadata.distribution(name).requires or []
        except importlib.metadata.PackageNotFoundError:
            continue
        todo.extend(dep for dep in map(Requirement, requires) if _wanted(dep, requirement.extras))
    return found


def test_wheel_without_the_sim_extra_installs_no_simulator(wheel: Path) -> None:
    requirements = _wheel_requirements(wheel)
    base = [r for r in requirements if _wanted(r, ())]
    sim = [r for r in requirements if not _wanted(r, ()) and _wanted(r, ("sim",))]
    assert {canonicalize_name(r.name) for r in sim} >= {"moto"}, sim
    assert not {canonicalize_name(r.name) for r in base} & HARNESS_ONLY, base
    # Followed through every dependency's own requirements: nothing pulls the harness in by the back door.
    assert not _installs(base) & HARNESS_ONLY
    # ...while the extra does pull it in (so the check above can see it when it is there).
    assert _installs(sim) >= HARNESS_ONLY


def test_sim_extra_and_the_cli_check_name_the_same_packages() -> None:
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["sim"]
    assert {canonicalize_name(Requirement(r).name) for r in extra} <= set(SIM_EXTRA_MODULES)


def test_queries_load_from_any_directory(tmp_path: Path) -> None:
    code = "from graphinv.queries import shipped_queries; print(sorted(shipped_queries()))"
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                            check=True, timeout=60)
    assert "orphan_instances" in result.stdout and "orphan_disks" in result.stdout


def test_help_lists_every_command_group_and_version() -> None:
    result = subprocess.run([sys.executable, "-m", "graphinv", "--help"], capture_output=True, text=True,
                            check=True, timeout=60, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    for group in ("neo4j", "collect", "orphans", "query", "scheduler", "serve", "alerts", "demo", "sim", "stats"):
        assert f" {group} " in result.stdout, group
    version = subprocess.run([sys.executable, "-m", "graphinv", "--version"], capture_output=True, text=True,
                             check=True, timeout=60)
    assert version.stdout.strip() == "graphinv 0.1.0"


# Every module of the product, to import without the simulator.
PRODUCT_IMPORTS = """
import importlib, pkgutil, sys
import graphinv, collectors, graph_schema, queries
for package in (graphinv, collectors, graph_schema, queries):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if not module.name.startswith("graphinv.sim") and not module.name.endswith("__main__"):
            importlib.import_module(module.name)
loaded = sorted(m for m in sys.modules if m.split(".")[0] == "moto" or m.startswith("graphinv.sim"))
print("loaded:", loaded)
"""


def test_product_code_never_imports_the_simulator() -> None:
    # graphinv.sim and moto made unimportable: every product module and the CLI's help still load.
    blocked = ("graphinv.sim", "moto")
    result = subprocess.run([sys.executable, "-c", PRODUCT_IMPORTS], capture_output=True, text=True, timeout=120,
                            env=subprocess_env(blocked=blocked), check=False)
    assert result.returncode == 0, result.stderr
    assert "loaded: []" in result.stdout
    help_text = run_graphinv("--help", blocked=blocked)
    assert help_text.returncode == 0, help_text.stderr
    assert " sim " in help_text.stdout and " demo " in help_text.stdout


@pytest.mark.parametrize(("missing", "command"), [
    ("moto", ["demo", "--once"]),
    ("moto", ["sim", "generate", "--scale", "0.01"]),
    ("graphinv.sim", ["demo", "--once"]),
    ("graphinv.sim", ["sim"]),
    ("graphinv.sim", ["sim", "--help"]),
])
def test_demo_and_sim_say_how_to_install_the_extra(missing: str, command: list[str], tmp_path: Path) -> None:
    # A Neo4j nobody listens on: should the check ever come too late, the demo fails fast instead of
    # starting a local server.
    config = tmp_path / "graphinv.yaml"
    config.write_text("neo4j: {uri: 'bolt://127.0.0.1:1'}\n")
    result = run_graphinv(*command, blocked=[missing], env={"GRAPHINV_CONFIG": str(config)}, cwd=tmp_path)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert INSTALL_HINT in lines[0] and f"`graphinv {command[0]}`" in lines[0] and repr(missing) in lines[0]
    assert "Neo4j" not in result.stdout
