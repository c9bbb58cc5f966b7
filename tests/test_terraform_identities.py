"""IAM identities in Terraform plans as the live scan sees them: a user holds what its groups hold
(aws_iam_group, _group_policy, _group_policy_attachment, _group_membership, aws_iam_user_group_membership,
aws_iam_policy_attachment's groups), and a policy rendered only at apply (an aws_iam_policy_document
whose JSON the plan does not know) is a gap naming its holder: the identity's power is unknown, never
"no power"."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import pytest
from test_terraform_unknowns import Plan, _const

from guardrails.pipeline import scan_snapshots

ADMINISTRATOR_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"
USER = "aws_iam_user.ci"
GROUP = "aws_iam_group.deployers"
CREATE_POLICY_VERSION = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:CreatePolicyVersion","Resource":"*"}]}'


def _ref(*targets: str) -> dict:
    return {"references": [part for t in targets for part in (f"{t}.name", t)]}


def _user_and_group(plan: Plan) -> Plan:
    plan.add("aws_iam_user", "ci", {"name": "ci-deployer"}, expressions={"name": _const("ci-deployer")})
    plan.add("aws_iam_group", "deployers", {"name": "deployers"}, expressions={"name": _const("deployers")})
    return plan


def admin_group_by_membership(policy_arn: str = ADMINISTRATOR_ACCESS) -> Plan:
    plan = _user_and_group(Plan())
    plan.add("aws_iam_group_policy_attachment", "admin", {"group": "deployers", "policy_arn": policy_arn},
             expressions={"group": _ref(GROUP), "policy_arn": _const(policy_arn)})
    plan.add("aws_iam_group_membership", "deployers", {"name": "deployers", "group": "deployers", "users": ["ci-deployer"]},
             expressions={"group": _ref(GROUP), "users": _ref(USER)})
    return plan


def escalating_group_by_user_membership(policy: str | None = CREATE_POLICY_VERSION) -> Callable[[], Plan]:
    def build() -> Plan:
        plan = _user_and_group(Plan())
        plan.add("aws_iam_group_policy", "deploy", {"name": "deploy", "group": "deployers", "policy": policy},
                 unknown={"policy": policy is None},
                 expressions={"group": _ref(GROUP), "policy": {"references": ["data.aws_iam_policy_document.deploy.json",
                                                                              "data.aws_iam_policy_document.deploy"]}})
        plan.add("aws_iam_user_group_membership", "ci", {"user": "ci-deployer", "groups": ["deployers"]},
                 expressions={"user": _ref(USER), "groups": _ref(GROUP)})
        return plan
    return build


def admin_group_without_members() -> Plan:
    plan = _user_and_group(Plan())
    plan.add("aws_iam_group_policy_attachment", "admin", {"group": "deployers", "policy_arn": ADMINISTRATOR_ACCESS},
             expressions={"group": _ref(GROUP), "policy_arn": _const(ADMINISTRATOR_ACCESS)})
    return plan


def admin_group_by_policy_attachment() -> Plan:
    plan = _user_and_group(Plan())
    plan.add("aws_iam_policy_attachment", "admin", {"name": "admin", "groups": ["deployers"],
                                                    "policy_arn": ADMINISTRATOR_ACCESS},
             expressions={"groups": _ref(GROUP), "policy_arn": _const(ADMINISTRATOR_ACCESS)})
    plan.add("aws_iam_user_group_membership", "ci", {"user": "ci-deployer", "groups": ["deployers"]},
             expressions={"user": _ref(USER), "groups": _ref(GROUP)})
    return plan


def federated_role_with_policy(policy: str | None) -> Callable[[], Plan]:
    """A role pinned to one GitHub branch, with an inline policy known (or not) in the plan."""
    trust = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRoleWithWebIdentity",'
             '"Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"},'
             '"Condition":{"StringEquals":{"token.actions.githubusercontent.com:sub":"repo:acme/infra:ref:refs/heads/main",'
             '"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"}}}]}')

    def build() -> Plan:
        plan = Plan()
        plan.add("aws_iam_role", "deploy", {"name": "deploy", "assume_role_policy": trust},
                 expressions={"name": _const("deploy"), "assume_role_policy": _const(trust)})
        plan.add("aws_iam_role_policy", "deploy", {"name": "deploy", "role": "deploy", "policy": policy},
                 unknown={"policy": policy is None},
                 expressions={"role": _ref("aws_iam_role.deploy"),
                              "policy": {"references": ["data.aws_iam_policy_document.deploy.json",
                                                        "data.aws_iam_policy_document.deploy"]}})
        return plan
    return build


@dataclass(frozen=True)
class Row:
    build: Callable[[], Plan]
    fires: dict[tuple[str, str], str] = field(default_factory=dict)  # (check, resource) -> confidence
    gap: str = ""  # a gap whose error names this


ROLE = "aws_iam_role.deploy"
ROWS = [
    pytest.param(Row(admin_group_by_membership, {("ci-admin-identity", USER): "confirmed"}),
                 id="a CI user in an administrator group (aws_iam_group_membership)"),
    pytest.param(Row(lambda: admin_group_by_membership("arn:aws-us-gov:iam::aws:policy/AdministratorAccess"),
                     {("ci-admin-identity", USER): "confirmed"}),
                 id="a CI user in a group with GovCloud's AdministratorAccess (its own partition's ARN)"),
    pytest.param(Row(admin_group_by_policy_attachment, {("ci-admin-identity", USER): "confirmed"}),
                 id="a CI user in a group aws_iam_policy_attachment makes administrator"),
    pytest.param(Row(escalating_group_by_user_membership(), {("ci-privilege-escalation", USER): "confirmed"}),
                 id="a CI user in a group that can create policy versions (aws_iam_user_group_membership)"),
    pytest.param(Row(escalating_group_by_user_membership(None), {("ci-privilege-escalation", USER): "unknown"},
                     gap="group deployers"),
                 id="a CI user in a group whose policy is known only after apply: unknown"),
    pytest.param(Row(federated_role_with_policy(None), {("ci-privilege-escalation", ROLE): "unknown"},
                     gap="of role deploy"),
                 id="a federated role whose policy document is known only after apply: unknown"),
    pytest.param(Row(federated_role_with_policy(CREATE_POLICY_VERSION), {("ci-privilege-escalation", ROLE): "confirmed"}),
                 id="the same role with its policy known"),
    # Controls
    pytest.param(Row(admin_group_without_members), id="control: an administrator group the CI user is not in"),
]

IDENTITY_CHECKS = {"ci-admin-identity", "ci-privilege-escalation", "ci-production-access"}


@pytest.mark.parametrize("row", ROWS)
def test_plan_identity_power(tmp_path, row: Row):
    document = scan_snapshots([row.build().load(tmp_path)])

    found = {(f["check_id"], f["resource"]["id"]): f["confidence"] for f in document["findings"]
             if f["check_id"] in IDENTITY_CHECKS}
    assert found == row.fires, [f["message"] for f in document["findings"]]
    if row.gap:
        assert any(row.gap in g["error"] for g in document["coverage"]["gaps"]), document["coverage"]["gaps"]
