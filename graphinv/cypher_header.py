"""The `//` header of a .cypher file (named queries and alert scripts share it).

    // name: orphan_disks
    // description: Disks nobody needs ...
    //   an indented `//` line continues the key above
    // params: provider, account
    // A line that is not `// key: value` is a comment for humans; it ends the key above.
    MATCH ...

The header is the run of `//` lines at the top. A `key:` the reader does not know is an error
(a typo such as `// sorces:` must not be dropped silently): write free comments so that they do not
start with a single word and a colon, or put them below the header.
"""

from __future__ import annotations

import re
from collections.abc import Collection

_KEY = re.compile(r"\s*(\w+):\s*(.*)$")
CONTINUATION = "   "  # `//` + at least three spaces


class HeaderError(ValueError):
    """An unknown header key; the message names it and the keys the reader knows."""


def parse_header(text: str, known: Collection[str], where: str) -> dict[str, str]:
    """Keys (lower case) to values, continuation lines joined with one space."""
    header: dict[str, str] = {}
    current: str | None = None
    for line in text.splitlines():
        if not line.startswith("//"):
            break
        body = line[2:]
        match = _KEY.match(body)
        if body.startswith(CONTINUATION) and current:
            header[current] += " " + body.strip()
        elif match:
            current = match.group(1).lower()
            if current not in known:
                raise HeaderError(f"{where}: unknown header key `// {match.group(1)}:`; known: "
                                  f"{', '.join(sorted(known))} (a free comment must not start with one word and "
                                  "a colon)")
            header[current] = match.group(2).strip()
        else:
            current = None  # a free comment line: ends the key above, belongs to no key
    return header


def header_list(value: str) -> tuple[str, ...]:
    """`a, b, c` -> ("a", "b", "c")."""
    return tuple(part.strip() for part in value.split(",") if part.strip())
