"""The building blocks every configuration section is made of.

Each subsystem declares its section as a `Section` (a pydantic model that refuses unknown keys) in
its own module; `graphinv.settings` mounts them into the one tree that is validated at load. Shared
value types live here once: durations, the cloud providers, secrets.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, SecretStr

# The clouds graphinv reads, in the order reports list them.
CLOUD_PROVIDERS: tuple[str, ...] = ("aws", "gcp", "azure", "openstack")
CloudProvider = Literal["aws", "gcp", "azure", "openstack"]

_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(value: Any) -> timedelta:
    """`7d`, `12h`, `30m`, `90s`, `2w`, `150ms`, combinations like `1d12h`, or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration like 7d, 12h, 30m or 1d12h")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"{value!r} is negative; a duration is 0 or more")
        return timedelta(seconds=value)
    text = re.sub(r"\s+", "", str(value).strip().lower())
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|[wdhms])", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{value!r} is not a duration like 7d, 12h, 30m, 90s, 150ms or 1d12h")
    seconds = sum(float(n) * (0.001 if u == "ms" else _UNITS[u]) for n, u in parts)
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest spelling parse_duration reads back: 1d12h, 30m, 1.5s."""
    total = value.total_seconds()
    if total and total < 1:
        return f"{round(total * 1000):d}ms"
    out = []
    for unit in ("d", "h", "m"):
        count, total = divmod(total, _UNITS[unit])
        if count:
            out.append(f"{int(count)}{unit}")
    if total or not out:
        out.append(f"{total:g}s")
    return "".join(out)


# A duration in a config file: "6h", "1d12h", or seconds as a number. Shown back as "6h".
Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]

# A secret value: validated like a string, never printed (repr, errors and `config show` mask it).
Secret = SecretStr


class Section(BaseModel):
    """A configuration section: unknown keys are errors (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=False, validate_default=True,
                              hide_input_in_errors=True)


class ConfigError(ValueError):
    """The configuration file or environment is wrong; the message names the key path (one line each)."""


def secret_value(value: SecretStr | str | None) -> str | None:
    """The plain text of a secret (for the one place that hands it to a client), or None."""
    if value is None:
        return None
    return value.get_secret_value() if isinstance(value, SecretStr) else value


# A TCP port to listen on or connect to; `AnyPort` also allows 0 (any free port, printed at start).
Port = Annotated[int, Field(ge=1, le=65535)]
AnyPort = Annotated[int, Field(ge=0, le=65535)]
