"""Import the neo4j driver without numpy, pandas and pyarrow.

The driver probes for these three at import time (`neo4j._optional_deps`), only to accept their
arrays and frames as query parameters and to offer `Result.to_df()`. graphinv sends neither and never
asks for a data frame, yet importing numpy was about 0.16 s of the 1 s every `graphinv` command
(and every Ansible inventory call) spent starting. While the probe runs, the three are made to look
absent to it alone: a module already imported is left alone, nothing else in the process is affected,
and numpy imports normally afterwards (the HTML report's charts use it).

If a future driver renames its probe, this simply stops matching and the driver imports as before.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType

PROBE_MODULE = "neo4j._optional_deps"
ARRAY_LIBRARIES = ("numpy", "pandas", "pyarrow")


class _ProbeWithoutArrays(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def __getattr__(self, name: str) -> object:  # get_source, get_code, ... of the real loader
        return getattr(self._loader, name)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        # A None entry in sys.modules makes `import name` raise ImportError, which the probe expects
        # for a library that is not installed.
        hidden = [name for name in ARRAY_LIBRARIES if name not in sys.modules]
        for name in hidden:
            sys.modules[name] = None  # type: ignore[assignment]
        try:
            self._loader.exec_module(module)
        finally:
            for name in hidden:
                if sys.modules.get(name, False) is None:
                    del sys.modules[name]


class _DriverProbeFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != PROBE_MODULE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _ProbeWithoutArrays(spec.loader)
        return spec


def skip_array_libraries_in_driver() -> None:
    """Install the finder once, before the driver is first imported (graphinv/__init__.py)."""
    if PROBE_MODULE in sys.modules or any(isinstance(f, _DriverProbeFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _DriverProbeFinder())
