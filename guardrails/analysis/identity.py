"""Identity power: what each identity can do, directly and through the roles it can assume.

Evaluated once per identity (guardrails.providers.aws.iam_policy holds IAM's semantics); the
`can_assume` edges found here are added to the graph, and power is followed along them so that a
build role that may assume an administrator role is reported with the whole chain as evidence.
"""

from __future__ import annotations

import ast
import importlib.util
import json
from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

# The evaluator carries IAM's action catalogue: imported when identities are analysed, not when
# the check catalogue is merely listed.
if TYPE_CHECKING:
    from guardrails.providers.aws.iam_policy import Escalation, Grant, IdentityPolicy
from guardrails.config import Config
from guardrails.graph import EstateGraph, Node

POWER_RANK = {"admin": 4, "escalate": 3, "write": 2, "read": 1, "none": 0}

# Actions that change or take over a running resource of each kind. A grant such as
# ec2:RunInstances on "*" names every ARN but does nothing to an existing production instance, so
# "write on production" asks about these, not about any write action whose resource matches.
PRODUCTION_ACTIONS: dict[str, tuple[str, ...]] = {
    "compute": ("ec2:TerminateInstances", "ec2:StopInstances", "ec2:ModifyInstanceAttribute",
                "ec2:AssociateIamInstanceProfile", "ec2:ReplaceIamInstanceProfileAssociation",
                "ssm:SendCommand", "ssm:StartSession", "ec2-instance-connect:SendSSHPublicKey",
                "ec2-instance-connect:SendSerialConsoleSSHPublicKey"),
    "load_balancer": ("elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:ModifyListener",
                      "elasticloadbalancing:CreateListener", "elasticloadbalancing:ModifyLoadBalancerAttributes",
                      "elasticloadbalancing:SetSecurityGroups"),
}

AWS_MANAGED_PREFIX = "arn:aws:iam::aws:policy/"


@lru_cache(maxsize=1)
def _aws_managed_documents() -> dict[str, dict]:
    """Default-version documents of AWS managed policies, for plans that name one by ARN only.

    A live scan reads them from IAM. For Terraform the catalogue that the AWS emulator moto ships
    (a dependency, for the demo) is the most complete offline copy; it is read as data, without
    importing moto, so it costs a few milliseconds and only when a plan needs it.
    """
    spec = importlib.util.find_spec("moto")
    if spec is None or not spec.submodule_search_locations:
        return {}
    path = Path(list(spec.submodule_search_locations)[0]) / "iam" / "aws_managed_policies.py"
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "aws_managed_policies_data" for t in node.targets):
            try:
                data = json.loads(ast.literal_eval(node.value))
            except (ValueError, json.JSONDecodeError):
                return {}
            return {name: item["Document"] for name, item in data.items() if isinstance(item.get("Document"), dict)}
    return {}


def aws_managed_document(arn: str | None) -> dict | None:
    if not arn or not arn.startswith(AWS_MANAGED_PREFIX):
        return None
    return _aws_managed_documents().get(arn.rsplit("/", 1)[-1])


@dataclass(frozen=True)
class Hop:
    """One role assumption: from an identity to a role, and why it is allowed."""

    source: str
    target: str
    via: str


@dataclass
class ProductionAccess:
    target: str  # a role ARN, account id or resource id
    via: str
    chain: tuple[Hop, ...] = ()


@dataclass
class IdentityFacts:
    id: str
    power: str = "none"
    admin: Grant | None = None
    escalations: list[Escalation] = field(default_factory=list)
    production: list[ProductionAccess] = field(default_factory=list)
    assumes: list[Hop] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    # The strongest power reachable through role assumption, with the chain that reaches it.
    chain_power: str = "none"
    chain: tuple[Hop, ...] = ()
    chain_end: str = ""

    @property
    def effective_power(self) -> str:
        """The stronger of the identity's own power and what its role chain reaches."""
        return self.chain_power if POWER_RANK[self.chain_power] > POWER_RANK[self.power] else self.power


def policy_of(node: Node) -> tuple[IdentityPolicy | None, list[str]]:
    """The evaluator for one identity node, and what about its policies is unknown."""
    from guardrails.providers.aws.iam_policy import IdentityPolicy, PolicyDocumentError

    unknown: list[str] = []
    docs: list[tuple[str, dict]] = []
    for policy in node.get("managed_policies") or []:
        doc = policy.get("document") or aws_managed_document(policy.get("arn"))
        if doc is None:
            unknown.append(f"document of managed policy {policy.get('arn') or policy.get('name')} not collected")
            continue
        docs.append((policy.get("name") or policy.get("arn"), doc))
    for policy in node.get("inline_policies") or []:
        if policy.get("document") is None:
            unknown.append(f"inline policy {policy.get('name')} unknown")
            continue
        docs.append((f"inline policy {policy.get('name')}", policy["document"]))
    boundary = None
    if node.get("boundary"):
        b = node.get("boundary")
        doc = b.get("document") or aws_managed_document(b.get("arn"))
        if doc is None:
            unknown.append(f"permissions boundary {b.get('arn')} not collected; evaluated without it")
        else:
            boundary = (f"permissions boundary {b.get('name')}", doc)
    try:
        return IdentityPolicy(docs, boundary), unknown
    except PolicyDocumentError as exc:
        return None, unknown + [f"a policy document could not be read: {exc}"]


def describe_grant(grant: Grant) -> str:
    text = f"{grant.policy}"
    if grant.sid:
        text += f" statement {grant.sid}"
    text += f": allow {grant.action_pattern} on {grant.resource_pattern}"
    if grant.conditional:
        text += " (with a condition)"
    return text


def _account_of_arn(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 else ""


def analyse_identities(graph: EstateGraph, config: Config, production: dict[str, str],
                       ci_nodes: Iterable[str] = ()) -> dict[str, IdentityFacts]:
    """Facts for every identity a CI node runs as, and every role reachable from those by
    assumption. Other identities are not a pipeline's, and evaluating them would only cost time."""
    by_id = {n.id: n for n in graph.nodes("identity")}
    trusted = _trust_index(by_id.values())
    policies: dict[str, IdentityPolicy | None] = {}
    facts: dict[str, IdentityFacts] = {}
    queue = deque(sorted({n.id for node in ci_nodes for n, _ in graph.out(node, "runs_as") if n.id in by_id}))
    while queue:
        current = queue.popleft()
        if current in facts:
            continue
        node = by_id[current]
        policy, unknown = policy_of(node)
        policies[current] = policy
        f = IdentityFacts(current, unknown=unknown)
        if policy is not None:
            f.power = policy.power()
            f.admin = policy.admin()
            f.escalations = [] if f.admin else list(policy.escalations())
        facts[current] = f
        for hop in _assumptions(graph, node, policy, trusted, by_id):
            f.assumes.append(hop)
            queue.append(hop.target)
    _production_access(graph, config, production, [by_id[i] for i in facts], policies, facts)
    _chains(facts)
    return facts


def _trust_principals(document) -> set[str]:
    """Every AWS principal a trust policy names (lower-cased), or "*" when it may admit anyone."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError:
            return {"*"}
    if not isinstance(document, dict):
        return set()
    statements = document.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    names: set[str] = set()
    for statement in statements:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        if "NotPrincipal" in statement:
            names.add("*")
            continue
        principal = statement.get("Principal")
        values = principal.get("AWS", []) if isinstance(principal, dict) else [principal]
        for value in values if isinstance(values, list) else [values]:
            if isinstance(value, str):
                names.add(value.lower())
    return names


def _trust_index(identities: Iterable[Node]) -> dict[str, set[str]]:
    """Principal (ARN, account id, root ARN or "*") -> the roles whose trust policy names it."""
    index: dict[str, set[str]] = {}
    for node in identities:
        if not node.get("trust_policy"):
            continue
        for name in _trust_principals(node.get("trust_policy")):
            if name.endswith(":root"):
                name = _account_of_arn(name) or name
            index.setdefault(name, set()).add(node.id)
    return index


def _assumptions(graph: EstateGraph, source: Node, policy: IdentityPolicy | None, trusted: dict[str, set[str]],
                 by_id: dict[str, Node]) -> list[Hop]:
    """The roles `source` can assume: its trust index candidates, each evaluated exactly."""
    from guardrails.providers.aws.iam_policy import PolicyDocumentError, trust_admits

    source_arn = source.get("arn") or source.id
    source_account = source.get("account") or _account_of_arn(source_arn)
    candidates = trusted.get(source_arn.lower(), set()) | trusted.get(source_account, set()) | trusted.get("*", set())
    hops = []
    for target_id in sorted(candidates - {source.id}):
        target = by_id[target_id]
        try:
            trust = trust_admits(target.get("trust_policy"), source_arn, source_account)
        except PolicyDocumentError:
            continue
        if trust is None:
            continue
        target_arn = target.get("arn") or target.id
        grant = policy.assumable(target_arn) if policy else None
        same_account = source_account == (target.get("account") or _account_of_arn(target_arn))
        if grant is None and not (same_account and trust.names_principal and policy is not None
                                  and not policy.denies("sts:AssumeRole", target_arn)):
            continue
        how = describe_grant(grant) if grant else "the trust policy names it (same account)"
        hop = Hop(source.id, target.id, f"sts:AssumeRole: {how}; trust policy admits {trust.principal}")
        hops.append(hop)
        graph.add_edge(source.id, target.id, "can_assume", via=hop.via)
    return hops


def _production_access(graph: EstateGraph, config: Config, production: dict[str, str], identities: list[Node],
                       policies: dict[str, IdentityPolicy | None], facts: dict[str, IdentityFacts]) -> None:
    by_id = {n.id: n for n in graph.nodes("identity")}
    scanned = {n.id for n in graph.nodes("account")} | {n.get("account") for n in by_id.values()}
    prod_by_kind: dict[str, dict[str, list[Node]]] = {}
    for kind in PRODUCTION_ACTIONS:
        for n in graph.nodes(kind):
            if n.id in production:
                prod_by_kind.setdefault(n.get("account"), {}).setdefault(kind, []).append(n)
    for by_kind in prod_by_kind.values():
        for resources in by_kind.values():
            # The first production resource named is the first by id: the same whatever order the
            # API listed them in, and however the estate was split between processes (shards.py).
            resources.sort(key=lambda n: n.id)
    for node in identities:
        f = facts[node.id]
        policy = policies[node.id]
        for hop in f.assumes:
            target = by_id[hop.target]
            if target.id in production:
                f.production.append(ProductionAccess(target.id, f"can assume {target.name}: {production[target.id]}; {hop.via}", (hop,)))
        if policy is None:
            continue
        # Roles in production accounts that were not scanned: the trust policy is not known.
        for account in sorted(config.production_accounts):
            if account in scanned:
                continue
            pattern = f"arn:aws:iam::{account}:role/*"
            grant = policy.allows("sts:AssumeRole", pattern)
            if grant:
                f.production.append(ProductionAccess(
                    account, f"sts:AssumeRole on roles of production account {account} ({describe_grant(grant)}); "
                             "that account was not scanned, so its roles' trust policies are unknown"))
        account = node.get("account")
        if account and account in production and POWER_RANK[f.power] >= POWER_RANK["write"]:
            grants = policy.write_grants("*")
            if grants:
                f.production.append(ProductionAccess(account, f"write access in production account {account} "
                                                              f"({production[account]}): {describe_grant(grants[0])}"))
                continue
        _production_resources(policy, f, prod_by_kind.get(account, {}), production)


def _production_resources(policy: IdentityPolicy, facts: IdentityFacts, by_kind: dict[str, list[Node]],
                          production: dict[str, str]) -> None:
    """The first production resource of each kind that the identity can change or take over.

    An action the policy allows on no resource at all is dropped before any resource is tried, so
    the usual role costs a handful of questions, not one per production resource."""
    for kind, resources in sorted(by_kind.items()):
        actions = [a for a in PRODUCTION_ACTIONS.get(kind, ()) if policy.allows(a, "*")]
        found = None
        for resource in resources if actions else ():
            arn = resource_arn(resource)
            for action in actions:
                grant = policy.allows(action, arn)
                if grant:
                    found = (resource, action, grant)
                    break
            if found:
                break
        if found:
            resource, action, grant = found
            others = len(resources) - 1
            more = ""
            if others and grant.resource_pattern == "*":
                more = f", and on the {others} other production {kind} node(s) of the account"
            facts.production.append(ProductionAccess(
                resource.id, f"{action} on production {resource.name} ({production[resource.id]}){more}: "
                             f"{describe_grant(grant)}"))


def resource_arn(node: Node) -> str:
    if node.id.startswith("arn:"):
        return node.id
    if node.kind == "compute":
        return f"arn:aws:ec2:{node.get('region') or '*'}:{node.get('account') or '*'}:instance/{node.id}"
    return node.id


def _chains(facts: dict[str, IdentityFacts]) -> None:
    """For every identity, the strongest power reachable by assuming roles, shortest chain first."""
    for start, f in facts.items():
        best_rank, best_chain, best_end = -1, (), ""
        queue = deque([(start, ())])
        seen = {start}
        while queue:
            current, chain = queue.popleft()
            if chain:
                rank = POWER_RANK[facts[current].power]
                if facts[current].production:
                    rank = max(rank, POWER_RANK["escalate"] - 1)  # production reach ranks with write
                if rank > best_rank:
                    best_rank, best_chain, best_end = rank, chain, current
            for hop in facts[current].assumes:
                if hop.target not in seen:
                    seen.add(hop.target)
                    queue.append((hop.target, chain + (hop,)))
        if best_chain:
            f.chain, f.chain_end = best_chain, best_end
            f.chain_power = facts[best_end].power
