"""Change history: reading the changes the ingest engine recorded, retention, and delivering them
to subscribers (GraphQL subscriptions, CloudEvents webhooks, Slack digests). The capture itself is
in graphinv/ingest/changes.py; the model in graph_schema/history.py."""

from graphinv.history.settings import HistorySettings

__all__ = ["HistorySettings"]
