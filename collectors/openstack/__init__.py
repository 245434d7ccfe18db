"""OpenStack collector: Nova servers, Cinder volumes and Neutron floating IPs through openstacksdk.

One connection per (project, region, kind) scope, built from a clouds.yaml name or an explicit auth
dict (password or application credential). Gardener's marks on these resources are read by
`collectors.openstack.gardener`; see docs/providers/openstack.md for what is collected and why.
"""

from collectors.openstack.disks import collect_disks, disk_record
from collectors.openstack.instances import collect_instances, instance_record, neutral_status
from collectors.openstack.ips import collect_ips, ip_record
from collectors.openstack.plan import plan

__all__ = [
    "collect_disks",
    "collect_instances",
    "collect_ips",
    "disk_record",
    "instance_record",
    "ip_record",
    "neutral_status",
    "plan",
]
