"""AWS identity power: an IAM role or user's policies, trust policies and ARNs, told in neutral facts.

The evaluator answers guardrails/identity_facts.py's questions for one identity node at a time
(iam_policy.py holds IAM's semantics): its power with the statement that proves it, the roles it
can assume, and what of production it can change. Documents that cannot be read become coverage
gaps naming the identity and the policy, and the identity is evaluated with the rest of its
policies, so one bad inline policy does not hide an attached AdministratorAccess.
"""

from __future__ import annotations

import json
import lzma
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Iterable, Mapping

from guardrails.config import Config
from guardrails.graph import EstateGraph, Node
from guardrails.identity_facts import POWER_RANK, Escalation, Hop, IdentityPower, ProductionAccess

from .iam_policy import Grant, IdentityPolicy, PolicyDocumentError, check_document, trust_admits

PROVIDER = "aws"

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


MANAGED_POLICIES = Path(__file__).parent / "data" / "aws-managed-policies.json.xz"


@lru_cache(maxsize=1)
def _aws_managed_documents() -> dict[str, dict]:
    """Default-version documents of AWS managed policies, for plans that name one by ARN only.

    A live scan reads them from IAM. For Terraform they come from a catalogue shipped with the
    package (scripts/refresh_aws_managed_policies.py makes it from the copy the AWS emulator moto
    carries), so a scan needs no emulator installed; it is read only when a plan needs it.
    """
    try:
        return json.loads(lzma.decompress(MANAGED_POLICIES.read_bytes()))
    except (OSError, lzma.LZMAError, json.JSONDecodeError):
        return {}


def aws_managed_document(arn: str | None) -> dict | None:
    """The default document of the AWS managed policy with this ARN, when it is known offline."""
    if not arn or not arn.startswith(AWS_MANAGED_PREFIX):
        return None
    return _aws_managed_documents().get(arn.rsplit("/", 1)[-1])


def describe_grant(grant: Grant) -> str:
    """The statement that allows something, as evidence: policy, statement id, what and where."""
    text = f"{grant.policy}"
    if grant.sid:
        text += f" statement {grant.sid}"
    text += f": allow {grant.action_pattern} on {grant.resource_pattern}"
    if grant.conditional:
        text += " (with a condition)"
    return text


def resource_arn(node: Node) -> str:
    """The ARN IAM matches a node's resource patterns against (instances are known by id)."""
    if node.id.startswith("arn:"):
        return node.id
    if node.kind == "compute":
        return f"arn:aws:ec2:{node.get('region') or '*'}:{node.get('account') or '*'}:instance/{node.id}"
    return node.id


def _account_of_arn(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 else ""


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


class AwsIdentities:
    """The evaluator of one estate's IAM roles and users (guardrails/identity_facts.py)."""

    def __init__(self, graph: EstateGraph, production: Mapping[str, str], config: Config) -> None:
        self._graph = graph
        self._production = production
        self._config = config
        self._by_id = {n.id: n for n in graph.nodes("identity") if n.get("provider") == PROVIDER}
        self._trusted = _trust_index(self._by_id.values())
        self._unreadable_trust: set[str] = set()

    def evaluate(self, identity: Node) -> IdentityPower:
        """The power of one IAM identity: see IdentityPower."""
        policy, unknown = self._policy_of(identity)
        admin = policy.admin()
        power = policy.power()
        escalations = () if admin else tuple(
            Escalation(e.name, e.permissions, tuple(describe_grant(g) for g in e.grants)) for e in policy.escalations())
        return IdentityPower(power=power, admin=describe_grant(admin) if admin else None, escalations=escalations,
                             assumes=tuple(self._assumptions(identity, policy)),
                             production=tuple(self._production_access(identity, policy, power)),
                             unknown=tuple(unknown))

    # -- policies --

    def _policy_of(self, node: Node) -> tuple[IdentityPolicy, list[str]]:
        """The evaluator of the identity's readable documents, and what about its policies is unknown."""
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
        docs.extend(self._guardrail_denies(node))
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
        except PolicyDocumentError:
            pass
        # Which document is unreadable is asked only now: reading each apart costs a second parse.
        # The identity is evaluated without it, which can only report more (a lost deny or
        # boundary widens it), never hide what the readable documents grant.
        readable = [(name, doc) for name, doc in docs if self._readable(node, name, doc, unknown)]
        if boundary is not None and not self._readable(node, boundary[0], boundary[1], unknown):
            boundary = None
        return IdentityPolicy(readable, boundary), unknown

    def _readable(self, node: Node, name: str, document: dict | str, unknown: list[str]) -> bool:
        try:
            check_document(name, document)
        except PolicyDocumentError as exc:
            error = f"a policy document could not be read: {exc}; {node.name} is evaluated without it"
            unknown.append(error)
            self._graph.gap(PROVIDER, f"{name} of {node.get('identity_type') or 'identity'} {node.id}", error,
                            node.get("account") or "")
            return False
        return True

    # -- role assumption --

    def _assumptions(self, source: Node, policy: IdentityPolicy) -> list[Hop]:
        """The roles `source` can assume: its trust index candidates, each evaluated exactly."""
        source_arn = source.get("arn") or source.id
        source_account = source.get("account") or _account_of_arn(source_arn)
        trusted = self._trusted
        candidates = trusted.get(source_arn.lower(), set()) | trusted.get(source_account, set()) | trusted.get("*", set())
        hops = []
        for target_id in sorted(candidates - {source.id}):
            target = self._by_id[target_id]
            try:
                trust = trust_admits(target.get("trust_policy"), source_arn, source_account)
            except PolicyDocumentError as exc:
                self._unreadable_trust_policy(target, exc)
                continue
            if trust is None:
                continue
            target_arn = target.get("arn") or target.id
            grant = policy.assumable(target_arn)
            same_account = source_account == (target.get("account") or _account_of_arn(target_arn))
            if grant is None and not (same_account and trust.names_principal
                                      and not policy.denies("sts:AssumeRole", target_arn)):
                continue
            how = describe_grant(grant) if grant else "the trust policy names it (same account)"
            hops.append(Hop(source.id, target.id, f"sts:AssumeRole: {how}; trust policy admits {trust.principal}"))
        return hops

    def _guardrail_denies(self, node: Node) -> list[tuple[str, dict]]:
        """The deny statements of the service control policies that bound the identity's account:
        an action one of them denies is no power, whatever the identity's policies allow. Their
        allows grant nothing (an SCP only bounds), so only the denies join the identity's own."""
        account = node.get("account")
        if not account or not self._graph.has(account):
            return []
        out = []
        for scp in self._graph.node(account).get("guardrail_policies") or []:
            statements = (scp.get("document") or {}).get("Statement") if isinstance(scp.get("document"), dict) else None
            statements = [statements] if isinstance(statements, dict) else statements or []
            denies = [st for st in statements if isinstance(st, dict) and st.get("Effect") == "Deny"]
            if denies:
                out.append((f"service control policy {scp.get('name')} ({scp.get('level')} {scp.get('target')})",
                            {"Version": "2012-10-17", "Statement": denies}))
        return out

    def _unreadable_trust_policy(self, role: Node, exc: PolicyDocumentError) -> None:
        if role.id in self._unreadable_trust:
            return
        self._unreadable_trust.add(role.id)
        self._graph.gap(PROVIDER, f"trust policy of role {role.id}",
                        f"a policy document could not be read: {exc}; no identity is taken to be able to assume it",
                        role.get("account") or "")

    # -- production --

    @cached_property
    def _scanned_accounts(self) -> set:
        return {n.id for n in self._graph.nodes("account")} | {n.get("account") for n in self._by_id.values()}

    @cached_property
    def _production_by_account(self) -> dict[str, dict[str, list[Node]]]:
        """Account -> kind -> its production resources that PRODUCTION_ACTIONS can act on, by id."""
        by_account: dict[str, dict[str, list[Node]]] = {}
        for kind in PRODUCTION_ACTIONS:
            for n in self._graph.nodes(kind):
                if n.id in self._production:
                    by_account.setdefault(n.get("account"), {}).setdefault(kind, []).append(n)
        for by_kind in by_account.values():
            for resources in by_kind.values():
                # The first production resource named is the first by id: the same whatever order the
                # API listed them in, and however the estate was split between processes (shards.py).
                resources.sort(key=lambda n: n.id)
        return by_account

    def _production_access(self, node: Node, policy: IdentityPolicy, power: str) -> list[ProductionAccess]:
        """What of production the identity's own policies let it change (assumed roles aside)."""
        production = self._production
        found = []
        # Roles in production accounts that were not scanned: the trust policy is not known.
        for account in sorted(self._config.production_accounts):
            if account in self._scanned_accounts:
                continue
            grant = policy.allows("sts:AssumeRole", f"arn:aws:iam::{account}:role/*")
            if grant:
                found.append(ProductionAccess(
                    account, f"sts:AssumeRole on roles of production account {account} ({describe_grant(grant)}); "
                             "that account was not scanned, so its roles' trust policies are unknown"))
        account = node.get("account")
        if account and account in production and POWER_RANK[power] >= POWER_RANK["write"]:
            grants = policy.write_grants("*")
            if grants:
                found.append(ProductionAccess(account, f"write access in production account {account} "
                                                       f"({production[account]}): {describe_grant(grants[0])}"))
                return found
        found.extend(self._production_resources(policy, self._production_by_account.get(account, {})))
        return found

    def _production_resources(self, policy: IdentityPolicy, by_kind: dict[str, list[Node]]) -> list[ProductionAccess]:
        """The first production resource of each kind that the identity can change or take over.

        An action the policy allows on no resource at all is dropped before any resource is tried, so
        the usual role costs a handful of questions, not one per production resource."""
        found = []
        for kind, resources in sorted(by_kind.items()):
            actions = [a for a in PRODUCTION_ACTIONS.get(kind, ()) if policy.allows(a, "*")]
            hit = None
            for resource in resources if actions else ():
                arn = resource_arn(resource)
                for action in actions:
                    grant = policy.allows(action, arn)
                    if grant:
                        hit = (resource, action, grant)
                        break
                if hit:
                    break
            if hit:
                resource, action, grant = hit
                others = len(resources) - 1
                more = ""
                if others and grant.resource_pattern == "*":
                    more = (f", and on the {others} other production {kind} {'node' if others == 1 else 'nodes'} "
                            "of the account")
                found.append(ProductionAccess(
                    resource.id, f"{action} on production {resource.name} ({self._production[resource.id]}){more}: "
                                 f"{describe_grant(grant)}"))
        return found
