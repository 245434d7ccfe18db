"""The orphan report: the shipped queries run in order, with age and an estimated monthly cost."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from graphinv.capacity import add_hardware, hardware_of
from graphinv.db import Graph
from graphinv.history.lifecycle import acknowledgements, apply_lifecycle
from graphinv.orphan_rows import iso_of, micros_of, primitive_rows
from graphinv.orphan_settings import DEFAULT_STALENESS, PriceTable
from graphinv.queries import load_query
from graphinv.settings.types import format_duration


@dataclass
class OrphanFilter:
    provider: str | None = None
    kind: str | None = None
    account: str | None = None
    project: str | None = None
    older_than: timedelta | None = None
    max_staleness: timedelta = DEFAULT_STALENESS


def _params(f: OrphanFilter, now: datetime) -> dict[str, Any]:
    return {
        "provider": f.provider, "account": f.account, "project": f.project,
        "cutoff": now - f.older_than if f.older_than else None,
        "fresh_after": now - f.max_staleness,
    }


def _finish(rows: list[dict[str, Any]], now: datetime, prices: PriceTable) -> list[dict[str, Any]]:
    """Rows of primitive_rows (timestamps as integers): timestamps as ISO strings, age, project and cost added."""
    monthly = prices.monthly
    now_us = micros_of(now)
    for row in rows:
        created = row["created"]
        if created is None:
            row["age_days"] = None
        else:
            row["created"] = iso_of(created)
            row["age_days"] = round((now_us - created) / 86_400_000_000, 1)
        first = row["first_seen"]
        row["first_seen"] = iso_of(first) if first is not None else None
        shoot = row["shoot"]
        # shoot--PROJECT--NAME (Gardener's technical id of a shoot)
        parts = shoot.split("--", 2) if shoot and shoot.startswith("shoot--") else []
        row["project"] = parts[1] if len(parts) == 3 else None
        row["est_monthly_cost_usd"] = monthly(row)
        row["name"] = row["name"] or row["uid"]  # many volumes and addresses have no name
    return rows


REPORT_THREADS = 4  # queries of one report at a time (Neo4j runs each on one thread)


def orphan_report(graph: Graph, f: OrphanFilter, prices: PriceTable | None = None,
                  include_informational: bool = False, now: datetime | None = None) -> list[dict[str, Any]]:
    """Orphans and unverified candidates, instances first; disks and IPs of orphan VMs included.

    `now` is the moment the staleness and age are measured from (default: the current time)."""
    now = now or datetime.now(UTC)
    prices = prices or PriceTable.load()
    params = _params(f, now)
    # primitive_rows: timestamps come back as integers (graphinv/orphan_rows.py); `lifecycle`: with the
    # lifecycle's facts each resource keeps (graphinv/history/lifecycle.py)
    instances = primitive_rows(graph, load_query("orphan_instances"), lifecycle=True, **params)
    orphan_vms = [r["uid"] for r in instances if r["verdict"] == "orphan"]
    # Disks and IPs of VMs we could not judge are themselves unverified, not silently left out.
    doubtful_vms = [r["uid"] for r in instances if r["verdict"] == "unverified"]
    of_vms = {**params, "orphan_instances": orphan_vms, "unverified_instances": doubtful_vms}
    after_vms: list[tuple[str, dict[str, Any]]] = []
    if f.kind in (None, "disk"):
        after_vms.append(("orphan_disks", of_vms))
        if include_informational:
            after_vms.append(("unattached_disks", {"provider": f.provider, "account": f.account,
                                                   "project": f.project, "cutoff": params["cutoff"]}))
    if f.kind in (None, "ip"):
        after_vms.append(("orphan_ips", of_vms))
    listed_vms = instances if f.kind in (None, "instance") else []
    # Everything from here depends on the VM verdicts only. Neo4j runs a query on one thread, so the disk
    # and IP queries, the VMs' hardware (graphinv/capacity.py) and the acknowledgements run side by side,
    # and each part is finished here while Neo4j works on the others. The rows keep the queries' order.
    with ThreadPoolExecutor(max_workers=REPORT_THREADS, thread_name_prefix="orphans") as pool:
        parts = [pool.submit(primitive_rows, graph, load_query(name), lifecycle=True, **values)
                 for name, values in after_vms]
        hardware = pool.submit(hardware_of, graph, [r["uid"] for r in listed_vms])
        acks = acknowledgements(graph, now, pool)
        rows = _finish(listed_vms, now, prices)
        for part in parts:
            rows += _finish(part.result(), now, prices)
        add_hardware(graph, rows, hardware.result())
        return apply_lifecycle(graph, rows, f, now, acks.result(), pool)


def unowned_report(graph: Graph, f: OrphanFilter, prices: PriceTable | None = None) -> list[dict[str, Any]]:
    rows = primitive_rows(graph, load_query("unowned_resources"), provider=f.provider, account=f.account,
                          kind=f.kind)
    return _finish(rows, datetime.now(UTC), prices or PriceTable.load())


def freshness(graph: Graph, source: str | None = None) -> list[dict[str, Any]]:
    """Each scope's last read and last complete read, oldest complete first."""
    rows = graph.run_read(
        """
        MATCH (c:Collection)
        WHERE $source IS NULL OR c.source = $source
        RETURN c.uid AS scope, c.source AS source, c.kind AS kind, c.status AS status,
               c.last_complete_finished AS last_complete, c.finished AS last_run, c.error AS error,
               c.written AS written, c.swept AS swept
        ORDER BY last_complete, scope
        """,
        {"source": source},
    )
    for row in rows:
        for key in ("last_complete", "last_run"):
            value = row[key]
            row[key] = value.to_native().isoformat() if value is not None else None
    return rows


MAX_NAMED_SCOPES = 10
RECENT_COMPLETE = """
RETURN EXISTS {
  MATCH (c:Collection) WHERE ($source IS NULL OR c.source = $source) AND c.last_complete_finished >= $since
} AS recent
"""


def stale_data_refusal(graph: Graph, filt: OrphanFilter, now: datetime | None = None) -> str | None:
    """Why an orphan report would prove nothing, or None when it may run.

    No complete read of the asked-for provider (or of anything) within `max_staleness`: the graph is
    empty or stale, and an empty orphan list would look like good news. The message names the
    stale scopes (the CLI exits 2 with it, the API returns it as a GraphQL error).
    """
    now = now or datetime.now(UTC)
    # The usual answer, "there is one", without listing every scope (a landscape has thousands).
    if graph.run_read(RECENT_COMPLETE, {"source": filt.provider, "since": now - filt.max_staleness})[0]["recent"]:
        return None
    scopes = freshness(graph, filt.provider)
    what = filt.provider or "any source"
    stale = [f"{s['scope']} (last complete {s['last_complete'] or 'never'})" for s in scopes[:MAX_NAMED_SCOPES]]
    more = f" and {len(scopes) - MAX_NAMED_SCOPES} more" if len(scopes) > MAX_NAMED_SCOPES else ""
    named = f"; stale scopes: {', '.join(stale)}{more}" if stale else "; no scope was ever collected"
    return (f"no complete collection of {what} within {format_duration(filt.max_staleness)}{named}. "
            "Run `graphinv collect` first (an empty orphan list from stale data would prove nothing)")
