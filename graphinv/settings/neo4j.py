"""The `neo4j:` section: which Neo4j graphinv talks to (the local server's section is `local_neo4j:`)."""

from __future__ import annotations

from pydantic import field_validator

from graphinv.settings.types import Secret, Section, secret_value

SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class Neo4jConnection(Section):
    uri: str = "bolt://127.0.0.1:7687"
    user: str = "neo4j"
    password: Secret | None = None  # never printed; set it through GRAPHINV_NEO4J_PASSWORD
    database: str = "neo4j"

    @field_validator("uri")
    @classmethod
    def _known_scheme(cls, uri: str) -> str:
        scheme = uri.split("://", 1)[0] if "://" in uri else ""
        if scheme not in SCHEMES:
            raise ValueError(f"must start with one of {', '.join(s + '://' for s in SCHEMES)}: got {uri!r}")
        return uri

    @property
    def auth(self) -> tuple[str, str] | None:
        password = secret_value(self.password)
        return (self.user, password) if password else None

    @property
    def host(self) -> str:
        rest = self.uri.split("://", 1)[1].split("/", 1)[0]
        if rest.startswith("["):  # [::1]:7687
            return rest[1:].split("]", 1)[0]
        return rest.rsplit(":", 1)[0] if rest.count(":") == 1 else rest

    @property
    def port(self) -> int | None:
        rest = self.uri.split("://", 1)[-1].split("/", 1)[0]
        tail = rest.rsplit(":", 1)[1] if ":" in rest else ""
        return int(tail) if tail.isdigit() else None

    @property
    def is_local(self) -> bool:
        return self.host in LOOPBACK_HOSTS
