"""EC2's list responses parsed for the members the mapping reads, with botocore's own model.

botocore turns an EC2 answer into dictionaries by walking the operation's output shape over the XML
tree, member by member, in Python: every member of every instance (block devices, security groups,
CPU options, ...), about sixty elements per instance, although `collectors/aws/mapping.py` reads
fifteen. That walk was 90 % of the AWS collector's CPU time (a cProfile of `bench/collect.py measure
--profile --provider aws`), and on a collection host that time is what every other collector and the
writer wait for: threads share one interpreter.

So the collector's sessions use a response parser (registered with botocore's public
`response_parser_factory` component, as botocore lets every session choose its parser) that builds,
for the output shapes named in `mapping.READ_FROM`, only the members listed there. Everything else
is botocore's: the request, signing, retries, pagination (which reads `NextToken` from the parsed
answer), error responses (parsed by botocore's own parser, so `ClientError` is unchanged) and every
other operation. The members are found through botocore's service model (their XML names, types,
list items), so a member the model does not have fails when the parser is built, not silently; and
values come out as botocore's parser makes them (an empty element is '', integers are ints,
timestamps go through the session's timestamp parser), so the records are the same: a test maps
the same answers through both parsers and compares the records.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any
from xml.etree.ElementTree import Element, ParseError, XMLParser

from botocore.model import Shape, StructureShape
from botocore.parsers import ResponseParserFactory

# Output shape name -> the members to build, nested: a member maps to None (take it whole: a scalar)
# or to the members to build of its structure (for a list, of its items' structure).
Projection = Mapping[str, "Projection | None"]
_Convert = Callable[[Element], Any]


def _xml_name(shape: Shape, member: str) -> str:
    """The element name of `member` in its structure. EC2 names every member with `locationName` and
    wraps every list (`<xSet><item>...`), never flattening one; a model that did would be refused."""
    if shape.type_name == "list" and shape.serialization.get("flattened"):
        raise ValueError(f"flattened list {member!r}: not an EC2 query shape")
    return str(shape.serialization.get("name") or member)


def _scalar(shape: Shape, timestamp: Callable[[str], Any]) -> _Convert:
    kind = shape.type_name
    if kind == "string":
        return lambda node: node.text or ""
    if kind in ("integer", "long"):
        return lambda node: int(node.text or "")
    if kind in ("float", "double"):
        return lambda node: float(node.text or "")
    if kind == "boolean":
        return lambda node: (node.text or "") == "true"
    if kind == "timestamp":
        return lambda node: timestamp(node.text or "")
    raise ValueError(f"{shape.name}: {kind} members are not supported here; build it with botocore's parser")


def _local(tag: str) -> str:
    return tag[tag.rfind("}") + 1:]


def compile_shape(shape: Shape, wanted: Projection | None, timestamp: Callable[[str], Any],
                  namespace: str = "") -> _Convert:
    """A function from an element of `shape` to what botocore's parser would make of it, restricted
    to the members `wanted` names. `namespace`: the answer's XML namespace, as ElementTree prefixes
    every tag with it ('{http://ec2.amazonaws.com/doc/2016-11-15/}'), so that children are looked up
    by their whole tag (most of an instance's sixty children are skipped by one dictionary miss)."""
    if shape.type_name == "list":
        item = compile_shape(shape.member, wanted, timestamp, namespace)
        return lambda node: [item(child) for child in node]
    if wanted is None:
        return _scalar(shape, timestamp)
    if not isinstance(shape, StructureShape):
        raise ValueError(f"{shape.name} is a {shape.type_name}, not a structure with members {sorted(wanted)}")
    table: dict[str, tuple[str, _Convert]] = {}
    for member, inner in wanted.items():
        if member not in shape.members:
            raise ValueError(f"{shape.name} has no member {member!r}")
        member_shape = shape.members[member]
        table[namespace + _xml_name(member_shape, member)] = (
            member, compile_shape(member_shape, inner, timestamp, namespace))
    get = table.get

    def structure(node: Element) -> dict[str, Any]:
        built: dict[str, Any] = {}
        for child in node:
            entry = get(child.tag)
            if entry is not None:
                built[entry[0]] = entry[1](child)
        return built

    return structure


class ProjectingEc2Parser:
    """botocore's EC2 parser, except for successful answers of the projected output shapes."""

    def __init__(self, standard: Any, projections: Mapping[str, Projection], timestamp: Callable[[str], Any]) -> None:
        self._standard = standard
        self._projections = projections
        self._timestamp = timestamp
        self._compiled: dict[tuple[str, str], _Convert] = {}
        self._lock = threading.Lock()

    def _converter(self, shape: Shape, namespace: str) -> _Convert:
        convert = self._compiled.get((shape.name, namespace))
        if convert is None:
            with self._lock:
                convert = self._compiled[(shape.name, namespace)] = compile_shape(
                    shape, self._projections[shape.name], self._timestamp, namespace)
        return convert

    def parse(self, response: dict[str, Any], shape: Shape | None) -> Any:
        if response["status_code"] != 200 or shape is None or shape.name not in self._projections:
            return self._standard.parse(response, shape)
        try:
            reader = XMLParser()
            reader.feed(response["body"])
            root = reader.close()
        except ParseError:
            return self._standard.parse(response, shape)  # which raises botocore's own error for it
        namespace = root.tag[:root.tag.rfind("}") + 1]  # '' when the answer has none
        parsed: dict[str, Any] = self._converter(shape, namespace)(root)
        metadata: dict[str, Any] = {}
        request_id = next((child.text for child in root if _local(child.tag) == "requestId"), None)
        if request_id is not None:
            metadata["RequestId"] = request_id
        metadata["HTTPStatusCode"] = response["status_code"]
        metadata["HTTPHeaders"] = {str(k).lower(): v for k, v in response["headers"].items()}
        parsed["ResponseMetadata"] = metadata
        return parsed


class ProjectingParserFactory(ResponseParserFactory):
    """botocore's parser factory, with `ProjectingEc2Parser` for the EC2 protocol."""

    def __init__(self, projections: Mapping[str, Projection], timestamp: Callable[[str], Any]) -> None:
        super().__init__()
        self._projections = projections
        self._timestamp = timestamp
        self.set_parser_defaults(timestamp_parser=timestamp)

    def create_parser(self, protocol_name: str) -> Any:
        standard = super().create_parser(protocol_name)
        if protocol_name != "ec2":
            return standard
        return ProjectingEc2Parser(standard, self._projections, self._timestamp)
