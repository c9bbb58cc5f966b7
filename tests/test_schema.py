"""The declared estate schema (guardrails/schema.py): documented, and enforced on every insert."""

from __future__ import annotations

import dataclasses

import pytest

from guardrails import schema
from guardrails.graph import EstateGraph
from guardrails.providers.aws import normalize as aws_normalize

RECORDS = [*schema.NODE_SCHEMAS.values(), *schema.EDGE_SCHEMAS.values(), *schema.NESTED.values()]


@pytest.mark.parametrize("record", RECORDS, ids=lambda cls: cls.__name__)
def test_every_kind_and_attribute_is_documented(record) -> None:
    assert (record.__doc__ or "").strip(), f"{record.__name__} has no docstring"
    for name, doc in schema.describe(record).items():
        assert len(doc.split()) >= 2, f"{record.__name__}.{name} has no description"


def test_the_graph_knows_exactly_the_declared_kinds() -> None:
    assert set(schema.NODE_KINDS) == set(schema.NODE_ATTRIBUTES) == set(schema.NODE_SCHEMAS)
    assert set(schema.EDGE_KINDS) == set(schema.EDGE_ATTRIBUTES) == set(schema.EDGE_SCHEMAS)
    for kind, record in schema.NODE_SCHEMAS.items():
        assert {f.name for f in dataclasses.fields(schema.NodeRecord)} <= schema.NODE_ATTRIBUTES[kind], record


def test_inserting_an_undeclared_node_attribute_fails_naming_it() -> None:
    graph = EstateGraph()
    with pytest.raises(ValueError, match="compute node 'i-1': undeclared attribute 'PublicIpAddress'"):
        graph.add_node("i-1", "compute", provider="aws", compute_type="instance", PublicIpAddress="203.0.113.1")
    assert not graph.has("i-1")


def test_inserting_an_undeclared_edge_attribute_fails_naming_it() -> None:
    graph = EstateGraph()
    graph.add_node("subnet-1", "subnet", provider="aws")
    graph.add_node("rtb-1", "route_table", provider="aws")
    with pytest.raises(ValueError, match="routes edge 'subnet-1' -> 'rtb-1': undeclared attribute 'main'"):
        graph.add_edge("subnet-1", "rtb-1", "routes", main=True)


def test_unknown_kinds_fail() -> None:
    graph = EstateGraph()
    with pytest.raises(ValueError, match="unknown node kind 'bucket'"):
        graph.add_node("b", "bucket", provider="aws")
    with pytest.raises(ValueError, match="unknown edge kind 'reads'"):
        graph.add_edge("a", "b", "reads")


@pytest.mark.parametrize("kind, attrs, wrong", [
    ("firewall", {"rules": [{"from": "0.0.0.0/0"}]}, "rules"),
    ("compute", {"interfaces": [{"subnet": "s", "PublicIp": "203.0.113.1"}]}, "interfaces"),
    ("compute", {"metadata_service": {"enabled": "yes"}}, "metadata_service"),
    ("load_balancer", {"internet_facing": "internet-facing"}, "internet_facing"),
    ("subnet", {"cidrs": "10.0.0.0/24"}, "cidrs"),
    ("compute", {"unknown": ["PublicIpAddress"]}, "unknown"),
])
def test_a_value_of_the_wrong_type_fails_naming_the_attribute(kind, attrs, wrong) -> None:
    assert schema.STRICT, "the test suite runs with GUARDRAILS_STRICT_SCHEMA=1 (tests/conftest.py)"
    with pytest.raises(ValueError, match=f"{kind} node 'x': attribute '{wrong}'"):
        EstateGraph().add_node("x", kind, provider="test", **attrs)


def test_values_of_the_declared_types_are_accepted() -> None:
    graph = EstateGraph()
    graph.add_node("i-1", "compute", provider="test", compute_type="instance",
                   interfaces=[{"id": None, "subnet": "s", "private": ["10.0.0.5"], "public": [], "public_kind": None,
                                "ipv6": [], "groups": ["fw"]}],
                   metadata_service={"enabled": True, "v1_allowed": False, "hop_limit": 1,
                                     "session_tokens": "required", "setting": "tokens required"},
                   unknown={"public_ipv4": schema.AFTER_APPLY})
    assert graph.node("i-1").get("unknown") == {"public_ipv4": "after_apply"}


def test_the_aws_unknown_facts_are_the_declared_vocabulary() -> None:
    assert set(aws_normalize.UNKNOWN_FACTS.values()) <= set(schema.UNKNOWN_FACTS)
    assert aws_normalize.unknown_facts(["PublicIpAddress", "Routes[0].GatewayId", "Tenancy"]) == {
        "public_ipv4": schema.AFTER_APPLY, "routes": schema.AFTER_APPLY, "settings": schema.AFTER_APPLY}
    assert set(schema.UNKNOWN_REASONS) == {schema.NOT_COLLECTED, schema.AFTER_APPLY}
