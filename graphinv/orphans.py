"""The orphan report: the shipped queries run in order, with age and an estimated monthly cost."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import PrivateAttr

from graphinv.capacity import add_hardware
from graphinv.db import Graph
from graphinv.history.lifecycle import apply_lifecycle
from graphinv.orphan_rows import primitive_rows
from graphinv.queries import load_query
from graphinv.settings.types import ConfigError, Duration, Section, format_duration

KINDS = ("instance", "disk", "ip")
HOURS_PER_MONTH = 730
DEFAULT_STALENESS = timedelta(hours=6)


@dataclass
class OrphanFilter:
    provider: str | None = None
    kind: str | None = None
    account: str | None = None
    project: str | None = None
    older_than: timedelta | None = None
    max_staleness: timedelta = DEFAULT_STALENESS


class PriceTable:
    """Estimated monthly cost per resource from a small YAML table (see graphinv/prices.yaml)."""

    def __init__(self, table: dict[str, Any]) -> None:
        self.table = table

    @classmethod
    def load(cls, path: str | Path | None = None) -> PriceTable:
        if path:
            with Path(path).open(encoding="utf-8") as stream:  # a YAML error then names the file
                return cls(yaml.safe_load(stream) or {})
        return cls(yaml.safe_load(resources.files("graphinv").joinpath("prices.yaml").read_text()))

    def monthly(self, row: dict[str, Any]) -> float | None:
        prices = self.table.get(row.get("provider") or "")
        if not prices:
            return None
        kind = row.get("kind")
        if kind == "instance":
            if row.get("state") in ("stopped", "deallocated", "shutoff", "terminated"):
                return 0.0  # stopped VMs cost their disks, which are listed on their own
            hourly = prices.get("hourly", {})
            rate = hourly.get((row.get("instance_type") or "").lower(), hourly.get("default"))
            return None if rate is None else round(rate * HOURS_PER_MONTH, 2)
        if kind == "disk":
            per_gb = prices.get("disk_gb_month", {})
            rate = per_gb.get((row.get("disk_type") or "").lower(), per_gb.get("default"))
            size = row.get("size_gb")
            return None if rate is None or size is None else round(rate * size, 2)
        if kind == "ip":
            rate = prices.get("ip_month")
            return None if rate is None else round(float(rate), 2)
        return None


class OrphansSettings(Section):
    """The `orphans:` section, read once for the CLI, the API and the orphan alerts."""

    max_staleness: Duration = DEFAULT_STALENESS  # reads older than this cannot prove an orphan
    prices: Path | None = None  # your price table instead of the shipped graphinv/prices.yaml
    _table: PriceTable | None = PrivateAttr(default=None)

    def price_table(self) -> PriceTable:
        """The price table (read once; `graphinv.settings` reads it at load, so a bad file stops the start)."""
        if self._table is None:
            path = self.prices.expanduser() if self.prices else None
            try:
                table = PriceTable.load(path)
            except OSError as exc:
                raise ConfigError(f"orphans.prices: cannot read {path}: {exc.strerror}") from None
            except yaml.YAMLError as exc:
                raise ConfigError(f"orphans.prices: {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
            if not isinstance(table.table, dict):
                raise ConfigError(f"orphans.prices: {path} must map providers to prices")
            self._table = table
        return self._table


def _params(f: OrphanFilter, now: datetime) -> dict[str, Any]:
    return {
        "provider": f.provider, "account": f.account, "project": f.project,
        "cutoff": now - f.older_than if f.older_than else None,
        "fresh_after": now - f.max_staleness,
    }


def _native(value: Any) -> datetime | None:
    """Neo4j DateTime (or a Python datetime, or None) as a Python datetime."""
    if value is None:
        return None
    return value.to_native() if hasattr(value, "to_native") else value


def _finish(rows: list[dict[str, Any]], now: datetime, prices: PriceTable) -> list[dict[str, Any]]:
    for row in rows:
        native = _native(row.get("created"))
        row["created"] = native.isoformat() if native else None
        first = _native(row.get("first_seen"))
        row["first_seen"] = first.isoformat() if first else None
        row["age_days"] = round((now - native).total_seconds() / 86400, 1) if native else None
        shoot = row.get("shoot") or ""
        parts = shoot.split("--")
        row["project"] = parts[1] if len(parts) >= 3 and parts[0] == "shoot" else None
        row["est_monthly_cost_usd"] = prices.monthly(row)
        row["name"] = row.get("name") or row.get("uid")  # many volumes and addresses have no name
    return rows


def orphan_report(graph: Graph, f: OrphanFilter, prices: PriceTable | None = None,
                  include_informational: bool = False, now: datetime | None = None) -> list[dict[str, Any]]:
    """Orphans and unverified candidates, instances first; disks and IPs of orphan VMs included.

    `now` is the moment the staleness and age are measured from (default: the current time)."""
    now = now or datetime.now(UTC)
    prices = prices or PriceTable.load()
    params = _params(f, now)
    # primitive_rows: timestamps come back as integers (graphinv/orphan_rows.py)
    instances = primitive_rows(graph, load_query("orphan_instances"), **params)
    orphan_vms = [r["uid"] for r in instances if r["verdict"] == "orphan"]
    # Disks and IPs of VMs we could not judge are themselves unverified, not silently left out.
    doubtful_vms = [r["uid"] for r in instances if r["verdict"] == "unverified"]
    rows: list[dict[str, Any]] = []
    if f.kind in (None, "instance"):
        rows += instances
    if f.kind in (None, "disk"):
        rows += primitive_rows(graph, load_query("orphan_disks"), **params, orphan_instances=orphan_vms,
                               unverified_instances=doubtful_vms)
        if include_informational:
            rows += primitive_rows(graph, load_query("unattached_disks"), provider=f.provider,
                                   account=f.account, project=f.project, cutoff=params["cutoff"])
    if f.kind in (None, "ip"):
        rows += primitive_rows(graph, load_query("orphan_ips"), **params, orphan_instances=orphan_vms,
                               unverified_instances=doubtful_vms)
    # orphan_since, evidence and acknowledgements (graphinv/history/lifecycle.py)
    # vCPUs, memory and GPUs of each VM finding (graphinv/capacity.py)
    return apply_lifecycle(graph, add_hardware(graph, _finish(rows, now, prices)), f, now)


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


def stale_data_refusal(graph: Graph, filt: OrphanFilter, now: datetime | None = None) -> str | None:
    """Why an orphan report would prove nothing, or None when it may run.

    No complete read of the asked-for provider (or of anything) within `max_staleness`: the graph is
    empty or stale, and an empty orphan list would look like good news. The message names the
    stale scopes (the CLI exits 2 with it, the API returns it as a GraphQL error).
    """
    now = now or datetime.now(UTC)
    scopes = freshness(graph, filt.provider)
    recent = [s for s in scopes if s["last_complete"]
              and now - datetime.fromisoformat(s["last_complete"]) <= filt.max_staleness]
    if recent:
        return None
    what = filt.provider or "any source"
    stale = [f"{s['scope']} (last complete {s['last_complete'] or 'never'})" for s in scopes[:MAX_NAMED_SCOPES]]
    more = f" and {len(scopes) - MAX_NAMED_SCOPES} more" if len(scopes) > MAX_NAMED_SCOPES else ""
    named = f"; stale scopes: {', '.join(stale)}{more}" if stale else "; no scope was ever collected"
    return (f"no complete collection of {what} within {format_duration(filt.max_staleness)}{named}. "
            "Run `graphinv collect` first (an empty orphan list from stale data would prove nothing)")
