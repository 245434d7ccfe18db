"""The `api:` section of the config file: where `graphinv serve` listens, who may ask, and its limits.

```yaml
api:
  host: 127.0.0.1          # any other address requires a token
  port: 8000
  token_file: /etc/graphinv/api-token   # or token: "..." (a file keeps it out of the config)
  max_depth: 12            # deepest selection, introspection not counted
  max_cost: 250000         # estimated nodes a query may return (each list counts its `first`)
  max_page_size: 1000      # largest `first`
  max_aliases: 30
  max_tokens: 5000
  timeout_seconds: 30      # the whole request; each Cypher query gets what is left of it
```
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from graphinv.config import ConfigError

LOOPBACK_NAMES = ("localhost",)


@dataclass
class ApiSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = field(default=None, repr=False)  # never printed
    token_file: Path | None = None
    max_depth: int = 12
    max_cost: int = 250_000
    max_page_size: int = 1000
    max_aliases: int = 30
    max_tokens: int = 5000
    timeout_seconds: float = 30.0

    def bearer_token(self) -> str | None:
        """The token clients must send, from `token` or `token_file`; None means no authentication."""
        if self.token:
            return self.token
        if self.token_file is None:
            return None
        try:
            text = self.token_file.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"api.token_file {self.token_file} cannot be read: {exc.strerror}") from None
        if not text:
            raise ConfigError(f"api.token_file {self.token_file} is empty")
        return text


_INTS = ("port", "max_depth", "max_cost", "max_page_size", "max_aliases", "max_tokens")


def parse_api_settings(section: Mapping[str, Any] | None) -> ApiSettings:
    raw = dict(section or {})
    known = {f.name for f in fields(ApiSettings)}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"api: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if value is None:
            continue
        if key in _INTS:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"api.{key} must be a positive whole number, got {value!r}")
        elif key == "timeout_seconds":
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ConfigError(f"api.timeout_seconds must be a positive number, got {value!r}")
            value = float(value)
        elif key == "token_file":
            value = Path(str(value)).expanduser()
        elif key in ("host", "token") and not isinstance(value, str):
            raise ConfigError(f"api.{key} must be a string")
        values[key] = value
    if values.get("token") and values.get("token_file"):
        raise ConfigError("api: give either token or token_file, not both")
    return ApiSettings(**values)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


def require_token_off_loopback(settings: ApiSettings) -> str | None:
    """The bearer token; refuses (ConfigError) to listen beyond loopback without one."""
    token = settings.bearer_token()
    if token is None and not is_loopback(settings.host):
        raise ConfigError(
            f"refusing to serve on {settings.host} without authentication: set api.token_file (or api.token) "
            "in the config file, or bind to 127.0.0.1")
    return token
