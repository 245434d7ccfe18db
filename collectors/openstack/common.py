"""Small helpers every OpenStack record mapper shares."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

PROVIDER = "openstack"


def account_ref(project: str) -> str:
    return f"{PROVIDER}:{project}"


def region_ref(region: str) -> str:
    return f"{PROVIDER}:{region}"


def parse_timestamp(value: Any) -> datetime | None:
    """OpenStack timestamps: Nova/Neutron end in `Z`, Cinder's carry no zone at all (they are UTC)."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def string_map(raw: Any) -> dict[str, str]:
    """Metadata as str -> str (Cinder sample metadata holds booleans, e.g. `readonly: false`)."""
    if not isinstance(raw, dict):
        return {}
    return {str(k): v if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in raw.items()}
