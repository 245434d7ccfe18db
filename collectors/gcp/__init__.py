"""Google Cloud: Compute Engine instances, disks and reserved addresses via google-cloud-compute
(REST). Names load on first use (collectors/lazy.py)."""

from collectors.lazy import lazy_exports

_EXPORTS = {"collect_addresses": "addresses", "collect_disks": "disks", "collect_instances": "instances",
            "plan": "collector", "GcpCollector": "collector", "GcpSettings": "settings"}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
