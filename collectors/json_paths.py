"""Reading nested API JSON without a KeyError per missing level."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def dig(value: Any, *keys: str) -> Any:
    """`value[k1][k2]...`, or None where a level is missing or is not an object. Any mapping reads
    (Kubernetes and ARM JSON as dicts, an Azure SDK model as the same mapping)."""
    for name in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(name)
    return value
