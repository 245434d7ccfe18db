"""A non-editable install carries everything the CLI needs at run time."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_ships_queries_pom_and_price_table(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                    "-w", str(tmp_path), str(ROOT)], check=True, timeout=300)
    (wheel,) = tmp_path.glob("graphinv-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped_queries = {p.name for p in (ROOT / "queries").glob("*.cypher")}
    assert shipped_queries, "no queries in the repo?"
    assert {f"queries/{q}" for q in shipped_queries} <= names
    for needed in ("graphinv/neo4j_server/pom.xml", "graphinv/prices.yaml", "graph_schema/registry.py",
                   "collectors/records.py", "graphinv/sim/runtime.py"):
        assert needed in names, needed
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "graphinv = graphinv.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


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
