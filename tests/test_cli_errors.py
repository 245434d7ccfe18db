"""Every user error is one line on stderr naming what to fix, exit 2; a traceback only with --debug.

The first test walks every command of the typer app, so a command added later is covered without
editing this file: by default it gets a malformed config file (and a missing file for each required
argument); a command that reads no configuration names its own bad input in OWN_BAD_INPUT.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.main
from typer.testing import CliRunner

from graphinv.cli import app
from graphinv.commands.errors import describe
from graphinv.ports import free_port

# Commands whose malformed-config run would not fail (they read no configuration): their bad input.
OWN_BAD_INPUT: dict[tuple[str, ...], list[str]] = {
    ("query",): ["no-such-query"],
    ("sim", "generate"): ["--scale", "-1", "--seed", "1"],
    ("sim", "serve"): ["/nonexistent/landscape.yaml"],
}


def _commands() -> Iterator[tuple[tuple[str, ...], Any]]:
    root = typer.main.get_command(app)

    def walk(cmd: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
        if hasattr(cmd, "list_commands"):
            # make_context parses (resiliently), which also loads a group that adds its commands lazily
            ctx = cmd.make_context(" ".join(path) or "graphinv", [], resilient_parsing=True)
            for name in cmd.list_commands(ctx):
                yield from walk(cmd.get_command(ctx, name), (*path, name))
        else:
            yield path, cmd

    yield from walk(root, ())


COMMANDS = dict(_commands())


def _run(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{args}: escaped the CLI: {result.exception!r}")
    return result.exit_code, result.stdout, result.stderr


def _assert_one_line(args: list[str], code: int, stdout: str, stderr: str, *expected: str) -> str:
    lines = stderr.strip().splitlines()
    assert code == 2, f"{args}: exit {code}; stderr {stderr!r}; stdout {stdout[-300:]!r}"
    assert len(lines) == 1 and lines[0].startswith("error: "), f"{args}: {stderr!r}"
    assert "Traceback" not in stdout + stderr
    for word in expected:
        assert word.lower() in lines[0].lower(), f"{args}: {lines[0]!r} does not mention {word!r}"
    return lines[0]


@pytest.fixture
def bad_config(tmp_path: Path) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text("neo4j: [unclosed\n")
    return path


def test_every_command_has_a_covered_bad_input() -> None:
    assert len(COMMANDS) >= 15, sorted(COMMANDS)  # the walk found the sub-apps' commands too
    stale = set(OWN_BAD_INPUT) - set(COMMANDS)
    assert not stale, f"OWN_BAD_INPUT names commands that no longer exist: {stale}"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_every_command_turns_bad_input_into_one_line(path: tuple[str, ...], bad_config: Path) -> None:
    if path in OWN_BAD_INPUT:
        args = [*path, *OWN_BAD_INPUT[path]]
    else:
        params = [p for p in COMMANDS[path].params if p.required]
        options = [word for p in params if p.param_type_name == "option"
                   for word in (p.opts[0], "/nonexistent/missing")]
        arguments = ["/nonexistent/missing"] * sum(p.param_type_name == "argument" for p in params)
        args = ["-c", str(bad_config), *path, *options, *arguments]
    _assert_one_line(args, *_run(args))


def _config(tmp_path: Path, uri: str, extra: str = "") -> Path:
    path = tmp_path / "graphinv.yaml"
    path.write_text(f"neo4j: {{uri: '{uri}'}}\n{extra}")
    return path


def test_unreachable_neo4j_is_one_line(tmp_path: Path) -> None:
    cfg = _config(tmp_path, f"bolt://127.0.0.1:{free_port()}")
    for command in (["stats"], ["orphans"], ["query", "orphan_instances"]):
        args = ["-c", str(cfg), *command]
        _assert_one_line(args, *_run(args), "not reachable")


@pytest.mark.parametrize(("cypher", "expected"), [
    ("CREATE (n:Intruder) RETURN n", "read-only"),
    ("MATCH (n RETURN n", "syntax error"),
    ("LOAD CSV FROM 'file:///etc/passwd' AS line RETURN line", "LOAD CSV"),
    ("CALL no.such.procedure() YIELD x RETURN x", "procedure"),
])
def test_query_file_errors_against_the_real_server(cypher: str, expected: str, tmp_path: Path,
                                                   neo4j_connection: Any) -> None:
    query = tmp_path / "mine.cypher"
    query.write_text(cypher + "\n")
    args = ["-c", str(_config(tmp_path, neo4j_connection.uri)), "query", "--file", str(query)]
    _assert_one_line(args, *_run(args), expected)


def test_files_durations_prices_and_alert_scripts(tmp_path: Path, neo4j_connection: Any) -> None:
    base = _config(tmp_path, neo4j_connection.uri)
    missing = ["-c", str(base), "query", "--file", str(tmp_path / "absent.cypher")]
    _assert_one_line(missing, *_run(missing), "absent.cypher")
    latin = tmp_path / "latin.cypher"
    latin.write_bytes(b"MATCH (n) RETURN n // caf\xe9\n")
    not_utf8 = ["-c", str(base), "query", "--file", str(latin)]
    _assert_one_line(not_utf8, *_run(not_utf8), "UTF-8")
    duration = ["-c", str(base), "orphans", "--older-than", "7 fortnights"]
    _assert_one_line(duration, *_run(duration), "7 fortnights")
    prices = tmp_path / "prices.yaml"
    prices.write_text("aws: {instance: [oops\n")
    priced = _config(tmp_path, neo4j_connection.uri, f"orphans: {{prices: '{prices}'}}\n")
    args = ["-c", str(priced), "orphans"]
    _assert_one_line(args, *_run(args), "prices.yaml")
    alerts = tmp_path / "alerts"
    alerts.mkdir()
    (alerts / "mine.cypher").write_bytes(b"// name: mine\nMATCH (n) RETURN n.uid AS uid // \xff\n")
    alerting = _config(tmp_path, neo4j_connection.uri, f"alerts: {{dirs: ['{alerts}']}}\n")
    args = ["-c", str(alerting), "alerts", "list"]
    _assert_one_line(args, *_run(args), "UTF-8")


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    cfg = _config(tmp_path, f"bolt://127.0.0.1:{free_port()}")
    query = tmp_path / "q.cypher"
    query.write_text("RETURN 1 AS one\n")
    result = CliRunner().invoke(app, ["--debug", "-c", str(cfg), "query", "--file", str(query)])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")


def test_cloud_sdk_credential_errors_name_what_to_check() -> None:
    from botocore.exceptions import NoCredentialsError
    from google.auth.exceptions import DefaultCredentialsError

    line, code = describe(NoCredentialsError())
    assert code == 2 and "sources.aws" in line
    line, code = describe(DefaultCredentialsError("Could not automatically determine credentials"))
    assert code == 2 and "sources.gcp" in line
    line, code = describe(RuntimeError("boom"))
    assert code == 1 and "--debug" in line
