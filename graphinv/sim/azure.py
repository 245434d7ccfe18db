"""The simulated Azure: Azure Resource Manager list APIs plus a Microsoft Entra token endpoint, over
https, serving the `provider: azure` accounts of a landscape (account id = subscription id).

What it serves (paths are matched case-insensitively, as ARM does):
- `GET /{tenant}/v2.0/.well-known/openid-configuration` and `POST /{tenant}/oauth2/v2.0/token`
  (client credentials with a secret, or with a federated client assertion as workload identity
  uses): enough for a real azure-identity credential built with `authority=<this server>` and
  `disable_instance_discovery=True`.
- `GET /subscriptions/{s}/providers/Microsoft.Compute/virtualMachines` (`statusOnly=true` or
  `$expand=instanceView` add the instance view with the power state), `.../Microsoft.Compute/disks`,
  `.../Microsoft.Network/publicIPAddresses`, `.../Microsoft.Network/networkInterfaces`.
  Every ARM request needs a bearer token this server issued (else 401) and an `api-version`
  (else 400). Lists come in pages of `page_size` with an absolute `nextLink` that carries the
  api-version and an opaque `$skiptoken`.

Faults: an account (or any of its regions, since these lists are subscription-wide) with
`access: forbidden` answers 403 AuthorizationFailed; `throttle_times` (the account's plus its
regions') makes the first N ARM requests of that subscription answer 429 with `Retry-After: 1`.

Gardener conventions mirrored (see docs/providers/azure.md for the sources): a shoot's resources
live in the resource group named like its technical id; worker VMs carry the tags `Name`,
`kubernetes.io-cluster-<technical id>` and `kubernetes.io-role-node`; bastion VMs carry `Name` and
`Type: gardenctl`; NICs and OS disks are named `<vm>-nic` and `<vm>-os-disk`. Resource ids come in
the mixed case real Azure returns (upper-cased resource groups in `managedBy` and NIC
`virtualMachine.id`, `resourcegroups` in public IP configuration ids), so clients must compare ids
case-insensitively.

A landscape instance in state `terminated` is not served (Azure forgets deleted VMs); its disks
are served unattached and its public IPs without an ip configuration - the leftovers a deleted VM
leaves behind.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from graphinv.sim import hardware
from graphinv.sim.base import Throttle
from graphinv.sim.faults import FaultPlan, fault_response, needs_answer
from graphinv.sim.http import Request, Response, SimHTTPServer
from graphinv.sim.landscape import Account, Disk, Fault, Instance, Landscape, PublicIP, Region, technical_id
from graphinv.sim.tls import self_signed_cert

DEFAULT_CREATED = "2024-01-15T08:00:00.0000000+00:00"
DELETED_AT = "2024-06-01T12:00:00.0000000+00:00"  # when the landscape's terminated VMs went away
ARM_SCOPE = "https://management.azure.com/.default"

# Landscape (provider-neutral) instance state -> Azure power state code suffix.
POWER_STATES = {
    "running": "running",
    "stopped": "stopped",
    "deallocated": "deallocated",
    "pending": "starting",
    "stopping": "stopping",
    "shutting-down": "deallocating",
    "unknown": "unknown",
}
DISK_STATES = {s.lower(): s for s in ("Attached", "Unattached", "Reserved", "ActiveSAS", "ReadyToUpload",
                                      "ActiveUpload", "ActiveSASFrozen", "Frozen")}

# (provider namespace, resource type), lower-cased -> which list the path serves.
LISTS = {
    ("microsoft.compute", "virtualmachines"): "vms",
    ("microsoft.compute", "disks"): "disks",
    ("microsoft.network", "publicipaddresses"): "ips",
    ("microsoft.network", "networkinterfaces"): "nics",
    ("microsoft.compute", "skus"): "skus",  # resource SKUs: the machine type catalogue
}


def _arm_id(sub: str, rg: str, provider: str, rtype: str, name: str, rg_word: str = "resourceGroups") -> str:
    return f"/subscriptions/{sub}/{rg_word}/{rg}/providers/{provider}/{rtype}/{name}"


def _shoot_rg(shoot: str | None) -> str | None:
    if not shoot:
        return None
    project, _, name = shoot.partition("/")
    return technical_id(project, name)


@dataclass
class _VM:
    inst: Instance
    sub: str
    rg: str
    location: str
    zone: str | None
    served: bool
    private_ip: str
    vm_uuid: str
    os_disk: _Disk | None = None
    data_disks: list[_Disk] = field(default_factory=list)
    public_ips: list[_IP] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.inst.name

    @property
    def id(self) -> str:
        return _arm_id(self.sub, self.rg, "Microsoft.Compute", "virtualMachines", self.name)

    @property
    def id_as_referenced(self) -> str:
        # Real Azure upper-cases the resource group in references to a VM (disk managedBy, NIC).
        return _arm_id(self.sub, self.rg.upper(), "Microsoft.Compute", "virtualMachines", self.name)

    @property
    def nic_name(self) -> str:
        return f"{self.name}-nic"

    @property
    def nic_id(self) -> str:
        return _arm_id(self.sub, self.rg, "Microsoft.Network", "networkInterfaces", self.nic_name)

    def ip_config_name(self, index: int) -> str:
        return f"ipconfig{index + 1}"


@dataclass
class _Disk:
    disk: Disk
    sub: str
    rg: str
    location: str
    name: str
    zone: str | None
    os_disk: bool
    vm: _VM | None = None
    lun: int | None = None

    @property
    def id(self) -> str:
        return _arm_id(self.sub, self.rg, "Microsoft.Compute", "disks", self.name)


@dataclass
class _IP:
    ip: PublicIP
    sub: str
    rg: str
    location: str
    name: str
    address: str
    dynamic: bool
    vm: _VM | None = None
    ip_config_index: int = 0

    @property
    def id(self) -> str:
        return _arm_id(self.sub, self.rg, "Microsoft.Network", "publicIPAddresses", self.name)


@dataclass
class _Subscription:
    id: str
    forbidden: bool
    throttle_times: int
    vms: list[_VM] = field(default_factory=list)
    # ARM reads are subscription-wide: the account's faults and all its regions' count.
    faults: list[Fault] = field(default_factory=list)
    disks: list[_Disk] = field(default_factory=list)
    ips: list[_IP] = field(default_factory=list)
    skus: list[dict[str, Any]] = field(default_factory=list)  # resource SKUs (API shape), per location


class _Builder:
    """Turns the landscape's azure accounts into simulated subscriptions with deterministic ids."""

    def __init__(self, landscape: Landscape) -> None:
        self.landscape = landscape
        self._used_addresses: set[str] = set()

    def _det(self, *parts: str) -> bytes:
        return hashlib.sha256("/".join([str(self.landscape.seed), *parts]).encode()).digest()

    def _public_address(self, sub: str, key: str) -> str:
        salt = 0
        while True:
            d = self._det("pip", sub, key, str(salt))
            address = f"20.{50 + d[0] % 100}.{d[1]}.{1 + d[2] % 254}"
            if address not in self._used_addresses:
                self._used_addresses.add(address)
                return address
            salt += 1

    def build(self) -> dict[str, _Subscription]:
        subs: dict[str, _Subscription] = {}
        for account in self.landscape.accounts:
            if account.provider != "azure":
                continue
            subs[account.id.lower()] = self._subscription(account)
        return subs

    def _subscription(self, account: Account) -> _Subscription:
        sub = _Subscription(
            id=account.id,
            forbidden=account.access == "forbidden" or any(r.access == "forbidden" for r in account.regions),
            throttle_times=account.throttle_times + sum(r.throttle_times for r in account.regions),
            faults=[*account.faults, *(f for r in account.regions for f in r.faults)],
        )
        sub.skus = [hardware.azure_sku(t, r.name) for r in account.regions
                    for t in hardware.offered(self.landscape, "azure", r.name)]
        vms_by_key: dict[str, _VM] = {}
        private_counter = 0
        for region in account.regions:
            for inst in region.instances:
                rg = _shoot_rg(inst.shoot) or f"rg-{region.name}"
                zone = inst.zone or (region.zones[0] if region.zones else None)
                vm = _VM(
                    inst=inst, sub=account.id, rg=rg, location=region.name, zone=zone,
                    served=inst.state != "terminated",
                    private_ip=f"10.250.{private_counter // 250}.{4 + private_counter % 250}",
                    vm_uuid=str(uuid.UUID(bytes=self._det("vm", account.id, inst.key)[:16], version=4)),
                )
                private_counter += 1
                vms_by_key[inst.key] = vm
                sub.vms.append(vm)
        for region in account.regions:
            for inst in region.instances:
                vm = vms_by_key[inst.key]
                for disk in inst.disks:
                    self._disk(sub, region, disk, vm)
            for disk in region.disks:
                self._disk(sub, region, disk, vms_by_key.get(disk.attached_to or ""))
        for region in account.regions:
            for inst in region.instances:
                vm = vms_by_key[inst.key]
                if vm.os_disk is None:  # the implicit boot disk every VM has
                    self._disk(sub, region, Disk(key=f"{inst.key}/os-disk", boot=True, shoot=inst.shoot), vm)
                if inst.public_ip:
                    own = PublicIP(key=f"{inst.key}/public-ip", name=f"{inst.name}-pip", shoot=inst.shoot)
                    self._ip(sub, region, own, vm, dynamic=True)
            for ip in region.ips:
                self._ip(sub, region, ip, vms_by_key.get(ip.attached_to or ""), dynamic=False)
        return sub

    def _disk(self, sub: _Subscription, region: Region, disk: Disk, vm: _VM | None) -> _Disk:
        os_disk = disk.boot and vm is not None and vm.os_disk is None
        rg = _shoot_rg(disk.shoot) or (vm.rg if vm else f"rg-{region.name}")
        if disk.name:
            name = disk.name
        elif os_disk and vm:
            name = f"{vm.name}-os-disk"
        elif vm:
            name = f"{vm.name}-{disk.key}-{len(vm.data_disks)}-data-disk"
        else:
            name = disk.key
        zone = disk.zone or (vm.zone if vm else (region.zones[0] if region.zones else None))
        entry = _Disk(disk=disk, sub=sub.id, rg=rg, location=region.name, name=name, zone=zone,
                      os_disk=os_disk, vm=vm)
        if vm is not None:
            if os_disk:
                vm.os_disk = entry
            else:
                entry.lun = len(vm.data_disks)
                vm.data_disks.append(entry)
        sub.disks.append(entry)
        return entry

    def _ip(self, sub: _Subscription, region: Region, ip: PublicIP, vm: _VM | None, dynamic: bool) -> _IP:
        rg = _shoot_rg(ip.shoot) or (vm.rg if vm else f"rg-{region.name}")
        entry = _IP(ip=ip, sub=sub.id, rg=rg, location=region.name, name=ip.name or ip.key,
                    address=ip.address or self._public_address(sub.id, ip.key), dynamic=dynamic, vm=vm)
        if vm is not None:
            entry.ip_config_index = len(vm.public_ips)
            vm.public_ips.append(entry)
        sub.ips.append(entry)
        return entry


# -- payloads -----------------------------------------------------------------------------------
def _gardener_tags(shoot: str | None, role: str | None, name: str) -> dict[str, str]:
    tid = _shoot_rg(shoot)
    if tid is None:
        return {}
    if role == "bastion":
        return {"Name": name, "Type": "gardenctl"}
    return {"Name": tid, f"kubernetes.io-cluster-{tid}": "1", "kubernetes.io-role-node": "1"}


def _vm_role(inst: Instance) -> str | None:
    if inst.role:
        return inst.role
    return "node" if inst.shoot else None


def _vm_payload(vm: _VM, with_instance_view: bool) -> dict[str, Any]:
    inst = vm.inst
    storage: dict[str, Any] = {
        "imageReference": {"publisher": "SUSE", "offer": "gardenlinux", "sku": "greatest",
                           "version": "1592.1.0"},
        "dataDisks": [
            {
                "lun": d.lun, "name": d.name, "createOption": "Attach", "caching": "None",
                "diskSizeGB": d.disk.size_gb,
                "managedDisk": {"storageAccountType": d.disk.type or "StandardSSD_LRS",
                                "id": _arm_id(d.sub, d.rg.upper(), "Microsoft.Compute", "disks", d.name)},
            }
            for d in vm.data_disks
        ],
    }
    if vm.os_disk is not None:
        d = vm.os_disk
        storage["osDisk"] = {
            "osType": "Linux", "name": d.name, "createOption": "FromImage", "caching": "ReadWrite",
            "diskSizeGB": d.disk.size_gb,
            "managedDisk": {"storageAccountType": d.disk.type or "StandardSSD_LRS",
                            "id": _arm_id(d.sub, d.rg.upper(), "Microsoft.Compute", "disks", d.name)},
        }
    properties: dict[str, Any] = {
        "vmId": vm.vm_uuid,
        "hardwareProfile": {"vmSize": inst.type},
        "storageProfile": storage,
        "osProfile": {"computerName": vm.name, "adminUsername": "gardener",
                      "linuxConfiguration": {"disablePasswordAuthentication": True}},
        "networkProfile": {"networkInterfaces": [{"id": vm.nic_id, "properties": {"primary": True}}]},
        "provisioningState": "Succeeded",
        "timeCreated": inst.created or DEFAULT_CREATED,
    }
    if with_instance_view:
        power = POWER_STATES.get(inst.state, "unknown")
        properties["instanceView"] = {"statuses": [
            {"code": "ProvisioningState/succeeded", "level": "Info",
             "displayStatus": "Provisioning succeeded"},
            {"code": f"PowerState/{power}", "level": "Info", "displayStatus": f"VM {power}"},
        ]}
    body: dict[str, Any] = {
        "id": vm.id, "name": vm.name, "type": "Microsoft.Compute/virtualMachines", "location": vm.location,
        "tags": {**_gardener_tags(inst.shoot, _vm_role(inst), vm.name), **inst.tags},
        "properties": properties,
    }
    if vm.zone:
        body["zones"] = [vm.zone]
    return body


def _vnet_subnet(vm: _VM) -> str:
    if vm.rg.startswith("shoot--"):
        vnet, subnet = vm.rg, f"{vm.rg}-nodes"
    else:
        vnet, subnet = f"{vm.rg}-vnet", "default"
    return _arm_id(vm.sub, vm.rg, "Microsoft.Network", "virtualNetworks", vnet) + f"/subnets/{subnet}"


def _nic_payload(vm: _VM) -> dict[str, Any]:
    configs = []
    for index in range(max(1, len(vm.public_ips))):
        config_props: dict[str, Any] = {
            "primary": index == 0, "privateIPAddressVersion": "IPv4", "privateIPAllocationMethod": "Dynamic",
            "provisioningState": "Succeeded", "subnet": {"id": _vnet_subnet(vm)},
        }
        if index == 0:
            config_props["privateIPAddress"] = vm.private_ip
        if index < len(vm.public_ips):
            config_props["publicIPAddress"] = {"id": vm.public_ips[index].id}
        configs.append({"name": vm.ip_config_name(index), "id": f"{vm.nic_id}/ipConfigurations/"
                        f"{vm.ip_config_name(index)}", "properties": config_props})
    properties: dict[str, Any] = {
        "provisioningState": "Succeeded", "ipConfigurations": configs, "primary": True,
        "enableAcceleratedNetworking": False, "enableIPForwarding": True,
        "macAddress": "00-0D-3A-" + "-".join(f"{b:02X}" for b in uuid.UUID(vm.vm_uuid).bytes[:3]),
    }
    if vm.served:
        properties["virtualMachine"] = {"id": vm.id_as_referenced}
    return {
        "id": vm.nic_id, "name": vm.nic_name, "type": "Microsoft.Network/networkInterfaces",
        "location": vm.location, "tags": _gardener_tags(vm.inst.shoot, _vm_role(vm.inst), vm.name),
        "properties": properties,
    }


def _disk_payload(d: _Disk) -> dict[str, Any]:
    attached = d.vm is not None and d.vm.served
    if d.disk.state:
        state = DISK_STATES.get(d.disk.state.lower(), d.disk.state)
    elif attached and d.vm is not None:
        # A disk of a deallocated VM stays reserved for it.
        state = "Reserved" if d.vm.inst.state == "deallocated" else "Attached"
    else:
        state = "Unattached"
    properties: dict[str, Any] = {
        "creationData": {"createOption": "FromImage" if d.os_disk else "Empty"},
        "diskSizeGB": d.disk.size_gb,
        "diskSizeBytes": d.disk.size_gb * 1024**3,
        "diskState": state,
        "provisioningState": "Succeeded",
        "timeCreated": d.disk.created or DEFAULT_CREATED,
        "encryption": {"type": "EncryptionAtRestWithPlatformKey"},
    }
    if d.os_disk:
        properties["osType"] = "Linux"
    if d.vm is not None:
        # Ownership last changed when the VM took the disk, or (VM deleted) when it let go of it.
        properties["LastOwnershipUpdateTime"] = (d.vm.inst.created or DEFAULT_CREATED) if attached \
            else DELETED_AT
    body: dict[str, Any] = {
        "id": d.id, "name": d.name, "type": "Microsoft.Compute/disks", "location": d.location,
        "sku": {"name": d.disk.type or "StandardSSD_LRS", "tier": "Standard"},
        "tags": {**(_gardener_tags(d.disk.shoot, _vm_role(d.vm.inst), d.vm.name) if d.vm else {}),
                 **d.disk.tags},
        "properties": properties,
    }
    if attached and d.vm is not None:
        body["managedBy"] = d.vm.id_as_referenced
    if d.zone:
        body["zones"] = [d.zone]
    return body


def _ip_payload(ip: _IP) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "provisioningState": "Succeeded", "publicIPAddressVersion": "IPv4",
        "publicIPAllocationMethod": "Dynamic" if ip.dynamic else "Static", "idleTimeoutInMinutes": 4,
        "ipAddress": ip.address,
    }
    if ip.vm is not None and ip.vm.served:
        # This reference uses `resourcegroups`, as real Azure often does here.
        properties["ipConfiguration"] = {"id": _arm_id(
            ip.sub, ip.vm.rg, "Microsoft.Network", "networkInterfaces", ip.vm.nic_name,
            rg_word="resourcegroups",
        ) + f"/ipConfigurations/{ip.vm.ip_config_name(ip.ip_config_index)}"}
    tags = dict(ip.ip.tags)
    tid = _shoot_rg(ip.ip.shoot)
    if tid and ip.vm is None:
        tags = {"managed-by-gardener": "true", "gardener-shoot-name": tid, **tags}
    return {
        "id": ip.id, "name": ip.name, "type": "Microsoft.Network/publicIPAddresses", "location": ip.location,
        "sku": {"name": "Basic" if ip.dynamic else "Standard", "tier": "Regional"},
        "tags": tags, "properties": properties,
    }


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response.json({"error": {"code": code, "message": message}}, status, headers)


class AzureSim:
    """Implements graphinv.sim.base.CloudSim for the landscape's `provider: azure` accounts."""

    provider = "azure"

    def __init__(self, landscape: Landscape, workdir: Path, page_size: int = 100,
                 token_seconds: int = 3599) -> None:
        # Lifetime of the access tokens the token endpoint hands out; ARM refuses them after it
        # (401 ExpiredAuthenticationToken), so clients must fetch new ones.
        self.token_seconds = token_seconds
        self.expired_token_calls = 0
        self.landscape = landscape
        self.workdir = Path(workdir)
        self.page_size = page_size
        self.subscriptions = _Builder(landscape).build()
        seed = f"{landscape.seed}/{landscape.name}"
        self.tenant_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"graphinv-sim-tenant/{seed}"))
        self.client_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"graphinv-sim-client/{seed}"))
        self.client_secret = secrets.token_urlsafe(24)
        self.federated_token = secrets.token_urlsafe(32)
        self.throttle = Throttle()
        self.faults = FaultPlan()
        self._tokens: dict[str, float] = {}  # token -> when it expires (time.time())
        self._lock = threading.Lock()
        self.arm_requests = 0  # ARM requests answered so far (tests count pages and retries with it)
        self._server: SimHTTPServer | None = None
        self.cert: Path | None = None
        self.federated_token_file: Path | None = None

    # -- CloudSim ---------------------------------------------------------------------------------
    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        cert = self_signed_cert(self.workdir / "tls")
        self.cert = cert.cert
        self.federated_token_file = self.workdir / "federated-token"
        self.federated_token_file.write_text(self.federated_token)
        self._server = SimHTTPServer(self.handle, tls=cert.tls, name="azure").start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the Azure simulator is not started")
        return self._server.url

    def provider_ids(self) -> dict[str, str]:
        return {
            vm.inst.key: f"azure://{vm.id}"
            for sub in self.subscriptions.values() for vm in sub.vms
        }

    def resource_ids(self) -> dict[str, tuple[str, str]]:
        """Landscape key -> (label, uid the Azure collector writes: the ARM id lower-cased) for every
        served VM, disk and public IP; implicit OS disks as `<instance key>/os-disk`, instances' own
        public IPs as `<instance key>/public-ip`. Terminated VMs are not served; their disks and IPs are."""
        out: dict[str, tuple[str, str]] = {}
        for sub in self.subscriptions.values():
            out.update({vm.inst.key: ("Instance", vm.id.lower()) for vm in sub.vms if vm.served})
            out.update({d.disk.key: ("Disk", d.id.lower()) for d in sub.disks})
            out.update({ip.ip.key: ("IP", ip.id.lower()) for ip in sub.ips})
        return out

    def source_config(self) -> dict[str, Any]:
        return {
            "base_url": self.url,
            "connection_verify": str(self.cert),
            "credential": {
                "type": "client_secret",
                "tenant_id": self.tenant_id,
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "authority": self.url,
                "disable_instance_discovery": True,
            },
            "subscriptions": [sub.id for sub in self.subscriptions.values()],
        }

    # -- HTTP -------------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        parts = [p for p in request.path.split("/") if p]
        lowered = [p.lower() for p in parts]
        if len(parts) == 4 and lowered[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            return self._openid_configuration(parts[0])
        if len(parts) == 4 and lowered[1:] == ["oauth2", "v2.0", "token"] and request.method == "POST":
            return self._token(parts[0], request)
        if len(parts) == 5 and lowered[0] == "subscriptions" and lowered[2] == "providers":
            kind = LISTS.get((lowered[3], lowered[4]))
            if kind is not None and request.method == "GET":
                return self._arm_list(parts[1], kind, request)
        if len(parts) == 8 and lowered[0] == "subscriptions" and lowered[2] == "resourcegroups" \
                and lowered[4] == "providers":  # one resource by its ARM id (a targeted re-read)
            kind = LISTS.get((lowered[5], lowered[6]))
            if kind is not None and request.method == "GET":
                return self._arm_list(parts[1], kind, request, one=request.path)
        return _error(404, "NotFound", f"no simulated API at {request.method} {request.path}")

    def _openid_configuration(self, tenant: str) -> Response:
        if tenant != self.tenant_id:
            return Response.json({"error": "invalid_tenant",
                                  "error_description": f"AADSTS90002: Tenant '{tenant}' not found."}, 400)
        base = f"{self.url}/{tenant}"
        return Response.json({
            "issuer": f"{base}/v2.0",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
            "response_types_supported": ["code", "id_token", "token"],
            "tenant_region_scope": "EU",
        })

    def _token(self, tenant: str, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if tenant != self.tenant_id:
            return Response.json({"error": "invalid_request",
                                  "error_description": f"AADSTS90002: Tenant '{tenant}' not found."}, 400)
        if form.get("grant_type") != "client_credentials":
            return Response.json({"error": "unsupported_grant_type"}, 400)
        if form.get("client_id") != self.client_id:
            return Response.json({"error": "unauthorized_client", "error_description":
                                  "AADSTS700016: Application not found in the directory."}, 400)
        by_secret = secrets.compare_digest(form.get("client_secret", ""), self.client_secret)
        by_assertion = secrets.compare_digest(form.get("client_assertion", ""), self.federated_token)
        if not (by_secret or by_assertion):
            return Response.json({"error": "invalid_client",
                                  "error_description": "AADSTS7000215: Invalid client secret provided."}, 401)
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = time.time() + self.token_seconds
        return Response.json({"token_type": "Bearer", "expires_in": self.token_seconds,
                              "ext_expires_in": self.token_seconds,
                              "access_token": token})

    def _authorized(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        with self._lock:
            return scheme.lower() == "bearer" and token in self._tokens

    def _expired(self, request: Request) -> bool:
        token = request.headers.get("authorization", "").partition(" ")[2]
        with self._lock:
            expired = self._tokens.get(token, 0.0) <= time.time()
            self.expired_token_calls += expired
        return expired

    def _arm_list(self, subscription: str, kind: str, request: Request, one: str | None = None) -> Response:
        """A list page; with `one` (an ARM id), that resource alone, or 404 (ARM ids ignore case)."""
        with self._lock:
            self.arm_requests += 1
        if not self._authorized(request):
            return _error(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is "
                          "missing or not a valid bearer token.")
        if self._expired(request):
            return _error(401, "ExpiredAuthenticationToken",
                          "The access token expiry UTC time is earlier than current UTC time.")
        api_version = request.arg("api-version")
        if not api_version:
            return _error(400, "MissingApiVersionParameter",
                          "The api-version query parameter (?api-version=) is required for all requests.")
        sub = self.subscriptions.get(subscription.lower())
        if sub is None:
            return _error(404, "SubscriptionNotFound",
                          f"The subscription '{subscription}' could not be found.")
        if sub.forbidden:
            return _error(403, "AuthorizationFailed",
                          f"The client '{self.client_id}' does not have authorization to perform action "
                          f"'{request.path.split('/providers/')[-1]}/read' over scope "
                          f"'/subscriptions/{sub.id}' or the scope is invalid.")
        if self.throttle.should_throttle(sub.id, sub.throttle_times):
            return _error(429, "SubscriptionRequestsThrottled",
                          "Number of read requests for subscription exceeded the limit.",
                          {"Retry-After": "1"})
        fault = self.faults.due(f"azure:{sub.id}", sub.faults, request.path)
        if fault is not None and not needs_answer(fault):
            return fault_response(fault, "json")
        items = self._items(sub, kind, request)
        if one is not None:
            found = [item for item in items if str(item.get("id", "")).lower() == one.lower()]
            if not found:
                return _error(404, "ResourceNotFound", f"The Resource '{one.split('/providers/')[-1]}' "
                              "was not found.")
            return Response.json(found[0])
        offset = self._decode_skiptoken(request.arg("$skiptoken"))
        page = items[offset:offset + self.page_size]
        body: dict[str, Any] = {"value": page}
        if offset + self.page_size < len(items):
            query = {k: v[0] for k, v in request.query.items() if k != "$skiptoken"}
            query["$skiptoken"] = base64.urlsafe_b64encode(f"o:{offset + self.page_size}".encode()).decode()
            body["nextLink"] = f"{self.url}{request.path}?{urlencode(query)}"
        return fault_response(fault, "json", Response.json(body)) if fault is not None else Response.json(body)

    @staticmethod
    def _decode_skiptoken(token: str | None) -> int:
        if not token:
            return 0
        kind, _, value = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if kind != "o" or not value.isdigit():
            raise ValueError("malformed $skiptoken")
        return int(value)

    def _items(self, sub: _Subscription, kind: str, request: Request) -> list[dict[str, Any]]:
        if kind == "vms":
            status = (request.arg("statusOnly", "") or "").lower() == "true"
            expand = (request.arg("$expand", "") or "").lower() == "instanceview"
            return [_vm_payload(vm, status or expand) for vm in sub.vms if vm.served]
        if kind == "nics":
            return [_nic_payload(vm) for vm in sub.vms]
        if kind == "disks":
            return [_disk_payload(d) for d in sub.disks]
        if kind == "skus":  # `$filter=location eq '<location>'` keeps one location's SKUs
            wanted = re.findall(r"location eq '([^']*)'", request.arg("$filter", "") or "")
            return [sku for sku in sub.skus if not wanted or set(sku["locations"]) & set(wanted)]
        return [_ip_payload(ip) for ip in sub.ips]
