"""The `sources:` section: one typed sub-section per collector, each declared in its own folder
(collectors/<source>/settings.py). graphinv.settings mounts SourcesSettings as the root's `sources`.
A source whose key is absent or null is not configured.
"""

from __future__ import annotations

from collectors.aws.settings import AwsSettings
from collectors.azure.settings import AzureSettings
from collectors.gardener.settings import GardenerSettings
from collectors.gcp.settings import GcpSettings
from collectors.openstack.settings import OpenStackSettings
from graphinv.settings.types import Section

# Gardener first: its machines are read before the clouds' VMs in the same run, so a VM created
# during the run is younger than the machine read and is never judged against stale machines.
SOURCES: tuple[str, ...] = ("gardener", "aws", "gcp", "azure", "openstack")


class SourcesSettings(Section):
    gardener: GardenerSettings | None = None
    aws: AwsSettings | None = None
    gcp: GcpSettings | None = None
    azure: AzureSettings | None = None
    openstack: OpenStackSettings | None = None

    def configured(self) -> list[str]:
        """The configured sources, in collection order."""
        return [name for name in SOURCES if getattr(self, name) is not None]
