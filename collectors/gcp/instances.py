"""Compute Engine instances -> InstanceRecord, plus each instance's own (ephemeral) external IPs."""

from __future__ import annotations

from collections.abc import Container, Iterator

from google.api_core import gapic_v1
from google.api_core.retry import Retry
from google.cloud import compute_v1

from collectors.base_settings import DEFAULT_MAX_PAGES
from collectors.gcp import gardener_marks
from collectors.gcp.paging import aggregated_items
from collectors.gcp.provider_id import format_provider_id
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


def instance_record(project: str, inst: compute_v1.Instance) -> InstanceRecord:
    zone = last_segment(inst.zone)
    region = region_of_zone(zone)
    labels = dict(inst.labels)
    network_tags = list(inst.tags.items) if inst.tags else []
    cluster = gardener_marks.cluster_of(labels, network_tags)
    nics = list(inst.network_interfaces)
    first_nic = nics[0] if nics else None
    nat_ips = [ac.nat_i_p for nic in nics for ac in nic.access_configs if ac.nat_i_p]
    raw_state = inst.status.lower() if inst.status else None
    return InstanceRecord(
        uid=instance_uid(project, zone, inst.name),
        provider="gcp",
        account_id=project,
        region=region,
        zone=zone,
        name=inst.name,
        state=raw_state,
        status=NEUTRAL_STATUS.get(inst.status, "unknown") if inst.status else "unknown",
        tags=labels,
        created=parse_timestamp(inst.creation_timestamp),
        cluster=cluster,
        instance_type=last_segment(inst.machine_type) or None,
        role=gardener_marks.role_of(network_tags, inst.name),
        private_ip=(first_nic.network_i_p or None) if first_nic else None,
        public_ip=nat_ips[0] if nat_ips else None,
        network=(last_segment(first_nic.network) or None) if first_nic else None,
        provider_id=format_provider_id(project, zone, inst.name),
        cluster_name_key=f"{cluster}/{inst.name}" if cluster else None,
    )


def ephemeral_ips(project: str, inst: compute_v1.Instance, record: InstanceRecord,
                  reserved: Container[str]) -> Iterator[IPRecord]:
    """The instance's external NAT IPs that are not a reserved Address (those come as Address)."""
    seen: set[str] = set()
    for nic in inst.network_interfaces:
        for access in nic.access_configs:
            address = access.nat_i_p
            if not address or address in reserved or address in seen:
                continue
            seen.add(address)
            yield IPRecord(
                uid=ephemeral_ip_uid(project, address),
                provider="gcp",
                account_id=project,
                region=record.region,
                zone=record.zone,
                name=access.name or None,
                state="in_use",
                created=record.created,
                cluster=record.cluster,
                address=address,
                ephemeral=True,
                allocation="dynamic",
                attached=True,
                attached_to=resource_path(inst.self_link) if inst.self_link else record.uid,
                instance_ref=record.uid,
            )


def collect_instances(client: compute_v1.InstancesClient, project: str,
                      reserved_ips: Container[str] = frozenset(),
                      retry: Retry | None = None,
                      page_size: int | None = None, timeout: float | None = None,
                      max_pages: int = DEFAULT_MAX_PAGES) -> Iterator[Record]:
    """Every instance of the project (all zones, page by page) and its ephemeral external IPs."""
    request = compute_v1.AggregatedListInstancesRequest(project=project)
    if page_size:
        request.max_results = page_size
    how = retry if retry is not None else gapic_v1.method.DEFAULT
    pager = client.aggregated_list(request=request, retry=how, timeout=timeout or gapic_v1.method.DEFAULT)
    for _scope, scoped in aggregated_items(pager, f"instances of {project}", max_pages):
        for inst in scoped.instances:
            record = instance_record(project, inst)
            yield record
            yield from ephemeral_ips(project, inst, record, reserved_ips)
