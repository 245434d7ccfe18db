"""The AWS collector's response parser (collectors/aws/responses.py) against botocore's own.

The collector's sessions build, for EC2's list answers, only the members `mapping.READ_FROM` names.
These tests hold it to botocore's parser: the same answers (AWS's own samples, both simulator engines)
parsed both ways give the same values for every member read, and the same records.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.parsers import ResponseParserFactory

from collectors.aws.collect import collect_addresses, collect_instances, collect_volumes
from collectors.aws.mapping import READ_FROM
from collectors.aws.responses import ProjectingParserFactory, compile_shape
from collectors.aws.session import Ec2Clients, base_session, core_session, iso_timestamp
from collectors.aws.settings import AwsSettings
from collectors.records import DiskRecord, IPRecord, Record
from tests.support.aws_landscapes import feature_landscape, start_sim

SAMPLES = {"DescribeInstances": "describe-instances", "DescribeVolumes": "describe-volumes",
           "DescribeAddresses": "describe-addresses", "DescribeNetworkInterfaces": "describe-network-interfaces"}


def ec2_model() -> Any:
    return botocore.session.get_session().get_service_model("ec2")


def pruned(value: Any, wanted: Mapping[str, Any] | None) -> Any:
    """`value` (botocore's full parse) with only the members `wanted` names."""
    if wanted is None:
        return value
    if isinstance(value, list):
        return [pruned(item, wanted) for item in value]
    return {name: pruned(value[name], inner) for name, inner in wanted.items() if name in value}


def botocore_parsers() -> ResponseParserFactory:
    """botocore's own parser factory, with the collector's timestamp parser (as the sessions had before)."""
    factory = ResponseParserFactory()
    factory.set_parser_defaults(timestamp_parser=iso_timestamp)
    return factory


def both_parses(operation: str, body: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    shape = ec2_model().operation_model(operation).output_shape
    response = {"status_code": 200, "headers": {"Content-Type": "text/xml"}, "body": body}
    full = botocore_parsers().create_parser("ec2")
    projected = ProjectingParserFactory(READ_FROM, iso_timestamp).create_parser("ec2")
    return full.parse(response, shape), projected.parse(response, shape)


@pytest.mark.parametrize("operation", sorted(SAMPLES))
def test_aws_samples_parse_to_botocores_values_for_every_member_read(shared_samples: Path, operation: str) -> None:
    body = (shared_samples / "aws" / f"botocore-test-ec2-{SAMPLES[operation]}.xml").read_bytes()
    full, projected = both_parses(operation, body)
    shape_name = ec2_model().operation_model(operation).output_shape.name
    assert pruned(full, READ_FROM[shape_name]) == {k: v for k, v in projected.items() if k != "ResponseMetadata"}
    assert projected["ResponseMetadata"]["RequestId"] == full["ResponseMetadata"]["RequestId"]
    assert projected["ResponseMetadata"]["HTTPStatusCode"] == 200
    # The sample is not trivial: botocore's own parse of it has members the projection leaves out.
    assert json.dumps(full, default=str) != json.dumps(projected, default=str)
    # botocore's JSON of the same sample (what its own tests expect) names the same members.
    expected = json.loads((shared_samples / "aws" / f"botocore-test-ec2-{SAMPLES[operation]}.json").read_text())
    assert members(pruned(expected, READ_FROM[shape_name])) == {
        path for path in members(projected) if not path.startswith("ResponseMetadata")}


def members(value: Any, at: str = "") -> set[str]:
    """The paths of every member in a parsed answer (list items merged)."""
    if isinstance(value, list):
        return set().union(*(members(item, at) for item in value)) if value else set()
    if isinstance(value, dict):
        return set().union(*({at + name} | members(inner, at + name + ".") for name, inner in value.items()))
    return set()


def reads_of(session: boto3.Session, source: AwsSettings, account: str) -> list[Record]:
    """Every instance, own IP, volume and Elastic IP of `account`'s regions, read with `session`."""
    clients = Ec2Clients(session, source)
    records: list[Record] = []
    for region in source.accounts[0].regions:
        ec2 = clients.get(region)
        records += [*collect_instances(ec2, account, region), *collect_volumes(ec2, account, region),
                    *collect_addresses(ec2, account, region)]
    return sorted(records, key=lambda r: (r.label, r.uid))


@pytest.mark.parametrize("engine", ["native", "moto"])
def test_simulated_aws_gives_the_same_records_through_either_parser(tmp_path: Path, engine: str) -> None:
    sim = start_sim(feature_landscape(), tmp_path, engine)
    try:
        config = sim.source_config()
        config["accounts"] = [a for a in config["accounts"] if "role_arn" not in a]  # the base keys' account
        source = AwsSettings.model_validate(config)
        account = source.accounts[0].id
        assert account is not None
        collected = reads_of(base_session(source), source, account)
        # The same session set-up with botocore's own parser for every answer.
        core = core_session()
        core.register_component("response_parser_factory", botocore_parsers())
        assert source.credentials is not None
        reference = reads_of(boto3.Session(
            botocore_session=core, aws_access_key_id=source.credentials.access_key_id.get_secret_value(),
            aws_secret_access_key=source.credentials.secret_access_key.get_secret_value()), source, account)
    finally:
        sim.stop()
    assert collected == reference
    assert {r.label for r in collected} == {"Instance", "Disk", "IP"}
    assert any(isinstance(r, DiskRecord) and r.attached_instances for r in collected)
    assert any(isinstance(r, IPRecord) and r.ephemeral for r in collected)


def test_a_member_the_model_lacks_fails_when_the_parser_is_built() -> None:
    shape = ec2_model().operation_model("DescribeVolumes").output_shape
    with pytest.raises(ValueError, match="no member 'Volumez'"):
        compile_shape(shape, {"Volumez": None}, iso_timestamp)
    with pytest.raises(ValueError, match="not a structure"):
        compile_shape(shape, {"NextToken": {"Value": None}}, iso_timestamp)
