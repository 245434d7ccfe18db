"""A simulated Compute Engine v1 REST API serving the `provider: gcp` accounts of a landscape.

Served over plain http on 127.0.0.1 (google-cloud-compute's REST transport accepts an http
api_endpoint):
- GET /compute/v1/projects/{p}/aggregated/instances | disks | addresses   (maxResults, pageToken)
- GET /compute/v1/projects/{p}/global/addresses                           (maxResults, pageToken)

Bodies follow the real ones (compute#instanceAggregatedList etc., scopes keyed `zones/<z>` /
`regions/<r>`, empty scopes as a NO_RESULTS_ON_PAGE warning, selfLinks on www.googleapis.com).
Gardener-owned resources carry what gardener-extension-provider-gcp sets (docs/providers/gcp.md):
worker VMs the labels `name`, `k8s-cluster-name` and the network tags `<technical id>`,
`kubernetes-io-cluster-<technical id>`, `kubernetes-io-role-node`; their disks the same labels;
bastion VMs only their own name as network tag.

How the landscape maps onto GCP:
- account id = project id; a region's `zones` default to `<region>-a/-b/-c`;
- a region named `global` holds global addresses (and nothing else);
- a disk whose `zone` is its region's name is a regional disk (replicated to the first two zones);
- instance state: running=RUNNING, stopped=TERMINATED (GCP's word for a stopped VM),
  pending=PROVISIONING, stopping/shutting-down=STOPPING, or any raw GCP status (e.g. suspended);
  `terminated` instances are not served at all: a deleted GCE VM vanishes from every list, its
  disks lose it from `users` and its reserved addresses fall back to RESERVED;
- every instance has a boot disk named like the instance (unless one of its disks says `boot`);
  disks listed under an instance, or naming it in `attached_to`, are attached to it and carry its
  shoot's labels unless they name a shoot of their own;
- a public IP `attached_to` an instance becomes that instance's NAT IP (status IN_USE); one
  attached to any other name is used by a forwarding rule of that name;
- faults are per project, because every read here is project-wide: `access: forbidden` on the
  account or on any of its regions makes the project answer 403; `throttle_times` of the account
  and its regions add up to the number of 429s (Retry-After: 0) the project answers first.

Authentication: by default none (the collector's `credentials: anonymous`). With
`auth="service_account"` the simulator owns a service account (graphinv/sim/gcp_auth.py): it writes
the account's JSON key file into its work directory (`source_config()` names it as the
credentials), serves the OAuth2 token endpoint at `POST /token` (the key file's token_uri), and every
Compute call needs a live bearer credential of that account (an access token it issued, or a
self-signed JWT), else 401 in the API's JSON error shape. Credentials live `token_seconds`.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric import rsa

from graphinv.sim import hardware
from graphinv.sim.base import Throttle
from graphinv.sim.faults import FaultPlan, fault_response, needs_answer
from graphinv.sim.gcp_auth import TOKEN_PATH, ServiceAccountAuth
from graphinv.sim.http import Request, Response, SimHTTPServer
from graphinv.sim.landscape import (
    Account,
    Disk,
    Fault,
    Instance,
    Landscape,
    LandscapeError,
    PublicIP,
    Region,
    technical_id,
)

API_BASE = "https://www.googleapis.com/compute/v1/"
DEFAULT_CREATED = "2025-01-15T08:00:00.000+00:00"
DEFAULT_DETACHED = "2025-02-01T08:00:00.000+00:00"
MAX_RESULTS = 500
GLOBAL = "global"
EPHEMERAL_IP_SUFFIX = "/nat"  # resource_ids() key of an instance's own external address
KEY_FILE = "service-account.json"  # the service account's key, in the simulator's work directory
Auth = Literal["none", "service_account"]

_NEUTRAL_TO_GCP = {
    "running": "RUNNING",
    "stopped": "TERMINATED",
    "pending": "PROVISIONING",
    "stopping": "STOPPING",
    "shutting-down": "STOPPING",
}
_GCP_STATUSES = frozenset({
    "DEPROVISIONING", "PENDING", "PENDING_STOP", "PROVISIONING", "REPAIRING", "RUNNING", "STAGING",
    "STOPPED", "STOPPING", "SUSPENDED", "SUSPENDING", "TERMINATED",
})
_KINDS = {
    "instances": ("compute#instanceAggregatedList", "instances"),
    "disks": ("compute#diskAggregatedList", "disks"),
    "addresses": ("compute#addressAggregatedList", "addresses"),
    "machineTypes": ("compute#machineTypeAggregatedList", "machineTypes"),  # graphinv/sim/hardware.py
}
_AGGREGATED = re.compile(r"^/compute/v1/projects/(?P<project>[^/]+)/aggregated/(?P<kind>[a-zA-Z]+)$")
_GLOBAL_ADDRESSES = re.compile(r"^/compute/v1/projects/(?P<project>[^/]+)/global/addresses$")
# One resource by name (instances.get, disks.get, regionDisks.get): targeted re-reads of one VM.
_ONE = re.compile(r"^/compute/v1/projects/(?P<project>[^/]+)/(?P<where>(?:zones|regions)/[^/]+)/"
                  r"(?P<kind>instances|disks)/(?P<name>[^/]+)$")
_LABEL_INVALID = re.compile(r"[^a-z0-9_-]")


def gcp_status(state: str) -> str:
    status = _NEUTRAL_TO_GCP.get(state) or state.upper()
    if status not in _GCP_STATUSES:
        raise LandscapeError(f"gcp: instance state {state!r} has no Compute Engine status")
    return status


def label_value(value: str) -> str:
    """Like the extension's label sanitising: lower case, [a-z0-9_-] only, at most 63 characters."""
    return _LABEL_INVALID.sub("_", value.lower())[:63]


def resource_name(key: str) -> str:
    """A valid GCE name from a landscape key."""
    name = re.sub(r"[^a-z0-9-]", "-", key.lower()).strip("-")
    return (name if name[:1].isalpha() else f"r-{name}")[:63]


@dataclass
class RequestLogEntry:
    method: str
    path: str
    query: dict[str, list[str]]
    status: int


@dataclass
class _Project:
    """One project's resources, rendered as API items and ordered by scope then name."""

    account: Account
    instances: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    disks: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    addresses: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    machineTypes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # named like the API kind
    scopes: dict[str, list[str]] = field(default_factory=dict)  # kind -> every scope it may list

    @property
    def forbidden(self) -> bool:
        return self.account.access == "forbidden" or any(r.access == "forbidden" for r in self.account.regions)

    @property
    def throttle_times(self) -> int:
        return self.account.throttle_times + sum(r.throttle_times for r in self.account.regions)


class _Ids:
    """Deterministic ids and addresses from the landscape seed and a resource's key."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._taken: set[str] = set()

    def _digest(self, *parts: str) -> bytes:
        return hashlib.sha256("/".join([str(self.seed), *parts]).encode()).digest()

    def numeric(self, kind: str, key: str) -> str:
        """A 19-digit decimal id, like Compute Engine's."""
        return str(10**18 + int.from_bytes(self._digest("id", kind, key)[:8], "big") % (9 * 10**18))

    def address(self, network: str, key: str) -> str:
        """A unique address in `network` (34.0.0.0/8 for external, 10.0.0.0/8 for internal)."""
        net = ipaddress.ip_network(network)
        counter = 0
        while True:
            raw = int.from_bytes(self._digest("ip", network, key, str(counter))[:4], "big")
            host = raw % (net.num_addresses - 2) + 1
            candidate = str(net.network_address + host)
            if candidate not in self._taken:
                self._taken.add(candidate)
                return candidate
            counter += 1

    def reserve(self, address: str) -> None:
        self._taken.add(address)

    def fingerprint(self, key: str) -> str:
        return base64.b64encode(self._digest("fp", key)[:8]).decode()


def _zones(region: Region) -> list[str]:
    return region.zones or [f"{region.name}-{suffix}" for suffix in ("a", "b", "c")]


def _shoot_labels(shoot: str | None) -> dict[str, str]:
    """The labels the extension puts on a worker VM and its disks (pool labels aside)."""
    if not shoot:
        return {}
    project, _, name = shoot.partition("/")
    return {"name": label_value(name), "k8s-cluster-name": label_value(technical_id(project, name))}


def _implicit_boot_key(inst: Instance) -> str:
    return f"{inst.key}/boot"


def _disk_scope(region: Region, disk: Disk, instance_zone: str | None) -> str:
    """`zones/<z>`, or `regions/<r>` for a regional disk (its `zone` is the region's name)."""
    zone = disk.zone or instance_zone or _zones(region)[0]
    return f"regions/{region.name}" if zone == region.name else f"zones/{zone}"


def _tid(shoot: str | None) -> str | None:
    if not shoot:
        return None
    project, _, name = shoot.partition("/")
    return technical_id(project, name)


class _Renderer:
    """Turns the landscape's gcp accounts into API items (done once, when the sim starts)."""

    def __init__(self, landscape: Landscape) -> None:
        self.landscape = landscape
        self.ids = _Ids(landscape.seed)
        # An address attached to one of these that is not served (terminated) is simply RESERVED.
        self.instance_keys = {inst.key for _a, _r, inst in landscape.instances()}
        # landscape key -> (label, the uid graphinv's collector gives the served item)
        self.uids: dict[str, tuple[str, str]] = {}

    def project(self, account: Account) -> _Project:
        project = account.id
        data = _Project(account)
        served: dict[str, tuple[Region, Instance, str]] = {}  # key -> (region, instance, zone)
        every_instance: dict[str, tuple[Region, Instance, str]] = {}
        for region in account.regions:
            if region.name == GLOBAL and region.instances:
                raise LandscapeError(f"gcp project {project}: the global region cannot hold instances")
            for inst in region.instances:
                where = (region, inst, inst.zone or _zones(region)[0])
                every_instance[inst.key] = where
                if inst.state != "terminated":
                    served[inst.key] = where
        for ip in (ip for region in account.regions for ip in region.ips if ip.address):
            self.ids.reserve(str(ip.address))

        # Disks attached to each instance: its boot disk, the ones listed under it, the ones naming it.
        attached: dict[str, list[Disk]] = {key: list(inst.disks) for key, (_r, inst, _z) in every_instance.items()}
        for region in account.regions:
            for disk in region.disks:
                if disk.attached_to:
                    if disk.attached_to not in attached:
                        raise LandscapeError(f"disk {disk.key!r} is attached to unknown instance "
                                             f"{disk.attached_to!r} (gcp project {project})")
                    attached[disk.attached_to].append(disk)
        nat_of: dict[str, str] = {}  # instance key -> reserved address it uses
        address_items: list[tuple[str, dict[str, Any]]] = []
        for region in account.regions:
            for ip in region.ips:
                scope, item = self._address(project, region, ip, served)
                address_items.append((scope, item))
                if ip.attached_to in served:
                    nat_of[ip.attached_to] = item["address"]

        instance_items: list[tuple[str, dict[str, Any]]] = []
        disk_items: list[tuple[str, dict[str, Any]]] = []
        for key, (region, inst, zone) in every_instance.items():
            disks = self._instance_disks(inst, attached[key])
            link = f"{API_BASE}projects/{project}/zones/{zone}/instances/{inst.name}"
            alive = key in served
            for disk, boot in disks:
                if not alive and disk.key == _implicit_boot_key(inst):
                    continue  # GCE deletes an auto-delete boot disk together with its instance
                disk_items.append(self._disk(project, region, disk, boot, zone, link if alive else None,
                                             inst.shoot))
            if alive:
                self.uids[key] = ("Instance", f"projects/{project}/zones/{zone}/instances/{inst.name}")
                instance_items.append((f"zones/{zone}", self._instance(project, region, inst, zone, disks,
                                                                       nat_of.get(key))))
        for region in account.regions:
            for disk in region.disks:
                if not disk.attached_to:
                    disk_items.append(self._disk(project, region, disk, disk.boot, None, None, None))

        def order(items: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
            return sorted(items, key=lambda pair: (pair[0], pair[1]["name"]))

        data.instances, data.disks, data.addresses = order(instance_items), order(disk_items), order(address_items)
        zones = [f"zones/{z}" for r in account.regions if r.name != GLOBAL for z in _zones(r)]
        regions = [f"regions/{r.name}" for r in account.regions if r.name != GLOBAL]
        data.scopes = {"instances": zones, "disks": zones + regions, "addresses": [*regions, GLOBAL]}
        data.machineTypes = [(f"zones/{z}", hardware.gce_machine_type(t, project, z))
                             for r in account.regions if r.name != GLOBAL for z in _zones(r)
                             for t in hardware.offered(self.landscape, "gcp", r.name)]
        data.scopes["machineTypes"] = zones
        for kind in ("instances", "disks", "addresses"):
            pairs = [(scope, item["name"]) for scope, item in getattr(data, kind)]
            if len(set(pairs)) != len(pairs):
                raise LandscapeError(f"gcp project {project}: two {kind} share a name in one scope")
        return data

    def _instance_disks(self, inst: Instance, disks: list[Disk]) -> list[tuple[Disk, bool]]:
        out = [(d, d.boot) for d in disks]
        if not any(boot for _d, boot in out):
            implicit = Disk(key=_implicit_boot_key(inst), name=inst.name, boot=True, created=inst.created)
            out.insert(0, (implicit, True))
        else:  # the boot disk goes first, as on a real instance
            out.sort(key=lambda pair: not pair[1])
        return out

    def _instance(self, project: str, region: Region, inst: Instance, zone: str,
                  disks: list[tuple[Disk, bool]], reserved_nat: str | None) -> dict[str, Any]:
        tid = _tid(inst.shoot)
        role = inst.role or ("node" if inst.shoot else None)
        labels: dict[str, str] = {}
        tags: list[str] = []
        if role == "node" and tid:
            labels.update(_shoot_labels(inst.shoot))
            tags = [tid, f"kubernetes-io-cluster-{tid}", "kubernetes-io-role-node"]
        elif role == "bastion":
            tags = [inst.name]  # the bastion controller tags the VM with its own name, no labels
        labels.update(inst.tags)
        nat = reserved_nat or (self.ids.address("34.0.0.0/8", f"nat/{inst.key}") if inst.public_ip else None)
        if nat and not reserved_nat:  # the instance's own ephemeral address
            self.uids[f"{inst.key}{EPHEMERAL_IP_SUFFIX}"] = ("IP", f"gcp:{project}:{nat}")
        network = tid or "default"
        nic: dict[str, Any] = {
            "kind": "compute#networkInterface",
            "network": f"{API_BASE}projects/{project}/global/networks/{network}",
            "subnetwork": f"{API_BASE}projects/{project}/regions/{region.name}/subnetworks/"
                          f"{f'{tid}-nodes' if tid else 'default'}",
            "networkIP": self.ids.address("10.0.0.0/8", f"nic/{inst.key}"),
            "name": "nic0",
            "fingerprint": self.ids.fingerprint(f"nic/{inst.key}"),
            "stackType": "IPV4_ONLY",
        }
        if nat:
            nic["accessConfigs"] = [{"kind": "compute#accessConfig", "type": "ONE_TO_ONE_NAT",
                                     "name": "External NAT", "natIP": nat, "networkTier": "PREMIUM"}]
        status = gcp_status(inst.state)
        created = inst.created or DEFAULT_CREATED
        item: dict[str, Any] = {
            "kind": "compute#instance",
            "id": self.ids.numeric("instance", inst.key),
            "creationTimestamp": created,
            "name": inst.name,
            "tags": {"items": tags, "fingerprint": self.ids.fingerprint(f"tags/{inst.key}")} if tags
            else {"fingerprint": self.ids.fingerprint(f"tags/{inst.key}")},
            "machineType": f"{API_BASE}projects/{project}/zones/{zone}/machineTypes/{inst.type}",
            "status": status,
            "zone": f"{API_BASE}projects/{project}/zones/{zone}",
            "canIpForward": role == "node",
            "networkInterfaces": [nic],
            "disks": [self._attached_disk(project, region, zone, disk, boot, index)
                      for index, (disk, boot) in enumerate(disks)],
            "metadata": {"kind": "compute#metadata", "fingerprint": self.ids.fingerprint(f"md/{inst.key}")},
            "selfLink": f"{API_BASE}projects/{project}/zones/{zone}/instances/{inst.name}",
            "scheduling": {"onHostMaintenance": "MIGRATE", "automaticRestart": True, "preemptible": False},
            "labelFingerprint": self.ids.fingerprint(f"labels/{inst.key}"),
            "startRestricted": False,
            "deletionProtection": False,
            "fingerprint": self.ids.fingerprint(f"inst/{inst.key}"),
        }
        if labels:
            item["labels"] = labels
        if status == "RUNNING":
            item["lastStartTimestamp"] = created
        if role == "bastion":
            item["description"] = "Bastion Instance"
        return item

    def _attached_disk(self, project: str, region: Region, zone: str, disk: Disk, boot: bool,
                       index: int) -> dict[str, Any]:
        name = disk.name or resource_name(disk.key)
        return {
            "kind": "compute#attachedDisk",
            "type": "PERSISTENT",
            "mode": "READ_WRITE",
            "source": f"{API_BASE}projects/{project}/{_disk_scope(region, disk, zone)}/disks/{name}",
            "deviceName": "persistent-disk-0" if boot else name,
            "index": index,
            "boot": boot,
            "autoDelete": boot,
            "interface": "SCSI",
            "diskSizeGb": str(disk.size_gb),
        }

    def _disk(self, project: str, region: Region, disk: Disk, boot: bool, instance_zone: str | None,
              user_link: str | None, instance_shoot: str | None) -> tuple[str, dict[str, Any]]:
        name = disk.name or resource_name(disk.key)
        where = _disk_scope(region, disk, instance_zone)
        regional = where.startswith("regions/")
        zone = where.split("/", 1)[1]
        self.uids[disk.key] = ("Disk", f"projects/{project}/{where}/disks/{name}")
        labels = {**_shoot_labels(disk.shoot or instance_shoot), **disk.tags}
        created = disk.created or DEFAULT_CREATED
        dtype = disk.type or "pd-balanced"
        item: dict[str, Any] = {
            "kind": "compute#disk",
            "id": self.ids.numeric("disk", disk.key),
            "creationTimestamp": created,
            "name": name,
            "sizeGb": str(disk.size_gb),
            "status": (disk.state or "READY").upper(),
            "selfLink": f"{API_BASE}projects/{project}/{where}/disks/{name}",
            "type": f"{API_BASE}projects/{project}/{where}/diskTypes/{dtype}",
            "labelFingerprint": self.ids.fingerprint(f"labels/{disk.key}"),
            "physicalBlockSizeBytes": "4096",
        }
        if regional:
            item["region"] = f"{API_BASE}projects/{project}/regions/{region.name}"
            item["replicaZones"] = [f"{API_BASE}projects/{project}/zones/{z}" for z in _zones(region)[:2]]
        else:
            item["zone"] = f"{API_BASE}projects/{project}/zones/{zone}"
        if boot:
            item["sourceImage"] = f"{API_BASE}projects/gardenlinux/global/images/gardenlinux-1592-1"
            item["sourceImageId"] = self.ids.numeric("image", "gardenlinux")
        if labels:
            item["labels"] = labels
        if user_link:
            item["users"] = [user_link]
            item["lastAttachTimestamp"] = created
        elif disk.attached_to or instance_zone:
            # Its instance is gone (terminated): attached once, detached since.
            item["lastAttachTimestamp"] = created
            item["lastDetachTimestamp"] = DEFAULT_DETACHED
        return where, item

    def _address(self, project: str, region: Region, ip: PublicIP,
                 served: dict[str, tuple[Region, Instance, str]]) -> tuple[str, dict[str, Any]]:
        """A reserved external address; in use by an instance, by a forwarding rule, or by nothing."""
        name = ip.name or resource_name(ip.key)
        address = ip.address or self.ids.address("34.0.0.0/8", f"address/{ip.key}")
        is_global = region.name == GLOBAL
        where = GLOBAL if is_global else f"regions/{region.name}"
        self.uids[ip.key] = ("IP", f"projects/{project}/{where}/addresses/{name}")
        users: list[str] = []
        if ip.attached_to in served:
            _r, inst, zone = served[ip.attached_to]
            users = [f"{API_BASE}projects/{project}/zones/{zone}/instances/{inst.name}"]
        elif ip.attached_to and ip.attached_to not in self.instance_keys:
            rule_scope = "global" if is_global else f"regions/{region.name}"
            users = [f"{API_BASE}projects/{project}/{rule_scope}/forwardingRules/{ip.attached_to}"]
        labels = {**({"k8s-cluster-name": label_value(t)} if (t := _tid(ip.shoot)) else {}), **ip.tags}
        item: dict[str, Any] = {
            "kind": "compute#address",
            "id": self.ids.numeric("address", ip.key),
            "creationTimestamp": ip.created or DEFAULT_CREATED,
            "name": name,
            "description": "",
            "address": address,
            "status": "IN_USE" if users else "RESERVED",
            "selfLink": f"{API_BASE}projects/{project}/{where}/addresses/{name}",
            "networkTier": "PREMIUM",
            "labelFingerprint": self.ids.fingerprint(f"labels/{ip.key}"),
            "addressType": "EXTERNAL",
        }
        if not is_global:
            item["region"] = f"{API_BASE}projects/{project}/regions/{region.name}"
        if users:
            item["users"] = users
        if labels:
            item["labels"] = labels
        return where, item



def _error(code: int, message: str, reason: str, domain: str = "global",
           headers: dict[str, str] | None = None) -> Response:
    status = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
              429: "RESOURCE_EXHAUSTED"}.get(code, "UNKNOWN")
    body = {"error": {"code": code, "message": message, "status": status,
                      "errors": [{"message": message, "domain": domain, "reason": reason}]}}
    return Response.json(body, code, headers)


def _page_token(kind: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{offset}".encode()).decode().rstrip("=")


def _page_offset(kind: str, token: str | None) -> int | None:
    """The offset a pageToken stands for; None when the token is not one of ours for this list."""
    if not token:
        return 0
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        token_kind, _, offset = raw.partition(":")
        return int(offset) if token_kind == kind and int(offset) >= 0 else None
    except ValueError:
        return None


class GcpSim:
    """The Compute Engine simulator for a landscape's gcp projects (implements CloudSim)."""

    provider = "gcp"

    def __init__(self, landscape: Landscape, workdir: Path, auth: Auth = "none", token_seconds: int = 3600,
                 signing_key: rsa.RSAPrivateKey | None = None) -> None:
        """`auth="service_account"`: calls need a credential of the simulator's service account,
        whose key pair is `signing_key` (or a new one) and whose credentials live `token_seconds`."""
        if auth not in ("none", "service_account"):
            raise ValueError("auth must be 'none' or 'service_account'")
        self.landscape = landscape
        self.workdir = Path(workdir)
        self.throttle = Throttle()
        self.faults = FaultPlan()
        renderer = _Renderer(landscape)
        self.projects: dict[str, _Project] = {
            a.id: renderer.project(a) for a in landscape.accounts if a.provider == "gcp"}
        self._resource_ids = dict(renderer.uids)
        self._lock = threading.Lock()
        self._log: list[RequestLogEntry] = []
        self._server: SimHTTPServer | None = None
        self.auth: ServiceAccountAuth | None = None
        if auth == "service_account":
            self.auth = ServiceAccountAuth(next(iter(self.projects), "graphinv-sim"), token_seconds, signing_key)
        self.key_file: Path | None = None  # written when the simulator starts

    # -- CloudSim -------------------------------------------------------------------------------
    def start(self) -> None:
        if self._server is None:
            self._server = SimHTTPServer(self.handle, name="gcp-sim").start()
            if self.auth is not None:
                self.key_file = self.auth.write_key_file(self.workdir / KEY_FILE, self.token_uri)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the gcp simulator is not started")
        return self._server.url

    @property
    def token_uri(self) -> str:
        return f"{self.url}{TOKEN_PATH}"

    def provider_ids(self) -> dict[str, str]:
        ids: dict[str, str] = {}
        for account in self.landscape.accounts:
            if account.provider != "gcp":
                continue
            for region in account.regions:
                for inst in region.instances:
                    ids[inst.key] = f"gce:///{account.id}/{inst.zone or _zones(region)[0]}/{inst.name}"
        return ids

    def resource_ids(self) -> dict[str, tuple[str, str]]:
        """Landscape key -> (label, uid the GCP collector writes) for every served instance, disk and
        address; implicit boot disks as `<instance key>/boot`, ephemeral NAT IPs as `<instance key>/nat`.
        Terminated instances (and their boot disks) are not served, so they are not in it."""
        return dict(self._resource_ids)

    def source_config(self) -> dict[str, Any]:
        credentials = "anonymous" if self.key_file is None else str(self.key_file)
        return {"api_endpoint": self.url, "credentials": credentials, "projects": list(self.projects)}

    # -- what tests look at ---------------------------------------------------------------------
    @property
    def requests(self) -> list[RequestLogEntry]:
        with self._lock:
            return list(self._log)

    def throttled_count(self, project: str) -> int:
        """How many requests of the project arrived so far (the first `throttle_times` got 429)."""
        return self.throttle.throttled_count(project)

    # -- HTTP -----------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        answered = self._authenticate(request)
        if answered is not None:
            with self._lock:
                self._log.append(RequestLogEntry(request.method, request.path, request.query, answered.status))
            return answered
        fault = self._due_fault(request)
        if fault is not None and not needs_answer(fault):
            response = fault_response(fault, "json")
        else:
            response = self._answer(request)
            if fault is not None:
                response = fault_response(fault, "json", response)
        with self._lock:
            self._log.append(RequestLogEntry(request.method, request.path, request.query, response.status))
        return response

    def _authenticate(self, request: Request) -> Response | None:
        """The token endpoint's answer, or the API's refusal of a request without a live
        credential; None to go on (always, without `auth`)."""
        if self.auth is None:
            return None
        if request.path == TOKEN_PATH:
            if request.method != "POST":
                return _error(405, f"method {request.method} is not simulated", "notImplemented")
            return self.auth.token(request, self.token_uri)
        return self.auth.refusal(request)

    def _due_fault(self, request: Request) -> Fault | None:
        """Every read is project-wide: the faults of the account and of all its regions count."""
        match = _AGGREGATED.match(request.path) or _GLOBAL_ADDRESSES.match(request.path)
        project = self.projects.get(match.group("project")) if match else None
        if project is None:
            return None
        faults = [*project.account.faults, *(f for r in project.account.regions for f in r.faults)]
        return self.faults.due(f"gcp:{project.account.id}", faults, request.path)

    def _answer(self, request: Request) -> Response:
        if request.method != "GET":
            return _error(405, f"method {request.method} is not simulated", "notImplemented")
        one = _ONE.match(request.path)
        if one is not None:
            return self._one(one)
        aggregated = _AGGREGATED.match(request.path)
        global_list = _GLOBAL_ADDRESSES.match(request.path)
        match = aggregated or global_list
        if match is None or (aggregated and aggregated.group("kind") not in _KINDS):
            return _error(404, f"The requested URL {request.path} was not found on this server.", "notFound")
        project_id = match.group("project")
        project = self.projects.get(project_id)
        if project is None:
            return _error(404, f"The resource 'projects/{project_id}' was not found", "notFound")
        if project.forbidden:
            kind = aggregated.group("kind") if aggregated else "globalAddresses"
            return _error(403, f"Required 'compute.{kind}.list' permission for 'projects/{project_id}'",
                          "forbidden")
        if self.throttle.should_throttle(project_id, project.throttle_times):
            return _error(429, f"Quota exceeded for quota metric 'Read requests' of service "
                               f"'compute.googleapis.com' for consumer 'project_number:{project_id}'.",
                          "rateLimitExceeded", "usageLimits", {"Retry-After": "0"})
        try:
            size = int(request.arg("maxResults") or MAX_RESULTS)
        except ValueError:
            return _error(400, "Invalid value for field 'maxResults'", "invalid")
        if not 0 <= size <= MAX_RESULTS:
            return _error(400, f"Invalid value for field 'maxResults': '{size}'. Must be less than or "
                               f"equal to {MAX_RESULTS}", "invalid")
        size = size or MAX_RESULTS
        if aggregated:
            return self._aggregated(project, aggregated.group("kind"), size, request.arg("pageToken"))
        return self._global_addresses(project, size, request.arg("pageToken"))

    def _one(self, match: re.Match[str]) -> Response:
        project_id, kind, name = match.group("project"), match.group("kind"), match.group("name")
        project = self.projects.get(project_id)
        if project is None:
            return _error(404, f"The resource 'projects/{project_id}' was not found", "notFound")
        if project.forbidden:
            return _error(403, f"Required 'compute.{kind}.get' permission for "
                               f"'projects/{project_id}/{match.group('where')}/{kind}/{name}'", "forbidden")
        path = f"projects/{project_id}/{match.group('where')}/{kind}/{name}"
        for _scope, item in getattr(project, kind):
            if str(item.get("selfLink", "")).endswith("/" + path):
                return Response.json(item)
        return _error(404, f"The resource '{path}' was not found", "notFound")

    def _aggregated(self, project: _Project, kind: str, size: int, token: str | None) -> Response:
        offset = _page_offset(kind, token)
        if offset is None:
            return _error(400, "Invalid value for field 'pageToken'", "invalid")
        everything: list[tuple[str, dict[str, Any]]] = getattr(project, kind)
        page = everything[offset:offset + size]
        list_kind, field_name = _KINDS[kind]
        pid = project.account.id
        items: dict[str, dict[str, Any]] = {}
        for scope, item in page:
            items.setdefault(scope, {field_name: []})[field_name].append(item)
        if offset == 0:  # scopes without any resource say so once, on the first page
            used = {scope for scope, _item in everything}
            for scope in project.scopes[kind]:
                if scope not in used:
                    items[scope] = {"warning": {
                        "code": "NO_RESULTS_ON_PAGE", "message": f"No results for the scope '{scope}'.",
                        "data": [{"key": "scope", "value": scope}]}}
        body: dict[str, Any] = {"kind": list_kind, "id": f"projects/{pid}/aggregated/{kind}", "items": items,
                                "selfLink": f"{API_BASE}projects/{pid}/aggregated/{kind}"}
        if offset + size < len(everything):
            body["nextPageToken"] = _page_token(kind, offset + size)
        return Response.json(body)

    def _global_addresses(self, project: _Project, size: int, token: str | None) -> Response:
        offset = _page_offset("global-addresses", token)
        if offset is None:
            return _error(400, "Invalid value for field 'pageToken'", "invalid")
        everything = [item for scope, item in project.addresses if scope == GLOBAL]
        pid = project.account.id
        body: dict[str, Any] = {"kind": "compute#addressList", "id": f"projects/{pid}/global/addresses",
                                "selfLink": f"{API_BASE}projects/{pid}/global/addresses"}
        page = everything[offset:offset + size]
        if page:
            body["items"] = page
        if offset + size < len(everything):
            body["nextPageToken"] = _page_token("global-addresses", offset + size)
        return Response.json(body)
