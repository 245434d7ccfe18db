"""Every benchmark the README and docs/ name starts, and takes every option they show for it.

The benchmarks themselves are not part of the suite (they take minutes and print numbers, not
verdicts); this runs each one's `--help` as its documented command line would start it
(`python bench/NAME.py` or `python -m bench.NAME`) and checks the README's options against it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
# `python bench/NAME.py ...` or `python -m bench.NAME ...` in backticks.
_COMMAND = re.compile(r"`python (?:bench/(\w+)\.py|-m bench\.(\w+))([^`]*)`")
_OPTION = re.compile(r"(?<![\w-])(--[a-z][\w-]*)")


def documented_benches(documents: list[Path] = DOCUMENTS) -> dict[str, tuple[list[str], set[str]]]:
    """Bench name -> (how the documents start it, the options they show with it: in its command, and
    in backticks after it up to the next bench, as `--without-history` after `python bench/ingest.py`)."""
    found: dict[str, tuple[list[str], set[str]]] = {}
    for document in documents:
        text = document.read_text()
        matches = list(_COMMAND.finditer(text))
        for at, match in enumerate(matches):
            name = match.group(1) or match.group(2)
            start = [f"bench/{name}.py"] if match.group(1) else ["-m", f"bench.{name}"]
            end = matches[at + 1].start() if at + 1 < len(matches) else match.end()
            following = " ".join(re.findall(r"`(--[^`]+)`", text[match.end():end]))
            found.setdefault(name, (start, set()))[1].update(_OPTION.findall(match.group(3) + " " + following))
    return found


def test_the_readme_names_the_benchmarks() -> None:
    assert {"ingest", "collect", "graphql", "queries", "scaleout"} <= set(documented_benches([ROOT / "README.md"]))


@pytest.mark.parametrize("name", sorted(documented_benches()))
def test_documented_bench_starts_with_its_options(name: str) -> None:
    path = ROOT / "bench" / f"{name}.py"
    assert path.is_file(), f"the README or docs/ name bench/{name}.py, which does not exist"
    start, options = documented_benches()[name]
    done = subprocess.run([sys.executable, *start, "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    missing = sorted(option for option in options if option not in done.stdout)
    assert not missing, f"bench/{name}.py does not take {missing} (the README or docs/ show them)"
