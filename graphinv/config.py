"""graphinv's settings: a YAML file, then environment variables on top.

Lookup order for the file: the `--config` option, `$GRAPHINV_CONFIG`, `./graphinv.yaml`, none.
Environment overrides for the connection (handy in containers and CI):
GRAPHINV_NEO4J_URI, GRAPHINV_NEO4J_USER, GRAPHINV_NEO4J_PASSWORD, GRAPHINV_NEO4J_DATABASE,
and for the local server GRAPHINV_LOCAL_HOME, GRAPHINV_LOCAL_BOLT_PORT, GRAPHINV_LOCAL_HTTP_PORT,
GRAPHINV_LOCAL_HEAP, GRAPHINV_LOCAL_PAGECACHE.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from graphinv.neo4j_server.manager import LocalNeo4jSettings

_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")


class ConfigError(ValueError):
    """The configuration file or environment is wrong; the message says where."""


@dataclass
class Neo4jConnection:
    uri: str = "bolt://127.0.0.1:7687"
    user: str = "neo4j"
    password: str | None = field(default=None, repr=False)  # never printed
    database: str = "neo4j"

    def validate(self) -> None:
        scheme = self.uri.split("://", 1)[0] if "://" in self.uri else ""
        if scheme not in _SCHEMES:
            raise ConfigError(f"neo4j.uri must start with one of {', '.join(s + '://' for s in _SCHEMES)}: "
                              f"got {self.uri!r}")

    @property
    def auth(self) -> tuple[str, str] | None:
        return (self.user, self.password) if self.password else None

    @property
    def is_local(self) -> bool:
        host = self.uri.split("://", 1)[1].split(":", 1)[0].split("/", 1)[0]
        return host in ("127.0.0.1", "localhost", "::1")


def _port(uri: str) -> int | None:
    rest = uri.split("://", 1)[-1].split("/", 1)[0]
    return int(rest.rsplit(":", 1)[1]) if ":" in rest and rest.rsplit(":", 1)[1].isdigit() else None


@dataclass
class Config:
    neo4j: Neo4jConnection = field(default_factory=Neo4jConnection)
    local_neo4j: LocalNeo4jSettings = field(default_factory=LocalNeo4jSettings)
    # Sections owned by later parts (collectors, scheduler, api, alerts) are kept raw here and
    # parsed by their own modules, so this file stays small.
    sections: dict[str, Any] = field(default_factory=dict)
    source_path: Path | None = None

    @property
    def uses_local_server(self) -> bool:
        """The graph is the local server graphinv manages (not just any Neo4j on loopback)."""
        return self.neo4j.is_local and (_port(self.neo4j.uri) or 7687) == self.local_neo4j.bolt_port


def _typed(cls: type, raw: Mapping[str, Any], where: str) -> Any:
    known = {f.name: f for f in fields(cls)}
    unknown = set(raw) - set(known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(known)}")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key in ("home", "jar_cache") and value is not None:
            value = Path(os.path.expanduser(str(value)))
        elif key in ("bolt_port", "http_port"):
            try:
                value = int(value)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{where}.{key} must be a port number, got {value!r}") from exc
        values[key] = value
    return cls(**values)


def find_config_file(explicit: str | Path | None = None) -> Path | None:
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        return path
    env = os.environ.get("GRAPHINV_CONFIG")
    if env:
        path = Path(env)
        if not path.is_file():
            raise ConfigError(f"GRAPHINV_CONFIG points to {path}, which does not exist")
        return path
    local = Path("graphinv.yaml")
    return local if local.is_file() else None


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    env = os.environ if env is None else env
    file = find_config_file(path)
    raw: dict[str, Any] = {}
    if file is not None:
        try:
            loaded = yaml.safe_load(file.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{file}: not valid YAML: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"{file}: the top level must be a mapping")
        raw = loaded
    neo_raw = raw.pop("neo4j", None) or {}
    uri_set = bool(neo_raw.get("uri")) or bool(env.get("GRAPHINV_NEO4J_URI"))
    neo = _typed(Neo4jConnection, neo_raw, "neo4j")
    local = _typed(LocalNeo4jSettings, raw.pop("local_neo4j", None) or {}, "local_neo4j")

    overrides: dict[str, tuple[Any, str, Callable[[str], Any]]] = {
        "GRAPHINV_NEO4J_URI": (neo, "uri", str),
        "GRAPHINV_NEO4J_USER": (neo, "user", str),
        "GRAPHINV_NEO4J_PASSWORD": (neo, "password", str),
        "GRAPHINV_NEO4J_DATABASE": (neo, "database", str),
        "GRAPHINV_LOCAL_HOME": (local, "home", lambda v: Path(os.path.expanduser(v))),
        "GRAPHINV_LOCAL_BOLT_PORT": (local, "bolt_port", int),
        "GRAPHINV_LOCAL_HTTP_PORT": (local, "http_port", int),
        "GRAPHINV_LOCAL_HEAP": (local, "heap", str),
        "GRAPHINV_LOCAL_PAGECACHE": (local, "pagecache", str),
    }
    for var, (target, attr, convert) in overrides.items():
        if var in env and env[var] != "":
            try:
                setattr(target, attr, convert(env[var]))
            except ValueError as exc:
                raise ConfigError(f"{var}={env[var]!r} is not valid: {exc}") from exc
    if not uri_set:
        # Nobody named a server: use the local one graphinv manages, on whatever port it has.
        neo.uri = f"bolt://127.0.0.1:{local.bolt_port}"
    neo.validate()
    return Config(neo4j=neo, local_neo4j=local, sections=raw, source_path=file)

