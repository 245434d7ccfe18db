"""One line for every error a user can fix; a traceback only with `graphinv --debug`.

Commands raise what they raise; the root command group (graphinv/cli.py) hands any exception that
escapes a command to `describe` and prints one line on stderr with exit code 2. The translation is
by kind, not per command, so a new command (or a new configuration parser) is covered without
touching this file: our own error classes carry messages written for people; the known
third-party ones (Neo4j, YAML, pydantic, files, cloud SDK authentication) are phrased here.
"""

from __future__ import annotations

import traceback
from typing import Any, NoReturn

import typer
import yaml
from neo4j import exceptions as neo4j_errors
from pydantic import ValidationError
from typer.core import TyperGroup

from graphinv.redact import redact

EXIT_USER_ERROR = 2
EXIT_BUG = 1
OUR_PACKAGES = ("graphinv.", "collectors.", "graph_schema.", "queries.")
# Authentication failures of the cloud SDKs, by module prefix: what to check for each.
CLOUD_AUTH = {
    "botocore": "the AWS credentials or role (sources.aws)",
    "boto3": "the AWS credentials or role (sources.aws)",
    "google.auth": "the GCP credentials (sources.gcp.credentials)",
    "google.api_core": "the GCP credentials and project access (sources.gcp)",
    "azure": "the Azure credential (sources.azure.credential)",
    "keystoneauth1": "the OpenStack cloud credentials (sources.openstack)",
    "openstack": "the OpenStack cloud credentials (sources.openstack)",
    "kubernetes": "the Gardener kubeconfig (sources.gardener.kubeconfig)",
}
AUTH_WORDS = ("credential", "auth", "unauthorized", "forbidden", "token", "signature", "accessdenied")


def _first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    if not lines:
        return ""
    more = " (more with --debug)" if len(lines) > 1 else ""
    return lines[0] + more


def _neo4j(exc: neo4j_errors.Neo4jError | neo4j_errors.DriverError) -> str:
    if isinstance(exc, neo4j_errors.AuthError):
        return ("Neo4j refused the credentials; check neo4j.user and neo4j.password "
                "(or GRAPHINV_NEO4J_PASSWORD)")
    if isinstance(exc, neo4j_errors.ServiceUnavailable | neo4j_errors.SessionExpired):
        return (f"Neo4j is not reachable ({_first_line(str(exc))}); check neo4j.uri, or start the local "
                "server with `graphinv neo4j start`")
    if isinstance(exc, neo4j_errors.Neo4jError):
        code = exc.code or ""
        message = _first_line(exc.message or str(exc))
        if code.endswith("AccessMode") or "read access mode" in message.lower():
            return "the query writes, but graphinv runs queries read-only; remove the write clauses"
        if code.endswith("ProcedureNotFound") or code.endswith("FunctionNotFound"):
            return f"Neo4j does not know a procedure or function the query calls: {message}"
        if code.endswith("SyntaxError"):
            return f"the Cypher query has a syntax error: {message}"
        if ".ClientError." in code:
            return f"Neo4j refused the query ({code.rsplit('.', 1)[-1]}): {message}"
        return f"Neo4j failed: {message or code}"
    return f"Neo4j driver error: {_first_line(str(exc))}"


def _validation(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_input=False, include_url=False)[:3]:
        where = ".".join(str(p) for p in error.get("loc", ()))
        parts.append(f"{where}: {error.get('msg')}" if where else str(error.get("msg")))
    more = f" (and {exc.error_count() - 3} more)" if exc.error_count() > 3 else ""
    return f"invalid configuration: {'; '.join(parts)}{more}"


def _yaml(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    name = getattr(mark, "name", None) if mark is not None else None
    source = f"{name}: " if name and not str(name).startswith("<") else ""
    problem = getattr(exc, "problem", None) or _first_line(str(exc))
    return f"{source}not valid YAML{where}: {problem}"


def _cloud_auth(exc: BaseException) -> str | None:
    module = type(exc).__module__ or ""
    for prefix, what in CLOUD_AUTH.items():
        if module == prefix or module.startswith(prefix + "."):
            name = type(exc).__name__.lower()
            text = str(exc).lower()
            if any(word in name or word in text for word in AUTH_WORDS):
                reason = f"{type(exc).__name__}: {_first_line(str(exc))}"
                return f"the cloud refused the credentials ({reason}); check {what}"
    return None


def describe(exc: BaseException) -> tuple[str, int]:
    """One line for a person, and the exit code."""
    if isinstance(exc, neo4j_errors.Neo4jError | neo4j_errors.DriverError):
        return _neo4j(exc), EXIT_USER_ERROR
    if isinstance(exc, ValidationError):
        return _validation(exc), EXIT_USER_ERROR
    if isinstance(exc, yaml.YAMLError):
        return _yaml(exc), EXIT_USER_ERROR
    if isinstance(exc, UnicodeDecodeError):
        return (f"a file is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
                "save it as UTF-8"), EXIT_USER_ERROR
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}", EXIT_USER_ERROR
    if isinstance(exc, ConnectionError | TimeoutError):
        return f"a connection failed: {_first_line(str(exc)) or type(exc).__name__}", EXIT_USER_ERROR
    auth = _cloud_auth(exc)
    if auth:
        return auth, EXIT_USER_ERROR
    module = type(exc).__module__ or ""
    ours = module.startswith(OUR_PACKAGES)
    if ours or type(exc) in (ValueError, KeyError, FileNotFoundError) or (
            isinstance(exc, ValueError) and str(exc)):
        return _first_line(str(exc)) or type(exc).__name__, EXIT_USER_ERROR
    return (f"unexpected {type(exc).__name__}: {_first_line(str(exc))} "
            "(this is a bug; run with --debug for the traceback and report it)"), EXIT_BUG


def report(exc: BaseException, debug: bool) -> NoReturn:
    """Print the error (and its traceback when debugging) to stderr and exit."""
    line, code = describe(exc)
    if debug:
        traceback.print_exception(exc)
    typer.echo(f"error: {redact(line)}", err=True)
    raise typer.Exit(code)


class ErrorReportingGroup(TyperGroup):
    """The root command group: any exception a command lets escape becomes one line (see `report`)."""

    def invoke(self, ctx: Any) -> Any:  # typer's vendored click Context
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):  # typer's own ways out, usage errors
            raise
        except Exception as exc:
            report(exc, bool(ctx.params.get("debug")))
