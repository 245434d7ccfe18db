"""The simulated Kubernetes API of a Gardener landscape: the garden cluster and one API per seed.

One HTTP server serves them all: the garden at the root, seed `<name>` under `/seeds/<name>`, so
every seed has its own kubeconfig with its own server URL and bearer token, as real seeds do.

What it speaks (enough for the `kubernetes` python client and for graphinv's collector):
- garden: Projects, Seeds, Shoots (cluster-wide and per namespace), Bastions, and
  `POST .../namespaces/garden/shoots/<seed>/viewerkubeconfig` (the seed's managed shoot);
- each seed: Machines (cluster-wide and per namespace);
- `/version`, `/api`, `/apis`, `/apis/<group>/<version>` discovery;
- lists with `limit`/`continue` paging; `watch=true` as newline-delimited events;
- 401 without or with a wrong/expired token, 403 for a forbidden seed or namespace.

Objects are built from the landscape only when a page is served, so a landscape with tens of
thousands of machines costs a small record per object until somebody reads it.

Watch streams stay open (chunked) until `timeoutSeconds`: first the events that are due (the
current objects for a watch without resourceVersion, or the changes after the given one), then every
change as it happens, and with `allowWatchBookmarks=true` a BOOKMARK every `bookmark_interval`
seconds. A resourceVersion older than the kept event history gets the `410 Gone` (Expired) ERROR
event, as from a real API server. Tests (and graphinv.sim.churn) change the landscape through
`apply`/`delete`, cut streams (`break_streams`, or `break_stream_after` a given number of events,
mid-event), expire viewer tokens mid-stream (`expire_viewer_tokens`) and forget history (`compact`).
Every watch request is noted in `watch_requests` with the resourceVersion it asked for.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import secrets
import threading
import time
import uuid
import zlib
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml

from graphinv.sim import hardware
from graphinv.sim.faults import FaultPlan, fault_response, needs_answer
from graphinv.sim.http import Request, Response, SimHTTPServer
from graphinv.sim.landscape import Bastion, Landscape, Machine, Project, Seed, Shoot, technical_id

GARDEN = "garden"
KUBERNETES_VERSION = {"major": "1", "minor": "31", "gitVersion": "v1.31.4", "gitCommit": "0" * 40,
                      "gitTreeState": "clean", "buildDate": "2024-12-10T11:37:55Z", "goVersion": "go1.22.9",
                      "compiler": "gc", "platform": "linux/amd64"}
DEFAULT_VIEWER_SECONDS = 600
MAX_VIEWER_SECONDS = 86400
MAX_WATCH_SECONDS = 300
DEFAULT_WATCH_HISTORY = 200_000  # events kept per collection; older resourceVersions get 410 Gone
_UID_NAMESPACE = uuid.UUID("6f1d8a4e-3c2b-4b7a-9e51-0d6c2a9f4e10")
_EPOCH = datetime(2024, 1, 8, 9, 0, 0, tzinfo=UTC)


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


PROJECTS = ResourceType("core.gardener.cloud", "v1beta1", "projects", "Project", False)
SEEDS = ResourceType("core.gardener.cloud", "v1beta1", "seeds", "Seed", False)
SHOOTS = ResourceType("core.gardener.cloud", "v1beta1", "shoots", "Shoot", True)
BASTIONS = ResourceType("operations.gardener.cloud", "v1alpha1", "bastions", "Bastion", True)
MACHINES = ResourceType("machine.sapcloud.io", "v1alpha1", "machines", "Machine", True)
CLOUDPROFILES = ResourceType("core.gardener.cloud", "v1beta1", "cloudprofiles", "CloudProfile", False)

Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped objects


class _Entry:
    """One stored object: either built on demand from the landscape (`make`) or a stored dict."""

    __slots__ = ("make", "obj", "rv", "stamp")

    def __init__(self, rv: int, obj: dict[str, Any] | None, make: Callable[[], dict[str, Any]] | None,
                 stamp: bool) -> None:
        self.rv = rv
        self.obj = obj
        self.make = make
        self.stamp = stamp  # write metadata.resourceVersion (objects given "unchanged" are not stamped)

    def body(self) -> dict[str, Any]:
        if self.obj is not None:
            return self.obj
        assert self.make is not None
        built = self.make()
        if self.stamp:
            built.setdefault("metadata", {})["resourceVersion"] = str(self.rv)
        return built


@dataclass
class _Event:
    rv: int
    type: str  # ADDED | MODIFIED | DELETED
    key: Key
    body: dict[str, Any]
    made: float = field(default_factory=time.time)  # when the change happened (bench/watch.py's clock)


class Collection:
    """The objects of one resource type in one cluster, in a stable order for paging.

    Deleted objects leave a hole (None) in the order lists, so a `continue` offset handed out
    earlier still points at the same place; a page may then hold fewer than `limit` items, which
    the Kubernetes API allows.
    """

    def __init__(self, rtype: ResourceType) -> None:
        self.rtype = rtype
        self._entries: dict[Key, _Entry] = {}
        self._order: list[Key | None] = []
        self._pos: dict[Key, int] = {}
        self._by_ns: dict[str, list[Key | None]] = {}
        self._ns_pos: dict[Key, int] = {}
        self.events: list[_Event] = []
        self.dropped = 0  # events forgotten from the front of `events` (absolute index = dropped + i)
        self.compacted_rv = 0  # a watch from an older resourceVersion has lost events: 410 Gone
        self.loaded_rv = 0  # the newest version among objects loaded from the landscape

    def __len__(self) -> int:
        return len(self._entries)

    def _insert(self, key: Key, entry: _Entry) -> None:
        self._entries[key] = entry
        self._pos[key] = len(self._order)
        self._order.append(key)
        ns_list = self._by_ns.setdefault(key[0], [])
        self._ns_pos[key] = len(ns_list)
        ns_list.append(key)

    def add_lazy(self, namespace: str, name: str, rv: int, make: Callable[[], dict[str, Any]]) -> None:
        self._insert((namespace, name), _Entry(rv, None, make, stamp=True))
        self.loaded_rv = max(self.loaded_rv, rv)

    def upsert(self, obj: dict[str, Any], rv: int, stamp: bool) -> str:
        meta = obj.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta["name"]))
        if stamp:
            obj.setdefault("metadata", {})["resourceVersion"] = str(rv)
        entry = _Entry(rv, obj, None, stamp)
        kind = "MODIFIED" if key in self._entries else "ADDED"
        if kind == "MODIFIED":
            self._entries[key] = entry
        else:
            self._insert(key, entry)
        self.events.append(_Event(rv, kind, key, obj))
        return kind

    def delete(self, namespace: str, name: str, rv: int) -> bool:
        key = (namespace, name)
        entry = self._entries.pop(key, None)
        if entry is None:
            return False
        self._order[self._pos.pop(key)] = None
        self._by_ns[namespace][self._ns_pos.pop(key)] = None
        body = json.loads(json.dumps(entry.body()))
        body.setdefault("metadata", {})["resourceVersion"] = str(rv)
        self.events.append(_Event(rv, "DELETED", key, body))
        return True

    def compact(self, keep: int, rv: int) -> None:
        """Forget all but the newest `keep` events; `rv` is the store's current version."""
        if len(self.events) <= keep:
            if keep == 0:
                self.compacted_rv = rv
            return
        cut = len(self.events) - keep
        self.compacted_rv = self.events[cut].rv - 1 if keep else rv
        self.dropped += cut
        del self.events[:cut]

    def events_from(self, position: int) -> tuple[list[_Event], int]:
        """Events from absolute index `position` on, and the next position."""
        start = max(0, position - self.dropped)
        return self.events[start:], self.dropped + len(self.events)

    def position_after(self, rv: int) -> int:
        """The absolute index of the first event newer than `rv`."""
        low, high = 0, len(self.events)
        while low < high:
            middle = (low + high) // 2
            if self.events[middle].rv <= rv:
                low = middle + 1
            else:
                high = middle
        return self.dropped + low

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        entry = self._entries.get((namespace, name))
        return entry.body() if entry else None

    def page(self, namespace: str | None, offset: int, limit: int | None) -> tuple[list[dict[str, Any]], int | None]:
        """Items from `offset` on (at most `limit`), and the offset of the next page if any."""
        order = self._order if namespace is None else self._by_ns.get(namespace, [])
        items: list[dict[str, Any]] = []
        index = offset
        while index < len(order) and (limit is None or len(items) < limit):
            key = order[index]
            index += 1
            if key is not None:
                items.append(self._entries[key].body())
        return items, (index if index < len(order) else None)

    def current(self, namespace: str | None) -> Iterable[tuple[_Entry, Key]]:
        order = self._order if namespace is None else self._by_ns.get(namespace, [])
        for key in order:
            if key is not None:
                yield self._entries[key], key


@dataclass
class _Token:
    cluster: str  # "garden" or a seed name
    expires: float | None = None  # clock time; None = does not expire
    revoked: bool = False  # refused although it claims to be valid ("expired" seeds)


@dataclass
class GardenerAPIOptions:
    """Permissions of the simulated tokens, to exercise the collector's fallbacks."""

    garden_cluster_wide: bool = True  # may the garden token list shoots/bastions across namespaces?
    seed_cluster_wide: bool = True  # may seed tokens list machines across namespaces?
    forbidden_namespaces: set[str] = field(default_factory=set)  # garden namespaces answering 403
    bookmark_interval: float = 5.0  # seconds between BOOKMARK events on an idle watch
    watch_history: int = DEFAULT_WATCH_HISTORY  # events kept per collection for watches to resume from


@dataclass(eq=False)
class _OpenStream:
    cluster: str
    token: str
    aborted: bool = False


@dataclass(frozen=True)
class WatchRequest:
    """One watch request as received: where, and the resourceVersion it resumes from ("" for none)."""

    cluster: str
    plural: str
    namespace: str | None
    resource_version: str


class GardenerAPI:
    """The request handler with its stores; `GardenerSim` wraps it in a server and kubeconfigs."""

    def __init__(self, landscape: Landscape, provider_ids: dict[str, str] | None = None,
                 options: GardenerAPIOptions | None = None, clock: Callable[[], float] = time.time) -> None:
        self.landscape = landscape
        self.options = options or GardenerAPIOptions()
        self.clock = clock
        self.base_url = ""  # set by GardenerSim once the port is known; used in viewer kubeconfigs
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._closing = False
        self._rv = 0
        self._streams: set[_OpenStream] = set()  # open watch streams, to cut them on purpose
        # (cluster, plural) -> change events still to send before the break `break_stream_after` planned
        self._planned_cuts: dict[tuple[str, str], int] = {}
        self.watch_requests: deque[WatchRequest] = deque(maxlen=10_000)  # the newest, for tests
        self._tokens: dict[str, _Token] = {}
        self._clusters: dict[str, dict[tuple[str, str, str], Collection]] = {GARDEN: {}}
        self.seeds: dict[str, Seed] = {s.name: s for s in landscape.seeds}
        self.faults = FaultPlan()  # the seeds' `faults`, played on their lists
        self.viewer_requests: Counter[str] = Counter()
        self.requests = 0
        for seed in landscape.seeds:
            self._clusters[seed.name] = {}
        self.garden_token = secrets.token_urlsafe(24)
        self._tokens[self.garden_token] = _Token(GARDEN)
        self.seed_tokens = {s.name: secrets.token_urlsafe(24) for s in landscape.seeds}
        for name, token in self.seed_tokens.items():
            self._tokens[token] = _Token(name)
        ids = provider_ids if provider_ids is not None else synthetic_provider_ids(landscape)
        _load(self, landscape, ids)

    # -- store ----------------------------------------------------------------------------------
    def collection(self, cluster: str, rtype: ResourceType) -> Collection:
        per_cluster = self._clusters.setdefault(cluster, {})
        key = (rtype.group, rtype.version, rtype.plural)
        if key not in per_cluster:
            per_cluster[key] = Collection(rtype)
        return per_cluster[key]

    def next_rv(self) -> int:
        self._rv += 1
        return self._rv

    def apply(self, cluster: str, rtype: ResourceType, obj: dict[str, Any], stamp: bool = True) -> str:
        """Create or replace an object (watchers see ADDED/MODIFIED). `stamp=False` keeps it unchanged."""
        with self._lock:
            collection = self.collection(cluster, rtype)
            kind = collection.upsert(obj, self.next_rv(), stamp)
            self._trim(collection)
            self._changed.notify_all()
            return kind

    def delete(self, cluster: str, rtype: ResourceType, namespace: str, name: str) -> bool:
        with self._lock:
            collection = self.collection(cluster, rtype)
            done = collection.delete(namespace, name, self.next_rv())
            self._trim(collection)
            self._changed.notify_all()
            return done

    def get(self, cluster: str, rtype: ResourceType, namespace: str, name: str) -> dict[str, Any] | None:
        """A copy of a stored object, or None."""
        with self._lock:
            obj = self.collection(cluster, rtype).get(namespace, name)
            return json.loads(json.dumps(obj)) if obj is not None else None

    def names(self, cluster: str, rtype: ResourceType) -> list[Key]:
        with self._lock:
            return [key for _entry, key in self.collection(cluster, rtype).current(None)]

    def _trim(self, collection: Collection) -> None:
        if len(collection.events) > self.options.watch_history * 2:
            collection.compact(self.options.watch_history, self._rv)

    @property
    def resource_version(self) -> int:
        with self._lock:
            return self._rv

    def compact(self, cluster: str | None = None) -> None:
        """Forget the event history (of one cluster, or all): watches resuming from before now get 410."""
        with self._lock:
            for name, per_cluster in self._clusters.items():
                if cluster is None or name == cluster:
                    for collection in per_cluster.values():
                        collection.compact(0, self._rv)

    def break_streams(self, cluster: str | None = None) -> int:
        """Cut open watch streams (of one cluster, or all) without their closing chunk."""
        with self._lock:
            cut = 0
            for stream in self._streams:
                if cluster is None or stream.cluster == cluster:
                    stream.aborted = True
                    cut += 1
            self._changed.notify_all()
            return cut

    def break_stream_after(self, cluster: str, plural: str, events: int) -> None:
        """Break the next watch stream of `plural` in `cluster` that sends events, mid-event.

        The stream sends `events` more change events, then waits for one more and sends the first
        half of its line, then the connection closes without the closing chunk. Clients therefore
        always see an error (urllib3 raises ProtocolError on the missing chunk; the half line is
        never a whole event), never a clean end, and have received exactly `events` events. (The
        objects a watch without resourceVersion starts with are sent before counting begins.)
        """
        if events < 0:
            raise ValueError("events must be >= 0")
        with self._lock:
            self._planned_cuts[(cluster, plural)] = events

    def _take_planned_cut(self, cluster: str, plural: str,
                          due: list[tuple[str, dict[str, Any]]]) -> tuple[list[tuple[str, dict[str, Any]]],
                                                                           bytes | None]:
        """The events of `due` to send, and the half line to break the stream with (None: no break)."""
        with self._lock:
            left = self._planned_cuts.get((cluster, plural))
            if left is None:
                return due, None
            if len(due) <= left:
                self._planned_cuts[(cluster, plural)] = left - len(due)
                return due, None
            del self._planned_cuts[(cluster, plural)]
            line = _event_lines([due[left]])
            return due[:left], line[:len(line) // 2]

    def open_streams(self, cluster: str | None = None) -> int:
        with self._lock:
            return sum(1 for s in self._streams if cluster is None or s.cluster == cluster)

    def expire_viewer_tokens(self, seed: str) -> int:
        """Every viewer token of a seed expires now, and the watches using them are cut: the client
        must notice the 401 on reconnecting and fetch a new viewer kubeconfig."""
        with self._lock:
            expired = 0
            for token, known in self._tokens.items():
                if known.cluster == seed and known.expires is not None:
                    known.expires = self.clock() - 1
                    expired += 1
                    for stream in self._streams:
                        if stream.token == token:
                            stream.aborted = True
            self._changed.notify_all()
            return expired

    def set_seed_access(self, seed: str, access: str) -> None:
        """ok | forbidden | expired, from the next request on; a forbidden seed's streams are cut."""
        with self._lock:
            self.seeds[seed].access = access  # type: ignore[assignment]
        if access == "forbidden":
            self.break_streams(seed)

    def close(self) -> None:
        with self._lock:
            self._closing = True
            self._changed.notify_all()

    # -- HTTP -----------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        with self._lock:
            self.requests += 1
        segments = [unquote(s) for s in request.path.split("/") if s]
        cluster = GARDEN
        if len(segments) >= 2 and segments[0] == "seeds":
            cluster = segments[1]
            segments = segments[2:]
            if cluster not in self._clusters or cluster == GARDEN:
                return _status(404, "NotFound", f"no seed {cluster!r}")
        denied = self._authenticate(request, cluster)
        if denied is not None:
            return denied
        if request.method == "GET" and segments in (["version"], ["version", ""]):
            return Response.json(KUBERNETES_VERSION)
        if request.method == "GET" and segments == ["api"]:
            return Response.json({"kind": "APIVersions", "versions": ["v1"],
                                  "serverAddressByClientCIDRs": []})
        if request.method == "GET" and segments == ["apis"]:
            return Response.json(self._group_list(cluster))
        if segments and segments[0] == "apis" and len(segments) == 3 and request.method == "GET":
            return self._resource_list(cluster, segments[1], segments[2])
        if segments and segments[0] == "apis" and len(segments) >= 4:
            return self._resource(request, cluster, segments[1], segments[2], segments[3:])
        return _status(404, "NotFound", f"the server could not find the requested resource ({request.path})")

    def _authenticate(self, request: Request, cluster: str) -> Response | None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return _status(401, "Unauthorized", "Unauthorized")
        with self._lock:
            known = self._tokens.get(token.strip())
        if known is None or known.cluster != cluster or known.revoked:
            return _status(401, "Unauthorized", "Unauthorized")
        if known.expires is not None and self.clock() >= known.expires:
            return _status(401, "Unauthorized", "Unauthorized")
        return None

    def _group_list(self, cluster: str) -> dict[str, Any]:
        groups: dict[str, list[str]] = {}
        for group, version, _plural in self._clusters.get(cluster, {}):
            if group:
                groups.setdefault(group, [])
                if version not in groups[group]:
                    groups[group].append(version)
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
            {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
             "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]}}
            for g, vs in sorted(groups.items())]}

    def _resource_list(self, cluster: str, group: str, version: str) -> Response:
        found = [c.rtype for (g, v, _p), c in self._clusters.get(cluster, {}).items() if (g, v) == (group, version)]
        if not found:
            return _status(404, "NotFound", f"no API group version {group}/{version}")
        return Response.json({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}",
                              "resources": [{"name": r.plural, "singularName": r.kind.lower(),
                                             "namespaced": r.namespaced, "kind": r.kind,
                                             "verbs": ["get", "list", "watch"]} for r in found]})

    def _resource(self, request: Request, cluster: str, group: str, version: str, rest: list[str]) -> Response:
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        plural, name, sub = rest[0], (rest[1] if len(rest) > 1 else None), (rest[2] if len(rest) > 2 else None)
        if len(rest) > 3:
            return _status(404, "NotFound", "the server could not find the requested resource")
        collection = self._clusters.get(cluster, {}).get((group, version, plural))
        if collection is None:
            return _status(404, "NotFound", f"the server could not find the requested resource ({plural})")
        rtype = collection.rtype
        if namespace is not None and not rtype.namespaced:
            return _status(404, "NotFound", f"{plural} are not namespaced")
        if sub == "viewerkubeconfig" and rtype == SHOOTS and request.method == "POST":
            return self._viewer_kubeconfig(request, cluster, namespace or "", name or "")
        if sub is not None or request.method != "GET":
            return _status(405, "MethodNotAllowed", f"{request.method} is not supported here")
        denied = self._authorize(cluster, rtype, namespace)
        if denied is not None:
            return denied
        if name is not None:
            with self._lock:
                obj = collection.get(namespace or "", name)
            if obj is None:
                return _status(404, "NotFound", f'{plural} "{name}" not found')
            return Response.json(obj)
        if request.arg("watch", "false") in ("true", "1"):
            return self._watch(request, cluster, collection, namespace)
        seed_faults = self.seeds[cluster].faults if cluster in self.seeds else []
        fault = self.faults.due(f"gardener:{cluster}", seed_faults, request.path) if cluster != GARDEN else None
        if fault is not None and not needs_answer(fault):
            return fault_response(fault, "kube")
        answer = self._list(request, collection, namespace)
        return fault_response(fault, "kube", answer) if fault is not None else answer

    def _authorize(self, cluster: str, rtype: ResourceType, namespace: str | None) -> Response | None:
        if cluster != GARDEN:
            seed = self.seeds.get(cluster)
            if seed is not None and seed.access == "forbidden":
                return _status(403, "Forbidden", f"{rtype.plural} is forbidden: the viewer may not read seed "
                                                  f"{cluster!r}")
            if namespace is None and rtype.namespaced and not self.options.seed_cluster_wide:
                return _status(403, "Forbidden", f"{rtype.plural} is forbidden: cannot list resource "
                                                  f'"{rtype.plural}" at the cluster scope')
            return None
        if namespace is None and rtype.namespaced and not self.options.garden_cluster_wide:
            return _status(403, "Forbidden", f"{rtype.plural} is forbidden: cannot list resource "
                                              f'"{rtype.plural}" at the cluster scope')
        if namespace is not None and namespace in self.options.forbidden_namespaces:
            return _status(403, "Forbidden", f"{rtype.plural} is forbidden in the namespace {namespace!r}")
        return None

    def _list(self, request: Request, collection: Collection, namespace: str | None) -> Response:
        try:
            limit = int(request.arg("limit") or 0) or None
        except ValueError:
            return _status(400, "BadRequest", "limit must be an integer")
        offset = 0
        token = request.arg("continue")
        with self._lock:
            list_rv = self._rv
            if token:
                decoded = _decode_continue(token)
                if decoded is None:
                    return _status(400, "BadRequest", "invalid continue token")
                list_rv, offset = decoded
            items, next_offset = collection.page(namespace, offset, limit)
            metadata: dict[str, Any] = {"resourceVersion": str(list_rv)}
            if next_offset is not None:
                metadata["continue"] = _encode_continue(list_rv, next_offset)
                metadata["remainingItemCount"] = max(0, len(collection) - next_offset)
            body = {"apiVersion": collection.rtype.api_version, "kind": f"{collection.rtype.kind}List",
                    "metadata": metadata, "items": items}
            data = json.dumps(body).encode()
        return Response(200, data, {"Content-Type": "application/json"})

    def _watch(self, request: Request, cluster: str, collection: Collection, namespace: str | None) -> Response:
        since_text = request.arg("resourceVersion") or ""
        try:
            timeout = float(request.arg("timeoutSeconds") or 30)
            since = int(since_text) if since_text not in ("", "0") else None
        except ValueError:
            return _status(400, "BadRequest", "resourceVersion and timeoutSeconds must be integers")
        bookmarks = request.arg("allowWatchBookmarks", "false") in ("true", "1")
        token = request.headers.get("authorization", "").partition(" ")[2].strip()
        stream = _OpenStream(cluster, token)
        with self._lock:
            self._streams.add(stream)
            self.watch_requests.append(WatchRequest(cluster, collection.rtype.plural, namespace, since_text))
        lines = self._watch_lines(stream, collection, namespace, since, timeout, bookmarks)
        return Response(200, b"", {"Content-Type": "application/json"}, stream=lines)

    def _watch_lines(self, stream: _OpenStream, collection: Collection, namespace: str | None, since: int | None,
                     timeout: float, bookmarks: bool) -> Iterator[bytes]:
        deadline = time.monotonic() + max(0.0, min(timeout, MAX_WATCH_SECONDS))
        interval = max(0.01, self.options.bookmark_interval)
        try:
            with self._changed:
                if since is not None and since < collection.compacted_rv:
                    first: list[tuple[str, dict[str, Any]]] = [("ERROR", _gone(since, collection.compacted_rv))]
                    position = -1
                elif since is None:  # no resourceVersion: the current state as ADDED events
                    first = [("ADDED", entry.body()) for entry, _key in collection.current(namespace)]
                    position = collection.dropped + len(collection.events)
                else:
                    first = []
                    if since < collection.loaded_rv:
                        # Objects loaded from the landscape are not in the event log; a watch from
                        # before their version sees them as ADDED.
                        first = [("ADDED", entry.body()) for entry, _key in collection.current(namespace)
                                 if entry.rv > since and entry.make is not None]
                    position = collection.position_after(since)
            if first:
                yield _event_lines(first)
            if position < 0:
                return
            next_bookmark = time.monotonic() + interval
            while True:
                with self._changed:
                    while True:
                        if stream.aborted:
                            raise ConnectionAbortedError("watch stream cut on purpose")
                        lost = position < collection.dropped  # this slow watcher's history is gone
                        events, position_next = collection.events_from(position)
                        if lost or events or self._closing:
                            break
                        now = time.monotonic()
                        wake = min(deadline, next_bookmark) if bookmarks else deadline
                        if now >= wake:
                            break
                        self._changed.wait(wake - now)
                    position = position_next
                    due = [(e.type, e.body) for e in events if namespace is None or e.key[0] == namespace]
                    current_rv = self._rv
                    closing = self._closing
                if lost:
                    yield _event_lines([("ERROR", _gone(current_rv, collection.compacted_rv))])
                    return
                if due:
                    due, half_line = self._take_planned_cut(stream.cluster, collection.rtype.plural, due)
                    if due:
                        yield _event_lines(due)
                    if half_line is not None:
                        yield half_line
                        raise ConnectionAbortedError("watch stream cut mid-event on purpose")
                    continue
                if closing or time.monotonic() >= deadline:
                    return
                if bookmarks and time.monotonic() >= next_bookmark:
                    mark = {"apiVersion": collection.rtype.api_version, "kind": collection.rtype.kind,
                            "metadata": {"resourceVersion": str(current_rv)}}
                    yield _event_lines([("BOOKMARK", mark)])
                    next_bookmark = time.monotonic() + interval
        finally:
            with self._lock:
                self._streams.discard(stream)

    def _viewer_kubeconfig(self, request: Request, cluster: str, namespace: str, name: str) -> Response:
        if cluster != GARDEN or namespace != GARDEN or name not in self.seeds:
            return _status(404, "NotFound", f'shoots.core.gardener.cloud "{name}" not found')
        try:
            spec = (request.json() or {}).get("spec") or {}
            seconds = int(spec.get("expirationSeconds") or DEFAULT_VIEWER_SECONDS)
        except (ValueError, TypeError, AttributeError):
            return _status(400, "BadRequest", "body must be a ViewerKubeconfigRequest")
        if seconds <= 0:
            return _status(422, "Invalid", "spec.expirationSeconds must be positive")
        seconds = min(seconds, MAX_VIEWER_SECONDS)
        with self._lock:
            self.viewer_requests[name] += 1
            first = self.viewer_requests[name] == 1
            now = self.clock()
            token = secrets.token_urlsafe(24)
            # An "expired" seed's first viewer kubeconfig claims to be valid but its token is
            # refused: the collector must notice the 401, fetch a new one and retry once.
            revoked = first and self.seeds[name].access == "expired"
            self._tokens[token] = _Token(name, expires=now + seconds, revoked=revoked)
        expires_at = datetime.fromtimestamp(now + seconds, tz=UTC)
        kubeconfig = kubeconfig_yaml(f"{self.base_url}/seeds/{name}", token, f"shoot--garden--{name}", "viewer")
        return Response.json({
            "apiVersion": "authentication.gardener.cloud/v1alpha1",
            "kind": "ViewerKubeconfigRequest",
            "spec": {"expirationSeconds": seconds},
            "status": {"kubeconfig": base64.b64encode(kubeconfig.encode()).decode(),
                       "expirationTimestamp": _iso(expires_at)},
        }, status=201)


def _gone(since: int, compacted: int) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": f"too old resource version: {since} ({compacted})", "reason": "Expired", "code": 410}


def _event_lines(events: list[tuple[str, dict[str, Any]]]) -> bytes:
    return "".join(json.dumps({"type": kind, "object": body}) + "\n" for kind, body in events).encode()


def _status(code: int, reason: str, message: str) -> Response:
    return Response.json({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                          "message": message, "reason": reason, "code": code}, status=code)


def _encode_continue(rv: int, offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"rv": rv, "o": offset}).encode()).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, int] | None:
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return int(raw["rv"]), int(raw["o"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def kubeconfig_yaml(server: str, token: str, cluster: str, user: str) -> str:
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": cluster,
        "clusters": [{"name": cluster, "cluster": {"server": server}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": user}}],
    }, sort_keys=False)


# -- landscape -> objects -----------------------------------------------------------------------
def _uid(*parts: str) -> str:
    return str(uuid.uuid5(_UID_NAMESPACE, "/".join(parts)))


def _created(*parts: str) -> str:
    """A fixed, name-derived creation time, so served objects are the same on every run."""
    offset = zlib.crc32("/".join(parts).encode()) % (540 * 24 * 3600)
    return _iso(_EPOCH + timedelta(seconds=offset))


def _project(project: Project, seed: int) -> dict[str, Any]:
    return {
        "apiVersion": PROJECTS.api_version, "kind": "Project",
        "metadata": {"name": project.name, "uid": _uid("project", project.name, str(seed)),
                     "creationTimestamp": _created("project", project.name), "generation": 1},
        "spec": {"owner": {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": project.owner},
                 "members": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": project.owner,
                              "role": "admin"}],
                 "namespace": project.namespace},
        "status": {"observedGeneration": 1, "phase": "Ready"},
    }


def _seed(seed_obj: Seed, seed: int) -> dict[str, Any]:
    return {
        "apiVersion": SEEDS.api_version, "kind": "Seed",
        "metadata": {"name": seed_obj.name, "uid": _uid("seed", seed_obj.name, str(seed)),
                     "creationTimestamp": _created("seed", seed_obj.name), "generation": 1,
                     "labels": {"seed.gardener.cloud/provider": seed_obj.provider,
                                "seed.gardener.cloud/region": seed_obj.region}},
        "spec": {"provider": {"type": seed_obj.provider, "region": seed_obj.region},
                 "ingress": {"domain": f"ingress.{seed_obj.name}.seed.example.com", "controller": {"kind": "nginx"}},
                 "networks": {"nodes": "10.240.0.0/16", "pods": "10.241.128.0/17", "services": "10.241.0.0/17"},
                 "settings": {"scheduling": {"visible": True}}},
        "status": {"observedGeneration": 1, "kubernetesVersion": KUBERNETES_VERSION["gitVersion"][1:],
                   "conditions": [{"type": "GardenletReady", "status": "True", "reason": "GardenletReady",
                                   "lastTransitionTime": _created("seed-ready", seed_obj.name)}]},
    }


def _shoot(shoot: Shoot, namespace: str, seed: int) -> dict[str, Any]:
    tech = shoot.technical_id
    created = _created("shoot", namespace, shoot.name)
    workers = [{
        "name": w.name, "minimum": w.minimum, "maximum": w.maximum,
        "machine": {"type": w.machine_type, "image": {"name": "gardenlinux", "version": "1592.4.0"}},
        "volume": {"size": "50Gi"}, "zones": list(w.zones),
    } for w in shoot.workers]
    hibernated = shoot.hibernated
    return {
        "apiVersion": SHOOTS.api_version, "kind": "Shoot",
        "metadata": {"name": shoot.name, "namespace": namespace, "uid": _uid("shoot", namespace, shoot.name, str(seed)),
                     "creationTimestamp": created, "generation": 3,
                     "annotations": {"gardener.cloud/created-by": shoot.created_by},
                     "labels": {"shoot.gardener.cloud/status": "healthy",
                                "name": shoot.name}},
        "spec": {
            "cloudProfile": {"kind": "CloudProfile", "name": shoot.cloud_profile or shoot.provider},
            "credentialsBindingName": f"{shoot.provider}-{shoot.account}"[:63].lower(),
            "region": shoot.region,
            "purpose": shoot.purpose,
            "seedName": shoot.seed,
            "hibernation": {"enabled": hibernated},
            "kubernetes": {"version": KUBERNETES_VERSION["gitVersion"][1:]},
            "networking": {"type": "calico", "nodes": "10.250.0.0/16"},
            "provider": {"type": shoot.provider, "workers": workers},
        },
        "status": {
            "technicalID": tech, "seedName": shoot.seed, "hibernated": hibernated,
            "uid": _uid("shoot", namespace, shoot.name, str(seed)),
            "observedGeneration": 3,
            "clusterIdentity": f"{tech}-{_uid('shoot', namespace, shoot.name, str(seed))}-landscape",
            "lastOperation": {"type": "Reconcile", "state": "Succeeded", "progress": 100,
                              "description": "Shoot cluster has been successfully reconciled.",
                              "lastUpdateTime": created},
        },
    }


def _bastion(bastion: Bastion, namespace: str, shoot: Shoot | None, seed: int) -> dict[str, Any]:
    created = _created("bastion", namespace, bastion.name)
    digest = hashlib.sha256(f"{namespace}/{bastion.name}".encode()).digest()
    ingress_ip = f"198.51.100.{digest[0] % 254 + 1}"
    spec: dict[str, Any] = {"shootRef": {"name": bastion.shoot},
                            "sshPublicKey": base64.b64encode(b"ssh-ed25519 AAAA-simulated").decode(),
                            "ingress": [{"ipBlock": {"cidr": "203.0.113.7/32"}}]}
    if shoot is not None:
        spec["seedName"] = shoot.seed
        spec["providerType"] = shoot.provider
    return {
        "apiVersion": BASTIONS.api_version, "kind": "Bastion",
        "metadata": {"name": bastion.name, "namespace": namespace,
                     "uid": _uid("bastion", namespace, bastion.name, str(seed)), "creationTimestamp": created,
                     "annotations": {"gardener.cloud/created-by": "owner@example.com"}},
        "spec": spec,
        "status": {"observedGeneration": 1, "ingress": {"ip": ingress_ip},
                   "conditions": [{"type": "BastionReady", "status": "True", "reason": "BastionReady",
                                   "message": "Bastion for the cluster is ready.",
                                   "lastTransitionTime": created, "lastUpdateTime": created}],
                   "lastHeartbeatTimestamp": created, "expirationTimestamp": created},
    }


def _machine(machine: Machine, shoot: Shoot, provider_id: str | None, seed: int) -> dict[str, Any]:
    tech = shoot.technical_id
    created = _created("machine", tech, machine.name)
    pool = next((w.name for w in shoot.workers if machine.name.startswith(f"{tech}-{w.name}-")), None)
    labels = {"node": machine.node or machine.name}
    if pool:
        labels["worker.gardener.cloud/pool"] = pool
    spec: dict[str, Any] = {"class": {"kind": "MachineClass", "name": f"{tech}-{pool or 'worker'}-z1"}}
    if provider_id:
        spec["providerID"] = provider_id
    return {
        "apiVersion": MACHINES.api_version, "kind": "Machine",
        "metadata": {"name": machine.name, "namespace": tech, "uid": _uid("machine", tech, machine.name, str(seed)),
                     "creationTimestamp": created, "generation": 1, "labels": labels,
                     "finalizers": ["machine.sapcloud.io/machine-controller-manager"]},
        "spec": spec,
        "status": {"currentStatus": {"phase": machine.phase, "lastUpdateTime": created, "timeoutActive": False},
                   "lastOperation": {"description": "Machine is now ready", "lastUpdateTime": created,
                                     "state": "Successful", "type": "Create"}},
    }


def _load(api: GardenerAPI, landscape: Landscape, provider_ids: dict[str, str]) -> None:
    seed = landscape.seed
    namespaces = {p.name: p.namespace for p in landscape.projects}
    shoots_by_key = {(s.project, s.name): s for s in landscape.shoots}
    projects = api.collection(GARDEN, PROJECTS)
    for project in landscape.projects:
        projects.add_lazy("", project.name, api.next_rv(), partial(_project, project, seed))
    seeds = api.collection(GARDEN, SEEDS)
    for seed_obj in landscape.seeds:
        seeds.add_lazy("", seed_obj.name, api.next_rv(), partial(_seed, seed_obj, seed))
        api.collection(seed_obj.name, MACHINES)  # every seed serves machines, even with none yet
    shoots = api.collection(GARDEN, SHOOTS)
    for shoot in landscape.shoots:
        namespace = namespaces.get(shoot.project, f"garden-{shoot.project}")
        shoots.add_lazy(namespace, shoot.name, api.next_rv(), partial(_shoot, shoot, namespace, seed))
        machines = api.collection(shoot.seed, MACHINES)
        for machine in shoot.machines:
            provider_id = machine.provider_id
            if provider_id is None and machine.vm is not None:
                if machine.vm not in provider_ids:
                    raise KeyError(f"machine {machine.name!r} names vm {machine.vm!r}, but no simulator "
                                   f"reported a providerID for it")
                provider_id = provider_ids[machine.vm]
            machines.add_lazy(shoot.technical_id, machine.name, api.next_rv(),
                              partial(_machine, machine, shoot, provider_id, seed))
    bastions = api.collection(GARDEN, BASTIONS)
    for bastion in landscape.bastions:
        namespace = namespaces.get(bastion.project, f"garden-{bastion.project}")
        target = shoots_by_key.get((bastion.project, bastion.shoot))
        bastions.add_lazy(namespace, bastion.name, api.next_rv(), partial(_bastion, bastion, namespace, target, seed))
    profiles = api.collection(GARDEN, CLOUDPROFILES)
    for provider in sorted({t.provider for t in landscape.machine_types}):
        regions = sorted({r.name for a in landscape.accounts if a.provider == provider for r in a.regions}
                         | {s.region for s in landscape.shoots if s.provider == provider})
        profiles.add_lazy("", provider, api.next_rv(), partial(hardware.cloud_profile, landscape, provider, regions))


def synthetic_provider_ids(landscape: Landscape) -> dict[str, str]:
    """providerIDs in each provider's format for every instance, when no cloud simulator runs.

    The ids are derived from the landscape (stable across runs); the real cloud simulators pick
    their own, and the runtime passes theirs instead.
    """
    out: dict[str, str] = {}
    for account, region, inst in landscape.instances():
        zone = inst.zone or (region.zones[0] if region.zones else f"{region.name}-a")
        digest = hashlib.sha256(f"{landscape.seed}/{inst.key}".encode()).hexdigest()
        if account.provider == "aws":
            out[inst.key] = f"aws:///{zone}/i-{digest[:17]}"
        elif account.provider == "gcp":
            out[inst.key] = f"gce://{account.id}/{zone}/{inst.name}"
        elif account.provider == "azure":
            group = technical_id(*inst.shoot.split("/", 1)) if inst.shoot and "/" in inst.shoot else "unowned"
            out[inst.key] = (f"azure:///subscriptions/{account.id}/resourceGroups/{group}/providers/"
                             f"Microsoft.Compute/virtualMachines/{inst.name}")
        else:
            out[inst.key] = f"openstack:///{uuid.UUID(digest[:32])}"
    return out


class GardenerSim:
    """The simulated garden and seeds on 127.0.0.1, with kubeconfig files in `workdir`."""

    provider = "gardener"

    def __init__(self, landscape: Landscape, workdir: Path, provider_ids: dict[str, str] | None = None,
                 options: GardenerAPIOptions | None = None, static_seed_kubeconfigs: bool = False,
                 clock: Callable[[], float] = time.time) -> None:
        self.workdir = Path(workdir)
        self.api = GardenerAPI(landscape, provider_ids, options, clock)
        self.static_seed_kubeconfigs = static_seed_kubeconfigs
        self._server: SimHTTPServer | None = None
        self.garden_kubeconfig = self.workdir / "garden.kubeconfig"
        self.seed_kubeconfigs: dict[str, Path] = {}

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the Gardener simulator is not running")
        return self._server.url

    def start(self) -> None:
        self._server = SimHTTPServer(self.api.handle, name="gardener").start()
        self.api.base_url = self._server.url
        self.workdir.mkdir(parents=True, exist_ok=True)
        _write_private(self.garden_kubeconfig,
                       kubeconfig_yaml(self.url, self.api.garden_token, "garden", "graphinv"))
        for name, token in self.api.seed_tokens.items():
            path = self.workdir / f"seed-{name}.kubeconfig"
            _write_private(path, kubeconfig_yaml(f"{self.url}/seeds/{name}", token, f"seed-{name}", "graphinv"))
            self.seed_kubeconfigs[name] = path

    def stop(self) -> None:
        self.api.close()
        if self._server is not None:
            self._server.stop()
            self._server = None

    def source_config(self) -> dict[str, Any]:
        section: dict[str, Any] = {"kubeconfig": str(self.garden_kubeconfig), "viewer_kubeconfig": True,
                                   "excluded_seeds": [], "concurrency": 8}
        if self.static_seed_kubeconfigs:
            section["viewer_kubeconfig"] = False
            section["seeds"] = {name: {"kubeconfig": str(path)} for name, path in self.seed_kubeconfigs.items()}
        return section


def _write_private(path: Path, text: str) -> None:
    # Kubeconfigs hold bearer tokens: readable by the owner only.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
