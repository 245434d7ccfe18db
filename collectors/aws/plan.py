"""plan(section): the AWS reads of one run, one ScopeTask per account x region x kind.

Kinds: Instance (which also writes the instances' own public IPs, hence extra label IP), Disk, IP.
Regions are the configured ones, or those DescribeRegions reports enabled for the account. If an
account cannot even list its regions (its role cannot be assumed, or it answers AccessDenied), its
reads are planned as failing account-wide scopes (region "global"), so the account is reported
failed and nothing of it is deleted, while the other accounts are read normally.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import boto3

from collectors.aws.collect import collect_addresses, collect_instances, collect_volumes
from collectors.aws.config import AwsAccount, AwsSource, parse_source
from collectors.aws.mapping import PROVIDER
from collectors.aws.session import Ec2Clients, assumed_session, base_session
from collectors.records import CloudAccountRecord, Record, RegionRecord
from collectors.scope import Scope, ScopeTask

Collect = Callable[[Any, str, str], Iterator[Record]]
KINDS: tuple[tuple[str, tuple[str, ...], Collect], ...] = (
    ("Instance", ("IP",), collect_instances),
    ("Disk", (), collect_volumes),
    ("IP", (), collect_addresses),
)
_ENABLED = ("opt-in-not-required", "opted-in")


def enabled_regions(ec2: Any) -> list[str]:
    regions = ec2.describe_regions(Filters=[{"Name": "opt-in-status", "Values": list(_ENABLED)}])["Regions"]
    return sorted(str(r["RegionName"]) for r in regions if r.get("OptInStatus", _ENABLED[0]) in _ENABLED)


def account_record(account_id: str) -> CloudAccountRecord:
    return CloudAccountRecord(uid=f"{PROVIDER}:{account_id}", provider=PROVIDER, account_id=account_id)


def region_record(region: str) -> RegionRecord:
    return RegionRecord(uid=f"{PROVIDER}:{region}", provider=PROVIDER, name=region)


def _reader(clients: Ec2Clients, collect: Collect, account_id: str, region: str) -> Callable[[], Iterable[Record]]:
    def fetch() -> Iterator[Record]:
        yield from collect(clients.get(region), account_id, region)
    return fetch


def _failing(error: Exception) -> Callable[[], Iterable[Record]]:
    def fetch() -> Iterable[Record]:
        raise error
    return fetch


def plan_account(source: AwsSource, base: boto3.Session, account: AwsAccount) -> list[ScopeTask]:
    session = assumed_session(base, source, account) if account.role_arn else base
    clients = Ec2Clients(session, source)
    # Without an id in the config (and no role ARN to read it from), ask STS whose keys these are.
    account_id = account.id or str(clients.sts().get_caller_identity()["Account"])
    context: list[Record] = [account_record(account_id)]
    try:
        regions = list(account.regions) or enabled_regions(clients.get(source.region))
    except Exception as exc:  # botocore errors of any kind: this account's reads fail, others go on
        return [ScopeTask(Scope(PROVIDER, account_id, "global", kind, extra), _failing(exc), list(context))
                for kind, extra, _ in KINDS]
    return [
        ScopeTask(Scope(PROVIDER, account_id, region, kind, extra), _reader(clients, collect, account_id, region),
                  [*context, region_record(region)])
        for region in regions for kind, extra, collect in KINDS
    ]


def plan(section: Mapping[str, Any]) -> list[ScopeTask]:
    source = parse_source(section)
    base = base_session(source)
    return [task for account in source.accounts for task in plan_account(source, base, account)]
