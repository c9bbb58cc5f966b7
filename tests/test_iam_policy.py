"""IAM policy evaluation: one row per rule of how AWS evaluates identity and trust policies."""

from __future__ import annotations

import json
from functools import lru_cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails.providers.aws.iam_actions import is_read_only, pattern_is_read_only
from guardrails.providers.aws.iam_patterns import (
    compile_pattern,
    contains,
    intersects,
    matches,
    render_witness,
    witness,
)
from guardrails.providers.aws.iam_policy import (
    ESCALATION_SETS,
    IdentityPolicy,
    PolicyDocumentError,
    trust_admits,
)

ACCOUNT = "111111111111"
OTHER = "222222222222"
CI_ROLE = f"arn:aws:iam::{ACCOUNT}:role/ci-runner"
BUCKET = "arn:aws:s3:::artifacts"


@lru_cache(maxsize=None)
def _aws_managed() -> dict:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return json.loads(aws_managed_policies_data)


def managed(name: str) -> tuple[str, dict]:
    """The default version of an AWS managed policy, as AWS publishes it."""
    return name, _aws_managed()[name]["Document"]


def doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action=None, resource="*", **extra) -> dict:
    statement = {"Effect": "Allow", "Resource": resource, **extra}
    if action is not None:
        statement["Action"] = action
    return statement


def deny(action=None, resource="*", **extra) -> dict:
    statement = {"Effect": "Deny", "Resource": resource, **extra}
    if action is not None:
        statement["Action"] = action
    return statement


def policy_of(*statements: dict, boundary: list[dict] | None = None) -> IdentityPolicy:
    return IdentityPolicy(
        [("inline", doc(*statements))],
        boundary=("boundary", doc(*boundary)) if boundary is not None else None,
    )


# --- allows(): one row per evaluation rule -----------------------------------------------------

MFA = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
TO_EC2 = {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}

ALLOWS = [
    ("star allows every action", [allow("*")], "ec2:RunInstances", "*", True),
    ("service wildcard", [allow("iam:*")], "iam:PutRolePolicy", "*", True),
    ("service wildcard stays in its service", [allow("iam:*")], "s3:GetObject", "*", False),
    ("infix wildcard", [allow("iam:Put*Policy")], "iam:PutRolePolicy", "*", True),
    ("infix wildcard needs the suffix", [allow("iam:Put*Policy")], "iam:PutRolePermissionsBoundary", "*", False),
    ("question mark is one character", [allow("iam:?etRole")], "iam:GetRole", "*", True),
    ("question mark is exactly one", [allow("iam:?etRole")], "iam:GeetRole", "*", False),
    ("actions ignore case", [allow("IAM:putrolepolicy")], "iam:PutRolePolicy", "*", True),
    ("resources keep case", [allow("s3:GetObject", "arn:aws:s3:::Artifacts/*")], "s3:GetObject", "arn:aws:s3:::artifacts/x", False),
    ("resource star crosses slashes", [allow("s3:GetObject", "arn:aws:s3:::artifacts/*")], "s3:GetObject", "arn:aws:s3:::artifacts/a/b", True),
    ("list of actions", [allow(["s3:GetObject", "s3:PutObject"])], "s3:PutObject", "*", True),
    ("single statement object", None, "s3:PutObject", "*", True),
    ("NotAction allows the rest", [allow(NotAction="iam:*")], "ec2:RunInstances", "*", True),
    ("NotAction excludes its actions", [allow(NotAction=["iam:*"])], "iam:PassRole", "*", False),
    ("NotResource allows other resources", [{"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::secret/*"}], "s3:GetObject", "arn:aws:s3:::other/x", True),
    ("NotResource excludes its resources", [{"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::secret/*"}], "s3:GetObject", "arn:aws:s3:::secret/x", False),
    ("explicit deny overrides allow", [allow("*"), deny("s3:*")], "s3:PutObject", "*", False),
    ("deny elsewhere leaves the allow", [allow("s3:*"), deny("s3:*", "arn:aws:s3:::prod/*")], "s3:PutObject", "arn:aws:s3:::dev/x", True),
    ("deny by NotAction denies the rest", [allow("*"), deny(NotAction="s3:*")], "ec2:RunInstances", "*", False),
    ("deny by NotAction spares its actions", [allow("*"), deny(NotAction="s3:*")], "s3:PutObject", "*", True),
    ("deny by NotResource denies the rest", [allow("*"), {"Effect": "Deny", "Action": "*", "NotResource": "arn:aws:s3:::ok/*"}], "s3:PutObject", "arn:aws:s3:::other/x", False),
    ("deny by NotResource spares its resources", [allow("*"), {"Effect": "Deny", "Action": "*", "NotResource": "arn:aws:s3:::ok/*"}], "s3:PutObject", "arn:aws:s3:::ok/x", True),
    ("conditional deny may not apply", [allow("*"), deny("*", Condition=MFA)], "s3:PutObject", "*", True),
    ("conditional allow still allows", [allow("*", Condition=MFA)], "s3:PutObject", "*", True),
    ("no statement, no allow", [], "s3:PutObject", "*", False),
    ("deny alone allows nothing", [deny("*")], "s3:PutObject", "*", False),
    ("policy variable in an allow", [allow("s3:*", "arn:aws:s3:::home/${aws:username}/*")], "s3:PutObject", "arn:aws:s3:::home/alice/x", True),
    ("policy variable in a deny covers nothing sure", [allow("s3:*"), deny("s3:*", "arn:aws:s3:::home/${aws:username}/*")], "s3:PutObject", "arn:aws:s3:::home/alice/x", True),
    ("escaped star is literal", [allow("s3:*", "arn:aws:s3:::a${*}b")], "s3:PutObject", "arn:aws:s3:::aXb", False),
    ("allowed on some resource of a kind", [allow("iam:PutRolePolicy", "arn:aws:iam::*:role/ci-*")], "iam:PutRolePolicy", "arn:*:iam::*:role/*", True),
    ("deny covering the granted resources", [allow("iam:PutRolePolicy", "arn:aws:iam::*:role/ci-*"), deny("iam:*", "arn:aws:iam::*:role/*")], "iam:PutRolePolicy", "arn:*:iam::*:role/*", False),
    ("deny covering the granted actions", [allow("iam:Put*Policy"), deny("iam:Put*")], "iam:Put*", "*", False),
    ("ARN segment wildcard stays in its segment", [allow("iam:PassRole", "arn:aws:iam::*:role/x")], "iam:PassRole", "arn:aws:iam::1:role/y:role/x", False),
    ("resource part wildcard spans colons", [allow("logs:PutLogEvents", "arn:aws:logs:*:*:log-group:/ci/*")], "logs:PutLogEvents", "arn:aws:logs:eu-west-1:111111111111:log-group:/ci/build:log-stream:x", True),
    ("unknown effect is ignored", [{"Effect": "allow", "Action": "*", "Resource": "*"}], "s3:PutObject", "*", False),
]


@pytest.mark.parametrize(
    "statements, action, resource, expected",
    [row[1:] for row in ALLOWS],
    ids=[row[0] for row in ALLOWS],
)
def test_allows(statements, action, resource, expected):
    if statements is None:
        policy = IdentityPolicy(
            [("single", {"Version": "2012-10-17", "Statement": allow("s3:PutObject")})]
        )
    else:
        policy = policy_of(*statements)
    assert (policy.allows(action, resource) is not None) is expected


def test_grant_names_the_statement_and_its_condition():
    policy = IdentityPolicy(
        [
            ("plain", doc(allow("s3:GetObject", BUCKET + "/*", Sid="Read"))),
            ("mfa", doc(allow("s3:*", "*", Sid="Any", Condition=MFA))),
        ]
    )
    read = policy.allows("s3:GetObject", BUCKET + "/key")
    assert (read.policy, read.sid, read.action_pattern, read.resource_pattern, read.conditional) == (
        "plain", "Read", "s3:GetObject", BUCKET + "/*", False,
    )
    write = policy.allows("s3:PutObject", BUCKET + "/key")
    assert (write.policy, write.sid, write.conditional) == ("mfa", "Any", True)


def test_policy_variables_are_plain_text_before_2012():
    old = IdentityPolicy(
        [("old", {"Version": "2008-10-17", "Statement": [allow("s3:*", "arn:aws:s3:::home/${aws:username}/*")]})]
    )
    assert old.allows("s3:PutObject", "arn:aws:s3:::home/alice/x") is None
    assert old.allows("s3:PutObject", "arn:aws:s3:::home/${aws:username}/x") is not None


def test_documents_may_be_json_text_or_url_encoded():
    text = json.dumps(doc(allow("s3:PutObject")))
    from urllib.parse import quote

    for document in (text, quote(text)):
        assert IdentityPolicy([("text", document)]).allows("s3:PutObject") is not None


@pytest.mark.parametrize(
    "document",
    ["{not json", ["a list"], {"Statement": "text"}, {"Statement": [{"Effect": "Allow", "Action": 5}]}],
    ids=["bad json", "not an object", "statement text", "action not a string"],
)
def test_malformed_documents_raise_one_clear_error(document):
    with pytest.raises(PolicyDocumentError, match="policy 'bad'"):
        IdentityPolicy([("bad", document)])


# --- permissions boundary ----------------------------------------------------------------------

BOUNDARY = [
    ("boundary limits the admin policy", [allow("*")], [allow("s3:*")], "iam:PassRole", "*", False),
    ("boundary lets its own actions through", [allow("*")], [allow("s3:*")], "s3:PutObject", "*", True),
    ("boundary grants nothing by itself", [allow("s3:GetObject")], [allow("*")], "s3:PutObject", "*", False),
    ("deny in the boundary wins", [allow("*")], [allow("*"), deny("iam:*")], "iam:PassRole", "*", False),
    ("empty boundary allows nothing", [allow("*")], [], "s3:GetObject", "*", False),
    ("boundary and policy on disjoint resources", [allow("iam:PutRolePolicy", "arn:aws:iam::*:role/ci-*")], [allow("iam:PutRolePolicy", "arn:aws:iam::*:role/prod-*")], "iam:PutRolePolicy", "arn:*:iam::*:role/*", False),
    ("boundary and policy on overlapping resources", [allow("iam:PutRolePolicy", "arn:aws:iam::*:role/ci-*")], [allow("iam:*", "arn:aws:iam::*:role/*")], "iam:PutRolePolicy", "arn:*:iam::*:role/*", True),
]


@pytest.mark.parametrize(
    "statements, boundary, action, resource, expected",
    [row[1:] for row in BOUNDARY],
    ids=[row[0] for row in BOUNDARY],
)
def test_boundary_intersects(statements, boundary, action, resource, expected):
    policy = policy_of(*statements, boundary=boundary)
    assert (policy.allows(action, resource) is not None) is expected


def test_conditional_boundary_makes_the_grant_conditional():
    policy = policy_of(allow("s3:*"), boundary=[allow("s3:*", Condition=MFA)])
    assert policy.allows("s3:PutObject").conditional is True


# --- admin() -----------------------------------------------------------------------------------

ADMIN = [
    ("AdministratorAccess", [managed("AdministratorAccess")], None, True),
    ("iam:* on * can grant itself everything", [("p", doc(allow("iam:*")))], None, True),
    ("IAMFullAccess", [managed("IAMFullAccess")], None, True),
    ("star on * with a deny on iam", [("p", doc(allow("*"), deny("iam:*")))], None, False),
    ("star on * with a deny on one iam action", [("p", doc(allow("*"), deny("iam:CreateUser")))], None, False),
    ("star on * with a deny outside iam", [("p", doc(allow("*"), deny("cloudtrail:StopLogging")))], None, True),
    ("star on * with a conditional deny", [("p", doc(allow("*"), deny("iam:*", Condition=MFA)))], None, True),
    ("star on * with a deny of all but iam", [("p", doc(allow("*"), deny(NotAction="iam:*")))], None, True),
    ("star on some resources", [("p", doc(allow("*", "arn:aws:s3:::*")))], None, False),
    ("star on all but some resources", [("p", doc({"Effect": "Allow", "Action": "*", "NotResource": BUCKET}))], None, False),
    ("iam:Put* is not all of iam", [("p", doc(allow("iam:Put*")))], None, False),
    ("admin policy with a restrictive boundary", [managed("AdministratorAccess")], [allow("s3:*"), allow("ec2:*")], False),
    ("admin policy with an admin boundary", [managed("AdministratorAccess")], [allow("*")], True),
    ("admin policy with a boundary allowing iam", [managed("AdministratorAccess")], [allow("iam:*")], True),
    ("PowerUserAccess", [managed("PowerUserAccess")], None, False),
    ("ReadOnlyAccess", [managed("ReadOnlyAccess")], None, False),
]


@pytest.mark.parametrize(
    "policies, boundary, expected",
    [row[1:] for row in ADMIN],
    ids=[row[0] for row in ADMIN],
)
def test_admin(policies, boundary, expected):
    policy = IdentityPolicy(policies, boundary=("boundary", doc(*boundary)) if boundary is not None else None)
    assert (policy.admin() is not None) is expected


def test_admin_grant_points_at_the_covering_statement():
    grant = IdentityPolicy([managed("AdministratorAccess")]).admin()
    assert (grant.policy, grant.action_pattern, grant.resource_pattern, grant.conditional) == (
        "AdministratorAccess", "*", "*", False,
    )
    assert IdentityPolicy([managed("IAMFullAccess")]).admin().action_pattern == "iam:*"
    assert policy_of(allow("*", Condition=MFA)).admin().conditional is True


# --- escalations() -----------------------------------------------------------------------------


def _minimal_actions(requirements) -> list[str]:
    """The first alternative of each requirement: the least a policy needs for the set."""
    return [alternatives[0][0] for alternatives in requirements]


@pytest.mark.parametrize(
    "name, requirements", ESCALATION_SETS, ids=[name for name, _ in ESCALATION_SETS]
)
def test_each_escalation_set_fires_alone(name, requirements):
    actions = _minimal_actions(requirements)
    found = policy_of(allow(actions)).escalations()
    assert [e.name for e in found] == [name]
    assert found[0].permissions == tuple(actions)
    assert all(grant.policy == "inline" for grant in found[0].grants)


@pytest.mark.parametrize(
    "name, requirements",
    [row for row in ESCALATION_SETS if len(row[1]) > 1],
    ids=[name for name, requirements in ESCALATION_SETS if len(requirements) > 1],
)
def test_escalation_sets_need_every_part(name, requirements):
    actions = _minimal_actions(requirements)
    for missing in actions:
        rest = [action for action in actions if action != missing]
        assert name not in [e.name for e in policy_of(allow(rest)).escalations()], missing


ESCALATIONS = [
    ("PassRole alone", [allow("iam:PassRole")], []),
    ("Lambda without invoke or event source", [allow(["iam:PassRole", "lambda:CreateFunction"])], []),
    (
        "Lambda with an event source",
        [allow(["iam:PassRole", "lambda:CreateFunction", "lambda:CreateEventSourceMapping"])],
        ["iam:PassRole+lambda:CreateFunction+lambda:InvokeFunction/CreateEventSourceMapping"],
    ),
    # The trust it rewrites can name its own ARN, which in the same account needs no AssumeRole allow.
    ("UpdateAssumeRolePolicy without AssumeRole", [allow("iam:UpdateAssumeRolePolicy")],
     ["iam:UpdateAssumeRolePolicy (trust naming itself)"]),
    ("UpdateAssumeRolePolicy with AssumeRole denied",
     [allow("iam:UpdateAssumeRolePolicy"), deny("sts:AssumeRole")], []),
    ("CodeBuild by StartBuild", [allow(["iam:PassRole", "codebuild:StartBuild"])], ["iam:PassRole+codebuild:CreateProject/StartBuild"]),
    ("PassRole denied", [allow(["iam:PassRole", "ec2:RunInstances"]), deny("iam:PassRole")], []),
    ("PassRole conditionally denied", [allow(["iam:PassRole", "ec2:RunInstances"]), deny("iam:PassRole", Condition=MFA)], ["iam:PassRole+ec2:RunInstances"]),
    ("PutRolePolicy on matching roles", [allow("iam:PutRolePolicy", "arn:aws:iam::*:role/ci-*")], ["iam:PutRolePolicy"]),
    ("PutRolePolicy on no role", [allow("iam:PutRolePolicy", BUCKET)], []),
    ("Put*Policy is three sets", [allow("iam:Put*Policy")], ["iam:PutUserPolicy", "iam:PutGroupPolicy", "iam:PutRolePolicy"]),
    ("PutRolePolicy is one set", [allow("iam:PutRolePolicy")], ["iam:PutRolePolicy"]),
    ("read-only IAM", [allow(["iam:Get*", "iam:List*"])], []),
    ("PassRole with RunInstances", [allow("iam:PassRole"), allow("ec2:RunInstances")], ["iam:PassRole+ec2:RunInstances"]),
    ("PassRole to EC2 only, with RunInstances", [allow("iam:PassRole", Condition=TO_EC2), allow("ec2:RunInstances")], ["iam:PassRole+ec2:RunInstances"]),
    ("PassRole to EC2 only, with Lambda", [allow("iam:PassRole", Condition=TO_EC2), allow(["lambda:CreateFunction", "lambda:InvokeFunction"])], []),
    ("PassRole to services like ec2*", [allow("iam:PassRole", Condition={"StringLike": {"iam:PassedToService": "ec2.*"}}), allow("ec2:RunInstances")], ["iam:PassRole+ec2:RunInstances"]),
    ("PassRole to ECS tasks, with RunTask", [allow("iam:PassRole", Condition={"StringEquals": {"iam:PassedToService": ["ecs-tasks.amazonaws.com"]}}), allow("ecs:RunTask")], ["iam:PassRole+ecs:RunTask/RegisterTaskDefinition"]),
]


@pytest.mark.parametrize(
    "statements, expected",
    [row[1:] for row in ESCALATIONS],
    ids=[row[0] for row in ESCALATIONS],
)
def test_escalations(statements, expected):
    assert [e.name for e in policy_of(*statements).escalations()] == expected


def test_boundary_limiting_pass_role_to_ec2_stops_the_lambda_set():
    policy = policy_of(
        allow(["iam:PassRole", "lambda:*"]),
        boundary=[allow("iam:PassRole", Condition=TO_EC2), allow("lambda:*")],
    )
    assert policy.escalations() == []


def test_lambda_full_access_does_not_pass_roles_to_ec2():
    policy = IdentityPolicy([managed("AWSLambda_FullAccess"), ("ec2", doc(allow("ec2:RunInstances")))])
    assert [e.name for e in policy.escalations()] == [
        "iam:PassRole+lambda:CreateFunction+lambda:InvokeFunction/CreateEventSourceMapping"
    ]


def test_power_user_access_cannot_pass_roles():
    policy = IdentityPolicy([managed("PowerUserAccess")])
    assert policy.allows("ec2:RunInstances") is not None
    assert policy.allows("iam:PassRole") is None
    assert policy.allows("iam:CreateServiceLinkedRole") is not None
    assert policy.escalations() == []


def test_conditional_pass_role_is_reported_as_conditional():
    found = IdentityPolicy([managed("AWSLambda_FullAccess")]).escalations()
    assert [e.name for e in found] == [
        "iam:PassRole+lambda:CreateFunction+lambda:InvokeFunction/CreateEventSourceMapping"
    ]
    pass_role = dict(zip(found[0].permissions, found[0].grants))["iam:PassRole"]
    assert pass_role.conditional is True


# --- assumable() -------------------------------------------------------------------------------

DEPLOY = f"arn:aws:iam::{OTHER}:role/deploy-prod"

ASSUMABLE = [
    ("exact role ARN", [allow("sts:AssumeRole", DEPLOY)], DEPLOY, True),
    ("wildcard role ARN", [allow("sts:AssumeRole", "arn:aws:iam::*:role/deploy-*")], DEPLOY, True),
    ("another role", [allow("sts:AssumeRole", f"arn:aws:iam::{OTHER}:role/deploy-dev")], DEPLOY, False),
    ("denied on the role", [allow("sts:AssumeRole"), deny("sts:AssumeRole", DEPLOY)], DEPLOY, False),
    ("sts wildcard", [allow("sts:Assume*")], DEPLOY, True),
    ("web identity is another action", [allow("sts:AssumeRoleWithWebIdentity")], DEPLOY, False),
]


@pytest.mark.parametrize(
    "statements, role, expected", [row[1:] for row in ASSUMABLE], ids=[row[0] for row in ASSUMABLE]
)
def test_assumable(statements, role, expected):
    assert (policy_of(*statements).assumable(role) is not None) is expected


# --- trust_admits() ----------------------------------------------------------------------------


def trust(*statements: dict) -> dict:
    return doc(*statements)


def admit(principal, action="sts:AssumeRole", **extra) -> dict:
    return {"Effect": "Allow", "Principal": principal, "Action": action, **extra}


def refuse(principal, action="sts:AssumeRole", **extra) -> dict:
    return {"Effect": "Deny", "Principal": principal, "Action": action, **extra}


TRUST = [
    ("account id", [admit({"AWS": ACCOUNT})], True),
    ("another account id", [admit({"AWS": OTHER})], False),
    ("account root ARN", [admit({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})], True),
    ("another account root ARN", [admit({"AWS": f"arn:aws:iam::{OTHER}:root"})], False),
    ("the role ARN", [admit({"AWS": [f"arn:aws:iam::{OTHER}:role/x", CI_ROLE]})], True),
    ("another role ARN", [admit({"AWS": f"arn:aws:iam::{ACCOUNT}:role/other"})], False),
    ("anyone", [admit("*")], True),
    ("any AWS principal", [admit({"AWS": "*"})], True),
    ("service principal", [admit({"Service": "ec2.amazonaws.com"})], False),
    ("federated principal", [admit({"Federated": "arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com"}, "sts:AssumeRoleWithWebIdentity")], False),
    ("sts wildcard action", [admit({"AWS": ACCOUNT}, "sts:*")], True),
    ("other action only", [admit({"AWS": ACCOUNT}, "sts:TagSession")], False),
    ("deny wins", [admit({"AWS": ACCOUNT}), refuse({"AWS": CI_ROLE})], False),
    ("deny of the whole account wins", [admit({"AWS": CI_ROLE}), refuse({"AWS": ACCOUNT})], False),
    ("conditional deny may not apply", [admit({"AWS": ACCOUNT}), refuse({"AWS": CI_ROLE}, Condition=MFA)], True),
    ("deny of another principal", [admit({"AWS": ACCOUNT}), refuse({"AWS": f"arn:aws:iam::{ACCOUNT}:role/other"})], True),
    ("NotPrincipal not naming it", [{"Effect": "Allow", "NotPrincipal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/other"}, "Action": "sts:AssumeRole"}], True),
    ("NotPrincipal naming it", [{"Effect": "Allow", "NotPrincipal": {"AWS": CI_ROLE}, "Action": "sts:AssumeRole"}], False),
    ("deny with NotPrincipal of others", [admit("*"), {"Effect": "Deny", "NotPrincipal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/other"}, "Action": "sts:AssumeRole"}], False),
    ("a session of the role", [admit({"AWS": f"arn:aws:sts::{ACCOUNT}:assumed-role/ci-runner/build"})], True),
]


@pytest.mark.parametrize("statements, expected", [row[1:] for row in TRUST], ids=[row[0] for row in TRUST])
def test_trust_admits(statements, expected):
    assert (trust_admits(trust(*statements), CI_ROLE, ACCOUNT) is not None) is expected


def test_trust_evidence_says_whether_it_names_the_principal():
    by_account = trust_admits(trust(admit({"AWS": ACCOUNT}, Sid="Account")), CI_ROLE, ACCOUNT)
    assert (by_account.sid, by_account.principal, by_account.names_principal) == ("Account", ACCOUNT, False)
    by_arn = trust_admits(trust(admit({"AWS": CI_ROLE}, Condition=MFA)), CI_ROLE, ACCOUNT)
    assert (by_arn.principal, by_arn.names_principal, by_arn.conditional) == (CI_ROLE, True, True)


# --- write_grants() and power() ----------------------------------------------------------------

WRITES = [
    ("s3:* on the bucket writes", [allow("s3:*", BUCKET + "/*")], BUCKET + "/key", True),
    ("s3:Get* only reads", [allow("s3:Get*", BUCKET + "/*")], BUCKET + "/key", False),
    ("s3:* on another bucket", [allow("s3:*", "arn:aws:s3:::other/*")], BUCKET + "/key", False),
    ("write denied on the bucket", [allow("s3:*"), deny("s3:*", BUCKET + "/*")], BUCKET + "/key", False),
    ("only reads left after a deny", [allow("s3:*"), deny(NotAction=["s3:Get*", "s3:List*"])], BUCKET + "/key", False),
    ("writes left after a partial deny", [allow("s3:*"), deny(["s3:Put*", "s3:Delete*"])], BUCKET + "/key", True),
    ("suffix wildcard writes", [allow("s3:*Object")], BUCKET + "/key", True),
    ("star writes", [allow("*")], BUCKET + "/key", True),
    ("NotAction grant writes", [allow(NotAction="iam:*")], BUCKET + "/key", True),
    ("NotAction of the service", [allow(NotAction="s3:*")], BUCKET + "/key", False),
    ("named write action", [allow("s3:PutObject", BUCKET + "/*")], BUCKET + "/key", True),
    ("sqs receive only reads", [allow("sqs:ReceiveMessage")], "arn:aws:sqs:eu-west-1:111111111111:q", False),
    ("another service does not act on the resource", [allow("ec2:*")], BUCKET + "/key", False),
    ("wildcard service reaches the resource", [allow("s*:Put*")], BUCKET + "/key", True),
    ("any resource", [allow("ec2:TerminateInstances", "arn:aws:ec2:*:*:instance/*")], "*", True),
]


@pytest.mark.parametrize(
    "statements, resource, expected", [row[1:] for row in WRITES], ids=[row[0] for row in WRITES]
)
def test_write_grants(statements, resource, expected):
    assert bool(policy_of(*statements).write_grants(resource)) is expected


def test_write_grants_pass_the_boundary():
    resource = BUCKET + "/key"
    assert policy_of(allow("s3:*"), boundary=[allow("s3:PutObject")]).write_grants(resource)
    assert not policy_of(allow("s3:*"), boundary=[allow("s3:Get*")]).write_grants(resource)


def test_write_grants_of_power_user_name_the_not_action_statement():
    grants = IdentityPolicy([managed("PowerUserAccess")]).write_grants(BUCKET)
    assert [g.action_pattern for g in grants] == ["NotAction: iam:*, organizations:*, account:*"]
    assert not IdentityPolicy([managed("ReadOnlyAccess")]).write_grants(BUCKET)


POWER = [
    ("AdministratorAccess", [managed("AdministratorAccess")], "admin"),
    ("IAMFullAccess", [managed("IAMFullAccess")], "admin"),
    ("PowerUserAccess", [managed("PowerUserAccess")], "write"),
    ("ReadOnlyAccess", [managed("ReadOnlyAccess")], "read"),
    ("AWSLambda_FullAccess", [managed("AWSLambda_FullAccess")], "escalate"),
    ("ReadOnlyAccess and a bucket write", [managed("ReadOnlyAccess"), ("put", doc(allow("s3:PutObject", BUCKET + "/*")))], "write"),
    ("ReadOnlyAccess and PutRolePolicy", [managed("ReadOnlyAccess"), ("put", doc(allow("iam:PutRolePolicy")))], "escalate"),
    ("no policies", [], "none"),
    ("everything denied", [("p", doc(allow("*"), deny("*")))], "none"),
    ("reads left after a deny", [("p", doc(allow("s3:*"), deny(NotAction="s3:Get*")))], "read"),
]


@pytest.mark.parametrize("policies, expected", [row[1:] for row in POWER], ids=[row[0] for row in POWER])
def test_power(policies, expected):
    assert IdentityPolicy(policies).power() == expected


READ_ONLY = [
    ("s3:GetObject", True),
    ("ec2:DescribeInstances", True),
    ("dynamodb:Query", True),
    ("dynamodb:BatchGetItem", True),
    ("logs:StartQuery", True),
    ("sqs:ReceiveMessage", True),
    ("S3:GETOBJECT", True),
    ("s3:PutObject", False),
    ("dynamodb:BatchWriteItem", False),
    ("iam:PassRole", False),
    ("sts:AssumeRole", False),
]


@pytest.mark.parametrize("action, expected", READ_ONLY, ids=[row[0] for row in READ_ONLY])
def test_is_read_only(action, expected):
    assert is_read_only(action) is expected


@pytest.mark.parametrize(
    "pattern, expected",
    [("s3:Get*", True), ("s3:List*", True), ("s3:*", False), ("s3:G*", False), ("*", False), ("ecr:BatchCheck*", True)],
)
def test_pattern_is_read_only(pattern, expected):
    assert pattern_is_read_only(compile_pattern(pattern, fold_case=True)) is expected


# --- properties --------------------------------------------------------------------------------

names = st.from_regex(r"[a-z][a-z0-9-]{0,8}:[A-Za-z][A-Za-z0-9]{0,12}", fullmatch=True)
# A small alphabet makes overlaps between random patterns likely.
glob_text = st.text(alphabet="ab:/*?", max_size=7)
plain_text = st.text(alphabet="ab:/", max_size=7)


@settings(max_examples=150, deadline=None)
@given(action=names, resource=st.from_regex(r"arn:aws:s3:::[a-z]{1,6}/[a-z]{0,6}", fullmatch=True))
def test_exact_allow_allows_and_deny_never_does(action, resource):
    assert policy_of(allow(action, resource)).allows(action, resource) is not None
    assert policy_of(allow(action.swapcase(), resource)).allows(action, resource) is not None
    assert policy_of(allow(action, resource), deny(action, resource)).allows(action, resource) is None
    assert policy_of(allow("*"), deny(action)).allows(action, resource) is None


@settings(max_examples=300, deadline=None)
@given(first=glob_text, second=glob_text, sample=plain_text, arn=st.booleans())
def test_pattern_set_questions_agree_with_matching(first, second, sample, arn):
    if arn:  # ARN segments: wildcards before the resource part do not cross colons
        first, second, sample = "arn:" + first, "arn:" + second, "arn:" + sample
    a, b = compile_pattern(first, arn=arn), compile_pattern(second, arn=arn)
    if matches(a, sample) and matches(b, sample):
        assert intersects(a, b)
    if contains(a, b) and matches(b, sample):
        assert matches(a, sample)
    common = witness(a, b)
    if common is not None:
        assert matches(a, render_witness(common)) and matches(b, render_witness(common))
    assert intersects(a, b) is (common is not None)


DENIES = [
    ("explicit deny", [deny("sts:AssumeRole", DEPLOY)], None, True),
    ("deny elsewhere", [deny("sts:AssumeRole", f"arn:aws:iam::{OTHER}:role/other")], None, False),
    ("conditional deny may not apply", [deny("sts:AssumeRole", Condition=MFA)], None, False),
    ("no allow is no deny", [], None, False),
    ("boundary without the action", [allow("*")], [allow("s3:*")], True),
    ("boundary with the action", [], [allow("sts:AssumeRole")], False),
    ("deny in the boundary", [], [allow("*"), deny("sts:*")], True),
]


@pytest.mark.parametrize(
    "statements, boundary, expected", [row[1:] for row in DENIES], ids=[row[0] for row in DENIES]
)
def test_denies(statements, boundary, expected):
    assert policy_of(*statements, boundary=boundary).denies("sts:AssumeRole", DEPLOY) is expected


# --- partitions: AWS-managed policies in GovCloud and China ---------------------------------


def test_aws_managed_policies_of_other_partitions_have_their_arns_there():
    from guardrails.providers.aws import arns
    from guardrails.providers.aws.identity import _aws_managed_documents, aws_managed_document

    catalogue = _aws_managed_documents()
    name = next(name for name, document in sorted(catalogue.items()) if '"arn:aws:' in json.dumps(document))
    written = json.dumps(catalogue[name])
    for partition in ("aws-us-gov", "aws-cn"):
        document = aws_managed_document(f"arn:{partition}:iam::aws:policy/{name}")
        assert json.dumps(document) == written.replace('"arn:aws:', f'"arn:{partition}:')
    assert aws_managed_document(f"arn:aws:iam::aws:policy/{name}") == catalogue[name]
    assert aws_managed_document(f"arn:aws-us-gov:iam::123456789012:policy/{name}") is None  # a customer's
    assert [arns.partition_of_region(r) for r in ("us-gov-west-1", "cn-northwest-1", "eu-west-1", None)] == [
        "aws-us-gov", "aws-cn", "aws", "aws"]
