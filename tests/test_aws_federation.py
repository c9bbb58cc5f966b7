"""Hosted pipelines in a real AWS account (moto): roles that CI platforms' OIDC tokens can become, and
CI users with stored keys, collected, normalized, analysed and checked end to end, with the controls
that must scan clean."""

from __future__ import annotations

import copy
import json

import pytest
from aws_builders import (
    ADMINISTRATOR_ACCESS,
    READ_ONLY_ACCESS,
    AwsBuilder,
    allow,
    policy_document,
    trust_web_identity,
)

from guardrails import pipeline
from guardrails.config import Config, parse
from guardrails.providers.aws import collect as aws_collect
from guardrails.providers.aws.commands import user_data_wanted
from guardrails.reports import render
from guardrails.reports.view import attack_paths

REGION = "eu-west-1"
ACCOUNT = "123456789012"
GITHUB = "https://token.actions.githubusercontent.com"
GITHUB_SUB = "token.actions.githubusercontent.com:sub"
GITHUB_AUD = {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}}
SITE_DEPLOY = {"deploy": policy_document(allow(["s3:PutObject", "s3:DeleteObject"], "arn:aws:s3:::site/*"))}


def role_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


def scan(session, config: Config | None = None) -> dict:
    config = config or Config()
    snapshot = aws_collect.collect(session, [REGION], wants_user_data=user_data_wanted(config))
    return pipeline.scan_snapshots([snapshot], config)


def collect(session) -> dict:
    return aws_collect.collect(session, [REGION], wants_user_data=user_data_wanted(Config()))


def fired(document: dict) -> dict[tuple[str, str], str]:
    return {(f["check_id"], f["resource"]["id"]): f["severity"] for f in document["findings"]}


def github_role(b: AwsBuilder, name: str, conditions: dict | None, *, managed=(), inline=None, deny=None) -> str:
    provider = b.oidc_provider(GITHUB)
    return b.role(name, trust=trust_web_identity(provider, conditions, deny=deny), managed_policies=list(managed),
                  inline_policies=inline, instance_profile=False).arn


# --- done when: the only pipeline is a GitHub Actions role trusted with repo:* and holding AdministratorAccess


def only_pipeline_is_github_admin(b: AwsBuilder) -> str:
    return github_role(b, "github-deploy", {**GITHUB_AUD, "StringLike": {GITHUB_SUB: "repo:*"}},
                       managed=[ADMINISTRATOR_ACCESS])


def test_a_repo_star_admin_role_leads_the_report_with_the_internet_to_admin_path(aws, builder_session,
                                                                                  collector_session):
    role = only_pipeline_is_github_admin(AwsBuilder(builder_session))

    document = scan(collector_session)

    assert fired(document) == {("ci-internet-to-admin-path", role): "critical",
                               ("ci-federation-unscoped", role): "critical",
                               ("ci-admin-identity", role): "critical"}
    leading = attack_paths(document)[0]
    assert (leading["check_id"], leading["resource"]["id"]) == ("ci-internet-to-admin-path", role)
    path = leading["evidence"]["path"]
    assert [(s["kind"], s["id"]) for s in path] == [
        ("internet", "internet"),
        ("issuer", f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"),
        ("identity", role),
        ("account", ACCOUNT),
    ]
    assert "AdministratorAccess" in path[-1]["via"]
    unscoped = next(f for f in document["findings"] if f["check_id"] == "ci-federation-unscoped")
    assert "any workflow in any repository on GitHub" in unscoped["message"]
    assert unscoped["evidence"]["details"]["pin"] == "repo:<owner>/<repository>:ref:refs/heads/main"
    assert '"repo:*"' in unscoped["evidence"]["details"]["statement"]
    markdown = render(document, "markdown")
    assert markdown.index("ci-internet-to-admin-path") < markdown.index("ci-federation-unscoped")
    inventory = document["ci_identities"]
    assert [i["id"] for i in inventory] == [role]
    assert "any owner" in inventory[0]["reasons"][0]
    assert (inventory[0]["power"], inventory[0]["power_via"]) == ("admin", None)


# --- each level on each platform -------------------------------------------------------------------------

LEVEL_ROWS = [
    # (name, issuer URL, sub condition (IAM Condition block) or None, powerful?, expected severity or None)
    ("GitHub, only an aud condition", GITHUB, GITHUB_AUD, False, "critical"),
    ("GitHub, any repository of acme", GITHUB, {"StringLike": {GITHUB_SUB: "repo:acme/*"}}, False, "high"),
    ("GitHub, any branch of acme/infra on an administrator", GITHUB,
     {"StringLike": {GITHUB_SUB: "repo:acme/infra:*"}}, True, "medium"),
    ("GitHub, any branch of acme/infra on a site deployer", GITHUB,
     {"StringLike": {GITHUB_SUB: "repo:acme/infra:*"}}, False, None),
    ("GitLab, project_path:*", "https://gitlab.com",
     {"StringLike": {"gitlab.com:sub": "project_path:*"}}, False, "critical"),
    ("GitLab, any project of acme", "https://gitlab.com",
     {"StringLike": {"gitlab.com:sub": "project_path:acme/*"}}, False, "high"),
    ("Terraform Cloud, any workspace of acme", "https://app.terraform.io",
     {"StringLike": {"app.terraform.io:sub": "organization:acme:*"}}, False, "high"),
    ("Terraform Cloud, one workspace in any run phase, on an administrator", "https://app.terraform.io",
     {"StringLike": {"app.terraform.io:sub": "organization:acme:project:*:workspace:prod:run_phase:*"}}, True,
     "medium"),
    ("Buildkite, no sub", "https://agent.buildkite.com", None, False, "critical"),
    ("CircleCI, no sub: the organization is in the issuer", "https://oidc.circleci.com/org/0f1e2d3c", None, False,
     "high"),
    ("Bitbucket, no sub: the workspace is in the issuer",
     "https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc", None, False, "high"),
    ("Azure DevOps, one service connection", "https://vstoken.dev.azure.com/9f8e7d6c",
     {"StringEquals": {"vstoken.dev.azure.com/9f8e7d6c:sub": "sc://acme/infra/aws"}}, True, None),
]


@pytest.mark.parametrize("name, url, conditions, powerful, severity", LEVEL_ROWS, ids=[r[0] for r in LEVEL_ROWS])
def test_level_of_a_federated_role(aws, builder_session, collector_session, name, url, conditions, powerful, severity):
    b = AwsBuilder(builder_session)
    provider = b.oidc_provider(url)
    role = b.role("deploy", trust=trust_web_identity(provider, conditions), instance_profile=False,
                  managed_policies=[ADMINISTRATOR_ACCESS] if powerful else [],
                  inline_policies=None if powerful else SITE_DEPLOY).arn

    document = scan(collector_session)

    unscoped = {resource: s for (check, resource), s in fired(document).items() if check == "ci-federation-unscoped"}
    assert unscoped == ({role.arn if hasattr(role, "arn") else role: severity} if severity else {})
    assert [i["id"] for i in document["ci_identities"]] == [role]


# --- controls: each scans clean -----------------------------------------------------------------------------


def pinned_branch(b: AwsBuilder) -> None:
    github_role(b, "deploy", {**GITHUB_AUD, "StringEquals": {GITHUB_SUB: "repo:acme/infra:ref:refs/heads/main"}},
                inline=SITE_DEPLOY)


def eks_issuer_without_sub(b: AwsBuilder) -> None:
    provider = b.oidc_provider("https://oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF")
    b.role("cluster-admin", trust=trust_web_identity(provider), managed_policies=[ADMINISTRATOR_ACCESS],
           instance_profile=False)


def inactive_key_of_a_ci_user(b: AwsBuilder) -> None:
    b.user("ci-deployer", inline_policies=SITE_DEPLOY, inactive_keys=1)


def key_of_a_user_who_is_not_ci(b: AwsBuilder) -> None:
    b.user("alice", managed_policies=[ADMINISTRATOR_ACCESS], keys=1)


def deny_pinning_owner_repository_and_branch(b: AwsBuilder) -> None:
    github_role(b, "deploy", {"StringLike": {GITHUB_SUB: "repo:*"}}, managed=[ADMINISTRATOR_ACCESS],
                deny={"StringNotEquals": {GITHUB_SUB: "repo:acme/infra:environment:production"}})


CONTROLS = [pinned_branch, eks_issuer_without_sub, inactive_key_of_a_ci_user, key_of_a_user_who_is_not_ci]


@pytest.mark.parametrize("build", CONTROLS, ids=[c.__name__.replace("_", " ") for c in CONTROLS])
def test_control_scans_clean(aws, builder_session, collector_session, build):
    build(AwsBuilder(builder_session))

    document = scan(collector_session)

    assert document["findings"] == []
    assert document["coverage"]["gaps"] == []


def test_a_deny_that_pins_the_pipeline_leaves_only_the_admin_power(aws, builder_session, collector_session):
    """A Deny cutting repo:* down to one environment of one repository: no outsider, no branch, so
    only the pipeline's own administrator power is reported."""
    deny_pinning_owner_repository_and_branch(AwsBuilder(builder_session))

    document = scan(collector_session)

    assert fired(document) == {("ci-admin-identity", role_arn("deploy")): "critical"}


def test_a_deny_that_pins_only_the_owner_is_any_repository(aws, builder_session, collector_session):
    role = github_role(AwsBuilder(builder_session), "deploy", {"StringLike": {GITHUB_SUB: "repo:*"}},
                       inline=SITE_DEPLOY, deny={"StringNotLike": {GITHUB_SUB: "repo:acme/*"}})

    document = scan(collector_session)

    assert fired(document) == {("ci-federation-unscoped", role): "high"}
    assert "any workflow of any repository under acme" in document["findings"][0]["message"]


# --- stored keys ----------------------------------------------------------------------------------------------


def test_an_active_key_of_a_ci_user_with_admin_power_through_a_group(aws, builder_session, collector_session):
    b = AwsBuilder(builder_session)
    b.group("deployers", managed_policies=[ADMINISTRATOR_ACCESS])
    user = b.user("jenkins-deployer", groups=["deployers"], keys=1, inactive_keys=1)

    document = scan(collector_session)

    assert fired(document) == {("ci-stored-credential", user): "high", ("ci-admin-identity", user): "critical"}
    stored = next(f for f in document["findings"] if f["check_id"] == "ci-stored-credential")
    keys = stored["evidence"]["details"]["keys"]
    assert len(keys) == 1 and keys[0]["key"].startswith("AKIA") and set(keys[0]["key"][4:]) == {"*"}
    assert keys[0]["age_days"] == 0 and "never used" in stored["message"]
    assert "group deployers" in next(f for f in document["findings"] if f["check_id"] == "ci-admin-identity")["message"]


def test_a_ci_user_named_in_the_configuration(aws, builder_session, collector_session):
    user = AwsBuilder(builder_session).user("deploy-bot", inline_policies=SITE_DEPLOY, keys=1)
    config = parse({"ci": {"identities": [{"name": "deploy-*"}]}})

    document = scan(collector_session, config)

    assert fired(document) == {("ci-stored-credential", user): "medium"}
    assert document["ci_identities"][0]["reasons"] == ["configuration names it (name 'deploy-*')"]


def test_the_collector_reads_keys_and_providers_without_writing(aws, builder_session, collector_session):
    b = AwsBuilder(builder_session)
    only_pipeline_is_github_admin(b)
    b.user("ci-deployer", keys=1)

    snapshot = collect(collector_session)  # the session fails the test on any write

    iam = snapshot["iam"]
    assert [p["Url"] for p in iam["oidc_providers"]] == ["token.actions.githubusercontent.com"]
    assert iam["oidc_providers"][0]["ClientIDList"] == ["sts.amazonaws.com"]
    assert [(k["UserName"], k["Status"]) for k in iam["access_keys"]] == [("ci-deployer", "Active")]
    assert "groups" in iam


# --- bad input: a gap naming the role, never a traceback, never "pinned" ---------------------------------------


def _with_trust(snapshot: dict, name: str, document) -> dict:
    changed = copy.deepcopy(snapshot)
    for role in changed["iam"]["roles"]:
        if role["RoleName"] == name:
            role["AssumeRolePolicyDocument"] = document
    return changed


def test_a_trust_policy_that_does_not_parse_is_a_gap_and_an_unknown_finding(aws, builder_session, collector_session):
    only_pipeline_is_github_admin(AwsBuilder(builder_session))
    snapshot = collect(collector_session)
    provider = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
    broken = _with_trust(snapshot, "github-deploy", '{"Statement": [{"Effect": "Allow", "Principal": '
                                                     '{"Federated": "' + provider + '"}, "Action": ')

    document = pipeline.scan_snapshots([broken], Config())

    role = role_arn("github-deploy")
    gaps = [g for g in document["coverage"]["gaps"] if role in g["what"]]
    assert gaps and "could not be read" in gaps[0]["error"]
    unscoped = next(f for f in document["findings"] if f["check_id"] == "ci-federation-unscoped")
    assert unscoped["confidence"] == "unknown" and unscoped["severity"] == "critical"


def test_an_unknown_operator_is_a_gap_naming_the_role(aws, builder_session, collector_session):
    only_pipeline_is_github_admin(AwsBuilder(builder_session))
    snapshot = collect(collector_session)
    provider = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
    document = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringLikeButBetter": {GITHUB_SUB: "repo:acme/infra:ref:refs/heads/main"}}}]}

    result = pipeline.scan_snapshots([_with_trust(snapshot, "github-deploy", document)], Config())

    role = role_arn("github-deploy")
    assert any(role in g["what"] and "StringLikeButBetter" in g["error"] for g in result["coverage"]["gaps"])
    unscoped = next(f for f in result["findings"] if f["check_id"] == "ci-federation-unscoped")
    assert unscoped["confidence"] == "unknown"


def test_an_oidc_provider_that_cannot_be_read_is_a_gap_naming_the_role(aws, builder_session, collector_session):
    only_pipeline_is_github_admin(AwsBuilder(builder_session))
    snapshot = collect(collector_session)
    unread = copy.deepcopy(snapshot)
    provider = unread["iam"]["oidc_providers"][0]
    unread["iam"]["oidc_providers"] = [{"Arn": provider["Arn"]}]  # what the collector keeps of one it cannot read

    document = pipeline.scan_snapshots([unread], Config())

    role = role_arn("github-deploy")
    assert any(role in g["what"] and provider["Arn"] in g["what"] for g in document["coverage"]["gaps"])
    assert ("ci-internet-to-admin-path", role) in fired(document)  # the issuer is known from its ARN


# --- the same account as a Terraform plan, and the inventory -------------------------------------------------


def test_the_terraform_plan_of_that_account_explains_its_ci_identity(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from guardrails.providers.terraform import load_terraform

    plan = Path(__file__).resolve().parents[1] / "terraform-fixtures" / "github-oidc-admin" / "plan.json"
    document = pipeline.scan_snapshots(load_terraform(plan))
    role = "aws_iam_role.github_deploy"
    assert fired(document) == {("ci-internet-to-admin-path", role): "critical",
                               ("ci-federation-unscoped", role): "critical",
                               ("ci-admin-identity", role): "critical"}
    assert attack_paths(document)[0]["check_id"] == "ci-internet-to-admin-path"
    saved = tmp_path / "findings.json"
    saved.write_text(json.dumps(document))

    result = subprocess.run([str(Path(sys.executable).with_name("guardrails")), "inventory", "--ci", str(saved)],
                            capture_output=True, text=True, timeout=120, env=dict(os.environ, COLUMNS="400"))

    assert result.returncode == 0, result.stderr
    assert "CI identities" in result.stdout and "github-deploy" in result.stdout
    assert "any workflow in any repository on GitHub" in result.stdout
    assert "repo:<owner>/<repository>:ref:refs/heads/main" in result.stdout
    # SARIF points at the role's resource block in the configuration beside the plan
    sarif = json.loads(render(document, "sarif"))
    location = sarif["runs"][0]["results"][0]["locations"][0]
    assert location["physicalLocation"]["artifactLocation"]["uri"].endswith("github-oidc-admin/main.tf")
    assert location["logicalLocations"][0]["fullyQualifiedName"] == role


def test_a_trust_known_only_after_apply_is_unknown_never_pinned(tmp_path):
    """The OIDC provider is created by the same plan, so the trust that names its ARN is known only
    after apply: who can become the role is unknown, reported as such, with a gap naming the role."""
    from test_terraform_unknowns import Plan, _const

    plan = Plan()
    plan.add("aws_iam_openid_connect_provider", "github",
             {"url": "https://token.actions.githubusercontent.com", "client_id_list": ["sts.amazonaws.com"]},
             expressions={"url": _const("https://token.actions.githubusercontent.com")})
    plan.add("aws_iam_role", "deploy", {"name": "deploy"}, unknown={"assume_role_policy": True},
             expressions={"name": _const("deploy"), "assume_role_policy": {"references": [
                 "aws_iam_openid_connect_provider.github.arn", "aws_iam_openid_connect_provider.github"]}})
    plan.add("aws_iam_role_policy_attachment", "deploy", {"policy_arn": ADMINISTRATOR_ACCESS, "role": "deploy"},
             expressions={"role": {"references": ["aws_iam_role.deploy.name", "aws_iam_role.deploy"]},
                          "policy_arn": _const(ADMINISTRATOR_ACCESS)})

    document = pipeline.scan_snapshots([plan.load(tmp_path)])

    role = "aws_iam_role.deploy"
    findings = {f["check_id"]: f for f in document["findings"] if f["resource"]["id"] == role}
    assert set(findings) == {"ci-federation-unscoped", "ci-admin-identity", "ci-internet-to-admin-path"}
    assert findings["ci-federation-unscoped"]["confidence"] == "unknown"
    assert findings["ci-internet-to-admin-path"]["confidence"] == "unknown"
    assert findings["ci-admin-identity"]["confidence"] == "confirmed"
    assert any(g["what"] == f"{role}.assume_role_policy" for g in document["coverage"]["gaps"])
    (identity,) = document["ci_identities"]
    assert identity["federations"][0]["level"] == "unknown"


def test_a_denied_oidc_provider_read_is_a_gap_and_the_scan_goes_on(lean_moto_server, monkeypatch):
    """The collector is refused GetOpenIDConnectProvider and ListAccessKeys (through a fault-injecting
    proxy on loopback): each is a gap naming what was not read, the role is still judged from the
    provider's ARN, and the user's keys are unknown rather than none."""
    import boto3
    from fault_proxy import FaultProxy, Rule

    b = AwsBuilder(boto3.Session(region_name=REGION), endpoint_url=lean_moto_server)
    provider = b.oidc_provider(GITHUB)
    b.role("github-deploy", trust=trust_web_identity(provider, {"StringLike": {GITHUB_SUB: "repo:*"}}),
           inline_policies={"all": policy_document(allow("*"))}, instance_profile=False)
    b.user("ci-deployer", keys=1)
    proxy = FaultProxy(lean_moto_server).start()
    try:
        proxy.rules = [Rule("deny", "iam", "GetOpenIDConnectProvider"), Rule("deny", "iam", "ListAccessKeys")]
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        snapshot = collect(boto3.Session(region_name=REGION))
    finally:
        proxy.stop()

    gaps = {g["what"]: g["error"] for g in snapshot["gaps"]}
    assert "AccessDenied" in gaps[f"iam.oidc_providers/{provider}"]
    assert "AccessDenied" in gaps["iam.access_keys/ci-deployer"]
    document = pipeline.scan_snapshots([snapshot], Config())
    role = role_arn("github-deploy")
    assert any(provider in g["what"] and role in g["what"] for g in document["coverage"]["gaps"])
    assert ("ci-internet-to-admin-path", role) in fired(document)
    (stored,) = [f for f in document["findings"] if f["check_id"] == "ci-stored-credential"]
    assert stored["confidence"] == "unknown" and "not collected" in stored["message"]
