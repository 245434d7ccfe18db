"""The GCP collector's scopes: one aggregated read per project and kind.

An aggregated list covers every zone and region of a project in one paged read, so each scope is
`Scope("gcp", <project>, "global", <kind>)`. A project that answers 403 fails only its own
three scopes; the fetch raises (google.api_core exceptions) and never returns a partial list.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from google.auth.credentials import Credentials

from collectors.gcp.addresses import collect_addresses, reserved_external_ips
from collectors.gcp.clients import GcpConfigError, build_clients, load_credentials
from collectors.gcp.disks import collect_disks
from collectors.gcp.instances import collect_instances
from collectors.gcp.retry import RetryAfter
from collectors.records import CloudAccountRecord, Record, RegionRecord
from collectors.scope import Scope, ScopeTask

SOURCE = "gcp"


def _projects(section: Mapping[str, Any]) -> list[str]:
    projects = section.get("projects")
    if not isinstance(projects, list) or not projects or not all(isinstance(p, str) and p for p in projects):
        raise GcpConfigError("gcp: `projects` must be a non-empty list of project ids")
    return list(dict.fromkeys(projects))


class _ProjectReader:
    """The fetch functions of one project; each builds its own clients when it runs."""

    def __init__(self, project: str, credentials: Credentials, endpoint: str | None,
                 retry: RetryAfter, page_size: int | None) -> None:
        self.project = project
        self.credentials = credentials
        self.endpoint = endpoint
        self.retry = retry
        self.page_size = page_size

    def instances(self) -> Iterator[Record]:
        clients = build_clients(self.credentials, self.endpoint)
        reserved = reserved_external_ips(clients.addresses, clients.global_addresses, self.project,
                                         self.retry)
        yield from collect_instances(clients.instances, self.project, reserved, self.retry, self.page_size)

    def disks(self) -> Iterator[Record]:
        clients = build_clients(self.credentials, self.endpoint)
        yield from collect_disks(clients.disks, self.project, self.retry, self.page_size)

    def addresses(self) -> Iterator[Record]:
        clients = build_clients(self.credentials, self.endpoint)
        yield from collect_addresses(clients.addresses, clients.global_addresses, self.project, self.retry,
                                     self.page_size)


def plan(section: Mapping[str, Any]) -> list[ScopeTask]:
    """ScopeTasks for `sources.gcp`: {api_endpoint?, credentials, projects, page_size?}."""
    projects = _projects(section)
    credentials = load_credentials(str(section.get("credentials") or "adc"))
    endpoint = str(section["api_endpoint"]) if section.get("api_endpoint") else None
    page_size = int(section["page_size"]) if section.get("page_size") else None
    retry = RetryAfter()
    tasks: list[ScopeTask] = []
    for project in projects:
        reader = _ProjectReader(project, credentials, endpoint, retry, page_size)
        context: list[Record] = [
            CloudAccountRecord(uid=f"{SOURCE}:{project}", provider=SOURCE, account_id=project, name=project),
            RegionRecord(uid=f"{SOURCE}:global", provider=SOURCE, name="global"),
        ]
        tasks += [
            ScopeTask(Scope(SOURCE, project, "global", "Instance", ("IP",)), reader.instances, context),
            ScopeTask(Scope(SOURCE, project, "global", "Disk"), reader.disks, context),
            ScopeTask(Scope(SOURCE, project, "global", "IP"), reader.addresses, context),
        ]
    return tasks
