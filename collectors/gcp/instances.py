"""Compute Engine instances -> InstanceRecord, plus each instance's own (ephemeral) external IPs."""

from __future__ import annotations

from collections.abc import Container, Iterator, Mapping
from typing import Any

from google.api_core.retry import Retry
from google.cloud import compute_v1

from collectors.base_settings import DEFAULT_MAX_PAGES
from collectors.gcp import gardener_marks
from collectors.gcp.provider_id import format_provider_id
from collectors.gcp.rest import aggregated_items, api_json
from collectors.gcp.timestamps import parse_timestamp
from collectors.gcp.urls import last_segment, region_of_zone, resource_path
from collectors.records import InstanceRecord, IPRecord, Record

# Compute Engine status -> graphinv's provider-neutral status. A stopped VM is TERMINATED in GCP
# (it still exists and can be started); deleted VMs simply vanish from the lists.
NEUTRAL_STATUS: dict[str, str] = {
    "PROVISIONING": "pending",
    "STAGING": "pending",
    "PENDING": "pending",
    "REPAIRING": "pending",
    "RUNNING": "running",
    "STOPPING": "stopping",
    "SUSPENDING": "stopping",
    "PENDING_STOP": "stopping",
    "STOPPED": "stopped",
    "SUSPENDED": "stopped",
    "TERMINATED": "stopped",
    "DEPROVISIONING": "shutting-down",
}


def instance_uid(project: str, zone: str, name: str) -> str:
    return f"projects/{project}/zones/{zone}/instances/{name}"


def ephemeral_ip_uid(project: str, address: str) -> str:
    return f"gcp:{project}:{address}"


def nat_ips(inst: Mapping[str, Any]) -> list[str]:
    """The external (NAT) addresses of every access config of every network interface, in order."""
    return [access["natIP"] for nic in inst.get("networkInterfaces") or () for access in nic.get("accessConfigs") or ()
            if access.get("natIP")]


def instance_record(project: str, instance: Mapping[str, Any] | compute_v1.Instance) -> InstanceRecord:
    """One instance, as the API's JSON (or the SDK's message of it)."""
    inst = api_json(instance)
    name = inst.get("name", "")
    zone = last_segment(inst.get("zone", ""))
    region = region_of_zone(zone)
    labels = dict(inst.get("labels") or {})
    network_tags = list((inst.get("tags") or {}).get("items") or ())
    cluster = gardener_marks.cluster_of(labels, network_tags)
    nics = inst.get("networkInterfaces") or ()
    first_nic = nics[0] if nics else None
    addresses = nat_ips(inst)
    status = inst.get("status", "")
    return InstanceRecord(
        uid=instance_uid(project, zone, name),
        provider="gcp",
        account_id=project,
        region=region,
        zone=zone,
        name=name,
        state=status.lower() if status else None,
        status=NEUTRAL_STATUS.get(status, "unknown") if status else "unknown",
        tags=labels,
        created=parse_timestamp(inst.get("creationTimestamp")),
        cluster=cluster,
        instance_type=last_segment(inst.get("machineType", "")) or None,
        role=gardener_marks.role_of(network_tags, name),
        private_ip=(first_nic.get("networkIP") or None) if first_nic else None,
        public_ip=addresses[0] if addresses else None,
        network=(last_segment(first_nic.get("network", "")) or None) if first_nic else None,
        provider_id=format_provider_id(project, zone, name),
        cluster_name_key=f"{cluster}/{name}" if cluster else None,
    )


def ephemeral_ips(project: str, instance: Mapping[str, Any] | compute_v1.Instance, record: InstanceRecord,
                  reserved: Container[str]) -> Iterator[IPRecord]:
    """The instance's external NAT IPs that are not a reserved Address (those come as Address)."""
    inst = api_json(instance)
    self_link = inst.get("selfLink")
    seen: set[str] = set()
    for nic in inst.get("networkInterfaces") or ():
        for access in nic.get("accessConfigs") or ():
            address = access.get("natIP")
            if not address or address in reserved or address in seen:
                continue
            seen.add(address)
            yield IPRecord(
                uid=ephemeral_ip_uid(project, address),
                provider="gcp",
                account_id=project,
                region=record.region,
                zone=record.zone,
                name=access.get("name") or None,
                state="in_use",
                created=record.created,
                cluster=record.cluster,
                address=address,
                ephemeral=True,
                allocation="dynamic",
                attached=True,
                attached_to=resource_path(self_link) if self_link else record.uid,
                instance_ref=record.uid,
            )


def collect_instances(client: compute_v1.InstancesClient, project: str,
                      reserved_ips: Container[str] = frozenset(),
                      retry: Retry | None = None,
                      page_size: int | None = None, timeout: float | None = None,
                      max_pages: int = DEFAULT_MAX_PAGES) -> Iterator[Record]:
    """Every instance of the project (all zones, page by page, as JSON through the client's own
    transport: collectors/gcp/rest.py) and its ephemeral external IPs."""
    for _scope, inst in aggregated_items(client, project, "instances", f"instances of {project}", retry, page_size,
                                         timeout, max_pages):
        record = instance_record(project, inst)
        yield record
        yield from ephemeral_ips(project, inst, record, reserved_ips)
