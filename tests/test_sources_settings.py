"""The typed `sources:` section: the shapes the hand-written parsers accepted, defaults every
source shares, secrets that never print, and errors that name the key."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from collectors.settings import SOURCES, SourcesSettings
from graphinv.sources import SourceError, plan_sources

SECRETS = ("aws-secret-9f1", "az-secret-7c2", "os-password-3e4", "os-app-secret-5d6")
EVERY_SOURCE = {
    "gardener": {"kubeconfig": "/k", "seeds": {"s1": {"kubeconfig": "/s1"}}, "excluded_seeds": ["s2"],
                 "request_timeout": 30},
    "aws": {"credentials": {"access_key_id": "AKIAEXAMPLE", "secret_access_key": SECRETS[0]},
            "accounts": [{"id": 111111111111}, {"role_arn": "arn:aws:iam::222222222222:role/r", "regions": None}],
            "read_timeout": "2m"},
    "gcp": {"projects": ["p1", "p1", "p2"], "credentials": None},
    "azure": {"subscriptions": ["s"], "credential": {"type": "client_secret", "tenant_id": "t", "client_id": "c",
                                                     "client_secret": SECRETS[1]}, "regions": ["WestEurope"]},
    "openstack": {"clouds": [{"name": "a", "auth": {"auth_url": "https://k/v3", "username": "u",
                                                    "password": SECRETS[2], "project_name": "pa"}},
                             {"name": "b", "project": "pb", "auth": {"auth_url": "https://k/v3",
                                                                     "application_credential_id": "x",
                                                                     "application_credential_secret": SECRETS[3]}}],
                  "api_timeout": 45},
}


def test_every_source_reads_its_shape_and_shares_the_defaults() -> None:
    sources = SourcesSettings.model_validate(EVERY_SOURCE)
    assert sources.configured() == list(SOURCES)
    assert sources.gardener and sources.gardener.request_timeout == (10.0, 30.0)
    assert sources.gardener.seed_kubeconfigs == {"s1": "/s1"}
    assert sources.aws and [a.id for a in sources.aws.accounts] == ["111111111111", "222222222222"]
    assert (sources.aws.connect_seconds, sources.aws.read_seconds, sources.aws.max_pages) == (10.0, 120.0, 10_000)
    assert sources.gcp and sources.gcp.projects == ["p1", "p2"] and sources.gcp.credentials == "adc"
    assert sources.azure and sources.azure.regions == ["westeurope"]
    assert sources.openstack and sources.openstack.read_seconds == 45.0
    assert [(c.project, c.auth_type) for c in sources.openstack.clouds] == [
        ("pa", "password"), ("pb", "v3applicationcredential")]
    assert sources.openstack.clouds[0].auth and sources.openstack.clouds[0].auth.for_sdk()["password"] == SECRETS[2]


def test_secrets_never_print() -> None:
    sources = SourcesSettings.model_validate(EVERY_SOURCE)
    shown = f"{sources!r} {sources} {sources.model_dump()} {sources.model_dump_json()}"
    assert not [s for s in SECRETS if s in shown]


@pytest.mark.parametrize(("raw", "where"), [
    ({"aws": {"acounts": []}}, "aws.acounts"),
    ({"aws": {"accounts": [{"id": "12"}]}}, "aws.accounts.0.id"),
    ({"gcp": {"projects": []}}, "gcp.projects"),
    ({"azure": {"subscriptions": ["s"], "read_timeout": "soon"}}, "azure.read_timeout"),
    ({"openstack": {"clouds": [{"auth": {}}]}}, "openstack.clouds.0.name"),
    ({"gardener": {"kubeconfig": "/k", "max_pages": 0}}, "gardener.max_pages"),
])
def test_errors_name_the_key(raw: dict[str, object], where: str) -> None:
    with pytest.raises(ValidationError) as info:
        SourcesSettings.model_validate(raw)
    assert where in str(info.value)


def test_plan_sources_reads_a_raw_mapping_through_the_same_models() -> None:
    with pytest.raises(SourceError, match=r"^sources\.gcp\.projects: "):
        plan_sources({"sources": {"gcp": {"projects": []}}})
    with pytest.raises(SourceError, match="unknown source"):
        plan_sources({"sources": {"vsphere": {}}})
    with pytest.raises(SourceError, match="not configured"):
        plan_sources(SourcesSettings(), ["aws"])
    assert plan_sources(SourcesSettings.model_validate({"gcp": {"projects": ["p"], "credentials": "anonymous"}}))
