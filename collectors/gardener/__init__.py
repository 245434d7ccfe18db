"""The Gardener collector: Projects, Seeds, Shoots and Bastions from the garden, Machines per seed."""

from collectors.gardener.plan import plan

__all__ = ["plan"]
