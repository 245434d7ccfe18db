"""Google Cloud: Compute Engine instances, disks and reserved addresses via google-cloud-compute (REST)."""

from collectors.gcp.addresses import collect_addresses
from collectors.gcp.disks import collect_disks
from collectors.gcp.instances import collect_instances
from collectors.gcp.plan import plan

__all__ = ["collect_addresses", "collect_disks", "collect_instances", "plan"]
