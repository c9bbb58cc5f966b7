"""AWS identity power: an IAM role or user's policies, trust policies and ARNs, told in neutral facts.

The evaluator answers guardrails/identity_facts.py's questions for one identity node at a time
(iam_policy.py holds IAM's semantics): its power with the statement that proves it, the roles it
can assume, and what of production it can change. Documents that cannot be read become coverage
gaps naming the identity and the policy, and the identity is evaluated with the rest of its
policies, so one bad inline policy does not hide an attached AdministratorAccess.
"""

from __future__ import annotations

import datetime as dt
import json
import lzma
import re
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Iterable, Mapping

from guardrails.config import Config
from guardrails.graph import EstateGraph, Node
from guardrails.identity_facts import CONFIRMED, UNKNOWN, Escalation, Hop, IdentityPower, ProductionAccess, Proof
from guardrails.identity_facts import POWER_RANK

from . import arns
from .iam_conditions import session_context
from .identity_index import RunAsIndex
from .iam_policy import PASS_ROLE_SETS, Grant, IdentityPolicy, PolicyDocumentError, check_document, trust_admits

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

# Taking over an existing resource that runs as a role: by node kind and type, each way to do it
# as the sets of actions it takes on the resource (all of one set). A way marked `agent` works only
# on an instance the Systems Manager agent manages.
TAKE_OVERS: dict[tuple[str, str], tuple[tuple[tuple[str, ...], bool], ...]] = {
    ("compute", "instance"): ((("ssm:SendCommand",), True), (("ssm:StartSession",), True),
                              (("ec2-instance-connect:SendSSHPublicKey",), False)),
    # StartBuild may override the project's buildspec: the build runs any command as its role.
    ("compute", "build_project"): ((("codebuild:StartBuild",), False), (("codebuild:StartBuildBatch",), False)),
    ("workload", "build_project"): ((("codebuild:StartBuild",), False), (("codebuild:StartBuildBatch",), False)),
    ("workload", "function"): ((("lambda:UpdateFunctionCode",), False), (("lambda:UpdateFunctionConfiguration",), False)),
    ("workload", "stack"): ((("cloudformation:UpdateStack",), False),
                            (("cloudformation:CreateChangeSet", "cloudformation:ExecuteChangeSet"), False)),
    ("workload", "dev_endpoint"): ((("glue:UpdateDevEndpoint",), False),),
    ("workload", "notebook"): ((("sagemaker:CreatePresignedNotebookInstanceUrl",), False),),
    # Running an existing task definition or launch template also passes its role.
    ("workload", "task_definition"): ((("ecs:RunTask", "iam:PassRole"), False),),
    ("workload", "launch_template"): ((("ec2:RunInstances", "iam:PassRole"), False),),
}

# The snapshot list that holds the resources of each workload type: when it could not be read, the
# take-overs it would carry are unknown, never absent.
_WORKLOAD_LISTS = {"function": "lambda_functions", "stack": "cloudformation_stacks",
                   "dev_endpoint": "glue_dev_endpoints", "notebook": "sagemaker_notebook_instances",
                   "task_definition": "ecs_task_definitions", "launch_template": "launch_templates",
                   "build_project": "codebuild_projects"}

# IAM self-service on another identity of the same account: the actions, the kind of identity, and
# the edge's method. Creating a user's access key or console password gives its credentials;
# rewriting a role's trust lets the writer assume it.
SELF_SERVICE = ((("iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile"), "user", "credentials"),
                (("iam:UpdateAssumeRolePolicy",), "role", "trust_update"))
# A grant on more identities than this is left to the escalation set it makes, which says already that
# the identity can escalate: an edge to each would cost an evaluation of each.
SELF_SERVICE_TARGETS = 50

# Giving an instance a role's instance profile: with no profile yet, or replacing the one it has.
PROFILE_SWAPS = (("ec2:AssociateIamInstanceProfile", False), ("ec2:ReplaceIamInstanceProfileAssociation", True))

# The service a role is passed to when a take-over's actions include iam:PassRole.
_TAKE_OVER_PASSED_TO = {"task_definition": "ecs-tasks.amazonaws.com", "launch_template": "ec2.amazonaws.com"}


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


@lru_cache(maxsize=1024)  # one copy per policy in another partition, however many attach it
def aws_managed_document(arn: str | None) -> dict | None:
    """The default document of the AWS managed policy with this ARN, when it is known offline."""
    partition = arns.aws_managed_policy_partition(arn)
    if partition is None:
        return None
    document = _aws_managed_documents().get(arn.rsplit("/", 1)[-1])
    return arns.in_partition(document, partition) if document is not None else None


def describe_grant(grant: Grant) -> str:
    """The statement that allows something, as evidence: policy, statement id, what and where."""
    text = f"{grant.policy}"
    if grant.sid:
        text += f" statement {grant.sid}"
    text += f": allow {grant.action_pattern} on {grant.resource_pattern}"
    if grant.conditional:
        undecided = ", ".join(grant.undecided)
        text += f" (with a condition; not decided: {undecided})" if undecided else " (with a condition)"
    return text


def resource_arn(node: Node) -> str:
    """The ARN IAM matches a node's resource patterns against (instances are known by id)."""
    if node.get("arn"):
        return node.get("arn")
    if node.id.startswith("arn:"):
        return node.id
    if node.kind == "compute":
        region = node.get("region")
        return f"arn:{arns.partition_of_region(region)}:ec2:{region or '*'}:{node.get('account') or '*'}:instance/{node.id}"
    return node.id


def proof(action: str, resource: str, grant: Grant) -> Proof:
    """One permission of a hop, as evidence."""
    return Proof(action, resource, describe_grant(grant),
                 "a condition that could not be evaluated" if grant.conditional else "")


def _confidence(grants: Iterable[Grant]) -> str:
    return UNKNOWN if any(g.conditional for g in grants) else CONFIRMED


def _account_of_arn(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 else ""


# Gaps that leave an account's roles unknown: the whole account, its IAM part, its role list.
_ROLES_UNREAD = ("account", "iam", "iam.roles")


def _service_linked(node: Node) -> bool:
    """A service-linked role (path /aws-service-role/): AWS creates and manages it, and service
    control policies do not bound it."""
    return ":role/aws-service-role/" in (node.get("arn") or node.id)


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


def _trusted_services(document) -> set[str]:
    """The service principals (lower-cased) a trust policy lets assume the role."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError:
            return set()
    if not isinstance(document, dict):
        return set()
    statements = document.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    services: set[str] = set()
    for statement in statements:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        values = principal.get("Service", []) if isinstance(principal, dict) else []
        for value in values if isinstance(values, list) else [values]:
            if isinstance(value, str):
                services.add(value.lower())
    return services


def _document_key(document) -> object:
    """What tells a policy document apart from others: its text. (A managed policy's document is one
    object however many identities attach it, but inline documents alike are distinct objects.)"""
    if isinstance(document, str):
        return document
    try:
        return json.dumps(document, sort_keys=True)
    except (TypeError, ValueError):
        return id(document)


def _unconditional(document) -> bool:
    """Whether no statement of a policy document has a condition (its meaning is the same for
    every session); False for a document in any other shape."""
    if not isinstance(document, dict):
        return False
    statements = document.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    return isinstance(statements, list) and all(isinstance(s, dict) and "Condition" not in s for s in statements)


def _trust_names_accounts_only(document) -> bool:
    """Whether every AWS principal of the trust policy is an account id, an account's root ARN or
    `*`: then whether it admits an identity depends only on the identity's account."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError:
            return False
    if not isinstance(document, dict):
        return False
    statements = document.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        return False
    for statement in statements:
        if not isinstance(statement, dict) or "NotPrincipal" in statement:
            return False
        principal = statement.get("Principal")
        if principal is None or principal == "*":
            continue
        if not isinstance(principal, dict):
            return False
        values = principal.get("AWS", [])
        for value in values if isinstance(values, list) else [values]:
            if not isinstance(value, str) or not (value == "*" or _ACCOUNT_ONLY.match(value)):
                return False
    return True


_ACCOUNT_ONLY = re.compile(r"^(\d{12}|arn:aws[a-z-]*:iam::\d{12}:root)$")


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
        self._service_roles: dict[str, list[Node]] | None = None
        self._now = dt.datetime.now(dt.timezone.utc)
        self._takeable: dict[tuple[str, str], RunAsIndex[Node]] | None = None
        self._trust_answers: dict[tuple[str, str, str], object] = {}
        self._policies: dict[tuple, tuple[IdentityPolicy, list]] = {}
        self._assume_answers: dict[tuple, dict[str, object]] = {}
        self._account_scps: dict[str, list[list[tuple[str, dict]]]] = {}
        self._taken_over: dict[IdentityPolicy, list[tuple[str, str, tuple[Proof, ...], str]]] = {}
        self._runs_as: dict[str, list[tuple[str, str]]] = {}
        self._passed_by: dict[IdentityPolicy, list[tuple[str, str, tuple[Proof, ...], str]]] = {}

    def evaluate(self, identity: Node) -> IdentityPower:
        """The power of one IAM identity: see IdentityPower."""
        policy, unknown = self._policy_of(identity)
        admin = policy.admin()
        power = policy.power()
        escalations = () if admin else tuple(
            Escalation(e.name, e.permissions, tuple(describe_grant(g) for g in e.grants), _confidence(e.grants))
            for e in policy.escalations())
        # An administrator holds every power already: what it could pass or take over adds nothing, and
        # following it from every administrator would cost an evaluation of most of the estate.
        assumes = self._assumptions(identity, policy) + ([] if admin else (
            self._passed_roles(identity, policy) + self._profile_swaps(identity, policy)
            + self._self_service(identity, policy)))
        takes_over = [] if admin else self._take_overs(identity, policy, unknown)  # may add to `unknown`
        return IdentityPower(power=power, admin=describe_grant(admin) if admin else None, escalations=escalations,
                             assumes=tuple(assumes),
                             production=tuple(self._production_access(identity, policy, power)),
                             unknown=tuple(unknown), takes_over=tuple(takes_over),
                             admin_confidence=_confidence([admin]) if admin else CONFIRMED)

    # -- policies --

    def _policy_of(self, node: Node) -> tuple[IdentityPolicy, list[str]]:
        """The evaluator of the identity's readable documents, and what about its policies is unknown."""
        unknown: list[str] = []
        if "policies" in (node.get("unknown") or {}):
            # A plan's policy (or group) rendered only at apply: the identity is evaluated without it,
            # so what it holds is not all known. Worded as coverage words it for the node it runs on.
            unknown.append(f"policies of {node.name} known only after apply")
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
        context = session_context(node.get("arn") or node.id, node.get("account") or "",
                                  "User" if node.get("identity_type") == "user" else "AssumedRole", self._now,
                                  principal_tags=node.get("tags") or None)
        # Identities with the same documents have the same policy, and share one evaluator (with the
        # answers it caches), unless a condition may tell them apart by their session. The service
        # control policies bounding the account are part of what they must share.
        scps = self._service_control_policies(node)
        documents = docs + ([boundary] if boundary is not None else [])
        scp_documents = [doc for level in scps for _, doc in level]
        key = (tuple((name, _document_key(doc)) for name, doc in docs),
               (boundary[0], _document_key(boundary[1])) if boundary else None,
               node.get("account") if scps else None,
               None if all(_unconditional(doc) for doc in [d for _, d in documents] + scp_documents) else node.id)
        shared = self._policies.get(key)
        if shared is not None:
            return shared[0], unknown
        try:
            policy = IdentityPolicy(docs, boundary, context=context, service_control_policies=scps)
            self._policies[key] = (policy, documents)  # kept alive with the documents, so that an id stays theirs
            return policy, unknown
        except PolicyDocumentError:
            pass
        # Which document is unreadable is asked only now: reading each apart costs a second parse.
        # The identity is evaluated without it, which can only report more (a lost deny or
        # boundary widens it), never hide what the readable documents grant.
        readable = [(name, doc) for name, doc in docs if self._readable(node, name, doc, unknown)]
        if boundary is not None and not self._readable(node, boundary[0], boundary[1], unknown):
            boundary = None
        # An unreadable SCP is left out of its level; a level left with nothing readable bounds
        # nothing: the identity is judged as if it did not apply, the widest it can be.
        scps = [[(name, doc) for name, doc in level if self._readable(node, name, doc, unknown)] for level in scps]
        scps = [level for level in scps if level]
        return IdentityPolicy(readable, boundary, context=context, service_control_policies=scps), unknown

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
        # An identity allowed sts:AssumeRole on no role at all is allowed it on none of these.
        may_assume = policy.assumable("*") is not None
        candidates = trusted.get(source_arn.lower(), set()) | trusted.get("*", set())
        if may_assume:
            candidates |= trusted.get(source_account, set())
        else:
            # Then only a trust naming the identity itself (its ARN or a session of it) admits it.
            candidates |= self._session_trusts
        hops = []
        # Identities whose policies say the same of sts:AssumeRole (hosted pipelines' roles made from
        # one template) get the same answer for each role: asked once.
        key = policy.answers_key("sts:AssumeRole") if may_assume else None
        answers = self._assume_answers.setdefault(key, {}) if key is not None else {}
        for target_id in sorted(candidates - {source.id}):
            target = self._by_id[target_id]
            try:
                trust = self._trust_admits(target, source_arn, source_account)
            except PolicyDocumentError as exc:
                self._unreadable_trust_policy(target, exc)
                continue
            if trust is None:
                continue
            target_arn = target.get("arn") or target.id
            # Tags are read with the role; an empty set may be one that was not read.
            grant = None
            if may_assume:
                if target.id not in answers:
                    answers[target.id] = policy.assumable(target_arn, target.get("tags") or None)
                grant = answers[target.id]
            same_account = source_account == (target.get("account") or _account_of_arn(target_arn))
            if grant is None and not (same_account and trust.names_principal
                                      and not policy.denies("sts:AssumeRole", target_arn, target.get("tags") or None)):
                continue
            how = describe_grant(grant) if grant else "the trust policy names it (same account)"
            hops.append(Hop(source.id, target.id, f"sts:AssumeRole: {how}; trust policy admits {trust.principal}"))
        return hops

    def _trust_admits(self, target: Node, source_arn: str, source_account: str):
        """trust_admits of the target's trust policy, read once per principal it can tell apart:
        a trust naming only accounts (and `*`) answers every identity of one account alike."""
        by_account = target.id not in self._trust_names_identities
        key = (target.id, source_account, "" if by_account else source_arn.lower())
        if key not in self._trust_answers:
            try:
                self._trust_answers[key] = trust_admits(target.get("trust_policy"), source_arn, source_account)
            except PolicyDocumentError as exc:
                self._trust_answers[key] = exc
        answer = self._trust_answers[key]
        if isinstance(answer, PolicyDocumentError):
            raise answer
        return answer

    @cached_property
    def _session_trusts(self) -> set[str]:
        """The roles whose trust policy names an assumed-role session."""
        return {role for name, roles in self._trusted.items() if ":assumed-role/" in name for role in roles}

    @cached_property
    def _trust_names_identities(self) -> set[str]:
        """The roles whose trust policy may name one identity apart from the others of its account
        (an ARN, an assumed-role session, NotPrincipal, or a document this cannot read)."""
        return {node.id for node in self._by_id.values() if node.get("trust_policy")
                and not _trust_names_accounts_only(node.get("trust_policy"))}

    def _service_control_policies(self, node: Node) -> list[list[tuple[str, dict]]]:
        """The service control policies that bound the identity's account, level by level from the
        root down (guardrail_policies of its account node). Service-linked roles are never bound by
        SCPs, nor is anything of the management account (its account carries no level)."""
        account = node.get("account")
        if not account or not self._graph.has(account) or _service_linked(node):
            return []
        if account not in self._account_scps:  # the same levels for every identity of the account
            levels = []
            for level in self._graph.node(account).get("guardrail_policies") or []:
                where = f"{level.get('level')} {level.get('target')}"
                # AWS keeps at least one SCP on every level while they are enabled: a level read with
                # none was not read whole, and bounds nothing rather than cutting every power.
                if level.get("policies"):
                    levels.append([(f"service control policy {scp.get('name')} ({where})", scp.get("document") or {})
                                   for scp in level["policies"]])
            self._account_scps[account] = levels
        return self._account_scps[account]

    # -- passing a role to a service --

    def _roles_trusting(self, service: str) -> list[Node]:
        if self._service_roles is None:
            self._service_roles = {}
            for node in sorted(self._by_id.values(), key=lambda n: n.id):
                if node.get("identity_type") == "role" and node.get("trust_policy"):
                    for name in _trusted_services(node.get("trust_policy")):
                        self._service_roles.setdefault(name, []).append(node)
        return self._service_roles.get(service, [])

    def _passed_roles(self, source: Node, policy: IdentityPolicy) -> list[Hop]:
        """The roles `source` can pass to a service it can launch, one hop per role (the first
        service that takes it). Only existing roles that trust the service are candidates."""
        # Whom a policy can pass is the same for every identity that holds it (each skips itself).
        found = self._passed_by.get(policy)
        if found is None:
            found = self._passed_by[policy] = self._passable(policy)
        return [Hop(source.id, role_id, via, "pass_to_service", proofs, confidence)
                for role_id, via, proofs, confidence in found if role_id != source.id]

    def _passable(self, policy: IdentityPolicy) -> list[tuple[str, str, tuple[Proof, ...], str]]:
        hops: dict[str, tuple[str, str, tuple[Proof, ...], str]] = {}
        by_name = {e.name: e for e in policy.escalations()}
        for name, service, _ in PASS_ROLE_SETS:
            escalation = by_name.get(f"iam:PassRole+{name}")
            if escalation is None:
                continue
            launch = [(a, g) for a, g in zip(escalation.permissions, escalation.grants) if a != "iam:PassRole"]
            for role in self._roles_trusting(service):
                if role.id in hops:
                    continue
                arn = role.get("arn") or role.id
                grant = policy.passes(arn, service, role.get("tags") or None)
                if grant is None:
                    continue
                proofs = (proof("iam:PassRole", arn, grant),
                          *(proof(action, "*", g) for action, g in launch))
                launched = " + ".join(action for action, _ in launch)
                hops[role.id] = (role.id, f"iam:PassRole of {role.name} to {service} with {launched}: "
                                          f"{describe_grant(grant)}", proofs, _confidence([grant, *(g for _, g in launch)]))
        return list(hops.values())

    # -- giving an instance it controls another role --

    @cached_property
    def _instances_by_account(self) -> dict[str, list[Node]]:
        found: dict[str, list[Node]] = {}
        for node in self._graph.nodes("compute"):
            if node.get("provider") == PROVIDER and node.get("compute_type") == "instance" \
                    and node.get("state") in (None, "running", "pending"):
                found.setdefault(node.get("account") or "", []).append(node)
        for nodes in found.values():
            nodes.sort(key=lambda n: n.id)
        return found

    def _profile_swaps(self, source: Node, policy: IdentityPolicy) -> list[Hop]:
        """The roles `source` can put on an instance it can take over: ec2:AssociateIamInstanceProfile
        (an instance without a role) or ec2:ReplaceIamInstanceProfileAssociation (one with a role),
        with iam:PassRole of the role to EC2, then commands on the instance run as that role. One hop
        per role, through the first instance by id that allows the whole set."""
        swaps = [(action, has_role) for action, has_role in PROFILE_SWAPS if policy.allows(action, "*")]
        if not swaps or not policy.allows("iam:PassRole", "*"):
            return []
        ways = [(actions, agent) for actions, agent in TAKE_OVERS[("compute", "instance")]
                if all(policy.allows(a, "*") for a in actions)]
        if not ways:
            return []
        found = None
        for instance in self._instances_by_account.get(source.get("account") or "", ()):
            has_role = next(self._graph.out(instance.id, "runs_as"), None) is not None
            if instance.id == source.id:
                continue
            arn = resource_arn(instance)
            swap = next(((a, g) for a, with_role in swaps if with_role == has_role
                         for g in (policy.allows(a, arn, instance.get("tags") or None),) if g), None)
            take_over = self._take_over(source, policy, instance, ways) if swap else None
            if take_over is not None:
                found = (instance, arn, swap, take_over)
                if take_over.confidence == CONFIRMED:
                    break
        if found is None:
            return []
        instance, arn, (swap_action, swap_grant), take_over = found
        hops = []
        for role in self._roles_trusting("ec2.amazonaws.com"):
            if role.id == source.id:
                continue
            role_arn = role.get("arn") or role.id
            grant = policy.passes(role_arn, "ec2.amazonaws.com", role.get("tags") or None)
            if grant is None:
                continue
            proofs = (proof(swap_action, arn, swap_grant), proof("iam:PassRole", role_arn, grant), *take_over.proofs)
            confidence = UNKNOWN if UNKNOWN in (take_over.confidence, _confidence([swap_grant, grant])) else CONFIRMED
            hops.append(Hop(source.id, role.id,
                            f"{swap_action} of {role.name} onto {instance.name} with iam:PassRole, then "
                            f"{' + '.join(p.action for p in take_over.proofs)} on it: {describe_grant(swap_grant)}",
                            "pass_to_service", proofs, confidence))
        return hops

    # -- IAM self-service on another identity --

    @cached_property
    def _by_account_and_type(self) -> dict[tuple[str, str], list[Node]]:
        found: dict[tuple[str, str], list[Node]] = {}
        for node in sorted(self._by_id.values(), key=lambda n: n.id):
            found.setdefault((node.get("account") or "", node.get("identity_type") or ""), []).append(node)
        return found

    def _self_service(self, source: Node, policy: IdentityPolicy) -> list[Hop]:
        """Identities of its account whose credentials `source` can create (users: access keys,
        console passwords) or whose trust it can rewrite to admit itself (roles). A grant on more
        than SELF_SERVICE_TARGETS of them is left to the escalation set it makes."""
        hops: list[Hop] = []
        account = source.get("account") or ""
        for actions, identity_type, method in SELF_SERVICE:
            allowed = [a for a in actions if policy.allows(a, f"arn:*:iam::*:{identity_type}/*")]
            if not allowed:
                continue
            matched = []
            for target in self._by_account_and_type.get((account, identity_type), ()):
                arn = target.get("arn") or target.id
                if target.id == source.id:
                    continue
                tags = target.get("tags") or None
                hit = next(((a, g) for a in allowed for g in (policy.allows(a, arn, tags),) if g), None)
                if hit and not (method == "trust_update" and policy.denies("sts:AssumeRole", arn, tags)):
                    matched.append((target, arn, *hit))
                    if len(matched) > SELF_SERVICE_TARGETS:
                        break
            if len(matched) > SELF_SERVICE_TARGETS:
                continue
            for target, arn, action, grant in matched:
                hops.append(Hop(source.id, target.id, f"{action} on {target.name}: {describe_grant(grant)}", method,
                                (proof(action, arn, grant),), _confidence([grant])))
        return hops

    # -- taking over resources that run as a role --

    def _takeable_resources(self) -> dict[tuple[str, str], RunAsIndex[Node]]:
        """(kind, type) -> the resources of this provider that run as an identity, indexed by the
        identities they run as (identity_index.py)."""
        if self._takeable is None:
            found: dict[tuple[str, str], list[tuple[str, Node, tuple[str, ...]]]] = {}
            for kind, type_field in (("compute", "compute_type"), ("workload", "workload_type")):
                for node in self._graph.nodes(kind):
                    if node.get("provider") != PROVIDER:
                        continue
                    key = (kind, node.get(type_field) or "")
                    if key not in TAKE_OVERS:
                        continue
                    roles = [(i.id, i.get("arn") or i.id) for i, _ in self._graph.out(node.id, "runs_as")]
                    if roles:
                        self._runs_as[node.id] = roles
                        found.setdefault(key, []).append((node.id, node, tuple(r for r, _ in roles)))
            self._takeable = {key: RunAsIndex(resources) for key, resources in found.items()}
        return self._takeable

    def _take_overs(self, source: Node, policy: IdentityPolicy, unknown: list[str]) -> list[Hop]:
        """The resources running as an identity that `source` can take over: for each identity
        they run as, the first such resource by id (enough for the shortest chain)."""
        self._unread_take_overs(source, policy, unknown)
        ways = {key: [(actions, agent) for actions, agent in key_ways if all(policy.allows(a, "*") for a in actions)]
                for key, key_ways in TAKE_OVERS.items()}
        if not any(ways.values()):
            return []
        takeable = self._takeable_resources()
        # What a policy takes over is the same for every identity that holds it, unless the identity
        # is one that a resource runs as (it skips itself): identities sharing a policy share the answer.
        shared = source.id not in self._run_as_identities
        found = self._taken_over.get(policy) if shared else None
        if found is None:
            found = []
            for key, index in sorted(takeable.items()):
                if ways[key]:
                    found += index.first_per_role(source.id, lambda _, resource, __, key=key: self._take_over_found(
                        source, policy, resource, ways[key]))
            if shared:
                self._taken_over[policy] = found
        return [Hop(source.id, resource_id, via, "take_over", proofs, confidence)
                for resource_id, via, proofs, confidence in found]

    def _take_over_found(self, source: Node, policy: IdentityPolicy, resource: Node,
                         ways: list[tuple[tuple[str, ...], bool]]) -> tuple[str, str, tuple[Proof, ...], str] | None:
        hop = self._take_over(source, policy, resource, ways)
        return None if hop is None else (hop.target, hop.via, hop.proofs, hop.confidence)

    def _roles_of(self, resource_id: str) -> list[tuple[str, str]]:
        """The (id, ARN) of the identities a resource runs as."""
        found = self._runs_as.get(resource_id)
        if found is None:
            found = [(i.id, i.get("arn") or i.id) for i, _ in self._graph.out(resource_id, "runs_as")]
        return found

    def _tags_of(self, identity_id: str) -> dict | None:
        """An identity's collected tags (None: none, which may be tags that were not read)."""
        node = self._by_id.get(identity_id)
        return (node.get("tags") or None) if node is not None else None

    @cached_property
    def _run_as_identities(self) -> set[str]:
        self._takeable_resources()
        return {identity for roles in self._runs_as.values() for identity, _ in roles}

    @cached_property
    def _unread_lists(self) -> dict[str, list[dict]]:
        """Snapshot list name -> the gaps saying it could not be read."""
        wanted = set(_WORKLOAD_LISTS.values())
        found: dict[str, list[dict]] = {}
        for gap in self._graph.gaps:
            if gap.get("provider") == PROVIDER and gap.get("what") in wanted:
                found.setdefault(gap["what"], []).append(gap)
        return found

    def _unread_take_overs(self, source: Node, policy: IdentityPolicy, unknown: list[str]) -> None:
        """What the identity may take over among resources that could not be listed."""
        if not self._unread_lists:
            return
        account = source.get("account")
        for (kind, kind_type), ways in sorted(TAKE_OVERS.items()):
            gaps = [g for g in self._unread_lists.get(_WORKLOAD_LISTS.get(kind_type, ""), [])
                    if not g.get("scope") or g.get("scope") == account]
            if kind != "workload" or not gaps:
                continue
            allowed = [" + ".join(actions) for actions, _ in ways if all(policy.allows(a, "*") for a in actions)]
            if allowed:
                where = ", ".join(sorted({g.get("region") or "global" for g in gaps}))
                text = (f"{gaps[0]['what']} not collected in {where}: whether {allowed[0]} takes over one that runs "
                        f"as a more powerful role is unknown")
                if text not in unknown:
                    unknown.append(text)

    def _take_over(self, source: Node, policy: IdentityPolicy, resource: Node,
                   ways: list[tuple[tuple[str, ...], bool]]) -> Hop | None:
        arn = resource_arn(resource)
        roles = [(role_arn, self._tags_of(role_id)) for role_id, role_arn in self._roles_of(resource.id)]
        role_arns = [role_arn for role_arn, _ in roles]
        tags = resource.get("tags") or None
        passed_to = _TAKE_OVER_PASSED_TO.get(resource.get("workload_type") or "")
        for actions, agent in ways:
            if agent and resource.get("command_agent") is False:
                continue
            grants = []
            for action in actions:
                if action == "iam:PassRole":
                    grant = next((g for g in (policy.passes(r, passed_to, t) for r, t in roles) if g), None)
                    where = role_arns[0] if role_arns else "*"
                else:
                    grant, where = policy.allows(action, arn, tags), arn
                if grant is None:
                    break
                grants.append((action, where, grant))
            else:
                proofs = tuple(proof(a, w, g) for a, w, g in grants)
                confidence = _confidence(g for _, _, g in grants)
                via = f"{' + '.join(actions)} on {resource.name}: {describe_grant(grants[0][2])}"
                if agent and resource.get("command_agent") is None:
                    confidence = UNKNOWN
                    via += " (whether the Systems Manager agent manages it was not collected)"
                return Hop(source.id, resource.id, via, "take_over", proofs, confidence)
        return None

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
        """Accounts scanned, including those whose roles could not be collected (told apart above)."""
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

    @cached_property
    def _uncollected_accounts(self) -> dict[str, str]:
        """Accounts whose roles could not be collected (the account, its IAM part or its role list
        is a gap), with why: whether any of their roles trusts an identity is unknown."""
        found: dict[str, str] = {}
        for gap in self._graph.gaps:
            if gap.get("provider") == PROVIDER and gap.get("scope") and gap.get("what") in _ROLES_UNREAD:
                found.setdefault(gap["scope"], " ".join(str(gap.get("error") or "").split())[:200])
        return found

    @cached_property
    def _production_undecided(self) -> dict[str, list[str]]:
        """Accounts whether they are production could not be decided, with what was not read: the
        account's alias (read inside the account) or its tags (read from AWS Organizations)."""
        found: dict[str, list[str]] = {}
        for gap in self._graph.gaps:
            what, account = gap.get("what"), gap.get("scope")
            if gap.get("provider") != PROVIDER or not account or account in self._production:
                continue
            if what in ("account", "iam", "account_aliases"):
                reason = "its alias was not collected"
            elif what == "organizations.account_tags":
                reason = "its tags in AWS Organizations could not be read"
            else:
                continue
            if reason not in found.setdefault(account, []):
                found[account].append(reason)
        return found

    def _uncollected_production(self, node: Node, policy: IdentityPolicy) -> list[ProductionAccess]:
        """Roles the identity may assume in other accounts whose roles could not be collected,
        where the account is production or may be: possible production access, never silence."""
        own = node.get("account")
        partition = arns.partition_of(node.get("arn") or node.id)
        found = []
        for account, error in sorted(self._uncollected_accounts.items()):
            if account == own:
                continue
            if account in self._production:
                what = f"production account {account} ({self._production[account]})"
            elif account in self._production_undecided:
                what = (f"account {account}, which may be production (unknown: "
                        f"{' and '.join(self._production_undecided[account])})")
            else:
                continue
            grant = policy.allows("sts:AssumeRole", f"arn:{partition}:iam::{account}:role/*")
            if grant:
                found.append(ProductionAccess(
                    account, f"sts:AssumeRole on roles of {what} ({describe_grant(grant)}); the account's roles could "
                             f"not be collected ({error}), so whether one trusts it is unknown", confidence=UNKNOWN))
        return found

    def _production_access(self, node: Node, policy: IdentityPolicy, power: str) -> list[ProductionAccess]:
        """What of production the identity's own policies let it change (assumed roles aside)."""
        production = self._production
        found = self._uncollected_production(node, policy) if self._uncollected_accounts else []
        # Roles in production accounts that were not scanned: the trust policy is not known.
        for account in sorted(self._config.production_accounts):
            if account in self._scanned_accounts:
                continue
            grant = policy.allows("sts:AssumeRole", f"arn:{arns.partition_of(node.get('arn') or node.id)}:iam::"
                                                    f"{account}:role/*")
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
