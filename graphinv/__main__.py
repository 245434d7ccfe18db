"""The `graphinv` command (and `python -m graphinv`), started with Python's garbage collector held back.

While a command starts, Python loads some 600 modules (typer, pydantic and the settings tree, the neo4j
driver) and its cyclic garbage collector runs again and again over the growing heap of classes and
functions, finding nothing to free: 0.15 to 0.2 s of every command (measured on `graphinv orphans`).
So the collector waits until the command's own module has loaded; then everything loaded so far is
frozen (kept out of the collector's sight: modules live as long as the process anyway) and the collector
runs as usual for the command's work, so a long-running command (the scheduler, the API server, a watch)
collects its garbage as ever (graphinv.cli.resume_garbage_collection).

At exit Python runs full collections over everything still alive. With the cloud SDKs loaded (any
`graphinv collect`) they took 1.3 to 2 s of walking objects that die with the process anyway; so
everything is frozen again before the interpreter shuts down, and those collections find nothing to
walk. atexit handlers and the flushing of open streams still run as usual.

Pydantic looks for plugins of its own when the first settings model is built: a scan of the entry points
of every installed distribution (about 80 ms with this project's 170; 25 to 40 ms of a command's start
once the file cache is warm). graphinv uses none, so the command skips the scan
(`PYDANTIC_DISABLE_PLUGINS=__all__`) unless the variable is set already: set it to an empty string to
have your pydantic plugins (say, an observability one) see graphinv's settings.
"""

import gc
import os


def run() -> None:
    gc.disable()
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    from graphinv.cli import main

    try:
        main()
    finally:
        gc.freeze()


if __name__ == "__main__":
    run()
