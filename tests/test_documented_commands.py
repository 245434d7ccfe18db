"""Every `graphinv ...` command the README and docs/ name exists, with every option they show: the
README's CLI table, its examples and the docs' commands are checked against the command line as
built (graphinv/cli.py). Running them is left to the tests of each feature."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer

from graphinv.cli import COMMANDS, app

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
# `graphinv ...` in backticks, and lines of code blocks that start with it.
_INLINE = re.compile(r"`(graphinv [^`]+)`")
_BLOCK_LINE = re.compile(r"^(graphinv [^#\n]+)", re.MULTILINE)
_OPTION = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")


def documented() -> list[str]:
    found: set[str] = set()
    for path in DOCUMENTS:
        text = path.read_text()
        blocks = "\n".join(re.findall(r"```(?:sh|bash|console)?\n(.*?)```", text, re.DOTALL))
        found |= {m.strip() for m in _INLINE.findall(text)} | {m.strip() for m in _BLOCK_LINE.findall(blocks)}
    return sorted(found)


def resolve(words: list[str]) -> tuple[Any, list[str]]:
    """The deepest command the leading words name, and the words naming it (the root for none)."""
    command: Any = typer.main.get_command(app)
    path: list[str] = []
    for word in words:
        sub = command.get_command(typer.Context(command), word) if hasattr(command, "get_command") else None
        if sub is None:
            break
        command, path = sub, [*path, word]
    return command, path


def test_the_documents_name_commands() -> None:
    assert len(documented()) >= 60  # the README's table and examples and the docs' commands were found


@pytest.mark.parametrize("usage", documented())
def test_documented_command_exists_with_its_options(usage: str) -> None:
    words = [w.strip("[]") for w in usage.split()[1:]]
    first = next((w for w in words if not w.startswith("-")), "")
    # The first word that is no option is a command, or a placeholder in capitals (`graphinv ARGS`).
    assert first in COMMANDS or first.isupper(), f"the documents name an unknown command: {usage}"
    command, path = resolve([w for w in words if not w.startswith("-")])
    known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    known |= {"--help"}
    # Options of every alternative a usage shows (`--list|--host NAME`), brackets and metavars aside.
    shown = {opt for opt in _OPTION.findall(usage.replace("|", " ")) if opt.startswith("-")}
    missing = sorted(shown - known)
    assert not missing, f"`{usage}`: graphinv {' '.join(path)} has no option {', '.join(missing)}"
