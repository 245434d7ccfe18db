"""Reading one account and region of EC2: plain functions from a boto3 EC2 client to records.

Every list is read page by page and mapped as it arrives, so memory stays bounded by a page. An
error from EC2 propagates: a read that cannot finish must not look like a complete one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from collectors.aws.mapping import address_record, blank_to_none, instance_records, volume_record
from collectors.base_settings import DEFAULT_MAX_PAGES
from collectors.contract import guarded_pages
from collectors.records import DiskRecord, InstanceRecord, IPRecord

INSTANCE_PAGE = 1000  # EC2's maximum for DescribeInstances
VOLUME_PAGE = 500  # EC2's maximum for DescribeVolumes
ENI_FILTER_VALUES = 200  # EC2's maximum number of values in one filter


def pages_of(ec2: Any, operation: str, max_pages: int, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """A botocore paginator's pages. botocore itself stops on a token repeated by the very next page;
    this also stops a cycle of tokens and a list longer than `max_pages`."""
    pages = ec2.get_paginator(operation).paginate(**kwargs)
    return guarded_pages(pages, f"EC2 {operation}", max_pages, lambda page: page.get("NextToken"))


def elastic_addresses(ec2: Any) -> list[dict[str, Any]]:
    # DescribeAddresses has no paging: one call returns all of the region's Elastic IPs.
    return list(ec2.describe_addresses()["Addresses"])


def collect_instances(ec2: Any, account_id: str, region: str,
                      max_pages: int = DEFAULT_MAX_PAGES) -> Iterator[InstanceRecord | IPRecord]:
    """Instances, and each instance's own public address that is not an Elastic IP.

    Whether a public address is an Elastic IP is read from DescribeAddresses rather than from the
    interface's IpOwnerId, which not every EC2 implementation fills as AWS does ("amazon")."""
    elastic = {str(a["PublicIp"]) for a in elastic_addresses(ec2) if a.get("PublicIp")}
    pages = pages_of(ec2, "describe_instances", max_pages, PaginationConfig={"PageSize": INSTANCE_PAGE})
    for page in pages:
        for reservation in page.get("Reservations", ()):
            for raw in reservation.get("Instances", ()):
                instance, own_ip = instance_records(raw, account_id, region, elastic)
                yield instance
                if own_ip is not None:
                    yield own_ip


def collect_volumes(ec2: Any, account_id: str, region: str,
                    max_pages: int = DEFAULT_MAX_PAGES) -> Iterator[DiskRecord]:
    pages = pages_of(ec2, "describe_volumes", max_pages, PaginationConfig={"PageSize": VOLUME_PAGE})
    for page in pages:
        for raw in page.get("Volumes", ()):
            yield volume_record(raw, account_id, region)


def interface_instances(ec2: Any, eni_ids: list[str], max_pages: int = DEFAULT_MAX_PAGES) -> dict[str, str]:
    """Network interface id -> id of the instance it is attached to (interfaces of load balancers,
    NAT gateways or unattached ones are left out)."""
    found: dict[str, str] = {}
    for start in range(0, len(eni_ids), ENI_FILTER_VALUES):
        batch = eni_ids[start:start + ENI_FILTER_VALUES]
        pages = pages_of(ec2, "describe_network_interfaces", max_pages,
                         Filters=[{"Name": "network-interface-id", "Values": batch}])
        for page in pages:
            for eni in page.get("NetworkInterfaces", ()):
                instance = blank_to_none((eni.get("Attachment") or {}).get("InstanceId"))
                if instance:
                    found[str(eni["NetworkInterfaceId"])] = str(instance)
    return found


def collect_addresses(ec2: Any, account_id: str, region: str,
                      max_pages: int = DEFAULT_MAX_PAGES) -> Iterator[IPRecord]:
    """Elastic IPs; one associated with a network interface but no instance is resolved through the
    interface's attachment."""
    addresses = elastic_addresses(ec2)
    unresolved = sorted({str(a["NetworkInterfaceId"]) for a in addresses
                         if blank_to_none(a.get("NetworkInterfaceId")) and not blank_to_none(a.get("InstanceId"))})
    eni_instances = interface_instances(ec2, unresolved, max_pages) if unresolved else {}
    for raw in addresses:
        yield address_record(raw, account_id, region, eni_instances)
