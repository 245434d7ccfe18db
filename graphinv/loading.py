"""Loading many modules without Python's cyclic garbage collector running over them.

An import makes thousands of long-lived objects (classes, functions, tables), and the collector, which
runs whenever enough objects have been made, walks the growing heap again and again while a large
package loads and finds nothing to free: about a third of the time the cloud SDKs take to import
(all five collectors: 3.7 s with it, 2.7 s without, on the 2-core machine). Inside `loading_modules()`
the collector waits; afterwards everything alive is frozen (left out of later collections: modules
live as long as the process) and the collector runs as before, so a long-running process (the
scheduler, a worker) collects its own garbage as ever. The `graphinv` command does the same for its
own start (graphinv/__main__.py).
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def loading_modules() -> Iterator[None]:
    enabled = gc.isenabled()
    loaded = len(sys.modules)
    gc.disable()
    try:
        yield
    finally:
        # Only when something loaded: the scheduler plans every run, and freezing what other threads hold
        # at that moment (records in flight) over and over would keep their cycles from ever being freed.
        if len(sys.modules) > loaded:
            gc.freeze()
        if enabled:
            gc.enable()
