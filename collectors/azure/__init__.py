"""Azure collector: virtual machines, managed disks and public IPs of whole subscriptions, read
through azure-mgmt-compute / azure-mgmt-network. Names load on first use (collectors/lazy.py)."""

from collectors.lazy import lazy_exports

_EXPORTS = {"collect_disks": "disks", "collect_instances": "instances", "collect_ips": "ips",
            "plan": "collector", "AzureCollector": "collector", "AzureSettings": "settings"}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
