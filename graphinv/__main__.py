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
"""

import gc


def run() -> None:
    gc.disable()
    from graphinv.cli import main

    try:
        main()
    finally:
        gc.freeze()


if __name__ == "__main__":
    run()
