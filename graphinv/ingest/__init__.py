"""The ingest engine: records in, idempotent batched MERGEs out, mark-and-sweep per scope.

It knows the graph model (graph_schema) and nothing of clouds.
"""

from graphinv.ingest.engine import DEFAULT_BATCH_SIZE, Ingest, ScopeRun, ScopeRunResult
from graphinv.ingest.schema import install_schema

__all__ = ["DEFAULT_BATCH_SIZE", "Ingest", "ScopeRun", "ScopeRunResult", "install_schema"]
