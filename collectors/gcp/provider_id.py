"""The providerID a Gardener Machine carries for a GCE VM.

machine-controller-manager-provider-gcp builds it as `"gce://" + "/" + project/zone/name`, i.e.
`gce:///<project>/<zone>/<name>` with three slashes. Parsing, for every provider, lives in
collectors/provider_ids.py.
"""

from __future__ import annotations


def format_provider_id(project: str, zone: str, name: str) -> str:
    return f"gce:///{project}/{zone}/{name}"
