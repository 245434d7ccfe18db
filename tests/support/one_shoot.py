"""The smallest landscape alerts and the scheduler need: one shoot with one machine on the AWS VM
i-live, and any number of AWS VMs no machine runs on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from collectors.records import InstanceRecord, MachineRecord, ShootRecord
from collectors.scope import Scope

OLD = datetime.now(UTC) - timedelta(days=30)
GARDEN_SCOPES = (Scope("gardener", "garden", "global", "Shoot"), Scope("gardener", "seed-1", "global", "Machine"))
AWS_SCOPE = Scope("aws", "111", "eu-west-1", "Instance")


def gardener_records() -> tuple[list[ShootRecord], list[MachineRecord]]:
    shoots = [ShootRecord(uid="garden-dev/web", name="web", namespace="garden-dev", technical_id="shoot--dev--web",
                          seed_name="seed-1")]
    machines = [MachineRecord(uid="seed-1/shoot--dev--web/m1", name="m1", namespace="shoot--dev--web",
                              seed_name="seed-1", shoot_ref="shoot--dev--web", instance_ref="i-live")]
    return shoots, machines


def vm(uid: str, name: str) -> InstanceRecord:
    return InstanceRecord(uid=uid, name=name, provider="aws", account_id="111", region="eu-west-1",
                          cluster="shoot--dev--web", shoot_ref="shoot--dev--web", status="running", state="running",
                          role="node", instance_type="m5.large", created=OLD)
