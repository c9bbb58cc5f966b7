"""`guardrails scan gcp` against a replay fake of the Google Cloud REST APIs on loopback: the real
client libraries (google-cloud-compute, google-cloud-resource-manager, google-auth), the real CLI,
one estate per rule of CHECKS.md's GCP semantics, each with exactly the findings it must give."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from cloud_commands import check_remediation
from gcp_fake import READ_POSTS, GcpEstate, GcpFake
from guardrails.cli import app

FRONT_END = ["35.191.0.0/16", "130.211.0.0/22"]
CLOUD_PLATFORM = ["https://www.googleapis.com/auth/cloud-platform"]
GLRT = "glrt-Zx8Qp2Lm9Rt4Vb7Nc1Kd"


@pytest.fixture(scope="module")
def fake():
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    try:
        yield GcpFake(server)
    finally:
        server.clear()
        if server.is_running():
            server.stop()


def scan(fake: GcpFake, tmp_path: Path, monkeypatch, *estates: GcpEstate, args: tuple[str, ...] = (),
         overrides: dict | None = None) -> tuple[int, dict]:
    fake.serve(*estates, overrides=overrides)
    for key, value in fake.environment().items():
        monkeypatch.setenv(key, value)
    out = tmp_path / "findings.json"
    projects = [a for e in estates for a in ("--project", e.project)] if not args else []
    result = CliRunner().invoke(app, ["scan", "gcp", *projects, *args, "--format", "json", "--output", str(out),
                                      "--quiet"])
    assert out.exists(), result.output
    return result.exit_code, json.loads(out.read_text())


def found(document: dict) -> set[tuple[str, str]]:
    return {(f["check_id"], f["resource"]["name"]) for f in document["findings"]}


def _jenkins(estate: GcpEstate, network: str, **kw) -> str:
    return estate.instance("jenkins", network, ip="10.128.0.2", tags=["jenkins"], **kw)


EXPOSED_SERVER = {"ci-internet-exposed", "ci-firewall-allows-internet", "ci-internet-gateway-segment",
                  "ci-not-behind-load-balancer"}


def public_jenkins() -> GcpEstate:
    e = GcpEstate()
    net = e.network()
    e.firewall("allow-jenkins", net, allow=[("tcp", ["8080"])], sources=["0.0.0.0/0"], targets=["jenkins"])
    _jenkins(e, net, nat_ip="34.70.1.2")
    return e


def deny_at_higher_priority() -> GcpEstate:
    e = GcpEstate()
    net = e.network()
    e.firewall("allow-jenkins", net, allow=[("tcp", ["8080"])], sources=["0.0.0.0/0"], priority=1000)
    e.firewall("deny-internet", net, deny=[("all", [])], sources=["0.0.0.0/0"], priority=900)
    _jenkins(e, net, nat_ip="34.70.1.2")
    return e


def deny_at_equal_priority() -> GcpEstate:
    e = GcpEstate()
    net = e.network()
    e.firewall("allow-jenkins", net, allow=[("tcp", ["8080"])], sources=["0.0.0.0/0"], priority=1000)
    e.firewall("deny-internet", net, deny=[("tcp", [])], sources=["0.0.0.0/0"], priority=1000)
    _jenkins(e, net, nat_ip="34.70.1.2")
    return e


def target_tag_not_matching() -> GcpEstate:
    e = GcpEstate()
    net = e.network()
    e.firewall("allow-web", net, allow=[("tcp", ["80", "8080"])], sources=["0.0.0.0/0"], targets=["web"])
    _jenkins(e, net, nat_ip="34.70.1.2")
    return e


def disabled_rule() -> GcpEstate:
    e = GcpEstate()
    net = e.network()
    e.firewall("allow-jenkins", net, allow=[("tcp", ["8080"])], sources=["0.0.0.0/0"], disabled=True)
    _jenkins(e, net, nat_ip="34.70.1.2")
    return e


def route_for_other_tags() -> GcpEstate:
    e = GcpEstate()
    net = e.network(route_tags=["egress-internet"])
    e.firewall("allow-jenkins", net, allow=[("tcp", ["8080"])], sources=["0.0.0.0/0"])
    _jenkins(e, net, nat_ip="34.70.1.2")
    return e


def behind_load_balancer_only() -> GcpEstate:
    e = GcpEstate()
    net = e.network()
    e.firewall("allow-google-front-ends", net, allow=[("tcp", ["8080"])], sources=FRONT_END, targets=["jenkins"])
    jenkins = _jenkins(e, net)
    e.https_load_balancer("jenkins", [jenkins])
    return e


def managed_fleet_behind_load_balancer() -> GcpEstate:
    """A neutrally named VM that a managed instance group named for Jenkins made, served by a load
    balancer through the group: CI by the group's name, members known from the VM's own metadata."""
    e = GcpEstate()
    net = e.network()
    e.firewall("allow-google-front-ends", net, allow=[("tcp", ["8080"])], sources=FRONT_END)
    e.instance("vm-7f2k", net, ip="10.128.0.12", group="jenkins-controllers")
    e.https_load_balancer("jenkins", [], managed_group="jenkins-controllers")
    return e


def load_balancer_not_admitted() -> GcpEstate:
    e = GcpEstate()
    net = e.network()
    e.firewall("allow-office", net, allow=[("tcp", ["8080"])], sources=["198.51.100.0/24"], targets=["jenkins"])
    jenkins = _jenkins(e, net)
    e.https_load_balancer("jenkins", [jenkins])
    return e


def no_external_ip_open_rule() -> GcpEstate:
    e = GcpEstate()
    net = e.network()
    e.firewall("allow-ssh", net, allow=[("tcp", ["22"])], sources=["0.0.0.0/0"])
    e.instance("gitlab-runner-1", net, ip="10.128.0.5", group="gitlab-runners")
    return e


def editor_service_account() -> GcpEstate:
    e = GcpEstate()
    net = e.network()
    runner = e.service_account("ci-runner")
    e.grant("roles/editor", runner)
    e.instance("gitlab-runner-1", net, ip="10.128.0.5", account=runner, scopes=CLOUD_PLATFORM, group="gitlab-runners")
    return e


def token_creator() -> GcpEstate:
    e = GcpEstate()
    net = e.network()
    runner = e.service_account("ci-runner")
    deployer = e.service_account("deployer")
    e.grant("roles/owner", deployer)
    e.grant("roles/iam.serviceAccountTokenCreator", runner, on=deployer)
    e.instance("gitlab-runner-1", net, ip="10.128.0.5", account=runner, scopes=CLOUD_PLATFORM, group="gitlab-runners")
    return e


def project_iam_admin_from_folder() -> GcpEstate:
    e = GcpEstate()
    net = e.network()
    runner = e.service_account("ci-runner")
    e.grant("roles/resourcemanager.projectIamAdmin", runner, on="folders/2001")
    e.instance("gitlab-runner-1", net, ip="10.128.0.5", account=runner, scopes=CLOUD_PLATFORM, group="gitlab-runners")
    return e


def editor_with_default_scopes() -> GcpEstate:
    """An editor service account on a VM whose access scopes open only reads of Cloud Storage (the
    default scopes): the VM's token cannot use the account's power."""
    e = GcpEstate()
    net = e.network()
    runner = e.service_account("ci-runner")
    e.grant("roles/editor", runner)
    e.instance("gitlab-runner-1", net, ip="10.128.0.5", account=runner, group="gitlab-runners")
    return e


def editor_with_compute_scope() -> GcpEstate:
    """The compute scope opens the compute API: the token can launch a VM as the owner service
    account (actAs, which editor holds) with the cloud-platform scope."""
    e = GcpEstate()
    net = e.network()
    e.grant("roles/owner", e.service_account("deployer"))
    runner = e.service_account("ci-runner")
    e.grant("roles/editor", runner)
    e.roles["roles/editor"] = e.roles["roles/editor"] + ["iam.serviceAccounts.actAs"]
    e.instance("gitlab-runner-1", net, ip="10.128.0.5", account=runner, group="gitlab-runners",
               scopes=["https://www.googleapis.com/auth/compute"])
    return e


def editor_under_a_condition() -> GcpEstate:
    e = editor_service_account()
    e.bindings[0]["condition"] = {"title": "until 2027", "expression": "request.time < timestamp('2027-01-01T00:00:00Z')"}
    return e


def default_service_account_cloud_platform() -> GcpEstate:
    e = GcpEstate()
    net = e.network()
    default = e.default_compute_account()
    e.instance("jenkins-agent-1", net, ip="10.128.0.6", account=default, scopes=CLOUD_PLATFORM, group="jenkins-agents")
    return e


def runner_token_in_startup_script() -> GcpEstate:
    e = GcpEstate()
    net = e.network()
    e.instance("gitlab-runner-1", net, ip="10.128.0.5", group="gitlab-runners",
               metadata={"startup-script": f"#!/bin/bash\ngitlab-runner register --token {GLRT} --url https://gitlab.com"})
    return e


def ci_by_network_tag() -> GcpEstate:
    e = GcpEstate()
    net = e.network()
    e.firewall("allow-ci", net, allow=[("tcp", ["8080"])], sources=["0.0.0.0/0"], targets=["jenkins"])
    e.instance("vm-4711", net, ip="10.128.0.7", nat_ip="34.70.1.7", tags=["jenkins"])
    return e


def public_web_server() -> GcpEstate:
    e = GcpEstate()
    net = e.network()
    e.firewall("allow-http", net, allow=[("tcp", ["80", "443"])], sources=["0.0.0.0/0"])
    e.instance("www", net, ip="10.128.0.9", nat_ip="34.70.1.9", tags=["http-server"], labels={"app": "shop"})
    return e


def production_project() -> GcpEstate:
    e = GcpEstate(project="acme-prod", number="223456789012", labels={"env": "prod"})
    net = e.network()
    runner = e.service_account("ci-deployer")
    e.grant("roles/compute.instanceAdmin.v1", runner)
    e.instance("gitlab-runner-1", net, ip="10.128.0.5", account=runner, scopes=CLOUD_PLATFORM, group="gitlab-runners")
    return e


def runner_reaches_production_by_tag() -> GcpEstate:
    e = GcpEstate()
    net = e.network()
    e.firewall("allow-runners-to-db", net, allow=[("tcp", ["5432"])], source_tags=["ci-runner"], targets=["db"])
    e.instance("gitlab-runner-1", net, ip="10.128.0.5", tags=["ci-runner"], group="gitlab-runners")
    e.instance("orders-db", net, ip="10.128.0.20", tags=["db"], labels={"env": "production"})
    e.instance("cache", net, ip="10.128.0.21", tags=["cache"], labels={"env": "production"})
    return e


def _federated(condition: str | None, member: str = "*", role: str = "roles/editor", *,
               issuer: str = "https://token.actions.githubusercontent.com") -> GcpEstate:
    """A project whose only pipeline is hosted: a pool's provider trusted by a service account."""
    e = GcpEstate()
    e.network()
    account = e.service_account("infra-admin")
    e.grant(role, account)
    pool = e.workload_pool("github", issuer, condition=condition)
    e.federate(account, f"principalSet://iam.googleapis.com/{pool}/{member}")
    return e


def federated_any_owner() -> GcpEstate:
    return _federated(None)


def federated_one_owner_with_a_key() -> GcpEstate:
    e = _federated("assertion.repository_owner == 'acme'", role="roles/viewer")
    e.key("infra-admin@acme-ci.iam.gserviceaccount.com", "3f1c9a0e7b2d4c6a8e0f1b3d5c7a9e1f2b4d6c8a")
    e.key("infra-admin@acme-ci.iam.gserviceaccount.com", "9a0e7b2d4c6a8e0f1b3d5c7a9e1f2b4d6c8a3f1c", disabled=True)
    return e


def federated_any_branch() -> GcpEstate:
    return _federated("assertion.repository_owner == 'acme'", "attribute.repository/acme/infra")


def federated_pinned() -> GcpEstate:
    return _federated("assertion.repository == 'acme/infra' && (assertion.ref == 'refs/heads/main' || "
                      "assertion.ref in ['refs/heads/release'])")


def federated_cluster_with_a_key() -> GcpEstate:
    e = _federated(None, issuer="https://container.googleapis.com/v1/projects/acme-ci/locations/us-central1/"
                                "clusters/apps")
    e.key("infra-admin@acme-ci.iam.gserviceaccount.com", "5c7a9e1f2b4d6c8a3f1c9a0e7b2d4c6a8e0f1b3d")
    return e


FEDERATED = "infra-admin@acme-ci.iam.gserviceaccount.com"

SCENARIOS = {
    "public Jenkins": (public_jenkins, {("ci-internet-exposed", "jenkins"), ("ci-firewall-allows-internet", "jenkins"),
                                        ("ci-internet-gateway-segment", "jenkins"),
                                        ("ci-not-behind-load-balancer", "jenkins")}),
    "deny at higher priority": (deny_at_higher_priority, {("ci-internet-gateway-segment", "jenkins"),
                                                          ("ci-not-behind-load-balancer", "jenkins")}),
    "deny wins at equal priority": (deny_at_equal_priority, {("ci-internet-gateway-segment", "jenkins"),
                                                              ("ci-not-behind-load-balancer", "jenkins")}),
    "target tag not matching": (target_tag_not_matching, {("ci-internet-gateway-segment", "jenkins"),
                                                          ("ci-not-behind-load-balancer", "jenkins")}),
    "disabled rule": (disabled_rule, {("ci-internet-gateway-segment", "jenkins"),
                                      ("ci-not-behind-load-balancer", "jenkins")}),
    "default route for other tags": (route_for_other_tags, {("ci-firewall-allows-internet", "jenkins"),
                                                            ("ci-not-behind-load-balancer", "jenkins")}),
    "behind a load balancer only": (behind_load_balancer_only, {("ci-internet-exposed", "jenkins")}),
    "load balancer the firewall does not admit": (load_balancer_not_admitted, set()),
    "managed instance group behind a load balancer": (managed_fleet_behind_load_balancer,
                                                      {("ci-internet-exposed", "vm-7f2k")}),
    "no external IP, open rule": (no_external_ip_open_rule, {("ci-firewall-allows-internet", "gitlab-runner-1")}),
    "editor service account": (editor_service_account, {("ci-admin-identity", "gitlab-runner-1")}),
    # The owner it impersonates is no CI identity: its project's id (acme-ci) is not its name.
    "token creator on an owner": (token_creator, {("ci-admin-identity", "gitlab-runner-1")}),
    "project IAM admin from the folder": (project_iam_admin_from_folder,
                                          {("ci-privilege-escalation", "gitlab-runner-1")}),
    "editor service account, default scopes": (editor_with_default_scopes, set()),
    "editor service account, compute scope": (editor_with_compute_scope,
                                              {("ci-privilege-escalation", "gitlab-runner-1")}),
    "editor service account under an IAM condition": (editor_under_a_condition,
                                                      {("ci-admin-identity", "gitlab-runner-1")}),
    "default service account, cloud-platform scope": (default_service_account_cloud_platform,
                                                      {("ci-admin-identity", "jenkins-agent-1")}),
    "runner token in a startup script": (runner_token_in_startup_script,
                                         {("ci-secret-in-user-data", "gitlab-runner-1")}),
    "public web server that is not CI": (public_web_server, set()),
    "CI by its network tag": (ci_by_network_tag, {("ci-internet-exposed", "vm-4711"),
                                                  ("ci-firewall-allows-internet", "vm-4711"),
                                                  ("ci-internet-gateway-segment", "vm-4711"),
                                                  ("ci-not-behind-load-balancer", "vm-4711")}),
    "production project": (production_project, {("ci-production-access", "gitlab-runner-1")}),
    "runner reaches production by network tag": (runner_reaches_production_by_tag,
                                                 {("ci-reaches-production", "gitlab-runner-1")}),
    "GitHub federation of the whole pool, on an editor": (
        federated_any_owner, {("ci-federation-unscoped", FEDERATED), ("ci-admin-identity", FEDERATED),
                              ("ci-internet-to-admin-path", FEDERATED)}),
    "GitHub federation of one owner, with a stored key": (
        federated_one_owner_with_a_key, {("ci-federation-unscoped", FEDERATED), ("ci-stored-credential", FEDERATED)}),
    "GitHub federation of one repository, any branch, on an editor": (
        federated_any_branch, {("ci-federation-unscoped", FEDERATED), ("ci-admin-identity", FEDERATED)}),
    "GitHub federation pinned to a repository and two branches": (
        federated_pinned, {("ci-admin-identity", FEDERATED)}),
    "a cluster's federation and a key of an account that is not CI": (federated_cluster_with_a_key, set()),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scan_gcp_finds_what_the_semantics_say(name, fake, tmp_path, monkeypatch):
    build, expected = SCENARIOS[name]
    estate = build()
    code, document = scan(fake, tmp_path, monkeypatch, estate)
    assert found(document) == expected, "\n".join(f["message"] for f in document["findings"])
    assert document["coverage"]["gaps"] == []
    assert all(f["confidence"] == ("unknown" if "condition" in name else "confirmed") for f in document["findings"])
    # A managed instance group's members come from its instances' metadata, not a list call.
    assert bool(estate.member_lists) == any(path.endswith("/listInstances") for _, path in fake.requests)
    assert code == (1 if any(f["severity"] in ("critical", "high") for f in document["findings"]) else 0)
    # Read-only: every call was a GET, or a POST of a read (getIamPolicy, listInstances).
    writes = [r for r in fake.requests if r[0] != "GET" and not r[1].endswith(READ_POSTS)]
    assert not writes and fake.requests
    # Each finding's remediation: well-formed gcloud commands with the scan's own ids
    check_remediation(document)


def test_the_chain_and_the_exposure_of_a_public_jenkins_are_in_its_evidence(fake, tmp_path, monkeypatch):
    e = public_jenkins()
    account = e.service_account("jenkins")
    deployer = e.service_account("deployer")
    e.grant("roles/editor", deployer)
    e.grant("roles/iam.serviceAccountTokenCreator", account, on=deployer)
    e.compute["instances"][0]["serviceAccounts"] = [{"email": account, "scopes": CLOUD_PLATFORM}]
    _, document = scan(fake, tmp_path, monkeypatch, e)
    path = next(f for f in document["findings"] if f["check_id"] == "ci-internet-to-admin-path")
    assert path["severity"] == "critical"
    text = json.dumps(path)
    assert "deployer@acme-ci.iam.gserviceaccount.com" in text and "allow-jenkins" in text
    exposed = next(f for f in document["findings"] if f["check_id"] == "ci-internet-exposed")
    assert exposed["ports"] == ["tcp/8080"] if "ports" in exposed else "tcp/8080" in exposed["message"]


def test_a_denied_list_is_a_coverage_gap_and_the_scan_goes_on(fake, tmp_path, monkeypatch):
    from werkzeug import Response

    denied = Response(json.dumps({"error": {"code": 403, "message": "Required 'compute.firewalls.list' permission",
                                            "status": "PERMISSION_DENIED"}}), status=403,
                      content_type="application/json")
    code, document = scan(fake, tmp_path, monkeypatch, public_jenkins(),
                          overrides={("GET", "/compute/v1/projects/acme-ci/global/firewalls"): denied})
    gaps = document["coverage"]["gaps"]
    assert [g["what"] for g in gaps] == ["compute.firewalls"] and "403" in gaps[0]["error"]
    assert ("ci-not-behind-load-balancer", "jenkins") in found(document)
    exposed = [f for f in document["findings"] if f["check_id"] == "ci-internet-exposed"]
    assert exposed and exposed[0]["confidence"] == "unknown"
    assert code in (1, 4)


def test_an_organization_scans_every_active_project_beneath_it(fake, tmp_path, monkeypatch):
    first, second = public_jenkins(), GcpEstate(project="acme-web", number="323456789012")
    second.network()
    listing = {("GET", "/v3/projects"): {"projects": [
        {"name": "projects/123456789012", "projectId": "acme-ci", "state": "ACTIVE", "parent": "organizations/3001"},
        {"name": "projects/323456789012", "projectId": "acme-web", "state": "ACTIVE", "parent": "organizations/3001"},
        {"name": "projects/9", "projectId": "old", "state": "DELETE_REQUESTED", "parent": "organizations/3001"}]},
        ("GET", "/v3/folders"): {"folders": []}}
    code, document = scan(fake, tmp_path, monkeypatch, first, second, args=("--organization", "3001"),
                          overrides=listing)
    assert ("ci-internet-exposed", "jenkins") in found(document)
    assert not any("/projects/old" in path for _, path in fake.requests)
    assert any("/projects/acme-web/" in path for _, path in fake.requests)


def test_an_organization_collected_as_tasks_gives_the_same_findings_and_keeps_each_project(fake, tmp_path,
                                                                                            monkeypatch):
    """--snapshot-dir: one task per project on the engine's pool (the same tasks a Dask cluster
    runs with --scheduler), each writing its project's snapshot there."""
    import gzip

    first, second = public_jenkins(), GcpEstate(project="acme-web", number="323456789012")
    second.network()
    listing = {("GET", "/v3/projects"): {"projects": [
        {"name": "projects/123456789012", "projectId": "acme-ci", "state": "ACTIVE", "parent": "organizations/3001"},
        {"name": "projects/323456789012", "projectId": "acme-web", "state": "ACTIVE", "parent": "organizations/3001"}]},
        ("GET", "/v3/folders"): {"folders": []}}
    _, in_process = scan(fake, tmp_path, monkeypatch, first, second, args=("--organization", "3001"),
                         overrides=listing)
    parts = tmp_path / "parts"
    # A third project whose part cannot be stored (its file name is too long), every try: a gap.
    unstorable = "p" * 300
    listing[("GET", "/v3/projects")]["projects"].append(
        {"name": "projects/5", "projectId": unstorable, "state": "ACTIVE", "parent": "organizations/3001"})
    code, as_tasks = scan(fake, tmp_path, monkeypatch, first, second,
                          args=("--organization", "3001", "--snapshot-dir", str(parts), "--concurrency", "2"),
                          overrides=listing)
    assert found(as_tasks) == found(in_process) and ("ci-internet-exposed", "jenkins") in found(as_tasks)
    assert in_process["coverage"]["gaps"] == []
    [gap] = as_tasks["coverage"]["gaps"]
    assert (gap["scope"], gap["what"]) == (unstorable, "project") and gap["error"].startswith(
        "not collected: UserError: "), gap
    assert sorted(s["scope"] for s in as_tasks["scan"]["sources"]) == ["acme-ci", "acme-web", unstorable]
    kept = {path.name: json.loads(gzip.decompress(path.read_bytes())) for path in parts.glob("acme-*.json.gz")}
    assert {name: snap["scope"] for name, snap in kept.items()} == {"acme-ci.json.gz": "acme-ci",
                                                                    "acme-web.json.gz": "acme-web"}
    assert kept["acme-ci.json.gz"]["compute"]["instances"]


def shared_vpc() -> tuple[GcpEstate, GcpEstate]:
    """A Shared VPC: the host project's network, its firewall and a production database; a runner
    of a service project on the host's subnetwork, admitted by its network tag."""
    host = GcpEstate(project="acme-net", number="423456789012")
    net = host.network("shared")
    host.firewall("allow-runners-to-db", net, allow=[("tcp", ["5432"])], source_tags=["ci-runner"], targets=["db"])
    host.instance("orders-db", net, ip="10.128.0.20", tags=["db"], labels={"env": "production"})
    host.xpn_host()
    service = GcpEstate()
    service.instance("gitlab-runner-1", net, ip="10.128.0.5", tags=["ci-runner"], group="gitlab-runners")
    service.xpn_service_of(host)
    return host, service


def test_a_shared_vpc_joins_a_service_projects_runner_to_the_hosts_network(fake, tmp_path, monkeypatch):
    host, service = shared_vpc()
    _, document = scan(fake, tmp_path, monkeypatch, host, service)
    assert found(document) == {("ci-reaches-production", "gitlab-runner-1")}
    assert document["coverage"]["gaps"] == []
    reach = next(f for f in document["findings"] if f["check_id"] == "ci-reaches-production")
    assert "allow-runners-to-db" in json.dumps(reach)
    # The service project alone: its host is named as what was not scanned.
    _, document = scan(fake, tmp_path, monkeypatch, host, service, args=("--project", "acme-ci"))
    assert any("Shared VPC host project acme-net" in g["error"] for g in document["coverage"]["gaps"])
    # The same estate as one plan (both projects' resources, the service project attached).
    from guardrails.pipeline import scan_snapshots
    from guardrails.providers.terraform import load_terraform

    plan = host.as_plan()
    plan["resource_changes"] += service.as_plan()["resource_changes"]
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    document = scan_snapshots(load_terraform(path))
    assert found(document) == {("ci-reaches-production", "gitlab-runner-1")}


def test_every_check_says_how_it_applies_to_gcp_in_the_listing_and_the_docs():
    from guardrails.providers.gcp.notes import CHECK_NOTES
    from guardrails.registry import all_checks

    result = CliRunner().invoke(app, ["checks"])
    listed = " ".join(result.output.split("gcp", 1)[1].split("azure", 1)[0].split())
    docs = (Path(__file__).parents[1] / "docs" / "checks.md").read_text()
    gcp_docs = docs.split("## Google Cloud", 1)[1].split("\n## ", 1)[0]
    for chk in all_checks():
        assert CHECK_NOTES[chk.id].startswith(("applies", "does not apply"))
        assert f"{chk.id} {' '.join(CHECK_NOTES[chk.id].split()[:4])}" in listed
        assert f"`{chk.id}` | {CHECK_NOTES[chk.id]}" in gcp_docs


# Estates whose plan cannot say the same: the fake's organization listing and error replies.
TWINS = [name for name in SCENARIOS]


@pytest.mark.parametrize("name", TWINS)
def test_the_same_estate_as_a_terraform_plan_gives_the_same_findings(name, fake, tmp_path, monkeypatch):
    from guardrails.pipeline import scan_snapshots
    from guardrails.providers.terraform import load_terraform

    build, expected = SCENARIOS[name]
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(build().as_plan()))
    document = scan_snapshots(load_terraform(plan))
    assert found(document) == expected, "\n".join(f["message"] for f in document["findings"])
    assert document["coverage"]["gaps"] == []
    assert all(f["confidence"] == ("unknown" if "condition" in name else "confirmed") for f in document["findings"])
    check_remediation(document)  # the change at each google_* address


def _permission(method: str, path: str) -> str | None:
    """The IAM permission a REST call of the collector needs (None: readable by any caller)."""
    parts = path.strip("/").split("/")
    if path.startswith("/compute/v1/"):
        if len(parts) == 4 or parts[-1] in ("getXpnHost", "getXpnResources"):
            return "compute.projects.get"
        if path.endswith("/listInstances"):
            return "compute.instanceGroups.list"
        kind = parts[-1]
        if parts[-2] == "global":
            # Global network firewall policies are read with the firewallPolicies permissions.
            kind = {"addresses": "globalAddresses", "forwardingRules": "globalForwardingRules"}.get(kind, kind)
        return f"compute.{kind}.list"
    if path.startswith("/v3/"):
        if path.endswith(":getIamPolicy"):
            return f"resourcemanager.{parts[1]}.getIamPolicy"
        return f"resourcemanager.{parts[1]}.{'get' if len(parts) > 2 else 'list'}"
    if path.endswith(":getIamPolicy"):
        return "iam.serviceAccounts.getIamPolicy"
    if parts[-1] == "serviceAccounts":
        return "iam.serviceAccounts.list"
    if parts[-1] == "keys":
        return "iam.serviceAccountKeys.list"
    if parts[-1] == "workloadIdentityPools":
        return "iam.googleapis.com/workloadIdentityPools.list"
    if parts[-1] == "providers":
        return "iam.googleapis.com/workloadIdentityPoolProviders.list"
    if parts[-1] == "roles":
        return "iam.roles.list"
    if parts[1] == "roles":
        return None  # predefined roles' definitions are public
    raise AssertionError(f"no permission known for {method} {path}")


def test_the_readme_lists_every_permission_the_collector_needs(fake, tmp_path, monkeypatch):
    import re

    e = behind_load_balancer_only()
    runner = e.service_account("ci-runner")
    e.grant("roles/editor", runner)
    e.grant("roles/viewer", runner, on="folders/2001")
    e.federate(runner, f"principalSet://iam.googleapis.com/{e.workload_pool('github')}/attribute.repository/acme/infra")
    for n in range(5):  # more rules than a page holds
        e.firewall(f"allow-service-{n}", e.compute["networks"][0]["selfLink"], allow=[("tcp", [str(9000 + n)])],
                   sources=["10.0.0.0/8"])
    listing = {("GET", "/v3/projects"): {"projects": [{"name": "projects/123456789012", "projectId": "acme-ci",
                                                         "state": "ACTIVE", "parent": "folders/2001"}]},
               ("GET", "/v3/folders"): {"folders": []}}
    scan(fake, tmp_path, monkeypatch, e, args=("--folder", "2001"), overrides=listing)
    assert sum(path.endswith("/global/firewalls") for _, path in fake.requests) == 3, "every page was read"
    needed = {p for p in (_permission(m, path) for m, path in fake.requests) if p}
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    block = readme.split("<!-- gcp-permissions -->", 1)[1].split("```", 2)[1]
    listed = set(block.split()[1:])
    assert len(needed) > 20 and sorted(needed - listed) == []
    assert sorted(listed - needed) == [], "the README lists permissions the collector does not use"
    # The roles the README names hold them all, by the roles' recorded definitions: roles/viewer and
    # roles/iam.securityReviewer on each project, roles/browser and roles/iam.securityReviewer on
    # the organization or folder whose projects are listed and whose policies are inherited.
    recorded = json.loads((Path(__file__).parent / "fixtures" / "gcp" / "predefined_roles.json").read_text())
    holds = {role["name"]: set(role["includedPermissions"]) for role in recorded["roles"]}
    above = {p for p in needed if p.startswith(("resourcemanager.folders.", "resourcemanager.organizations."))}
    on_project = needed - above
    assert sorted(on_project - holds["roles/viewer"] - holds["roles/iam.securityReviewer"]) == []
    assert sorted(above - holds["roles/browser"] - holds["roles/iam.securityReviewer"]) == []
    assert "roles/viewer" in readme and "roles/iam.securityReviewer" in readme and "roles/browser" in readme


def test_the_clients_refuse_every_call_that_is_not_a_read():
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import compute_v1

    from guardrails.providers.gcp.collect import ReadOnly, ReadOnlyError, ReadOnlySession

    client = ReadOnly(compute_v1.FirewallsClient(credentials=AnonymousCredentials(), transport="rest"))
    for method in ("insert", "delete", "patch", "update", "set_iam_policy", "test_iam_permissions"):
        with pytest.raises(ReadOnlyError):
            getattr(client, method)
    assert callable(client.list) and callable(client.get)
    session = ReadOnlySession(AnonymousCredentials(), 1.0)
    with pytest.raises(ReadOnlyError):
        session.get_iam_policy("http://127.0.0.1:9/v1/projects/p/serviceAccounts/a:setIamPolicy")
    assert not hasattr(session, "post")


def test_the_live_twin_of_the_gcp_terraform_scenario_finds_its_expected_findings(fake, tmp_path, monkeypatch):
    """terraform-fixtures/gcp-public-jenkins built as a live project: the same findings, by name."""
    folder = Path(__file__).parents[1] / "terraform-fixtures" / "gcp-public-jenkins"
    names = {"google_compute_instance.jenkins": "jenkins", "google_compute_instance.runner": "gitlab-runner-1"}
    expected = {(f["check_id"], names[f["resource"]]) for f in json.loads((folder / "expected.json").read_text())["findings"]}
    e = GcpEstate()
    net = e.network("ci", cidr="10.10.0.0/24")
    e.firewall("allow-jenkins-ui", net, allow=[("tcp", ["8080"])], sources=["0.0.0.0/0"], targets=["jenkins"])
    e.firewall("allow-runner-ssh", net, allow=[("tcp", ["22"])], source_tags=["bastion"], targets=["runner"])
    jenkins = e.service_account("jenkins")
    e.grant("roles/editor", jenkins)
    e.instance("jenkins", net, ip="10.10.0.2", nat_ip="34.70.1.2", tags=["jenkins"], account=jenkins,
               scopes=CLOUD_PLATFORM, image="debian-12")
    e.instance("gitlab-runner-1", net, ip="10.10.0.3", tags=["runner"], image="debian-12",
               metadata={"startup-script": "gitlab-runner register --non-interactive --token glrt-Qw3rTy7uIoPaSdFgHjKl"})
    _, document = scan(fake, tmp_path, monkeypatch, e)
    assert found(document) == expected, "\n".join(f["message"] for f in document["findings"])


def test_a_federation_that_cannot_be_evaluated_is_unknown_and_a_gap_never_scoped(fake, tmp_path, monkeypatch):
    e = _federated("assertion.repository_owner == 'acme' && assertion.job_workflow_ref.matches('deploy')")
    _, document = scan(fake, tmp_path, monkeypatch, e)
    unscoped = next(f for f in document["findings"] if f["check_id"] == "ci-federation-unscoped")
    assert unscoped["confidence"] == "unknown" and "job_workflow_ref" in json.dumps(unscoped)
    assert [g["what"] for g in document["coverage"]["gaps"]] == [f"federation of service account {FEDERATED}"]
    # The same in a plan whose binding names the pool by reference: the member is known after apply.
    plan = e.as_plan()
    for change in plan["resource_changes"]:
        if change["type"] == "google_service_account_iam_member":
            change["change"]["after"].pop("member")
            change["change"]["after_unknown"] = {"member": True}
    plan["configuration"] = {"root_module": {"resources": [
        {"address": c["address"], "type": c["type"], "name": c["name"], "mode": "managed",
         "expressions": {"member": {"references": ["google_iam_workload_identity_pool.github.name",
                                                   "google_iam_workload_identity_pool.github"]}}}
        for c in plan["resource_changes"] if c["type"] == "google_service_account_iam_member"]}}
    from guardrails.pipeline import scan_snapshots
    from guardrails.providers.terraform import load_terraform

    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    document = scan_snapshots(load_terraform(path))
    unscoped = next(f for f in document["findings"] if f["check_id"] == "ci-federation-unscoped")
    assert unscoped["confidence"] == "unknown" and "known only after apply" in json.dumps(unscoped)


def test_what_the_timeout_leaves_unread_is_a_coverage_gap(fake, tmp_path, monkeypatch):
    import time

    e = public_jenkins()
    instances = e.replies()[("GET", "/compute/v1/projects/acme-ci/aggregated/instances")]

    def slow():
        time.sleep(1.5)
        return instances

    code, document = scan(fake, tmp_path, monkeypatch, e, args=("--project", "acme-ci", "--timeout", "1"),
                          overrides={("GET", "/compute/v1/projects/acme-ci/aggregated/instances"): slow})
    gaps = {g["what"]: g["error"] for g in document["coverage"]["gaps"]}
    assert "project" not in gaps and "compute.instances" not in gaps
    assert gaps["compute.firewalls"] == gaps["iam.serviceAccounts"] == "collection timed out"
    assert not any(path.endswith("/global/firewalls") for _, path in fake.requests)
    assert code == 1 and ("ci-not-behind-load-balancer", "jenkins") in found(document)


def _run_gcloud(estate: GcpEstate, command: str, variables: dict[str, str]) -> None:
    """What each gcloud command of the changes does to the fake's project, as Google Cloud would:
    the rescan then shows what the change did."""
    import re
    import shlex

    assigned = re.match(r"^(?P<name>[a-z_]+)=\$\((?P<command>.+)\)$", command)
    words = shlex.split(assigned["command"] if assigned else command)
    verb = [w for w in words[1:] if not w.startswith("--")]
    flags = dict(w[2:].split("=", 1) if "=" in w else (w[2:], "") for w in words[1:] if w.startswith("--"))
    def bindings_without(bindings: list[dict]) -> list[dict]:
        return [dict(b, members=[m for m in b["members"] if m != flags["member"]]) if b["role"] == flags["role"] else b
                for b in bindings]
    match verb:
        case ["compute", "forwarding-rules", "delete", name]:
            estate.compute["globalForwardingRules"] = [r for r in estate.compute["globalForwardingRules"]
                                                       if r["name"] != name]
        case ["iam", "service-accounts", "remove-iam-policy-binding", email]:
            estate.account_bindings[email] = bindings_without(estate.account_bindings[email])
        case ["projects", "remove-iam-policy-binding", project, *_]:
            assert project == estate.project
            estate.bindings[:] = bindings_without(estate.bindings)
        case ["iam", "service-accounts", "keys", "list"]:
            start = flags["filter"].removeprefix("name~/keys/")
            (key,) = [k["name"] for k in estate.keys[flags["iam-account"]] if k["name"].split("/keys/")[1].startswith(start)]
            variables[assigned["name"]] = key.rsplit("/", 1)[1]
        case ["iam", "service-accounts", "keys", "disable", key_id]:
            key_id = variables[key_id[1:]] if key_id.startswith("$") else key_id
            for key in estate.keys[flags["iam-account"]]:
                if key["name"].endswith(f"/keys/{key_id}"):
                    key["disabled"] = True
        case other:
            raise AssertionError(f"not a command this test runs: gcloud {' '.join(other)}")


@pytest.mark.parametrize("name", ["behind a load balancer only", "GitHub federation of the whole pool, on an editor",
                                  "GitHub federation of one owner, with a stored key"])
def test_the_changes_through_a_load_balancer_a_federation_or_a_key_clear_the_findings(name, fake, tmp_path,
                                                                                       monkeypatch):
    """Every gcloud command of the scenario's findings, run on the project as a person would after
    reading the report: on a rescan no finding is left."""
    from guardrails.reports.remediation import steps_for

    build, expected = SCENARIOS[name]
    estate = build()
    _, before = scan(fake, tmp_path, monkeypatch, estate)
    assert found(before) == expected
    variables: dict[str, str] = {}
    for finding in before["findings"]:
        for command in steps_for(finding).commands:
            _run_gcloud(estate, command, variables)
    _, after = scan(fake, tmp_path, monkeypatch, estate)
    assert found(after) == set(), [f["message"] for f in after["findings"]]
