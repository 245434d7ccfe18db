"""Gardener and machine-controller-manager objects (plain dicts from the API) -> records.

Every function takes one object as the API returns it and never fails on a missing field: a field
that is absent becomes None, so one odd object cannot stop a whole read.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from collectors.json_paths import dig
from collectors.provider_ids import instance_uid
from collectors.records import BastionRecord, MachineRecord, ProjectRecord, SeedRecord, ShootRecord

CREATED_BY = "gardener.cloud/created-by"


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_time(value: Any) -> datetime | None:
    """Kubernetes timestamps (`2024-05-01T10:00:00Z`) as aware datetimes."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def project_record(obj: dict[str, Any]) -> ProjectRecord:
    name = dig(obj, "metadata", "name") or ""
    return ProjectRecord(
        uid=name, name=name,
        namespace=_str(dig(obj, "spec", "namespace")),
        owner=_str(dig(obj, "spec", "owner", "name")),
        purpose=_str(dig(obj, "spec", "purpose")),
        phase=_str(dig(obj, "status", "phase")),
        created=parse_time(dig(obj, "metadata", "creationTimestamp")),
    )


def seed_record(obj: dict[str, Any]) -> SeedRecord:
    name = dig(obj, "metadata", "name") or ""
    return SeedRecord(
        uid=name, name=name,
        provider=_str(dig(obj, "spec", "provider", "type")),
        region=_str(dig(obj, "spec", "provider", "region")),
        created=parse_time(dig(obj, "metadata", "creationTimestamp")),
    )


def _project_from_technical_id(technical_id: str | None) -> str | None:
    # shoot--<project>--<shoot>: the project part, for a shoot whose namespace no listed project owns
    if technical_id and technical_id.startswith("shoot--"):
        parts = technical_id[len("shoot--"):].split("--", 1)
        if len(parts) == 2 and parts[0]:
            return parts[0]
    return None


def _workers(obj: dict[str, Any]) -> list[str]:
    out = []
    for worker in dig(obj, "spec", "provider", "workers") or []:
        if not isinstance(worker, dict):
            continue
        machine_type = dig(worker, "machine", "type") or "?"
        low, high = worker.get("minimum", "?"), worker.get("maximum", "?")
        out.append(f"{worker.get('name', '?')}:{machine_type}:{low}-{high}")
    return out


def shoot_record(obj: dict[str, Any], project_by_namespace: dict[str, str] | None = None) -> ShootRecord:
    name = dig(obj, "metadata", "name") or ""
    namespace = dig(obj, "metadata", "namespace") or ""
    technical_id = _str(dig(obj, "status", "technicalID"))
    seed_name = _str(dig(obj, "spec", "seedName")) or _str(dig(obj, "status", "seedName"))
    # Hibernated when asked for or reached: either way its machines are (being) removed on purpose.
    hibernated = bool(dig(obj, "spec", "hibernation", "enabled")) or bool(dig(obj, "status", "hibernated"))
    cloud_profile = _str(dig(obj, "spec", "cloudProfile", "name")) or _str(dig(obj, "spec", "cloudProfileName"))
    credentials = _str(dig(obj, "spec", "credentialsBindingName")) or _str(dig(obj, "spec", "secretBindingName"))
    project = (project_by_namespace or {}).get(namespace) or _project_from_technical_id(technical_id)
    annotations = dig(obj, "metadata", "annotations") or {}
    return ShootRecord(
        uid=f"{namespace}/{name}", name=name, namespace=namespace,
        technical_id=technical_id,
        provider=_str(dig(obj, "spec", "provider", "type")),
        region=_str(dig(obj, "spec", "region")),
        cloud_profile=cloud_profile,
        seed_name=seed_name,
        hibernated=hibernated,
        purpose=_str(dig(obj, "spec", "purpose")),
        created_by=_str(annotations.get(CREATED_BY)) if isinstance(annotations, dict) else None,
        credentials=credentials,
        workers=_workers(obj),
        kubernetes_version=_str(dig(obj, "spec", "kubernetes", "version")),
        created=parse_time(dig(obj, "metadata", "creationTimestamp")),
        project_ref=project,
        seed_ref=seed_name,
    )


def bastion_record(obj: dict[str, Any]) -> BastionRecord:
    name = dig(obj, "metadata", "name") or ""
    namespace = dig(obj, "metadata", "namespace") or ""
    shoot_name = _str(dig(obj, "spec", "shootRef", "name"))
    return BastionRecord(
        uid=f"{namespace}/{name}", name=name, namespace=namespace,
        shoot_name=shoot_name,
        seed_name=_str(dig(obj, "spec", "seedName")),
        provider=_str(dig(obj, "spec", "providerType")),
        ingress_ip=_str(dig(obj, "status", "ingress", "ip")) or _str(dig(obj, "status", "ingress", "hostname")),
        created=parse_time(dig(obj, "metadata", "creationTimestamp")),
        shoot_ref=f"{namespace}/{shoot_name}" if shoot_name else None,
        vm_name=bastion_vm_name(_str(dig(obj, "spec", "providerType")), namespace, shoot_name, name),
    )


def bastion_vm_name(provider: str | None, namespace: str, shoot_name: str | None, bastion: str) -> str | None:
    """The name the provider extension's bastion controller gives the VM (docs/ownership.md): AWS
    `<technical id>-<bastion>-bastion`; GCP, Azure and OpenStack `<technical id>-<bastion>` cut to 33
    characters, then `-bastion-` and the first 5 hex digits of the uncut name's SHA-256."""
    if not provider or not shoot_name or not bastion or not namespace.startswith("garden"):
        return None
    project = namespace.removeprefix("garden-") if namespace != "garden" else "garden"
    base = f"shoot--{project}--{shoot_name}-{bastion}"
    if provider == "aws":
        return f"{base}-bastion"
    if provider in ("gcp", "azure", "openstack"):
        return f"{base[:33]}-bastion-{hashlib.sha256(base.encode()).hexdigest()[:5]}"
    return None


def machine_record(obj: dict[str, Any], seed_name: str) -> MachineRecord:
    name = dig(obj, "metadata", "name") or ""
    namespace = dig(obj, "metadata", "namespace") or ""
    provider_id = _str(dig(obj, "spec", "providerID"))
    instance = instance_uid(provider_id)
    # The node name: `metadata.labels.node` in today's CRD, `status.node` in older objects.
    node = _str(dig(obj, "metadata", "labels", "node")) or _str(dig(obj, "status", "node"))
    return MachineRecord(
        uid=f"{seed_name}/{namespace}/{name}", name=name, namespace=namespace, seed_name=seed_name,
        provider_id=provider_id,
        phase=_str(dig(obj, "status", "currentStatus", "phase")),
        node_name=node,
        created=parse_time(dig(obj, "metadata", "creationTimestamp")),
        shoot_ref=namespace if namespace.startswith("shoot--") else None,
        instance_ref=instance,
        # Without a readable providerID the VM is found by name, but only among the VMs that carry
        # this shoot's cluster tag (`<technical id>/<name>`): names repeat across accounts.
        instance_name_ref=f"{namespace}/{name}" if instance is None and namespace else None,
    )
