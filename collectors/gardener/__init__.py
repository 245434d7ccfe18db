"""The Gardener collector: Projects, Seeds, Shoots and Bastions from the garden, Machines per seed.
Names load on first use (collectors/lazy.py)."""

from collectors.lazy import lazy_exports

_EXPORTS = {"plan": "collector", "GardenerCollector": "collector", "GardenerSettings": "settings"}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
