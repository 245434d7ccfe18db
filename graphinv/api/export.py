"""Write the schema's SDL: `python -m graphinv.api.export [docs/schema.graphql]` (default: stdout)."""

from __future__ import annotations

import sys
from pathlib import Path

from graphinv.api.schema import schema_sdl


def main(argv: list[str]) -> int:
    text = schema_sdl()
    if argv:
        Path(argv[0]).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
