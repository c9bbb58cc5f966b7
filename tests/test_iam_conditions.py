"""Conditions, service control policies and the evaluator's monotonicity.

Conditions are evaluated where the values of their keys are known for a CI identity's session; the
rest stay possible (never certain, never dropped). Service control policies' denies cut power. And
two properties of the evaluator hold for any policy: adding an explicit deny never adds power, and
widening a statement's resource never removes it.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails.identity_facts import POWER_RANK
from guardrails.providers.aws.iam_conditions import evaluate, session_context
from guardrails.providers.aws.iam_policy import IdentityPolicy

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/ci-runner"
NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.timezone.utc)
SESSION = session_context(ROLE, ACCOUNT, "AssumedRole", NOW)


def doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action, resource="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource="*", **extra) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


PAST_WINDOW = {"DateGreaterThan": {"aws:CurrentTime": "2019-01-01T00:00:00Z"},
               "DateLessThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}

CONDITIONS = [
    ("no condition", None, True),
    ("a date window in the past", PAST_WINDOW, False),
    ("a date window around now", {"DateLessThan": {"aws:CurrentTime": "2099-01-01T00:00:00Z"}}, True),
    ("epoch seconds", {"DateGreaterThan": {"aws:EpochTime": "4102444800"}}, False),
    ("the principal's own ARN", {"ArnEquals": {"aws:PrincipalArn": ROLE}}, True),
    ("another principal's ARN", {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/release-*"}}, False),
    ("the principal's account", {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}}, True),
    ("another account", {"StringEquals": {"aws:PrincipalAccount": ["111122223333", "444455556666"]}}, False),
    ("not another account", {"StringNotEquals": {"aws:PrincipalAccount": "111122223333"}}, True),
    ("keys are case-insensitive", {"StringEquals": {"AWS:PrincipalAccount": ACCOUNT}}, True),
    ("secure transport", {"Bool": {"aws:SecureTransport": "false"}}, False),
    ("an unknown key", {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, None),
    ("a known key that fails beside an unknown one",
     {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}, "StringEquals": {"aws:PrincipalAccount": "111122223333"}},
     False),
    ("a known key that holds beside an unknown one",
     {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}, "StringEquals": {"aws:PrincipalAccount": ACCOUNT}}, None),
    ("an operator IAM has and this does not read", {"SomeFutureOperator": {"aws:PrincipalAccount": ACCOUNT}}, None),
    ("MFA, never known for a pipeline", {"Bool": {"aws:MultiFactorAuthPresent": "true"}}, None),
    ("ForAnyValue over a known key", {"ForAnyValue:StringLike": {"aws:PrincipalArn": ["*:role/ci-*", "x"]}}, True),
    ("Null: the principal is always present", {"Null": {"aws:PrincipalArn": "true"}}, False),
    ("IfExists on a known key", {"StringEqualsIfExists": {"aws:PrincipalAccount": "111122223333"}}, False),
]


@pytest.mark.parametrize("condition, expected", [(c, e) for _, c, e in CONDITIONS], ids=[n for n, _, _ in CONDITIONS])
def test_condition_is_evaluated_where_its_keys_are_known(condition, expected):
    assert evaluate(condition, SESSION) is expected


def policy(*statements: dict, boundary: dict | None = None, scps: tuple = ()) -> IdentityPolicy:
    """`scps`: the service control policies level by level, root first, each level's (name, document)s."""
    return IdentityPolicy([("inline", doc(*statements))], ("boundary", boundary) if boundary else None,
                          context=SESSION, service_control_policies=scps)


def test_a_grant_under_a_condition_that_cannot_hold_is_no_power():
    p = policy(allow("iam:*", Condition=PAST_WINDOW))
    assert p.admin() is None and p.power() == "none"


def test_a_grant_under_a_condition_that_holds_is_certain():
    grant = policy(allow("iam:PutRolePolicy", Condition={"StringEquals": {"aws:PrincipalAccount": ACCOUNT}})).allows(
        "iam:PutRolePolicy", ROLE)
    assert grant is not None and not grant.conditional


def test_a_grant_under_an_unknown_condition_is_possible():
    grant = policy(allow("iam:PutRolePolicy", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})).allows(
        "iam:PutRolePolicy", ROLE)
    assert grant is not None and grant.conditional


def test_a_deny_whose_condition_holds_denies():
    p = policy(allow("*"), deny("iam:*", Condition={"StringEquals": {"aws:PrincipalAccount": ACCOUNT}}))
    assert p.allows("iam:PutRolePolicy", ROLE) is None


def test_a_deny_whose_condition_is_unknown_never_cancels():
    p = policy(allow("*"), deny("iam:*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))
    assert p.allows("iam:PutRolePolicy", ROLE) is not None


def test_passed_to_service_alone_leaves_the_grant_certain_for_that_service():
    p = policy(allow(["iam:PassRole", "ec2:RunInstances"],
                     Condition={"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}))
    (escalation,) = [e for e in p.escalations() if e.name == "iam:PassRole+ec2:RunInstances"]
    assert not any(g.conditional for g in escalation.grants)
    assert p.passes(ROLE, "lambda.amazonaws.com") is None


FULL_AWS_ACCESS = ("FullAWSAccess", doc(allow("*")))


def test_a_service_control_policy_deny_cuts_power():
    scp = ("DenyIam", doc(deny("iam:*")))
    assert policy(allow("*")).power() == "admin"
    cut = policy(allow("*"), scps=((FULL_AWS_ACCESS,), (FULL_AWS_ACCESS, scp)))
    assert cut.admin() is None and cut.allows("iam:PutRolePolicy", ROLE) is None
    assert cut.allows("s3:PutObject", "arn:aws:s3:::b/k") is not None


def test_a_service_control_policy_allow_grants_nothing():
    assert policy(allow("s3:GetObject"), scps=((FULL_AWS_ACCESS,),)).power() == "read"


def test_service_control_policies_are_allow_lists_at_every_level():
    """Root FullAWSAccess, an OU that allows s3 and iam, an account that allows s3 and ec2: only
    s3 passes every level."""
    levels = ((FULL_AWS_ACCESS,), (("ou", doc(allow(["s3:*", "iam:*"]))),), (("acct", doc(allow(["s3:*", "ec2:*"]))),))
    p = policy(allow("*"), scps=levels)
    assert p.admin() is None and p.escalations() == [] and p.power() == "write"
    assert p.allows("s3:PutObject", "arn:aws:s3:::b/k") is not None
    assert p.allows("iam:PutRolePolicy", ROLE) is None and p.allows("ec2:RunInstances") is None
    # A level's implicit deny stops even what a same-account resource policy would let through.
    assert p.denies("sts:AssumeRole", ROLE) and not p.denies("s3:GetObject", "arn:aws:s3:::b/k")
    # A level with no policy at all allows nothing.
    assert policy(allow("*"), scps=((FULL_AWS_ACCESS,), ())).power() == "none"


def test_a_service_control_policy_condition_that_cannot_be_decided_never_cuts_power_for_certain():
    region = {"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}}
    # An allow under an undecided condition: the power is possible.
    possible = policy(allow("*"), scps=((FULL_AWS_ACCESS,), (("eu-only", doc(allow("*", Condition=region))),)))
    assert possible.admin() is not None and possible.admin().conditional
    # A deny on what varies per request leaves the power to the other requests: still certain.
    regional = policy(allow("*"), scps=((FULL_AWS_ACCESS, ("regions", doc(deny("*", Condition=region)))),))
    assert regional.admin() is not None and not regional.admin().conditional
    # A deny on a fact of the principal that is not known may cut it: possible, never gone.
    tagged = {"StringNotEquals": {"aws:PrincipalTag/team": "platform"}}
    maybe = policy(allow("*"), scps=((FULL_AWS_ACCESS, ("team", doc(deny("iam:*", Condition=tagged)))),))
    grant = maybe.allows("iam:PutRolePolicy", ROLE)
    assert grant is not None and grant.conditional and maybe.admin() is not None and maybe.admin().conditional
    assert not maybe.allows("s3:PutObject", "arn:aws:s3:::b/k").conditional
    # A deny on a fact of the principal that is known decides.
    other = {"StringNotEquals": {"aws:PrincipalAccount": "111122223333"}}
    cut = policy(allow("*"), scps=((FULL_AWS_ACCESS, ("accounts", doc(deny("iam:*", Condition=other)))),))
    assert cut.allows("iam:PutRolePolicy", ROLE) is None


def test_a_permissions_boundary_cuts_a_take_over():
    p = policy(allow("lambda:UpdateFunctionCode"), boundary=doc(allow("s3:*")))
    assert p.allows("lambda:UpdateFunctionCode", "*") is None


# --- properties of the evaluator -----------------------------------------------------------------

ACTIONS = ["*", "iam:*", "iam:PutRolePolicy", "iam:Put*", "iam:PassRole", "ec2:RunInstances", "s3:*", "s3:GetObject",
           "lambda:UpdateFunctionCode", "lambda:CreateFunction", "lambda:InvokeFunction", "sts:AssumeRole",
           "iam:CreatePolicyVersion", "ssm:SendCommand"]
RESOURCES = ["*", "arn:aws:iam::*:role/*", f"arn:aws:iam::{ACCOUNT}:role/ci-*", f"arn:aws:iam::{ACCOUNT}:policy/*",
             "arn:aws:iam::aws:policy/*", "arn:aws:s3:::artifacts/*", f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:*"]
QUESTIONS = [(a, r) for a in ("iam:PutRolePolicy", "iam:PassRole", "s3:GetObject", "lambda:UpdateFunctionCode",
                              "sts:AssumeRole", "ec2:RunInstances")
             for r in ("*", ROLE, f"arn:aws:iam::{ACCOUNT}:role/deploy", "arn:aws:s3:::artifacts/a",
                       f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:f")]
# Each resource pattern, and one that matches everything it matches and more.
WIDER = {f"arn:aws:iam::{ACCOUNT}:role/ci-*": "arn:aws:iam::*:role/*", "arn:aws:iam::*:role/*": "*",
         f"arn:aws:iam::{ACCOUNT}:policy/*": "*", "arn:aws:iam::aws:policy/*": "arn:aws:iam::*:policy/*",
         "arn:aws:s3:::artifacts/*": "arn:aws:s3:::*", f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:*": "*"}
CONDITION_CHOICES = [None, PAST_WINDOW, {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
                     {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}}]

statement = st.builds(
    lambda effect, actions, resource, condition: {
        "Effect": effect, "Action": actions, "Resource": resource, **({"Condition": condition} if condition else {})},
    st.sampled_from(["Allow", "Allow", "Deny"]),
    st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=3, unique=True),
    st.sampled_from(RESOURCES),
    st.sampled_from(CONDITION_CHOICES),
)


def answers(statements: list[dict]) -> tuple[int, set[tuple[str, str]]]:
    p = policy(*statements)
    return POWER_RANK[p.power()], {q for q in QUESTIONS if p.allows(*q) is not None}


@settings(max_examples=60, deadline=None)
@given(st.lists(statement, min_size=1, max_size=5), st.sampled_from(ACTIONS), st.sampled_from(RESOURCES),
       st.sampled_from(CONDITION_CHOICES))
def test_adding_an_explicit_deny_never_adds_power(statements, action, resource, condition):
    extra = deny(action, resource, **({"Condition": condition} if condition else {}))
    rank, allowed = answers(statements)
    rank_after, allowed_after = answers([*statements, extra])
    assert rank_after <= rank
    assert allowed_after <= allowed


@settings(max_examples=60, deadline=None)
@given(st.lists(statement, min_size=1, max_size=5), st.data())
def test_widening_a_resource_pattern_never_removes_power(statements, data):
    allows = [i for i, s in enumerate(statements) if s["Effect"] == "Allow" and s["Resource"] in WIDER]
    if not allows:
        return
    index = data.draw(st.sampled_from(allows))
    widened = [dict(s) for s in statements]
    widened[index]["Resource"] = WIDER[statements[index]["Resource"]]
    rank, allowed = answers(statements)
    rank_after, allowed_after = answers(widened)
    assert rank_after >= rank
    assert allowed_after >= allowed


# --- tags: of the resource asked about, and of the principal ------------------------------------

ADMIN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/admin"
TEAM_BUILD = {"StringEquals": {"aws:ResourceTag/team": "build"}}


@pytest.mark.parametrize("condition, tags, expected", [
    (TEAM_BUILD, {"team": "build"}, "certain"),
    (TEAM_BUILD, {"team": "data"}, "none"),
    (TEAM_BUILD, {"owner": "ci"}, "none"),  # collected whole: no team tag at all
    (TEAM_BUILD, None, "possible"),  # tags not collected
    ({"StringEquals": {"iam:ResourceTag/team": "build"}}, {"team": "build"}, "certain"),
    ({"StringNotEquals": {"aws:ResourceTag/team": "data"}}, {"team": "data"}, "none"),
    ({"StringEqualsIfExists": {"aws:ResourceTag/team": "build"}}, {"owner": "ci"}, "certain"),
    ({"Null": {"aws:ResourceTag/team": "false"}}, {"owner": "ci"}, "none"),
    # The source address is never known for the session: possible, whatever the tags.
    ({**TEAM_BUILD, "IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"team": "build"}, "possible"),
])
def test_resource_tag_conditions_are_decided_by_the_collected_tags(condition, tags, expected):
    policy = IdentityPolicy([("p", doc(allow("sts:AssumeRole", "*", Condition=condition)))], context=SESSION)
    grant = policy.assumable(ADMIN_ROLE, tags)
    got = "none" if grant is None else ("possible" if grant.conditional else "certain")
    assert got == expected


def test_a_boundary_conditioned_on_a_resource_tag_bounds_by_the_same_tags():
    boundary = ("b", doc(allow("*", "*", Condition=TEAM_BUILD)))
    policy = IdentityPolicy([("p", doc(allow("*")))], boundary, context=SESSION)
    assert policy.assumable(ADMIN_ROLE, {"team": "data"}) is None
    assert not policy.assumable(ADMIN_ROLE, {"team": "build"}).conditional
    assert policy.assumable(ADMIN_ROLE).conditional


@pytest.mark.parametrize("principal_tags, expected", [
    ({"team": "build"}, "certain"),
    ({"team": "data"}, "none"),
    ({"owner": "ci"}, "none"),
    (None, "possible"),
])
def test_principal_tag_conditions_are_decided_by_the_identity_s_own_tags(principal_tags, expected):
    context = session_context(ROLE, ACCOUNT, "AssumedRole", NOW, principal_tags=principal_tags)
    condition = {"StringEquals": {"aws:PrincipalTag/team": "build"}}
    policy = IdentityPolicy([("p", doc(allow("s3:GetObject", "*", Condition=condition)))], context=context)
    grant = policy.allows("s3:GetObject", "arn:aws:s3:::bucket/key")
    got = "none" if grant is None else ("possible" if grant.conditional else "certain")
    assert got == expected


@pytest.mark.parametrize("key", ["aws:SourceIp", "aws:SourceVpc", "aws:SourceVpce"])
def test_source_address_keys_are_never_decided(key):
    # The address AWS sees depends on the endpoint the node calls; a range containing none of the
    # node's addresses may still hold through a NAT or VPC endpoint not collected.
    operator = "IpAddress" if key == "aws:SourceIp" else "StringEquals"
    value = "198.51.100.0/24" if key == "aws:SourceIp" else "vpc-0123"
    assert evaluate({operator: {key: value}}, SESSION) is None


def test_a_grant_under_a_source_address_condition_names_the_key_not_decided():
    # The node's addresses (private, public, NAT) are all outside the range: still possible, not none.
    condition = {"IpAddress": {"aws:SourceIp": "198.51.100.0/24"},
                 "StringEquals": {"aws:PrincipalAccount": ACCOUNT}}
    policy = IdentityPolicy([("p", doc(allow("sts:AssumeRole", "*", Condition=condition)))], context=SESSION)
    grant = policy.assumable(ADMIN_ROLE, {"team": "build"})
    assert grant.conditional and grant.undecided == ("aws:SourceIp",)
