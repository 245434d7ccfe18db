"""Azure collector: virtual machines, managed disks and public IPs of whole subscriptions, read
through azure-mgmt-compute / azure-mgmt-network. `plan(section)` builds one scope per subscription
and kind; the plain `collect_*` functions take SDK clients and yield records.
"""

from collectors.azure.disks import collect_disks
from collectors.azure.instances import collect_instances
from collectors.azure.ips import collect_ips
from collectors.azure.plan import plan

__all__ = ["collect_disks", "collect_instances", "collect_ips", "plan"]
