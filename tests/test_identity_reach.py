"""The identity graph answers every principal from labels of the nearest holders (analysis/nearest.py)
instead of a search per principal: on random accounts the answers are those of a breadth-first
search of each principal's own, chain for chain and confidence for confidence."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardrails import pipeline
from guardrails.analysis.identity import IdentityGraph
from guardrails.config import Config

ACCOUNT = "123456789012"
REGION = "eu-west-1"
# A condition the scan cannot decide for a session (the caller's address): the grant is possible.
UNDECIDED = {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}


def _role_arn(index: int) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/r{index}"


def _function_arn(index: int) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn-{index}"


@st.composite
def grants(draw, roles: int, functions: int) -> dict:
    """One statement of a role's inline policy, from the powers the identity graph follows."""
    kind = draw(st.sampled_from(["admin", "assume", "pass", "update", "rewrite", "policy-version", "deny-assume"]))
    role = _role_arn(draw(st.integers(0, roles - 1)))
    statement = {
        "admin": {"Effect": "Allow", "Action": "*", "Resource": "*"},
        "assume": {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role},
        "pass": {"Effect": "Allow", "Action": ["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"],
                 "Resource": "*" if draw(st.booleans()) else [role, f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:*"]},
        "update": {"Effect": "Allow", "Action": "lambda:UpdateFunctionCode",
                   "Resource": _function_arn(draw(st.integers(0, max(0, functions - 1))))},
        "rewrite": {"Effect": "Allow", "Action": "iam:PutRolePolicy", "Resource": role},
        "policy-version": {"Effect": "Allow", "Action": "iam:CreatePolicyVersion", "Resource": "*"},
        "deny-assume": {"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": role},
    }[kind]
    if kind != "deny-assume" and draw(st.integers(0, 3)) == 0:
        statement["Condition"] = UNDECIDED
    return statement


@st.composite
def accounts(draw) -> tuple[dict, dict[str, str]]:
    """A snapshot of one account (roles that grant each other the graph's powers, Lambda
    functions running as them) and which roles are production."""
    roles = draw(st.integers(2, 7))
    functions = draw(st.integers(0, 3))
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"},
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    iam_roles = []
    for index in range(roles):
        statements = draw(st.lists(grants(roles, functions), max_size=4))
        inline = [{"PolicyName": "p", "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}] if statements else []
        # A managed policy whose document was not collected: what the role holds is not all known.
        unread = [{"PolicyName": "unread", "PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/unread-{index}"}] \
            if draw(st.integers(0, 4)) == 0 else []
        iam_roles.append({"RoleName": f"r{index}", "Arn": _role_arn(index), "Path": "/", "AssumeRolePolicyDocument": trust,
                          "AttachedManagedPolicies": unread, "RolePolicyList": inline, "Tags": [],
                          "InstanceProfileList": []})
    lambdas = [{"FunctionName": f"fn-{index}", "FunctionArn": _function_arn(index), "Runtime": "python3.12",
                "Role": _role_arn(draw(st.integers(0, roles - 1)))} for index in range(functions)]
    production = draw(st.sets(st.integers(0, roles - 1), max_size=2))
    snapshot = {
        "format": "pipeline-guardrails-snapshot", "version": 1, "tool_version": "test",
        "collected_at": "2026-12-01T00:00:00Z", "provider": "aws", "source": "aws", "scope": ACCOUNT,
        "account": {"id": ACCOUNT, "aliases": []},
        "regions": {REGION: {"vpcs": [], "subnets": [], "route_tables": [], "security_groups": [],
                             "network_acls": [], "instances": [], "lambda_functions": lambdas}},
        "iam": {"roles": iam_roles, "policies": [], "instance_profiles": [], "users": []}, "gaps": [],
    }
    return snapshot, {_role_arn(i): "tagged production" for i in production}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(accounts())
def test_labelled_answers_are_each_principals_own_search(account):
    snapshot, production_arns = account
    graph = pipeline.normalize([snapshot])
    identities = sorted(n.id for n in graph.nodes("identity"))
    production = {i: production_arns[graph.node(i).get("arn")] for i in identities
                  if graph.node(i).get("arn") in production_arns}
    labelled = IdentityGraph(graph, Config(), production)
    searched = IdentityGraph(graph, Config(), production)
    for principal in identities:
        for level in ("admin", "escalate", "production"):
            assert labelled.reach(principal, level) == searched._search(principal, level), (principal, level)
        unknowns = labelled.unknowns(principal)
        assert set(unknowns) == reached_unknowns(searched, principal)
        assert unknowns[:len(labelled.facts(principal).unknown)] == tuple(labelled.facts(principal).unknown)


def reached_unknowns(identities: IdentityGraph, principal: str) -> set[str]:
    """The unknowns of every identity the principal reaches, itself included, by walking its hops."""
    seen, stack = {principal}, [principal]
    while stack:
        for hop in identities.hops(stack.pop()):
            if hop.target not in seen and identities.graph.has(hop.target):
                seen.add(hop.target)
                stack.append(hop.target)
    return {u for node in seen if identities.graph.node(node).kind == "identity" for u in identities.facts(node).unknown}
