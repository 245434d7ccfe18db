"""The AWS collector under the shared contract (collectors/contract.py): accounts are the
configured ones (base credentials or an assumed role each), regions the configured ones or those
DescribeRegions reports enabled, and the three kinds per region. The instance read also writes the
instances' own public IPs. If an account cannot even list its regions (its role cannot be assumed,
or it answers AccessDenied), the planner fails its scopes account-wide while the other accounts are
read normally.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

from collectors.aws.catalogue import collect_instance_types
from collectors.aws.collect import collect_addresses, collect_instances, collect_volumes
from collectors.aws.mapping import PROVIDER
from collectors.aws.session import BaseSts, Ec2Clients, assumed_session, base_session
from collectors.aws.settings import AwsSettings
from collectors.catalogue import MACHINE_TYPES, RegionCatalogue
from collectors.contract import INSTANCES_WITH_OWN_IPS, Account, CloudCollector, Kind, typed
from collectors.contract import plan as plan_scopes
from collectors.records import Record
from collectors.scope import ScopeTask

_ENABLED = ("opt-in-not-required", "opted-in")


def enabled_regions(ec2: Any) -> list[str]:
    regions = ec2.describe_regions(Filters=[{"Name": "opt-in-status", "Values": list(_ENABLED)}])["Regions"]
    return sorted(str(r["RegionName"]) for r in regions if r.get("OptInStatus", _ENABLED[0]) in _ENABLED)


class AwsCollector(CloudCollector):
    source: ClassVar[str] = PROVIDER
    instances_kind: ClassVar[Kind] = INSTANCES_WITH_OWN_IPS

    def __init__(self, settings: AwsSettings) -> None:
        self.settings = settings
        self.catalogue = RegionCatalogue()

    def kinds(self, account: Account) -> Sequence[Kind]:
        return (*super().kinds(account), MACHINE_TYPES)

    def machine_types(self, account: Account, region: str) -> Iterator[Record]:
        ec2 = account.handle[0].get(region)
        yield from self.catalogue.get(region, lambda: collect_instance_types(ec2, region, self.settings.max_pages))

    def accounts(self) -> Iterator[Account]:
        base = base_session(self.settings)
        sts = BaseSts(base, self.settings)
        base_lock = threading.Lock()  # the accounts read with the base session's own keys build clients from it
        for configured in self.settings.accounts:
            if configured.role_arn:
                clients = Ec2Clients(assumed_session(sts, self.settings, configured), self.settings)
            else:
                clients = Ec2Clients(base, self.settings, base_lock)
            # Without an id in the config (and no role ARN to read it from), ask STS whose keys these are.
            account_id = configured.id or str(clients.sts().get_caller_identity()["Account"])
            yield Account(account_id, handle=(clients, tuple(configured.regions)))

    def regions(self, account: Account) -> Sequence[str]:
        clients, configured = account.handle
        return list(configured) or enabled_regions(clients.get(self.settings.region))

    def instances(self, account: Account, region: str) -> Iterator[Record]:
        yield from collect_instances(account.handle[0].get(region), account.id, region, self.settings.max_pages)

    def disks(self, account: Account, region: str) -> Iterator[Record]:
        yield from collect_volumes(account.handle[0].get(region), account.id, region, self.settings.max_pages)

    def ips(self, account: Account, region: str) -> Iterator[Record]:
        yield from collect_addresses(account.handle[0].get(region), account.id, region, self.settings.max_pages)


def plan(settings: AwsSettings | Mapping[str, Any]) -> list[ScopeTask]:
    return plan_scopes(AwsCollector(typed(AwsSettings, settings)))
