"""The targeted VM readers (graphinv/watch/refresh.py `VmReader`) for the configured clouds. Each
provider's reader imports its SDK only when that cloud is configured."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PROVIDERS = ("aws", "gcp", "azure", "openstack")


def readers_for(sources: Mapping[str, Any]) -> list[Any]:
    """One reader per configured cloud (`sources.<provider>` sections, typed or plain mappings)."""
    out: list[Any] = []
    if sources.get("aws"):
        from graphinv.watch.aws_refresh import AwsVmReader

        out.append(AwsVmReader(sources["aws"]))
    if sources.get("gcp"):
        from graphinv.watch.gcp_refresh import GcpVmReader

        out.append(GcpVmReader(sources["gcp"]))
    if sources.get("azure"):
        from graphinv.watch.azure_refresh import AzureVmReader

        out.append(AzureVmReader(sources["azure"]))
    if sources.get("openstack"):
        from graphinv.watch.openstack_refresh import OpenStackVmReader

        out.append(OpenStackVmReader(sources["openstack"]))
    return out
