"""Segmentation as an analysis fact: what each CI node reaches in production, computed once.

On the benchmark's synthetic estate (peered VPCs, runner fleets over several subnets, production
tiers behind shared security groups), the fact is checked against its own definition: answers
shared by a fleet equal those computed for each node alone, every cache key is a plain value, and
the finding says what the fact holds.
"""

from __future__ import annotations

import datetime as dt

import pytest
from bench_modules import generator

from guardrails import pipeline
from guardrails.analysis.reachability import Reachability
from guardrails.analysis.routing import longest_match
from guardrails.analysis.segmentation import production_reach
from guardrails.config import Config

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def estate():
    graph = pipeline.normalize([generator.generate(700, seed=7)])
    return pipeline.analyse(graph, Config(), NOW)


def plain(reach) -> list[tuple]:
    """A node's answer as plain values: what two computations must agree on."""
    return [(t.target, t.subnet, t.groups, t.ports, t.port_labels, [r.describe() for r in t.rules], t.path)
            for t in reach.targets]


def test_runner_fleets_reach_production_and_share_answers(estate):
    assert len(estate.production_reach) >= 10
    answers = {reach.answer for reach in estate.production_reach.values()}
    assert len(answers) < len(estate.production_reach)  # fleet members share one answer


def test_a_shared_answer_is_what_each_node_reaches_alone(estate):
    graph = estate.graph
    # Alone, a CI node must still not count the other CI nodes as production targets.
    production = {k: v for k, v in estate.production.items() if k not in estate.ci}
    for node_id, verdict in sorted(estate.ci.items()):
        alone = production_reach(graph, Reachability(graph), {node_id: verdict}, production)
        assert plain(alone[node_id]) == plain(estate.production_reach[node_id]) if node_id in alone \
            else node_id not in estate.production_reach


def test_answers_are_named_by_plain_values(estate):
    def leaves(value):
        if isinstance(value, tuple):
            for item in value:
                yield from leaves(item)
        else:
            yield value

    for reach in estate.production_reach.values():
        assert all(leaf is None or type(leaf) in (str, int) for leaf in leaves(reach.answer))
    again = pipeline.analyse(estate.graph, Config(), NOW)
    assert {k: (r.answer, plain(r)) for k, r in again.production_reach.items()} == \
           {k: (r.answer, plain(r)) for k, r in estate.production_reach.items()}


def test_every_target_is_production_in_a_joined_network(estate):
    graph = estate.graph
    for node_id, reach in estate.production_reach.items():
        networks = set()
        for iface in graph.node(node_id).get("interfaces") or []:
            networks |= graph.joined_networks(graph.node(iface["subnet"]).get("network"))
        ids = [t.target for t in reach.targets]
        assert ids == sorted(set(ids))
        for target in reach.targets:
            assert target.target in estate.production and target.target not in estate.ci
            assert graph.node(target.subnet).get("network") in networks
            assert target.path and target.port_labels and target.rules


def test_the_finding_says_what_the_fact_holds(estate):
    findings = {f["resource"]["id"]: f for f in pipeline.run_checks(estate) if f["check_id"] == "ci-reaches-production"}
    assert set(findings) == set(estate.production_reach)
    for node_id, reach in estate.production_reach.items():
        details = findings[node_id]["evidence"]["details"]
        assert details["production_nodes_total"] == len(reach.targets)
        assert [(n["target"], n["ports"], n["path"]) for n in details["production_nodes"]] == \
               [(t.target, list(t.port_labels), list(t.path)) for t in reach.targets[:20]]


def test_longest_prefix_wins_within_the_address_family():
    routes = [{"destination": "10.0.0.0/8", "target": "wide"}, {"destination": "10.1.0.0/16", "target": "narrow"},
              {"destination": "::/0", "target": "v6"}]
    assert longest_match(routes, "10.1.2.3")["target"] == "narrow"
    assert longest_match(routes, "10.2.0.1")["target"] == "wide"
    assert longest_match(routes, "192.168.0.1") is None
