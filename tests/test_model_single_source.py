"""graph_schema is the one declaration of the model: records, GraphQL types and look-ups follow it.

These checks read the model's node classes on one side and, on the other, the record types
collectors import and the GraphQL schema the API serves (as graphql-core builds it), so a property
added to the model without reaching either, or a field there that the model does not declare, fails
here, unless graph_schema/surfaces.py excludes it explicitly.
"""

from __future__ import annotations

import dataclasses
from typing import Any, cast

import pytest
from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLScalarType
from neomodel import ArrayProperty, BooleanProperty, DateTimeNeo4jFormatProperty, IntegerProperty, JSONProperty
from strawberry.utils.str_converters import to_camel_case

from collectors import records
from collectors.records import RECORD_BY_LABEL, DiskRecord, InstanceRecord, IPRecord, MachineRecord
from graph_schema.base import ClaimFlag, GraphNode
from graph_schema.registry import NODE_CLASSES
from graph_schema.surfaces import (
    ENGINE_PROPERTIES,
    INVENTORY_CLASSES,
    NOT_IN_API,
    NOT_IN_API_ANYWHERE,
    NOT_IN_API_LABELS,
    STAMP_PROPERTIES,
    api_edges,
    link_keys,
    lookup_keys,
    properties,
)
from graphinv.api.loaders import LOOKUP_KEYS
from graphinv.api.nodes import TYPES
from graphinv.api.schema import build_schema
from graphinv.api.selection import stored_fields
from graphinv.ingest.engine import record_row

# The GraphQL scalar each kind of model property is published as (arrays: lists of String).
GRAPHQL_SCALARS = {"StringProperty": "String", "DerivedKey": "String", "BooleanProperty": "Boolean",
                   "IntegerProperty": "Int", "DateTimeNeo4jFormatProperty": "DateTime", "JSONProperty": "JSON"}


def _graphql_types() -> dict[str, GraphQLObjectType]:
    schema = build_schema()._schema
    return {name: t for name, t in schema.type_map.items() if isinstance(t, GraphQLObjectType)}


def _named(kind: Any) -> tuple[str, bool]:
    """A field type's innermost name, and whether it is a list."""
    while isinstance(kind, GraphQLNonNull):
        kind = kind.of_type
    if isinstance(kind, GraphQLList):
        return _named(kind.of_type)[0], True
    return kind.name, False


@pytest.mark.parametrize("model", INVENTORY_CLASSES, ids=lambda c: c.__label__)
def test_every_model_property_is_a_record_field_and_back(model: type[GraphNode]) -> None:
    record = RECORD_BY_LABEL.get(model.__label__)
    assert record is not None, f"no record type for {model.__label__}"
    fields = {f.name: f for f in dataclasses.fields(record)}
    declared = set(properties(model))
    unset = ENGINE_PROPERTIES | STAMP_PROPERTIES
    assert declared - unset - set(fields) == set(), f"{model.__label__}: properties with no record field"
    assert set(fields) - declared == set(), f"{record.__name__}: fields the model does not declare"
    assert set(fields) & unset == set(), f"{record.__name__}: collectors must not set engine bookkeeping"
    for name, prop in properties(model).items():
        if name in fields and name != "uid":
            f = fields[name]
            if isinstance(prop, ArrayProperty | JSONProperty):
                assert f.default_factory is not dataclasses.MISSING, name
            elif isinstance(prop, BooleanProperty):
                assert f.default == bool(prop.default), name
            else:
                assert f.default is None, name


@pytest.mark.parametrize("model", [c for c in INVENTORY_CLASSES if c.__label__ not in NOT_IN_API_LABELS],
                         ids=lambda c: c.__label__)
def test_every_model_property_is_a_graphql_field_and_back(model: type[GraphNode]) -> None:
    label = model.__label__
    gql = _graphql_types().get(label)
    assert gql is not None, f"the API serves no {label} type"
    excluded = NOT_IN_API_ANYWHERE | NOT_IN_API.get(label, frozenset()) | link_keys(model)
    by_graphql_name = {to_camel_case(name): prop for name, prop in properties(model).items()}
    edges = {to_camel_case(name): target for name, _, _, target, _ in api_edges(model)}
    for name, prop in properties(model).items():
        field = gql.fields.get(to_camel_case(name))
        if name in excluded:
            assert field is None, f"{label}.{name} is excluded from the API but published"
            continue
        assert field is not None, f"{label}.{name} has no GraphQL field and is not excluded in surfaces.py"
        kind, is_list = _named(field.type)
        if isinstance(prop, ArrayProperty):
            assert (kind, is_list) == ("String", True), f"{label}.{name}"
        else:
            assert (kind, is_list) == (GRAPHQL_SCALARS[type(prop).__name__], False), f"{label}.{name}"
    # Stored fields (no resolver of their own) must be model properties; resolver fields are the
    # model's edges or computed features of the API (a node's change history), which store nothing.
    stored = stored_fields(cast(Any, TYPES[label]))
    for field_name in gql.fields:
        if field_name in edges:
            assert _named(gql.fields[field_name].type)[0] == edges[field_name]
        elif field_name in stored:
            assert field_name in by_graphql_name, f"{label}.{field_name} is no model property or relationship"


def test_graphql_scalars_cover_every_property_kind_the_model_uses() -> None:
    # A ClaimFlag is never published (the API shows the edges it summarises; ENGINE_PROPERTIES).
    kinds = {type(p) for cls in NODE_CLASSES for p in properties(cls).values()} - {ArrayProperty, ClaimFlag}
    assert {k.__name__ for k in kinds} <= set(GRAPHQL_SCALARS), "a property kind the API cannot publish"
    assert {BooleanProperty, IntegerProperty, DateTimeNeo4jFormatProperty} <= kinds


def test_every_relationship_between_served_labels_is_a_graphql_field() -> None:
    types = _graphql_types()
    for model in INVENTORY_CLASSES:
        if model.__label__ in NOT_IN_API_LABELS:
            continue
        for name, _, _, target, single in api_edges(model):
            field = types[model.__label__].fields[to_camel_case(name)]
            kind, is_list = _named(field.type)
            assert (kind, is_list) == (target, not single), f"{model.__label__}.{name}"
            assert ("first" in field.args) == (not single)
            assert isinstance(types[target], GraphQLObjectType)
    assert not isinstance(types.get("Region"), GraphQLScalarType)


def test_lookups_are_the_model_keys() -> None:
    assert lookup_keys() == LOOKUP_KEYS
    served = {c.__label__ for c in INVENTORY_CLASSES} - NOT_IN_API_LABELS
    assert {label for label, _ in LOOKUP_KEYS} == served
    for label, key in LOOKUP_KEYS:
        prop = properties(next(c for c in NODE_CLASSES if c.__label__ == label))[key]
        assert prop.index or prop.unique_index, f"look-up of {label} by unindexed {key}"
    assert ("Shoot", "technical_id") in LOOKUP_KEYS


def test_the_engine_derives_a_resources_account_region_and_shoot() -> None:
    for cls in (InstanceRecord, DiskRecord, IPRecord):
        row = record_row(cls(uid="x-1", provider="gcp", account_id="proj", region="europe-west1",
                             cluster="shoot--dev--a"))["props"]
        assert (row["account_ref"], row["region_ref"], row["shoot_ref"]) == (
            "gcp:proj", "gcp:europe-west1", "shoot--dev--a")
    bare = record_row(DiskRecord(uid="d-1", provider="gcp", account_id="proj"))["props"]
    assert (bare["account_ref"], bare["region_ref"], bare["shoot_ref"]) == ("gcp:proj", None, None)
    # A machine's shoot is named differently (by its namespace); nothing is derived for it.
    assert record_row(MachineRecord(uid="m", namespace="shoot--a--b"))["props"]["shoot_ref"] is None


def test_a_record_refuses_a_field_the_model_does_not_declare() -> None:
    with pytest.raises(TypeError):
        InstanceRecord(uid="i-1", flavour="large")  # not a model property
    assert "first_seen" not in {f.name for f in dataclasses.fields(InstanceRecord)}
    assert records.CloudResource in InstanceRecord.__mro__


def test_the_relationships_orphan_queries_count_start_at_one_label() -> None:
    """queries/orphan_instances.cypher asks `NOT EXISTS { ()-[:RUNS_ON]->(i) }` without naming the
    far end (a degree count, not a walk over the VM's edges), and orphan_disks does the same for a
    disk's HAS_DISK and OWNS_DISK edges: true only while the model lets no other label start them."""
    starts: dict[str, set[str]] = {}
    for cls in NODE_CLASSES:
        for rel in cls.defined_properties(aliases=False, properties=False, rels=True).values():
            definition = rel.definition
            # Declared on the start node (To), or on the end node naming the start (From).
            start = cls.__label__ if definition["direction"] == 1 else str(rel._raw_class).rsplit(".", 1)[-1]
            starts.setdefault(definition["relation_type"], set()).add(start)
    assert starts["RUNS_ON"] == {"Machine"}
    assert starts["USES_VM"] == {"Bastion"}
    assert starts["HAS_DISK"] == {"Instance"}
    assert starts["OWNS_DISK"] == {"Shoot"}
