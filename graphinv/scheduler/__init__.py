"""Scheduled collection and alert runs (APScheduler 3.x), with metrics and structured logs.

Modules: `settings` (the `scheduler:` config section), `backoff` (retry delays), `logs`
(text/JSON logging with job context), `collect_job` (one source's collection with retries),
`ordering` (alerts wait for Gardener and their cloud), `service` (the scheduler itself),
`status_server` (/metrics, /healthz, /readyz, /jobs).

This file imports nothing, so `graphinv.alerts` can use `backoff` and `logs` without a cycle.
"""
