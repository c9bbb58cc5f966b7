"""Organization-wide collection and audits: a moto server holding an AWS organization of three
accounts (management, tooling, production), collected by the real CLI through AWS Organizations
and assumed roles, on the local pool and on a real Dask LocalCluster of worker processes; audits
of it recorded in SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from aws_builders import ANYWHERE, AwsBuilder, allow, policy_document, tcp, trust_principals
from conftest import running_moto_server
from fault_proxy import FaultProxy, Rule

GUARDRAILS = [str(Path(sys.executable).with_name("guardrails"))]
REGION = "eu-west-1"
ROLE = "OrganizationAccountAccessRole"


@pytest.fixture(scope="module")
def org_moto(aws_test_environment, lean_moto_catalogues):
    """A moto server of its own behind a fault-injecting proxy that passes everything until a
    test adds a rule: the server's URL and the proxy. No AWS managed policies (the estate attaches
    none) and moto's small image list: each account of each region would load them anew."""
    _, images = lean_moto_catalogues
    with running_moto_server(MOTO_IAM_LOAD_MANAGED_POLICIES=None, MOTO_AMIS_PATH=images) as url:
        proxy = FaultProxy(url).start()
        try:
            yield url, proxy
        finally:
            proxy.stop()


@dataclass
class OrgEstate:
    management: str
    tooling: str
    production: str
    exposed_later: object  # runner-a: an Elastic IP makes it reachable from the internet
    fixed_later: tuple  # (builder, security group) of runner-b: the open rule is revoked
    runner_a_builder: AwsBuilder
    config: Path


def _member_session(management, account: str):
    credentials = management.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{ROLE}", RoleSessionName="builder")["Credentials"]
    return boto3.Session(aws_access_key_id=credentials["AccessKeyId"],
                         aws_secret_access_key=credentials["SecretAccessKey"],
                         aws_session_token=credentials["SessionToken"], region_name=REGION)


@pytest.fixture
def org(org_moto, monkeypatch, tmp_path) -> OrgEstate:
    """The organization, built anew on an emptied server. Tooling holds runner-a (a public
    subnet and a security group open to the internet, but no public address yet) and runner-c,
    whose role may assume deploy-admin in production; production holds runner-b, whose security
    group admits the internet, and the deploy-admin role, administrator, trusting runner-c's role."""
    from conftest import reset_moto_server

    url, proxy = org_moto
    proxy.rules.clear()
    reset_moto_server(url)
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    management = boto3.Session(region_name=REGION)
    organizations = management.client("organizations")
    organizations.create_organization(FeatureSet="ALL")
    # As in AWS, SCPs bound an account only once the root enables them.
    organizations.enable_policy_type(RootId=organizations.list_roots()["Roots"][0]["Id"],
                                     PolicyType="SERVICE_CONTROL_POLICY")
    ids = {name: organizations.create_account(AccountName=name, Email=f"{name}@example.com")
           ["CreateAccountStatus"]["AccountId"] for name in ("tooling", "production")}
    mine = management.client("sts").get_caller_identity()["Account"]
    guardrail = organizations.create_policy(
        Name="no-leaving", Type="SERVICE_CONTROL_POLICY", Description="members stay",
        Content=json.dumps(policy_document({"Effect": "Deny", "Action": "organizations:LeaveOrganization",
                                            "Resource": "*"})))["Policy"]["PolicySummary"]["Id"]
    organizations.attach_policy(PolicyId=guardrail, TargetId=ids["production"])

    tooling = AwsBuilder(_member_session(management, ids["tooling"]))
    network = tooling.vpc("10.10.0.0/16", name="ci", igw=True)
    public = tooling.public_subnet(network, "10.10.1.0/24")
    private = tooling.private_subnet(network, "10.10.2.0/24")
    open_group = tooling.security_group(network, "runner-a", ingress=[tcp(22, ANYWHERE)])
    runner_a = tooling.instance("gitlab-runner-a", subnet=public, security_groups=[open_group], imds="required")
    runner_c_role = tooling.role("gitlab-runner-c", inline_policies={"deploy": policy_document(
        allow("sts:AssumeRole", f"arn:aws:iam::{ids['production']}:role/deploy-admin"))})
    closed = tooling.security_group(network, "runner-c", ingress=[tcp(22, "10.10.0.0/16")])
    tooling.instance("gitlab-runner-c", subnet=private, security_groups=[closed], imds="required",
                     instance_profile=runner_c_role)

    production = AwsBuilder(_member_session(management, ids["production"]))
    prod_network = production.vpc("10.20.0.0/16", name="prod")
    prod_private = production.private_subnet(prod_network, "10.20.1.0/24")
    open_b = production.security_group(prod_network, "runner-b", ingress=[tcp(22, ANYWHERE)])
    production.instance("gitlab-runner-b", subnet=prod_private, security_groups=[open_b], imds="required")
    production.role("deploy-admin", trust=trust_principals(runner_c_role.arn), instance_profile=False,
                    inline_policies={"admin": policy_document(allow("*", "*"))})

    config = tmp_path / "guardrails.toml"
    config.write_text(f'[production]\naccounts = ["{ids["production"]}"]\n')
    return OrgEstate(mine, ids["tooling"], ids["production"], runner_a, (production, open_b), tooling, config)


def open_runner_a_and_fix_runner_b(estate: OrgEstate) -> None:
    """The change between two audits: runner-a gets an Elastic IP (now reachable from the
    internet), runner-b's security group stops admitting the internet."""
    ec2 = estate.runner_a_builder.ec2
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    ec2.associate_address(AllocationId=allocation, InstanceId=estate.exposed_later.id)
    builder, group = estate.fixed_later
    builder.ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=[tcp(22, ANYWHERE)])


def guardrails(*args: str, endpoint: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "COLUMNS": "250"}
    return subprocess.run([*GUARDRAILS, *args], capture_output=True, text=True, timeout=timeout, env=env)


def printed_changes(stdout: str) -> list[tuple[str, str, str]]:
    """(label, check id, resource name) of each new, fixed, reopened or unseen finding printed."""
    return [(parts[0], parts[2], parts[3]) for parts in (line.split() for line in stdout.splitlines())
            if parts and parts[0] in ("NEW", "FIXED", "REOPENED", "EXPIRED", "UNSEEN")]


def two_audits(org: OrgEstate, db: str, endpoint: str, tmp_path: Path, *engine: str) -> tuple:
    audit = ["audit", "--db", db, "aws", "--organization", "--region", REGION, "--config", str(org.config),
             *engine]
    first = guardrails(*audit, "--format", "json", "--output", str(tmp_path / "first.json"), endpoint=endpoint)
    assert first.returncode == 1, first.stderr
    open_runner_a_and_fix_runner_b(org)
    second = guardrails(*audit, endpoint=endpoint)
    assert second.returncode == 1, second.stderr
    return json.loads((tmp_path / "first.json").read_text()), second


def assert_one_new_one_fixed(second: subprocess.CompletedProcess) -> None:
    assert printed_changes(second.stdout) == [("NEW", "ci-internet-exposed", "gitlab-runner-a"),
                                              ("FIXED", "ci-firewall-allows-internet", "gitlab-runner-b")], \
        second.stdout
    assert "\n1 new, 1 fixed, 0 reopened" in second.stdout


def test_two_audits_of_an_organization_print_one_new_and_one_fixed_finding(org, org_moto, history_db, tmp_path):
    url, _ = org_moto
    first, second = two_audits(org, history_db, url, tmp_path)
    assert first["coverage"]["gaps"] == []
    accounts = {source["scope"] for source in first["scan"]["sources"]}
    assert accounts == {org.management, org.tooling, org.production}
    assert_one_new_one_fixed(second)
    assert f"aws-organization:o-" in second.stdout


# A distributed.LocalCluster of two worker processes, run by a child process of its own so that
# none of Dask's threads outlive the test in this one (a later test forks, which needs a process
# with one thread). It prints the scheduler's address and runs until its standard input closes.
LOCAL_CLUSTER = """
import sys
from distributed import LocalCluster
with LocalCluster(n_workers=2, threads_per_worker=2, processes=True, host="127.0.0.1",
                  dashboard_address=None) as cluster:
    print(cluster.scheduler_address, flush=True)
    sys.stdin.read()
"""


def test_the_same_audits_with_collection_on_a_dask_cluster_of_two_workers(org, org_moto, tmp_path):
    url, _ = org_moto
    # The workers read the cloud as the CLI would: from their environment.
    cluster = subprocess.Popen([sys.executable, "-c", LOCAL_CLUSTER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, env={**os.environ, "AWS_ENDPOINT_URL": url},
                               # `-c` puts the working directory first on sys.path: from a checkout, its
                               # source folder would shadow the installed package in the workers.
                               cwd=tmp_path)
    try:
        address = cluster.stdout.readline().strip()
        assert address.startswith("tcp://127.0.0.1:"), address
        engine = ["--scheduler", address, "--snapshot-dir", str(tmp_path / "parts")]
        first, second = two_audits(org, str(tmp_path / "history.sqlite"), url, tmp_path, *engine)
    finally:
        cluster.stdin.close()
        try:
            cluster.wait(timeout=60)
        except subprocess.TimeoutExpired:
            cluster.kill()
            cluster.wait()
    assert first["coverage"]["gaps"] == []
    assert_one_new_one_fixed(second)
    # Each task wrote its part, and each account's merged snapshot is there to scan again.
    merged = sorted(p.name for p in (tmp_path / "parts").glob("account-*.json.gz"))
    assert merged == sorted(f"account-{a}.json.gz" for a in (org.management, org.tooling, org.production))
    assert (tmp_path / "parts" / org.tooling / f"{REGION}.json.gz").is_file()
    again = guardrails("scan", "snapshot", *(str(tmp_path / "parts" / name) for name in merged), "--config",
                       str(org.config), "--format", "json", endpoint=url)
    assert {f["id"] for f in json.loads(again.stdout)["findings"]} >= {
        f["id"] for f in first["findings"] if f["resource"]["name"] != "gitlab-runner-b"}


def test_a_runner_that_can_assume_an_admin_role_in_production_is_reported_with_the_chain(org, org_moto):
    url, _ = org_moto
    run = guardrails("scan", "aws", "--organization", "--region", REGION, "--config", str(org.config),
                     "--format", "json", endpoint=url)
    assert run.returncode == 1, run.stderr
    findings = {(f["check_id"], f["resource"]["name"]): f for f in json.loads(run.stdout)["findings"]}
    access = findings[("ci-production-access", "gitlab-runner-c")]
    admin_role = f"arn:aws:iam::{org.production}:role/deploy-admin"
    chain = [step["id"] for step in access["evidence"]["path"]]
    assert chain[0].startswith("i-") and f"arn:aws:iam::{org.tooling}:role/gitlab-runner-c" in chain
    assert admin_role in chain and chain.index(admin_role) > chain.index(
        f"arn:aws:iam::{org.tooling}:role/gitlab-runner-c")
    assert org.production in access["message"] and "deploy-admin" in access["message"]
    assert ("ci-admin-identity", "gitlab-runner-c") in findings


def test_an_account_whose_role_cannot_be_assumed_becomes_gaps_and_access_to_it_stays_possible(org, org_moto,
                                                                                               tmp_path):
    """Production's role cannot be assumed, nor its tags read: its contents become gaps after the
    tasks' retries, and runner-c, which may assume a role there, may act on production (the
    configuration names it); with no configuration, production may be production still."""
    url, proxy = org_moto
    proxy.rules.append(Rule("deny", service="sts", operation="AssumeRole", body_contains=org.production))
    proxy.rules.append(Rule("deny", service="organizations", operation="ListTagsForResource",
                            body_contains=org.production))
    proxy.seen.clear()
    parts = tmp_path / "parts"
    run = guardrails("scan", "aws", "--organization", "--region", REGION, "--config", str(org.config),
                     "--snapshot-dir", str(parts), "--format", "json", endpoint=proxy.url)
    document = json.loads(run.stdout)
    assert run.returncode == 1, run.stderr  # a possible finding of high severity fails the gate
    gaps = [g for g in document["coverage"]["gaps"] if g["scope"] == org.production]
    assert {g["what"] for g in gaps} == {"account", "region", "organizations.account_tags"}
    assert not document["coverage"]["complete"] and all("AccessDenied" in g["error"] for g in gaps)
    # Both tasks of the account (its global part and its region) were tried three times each.
    assert proxy.seen[("sts", "AssumeRole")] >= 2 * 3
    scanned = {s["scope"] for s in document["scan"]["sources"]}
    assert {org.management, org.tooling} <= scanned
    findings = {(f["check_id"], f["resource"]["name"]): f for f in document["findings"]}
    assert {name for _, name in findings} == {"gitlab-runner-a", "gitlab-runner-c"}
    access = findings[("ci-production-access", "gitlab-runner-c")]
    assert access["confidence"] == "unknown" and access["severity"] == "high"
    assert f"production account {org.production} (configuration names it)" in access["message"]
    assert "could not be collected" in access["message"] and "AccessDenied" in access["message"]
    assert access["evidence"]["path"][-1]["id"] == org.production

    # Without the configuration, whether the account is production is itself unknown: said so.
    merged = sorted(str(p) for p in parts.glob("account-*.json.gz"))
    again = guardrails("scan", "snapshot", *merged, "--format", "json", endpoint=url)
    findings = {(f["check_id"], f["resource"]["name"]): f for f in json.loads(again.stdout)["findings"]}
    access = findings[("ci-production-access", "gitlab-runner-c")]
    assert access["confidence"] == "unknown"
    assert f"account {org.production}, which may be production" in access["message"]
    assert "its alias was not collected" in access["message"]
    assert "its tags in AWS Organizations could not be read" in access["message"]


def test_a_service_control_policy_deny_cuts_the_power_a_role_would_have(org, org_moto):
    """deploy-admin allows * on *, but the production account's SCP denies iam:*: it is no
    administrator there (it can still change production, so production access stays)."""
    url, _ = org_moto
    organizations = boto3.Session(region_name=REGION).client("organizations")
    no_iam = organizations.create_policy(
        Name="no-iam", Type="SERVICE_CONTROL_POLICY", Description="identities are managed centrally",
        Content=json.dumps(policy_document({"Effect": "Deny", "Action": ["iam:*", "sts:*"], "Resource": "*"})))
    organizations.attach_policy(PolicyId=no_iam["Policy"]["PolicySummary"]["Id"], TargetId=org.production)
    run = guardrails("scan", "aws", "--organization", "--region", REGION, "--config", str(org.config),
                     "--format", "json", endpoint=url)
    assert run.returncode == 1, run.stderr
    document = json.loads(run.stdout)
    checks = {f["check_id"] for f in document["findings"] if f["resource"]["name"] == "gitlab-runner-c"}
    assert "ci-production-access" in checks and "ci-admin-identity" not in checks
    assert "ci-privilege-escalation" not in checks
