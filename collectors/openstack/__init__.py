"""OpenStack collector: Nova servers, Cinder volumes and Neutron floating IPs through openstacksdk.

One connection per (project, region, kind) scope, built from a clouds.yaml name or an explicit auth
mapping (password or application credential). Gardener's marks on these resources are read by
`collectors.openstack.gardener`; see docs/providers/openstack.md. Names load on first use.
"""

from collectors.lazy import lazy_exports

_EXPORTS = {"collect_disks": "disks", "disk_record": "disks", "collect_instances": "instances",
            "instance_record": "instances", "neutral_status": "instances", "collect_ips": "ips",
            "ip_record": "ips", "plan": "collector", "OpenStackCollector": "collector", "OpenStackSettings": "settings"}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
