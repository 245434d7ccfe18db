"""Compute Engine resource URLs and the short forms graphinv keys are made of.

The API names everything by URL (`https://www.googleapis.com/compute/v1/projects/p/zones/z/...`,
sometimes `compute.googleapis.com`, sometimes already relative). Keys in the graph use the relative
resource path `projects/<p>/...`, so the same resource gets the same key whichever host or API
version wrote the link.
"""

from __future__ import annotations

import re

_PATH = re.compile(r"(?:^|/)(projects/[^?#]+)")


def resource_path(url: str) -> str:
    """`https://.../compute/v1/projects/p/zones/z/instances/n` -> `projects/p/zones/z/instances/n`."""
    match = _PATH.search(url)
    return match.group(1).rstrip("/") if match else url


def last_segment(url: str) -> str:
    """The resource's own name: the URL's last path segment (`.../machineTypes/e2-small` -> `e2-small`)."""
    return url.rstrip("/").rsplit("/", 1)[-1] if url else ""


def region_of_zone(zone: str) -> str:
    """`europe-west1-b` -> `europe-west1` (a zone is its region plus one suffix)."""
    return zone.rsplit("-", 1)[0] if "-" in zone else zone


def is_instance_url(url: str) -> bool:
    parts = resource_path(url).split("/")
    return len(parts) == 6 and parts[0] == "projects" and parts[2] == "zones" and parts[4] == "instances"
