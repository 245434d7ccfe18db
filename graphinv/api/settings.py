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
from pathlib import Path

from pydantic import PositiveFloat, PositiveInt, model_validator

from graphinv.settings.types import ConfigError, Port, Secret, Section, secret_value

LOOPBACK_NAMES = ("localhost",)


class ApiSettings(Section):
    host: str = "127.0.0.1"
    port: Port = 8000
    token: Secret | None = None  # never printed
    token_file: Path | None = None
    max_depth: PositiveInt = 12
    max_cost: PositiveInt = 250_000
    max_page_size: PositiveInt = 1000
    max_aliases: PositiveInt = 30
    max_tokens: PositiveInt = 5000
    timeout_seconds: PositiveFloat = 30.0

    @model_validator(mode="after")
    def _one_token_source(self) -> ApiSettings:
        if self.token is not None and self.token_file is not None:
            raise ValueError("give either token or token_file, not both")
        if self.token_file is not None:
            self.token_file = self.token_file.expanduser()
        return self

    def bearer_token(self) -> str | None:
        """The token clients must send, from `token` or `token_file`; None means no authentication."""
        if self.token is not None:
            return secret_value(self.token) or None
        if self.token_file is None:
            return None
        try:
            text = self.token_file.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"api.token_file {self.token_file} cannot be read: {exc.strerror}") from None
        if not text:
            raise ConfigError(f"api.token_file {self.token_file} is empty")
        return text


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
