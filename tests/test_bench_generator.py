"""The benchmark's synthetic estates are valid snapshots that exercise the whole pipeline."""

from __future__ import annotations

import copy
import json

import pytest
from bench_modules import bench, generator

from guardrails import pipeline, snapshot


@pytest.fixture(scope="module")
def estate_snapshot() -> dict:
    # Two VPCs: a peering between them, a Jenkins controller with a public address and one behind an ALB.
    return generator.generate(700, seed=7)


@pytest.fixture(scope="module")
def document(estate_snapshot) -> dict:
    return pipeline.scan_snapshots([estate_snapshot])


def test_the_estate_is_a_valid_snapshot(estate_snapshot):
    assert snapshot.check(json.loads(json.dumps(estate_snapshot))) == estate_snapshot


def test_every_reference_resolves(estate_snapshot):
    graph = pipeline.normalize([estate_snapshot])
    assert graph.gaps == []
    assert not [n.id for n in graph.nodes("gateway") if n.get("external")]


@pytest.mark.parametrize("instances", [1, 30, 700, 1501])
def test_resource_count_is_the_number_of_graph_nodes(instances):
    graph = pipeline.normalize([generator.generate(instances)])
    assert generator.resource_count(instances) == graph.count() - 1  # the internet node is not a resource


def test_instances_for_is_the_smallest_estate_of_that_many_resources():
    for resources in (50, 1000, 12345):
        instances = generator.instances_for(resources)
        assert generator.resource_count(instances) >= resources > generator.resource_count(instances - 1)


def test_the_estate_has_ci_nodes_of_both_roles_and_production(document, estate_snapshot):
    roles = {item["ci_role"] for item in document["inventory"]}
    assert roles == {"server", "runner"}
    instances = len(estate_snapshot["regions"]["eu-west-1"]["instances"])
    assert 0.03 * instances <= document["summary"]["ci_nodes"] <= 0.07 * instances
    reasons = " ".join(item["reason"] for item in document["inventory"])
    assert "jenkins" in reasons and "gitlab" in reasons and "tag ci-role=runner" in reasons


def test_the_estate_produces_findings_of_every_area(document):
    fired = {f["check_id"] for f in document["findings"]}
    assert {"ci-internet-exposed", "ci-firewall-allows-internet", "ci-not-behind-load-balancer",
            "ci-reaches-production", "ci-admin-identity", "ci-privilege-escalation", "ci-production-access",
            "ci-internet-to-admin-path", "ci-imds-v1", "ci-secret-in-user-data"} <= fired


def test_the_same_seed_gives_the_same_estate():
    assert json.dumps(generator.generate(300, seed=5)) == json.dumps(generator.generate(300, seed=5))
    assert json.dumps(generator.generate(300, seed=5)) != json.dumps(generator.generate(300, seed=6))


def test_two_accounts_share_no_resource_ids():
    first = pipeline.normalize([generator.generate(100, account_id="111111111111")])
    second = pipeline.normalize([generator.generate(100, account_id="222222222222")])
    assert {n.id for n in first.nodes()} & {n.id for n in second.nodes()} == {"internet"}


def test_one_size_runs_through_the_benchmark_in_process(tmp_path):
    result = bench.run_size(300, seed=0, workdir=tmp_path, fresh_process=False)

    assert result["size"] == 300 and result["resources"] >= 300
    assert set(result["phases_s"]) == set(bench.PHASES)
    assert result["findings"] > 0 and result["ci_nodes"] > 0
    assert result["snapshot_bytes"] == (tmp_path / "estate-300-seed0.json").stat().st_size
    assert result["peak_rss_mib"] > 0
    assert "300" in bench.table([result]).splitlines()[2]


def test_exposure_of_ci_nodes_alone_is_their_share_of_every_node_s_exposure(estate_snapshot):
    from guardrails.analysis.reachability import compute_exposure

    estate = pipeline.analyse(pipeline.normalize([estate_snapshot]))
    every = compute_exposure(estate.graph, estate.reach)
    assert len(every) > len(estate.exposure) > 0  # the estate has exposed nodes of both kinds
    assert set(estate.exposure) == set(every) & set(estate.ci)
    for node_id, exposure in estate.exposure.items():
        assert exposure == every[node_id]


def test_federated_roles_are_counted_and_classified():
    estate = generator.generate(30, extra_roles=5, federated_roles=12)
    graph = pipeline.normalize([copy.deepcopy(estate)])
    assert generator.resource_count(30, 5, 12) == graph.count() - 1
    document = pipeline.scan_snapshots([estate])
    federated = [i for i in document["ci_identities"] if i["federations"]]
    assert len(federated) == 12
    assert {f["federations"][0]["level"] for f in federated} >= {"any_owner", "any_repository", "pinned"}
