"""Screenshots the browser tests take: always in the test's tmp dir, and into docs/screenshots/ only
when the file is missing there or GRAPHINV_UPDATE_SCREENSHOTS=1 (a test run leaves the checkout as
it found it)."""

from __future__ import annotations

import os
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def publish(shot: Path, name: str) -> Path:
    """Copies a taken screenshot to docs/screenshots/<name> when asked to (see above)."""
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", shot
    docs_copy = DOCS / name
    if not docs_copy.exists() or os.environ.get("GRAPHINV_UPDATE_SCREENSHOTS") == "1":
        docs_copy.parent.mkdir(parents=True, exist_ok=True)
        docs_copy.write_bytes(shot.read_bytes())
    return docs_copy
