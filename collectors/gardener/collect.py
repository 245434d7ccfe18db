"""Reading the garden and the seeds: plain functions from an API client to records."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from collectors.base_settings import DEFAULT_MAX_PAGES
from collectors.gardener.mapping import (
    bastion_record,
    machine_record,
    project_record,
    seed_record,
    shoot_record,
)
from collectors.gardener.paging import PageFetcher, paged_items
from collectors.gardener.seed_access import SeedAccess
from collectors.records import BastionRecord, MachineRecord, ProjectRecord, SeedRecord, ShootRecord

log = logging.getLogger(__name__)

CORE = ("core.gardener.cloud", "v1beta1")
OPERATIONS = ("operations.gardener.cloud", "v1alpha1")
MACHINE = ("machine.sapcloud.io", "v1alpha1")


@dataclass(frozen=True)
class ListOptions:
    """How every list is read: objects per page, (connect, read) seconds per request, pages at most."""

    page_size: int = 500
    timeout: tuple[float, float] = (10.0, 60.0)
    max_pages: int = DEFAULT_MAX_PAGES


class GardenerReadError(RuntimeError):
    """A list could not be completed; the scope that needed it is incomplete."""

    def __init__(self, what: str, status: int | None, reason: str | None) -> None:
        super().__init__(f"{what}: HTTP {status} {reason or ''}".rstrip())
        self.status = status


def _fetcher(api: client.CustomObjectsApi, group_version: tuple[str, str], plural: str,
             namespace: str | None, lists: ListOptions) -> PageFetcher:
    group, version = group_version

    def fetch(token: str | None) -> dict[str, Any]:
        extra: dict[str, Any] = {"limit": lists.page_size, "_request_timeout": lists.timeout}
        if token:
            extra["_continue"] = token
        if namespace is None:
            return cast(dict[str, Any], api.list_cluster_custom_object(group, version, plural, **extra))
        return cast(dict[str, Any], api.list_namespaced_custom_object(group, version, namespace, plural, **extra))

    return fetch


def _read_error(what: str, exc: ApiException) -> GardenerReadError:
    return GardenerReadError(what, exc.status, exc.reason)


def list_objects(api: client.CustomObjectsApi, group_version: tuple[str, str], plural: str,
                 namespace: str | None, lists: ListOptions) -> Iterator[dict[str, Any]]:
    where = f"{plural} in {namespace}" if namespace else f"{plural} (all namespaces)"
    try:
        yield from paged_items(_fetcher(api, group_version, plural, namespace, lists), f"listing {where}",
                               lists.max_pages)
    except ApiException as exc:
        raise _read_error(f"listing {where}", exc) from exc


def list_namespaced_everywhere(api: client.CustomObjectsApi, group_version: tuple[str, str], plural: str,
                               namespaces: Callable[[], list[str]], lists: ListOptions) -> Iterator[dict[str, Any]]:
    """All objects: one cluster-wide list, or, when that is forbidden (403), one list per namespace.

    A namespace that is forbidden too makes the read fail: a partial result must not pass for a
    complete one.
    """
    items = list_objects(api, group_version, plural, None, lists)
    try:
        first = next(items, None)
    except GardenerReadError as exc:
        if exc.status != 403:
            raise
        log.info("gardener: %s may not be listed cluster-wide; listing per namespace", plural)
        for namespace in namespaces():
            yield from list_objects(api, group_version, plural, namespace, lists)
        return
    if first is not None:
        yield first
        yield from items


def project_namespaces(api: client.CustomObjectsApi, lists: ListOptions) -> dict[str, str]:
    """Project namespace -> project name."""
    out = {}
    for obj in list_objects(api, CORE, "projects", None, lists):
        record = project_record(obj)
        if record.namespace:
            out[record.namespace] = record.name
    return out


def collect_projects(api: client.CustomObjectsApi, lists: ListOptions) -> Iterator[ProjectRecord]:
    for obj in list_objects(api, CORE, "projects", None, lists):
        yield project_record(obj)


def collect_seeds(api: client.CustomObjectsApi, lists: ListOptions) -> Iterator[SeedRecord]:
    for obj in list_objects(api, CORE, "seeds", None, lists):
        yield seed_record(obj)


def collect_shoots(api: client.CustomObjectsApi, lists: ListOptions) -> Iterator[ShootRecord]:
    projects = project_namespaces(api, lists)
    for obj in list_namespaced_everywhere(api, CORE, "shoots", lambda: sorted(projects), lists):
        yield shoot_record(obj, projects)


def collect_bastions(api: client.CustomObjectsApi, lists: ListOptions) -> Iterator[BastionRecord]:
    def namespaces() -> list[str]:
        return sorted(project_namespaces(api, lists))

    for obj in list_namespaced_everywhere(api, OPERATIONS, "bastions", namespaces, lists):
        yield bastion_record(obj)


class ShootNamespaces:
    """Technical ids (control-plane namespaces) of the shoots on each seed, listed once per run.

    Only needed when a seed forbids listing machines cluster-wide; shared by all seeds' scopes, so
    the garden's shoots are read at most once however many seeds fall back.
    """

    def __init__(self, api: client.CustomObjectsApi, lists: ListOptions) -> None:
        self._api, self._lists = api, lists
        self._lock = threading.Lock()
        self._by_seed: dict[str, list[str]] | None = None

    def on_seed(self, seed: str) -> list[str]:
        with self._lock:
            if self._by_seed is None:
                by_seed: dict[str, list[str]] = {}
                for record in collect_shoots(self._api, self._lists):
                    if record.seed_name and record.technical_id:
                        by_seed.setdefault(record.seed_name, []).append(record.technical_id)
                self._by_seed = by_seed
            return sorted(self._by_seed.get(seed, []))


def collect_machines(access: SeedAccess, seed: str, shoot_namespaces: Callable[[], list[str]],
                     lists: ListOptions) -> Iterator[MachineRecord]:
    """The seed's Machines in shoot control-plane namespaces (`shoot--*`).

    One cluster-wide list when allowed, else one list per shoot namespace. A 401 with a cached
    viewer kubeconfig gets one fresh kubeconfig and a retry of the same page.
    """
    refreshed = False

    def fetcher(namespace: str | None) -> PageFetcher:
        def fetch(token: str | None) -> dict[str, Any]:
            nonlocal refreshed
            while True:
                api = client.CustomObjectsApi(access.client(seed))
                try:
                    return _fetcher(api, MACHINE, "machines", namespace, lists)(token)
                except ApiException as exc:
                    if exc.status == 401 and not refreshed:
                        refreshed = True
                        log.info("gardener: seed %s refused its kubeconfig (401); fetching a new one", seed)
                        access.refresh(seed)
                        continue
                    where = f"machines of seed {seed}" + (f" in {namespace}" if namespace else "")
                    raise _read_error(f"listing {where}", exc) from exc

        return fetch

    def machines() -> Iterator[dict[str, Any]]:
        items = paged_items(fetcher(None), f"listing machines of seed {seed}", lists.max_pages)
        try:
            first = next(items, None)
        except GardenerReadError as exc:
            if exc.status != 403:
                raise
            namespaces = shoot_namespaces()
            log.info("gardener: machines of seed %s may not be listed cluster-wide; listing %d namespaces",
                     seed, len(namespaces))
            for namespace in namespaces:
                yield from paged_items(fetcher(namespace), f"listing machines of seed {seed} in {namespace}",
                                       lists.max_pages)
            return
        if first is not None:
            yield first
            yield from items

    for obj in machines():
        namespace = (obj.get("metadata") or {}).get("namespace") or ""
        if namespace.startswith("shoot--"):
            yield machine_record(obj, seed)
