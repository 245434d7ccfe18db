"""`graphinv ansible-inventory`, `graphinv export` and `graphinv report`."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Annotated

import typer

from graphinv.commands.common import config, connected, err, fail
from graphinv.inventory.ansible import InventoryFilter, build_inventory, host_vars
from graphinv.inventory.export import FORMATS, LABELS, ExportFilter, write_csv, write_graphml, write_ndjson
from graphinv.inventory.report import gather, render_html
from graphinv.orphans import OrphanFilter
from graphinv.settings.types import CLOUD_PROVIDERS

ProviderOption = Annotated[str | None, typer.Option(help="aws, gcp, azure or openstack")]
ProjectOption = Annotated[str | None, typer.Option(help="one Gardener project")]


def _check_provider(provider: str | None) -> None:
    if provider and provider not in CLOUD_PROVIDERS:
        fail(f"--provider must be one of {', '.join(CLOUD_PROVIDERS)}")


def ansible_inventory(
    list_all: Annotated[bool, typer.Option("--list", help="every group and host, host variables in _meta")] = False,
    host: Annotated[str | None, typer.Option("--host", help="the variables of one host")] = None,
    provider: ProviderOption = None,
    project: ProjectOption = None,
    shoot: Annotated[str | None, typer.Option(help="one shoot, by technical id (shoot--<project>--<name>)")] = None,
    orphans_only: Annotated[bool, typer.Option("--orphans-only", help="only VMs judged orphans")] = False,
    public: Annotated[bool | None, typer.Option(
        "--public/--private", help="ansible_host is the public (or private) address "
        "(default: inventory.ansible.host_address, private)")] = None,
) -> None:
    """An Ansible dynamic inventory of the graph's VMs (see docs/ansible.md).

    Point Ansible at deploy/ansible/graphinv-inventory, which runs this command."""
    if list_all == (host is not None):
        fail("give exactly one of --list or --host NAME")
    _check_provider(provider)
    # Ansible shows everything on stderr as an error: the driver's query notices are noise there.
    logging.getLogger("neo4j.notifications").setLevel(logging.ERROR)
    cfg = config()
    address = cfg.inventory.ansible.host_address if public is None else ("public" if public else "private")
    with connected(cfg) as graph:
        document = build_inventory(
            graph, InventoryFilter(provider=provider, project=project, shoot=shoot, orphans_only=orphans_only),
            OrphanFilter(max_staleness=cfg.orphans.max_staleness), host_address=address)
    # Printed only once complete: a failure above leaves stdout empty, never half a document.
    result = document if host is None else host_vars(document, host)
    sys.stdout.write(json.dumps(result, indent=1, sort_keys=True, default=str) + "\n")


def export(
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv, ndjson or graphml")] = "ndjson",
    label: Annotated[list[str] | None, typer.Option(
        "--label", "-l", help="label(s) to export, repeatable (csv: one; default: csv Instance, else all)")] = None,
    provider: ProviderOption = None,
    project: ProjectOption = None,
    shoot: Annotated[str | None, typer.Option(help="one shoot, by technical id (shoot--<project>--<name>)")] = None,
    out_file: Annotated[Path | None, typer.Option("--out", "-o", help="write here instead of stdout")] = None,
) -> None:
    """Export the inventory: CSV (one label, stable columns), NDJSON (streamed) or GraphML (a subgraph)."""
    if fmt not in FORMATS:
        fail(f"--format must be one of {', '.join(FORMATS)}")
    _check_provider(provider)
    labels = list(label or (["Instance"] if fmt == "csv" else LABELS))
    unknown = [x for x in labels if x not in LABELS]
    if unknown:
        fail(f"unknown label {unknown[0]!r}; use one of {', '.join(LABELS)}")
    if fmt == "csv" and len(labels) != 1:
        fail("csv holds one label per file: give one --label")
    filt = ExportFilter(labels=labels, provider=provider, project=project, shoot=shoot)
    cfg = config()
    with connected(cfg) as graph:
        # Into a temporary file first: a failed export never leaves a half-written FILE behind.
        partial = out_file.with_name(out_file.name + ".partial") if out_file else None
        try:
            with partial.open("w", encoding="utf-8", newline="") if partial else _stdout() as stream:
                if fmt == "csv":
                    count = write_csv(graph, labels[0], filt, stream)
                elif fmt == "ndjson":
                    count = write_ndjson(graph, filt, stream)
                else:
                    count, edges = write_graphml(graph, filt, stream)
        except OSError as exc:
            fail(f"cannot write {partial or 'stdout'}: {exc.strerror}")
        except BaseException:
            if partial:
                partial.unlink(missing_ok=True)
            raise
    if out_file and partial:
        partial.replace(out_file)
        what = f"{count} nodes, {edges} edges" if fmt == "graphml" else f"{count} rows"
        err.print(f"wrote {what} to {out_file}", highlight=False)


@contextmanager
def _stdout() -> Iterator[IO[str]]:
    yield sys.stdout
    sys.stdout.flush()


def report(
    html_file: Annotated[Path, typer.Option("--html", help="write the self-contained HTML report here")],
) -> None:
    """One self-contained HTML page (works offline): waste by provider and project, orphan ages, the
    costliest findings with their evidence and hardware, capacity by project (as `graphinv capacity
    --by project`), unverified scopes and why, and the waste trend."""
    cfg = config()
    with connected(cfg) as graph:
        data = gather(graph, cfg.orphans.max_staleness, cfg.orphans.price_table(),
                      top=cfg.inventory.report.top_findings)
    page = render_html(data)
    partial = html_file.with_name(html_file.name + ".partial")
    try:
        partial.write_text(page, encoding="utf-8")
        partial.replace(html_file)
    except OSError as exc:
        if partial.parent.is_dir():
            partial.unlink(missing_ok=True)
        fail(f"cannot write {html_file}: {exc.strerror}")
    err.print(f"wrote {html_file}: {len(data.orphans)} orphans, {len(data.unverified)} unverified", highlight=False)
