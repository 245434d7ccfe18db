"""The AWS `VmReader`: one instance by id (DescribeInstances with InstanceIds), its volumes and its
Elastic IPs, mapped by the AWS collector's own functions and written into the collector's scopes."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from collectors.aws.collect import elastic_addresses
from collectors.aws.collector import AwsCollector
from collectors.aws.mapping import PROVIDER, address_record, instance_records, volume_record
from collectors.aws.settings import AwsSettings
from collectors.contract import INSTANCES_WITH_OWN_IPS, Account, typed
from collectors.records import Record
from collectors.scope import Scope
from graphinv.watch.refresh import VmTarget

NOT_FOUND = ("InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed")


def region_of(provider_id: str) -> str | None:
    """`aws:///eu-west-1a/i-...` -> eu-west-1 (old machines carry the region itself)."""
    parts = provider_id.split("/")
    place = parts[-2] if len(parts) >= 2 else ""
    if not place:
        return None
    return place[:-1] if place[-1].isalpha() else place


class AwsVmReader:
    provider = PROVIDER

    def __init__(self, settings: AwsSettings | Mapping[str, Any]) -> None:
        self.collector = AwsCollector(typed(AwsSettings, settings))
        self._accounts: list[Account] | None = None
        self._lock = threading.Lock()

    def accounts(self) -> list[Account]:
        with self._lock:
            if self._accounts is None:
                self._accounts = list(self.collector.accounts())
            return self._accounts

    def account_of(self, target: VmTarget, known_account: str | None) -> str:
        return known_account or (self.accounts()[0].id if len(self.accounts()) == 1 else "unknown")

    def read(self, target: VmTarget, known_account: str | None) -> list[tuple[Scope, list[Record]]] | None:
        region = region_of(target.provider_id)
        if region is None:
            return None
        candidates = sorted(self.accounts(), key=lambda a: a.id != known_account)  # the known one first
        for account in candidates:
            ec2 = account.handle[0].get(region)
            try:
                answer = ec2.describe_instances(InstanceIds=[target.instance_uid])
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in NOT_FOUND:
                    continue
                raise
            raws = [i for r in answer.get("Reservations", ()) for i in r.get("Instances", ())]
            if not raws:
                continue
            return self._records(ec2, account.id, region, raws)
        return None

    def _records(self, ec2: Any, account_id: str, region: str,
                 raws: list[dict[str, Any]]) -> list[tuple[Scope, list[Record]]]:
        addresses = elastic_addresses(ec2)
        elastic = {str(a["PublicIp"]) for a in addresses if a.get("PublicIp")}
        instances: list[Record] = []
        for raw in raws:
            instance, own_ip = instance_records(raw, account_id, region, elastic)
            instances.append(instance)
            if own_ip is not None:
                instances.append(own_ip)
        ids = [str(raw["InstanceId"]) for raw in raws]
        volumes = ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": ids}])
        disks: list[Record] = [volume_record(v, account_id, region) for v in volumes.get("Volumes", ())]
        enis = {str(n["NetworkInterfaceId"]): str(raw["InstanceId"])
                for raw in raws for n in raw.get("NetworkInterfaces") or () if n.get("NetworkInterfaceId")}
        ips: list[Record] = [address_record(a, account_id, region, enis) for a in addresses
                             if a.get("InstanceId") in ids or a.get("NetworkInterfaceId") in enis]
        kind = INSTANCES_WITH_OWN_IPS
        return [(Scope(PROVIDER, account_id, region, kind.label, kind.also), instances),
                (Scope(PROVIDER, account_id, region, "Disk"), disks),
                (Scope(PROVIDER, account_id, region, "IP"), ips)]


def readers_for(sources: Mapping[str, Any]) -> list[Any]:
    """The VM readers for every configured cloud (graphinv/watch/readers.py)."""
    from graphinv.watch.readers import readers_for as every_reader

    return every_reader(sources)
