"""Scheduled Cypher alert scripts: definitions, the findings they record, and where they are sent.

Modules: `definition` (the file format), `catalog` (shipped and user alerts), `settings` (the
`alerts:` config section), `sinks` (log, webhook, Slack), `delivery` (retries), `store` (findings
in Neo4j), `runner` (one run: evaluate, record, notify only what is new).
"""
