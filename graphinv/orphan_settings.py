"""The `orphans:` section and the price table: what configuration loading needs from the orphan
report, kept apart from the report itself so that loading a configuration imports no Neo4j driver."""

from __future__ import annotations

from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import PrivateAttr

from graphinv.settings.types import ConfigError, Duration, Section

KINDS = ("instance", "disk", "ip")
HOURS_PER_MONTH = 730
DEFAULT_STALENESS = timedelta(hours=6)


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
