"""providerID -> Instance key, for the formats the machine-controller-manager providers write."""

from __future__ import annotations

import pytest

from collectors.provider_ids import instance_uid, parse_provider_id

AZURE_ID = ("azure:///subscriptions/0b5a9c2e-6a3e-4f0d-9a51-2f0c6d7e8a91/resourceGroups/shoot--core1--prod/"
            "providers/Microsoft.Compute/virtualMachines/shoot--core1--prod-worker-z1-7bd9f-x4kqz")


@pytest.mark.parametrize(("provider_id", "expected"), [
    ("aws:///eu-west-1a/i-0a1b2c3d4e5f67890", ("aws", "i-0a1b2c3d4e5f67890")),
    # the upstream MCM docs sample carries the region in the zone position
    ("aws:///eu-east-1/i-00bef3f2618ffef23", ("aws", "i-00bef3f2618ffef23")),
    ("aws:///us-east-1d/i-0abc1234", ("aws", "i-0abc1234")),
    ("gce://gl-core-prod-01/europe-west1-b/shoot--core1--prod-worker-z1-7bd9f-x4kqz",
     ("gcp", "projects/gl-core-prod-01/zones/europe-west1-b/instances/shoot--core1--prod-worker-z1-7bd9f-x4kqz")),
    # the form machine-controller-manager-provider-gcp really writes: three slashes
    ("gce:///gl-core-prod-01/europe-west1-b/shoot--core1--prod-worker-z1-7bd9f-x4kqz",
     ("gcp", "projects/gl-core-prod-01/zones/europe-west1-b/instances/shoot--core1--prod-worker-z1-7bd9f-x4kqz")),
    (AZURE_ID, ("azure", AZURE_ID[len("azure://"):].lower())),
    ("openstack:///6f0b7c1e-3c9a-4a61-8f0e-2d9b5c7a1e42", ("openstack", "6f0b7c1e-3c9a-4a61-8f0e-2d9b5c7a1e42")),
    ("openstack:///eu-de-1/6F0B7C1E-3C9A-4A61-8F0E-2D9B5C7A1E42",
     ("openstack", "6f0b7c1e-3c9a-4a61-8f0e-2d9b5c7a1e42")),
])
def test_known_formats(provider_id: str, expected: tuple[str, str]) -> None:
    assert parse_provider_id(provider_id) == expected
    assert instance_uid(provider_id) == expected[1]


def test_azure_key_is_the_lower_cased_arm_id() -> None:
    uid = instance_uid(AZURE_ID)
    assert uid is not None
    assert uid.startswith("/subscriptions/0b5a9c2e-6a3e-4f0d-9a51-2f0c6d7e8a91/resourcegroups/shoot--core1--prod/")
    assert uid.endswith("/providers/microsoft.compute/virtualmachines/shoot--core1--prod-worker-z1-7bd9f-x4kqz")


@pytest.mark.parametrize("garbled", [
    None, "", 42, "fakeID", "provider-id", "aws://", "aws:///eu-west-1a/", "aws:///eu-west-1a/vol-0a1b2c3d4e5f67890",
    "gce://only-project/europe-west1-b", "gce://gl-core-prod-01/europe-west1-b/Upper_Case",
    "azure:///subscriptions/x/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/ip",
    "openstack:///not-a-uuid", "openstack:///a/b/6f0b7c1e-3c9a-4a61-8f0e-2d9b5c7a1e42",
    "kind://docker/kind/kind-worker", "metal:///1234", "aws:/eu-west-1a/i-0a1b2c3d4e5f67890",
])
def test_garbled_or_foreign_ids_give_none(garbled: object) -> None:
    assert parse_provider_id(garbled) is None
    assert instance_uid(garbled) is None
