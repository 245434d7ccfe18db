"""The watches of a Gardener landscape: Projects, Seeds, Shoots, Bastions in the garden, Machines per seed.

`GardenerWatches` logs in the way the collector does (collectors/gardener: the garden client, and
per seed a static or viewer kubeconfig through `SeedAccess`, renewed before it expires and once on
401), starts one `ResourceWatch` per resource, and follows the Seeds watch: a new seed gets its
Machine watch, a deleted seed's watch stops. One seed's trouble stays in its own watch.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any

from kubernetes import client

from collectors.gardener.collect import (
    CORE,
    MACHINE,
    OPERATIONS,
    ListOptions,
    ShootNamespaces,
    collect_bastions,
    collect_machines,
    collect_shoots,
    project_namespaces,
)
from collectors.gardener.kube import garden_client
from collectors.gardener.mapping import bastion_record, machine_record, project_record, seed_record, shoot_record
from collectors.gardener.seed_access import SeedAccess
from collectors.gardener.settings import GardenerSettings
from collectors.records import Record
from collectors.scope import Scope
from graphinv.ingest import Ingest
from graphinv.watch.settings import WatchSettings
from graphinv.watch.stream import Change, Listener, ResourceWatch, WatchedKind

log = logging.getLogger(__name__)

SOURCE = "gardener"


class _Projects:
    """Project namespace -> project name, shared by the Project and Shoot watches."""

    def __init__(self) -> None:
        self.by_namespace: dict[str, str] = {}
        self._lock = threading.Lock()

    def learn(self, api: client.CustomObjectsApi, lists: ListOptions) -> None:
        found = project_namespaces(api, lists)
        with self._lock:
            self.by_namespace = found

    def project(self, obj: dict[str, Any]) -> Record:
        record = project_record(obj)
        if record.namespace:
            with self._lock:
                self.by_namespace = {**self.by_namespace, record.namespace: record.name}
        return record

    def shoot(self, obj: dict[str, Any]) -> Record:
        return shoot_record(obj, self.by_namespace)


def _machine_or_none(seed: str, obj: dict[str, Any]) -> Record | None:
    namespace = (obj.get("metadata") or {}).get("namespace") or ""
    return machine_record(obj, seed) if namespace.startswith("shoot--") else None


class GardenerWatches:
    def __init__(self, section: Mapping[str, Any] | GardenerSettings, ingest: Ingest, settings: WatchSettings,
                 listeners: list[Listener] | None = None, metrics: Any | None = None) -> None:
        self.gardener = (section if isinstance(section, GardenerSettings)
                         else GardenerSettings.model_validate(dict(section)))
        self.lists = ListOptions(self.gardener.page_size, self.gardener.request_timeout, self.gardener.max_pages)
        self.ingest = ingest
        self.settings = settings
        self.listeners: list[Listener] = listeners if listeners is not None else []
        self.metrics = metrics
        self.watches: dict[str, ResourceWatch] = {}
        self._lock = threading.Lock()
        self._garden: client.ApiClient | None = None
        self._access: SeedAccess | None = None
        self._projects = _Projects()
        self._stopped = False

    # -- building -------------------------------------------------------------------------------
    def _garden_api(self) -> client.CustomObjectsApi:
        assert self._garden is not None
        return client.CustomObjectsApi(self._garden)

    def _seed_api(self, seed: str) -> client.CustomObjectsApi:
        assert self._access is not None
        return client.CustomObjectsApi(self._access.client(seed))  # renewed a minute before it expires

    def _refresh_seed(self, seed: str) -> None:
        assert self._access is not None
        self._access.refresh(seed)

    def garden_kinds(self) -> list[WatchedKind]:
        lists = self.lists

        def scope(kind: str) -> Scope:
            return Scope(SOURCE, "garden", "global", kind)

        api = self._garden_api
        return [
            WatchedKind(scope("Project"), CORE, "projects", self._projects.project),
            WatchedKind(scope("Seed"), CORE, "seeds", seed_record),
            WatchedKind(scope("Shoot"), CORE, "shoots", self._projects.shoot,
                        before_list=lambda a: self._projects.learn(a, lists),
                        full_read=lambda: collect_shoots(api(), lists)),
            WatchedKind(scope("Bastion"), OPERATIONS, "bastions", bastion_record,
                        full_read=lambda: collect_bastions(api(), lists)),
        ]

    def machine_kind(self, seed: str) -> WatchedKind:
        def full_read() -> Iterable[Record]:
            assert self._access is not None
            namespaces = ShootNamespaces(self._garden_api(), self.lists)
            return collect_machines(self._access, seed, partial(namespaces.on_seed, seed), self.lists)

        return WatchedKind(Scope(SOURCE, seed, "global", "Machine"), MACHINE, "machines",
                           partial(_machine_or_none, seed), full_read=full_read)

    # -- running --------------------------------------------------------------------------------
    def start(self) -> GardenerWatches:
        self._garden = garden_client(self.gardener)
        self._access = SeedAccess(self._garden, self.gardener)
        for kind in self.garden_kinds():
            name = f"garden/{kind.scope.kind}"
            listeners = [*self.listeners]
            if kind.scope.kind == "Seed":
                listeners.append(self._on_seeds)
            self._add(name, ResourceWatch(name, kind, self.ingest, self.settings, self._garden_api,
                                          listeners=listeners, metrics=self.metrics))
        for seed in sorted(self.gardener.seed_kubeconfigs):  # statically configured seeds start at once
            self.add_seed(seed)
        return self

    def _add(self, name: str, resource_watch: ResourceWatch) -> None:
        with self._lock:
            if self._stopped or name in self.watches:
                return
            self.watches[name] = resource_watch
        resource_watch.start()

    def add_seed(self, seed: str) -> None:
        if seed in self.gardener.excluded_seeds:
            return
        name = f"{seed}/Machine"
        self._add(name, ResourceWatch(name, self.machine_kind(seed), self.ingest, self.settings,
                                      partial(self._seed_api, seed), partial(self._refresh_seed, seed),
                                      listeners=[*self.listeners], metrics=self.metrics))

    def remove_seed(self, seed: str) -> None:
        with self._lock:
            found = self.watches.pop(f"{seed}/Machine", None)
        if found is not None:
            found.stop()

    def _on_seeds(self, _watch: ResourceWatch, changes: list[Change], _committed: float) -> None:
        for change in changes:
            if change.record is None:
                continue
            if change.type == "DELETED":
                self.remove_seed(change.record.uid)
            else:
                self.add_seed(change.record.uid)

    def stop(self, timeout: float = 10.0) -> None:
        with self._lock:
            self._stopped = True
            watches = list(self.watches.values())
        for resource_watch in watches:
            resource_watch.stop()
        for resource_watch in watches:
            resource_watch.join(timeout)

    # -- status ---------------------------------------------------------------------------------
    def statuses(self) -> list[dict[str, Any]]:
        with self._lock:
            watches = list(self.watches.values())
        return [w.status.as_dict() for w in sorted(watches, key=lambda w: w.name)]

    def down(self) -> list[str]:
        """Watches that are not connected right now (polling counts as down: it is not live)."""
        with self._lock:
            return sorted(name for name, w in self.watches.items() if not w.status.connected)

    def get(self, name: str) -> ResourceWatch:
        with self._lock:
            return self.watches[name]

    def resync(self) -> None:
        with self._lock:
            watches = list(self.watches.values())
        for resource_watch in watches:
            resource_watch.request_resync()
