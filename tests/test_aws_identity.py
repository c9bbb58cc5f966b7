"""What a CI node's identity can do, as IAM really decides it: built in moto, collected, scanned.

The table-driven scenarios put one build runner in a private subnet (no internet gateway route,
no public address, IMDSv2 required, inside an autoscaling group), so that only the identity checks
can fire; the last ones expose a Jenkins server to join identity and exposure. Each compares the
whole set of (check, CI node) the scan reports.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Callable

import pytest
from aws_builders import (
    ADMINISTRATOR_ACCESS,
    ANYWHERE,
    READ_ONLY_ACCESS,
    AwsBuilder,
    Instance,
    Role,
    allow,
    deny,
    policy_document,
    tcp,
    trust_principals,
    trust_service,
)

from guardrails import pipeline
from guardrails.providers.aws.commands import user_data_wanted as _user_data_wanted
from guardrails.config import Config
from guardrails.providers.aws import collect as aws_collect
from guardrails.reports import render

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # the account moto answers as
POWER_USER_ACCESS = "arn:aws:iam::aws:policy/PowerUserAccess"
PRODUCTION_ACCOUNT = "210987654321"

def role_arn(name: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:iam::{account}:role/{name}"


def ci_runner(b: AwsBuilder, role: Role | None, *, name: str = "gitlab-runner") -> Instance:
    """A runner that nothing on the network side can report on: private, IMDSv2, autoscaled."""
    vpc = b.vpc("10.0.0.0/16", name="ci")
    subnet = b.private_subnet(vpc, "10.0.1.0/24", name="ci-private")
    group = b.security_group(vpc, "ci-runner")
    runner = b.instance(name, subnet=subnet, security_groups=[group], imds="required", instance_profile=role)
    b.autoscaling_group(f"{name}s", subnets=[subnet], instances=[runner])
    return runner


def collect(session, config: Config) -> dict:
    return aws_collect.collect(session, [REGION], wants_user_data=_user_data_wanted(config))


def fired(document: dict) -> set[tuple[str, str]]:
    return {(f["check_id"], f["resource"]["id"]) for f in document["findings"]}


def finding(document: dict, check_id: str) -> dict:
    return next(f for f in document["findings"] if f["check_id"] == check_id)


def inline(*statements: dict) -> dict[str, dict]:
    return {"ci": policy_document(*statements)}


# --- administrator, escalation, role chains ------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One scenario: `build` makes the estate and returns the runner's role."""

    build: Callable[[AwsBuilder], Role]
    expected: frozenset[str] = frozenset()
    # The identities on the one finding's evidence path, in order, runner role first.
    path_roles: tuple[str, ...] = ()
    mentions: tuple[str, ...] = ()  # texts the finding's message must name
    power: str | None = None  # the runner role's effective power, when the row is about it
    config: Config = field(default_factory=Config)


def _admin_attached(b):
    return b.role("ci-runner", managed_policies=[ADMINISTRATOR_ACCESS])


def _iam_star(b):
    return b.role("ci-runner", inline_policies=inline(allow("iam:*")))


def _admin_cut_back_by_deny(b):
    return b.role("ci-runner", managed_policies=[ADMINISTRATOR_ACCESS], inline_policies=inline(deny("iam:*")))


def _star_on_one_bucket(b):
    bucket = ["arn:aws:s3:::artifacts", "arn:aws:s3:::artifacts/*"]
    return b.role("ci-runner", inline_policies=inline(allow("*", bucket)))


def _admin_cut_back_to_s3_by_deny_not_action(b):
    return b.role("ci-runner", managed_policies=[ADMINISTRATOR_ACCESS],
                  inline_policies=inline({"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"}))


def _admin_role(b, trust: dict, name: str = "deploy-admin") -> Role:
    return b.role(name, trust=trust, managed_policies=[ADMINISTRATOR_ACCESS], instance_profile=False)


def _chain_by_role_arn(b):
    runner = b.role("ci-runner", inline_policies=inline(allow("sts:AssumeRole", role_arn("deploy-admin"))))
    _admin_role(b, trust_principals(runner.arn))
    return runner


def _chain_by_account_root(b):
    runner = b.role("ci-runner", inline_policies=inline(allow("sts:AssumeRole", role_arn("deploy-admin"))))
    _admin_role(b, trust_principals(f"arn:aws:iam::{ACCOUNT}:root"))
    return runner


def _chain_by_account_id(b):
    # "AWS": "123456789012" is the account root written short.
    runner = b.role("ci-runner", inline_policies=inline(allow("sts:AssumeRole", "*")))
    _admin_role(b, trust_principals(ACCOUNT))
    return runner


def _chain_by_any_principal(b):
    runner = b.role("ci-runner", inline_policies=inline(allow("sts:AssumeRole", "*")))
    _admin_role(b, policy_document({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}))
    return runner


def _root_trust_without_identity_allow(b):
    # Trusting the account root delegates the decision to the account's IAM policies.
    runner = b.role("ci-runner", inline_policies=inline(allow("s3:GetObject", "arn:aws:s3:::artifacts/*")))
    _admin_role(b, trust_principals(f"arn:aws:iam::{ACCOUNT}:root"))
    return runner


def _root_trust_identity_allows_another_role(b):
    runner = b.role("ci-runner", inline_policies=inline(allow("sts:AssumeRole", role_arn("deploy-staging"))))
    _admin_role(b, trust_principals(f"arn:aws:iam::{ACCOUNT}:root"))
    return runner


def _trust_only_ec2(b):
    runner = b.role("ci-runner", inline_policies=inline(allow("sts:AssumeRole", "*")))
    _admin_role(b, trust_service("ec2.amazonaws.com"))
    return runner


def _trust_names_runner_without_identity_allow(b):
    # Same account: a trust policy naming the role ARN is enough on its own.
    runner = b.role("ci-runner", inline_policies=inline(allow("s3:GetObject", "arn:aws:s3:::artifacts/*")))
    _admin_role(b, trust_principals(runner.arn))
    return runner


def _trust_names_runner_but_boundary_stops_it(b):
    # A resource policy naming a role ARN is limited by an implicit deny in the role's boundary.
    boundary = b.managed_policy("s3-only", policy_document(allow("s3:*")))
    runner = b.role("ci-runner", inline_policies=inline(allow("s3:GetObject", "arn:aws:s3:::artifacts/*")),
                    permissions_boundary=boundary)
    _admin_role(b, trust_principals(runner.arn))
    return runner


def _explicit_deny_assume(b):
    runner = b.role("ci-runner", inline_policies=inline(allow("sts:AssumeRole", "*"), deny("sts:AssumeRole")))
    _admin_role(b, trust_principals(runner.arn))
    return runner


def _chain_to_role_tagged(team: str):
    def build(b):
        condition = {"StringEquals": {"aws:ResourceTag/team": "build"}}
        runner = b.role("ci-runner", inline_policies=inline(allow("sts:AssumeRole", "*", Condition=condition)))
        # The trust names the account, not the runner: the runner's own policy must allow the call.
        b.role("deploy-admin", trust=trust_principals(f"arn:aws:iam::{ACCOUNT}:root"), managed_policies=[ADMINISTRATOR_ACCESS],
               instance_profile=False, tags={"team": team})
        return runner
    return build


def _trust_denies_runner(b):
    runner = b.role("ci-runner", inline_policies=inline(allow("sts:AssumeRole", "*")))
    _admin_role(b, policy_document(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"},
        {"Effect": "Deny", "Principal": {"AWS": runner.arn}, "Action": "sts:AssumeRole"},
    ))
    return runner


def _chain_of_three(b):
    runner = b.role("ci-runner")
    b.role("jump", trust=trust_principals(runner.arn), instance_profile=False,
           inline_policies=inline(allow("sts:AssumeRole", role_arn("deploy-admin"))))
    _admin_role(b, trust_principals(role_arn("jump")))
    return runner


def _power_user(b):
    return b.role("ci-runner", managed_policies=[POWER_USER_ACCESS])


def _put_role_policy(b):
    return b.role("ci-runner", inline_policies=inline(allow("iam:PutRolePolicy")))


def _pass_role_and_run_instances(b):
    return b.role("ci-runner", inline_policies=inline(allow(["iam:PassRole", "ec2:RunInstances"])))


def _pass_role_alone(b):
    return b.role("ci-runner", inline_policies=inline(allow("iam:PassRole")))


def _pass_role_only_to_lambda_and_run_instances(b):
    # iam:PassedToService limits which service may receive the role; EC2 is not one of them.
    return b.role("ci-runner", inline_policies=inline(
        allow("iam:PassRole", Condition={"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}),
        allow("ec2:RunInstances"),
    ))


def _create_policy_version(b):
    return b.role("ci-runner", inline_policies=inline(allow("iam:CreatePolicyVersion")))


def _attach_role_policy(b):
    return b.role("ci-runner", inline_policies=inline(allow("iam:AttachRolePolicy")))


def _pass_role_and_lambda(b):
    return b.role("ci-runner", inline_policies=inline(
        allow(["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"])))


def _update_assume_role_policy_alone(b):
    # Rewriting the admin role's trust to name this role's ARN is enough to assume it: a
    # same-account trust policy naming a role ARN needs no identity allow of sts:AssumeRole.
    _admin_role(b, trust_service("ec2.amazonaws.com"))
    return b.role("ci-runner", inline_policies=inline(allow("iam:UpdateAssumeRolePolicy")))


def _update_assume_role_policy_and_assume(b):
    _admin_role(b, trust_service("ec2.amazonaws.com"))
    return b.role("ci-runner", inline_policies=inline(allow(["iam:UpdateAssumeRolePolicy", "sts:AssumeRole"])))


def _chain_to_escalation(b):
    runner = b.role("ci-runner", inline_policies=inline(allow("sts:AssumeRole", role_arn("iam-manager"))))
    b.role("iam-manager", trust=trust_principals(runner.arn), instance_profile=False,
           inline_policies=inline(allow("iam:PutRolePolicy")))
    return runner


def _admin_within_s3_boundary(b):
    boundary = b.managed_policy("s3-only", policy_document(allow("s3:*")))
    return b.role("ci-runner", managed_policies=[ADMINISTRATOR_ACCESS], permissions_boundary=boundary)


def _read_only(b):
    return b.role("ci-runner", managed_policies=[READ_ONLY_ACCESS])


ADMIN = frozenset({"ci-admin-identity"})
ESCALATION = frozenset({"ci-privilege-escalation"})

IDENTITY_ROWS = [
    pytest.param(Row(_admin_attached, ADMIN, ("ci-runner",), ("AdministratorAccess",), power="admin"),
                 id="AdministratorAccess"),
    pytest.param(Row(_iam_star, ADMIN, ("ci-runner",), ("iam:*",), power="admin"), id="iam:* on *"),
    pytest.param(Row(_admin_cut_back_by_deny), id="AdministratorAccess cut back by Deny iam:*"),
    pytest.param(Row(_admin_cut_back_to_s3_by_deny_not_action, power="write"),
                 id="AdministratorAccess cut back by Deny NotAction s3:*"),
    pytest.param(Row(_star_on_one_bucket, power="write"), id="* on one bucket only"),
    pytest.param(Row(_chain_by_role_arn, ADMIN, ("ci-runner", "deploy-admin"), ("deploy-admin",)),
                 id="assumes admin role trusting its ARN"),
    pytest.param(Row(_chain_by_account_root, ADMIN, ("ci-runner", "deploy-admin")),
                 id="assumes admin role trusting the account root"),
    pytest.param(Row(_chain_by_account_id, ADMIN, ("ci-runner", "deploy-admin")),
                 id="assumes admin role trusting the account id"),
    pytest.param(Row(_chain_by_any_principal, ADMIN, ("ci-runner", "deploy-admin")),
                 id="assumes admin role trusting every principal"),
    pytest.param(Row(_trust_names_runner_without_identity_allow, ADMIN, ("ci-runner", "deploy-admin")),
                 id="trust names runner ARN, no identity allow"),
    pytest.param(Row(_chain_of_three, ADMIN, ("ci-runner", "jump", "deploy-admin")), id="two hops to admin"),
    pytest.param(Row(_root_trust_without_identity_allow), id="root trust, no identity allow"),
    pytest.param(Row(_root_trust_identity_allows_another_role), id="root trust, identity allows another role"),
    pytest.param(Row(_trust_only_ec2), id="admin role trusts only ec2.amazonaws.com"),
    pytest.param(Row(_trust_names_runner_but_boundary_stops_it), id="trust names runner ARN, boundary lacks sts"),
    pytest.param(Row(_explicit_deny_assume), id="explicit Deny sts:AssumeRole"),
    pytest.param(Row(_trust_denies_runner), id="trust policy denies the runner"),
    # sts:AssumeRole only on roles tagged team=build: decided by the admin role's collected tags.
    pytest.param(Row(_chain_to_role_tagged("build"), ADMIN, ("ci-runner", "deploy-admin"), ("deploy-admin",)),
                 id="sts:AssumeRole on roles tagged team=build, admin role tagged build"),
    pytest.param(Row(_chain_to_role_tagged("data")), id="sts:AssumeRole on roles tagged team=build, admin role tagged data"),
    pytest.param(Row(_power_user, power="write"), id="PowerUserAccess"),
    pytest.param(Row(_put_role_policy, ESCALATION, ("ci-runner",), ("iam:PutRolePolicy",)),
                 id="iam:PutRolePolicy on *"),
    pytest.param(Row(_pass_role_and_run_instances, ESCALATION, ("ci-runner",), ("iam:PassRole", "ec2:RunInstances")),
                 id="iam:PassRole + ec2:RunInstances"),
    pytest.param(Row(_pass_role_alone), id="iam:PassRole alone"),
    pytest.param(Row(_create_policy_version, ESCALATION, ("ci-runner",), ("iam:CreatePolicyVersion",)),
                 id="iam:CreatePolicyVersion"),
    pytest.param(Row(_attach_role_policy, ESCALATION, ("ci-runner",), ("iam:AttachRolePolicy",)),
                 id="iam:AttachRolePolicy"),
    pytest.param(Row(_pass_role_and_lambda, ESCALATION, ("ci-runner",), ("lambda:CreateFunction",)),
                 id="iam:PassRole + lambda:CreateFunction + InvokeFunction"),
    # The chain names the administrator role whose trust it can rewrite (a `trust_update` edge).
    pytest.param(Row(_update_assume_role_policy_and_assume, ESCALATION, ("ci-runner", "deploy-admin"),
                     ("iam:UpdateAssumeRolePolicy",)),
                 id="iam:UpdateAssumeRolePolicy + sts:AssumeRole"),
    pytest.param(Row(_update_assume_role_policy_alone, ESCALATION, ("ci-runner", "deploy-admin"),
                     ("iam:UpdateAssumeRolePolicy",)),
                 # AWS: a role that may rewrite another role's trust can name its own ARN there and then
                 # assume it; a same-account trust naming the role ARN needs no sts:AssumeRole allow.
                 id="iam:UpdateAssumeRolePolicy alone"),
    pytest.param(Row(_pass_role_only_to_lambda_and_run_instances), id="PassRole only to Lambda + ec2:RunInstances"),
    pytest.param(Row(_chain_to_escalation, ESCALATION, ("ci-runner", "iam-manager"), ("iam:PutRolePolicy",)),
                 id="assumes a role with iam:PutRolePolicy"),
    pytest.param(Row(_admin_within_s3_boundary, power="write"), id="AdministratorAccess within an s3:* boundary"),
    pytest.param(Row(_read_only, power="read"), id="ReadOnlyAccess"),
]


@pytest.mark.parametrize("row", IDENTITY_ROWS)
def test_identity_power_of_a_runner(aws, builder_session, collector_session, row: Row):
    b = AwsBuilder(builder_session)
    role = row.build(b)
    runner = ci_runner(b, role)
    snapshot = collect(collector_session, row.config)

    document = pipeline.scan_snapshots([snapshot], row.config)

    assert fired(document) == {(check, runner.id) for check in row.expected}
    if row.path_roles:
        (only,) = document["findings"]
        path = only["evidence"]["path"]
        assert [s["id"] for s in path] == [runner.id, *(role_arn(r) for r in row.path_roles), ACCOUNT]
        assert [s["kind"] for s in path] == ["compute", *["identity"] * len(row.path_roles), "account"]
        for text in row.mentions:
            assert text in only["message"]
    if row.power:
        estate = pipeline.analyse(pipeline.normalize([snapshot]), row.config)
        assert estate.identity[role.arn].power == row.power


# --- production access ---------------------------------------------------------------------------


def _production_instance(b: AwsBuilder) -> Instance:
    """A production server in its own VPC, with no network path from the runners."""
    vpc = b.vpc("10.50.0.0/16", name="shop")
    subnet = b.private_subnet(vpc, "10.50.1.0/24", name="shop-private")
    group = b.security_group(vpc, "shop-api")
    return b.instance("shop-api", subnet=subnet, security_groups=[group], imds="required", tags={"env": "production"})


def _assume_into_unscanned_production_account(b):
    return b.role("ci-runner", inline_policies=inline(
        allow("sts:AssumeRole", role_arn("deploy", PRODUCTION_ACCOUNT))))


def _assume_into_unscanned_other_account(b):
    return b.role("ci-runner", inline_policies=inline(allow("sts:AssumeRole", role_arn("deploy", "333344445555"))))


def _assume_anything_with_unscanned_production_account(b):
    return b.role("ci-runner", inline_policies=inline(allow("sts:AssumeRole", "*")))


def _write_in_production_account(b):
    return b.role("ci-runner", inline_policies=inline(allow("s3:PutObject", "arn:aws:s3:::shop-assets/*")))


def _read_in_production_account(b):
    return b.role("ci-runner", managed_policies=[READ_ONLY_ACCESS])


def _terminate_anything(b):
    _production_instance(b)
    return b.role("ci-runner", inline_policies=inline(allow("ec2:TerminateInstances")))


def _terminate_another_instance(b):
    _production_instance(b)
    return b.role("ci-runner", inline_policies=inline(
        allow("ec2:TerminateInstances", f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0123456789abcdef0")))


def _run_instances_only(b):
    _production_instance(b)
    return b.role("ci-runner", inline_policies=inline(allow("ec2:RunInstances")))


def _assume_production_role(b):
    runner = b.role("ci-runner", inline_policies=inline(allow("sts:AssumeRole", role_arn("deploy-production"))))
    b.role("deploy-production", trust=trust_principals(runner.arn), tags={"env": "production"},
           inline_policies=inline(allow("s3:PutObject", "arn:aws:s3:::shop-assets/*")), instance_profile=False)
    return runner


def _production_role_trusts_someone_else(b):
    runner = b.role("ci-runner", inline_policies=inline(allow("sts:AssumeRole", role_arn("deploy-production"))))
    b.role("deploy-production", trust=trust_principals(role_arn("release-manager", PRODUCTION_ACCOUNT)),
           tags={"env": "production"}, instance_profile=False)
    return runner


PRODUCTION_CONFIG = Config(production_accounts=frozenset({PRODUCTION_ACCOUNT}))
SCANNED_ACCOUNT_IS_PRODUCTION = Config(production_accounts=frozenset({ACCOUNT}))
PRODUCTION = frozenset({"ci-production-access"})


@dataclass(frozen=True)
class ProductionRow:
    build: Callable[[AwsBuilder], Role]
    expected: frozenset[str] = frozenset()
    target: str | None = None  # what the finding says the runner can act on ("{instance}" for the instance)
    mentions: tuple[str, ...] = ()
    config: Config = field(default_factory=Config)


PRODUCTION_ROWS = [
    pytest.param(ProductionRow(_assume_into_unscanned_production_account, PRODUCTION, PRODUCTION_ACCOUNT,
                               ("unknown",), PRODUCTION_CONFIG), id="AssumeRole into unscanned production account"),
    pytest.param(ProductionRow(_assume_anything_with_unscanned_production_account, PRODUCTION, PRODUCTION_ACCOUNT,
                               ("unknown",), PRODUCTION_CONFIG),
                 id="AssumeRole on * with an unscanned production account"),
    pytest.param(ProductionRow(_write_in_production_account, PRODUCTION, ACCOUNT, ("s3:PutObject",),
                               SCANNED_ACCOUNT_IS_PRODUCTION), id="write access in a production account"),
    pytest.param(ProductionRow(_read_in_production_account, config=SCANNED_ACCOUNT_IS_PRODUCTION),
                 id="read access in a production account"),
    pytest.param(ProductionRow(_assume_into_unscanned_other_account, config=PRODUCTION_CONFIG),
                 id="AssumeRole into an account that is not production"),
    pytest.param(ProductionRow(_terminate_anything, PRODUCTION, "{instance}", ("ec2:TerminateInstances",)),
                 id="ec2:TerminateInstances on * beside a production instance"),
    pytest.param(ProductionRow(_terminate_another_instance), id="ec2:TerminateInstances on another instance only"),
    pytest.param(ProductionRow(_run_instances_only), id="ec2:RunInstances acts on no existing instance"),
    pytest.param(ProductionRow(_assume_production_role, PRODUCTION, role_arn("deploy-production")),
                 id="assumes a production-tagged role"),
    pytest.param(ProductionRow(_production_role_trusts_someone_else), id="production role trusts someone else"),
]


@pytest.mark.parametrize("row", PRODUCTION_ROWS)
def test_production_access_of_a_runner(aws, builder_session, collector_session, row: ProductionRow):
    b = AwsBuilder(builder_session)
    role = row.build(b)
    runner = ci_runner(b, role)

    document = pipeline.scan_snapshots([collect(collector_session, row.config)], row.config)

    assert fired(document) == {(check, runner.id) for check in row.expected}
    if row.target:
        found = finding(document, "ci-production-access")
        target = row.target
        if target == "{instance}":
            (reservation,) = builder_session.client("ec2").describe_instances(
                Filters=[{"Name": "tag:env", "Values": ["production"]}])["Reservations"]
            target = reservation["Instances"][0]["InstanceId"]
        assert [t["target"] for t in found["evidence"]["details"]["targets"]] == [target]
        for text in row.mentions:
            assert text in found["message"]


# --- the toxic combination -----------------------------------------------------------------------


def test_exposed_jenkins_chaining_to_admin_is_the_attack_path(aws, builder_session, collector_session):
    b = AwsBuilder(builder_session)
    vpc = b.vpc("10.0.0.0/16", name="ci", igw=True)
    public = b.public_subnet(vpc, "10.0.1.0/24", name="ci-public")
    group = b.security_group(vpc, "jenkins", ingress=[tcp(8080, ANYWHERE)])
    role = b.role("jenkins", inline_policies=inline(allow("sts:AssumeRole", role_arn("deploy-admin"))))
    _admin_role(b, trust_principals(role.arn))
    jenkins = b.instance("jenkins", subnet=public, security_groups=[group], public_ip=True, imds="required",
                         instance_profile=role)
    config = Config()

    document = pipeline.scan_snapshots([collect(collector_session, config)], config)

    assert fired(document) == {(check, jenkins.id) for check in (
        "ci-internet-exposed", "ci-firewall-allows-internet", "ci-internet-gateway-segment",
        "ci-not-behind-load-balancer", "ci-admin-identity", "ci-internet-to-admin-path")}
    attack = finding(document, "ci-internet-to-admin-path")
    assert attack["severity"] == "critical"
    path = attack["evidence"]["path"]
    assert [(s["kind"], s["id"]) for s in path] == [
        ("internet", "internet"),
        ("gateway", vpc.igw_id),
        ("subnet", public.id),
        ("firewall", group),
        ("compute", jenkins.id),
        ("identity", role.arn),
        ("identity", role_arn("deploy-admin")),
        ("account", ACCOUNT),
    ]
    assert "tcp/8080" in attack["evidence"]["ports"]


EXPOSED = ("ci-internet-exposed", "ci-firewall-allows-internet", "ci-internet-gateway-segment",
           "ci-not-behind-load-balancer")


def _jenkins_escalates(b):
    return b.role("jenkins", inline_policies=inline(allow("iam:PutRolePolicy")))


def _jenkins_deploys_to_production(b):
    role = b.role("jenkins", inline_policies=inline(allow("sts:AssumeRole", role_arn("deploy-production"))))
    b.role("deploy-production", trust=trust_principals(role.arn), tags={"env": "production"}, instance_profile=False)
    return role


def _jenkins_reads(b):
    return b.role("jenkins", managed_policies=[READ_ONLY_ACCESS])


@pytest.mark.parametrize(
    "build, power_check, end",
    [
        pytest.param(_jenkins_escalates, "ci-privilege-escalation", ("account", ACCOUNT), id="escalation"),
        pytest.param(_jenkins_deploys_to_production, "ci-production-access",
                     ("identity", role_arn("deploy-production")), id="production access"),
        pytest.param(_jenkins_reads, None, None, id="read only: no attack path"),
    ],
)
def test_exposed_jenkins_with_other_powers(aws, builder_session, collector_session, build, power_check, end):
    b = AwsBuilder(builder_session)
    vpc = b.vpc("10.0.0.0/16", name="ci", igw=True)
    public = b.public_subnet(vpc, "10.0.1.0/24", name="ci-public")
    group = b.security_group(vpc, "jenkins", ingress=[tcp(8080, ANYWHERE)])
    jenkins = b.instance("jenkins", subnet=public, security_groups=[group], public_ip=True, imds="required",
                         instance_profile=build(b))
    config = Config()

    document = pipeline.scan_snapshots([collect(collector_session, config)], config)

    expected = set(EXPOSED) | ({power_check, "ci-internet-to-admin-path"} if power_check else set())
    assert fired(document) == {(check, jenkins.id) for check in expected}
    if power_check:
        path = finding(document, "ci-internet-to-admin-path")["evidence"]["path"]
        assert (path[0]["id"], path[-1]["kind"], path[-1]["id"]) == ("internet", *end)


def test_public_address_without_internet_route_is_no_attack_path(aws, builder_session, collector_session):
    """An admin Jenkins with a public IP and an open security group, in a subnet with no route to an
    internet gateway: nothing on the internet reaches it, so there is no attack path today."""
    b = AwsBuilder(builder_session)
    vpc = b.vpc("10.0.0.0/16", name="ci", igw=True)
    private = b.private_subnet(vpc, "10.0.1.0/24", name="ci-private")
    group = b.security_group(vpc, "jenkins", ingress=[tcp(8080, ANYWHERE)])
    role = b.role("jenkins", managed_policies=[ADMINISTRATOR_ACCESS])
    jenkins = b.instance("jenkins", subnet=private, security_groups=[group], public_ip=True, imds="required",
                         instance_profile=role)
    config = Config()

    document = pipeline.scan_snapshots([collect(collector_session, config)], config)

    assert fired(document) == {(check, jenkins.id) for check in (
        "ci-firewall-allows-internet", "ci-not-behind-load-balancer", "ci-admin-identity")}
    assert finding(document, "ci-firewall-allows-internet")["severity"] == "medium"


def test_codebuild_service_role_is_the_identity_of_the_project(aws, builder_session, collector_session):
    b = AwsBuilder(builder_session)
    vpc = b.vpc("10.0.0.0/16", name="ci")
    subnet = b.private_subnet(vpc, "10.0.1.0/24", name="ci-private")
    admin = _admin_role(b, trust_service("codebuild.amazonaws.com"), name="codebuild-app")
    project = b.codebuild_project("app", role=admin, subnets=[subnet], security_groups=[b.security_group(vpc, "build")])
    config = Config()

    document = pipeline.scan_snapshots([collect(collector_session, config)], config)

    assert fired(document) == {("ci-admin-identity", project.arn)}
    path = finding(document, "ci-admin-identity")["evidence"]["path"]
    assert [s["id"] for s in path] == [project.arn, admin.arn, ACCOUNT]


# --- a policy document that cannot be read ------------------------------------------------------


def test_unreadable_inline_policy_is_a_gap_and_the_other_policies_still_count(aws, builder_session,
                                                                             collector_session):
    """IAM refuses such a document (and so does moto), so the collected snapshot is edited to hold
    one, as a snapshot saved by hand or by another tool may: the role's attached
    AdministratorAccess is still evaluated, and the unreadable policy is a coverage gap naming the
    role and the policy in every output."""
    b = AwsBuilder(builder_session)
    vpc = b.vpc("10.0.0.0/16", name="ci", igw=True)
    public = b.public_subnet(vpc, "10.0.1.0/24", name="ci-public")
    group = b.security_group(vpc, "jenkins", ingress=[tcp(8080, ANYWHERE)])
    role = b.role("jenkins", managed_policies=[ADMINISTRATOR_ACCESS],
                  inline_policies=inline(allow("s3:GetObject", "arn:aws:s3:::artifacts/*")))
    jenkins = b.instance("jenkins", subnet=public, security_groups=[group], public_ip=True, imds="required",
                         instance_profile=role)
    config = Config()
    snapshot = collect(collector_session, config)
    intact = pipeline.scan_snapshots([copy.deepcopy(snapshot)], config)
    (collected,) = [r for r in snapshot["iam"]["roles"] if r["Arn"] == role.arn]
    (policy,) = collected["RolePolicyList"]
    policy["PolicyDocument"] = {"Version": "2012-10-17", "Statement": "allow everything"}

    document = pipeline.scan_snapshots([snapshot], config)

    assert fired(document) == fired(intact)
    assert {("ci-admin-identity", jenkins.id), ("ci-internet-to-admin-path", jenkins.id)} <= fired(document)
    assert "AdministratorAccess" in finding(document, "ci-admin-identity")["message"]
    (gap,) = document["coverage"]["gaps"]
    assert role.arn in gap["what"] and "inline policy ci" in gap["what"]
    assert "a policy document could not be read" in gap["error"]
    assert intact["coverage"]["gaps"] == []
    assert json.loads(render(document, "json"))["coverage"]["gaps"] == [gap]
    for fmt in ("sarif", "markdown", "html"):
        assert "a policy document could not be read" in render(document, fmt), fmt


def test_unreadable_trust_policy_is_a_gap(aws, builder_session, collector_session):
    """A role whose trust policy cannot be read is assumed by no one, and said so in a gap; the
    runner's chain to an administrator role beside it is still found."""
    b = AwsBuilder(builder_session)
    role = _chain_by_role_arn(b)
    b.role("legacy-deploy", trust=trust_principals(role.arn), managed_policies=[ADMINISTRATOR_ACCESS],
           instance_profile=False)
    runner = ci_runner(b, role)
    config = Config()
    snapshot = collect(collector_session, config)
    (legacy,) = [r for r in snapshot["iam"]["roles"] if r["Arn"] == role_arn("legacy-deploy")]
    legacy["AssumeRolePolicyDocument"] = '{"Version": "2012-10-17", "Statement": '

    document = pipeline.scan_snapshots([snapshot], config)

    assert fired(document) == {("ci-admin-identity", runner.id)}
    chain = finding(document, "ci-admin-identity")["evidence"]["details"]["chain"]
    assert chain == [role_arn("deploy-admin")]
    (gap,) = document["coverage"]["gaps"]
    assert gap["what"] == f"trust policy of role {role_arn('legacy-deploy')}"
    assert "a policy document could not be read" in gap["error"]
