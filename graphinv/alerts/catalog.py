"""Where alerts come from: the shipped ones in `queries/alerts/`, then the user's directories.

A user alert with the name of a shipped one replaces it (that is how a shipped alert is tuned);
two user files with one name are an error, because which one wins would be an accident.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from graphinv.alerts.definition import AlertDefinition, AlertError, parse_alert


def shipped_alerts() -> dict[str, AlertDefinition]:
    found: dict[str, AlertDefinition] = {}
    folder = resources.files("queries").joinpath("alerts")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".cypher"):
            alert = parse_alert(entry.read_text(), f"queries/alerts/{entry.name}", entry.name.removesuffix(".cypher"))
            found[alert.name] = alert
    return found


def user_alerts(dirs: Iterable[Path]) -> dict[str, AlertDefinition]:
    found: dict[str, AlertDefinition] = {}
    for folder in dirs:
        if not folder.is_dir():
            raise AlertError(f"alert directory {folder} does not exist")
        for path in sorted(folder.glob("*.cypher")):
            alert = parse_alert(path.read_text(), str(path), path.stem)
            if alert.name in found:
                raise AlertError(f"two alerts are named {alert.name!r}: {found[alert.name].origin} and {path}")
            found[alert.name] = alert
    return found


def load_alerts(dirs: Iterable[Path] = (), disabled: Iterable[str] = ()) -> dict[str, AlertDefinition]:
    """Every alert by name: shipped, replaced or extended by the user's, minus the disabled ones."""
    alerts = {**shipped_alerts(), **user_alerts(dirs)}
    off = set(disabled)
    unknown = off - set(alerts)
    if unknown:
        raise AlertError(f"alerts.disabled names unknown alert(s): {', '.join(sorted(unknown))}")
    return {name: alert for name, alert in sorted(alerts.items()) if name not in off}


def find_alert(alerts: dict[str, AlertDefinition], name: str) -> AlertDefinition:
    if name not in alerts:
        raise AlertError(f"no alert named {name!r}; see `graphinv alerts list`")
    return alerts[name]
