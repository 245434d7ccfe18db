"""A local Neo4j Community server resolved with Maven and run with the machine's Java (no Docker)."""

from graphinv.neo4j_server.manager import LocalNeo4j, LocalNeo4jError, LocalNeo4jSettings

__all__ = ["LocalNeo4j", "LocalNeo4jError", "LocalNeo4jSettings"]
