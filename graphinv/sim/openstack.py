"""Simulated OpenStack (Keystone v3, Nova, Cinder, Neutron) serving the `provider: openstack` accounts.

One plain-http server on 127.0.0.1 plays every service of every region; the service catalog tells
the SDK where each region lives (`/<region>/compute/v2.1`, `/<region>/volume/v3/<project id>`,
`/<region>/network`), so a real multi-region cloud's separate hosts become path prefixes here.

Landscape account id = OpenStack project name; its regions are OpenStack regions. What Gardener
leaves on its resources (see docs/providers/openstack.md for the sources):
- worker servers: metadata `kubernetes.io-cluster-<technical id>: "1"` and `kubernetes.io-role-node: "1"`;
- bastion servers: no metadata (the extension sets none); they are known by their name;
- volumes of a shoot: metadata `cinder.csi.openstack.org/cluster: <technical id>` (Cinder CSI);
- floating IPs of a shoot: the cloud-controller-manager's description
  `Floating IP for Kubernetes external service <ns>/<svc> from cluster <technical id>`, or the
  bastion's name for a bastion's floating IP.

Every instance boots from a Cinder volume (what machine-controller-manager does when the worker pool
sets a volume size); a listed disk with `boot: true` replaces that implicit boot volume. OpenStack has
no ephemeral public address, so an instance's `public_ip: true` is served as a floating IP on its port.

Faults: `access: forbidden` lets Keystone issue the token (the user has a role on the project) and
answers 403 on every Nova/Cinder/Neutron call of that project or region, as a policy denial does;
`throttle_times: N` answers 429 with `Retry-After: 0` to the first N service calls of that project
(account level) or project and region (region level). Version discovery and Keystone are never faulted.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from graphinv.sim import hardware
from graphinv.sim.base import Throttle
from graphinv.sim.faults import FaultPlan, fault_response, needs_answer
from graphinv.sim.http import Request, Response, SimHTTPServer
from graphinv.sim.landscape import Account, Disk, Fault, Instance, Landscape, PublicIP, Region, technical_id

NOVA_MAX_MICROVERSION = "2.100"
CINDER_MAX_MICROVERSION = "3.71"
DEFAULT_CREATED = "2024-01-01T00:00:00Z"
DOMAIN = {"id": "default", "name": "Default"}
SIM_USER = "graphinv-reader"
CLUSTER_TAG_PREFIX = "kubernetes.io-cluster-"
ROLE_NODE_TAG = "kubernetes.io-role-node"
CSI_CLUSTER_KEY = "cinder.csi.openstack.org/cluster"

# Neutral landscape state -> (Nova status, OS-EXT-STS:vm_state, OS-EXT-STS:task_state, power_state)
_NOVA_STATES: dict[str, tuple[str, str, str | None, int]] = {
    "running": ("ACTIVE", "active", None, 1),
    "stopped": ("SHUTOFF", "stopped", None, 4),
    "stopping": ("ACTIVE", "active", "powering-off", 1),
    "pending": ("BUILD", "building", "spawning", 0),
    "shutting-down": ("ACTIVE", "active", "deleting", 1),
    # Nova drops deleted servers from the list at once; with deferred delete they stay as SOFT_DELETED.
    "terminated": ("SOFT_DELETED", "soft-delete", None, 4),
}


# -- the served model ---------------------------------------------------------------------------
@dataclass
class SimServer:
    id: str
    name: str
    az: str
    flavor: str
    state: str
    metadata: dict[str, str]
    created: str
    network: str
    fixed_ip: str
    mac: str
    port_id: str
    volume_ids: list[str] = field(default_factory=list)
    floating_ips: list[str] = field(default_factory=list)


@dataclass
class SimVolume:
    id: str
    name: str
    az: str
    size: int
    volume_type: str
    status: str
    bootable: bool
    metadata: dict[str, str]
    created: str
    server_id: str | None
    device: str | None


@dataclass
class SimPort:
    id: str
    name: str
    network_id: str
    device_id: str
    device_owner: str
    mac: str
    fixed_ip: str
    created: str


@dataclass
class SimFloatingIP:
    id: str
    address: str
    description: str
    tags: list[str]
    created: str
    port_id: str | None
    fixed_ip: str | None
    router_id: str | None
    port: SimPort | None


@dataclass
class RegionState:
    project: str
    region: str
    access: str
    throttle_times: int
    servers: list[SimServer] = field(default_factory=list)
    volumes: list[SimVolume] = field(default_factory=list)
    ports: list[SimPort] = field(default_factory=list)
    floating_ips: list[SimFloatingIP] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)


@dataclass
class ProjectState:
    name: str
    id: str
    access: str
    throttle_times: int
    app_credential_id: str
    app_credential_secret: str
    regions: dict[str, RegionState] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)  # played in each of its regions


@dataclass
class _Token:
    project: ProjectState | None
    methods: list[str]
    expires: datetime | None = None  # Keystone refuses the token from then on (401)


class _ApiError(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


# -- building the model from the landscape ------------------------------------------------------
class _Ids:
    """Deterministic ids: the same landscape gives the same uuids, MACs and addresses every run."""

    def __init__(self, landscape: Landscape) -> None:
        self._namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"graphinv-sim-openstack/{landscape.name}/{landscape.seed}")
        self._fixed = ipaddress.IPv4Address("10.250.0.10")
        self._floating = ipaddress.IPv4Address("172.24.4.10")

    def uuid(self, kind: str, key: str) -> str:
        return str(uuid.uuid5(self._namespace, f"{kind}/{key}"))

    def hex(self, kind: str, key: str) -> str:
        return uuid.uuid5(self._namespace, f"{kind}/{key}").hex

    def mac(self, key: str) -> str:
        raw = uuid.uuid5(self._namespace, f"mac/{key}").bytes
        return "fa:16:3e:" + ":".join(f"{b:02x}" for b in raw[:3])

    def next_fixed_ip(self) -> str:
        address, self._fixed = self._fixed, self._fixed + 1
        return str(address)

    def next_floating_ip(self) -> str:
        address, self._floating = self._floating, self._floating + 1
        return str(address)


def _shoot_id(shoot: str | None) -> str | None:
    if not shoot:
        return None
    project, _, name = shoot.partition("/")
    return technical_id(project, name)


def _instance_metadata(inst: Instance) -> dict[str, str]:
    metadata = dict(inst.tags)
    cluster = _shoot_id(inst.shoot)
    role = inst.role or ("node" if cluster else None)
    if cluster and role == "node":
        # What gardener-extension-provider-openstack puts in the machine class `tags`, which
        # machine-controller-manager-provider-openstack passes to Nova as server metadata.
        metadata[f"{CLUSTER_TAG_PREFIX}{cluster}"] = "1"
        metadata[ROLE_NODE_TAG] = "1"
    return metadata


def _volume_metadata(disk: Disk) -> dict[str, str]:
    metadata = dict(disk.tags)
    cluster = _shoot_id(disk.shoot)
    if cluster:
        metadata[CSI_CLUSTER_KEY] = cluster
    return metadata


def _build_region(account: Account, region: Region, ids: _Ids) -> RegionState:
    state = RegionState(account.id, region.name, region.access, region.throttle_times, faults=list(region.faults))
    default_zone = region.zones[0] if region.zones else "nova"
    servers: dict[str, SimServer] = {}
    roles: dict[str, str | None] = {}
    network_ids: dict[str, str] = {}

    def network_id(name: str) -> str:
        return network_ids.setdefault(name, ids.uuid("network", f"{account.id}/{region.name}/{name}"))

    for inst in region.instances:
        cluster = _shoot_id(inst.shoot)
        network = cluster or "private"
        server = SimServer(
            id=ids.uuid("server", inst.key), name=inst.name, az=inst.zone or default_zone, flavor=inst.type,
            state=inst.state, metadata=_instance_metadata(inst), created=inst.created or DEFAULT_CREATED,
            network=network, fixed_ip=ids.next_fixed_ip(), mac=ids.mac(inst.key), port_id=ids.uuid("port", inst.key),
        )
        servers[inst.key] = server
        roles[inst.key] = inst.role or ("node" if cluster else None)
        state.servers.append(server)
        state.ports.append(SimPort(
            id=server.port_id, name="", network_id=network_id(network), device_id=server.id,
            device_owner=f"compute:{server.az}", mac=server.mac, fixed_ip=server.fixed_ip, created=server.created,
        ))
        if not any(d.boot for d in inst.disks):
            state.volumes.append(SimVolume(
                id=ids.uuid("volume", f"{inst.key}/boot"), name="", az=server.az, size=50,
                volume_type="__DEFAULT__", status="in-use", bootable=True, metadata={}, created=server.created,
                server_id=server.id, device="/dev/vda",
            ))

    def add_volume(disk: Disk, attached_to: str | None) -> None:
        server = servers.get(attached_to) if attached_to else None
        server_id = server.id if server else (ids.uuid("server", attached_to) if attached_to else None)
        cluster = _shoot_id(disk.shoot)
        volume_id = ids.uuid("volume", disk.key)
        name = disk.name or (f"pv-{cluster}-{ids.uuid('pvc', disk.key)}" if cluster else disk.key)
        device: str | None
        if server is not None:
            device = "/dev/vda" if disk.boot else f"/dev/vd{chr(ord('b') + len(server.volume_ids))}"
            server.volume_ids.append(volume_id)
        else:
            device = "/dev/vdb" if server_id else None
        state.volumes.append(SimVolume(
            id=volume_id, name=name, az=disk.zone or (server.az if server else default_zone), size=disk.size_gb,
            volume_type=disk.type or "__DEFAULT__", status=disk.state or ("in-use" if server_id else "available"),
            bootable=disk.boot, metadata=_volume_metadata(disk), created=disk.created or DEFAULT_CREATED,
            server_id=server_id, device=device,
        ))

    for inst in region.instances:
        for disk in inst.disks:
            add_volume(disk, inst.key)
    for disk in region.disks:
        add_volume(disk, disk.attached_to)
    by_id = {s.id: s for s in state.servers}
    for volume in state.volumes:  # the implicit boot volumes are attached first, at /dev/vda
        owner = by_id.get(volume.server_id or "")
        if volume.device == "/dev/vda" and owner is not None and volume.id not in owner.volume_ids:
            owner.volume_ids.insert(0, volume.id)

    router_id = ids.uuid("router", f"{account.id}/{region.name}")
    ports = {p.id: p for p in state.ports}
    public_ips = [PublicIP(key=f"{i.key}/public-ip", attached_to=i.key, shoot=i.shoot) for i in region.instances
                  if i.public_ip]
    for ip in [*public_ips, *region.ips]:
        holder = servers.get(ip.attached_to) if ip.attached_to else None
        port = ports.get(holder.port_id) if holder else None
        address = ip.address or ids.next_floating_ip()
        cluster = _shoot_id(ip.shoot)
        if cluster and holder is not None and roles.get(ip.attached_to or "") == "bastion":
            description = holder.name  # the bastion controller names the floating IP after the bastion
        elif cluster:
            service = f"default/{ip.name or ip.key}"
            description = f"Floating IP for Kubernetes external service {service} from cluster {cluster}"
        else:
            description = ip.name or ""
        state.floating_ips.append(SimFloatingIP(
            id=ids.uuid("floatingip", ip.key), address=address, description=description,
            tags=[f"{k}={v}" for k, v in ip.tags.items()], created=ip.created or DEFAULT_CREATED,
            port_id=port.id if port else None, fixed_ip=holder.fixed_ip if holder else None,
            router_id=router_id if port else None, port=port,
        ))
        if holder is not None:
            holder.floating_ips.append(address)
    return state


def _region_resource_ids(region: Region, served: RegionState, ids: _Ids) -> dict[str, tuple[str, str]]:
    """Landscape key -> (label, uuid) for what `_build_region` made of the region, implicit boot
    volumes (`<instance key>/boot`) and instances' own floating IPs (`<instance key>/public-ip`)
    included. Derived from the same ids, then checked against what is actually served."""
    wanted: dict[str, tuple[str, str]] = {}
    for inst in region.instances:
        wanted[inst.key] = ("Instance", ids.uuid("server", inst.key))
        if not any(d.boot for d in inst.disks):
            wanted[f"{inst.key}/boot"] = ("Disk", ids.uuid("volume", f"{inst.key}/boot"))
        wanted.update({d.key: ("Disk", ids.uuid("volume", d.key)) for d in inst.disks})
        if inst.public_ip:
            wanted[f"{inst.key}/public-ip"] = ("IP", ids.uuid("floatingip", f"{inst.key}/public-ip"))
    wanted.update({d.key: ("Disk", ids.uuid("volume", d.key)) for d in region.disks})
    wanted.update({ip.key: ("IP", ids.uuid("floatingip", ip.key)) for ip in region.ips})
    present = ({s.id for s in served.servers} | {v.id for v in served.volumes}
               | {f.id for f in served.floating_ips})
    missing = sorted(key for key, (_label, uid) in wanted.items() if uid not in present)
    if missing:
        raise RuntimeError(f"openstack sim: resources not served for keys {missing[:5]}")
    return wanted


# -- payloads -----------------------------------------------------------------------------------
def _microversion(request: Request, service: str) -> tuple[int, int] | None:
    names = {service, "block-storage"} if service == "volume" else {service}
    header = request.headers.get("openstack-api-version", "")
    for part in header.split(","):
        words = part.split()
        if len(words) == 2 and words[0] in names:
            major, _, minor = words[1].partition(".")
            if major.isdigit() and minor.isdigit():
                return int(major), int(minor)
    legacy = request.headers.get("x-openstack-nova-api-version") if service == "compute" else None
    if legacy:
        major, _, minor = legacy.partition(".")
        if major.isdigit() and minor.isdigit():
            return int(major), int(minor)
    return None


def _flavor_payload(name: str, version: tuple[int, int], base: str) -> dict[str, Any]:
    if version >= (2, 47):  # embedded flavor since microversion 2.47
        return {"vcpus": 2, "ram": 8192, "disk": 0, "ephemeral": 0, "swap": 0, "original_name": name,
                "extra_specs": {}}
    return {"id": name, "links": [{"rel": "bookmark", "href": f"{base}/flavors/{name}"}]}


def server_payload(server: SimServer, project: ProjectState, version: tuple[int, int], base: str) -> dict[str, Any]:
    status, vm_state, task_state, power = _NOVA_STATES.get(server.state, ("ERROR", "error", None, 0))
    addresses = [{"version": 4, "addr": server.fixed_ip, "OS-EXT-IPS:type": "fixed",
                  "OS-EXT-IPS-MAC:mac_addr": server.mac}]
    addresses += [{"version": 4, "addr": fip, "OS-EXT-IPS:type": "floating", "OS-EXT-IPS-MAC:mac_addr": server.mac}
                  for fip in server.floating_ips]
    volumes: list[dict[str, Any]] = [{"id": v} for v in server.volume_ids]
    if version >= (2, 3):
        volumes = [{"id": v, "delete_on_termination": i == 0} for i, v in enumerate(server.volume_ids)]
    payload: dict[str, Any] = {
        "id": server.id, "name": server.name, "status": status, "tenant_id": project.id, "user_id": SIM_USER,
        "metadata": server.metadata, "hostId": "", "created": server.created, "updated": server.created,
        "flavor": _flavor_payload(server.flavor, version, base),
        "image": "",  # booted from volume: Nova answers an empty string
        "addresses": {server.network: addresses}, "accessIPv4": "", "accessIPv6": "", "key_name": None,
        "config_drive": "", "progress": 0, "security_groups": [{"name": "default"}],
        "OS-EXT-AZ:availability_zone": server.az, "OS-EXT-STS:vm_state": vm_state,
        "OS-EXT-STS:task_state": task_state, "OS-EXT-STS:power_state": power, "OS-DCF:diskConfig": "MANUAL",
        "OS-SRV-USG:launched_at": server.created.rstrip("Z") if status != "BUILD" else None,
        "OS-SRV-USG:terminated_at": None, "os-extended-volumes:volumes_attached": volumes,
        "links": [{"rel": "self", "href": f"{base}/servers/{server.id}"},
                  {"rel": "bookmark", "href": f"{base}/servers/{server.id}"}],
    }
    if version >= (2, 9):
        payload["locked"] = False
    if version >= (2, 19):
        payload["description"] = None
    if version >= (2, 26):
        payload["tags"] = []
    return payload


def volume_payload(volume: SimVolume, project: ProjectState, base: str) -> dict[str, Any]:
    attachments = []
    if volume.server_id:
        attachments.append({
            "id": volume.id, "volume_id": volume.id, "server_id": volume.server_id,
            "attachment_id": str(uuid.uuid5(uuid.UUID(volume.id), "attachment")), "host_name": None,
            "device": volume.device, "attached_at": volume.created.rstrip("Z") + ".000000",
        })
    return {
        "id": volume.id, "name": volume.name, "description": None, "status": volume.status, "size": volume.size,
        "availability_zone": volume.az, "volume_type": volume.volume_type, "bootable": str(volume.bootable).lower(),
        "encrypted": False, "multiattach": False, "metadata": volume.metadata, "attachments": attachments,
        "created_at": volume.created.rstrip("Z") + ".000000", "updated_at": None, "snapshot_id": None,
        "source_volid": None, "consistencygroup_id": None, "replication_status": None, "migration_status": None,
        "user_id": SIM_USER, "os-vol-tenant-attr:tenant_id": project.id,
        "links": [{"rel": "self", "href": f"{base}/volumes/{volume.id}"}],
    }


def port_payload(port: SimPort, project: ProjectState) -> dict[str, Any]:
    return {
        "id": port.id, "name": port.name, "network_id": port.network_id, "device_id": port.device_id,
        "device_owner": port.device_owner, "mac_address": port.mac, "admin_state_up": True, "status": "ACTIVE",
        "fixed_ips": [{"ip_address": port.fixed_ip,
                       "subnet_id": str(uuid.uuid5(uuid.UUID(port.network_id), "subnet"))}],
        "project_id": project.id, "tenant_id": project.id, "created_at": port.created, "updated_at": port.created,
        "description": "", "tags": [], "security_groups": [], "allowed_address_pairs": [], "revision_number": 1,
    }


def floating_ip_payload(fip: SimFloatingIP, project: ProjectState, port_details: bool) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": fip.id, "floating_ip_address": fip.address, "fixed_ip_address": fip.fixed_ip, "port_id": fip.port_id,
        "router_id": fip.router_id, "status": "ACTIVE" if fip.port_id else "DOWN", "description": fip.description,
        "tags": fip.tags, "project_id": project.id, "tenant_id": project.id, "created_at": fip.created,
        "updated_at": fip.created, "revision_number": 1, "port_forwardings": [], "dns_domain": "", "dns_name": "",
        "floating_network_id": str(uuid.uuid5(uuid.UUID(project.id), "public")),
    }
    if port_details:  # the fip-port-details API extension
        port = fip.port
        payload["port_details"] = None if port is None else {
            "name": port.name, "network_id": port.network_id, "mac_address": port.mac, "admin_state_up": True,
            "status": "ACTIVE", "device_id": port.device_id, "device_owner": port.device_owner,
        }
    return payload


# -- version documents (also used by tests that serve upstream samples) ---------------------------
def keystone_versions(base: str) -> dict[str, Any]:
    return {"versions": {"values": [keystone_v3(base)["version"]]}}


def keystone_v3(base: str) -> dict[str, Any]:
    return {"version": {
        "id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": f"{base}/v3/"}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
    }}


def nova_version(base: str) -> dict[str, Any]:
    return {
        "id": "v2.1", "status": "CURRENT", "version": NOVA_MAX_MICROVERSION, "min_version": "2.1",
        "updated": "2013-07-23T11:33:21Z", "links": [{"rel": "self", "href": f"{base}/v2.1/"}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}],
    }


def cinder_version(base: str, version_id: str = "v3.0") -> dict[str, Any]:
    v3 = version_id.startswith("v3")
    return {
        "id": version_id, "status": "CURRENT", "version": CINDER_MAX_MICROVERSION if v3 else "",
        "min_version": "3.0" if v3 else "", "updated": "2023-08-31T00:00:00Z",
        "links": [{"rel": "self", "href": f"{base}/{'v3' if v3 else 'v2'}/"}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}],
    }


def neutron_versions(base: str) -> dict[str, Any]:
    return {"versions": [{"id": "v2.0", "status": "CURRENT", "links": [{"rel": "self", "href": f"{base}/v2.0/"}]}]}


# -- the HTTP API -------------------------------------------------------------------------------
def _error(status: int, key: str, message: str, headers: dict[str, str] | None = None) -> _ApiError:
    return _ApiError(Response.json({key: {"code": status, "message": message}}, status, headers))


def _neutron_error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> _ApiError:
    kind = kind if kind.startswith("HTTP") else f"HTTP{kind}"  # Neutron names its faults after webob's
    return _ApiError(Response.json({"NeutronError": {"type": kind, "message": message, "detail": ""}}, status, headers))


_PATH = re.compile(r"^/(?P<region>[^/]+)/(?P<service>compute|volume|network)(?P<rest>/.*)?$")


class OpenStackSim:
    """Keystone, Nova, Cinder and Neutron for the landscape's OpenStack projects, on one port."""

    provider = "openstack"

    def __init__(self, landscape: Landscape, workdir: Path, *, page_size: int = 1000,
                 fip_port_details: bool = True, stuck_paging: bool = False,
                 token_seconds: float = 3600.0) -> None:
        self.landscape = landscape
        self.workdir = workdir
        self.page_size = page_size  # the services' max page (osapi_max_limit / pagination_max_limit)
        # Lifetime of the tokens Keystone issues ([token] expiration, 1 h by default); after it every
        # service call with the token answers 401, so clients must re-authenticate.
        self.token_seconds = token_seconds
        self.expired_token_calls = 0  # service calls refused because their token had expired
        self.fip_port_details = fip_port_details
        # A broken service for tests: every full page's `next` link points at that same page.
        self.stuck_paging = stuck_paging
        # region -> Nova flavors (API shape) served instead of the landscape's machine types (tests)
        self.flavor_overrides: dict[str, list[dict[str, Any]]] = {}
        self.throttle = Throttle()
        self.faults = FaultPlan()
        self.password = "sim-" + uuid.uuid5(uuid.NAMESPACE_URL, f"graphinv-sim-password/{landscape.seed}").hex
        # (method, path, query) of recent requests, for tests; bounded so long runs do not grow it
        self.requests: deque[tuple[str, str, dict[str, list[str]]]] = deque(maxlen=20000)
        self._lock = threading.Lock()
        self._tokens: dict[str, _Token] = {}
        ids = _Ids(landscape)
        self.projects: dict[str, ProjectState] = {}
        self._instance_ids: dict[str, str] = {}
        self._resource_ids: dict[str, tuple[str, str]] = {}
        for account in landscape.accounts:
            if account.provider != "openstack":
                continue
            project = ProjectState(
                name=account.id, id=ids.hex("project", account.id), access=account.access,
                throttle_times=account.throttle_times, app_credential_id=ids.hex("appcred", account.id),
                app_credential_secret="sim-" + ids.hex("appcred-secret", account.id),
                faults=list(account.faults),
            )
            for region in account.regions:
                served = project.regions[region.name] = _build_region(account, region, ids)
                for inst in region.instances:
                    self._instance_ids[inst.key] = ids.uuid("server", inst.key)
                self._resource_ids.update(_region_resource_ids(region, served, ids))
            self.projects[account.id] = project
        self._server = SimHTTPServer(self.handle, name="openstack")

    # -- CloudSim ---------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self._server.url

    @property
    def auth_url(self) -> str:
        return f"{self._server.url}/identity"

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()

    def provider_ids(self) -> dict[str, str]:
        return {key: f"openstack:///{server_id}" for key, server_id in self._instance_ids.items()}

    def resource_ids(self) -> dict[str, tuple[str, str]]:
        """Landscape key -> (label, uid the OpenStack collector writes: the resource uuid) for every
        served server, volume and floating IP; implicit boot volumes as `<instance key>/boot`, the
        floating IPs made for `public_ip: true` as `<instance key>/public-ip`."""
        return dict(self._resource_ids)

    def source_config(self) -> dict[str, Any]:
        return {"clouds": [
            {"name": project.name, "auth": self.password_auth(project.name), "regions": list(project.regions)}
            for project in self.projects.values()
        ]}

    def password_auth(self, project: str) -> dict[str, str]:
        return {"auth_url": self.auth_url, "username": SIM_USER, "password": self.password,
                "project_name": project, "user_domain_name": "Default", "project_domain_name": "Default"}

    def application_credential_auth(self, project: str) -> dict[str, str]:
        state = self.projects[project]
        return {"auth_url": self.auth_url, "application_credential_id": state.app_credential_id,
                "application_credential_secret": state.app_credential_secret}

    def scope_key(self, project: str, region: str | None = None) -> str:
        """The Throttle key of a project (account-level faults) or a project's region."""
        return project if region is None else f"{project}/{region}"

    # -- routing ----------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        with self._lock:
            self.requests.append((request.method, request.path, request.query))
        try:
            path = request.path.rstrip("/") or "/"
            if path == "/identity" or path.startswith("/identity/"):
                return self._identity(request, path)
            match = _PATH.match(path)
            if match is None:
                raise _error(404, "itemNotFound", f"no such path: {request.path}")
            region_name = unquote(match["region"])
            base = f"{self.url}/{match['region']}/{match['service']}"
            rest = match["rest"] or ""
            service = match["service"]
            fault = self._due_fault(request, region_name)
            if fault is not None and not needs_answer(fault):
                return fault_response(fault, "json")
            try:
                if service == "compute":
                    answer = self._compute(request, region_name, base, rest)
                elif service == "volume":
                    answer = self._volume(request, region_name, base, rest)
                else:
                    answer = self._network(request, region_name, base, rest)
            except _ApiError as exc:
                answer = exc.response
            return fault_response(fault, "json", answer) if fault is not None else answer
        except _ApiError as exc:
            return exc.response

    def _due_fault(self, request: Request, region_name: str) -> Fault | None:
        """The fault this service call of a project and region gets (Keystone plays none)."""
        with self._lock:
            token = self._tokens.get(request.headers.get("x-auth-token", ""))
        project = token.project if token is not None else None
        region = project.regions.get(region_name) if project is not None else None
        if project is None or region is None:
            return None
        return self.faults.due(self.scope_key(project.name, region.region), [*project.faults, *region.faults],
                               request.path)

    # -- Keystone ---------------------------------------------------------------------------------
    def _identity(self, request: Request, path: str) -> Response:
        base = self.auth_url
        if path == "/identity" and request.method == "GET":
            return Response.json(keystone_versions(base), 300)
        if path == "/identity/v3" and request.method == "GET":
            return Response.json(keystone_v3(base))
        if path == "/identity/v3/auth/tokens" and request.method == "POST":
            return self._issue_token(request)
        raise _error(404, "error", f"no such identity path: {request.path}")

    def _issue_token(self, request: Request) -> Response:
        try:
            auth = request.json()["auth"]
            identity = auth["identity"]
            methods = list(identity["methods"])
        except (ValueError, KeyError, TypeError) as exc:
            raise _error(400, "error", "malformed authentication request") from exc
        unauthorized = _error(401, "error", "The request you have made requires authentication.")
        project: ProjectState | None
        if "application_credential" in methods:
            cred = identity.get("application_credential") or {}
            project = next((p for p in self.projects.values() if p.app_credential_id == cred.get("id")), None)
            secret = str(cred.get("secret", ""))
            if project is None or not secrets.compare_digest(secret, project.app_credential_secret):
                raise unauthorized
        elif "password" in methods:
            user = (identity.get("password") or {}).get("user") or {}
            if user.get("name", user.get("id")) != SIM_USER or not secrets.compare_digest(
                    str(user.get("password", "")), self.password):
                raise unauthorized
            scope = (auth.get("scope") or {}).get("project")
            project = self._scoped_project(scope) if scope else None
            if scope and project is None:
                raise unauthorized  # Keystone: no role assignment on an unknown project
        else:
            raise unauthorized
        token = secrets.token_hex(16)
        expires = datetime.now(UTC) + timedelta(seconds=self.token_seconds)
        with self._lock:
            self._tokens[token] = _Token(project, methods, expires)
        return Response.json({"token": self._token_body(project, methods, expires)}, 201,
                             {"X-Subject-Token": token})

    def _scoped_project(self, scope: dict[str, Any]) -> ProjectState | None:
        if "id" in scope:
            return next((p for p in self.projects.values() if p.id == scope["id"]), None)
        domain = scope.get("domain") or {}
        if domain.get("name", "Default") != "Default" and domain.get("id", "default") != "default":
            return None
        return self.projects.get(str(scope.get("name")))

    def _token_body(self, project: ProjectState | None, methods: list[str],
                    expires: datetime | None = None) -> dict[str, Any]:
        now = datetime.now(UTC)
        expires = expires or now + timedelta(hours=1)
        body: dict[str, Any] = {
            "methods": methods, "audit_ids": [secrets.token_urlsafe(16)], "is_domain": False,
            "issued_at": now.strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
            "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "user": {"domain": DOMAIN, "id": uuid.uuid5(uuid.NAMESPACE_URL, SIM_USER).hex, "name": SIM_USER,
                     "password_expires_at": None},
        }
        if project is None:
            return body
        body["project"] = {"domain": DOMAIN, "id": project.id, "name": project.name}
        body["roles"] = [{"id": uuid.uuid5(uuid.NAMESPACE_URL, "reader").hex, "name": "reader"}]
        body["catalog"] = self._catalog(project)
        return body

    def _catalog(self, project: ProjectState) -> list[dict[str, Any]]:
        def service(kind: str, name: str, url: Callable[[str], str], regions: list[str]) -> dict[str, Any]:
            endpoints = [{"id": uuid.uuid5(uuid.NAMESPACE_URL, f"{kind}/{r}/{i}").hex, "interface": i,
                          "region": r, "region_id": r, "url": url(r)}
                         for r in regions for i in ("public", "internal")]
            return {"type": kind, "name": name, "id": uuid.uuid5(uuid.NAMESPACE_URL, kind).hex, "endpoints": endpoints}

        regions = list(project.regions)
        home = regions[:1] or ["RegionOne"]
        root = self.url
        return [
            service("identity", "keystone", lambda r: self.auth_url, home),
            service("compute", "nova", lambda r: f"{root}/{quote(r)}/compute/v2.1", regions),
            service("block-storage", "cinder", lambda r: f"{root}/{quote(r)}/volume/v3/{project.id}", regions),
            service("volumev3", "cinderv3", lambda r: f"{root}/{quote(r)}/volume/v3/{project.id}", regions),
            service("network", "neutron", lambda r: f"{root}/{quote(r)}/network", regions),
        ]

    # -- shared service-call checks ---------------------------------------------------------------
    def _authorize(self, request: Request, region_name: str, error: Callable[..., _ApiError]
                   ) -> tuple[ProjectState, RegionState]:
        with self._lock:
            token = self._tokens.get(request.headers.get("x-auth-token", ""))
        if token is None or token.project is None:
            raise error(401, "Unauthorized", "The request you have made requires authentication.")
        if token.expires is not None and token.expires <= datetime.now(UTC):
            with self._lock:
                self.expired_token_calls += 1
            raise error(401, "Unauthorized", "The request you have made requires authentication.")
        project = token.project
        region = project.regions.get(region_name)
        if region is None:
            raise error(404, "NotFound", f"project {project.name} has no region {region_name}")
        return project, region

    def _check_faults(self, project: ProjectState, region: RegionState, policy: str,
                      error: Callable[..., _ApiError]) -> None:
        throttled = self.throttle.should_throttle(self.scope_key(project.name), project.throttle_times)
        throttled = self.throttle.should_throttle(
            self.scope_key(project.name, region.region), region.throttle_times) or throttled
        if throttled:
            raise error(429, "OverLimit", "Rate limit exceeded: retry later.", {"Retry-After": "0"})
        if project.access == "forbidden" or region.access == "forbidden":
            raise error(403, "Forbidden", f"Policy doesn't allow {policy} to be performed.")

    def _page(self, items: list[Any], request: Request, url: str,
              error: Callable[..., _ApiError]) -> tuple[list[Any], list[dict[str, str]]]:
        """limit/marker paging; like Nova, a full page links to the next one even when it is the last."""
        try:
            limit = min(int(request.arg("limit") or self.page_size), self.page_size)
        except ValueError as exc:
            raise error(400, "BadRequest", "limit must be an integer") from exc
        start = 0
        marker = request.arg("marker")
        if marker:
            index = next((i for i, item in enumerate(items) if item.id == marker), None)
            if index is None:
                raise error(400, "BadRequest", f"marker [{marker}] not found")
            start = index + 1
        page = items[start:start + max(limit, 0)]
        links = []
        if page and len(page) == limit:
            after = (marker or "") if self.stuck_paging else page[-1].id
            links.append({"rel": "next", "href": f"{url}?limit={limit}" + (f"&marker={after}" if after else "")})
        return page, links

    # -- Nova -------------------------------------------------------------------------------------
    def _compute(self, request: Request, region_name: str, base: str, rest: str) -> Response:
        def error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> _ApiError:
            key = {400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound",
                   429: "overLimit"}.get(status, "computeFault")
            return _error(status, key, message, headers)

        if rest == "" and request.method == "GET":  # version discovery needs no token
            return Response.json({"versions": [nova_version(base)]}, 300)
        if rest == "/v2.1" and request.method == "GET":
            return Response.json({"version": nova_version(base)})
        if rest == "/v2.1/servers/detail" and request.method == "GET":
            project, region = self._authorize(request, region_name, error)
            version = _microversion(request, "compute") or (2, 1)
            if version > (2, 100):
                raise error(406, "NotAcceptable", f"Version {version[0]}.{version[1]} is not supported by the API.")
            self._check_faults(project, region, "os_compute_api:servers:detail", error)
            page, links = self._page(region.servers, request, f"{base}/v2.1/servers/detail", error)
            body: dict[str, Any] = {"servers": [server_payload(s, project, version, f"{base}/v2.1") for s in page]}
            if links:
                body["servers_links"] = links
            return Response.json(body, headers={
                "OpenStack-API-Version": f"compute {version[0]}.{version[1]}",
                "X-OpenStack-Nova-API-Version": f"{version[0]}.{version[1]}", "Vary": "OpenStack-API-Version"})
        one = re.fullmatch(r"/v2\.1/servers/(?P<id>[^/]+)", rest)
        if one is not None and one["id"] != "detail" and request.method == "GET":  # one server (a targeted re-read)
            project, region = self._authorize(request, region_name, error)
            version = _microversion(request, "compute") or (2, 1)
            self._check_faults(project, region, "os_compute_api:servers:show", error)
            found = [s for s in region.servers if s.id == one["id"]]
            if not found:
                raise error(404, "NotFound", f"Instance {one['id']} could not be found.")
            return Response.json({"server": server_payload(found[0], project, version, f"{base}/v2.1")}, headers={
                "OpenStack-API-Version": f"compute {version[0]}.{version[1]}",
                "X-OpenStack-Nova-API-Version": f"{version[0]}.{version[1]}", "Vary": "OpenStack-API-Version"})
        if rest == "/v2.1/flavors/detail" and request.method == "GET":  # the region's catalogue
            project, region = self._authorize(request, region_name, error)
            if project.access == "forbidden" or region.access == "forbidden":
                raise error(403, "Forbidden", "Policy doesn't allow os_compute_api:os-flavor-manage to be performed.")
            flavors = self.flavor_overrides.get(region_name)
            if flavors is None:
                flavors = [hardware.nova_flavor(t, f"{base}/v2.1")
                           for t in hardware.offered(self.landscape, "openstack", region_name)]
            return Response.json({"flavors": flavors})
        raise error(404, "NotFound", f"no such compute path: {request.path}")

    # -- Cinder -----------------------------------------------------------------------------------
    def _volume(self, request: Request, region_name: str, base: str, rest: str) -> Response:
        def error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> _ApiError:
            key = {400: "badRequest", 401: "error", 403: "forbidden", 404: "itemNotFound",
                   429: "overLimit"}.get(status, "computeFault")
            return _error(status, key, message, headers)

        if rest == "" and request.method == "GET":
            return Response.json({"versions": [cinder_version(base)]}, 300)
        if rest == "/v3" and request.method == "GET":
            return Response.json({"versions": [cinder_version(base)]})
        match = re.fullmatch(r"/v3/(?P<project>[0-9a-f]+)(?P<tail>/.*)?", rest)
        if match is None:
            raise error(404, "NotFound", f"no such volume path: {request.path}")
        project, region = self._authorize(request, region_name, error)
        if match["project"] != project.id:
            raise error(403, "Forbidden", "the token's project does not match the URL")
        if match["tail"] in (None, ""):
            return Response.json({"versions": [cinder_version(base)]})
        if match["tail"] == "/volumes/detail" and request.method == "GET":
            version = _microversion(request, "volume") or (3, 0)
            self._check_faults(project, region, "volume:get_all", error)
            url = f"{base}/v3/{project.id}/volumes/detail"
            page, links = self._page(region.volumes, request, url, error)
            body: dict[str, Any] = {"volumes": [volume_payload(v, project, f"{base}/v3/{project.id}") for v in page]}
            if links:
                body["volumes_links"] = links
            return Response.json(body, headers={"OpenStack-API-Version": f"volume {version[0]}.{version[1]}"})
        one = re.fullmatch(r"/volumes/(?P<id>[^/]+)", match["tail"] or "")
        if one is not None and one["id"] != "detail" and request.method == "GET":  # one volume
            self._check_faults(project, region, "volume:get", error)
            found = [v for v in region.volumes if v.id == one["id"]]
            if not found:
                raise error(404, "NotFound", f"Volume {one['id']} could not be found.")
            return Response.json({"volume": volume_payload(found[0], project, f"{base}/v3/{project.id}")})
        raise error(404, "NotFound", f"no such volume path: {request.path}")

    # -- Neutron ----------------------------------------------------------------------------------
    def _network(self, request: Request, region_name: str, base: str, rest: str) -> Response:
        error = _neutron_error
        if rest == "" and request.method == "GET":
            return Response.json(neutron_versions(base))
        if rest in ("/v2.0/floatingips", "/v2.0/ports") and request.method == "GET":
            project, region = self._authorize(request, region_name, error)
            kind = rest.rsplit("/", 1)[1]
            self._check_faults(project, region, f"get_{kind[:-1] if kind == 'ports' else 'floatingip'}", error)
            items: list[Any] = region.floating_ips if kind == "floatingips" else region.ports
            items = [item for item in items if self._matches(item, request)]
            page, links = self._page(items, request, f"{base}{rest}", error)
            payloads: Iterator[dict[str, Any]] = (
                floating_ip_payload(i, project, self.fip_port_details) if kind == "floatingips"
                else port_payload(i, project) for i in page)
            body: dict[str, Any] = {kind: list(payloads)}
            if links:
                body[f"{kind}_links"] = links
            return Response.json(body)
        raise error(404, "HTTPNotFound", f"no such network path: {request.path}")

    @staticmethod
    def _matches(item: SimPort | SimFloatingIP, request: Request) -> bool:
        """Neutron's equality filters (repeated parameters mean 'any of'), for the fields we serve."""
        fields = {"id": item.id}
        if isinstance(item, SimPort):
            fields |= {"device_id": item.device_id, "device_owner": item.device_owner, "network_id": item.network_id}
        else:
            fields |= {"port_id": item.port_id or "", "floating_ip_address": item.address}
        for name, value in fields.items():
            wanted = request.query.get(name)
            if wanted is not None and value not in wanted:
                return False
        return True
