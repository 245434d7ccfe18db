"""Collectors: plain functions from an SDK client to an iterator of records. They know nothing of Neo4j."""
