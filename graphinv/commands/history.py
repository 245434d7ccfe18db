"""`graphinv changes` and `graphinv history`: what the graph remembers (graphinv/history/)."""

from __future__ import annotations

import inspect
import json
import signal
import threading
from datetime import UTC, datetime
from typing import Annotated, Any, get_type_hints

import typer

from graphinv.commands import orphans as orphans_cmd
from graphinv.commands.common import config, connected, emit, err, fail, out
from graphinv.history.lifecycle import SHOW_ACKED, acknowledge
from graphinv.history.settings import HistorySettings
from graphinv.history.store import (
    ChangeFilter,
    CursorError,
    Position,
    describe,
    jsonable,
    list_changes,
    node_history,
)
from graphinv.settings.types import CLOUD_PROVIDERS, parse_duration

# One page of `graphinv changes`: a person reads a screenful, a script pages on with --after.
CHANGES_PAGE = 200
COLUMNS = ["at", "kind", "node_label", "name", "node_uid", "provider", "project", "property", "before", "after",
           "rel", "other_label", "other_uid", "uid"]
TABLE_COLUMNS = ["at", "kind", "provider", "project", "what"]
FORMATS = ("table", "json", "ndjson")


def _print(rows: list[dict[str, Any]], fmt: str, title: str) -> None:
    if fmt not in FORMATS:
        fail(f"--format must be one of {', '.join(FORMATS)}")
    if fmt == "ndjson":
        for row in rows:
            print(json.dumps(jsonable({c: row.get(c) for c in COLUMNS})))
        return
    if fmt == "json":
        emit([jsonable(r) for r in rows], "json", COLUMNS)
        return
    shown = [{**r, "at": r["at"].strftime("%Y-%m-%d %H:%M:%S") if r.get("at") else "", "what": describe(r)}
             for r in rows]
    emit(shown, "table", TABLE_COLUMNS, title=title)
    out.print(f"{len(rows)} changes")


def changes(
    since: Annotated[str, typer.Option(help="how far back, e.g. 24h, 7d, 90m")] = "24h",
    provider: Annotated[str | None, typer.Option(help="aws, gcp, azure or openstack")] = None,
    kind: Annotated[str | None, typer.Option(help="appeared, changed, gone, linked or unlinked")] = None,
    label: Annotated[str | None, typer.Option(help="only changes concerning this label (Instance, Disk, ...)")] = None,
    project: Annotated[str | None, typer.Option(help="one Gardener project")] = None,
    limit: Annotated[int, typer.Option(help="at most this many, oldest first (one page)")] = CHANGES_PAGE,
    after: Annotated[str | None, typer.Option(
        help="the next page: the cursor the previous page printed (to stderr) when it was full")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, json or ndjson")] = "table",
) -> None:
    """What changed in the landscape: nodes that appeared or went, properties that changed, edges.
    A full page ends with the command for the next one (`--after CURSOR`), on stderr."""
    if provider and provider not in CLOUD_PROVIDERS:
        fail(f"--provider must be one of {', '.join(CLOUD_PROVIDERS)}")
    # The model (with neomodel) loads here, not with the module: `graphinv orphans` lives in this module too
    # and never needs it (about 50 ms of its start-up).
    from graph_schema.history import CHANGE_KINDS

    if kind and kind not in CHANGE_KINDS:
        fail(f"--kind must be one of {', '.join(CHANGE_KINDS)}")
    if limit < 1:
        fail("--limit must be at least 1")
    try:
        window = parse_duration(since)
        position = Position.decode(after) if after else None
    except CursorError as exc:
        fail(f"--after: {exc}")
    except ValueError as exc:
        fail(f"--since: {exc}")
    filt = ChangeFilter(since=datetime.now(UTC) - window, provider=provider, kind=kind, label=label,
                        project=project)
    with connected() as graph:
        rows = list_changes(graph, filt, limit=limit, after=position)
    _print(rows, fmt, f"changes in the last {since}")
    if len(rows) == limit:  # maybe more: say how to get them, where a script reading stdout never sees it
        cursor = Position(rows[-1]["at"], rows[-1]["uid"]).encode()
        err.print(f"more changes may follow: add --after {cursor}", highlight=False, markup=False, soft_wrap=True)


def history(
    uid: Annotated[str, typer.Argument(help="the uid of a node (also one that is gone)")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, json or ndjson")] = "table",
) -> None:
    """The timeline of one node: when it appeared, what changed, which edges came and went."""
    with connected() as graph:
        rows = node_history(graph, uid)
    if not rows and fmt == "table":
        out.print(f"nothing recorded about {uid!r} (is the uid right? `graphinv query` can find it)")
        return
    _print(rows, fmt, f"history of {uid}")


def deliver_changes(
    once: Annotated[bool, typer.Option(help="deliver what is pending and exit (default: keep delivering)")] = False,
) -> None:
    """Send changes to the configured `history.webhooks` (CloudEvents, at least once) and the Slack digest."""
    # Imported here: the HTTP client is not needed by the other history commands.
    from graphinv.history.delivery import DeliveryError, SlackDigest, WebhookSink, deliver_forever

    cfg = config()
    settings: HistorySettings = getattr(cfg, "history", None) or HistorySettings()
    if not settings.webhooks and settings.slack is None:
        fail("no history.webhooks and no history.slack in the config: nothing to deliver to")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with connected(cfg) as graph:
        if once:
            for sink_settings in settings.webhooks:
                sink = WebhookSink(graph, sink_settings, settings, stop)
                try:
                    out.print(f"{sink.name}: {sink.deliver_pending()} delivered")
                finally:
                    sink.close()
            if settings.slack is not None:
                try:
                    out.print(f"slack digest: {SlackDigest(graph, settings.slack, settings).send_digest()} changes")
                except DeliveryError as exc:
                    fail(str(exc))
            return
        out.print(f"delivering changes to {len(settings.webhooks)} webhook(s)"
                  f"{' and a Slack digest' if settings.slack else ''}; Ctrl-C stops")
        try:
            deliver_forever(graph, settings, stop)
        except KeyboardInterrupt:
            stop.set()


# -- `graphinv orphans` as a group: the report (unchanged options, plus --acked) and `ack` -------------
orphans_app = typer.Typer(help="Orphaned VMs, disks and IPs; `graphinv orphans ack UID` acknowledges one.")


def _report(ctx: typer.Context, acked: bool, **options: Any) -> None:
    if ctx.invoked_subcommand is not None:
        return
    token = SHOW_ACKED.set(acked)
    try:
        orphans_cmd.orphans(**options)
    finally:
        SHOW_ACKED.reset(token)


def _report_signature() -> inspect.Signature:
    hints = get_type_hints(orphans_cmd.orphans, include_extras=True)  # the module's annotations are strings
    params = [p.replace(annotation=hints[p.name]) for p in inspect.signature(orphans_cmd.orphans).parameters.values()]
    extra = [
        inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context),
        inspect.Parameter("acked", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=Annotated[
            bool, typer.Option(help="also list acknowledged findings (column `ack`)")]),
    ]
    return inspect.Signature([extra[0], *[p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in params], extra[1]])


def report(ctx: typer.Context, acked: bool = False, **options: Any) -> None:
    _report(ctx, acked, **options)


report.__signature__ = _report_signature()  # type: ignore[attr-defined]
report.__doc__ = orphans_cmd.orphans.__doc__
orphans_app.callback(invoke_without_command=True)(report)


@orphans_app.command("ack")
def ack(
    uid: Annotated[str, typer.Argument(help="the uid of the orphan (as `graphinv orphans -f json` shows it)")],
    reason: Annotated[str, typer.Option(help="why it may stay (shown with --acked)")],
    until: Annotated[str | None, typer.Option(help="expires after this long, e.g. 30d (default: never)")] = None,
    by: Annotated[str | None, typer.Option(help="who acknowledges (default: your login name)")] = None,
) -> None:
    """Acknowledge a finding: not alerted and not listed (except with --acked) until it expires."""
    try:
        expires = datetime.now(UTC) + parse_duration(until) if until else None
        with connected() as graph:
            done = acknowledge(graph, uid, reason, expires, by)
    except ValueError as exc:
        fail(str(exc))
    note = "" if done["known"] else " (no such VM, disk or IP in the graph now)"
    out.print(f"acknowledged {uid} by {done['by']}" + (f" until {expires.isoformat()}" if expires else "") + note)
