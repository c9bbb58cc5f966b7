"""What an AWS IAM identity may do, from its policy documents. Pure: no I/O, no graph.

    policy = IdentityPolicy([(name, document), ...], boundary=(name, document) or None)
    policy.allows("iam:PassRole", "arn:aws:iam::123456789012:role/deploy") -> Grant | None
    policy.admin() -> Grant | None
    policy.escalations() -> list[Escalation]
    policy.assumable(role_arn) -> Grant | None
    policy.denies(action, resource) -> bool
    policy.write_grants(resource_arn) -> list[Grant]
    policy.power() -> "admin" | "escalate" | "write" | "read" | "none"
    trust_admits(trust_policy, principal_arn, principal_account) -> TrustGrant | None
    check_document(name, document)  # raises PolicyDocumentError when IAM would not accept it

Documents are the dicts AWS returns (a JSON string is accepted too): the inline policies and the
default version of each attached managed policy, each named for evidence. A malformed document
raises `PolicyDocumentError` (a ValueError) with a one-line message.

Semantics, as IAM evaluates a request inside one account (resource policies are not seen here;
service control policies are, when given, level by level: see IdentityPolicy):
- A request is allowed when an identity statement allows it, the permissions boundary (when there is
  one) allows it too, and no explicit deny in either covers it. `Action`/`NotAction`,
  `Resource`/`NotResource`, strings or lists; `*` and `?` wildcards; actions compare
  case-insensitively, resources case-sensitively, and in an ARN a wildcard before the resource part
  stays inside its colon-separated segment; `${...}` policy variables (version 2012-10-17)
  may stand for anything in an allow and for nothing in a deny.
- Conditions are not evaluated, and the doubt always falls towards reporting: an allow with a
  Condition still allows (its Grant says `conditional=True`; so does a grant that passes the boundary
  only through a conditional statement), and a deny with a Condition never cancels anything.
- `resource` in a question may itself be a pattern: `allows(action, "*")` asks "allowed on at least
  one resource". A deny cancels an allow only when it covers all the resources in question.
- `admin()`: every action (`*`) allowed on every resource, or every `iam:*` action allowed on every
  resource (enough to grant itself everything), by the identity policies and the boundary, with no
  unconditional deny touching that family of actions. `AdministratorAccess` is admin; a deny on any
  `iam:` action (on any resource) leaves only the `*` branch, which any deny at all cuts back.
- `escalations()`: the known privilege-escalation sets (CHECKS.md, `ci-privilege-escalation`) whose
  every permission is allowed on some resource of the right kind (`iam:PutRolePolicy` on
  `arn:aws:iam::*:role/ci-*` counts). The one condition read is `iam:PassedToService` under
  StringEquals/StringLike: a PassRole grant limited to Lambda does not make `ec2:RunInstances` an
  escalation. They are returned whether or not the identity is admin;
  `power()` ranks admin first.
- `write_grants(resource)`: the statements that let some write action (see iam_actions) through on
  that resource, after boundary and denies. Wildcard grants are tested with probe actions built
  from the policies' own action patterns and common verbs, so `s3:*` writes and `s3:Get*` does not.
  On an ARN only that service's actions count (and `sts:` on `iam` ARNs): `ec2:*` does not write
  to a bucket.
- `power()`: "admin", else "escalate" when an escalation set is allowed, else "write" when any write
  action is allowed on any resource, else "read" when anything is allowed, else "none".
- `denies()`: what stops the identity even where a same-account resource policy (a trust policy
  naming it) needs no allow from its own policies: an unconditional explicit deny, or the boundary.
- `trust_admits()`: whether a role's trust policy lets a principal call `sts:AssumeRole`, by
  `Principal.AWS` naming `*`, the principal's account (id or `:root` ARN) or the principal's ARN,
  or `NotPrincipal` not naming it; an unconditional Deny naming it wins. Service and federated
  principals never admit an IAM role or user.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from urllib.parse import unquote

from .iam_actions import READ_VERBS, WRITE_VERBS, is_read_only, pattern_is_read_only
from .iam_conditions import (PRINCIPAL_TAG_PREFIXES, RESOURCE_TAG_PREFIXES, Context, absent_tag_keys, evaluate,
                             tag_context, undecided_keys)
from .iam_patterns import (
    ONE,
    SEGMENT_ONE,
    SEGMENT_STAR,
    STAR,
    Pattern,
    any_regex,
    compile_pattern,
    concrete,
    contains,
    intersects,
    is_literal,
    matches,
    render_witness,
    witness,
)

__all__ = [
    "ESCALATION_SETS",
    "Escalation",
    "Grant",
    "IdentityPolicy",
    "PolicyDocumentError",
    "TrustGrant",
    "check_document",
    "trust_admits",
]


class PolicyDocumentError(ValueError):
    """A policy document that IAM would not accept."""


@dataclass(frozen=True)
class Grant:
    """The statement that allows something. For NotAction/NotResource statements the pattern reads
    `NotAction: a, b` / `NotResource: x`."""

    policy: str
    sid: str | None
    action_pattern: str
    resource_pattern: str
    conditional: bool
    # The condition keys of the allowing statement whose value was not known, in the order named.
    undecided: tuple[str, ...] = ()


@dataclass(frozen=True)
class Escalation:
    """A privilege-escalation set that is fully allowed: the concrete permissions and their grants,
    in the same order."""

    name: str
    permissions: tuple[str, ...]
    grants: tuple[Grant, ...]


@dataclass(frozen=True)
class TrustGrant:
    """The trust-policy statement that admits a principal. `names_principal` is True when the
    statement names the principal's own ARN rather than its account or `*`: only then, and only in
    the same account, does AWS not also require an allow in the principal's own policies."""

    sid: str | None
    principal: str
    action_pattern: str
    conditional: bool
    names_principal: bool


# --- the escalation catalogue ------------------------------------------------------------------

_ROLE = "arn:*:iam::*:role/*"
_USER = "arn:*:iam::*:user/*"
_GROUP = "arn:*:iam::*:group/*"
_POLICY = "arn:*:iam::*:policy/*"


def _in(service: str) -> str:
    return f"arn:*:{service}:*"


# Customer-managed policies only: an AWS-managed policy (`arn:aws:iam::aws:policy/...`) cannot be
# changed by any customer, so a grant on one is no power. An account id is twelve characters.
_CUSTOMER_POLICY = "arn:*:iam::????????????:policy/*"

# Services that run a role passed to them, and what else launching them takes: the service
# principal the role must trust (and that `iam:PassedToService` names), and the requirements, each
# satisfied by any one of its alternatives.
PASS_ROLE_SETS: tuple[tuple[str, str, tuple[tuple[str, ...], ...]], ...] = (
    ("ec2:RunInstances", "ec2.amazonaws.com", (("ec2:RunInstances",),)),
    ("lambda:CreateFunction+lambda:InvokeFunction/CreateEventSourceMapping", "lambda.amazonaws.com",
     (("lambda:CreateFunction",), ("lambda:InvokeFunction", "lambda:CreateEventSourceMapping"))),
    ("cloudformation:CreateStack", "cloudformation.amazonaws.com", (("cloudformation:CreateStack",),)),
    ("glue:CreateDevEndpoint", "glue.amazonaws.com", (("glue:CreateDevEndpoint",),)),
    ("codebuild:CreateProject/StartBuild", "codebuild.amazonaws.com",
     (("codebuild:CreateProject", "codebuild:StartBuild"),)),
    ("ecs:RunTask/RegisterTaskDefinition", "ecs-tasks.amazonaws.com",
     (("ecs:RunTask", "ecs:RegisterTaskDefinition"),)),
    ("sagemaker:CreateNotebookInstance", "sagemaker.amazonaws.com", (("sagemaker:CreateNotebookInstance",),)),
    ("sagemaker:CreateTrainingJob", "sagemaker.amazonaws.com", (("sagemaker:CreateTrainingJob",),)),
    ("sagemaker:CreateProcessingJob", "sagemaker.amazonaws.com", (("sagemaker:CreateProcessingJob",),)),
    ("datapipeline:CreatePipeline+datapipeline:PutPipelineDefinition", "datapipeline.amazonaws.com",
     (("datapipeline:CreatePipeline",), ("datapipeline:PutPipelineDefinition",))),
    ("autoscaling:CreateLaunchConfiguration+autoscaling:CreateAutoScalingGroup/UpdateAutoScalingGroup",
     "ec2.amazonaws.com",
     (("autoscaling:CreateLaunchConfiguration",),
      ("autoscaling:CreateAutoScalingGroup", "autoscaling:UpdateAutoScalingGroup"))),
    ("ec2:CreateLaunchTemplate/CreateLaunchTemplateVersion+autoscaling:CreateAutoScalingGroup/UpdateAutoScalingGroup",
     "ec2.amazonaws.com",
     (("ec2:CreateLaunchTemplate", "ec2:CreateLaunchTemplateVersion"),
      ("autoscaling:CreateAutoScalingGroup", "autoscaling:UpdateAutoScalingGroup"))),
)


def _service_resource(action: str) -> str:
    return _in(action.partition(":")[0])


# Each set is a name and its requirements; a requirement is satisfied by any one of its
# alternatives, each an action and the kind of resource it must be allowed on.
ESCALATION_SETS: tuple[tuple[str, tuple[tuple[tuple[str, str], ...], ...]], ...] = (
    ("iam:CreatePolicyVersion", ((("iam:CreatePolicyVersion", _CUSTOMER_POLICY),),)),
    ("iam:SetDefaultPolicyVersion", ((("iam:SetDefaultPolicyVersion", _CUSTOMER_POLICY),),)),
    ("iam:AttachUserPolicy", ((("iam:AttachUserPolicy", _USER),),)),
    ("iam:AttachGroupPolicy", ((("iam:AttachGroupPolicy", _GROUP),),)),
    ("iam:AttachRolePolicy", ((("iam:AttachRolePolicy", _ROLE),),)),
    ("iam:PutUserPolicy", ((("iam:PutUserPolicy", _USER),),)),
    ("iam:PutGroupPolicy", ((("iam:PutGroupPolicy", _GROUP),),)),
    ("iam:PutRolePolicy", ((("iam:PutRolePolicy", _ROLE),),)),
    ("iam:CreateAccessKey", ((("iam:CreateAccessKey", _USER),),)),
    ("iam:CreateLoginProfile", ((("iam:CreateLoginProfile", _USER),),)),
    ("iam:UpdateLoginProfile", ((("iam:UpdateLoginProfile", _USER),),)),
    ("iam:AddUserToGroup", ((("iam:AddUserToGroup", _GROUP),),)),
    (
        "iam:UpdateAssumeRolePolicy+sts:AssumeRole",
        ((("iam:UpdateAssumeRolePolicy", _ROLE),), (("sts:AssumeRole", _ROLE),)),
    ),
) + tuple(
    (f"iam:PassRole+{name}",
     ((("iam:PassRole", _ROLE),),
      *(tuple((action, _service_resource(action)) for action in alternatives) for alternatives in requirements)))
    for name, _, requirements in PASS_ROLE_SETS
)

# The service principal a role is passed to by each action of the PassRole sets.
PASSED_TO_SERVICE = {action: service for _, service, requirements in PASS_ROLE_SETS
                     for alternatives in requirements for action in alternatives
                     if not action.startswith("autoscaling:")}
PASSED_TO_SERVICE.update({"autoscaling:CreateLaunchConfiguration": "ec2.amazonaws.com",
                          "ec2:CreateLaunchTemplate": "ec2.amazonaws.com",
                          "ec2:CreateLaunchTemplateVersion": "ec2.amazonaws.com"})

# Services probed when a grant names no service (`*`, NotAction): the ones a CI identity touches.
_COMMON_SERVICES = (
    "autoscaling", "cloudformation", "cloudtrail", "cloudwatch", "codebuild", "codecommit",
    "codedeploy", "codepipeline", "dynamodb", "ec2", "ecr", "ecs", "eks", "elasticloadbalancing",
    "events", "glue", "iam", "kms", "lambda", "logs", "organizations", "rds", "route53", "s3",
    "sagemaker", "secretsmanager", "sns", "sqs", "ssm", "sts",
)

_ALL_ACTIONS = compile_pattern("*:*")
_IAM_ACTIONS = compile_pattern("iam:*")
_ANY = compile_pattern("*")


# --- statements --------------------------------------------------------------------------------


def _as_document(document: dict | str, name: str) -> dict:
    if isinstance(document, str):
        text = unquote(document) if document.lstrip().startswith("%") else document
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise PolicyDocumentError(f"policy {name!r} is not valid JSON: {error.msg}") from None
    if not isinstance(document, dict):
        raise PolicyDocumentError(f"policy {name!r} is not a JSON object")
    return document


def _strings(value, name: str, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise PolicyDocumentError(f"policy {name!r}: {field} must be a string or a list of strings")


def _statements(document: dict, name: str) -> list[dict]:
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not all(isinstance(s, dict) for s in statements):
        raise PolicyDocumentError(f"policy {name!r}: Statement must be an object or a list of objects")
    return statements


@dataclass(frozen=True)
class _Statement:
    policy: str
    sid: str | None
    allow: bool
    actions: tuple[str, ...]
    action_patterns: tuple[Pattern, ...]
    not_action: bool
    resources: tuple[str, ...]
    resource_patterns: tuple[Pattern, ...]
    not_resource: bool
    conditional: bool
    action_regex: re.Pattern[str]
    # Restrictions on iam:PassedToService, all of which must hold: (StringLike?, service principals).
    passed_to: tuple[tuple[bool, tuple[str, ...]], ...] = ()
    # The condition names a fact of the principal (aws:Principal*, aws:userid), the same for all
    # its requests, rather than only what varies from one request to the next.
    principal_condition: bool = False
    # The condition left to decide per request (without iam:PassedToService), for the keys only a
    # question knows, such as the tags of the resource asked about.
    condition: object = None

    def may_pass_to(self, service_principal: str | None) -> bool:
        if service_principal is None:
            return True
        return all(
            any(
                matches(compile_pattern(value, fold_case=True), service_principal)
                if like
                else value.lower() == service_principal
                for value in values
            )
            for like, values in self.passed_to
        )

    @classmethod
    def parse(cls, raw: dict, policy: str, version: str | None) -> _Statement | None:
        effect = raw.get("Effect")
        if effect not in ("Allow", "Deny"):
            return None  # IAM rejects any other effect
        allow = effect == "Allow"
        not_action = "NotAction" in raw
        actions = _strings(raw.get("NotAction" if not_action else "Action"), policy, "Action")
        not_resource = "NotResource" in raw
        resources = _strings(raw.get("NotResource" if not_resource else "Resource"), policy, "Resource")
        if not resources and not not_resource and allow:
            resources = ("*",)  # invalid in an identity policy; read it the way that reports
        # Policy variables exist from version 2012-10-17. Read each so the statement grants more
        # or denies less: a wildcard where it widens the statement, an unmatched token where not.
        widens = allow != not_resource
        variables = None if version != "2012-10-17" else ("star" if widens else "opaque")
        sid = raw.get("Sid")
        action_patterns = tuple(compile_pattern(a, fold_case=True) for a in actions)
        resource_patterns = tuple(compile_pattern(r, variables=variables, arn=True) for r in resources)
        return cls(
            policy=policy,
            sid=sid if isinstance(sid, str) and sid else None,
            allow=allow,
            actions=actions,
            action_patterns=action_patterns,
            not_action=not_action,
            resources=resources,
            resource_patterns=resource_patterns,
            not_resource=not_resource,
            conditional=bool(raw.get("Condition")),
            action_regex=any_regex(action_patterns),
            passed_to=_passed_to_restrictions(raw.get("Condition")),
            principal_condition=_names_principal_key(raw.get("Condition")),
        )

    @cached_property
    def resource_regex(self) -> re.Pattern[str]:
        # Compiled when first asked: most statements are never asked about a resource, because no
        # question's action is theirs, and the resource patterns of an account are mostly distinct.
        return any_regex(self.resource_patterns)

    # The regular expressions are handed over unread, as a callable: only a concrete question
    # reads one, and compiling a statement's resource patterns costs more than most questions.
    def _action_regex(self) -> re.Pattern[str]:
        return self.action_regex

    def _resource_regex(self) -> re.Pattern[str]:
        return self.resource_regex

    # An allow lets through some of the question: which of its patterns does (for evidence).
    def action_hit(self, question: Pattern) -> tuple[str, Pattern | None] | None:
        return _hit(self.actions, self.action_patterns, self.not_action, question, "NotAction", self._action_regex)

    def resource_hit(self, question: Pattern) -> tuple[str, Pattern | None] | None:
        return _hit(
            self.resources, self.resource_patterns, self.not_resource, question, "NotResource", self._resource_regex
        )

    # A deny covers all of the question.
    def covers_actions(self, question: Pattern) -> bool:
        return _covers(self.action_patterns, self.not_action, question, self._action_regex)

    def covers_resources(self, question: Pattern) -> bool:
        return _covers(self.resource_patterns, self.not_resource, question, self._resource_regex)

    # A deny touches some of the question.
    def touches_actions(self, question: Pattern) -> bool:
        return _touches(self.action_patterns, self.not_action, question, self._action_regex)

    def touches_resources(self, question: Pattern) -> bool:
        return _touches(self.resource_patterns, self.not_resource, question, self._resource_regex)


_POSITIVE_STRING_OPERATORS = {"stringequals", "stringlike", "stringequalsignorecase"}


_PRINCIPAL_KEYS = ("aws:principal", "aws:userid", "aws:username")


def _names_principal_key(condition) -> bool:
    if not isinstance(condition, dict):
        return False
    return any(str(key).lower().startswith(_PRINCIPAL_KEYS)
               for block in condition.values() if isinstance(block, dict) for key in block)


def _names_resource_tag(condition) -> bool:
    if not isinstance(condition, dict):
        return False
    return any(str(key).lower().startswith(RESOURCE_TAG_PREFIXES)
               for block in condition.values() if isinstance(block, dict) for key in block)


def _passed_to_restrictions(condition) -> tuple[tuple[str, ...], ...]:
    """The iam:PassedToService values a statement's Condition requires (StringEquals/StringLike).
    IAM always sets that key on iam:PassRole, so such a statement passes roles to those services
    only. Negative and other operators are not read: they could only narrow the grant further."""
    if not isinstance(condition, dict):
        return ()
    restrictions = []
    for operator, block in condition.items():
        base = str(operator).split(":")[-1].lower().removesuffix("ifexists")
        if base not in _POSITIVE_STRING_OPERATORS or not isinstance(block, dict):
            continue
        for key, values in block.items():
            if str(key).lower() != "iam:passedtoservice":
                continue
            values = [values] if isinstance(values, str) else values
            if isinstance(values, list) and all(isinstance(v, str) for v in values):
                restrictions.append((base == "stringlike", tuple(values)))
    return tuple(restrictions)


# A concrete question (the usual case) is answered by one regular expression per statement.


def _hit(texts, patterns, negated, question, label, regex):
    text = concrete(question)
    if text is not None:
        if (regex().fullmatch(text) is not None) is negated:
            return None
        if negated:
            return _describe(texts, True, label), None
        return next((t, p) for t, p in zip(texts, patterns) if matches(p, text))
    if question == _ANYTHING and not negated:
        # Any pattern shares a string with `*`, but one holding a variable that matches nothing:
        # asked for every identity's summary, and no search is needed to see it.
        return next(((t, p) for t, p in zip(texts, patterns) if not _matches_nothing(p)), None)
    if negated:
        if any(contains(pattern, question) for pattern in patterns):
            return None
        return _describe(texts, True, label), None
    for text, pattern in zip(texts, patterns):
        if intersects(pattern, question):
            return text, pattern
    return None


_ANYTHING = (STAR,)


def _matches_nothing(pattern) -> bool:
    return any(len(token) != 1 and token not in (STAR, ONE, SEGMENT_STAR, SEGMENT_ONE) for token in pattern)


def _covers(patterns, negated, question, regex) -> bool:
    text = concrete(question)
    if text is not None:
        return (regex().fullmatch(text) is not None) is not negated
    if negated:
        return not any(intersects(pattern, question) for pattern in patterns)
    return any(contains(pattern, question) for pattern in patterns)


def _touches(patterns, negated, question, regex) -> bool:
    text = concrete(question)
    if text is not None:
        return (regex().fullmatch(text) is not None) is not negated
    if negated:
        return not any(contains(pattern, question) for pattern in patterns)
    return any(intersects(pattern, question) for pattern in patterns)


def _covering_text(texts, patterns, negated, question, label) -> str:
    if not negated:
        for text, pattern in zip(texts, patterns):
            if contains(pattern, question):
                return text
    return _describe(texts, negated, label)


def _describe(texts, negated, label) -> str:
    joined = ", ".join(texts)
    return f"{label}: {joined}" if negated else joined


def _parse_policies(policies: Iterable[tuple[str, dict | str]], context: Context | None = None) -> list[_Statement]:
    """The statements of the documents. With a request `context`, each condition is evaluated:
    a statement whose condition cannot hold is left out, one whose condition holds is
    unconditional, and the rest stay conditional (possible). `iam:PassedToService` is left to the
    question that passes a role (`_Statement.may_pass_to`)."""
    parsed = []
    for name, document in policies:
        document = _as_document(document, name)
        version = document.get("Version")
        for raw in _statements(document, name):
            statement = _Statement.parse(raw, name, version)
            if statement is None:
                continue
            if context is not None and statement.conditional:
                condition = _without_passed_to(raw.get("Condition"))
                holds = evaluate(condition, context, _principal_tags_absent(condition, context))
                if holds is False:
                    continue
                if holds:
                    statement = replace(statement, conditional=False)
                else:
                    statement = replace(statement, condition=condition)
            parsed.append(statement)
    return parsed


def _principal_tags_absent(condition, context: Context) -> frozenset[str]:
    # The principal's tags are known whole when any of them is in the context.
    if not any(key.startswith(PRINCIPAL_TAG_PREFIXES) for key in context):
        return frozenset()
    return absent_tag_keys(condition, context, PRINCIPAL_TAG_PREFIXES)


def _without_passed_to(condition):
    if not isinstance(condition, dict):
        return condition
    kept = {}
    for operator, block in condition.items():
        if isinstance(block, dict):
            block = {k: v for k, v in block.items() if str(k).lower() != "iam:passedtoservice"}
            if not block:
                continue
        kept[operator] = block
    return kept


def check_document(name: str, document: dict | str) -> None:
    """Raise PolicyDocumentError when `document` is not one IAM would accept, as IdentityPolicy
    would; for telling which of an identity's documents is unreadable."""
    _parse_policies([(name, document)])


# --- identity policies -------------------------------------------------------------------------


class IdentityPolicy:
    """The effective permissions of one IAM role or user. See the module docstring."""

    def __init__(
        self,
        policies: Sequence[tuple[str, dict | str]],
        boundary: tuple[str, dict | str] | None = None,
        *,
        context: Context | None = None,
        service_control_policies: Sequence[Sequence[tuple[str, dict | str]]] = (),
    ) -> None:
        """`context`: the request keys known for the identity's session (iam_conditions.py), by
        which conditions are evaluated; without it every condition stays possible.
        `service_control_policies`: the organization's policies that bound the identity's account,
        level by level from the root down, each level the policies attached there. As AWS
        evaluates them, a request is allowed only where every level has a statement allowing it
        (FullAWSAccess allows everything) and no statement of any level denies it; an allow only
        under a condition that cannot be decided leaves the grant possible, and so does a deny whose
        condition rests on a fact of the principal that is not known (a deny on what varies from
        request to request, such as the region, cannot take the power away for every request)."""
        statements = _parse_policies(policies, context)
        boundary_statements = _parse_policies([boundary], context) if boundary is not None else None
        scp_levels = [_parse_policies(level, context) for level in service_control_policies]
        scp_statements = [s for level in scp_levels for s in level]
        self._allows = [s for s in statements if s.allow]
        self._boundary = (
            [s for s in boundary_statements if s.allow] if boundary_statements is not None else None
        )
        # What every grant must also pass: the permissions boundary, and each SCP level's allows.
        self._bounds = ([self._boundary] if self._boundary is not None else []) + [
            [s for s in level if s.allow] for level in scp_levels
        ]
        # Only an unconditional deny is sure to apply.
        self._denies = [
            s for s in statements + (boundary_statements or []) + scp_statements if not s.allow and not s.conditional
        ]
        self._possible_denies = [s for s in scp_statements if not s.allow and s.conditional and s.principal_condition]
        # A deny under a condition on the resource's tags applies to the resources whose collected
        # tags meet it: decided per resource when a question gives them.
        self._tag_denies = [s for s in statements + (boundary_statements or []) + scp_statements
                            if not s.allow and s.conditional and _names_resource_tag(s.condition)]
        self._context: Context = context or {}
        self._answers: dict[tuple, Grant | None] = {}

    # -- the basic question --

    def allows(self, action: str, resource: str = "*", resource_tags: Mapping[str, str] | None = None) -> Grant | None:
        """The grant that allows `action` on `resource` (an ARN or ARN pattern), or None.
        `resource_tags`: the collected tags of that one resource (None: not known), by which an
        `aws:ResourceTag/KEY` condition (or `iam:`/`ec2:`) is decided."""
        key = (action, resource) if resource_tags is None else (action, resource, tuple(sorted(resource_tags.items())))
        if key not in self._answers:
            self._answers[key] = self._allowing(
                compile_pattern(action, fold_case=True), compile_pattern(resource, arn=True),
                resource_tags=resource_tags,
            )
        return self._answers[key]

    def answers_key(self, action: str) -> tuple | None:
        """A key two policies share when they answer every question about `action` alike (the
        same statements bear on it, none under a condition); None when one does. An evaluation
        asking the same question of many identities can then ask one policy per key."""
        pattern = compile_pattern(action, fold_case=True)
        parts = []
        for group in (self._allows, self._denies, self._possible_denies, self._tag_denies, *self._bounds):
            part = tuple(statement for statement in group if statement.touches_actions(pattern))
            if any(statement.conditional for statement in part):
                return None
            parts.append(part)
        return (pattern, tuple(parts))  # one part per bound: a policy with more bounds has more parts

    def _allowing(self, action: Pattern, resource: Pattern, passed_to: str | None = None,
                  resource_tags: Mapping[str, str] | None = None) -> Grant | None:
        fallback = None
        for grant, _, _ in self._passing(action, resource, passed_to, resource_tags):
            if not grant.conditional:
                return grant
            fallback = fallback or grant
        return fallback

    def _surviving(
        self, allows: list[_Statement], action: Pattern, resource: Pattern, passed_to: str | None = None,
        resource_tags: Mapping[str, str] | None = None,
    ) -> Iterator[tuple[Grant, Pattern | None, Pattern | None]]:
        """The grants of `allows` that no deny cancels, unconditional ones first, each with the
        action and resource pattern it matched by (None for NotAction/NotResource). With
        `passed_to`, only statements that may pass a role to that service principal count."""
        later = []
        for statement in allows:
            if not statement.may_pass_to(passed_to):
                continue
            action_hit = statement.action_hit(action)
            if action_hit is None:
                continue
            resource_hit = statement.resource_hit(resource)
            if resource_hit is None:
                continue
            if self._denied(action, action_hit[1], resource, resource_hit[1]):
                continue
            if resource_tags is not None and self._tag_denies and self._denied(
                    action, action_hit[1], resource, resource_hit[1], self._tag_denies_holding(resource_tags)):
                continue
            statement_conditional = statement.conditional
            known = self._context
            if statement_conditional and resource_tags is not None and statement.condition is not None:
                holds = self._holds_on(statement.condition, resource_tags)
                if holds is False:
                    continue
                statement_conditional = holds is None
                known = dict(known) | tag_context(resource_tags, RESOURCE_TAG_PREFIXES)
            conditional = statement_conditional or (
                bool(self._possible_denies)
                and self._denied(action, action_hit[1], resource, resource_hit[1], self._possible_denies)
            )
            found = (
                Grant(
                    policy=statement.policy,
                    sid=statement.sid,
                    action_pattern=action_hit[0],
                    resource_pattern=resource_hit[0],
                    conditional=conditional,
                    undecided=tuple(undecided_keys(statement.condition, known)) if statement_conditional else (),
                ),
                action_hit[1],
                resource_hit[1],
            )
            if conditional:
                later.append(found)
            else:
                yield found
        yield from later

    def _tag_denies_holding(self, resource_tags: Mapping[str, str]) -> list[_Statement]:
        return [deny for deny in self._tag_denies if self._holds_on(deny.condition, resource_tags) is True]

    def _holds_on(self, condition, resource_tags: Mapping[str, str]) -> bool | None:
        # The resource's tags were collected whole: a tag key they lack is absent from the request.
        context = dict(self._context) | tag_context(resource_tags, RESOURCE_TAG_PREFIXES)
        absent = absent_tag_keys(condition, context, RESOURCE_TAG_PREFIXES) | _principal_tags_absent(condition, context)
        return evaluate(condition, context, absent)

    def _denied(self, action, granted_action, resource, granted_resource, denies=None) -> bool:
        # The allowed part is (question ∩ granted pattern); a deny covering either side covers it.
        actions = [action] if granted_action is None else [action, granted_action]
        resources = [resource] if granted_resource is None else [resource, granted_resource]
        return any(
            any(deny.covers_actions(a) for a in actions)
            and any(deny.covers_resources(r) for r in resources)
            for deny in (self._denies if denies is None else denies)
        )

    def denies(self, action: str, resource: str = "*", resource_tags: Mapping[str, str] | None = None) -> bool:
        """Whether `action` on `resource` is refused whatever a resource policy says: an
        unconditional explicit deny in the policies or the boundary covers it (or one whose
        condition the resource's collected `resource_tags` meet), or the permissions boundary does
        not allow it. (AWS lets a boundary's implicit deny stop a role that a same-account
        resource policy names; it does not stop an IAM user named that way.)"""
        action_pattern = compile_pattern(action, fold_case=True)
        resource_pattern = compile_pattern(resource, arn=True)
        if self._denied(action_pattern, None, resource_pattern, None):
            return True
        if resource_tags is not None and self._tag_denies and self._denied(
                action_pattern, None, resource_pattern, None, self._tag_denies_holding(resource_tags)):
            return True
        return any(next(self._surviving(bound, action_pattern, resource_pattern), None) is None
                   for bound in self._bounds)

    # -- administrator --

    def admin(self) -> Grant | None:
        """The grant that makes the identity administrator, or None. See the module docstring."""
        return self._admin

    @cached_property
    def _admin(self) -> Grant | None:
        conditional = None
        for family in (_ALL_ACTIONS, _IAM_ACTIONS):
            grant = self._family_grant(family)
            if grant is not None and not grant.conditional:
                return grant
            conditional = conditional or grant
        return conditional

    def _family_grant(self, family: Pattern) -> Grant | None:
        if any(deny.touches_actions(family) and deny.touches_resources(_ANY) for deny in self._denies):
            return None
        boundary_conditional = False
        for bound in self._bounds:
            covering = self._covering(bound, family)
            if not covering:
                return None
            boundary_conditional = boundary_conditional or all(s.conditional for s in covering)
        if any(deny.touches_actions(family) and deny.touches_resources(_ANY) for deny in self._possible_denies):
            boundary_conditional = True
        covering = self._covering(self._allows, family)
        if not covering:
            return None
        statement = min(covering, key=lambda s: s.conditional)
        return Grant(
            policy=statement.policy,
            sid=statement.sid,
            action_pattern=_covering_text(
                statement.actions, statement.action_patterns, statement.not_action, family, "NotAction"
            ),
            resource_pattern=_covering_text(
                statement.resources, statement.resource_patterns, statement.not_resource, _ANY, "NotResource"
            ),
            conditional=statement.conditional or boundary_conditional,
        )

    @staticmethod
    def _covering(allows: list[_Statement], family: Pattern) -> list[_Statement]:
        return [s for s in allows if s.covers_actions(family) and s.covers_resources(_ANY)]

    # -- escalation --

    def escalations(self) -> list[Escalation]:
        """Every known escalation set that is fully allowed, admin or not."""
        return list(self._escalations)

    @cached_property
    def _escalations(self) -> tuple[Escalation, ...]:
        found = []
        granted = self._granted_services
        for name, requirements in ESCALATION_SETS:
            # Most policies name none of a set's services: such a set is out without a question.
            if granted is not None and not all(any(action.partition(":")[0].lower() in granted for action, _ in options)
                                               for options in requirements):
                continue
            chosen: dict[int, tuple[str, Grant]] = {}
            # The service the role would be passed to decides whether a PassRole grant applies.
            order = sorted(range(len(requirements)), key=lambda i: requirements[i][0][0] == "iam:PassRole")
            passed_to = None
            for index in order:
                for action, resource in requirements[index]:
                    if action == "iam:PassRole":
                        grant = self._allowing(
                            compile_pattern(action, fold_case=True), compile_pattern(resource, arn=True), passed_to
                        )
                    else:
                        grant = self.allows(action, resource)
                    if grant is not None:
                        chosen[index] = (action, grant)
                        passed_to = passed_to or PASSED_TO_SERVICE.get(action)
                        break
                else:
                    break
            else:
                picks = [chosen[i] for i in range(len(requirements))]
                found.append(Escalation(name, tuple(a for a, _ in picks), tuple(g for _, g in picks)))
        if not any(e.name.startswith("iam:UpdateAssumeRolePolicy") for e in found):
            # A role that may rewrite another role's trust policy can make it name its own ARN; in
            # the same account such a trust needs no sts:AssumeRole allow of its own, so only an
            # explicit deny (or a boundary without it) stops the assumption.
            grant = self.allows("iam:UpdateAssumeRolePolicy", _ROLE)
            if grant is not None and not self.denies("sts:AssumeRole", _ROLE):
                found.append(Escalation("iam:UpdateAssumeRolePolicy (trust naming itself)",
                                        ("iam:UpdateAssumeRolePolicy",), (grant,)))
        return tuple(found)

    # -- roles and resources --

    def passes(self, role_arn: str, service: str | None, resource_tags: Mapping[str, str] | None = None) -> Grant | None:
        """The grant allowing `iam:PassRole` of that role to the service principal `service`
        (None: to any), or None; `resource_tags`: the role's collected tags (None: not known)."""
        key = ("iam:PassRole>" + (service or ""), role_arn)
        if resource_tags is not None:
            key += (tuple(sorted(resource_tags.items())),)
        if key not in self._answers:
            self._answers[key] = self._allowing(
                compile_pattern("iam:PassRole", fold_case=True), compile_pattern(role_arn, arn=True), service,
                resource_tags,
            )
        return self._answers[key]

    def assumable(self, role_arn: str, resource_tags: Mapping[str, str] | None = None) -> Grant | None:
        """The grant allowing `sts:AssumeRole` on that role ARN (or ARN pattern), or None;
        `resource_tags`: the role's collected tags (None: not known)."""
        return self.allows("sts:AssumeRole", role_arn, resource_tags)

    def write_grants(self, resource_arn: str) -> list[Grant]:
        """The grants that let some write action through on `resource_arn` (or pattern)."""
        grants: dict[tuple, Grant] = {}
        for grant in self._write_grants(resource_arn):
            key = (grant.policy, grant.sid, grant.action_pattern, grant.resource_pattern)
            if key not in grants or (grants[key].conditional and not grant.conditional):
                grants[key] = grant
        return list(grants.values())

    def _write_grants(self, resource_arn: str) -> Iterator[Grant]:
        resource = compile_pattern(resource_arn, arn=True)
        services = _acting_services(resource_arn)
        for probe in self._probes(resource_arn, write=True):
            if (services and probe.partition(":")[0] not in services) or is_read_only(probe):
                continue
            action = compile_pattern(probe, fold_case=True)
            for grant, _, _ in self._passing(action, resource):
                yield grant

    def _passing(
        self, action: Pattern, resource: Pattern, passed_to: str | None = None,
        resource_tags: Mapping[str, str] | None = None,
    ) -> Iterator[tuple[Grant, Pattern | None, Pattern | None]]:
        """Every identity grant of the question that survives denies and the boundary."""
        granted = self._granted_services
        if granted is not None:
            asked = _service_of(action)
            if asked is not None and asked not in granted:
                return  # no allow statement names an action of that service
        for grant, granted_action, granted_resource in self._surviving(
            self._allows, action, resource, passed_to, resource_tags
        ):
            for bound in self._bounds:
                bound_grant = next(
                    self._surviving(
                        bound,
                        _narrow(action, granted_action),
                        _narrow(resource, granted_resource),
                        passed_to,
                        resource_tags,
                    ),
                    None,
                )
                if bound_grant is None:
                    break
                if bound_grant[0].conditional:
                    grant = replace(grant, conditional=True)
            else:
                yield grant, granted_action, granted_resource

    @cached_property
    def _granted_services(self) -> frozenset[str] | None:
        """The services whose actions the allow statements name, or None when one may name any
        (NotAction, or a wildcard in the service part). Most questions an evaluation asks are about
        actions of services the identity's policies never mention: this answers them at once."""
        services = set()
        for statement in self._allows:
            if statement.not_action:
                return None
            for pattern in statement.action_patterns:
                service = _service_of(pattern)
                if service is None:
                    return None
                services.add(service)
        return frozenset(services)

    def _allows_any_read(self) -> bool:
        return any(
            is_read_only(probe) and self.allows(probe) is not None
            for probe in self._probes("*", write=False)
        )

    def _probes(self, resource_arn: str, write: bool) -> Iterator[str]:
        """Concrete actions that stand for what the policies could allow, writing or reading.

        Named actions stand for themselves; a wildcard pattern is probed with one action per verb
        it can match; a grant of every service (`*`, NotAction) is probed on the services the
        policies and the resource name, plus common ones.
        """
        statements = self._allows + (self._boundary or [])
        verbs = WRITE_VERBS if write else READ_VERBS
        limited_to = _acting_services(resource_arn)
        seen: set[str] = set()
        every_service = False
        for statement in statements:
            if statement.not_action:
                every_service = True
                continue
            for text in statement.actions:
                service = text.lower().partition(":")[0]
                if limited_to and service not in limited_to and not set(service) & {"*", "?"}:
                    continue  # another service's actions do not act on this resource
                candidates = _pattern_probes(text.lower(), write)
                if candidates is None:
                    every_service = True
                    continue
                for candidate in candidates:
                    if candidate not in seen:
                        seen.add(candidate)
                        yield candidate
        if every_service:
            for service in sorted(self._services(resource_arn)):
                for verb in verbs:
                    candidate = f"{service}:{verb}"
                    if candidate not in seen:
                        seen.add(candidate)
                        yield candidate

    def _services(self, resource_arn: str) -> set[str]:
        services = set(_COMMON_SERVICES) | set(_acting_services(resource_arn))
        for statement in self._allows + (self._boundary or []) + self._denies:
            for text in statement.actions:
                service = text.lower().partition(":")[0]
                if service and not set(service) & {"*", "?"}:
                    services.add(service)
        return services

    # -- summary --

    def power(self) -> str:
        """"admin" | "escalate" | "write" | "read" | "none": see the module docstring."""
        return self._power

    @cached_property
    def _power(self) -> str:
        if self.admin() is not None:
            return "admin"
        if self.escalations():
            return "escalate"
        if next(self._write_grants("*"), None) is not None:  # one is enough to say so
            return "write"
        if self._allows_any_read():
            return "read"
        return "none"


@lru_cache(maxsize=65536)
def _pattern_probes(text: str, write: bool) -> tuple[str, ...] | None:
    """Probe actions for one (lower-cased) action pattern of a policy: itself when it names one
    action, else one per verb it can match; None when it names no service (`*`)."""
    pattern = compile_pattern(text, fold_case=True)
    if is_literal(pattern):
        return (text,)
    service = text.partition(":")[0]
    if not service or set(service) & {"*", "?"}:
        return None
    if write and pattern_is_read_only(pattern):
        return ()
    verbs = WRITE_VERBS if write else READ_VERBS
    found = [witness(pattern, compile_pattern(f"{service}:{verb}*")) for verb in verbs]
    found.append(witness(pattern))
    return tuple(dict.fromkeys(render_witness(w) for w in found if w is not None))


# Services whose actions act on resources of another service's ARNs.
_ACTING_SERVICES = {"iam": ("iam", "sts")}


def _acting_services(resource_arn: str) -> tuple[str, ...]:
    """The services whose actions can act on `resource_arn`; empty when any can (`*`)."""
    parts = resource_arn.split(":")
    if len(parts) < 3 or parts[0] != "arn" or set(parts[2]) & {"*", "?"}:
        return ()
    service = parts[2].lower()
    return _ACTING_SERVICES.get(service, (service,))


@lru_cache(maxsize=65536)
def _service_of(action: Pattern) -> str | None:
    """The service part of an action pattern (before its first colon, all of it without one), or
    None when a wildcard is in it. Two patterns whose service parts differ match no common action."""
    service = []
    for token in action:
        if token == ":":
            break
        if len(token) != 1 or token in ("*", "?"):
            return None
        service.append(token)
    return "".join(service)


def _narrow(question: Pattern, granted: Pattern | None) -> Pattern:
    """The granted pattern when it lies inside the question, else the question."""
    if granted is not None and contains(question, granted):
        return granted
    return question


# --- trust policies ----------------------------------------------------------------------------

_ACCOUNT_ID = re.compile(r"^\d{12}$")
_ROOT_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):root$")
_ASSUMED_ROLE = re.compile(r"^arn:aws[a-z-]*:sts::(\d{12}):assumed-role/([^/]+)/.+$")
_ASSUME_ROLE = compile_pattern("sts:assumerole")


def trust_admits(trust_policy: dict | str, principal_arn: str, principal_account: str) -> TrustGrant | None:
    """The statement of a role's trust policy that lets `principal_arn` (an IAM role or user of
    account `principal_account`) call sts:AssumeRole on the role, or None."""
    document = _as_document(trust_policy, "trust policy")
    admitted: TrustGrant | None = None
    for raw in _statements(document, "trust policy"):
        effect = raw.get("Effect")
        if effect not in ("Allow", "Deny"):
            continue
        not_action = "NotAction" in raw
        actions = _strings(raw.get("NotAction" if not_action else "Action"), "trust policy", "Action")
        patterns = tuple(compile_pattern(a, fold_case=True) for a in actions)
        if not_action:
            if any(contains(p, _ASSUME_ROLE) for p in patterns):
                continue
            action_text = _describe(actions, True, "NotAction")
        else:
            matching = [a for a, p in zip(actions, patterns) if contains(p, _ASSUME_ROLE)]
            if not matching:
                continue
            action_text = matching[0]
        named = _principal_named(raw, principal_arn, principal_account)
        if named is None:
            continue
        principal, names_principal = named
        conditional = bool(raw.get("Condition"))
        if effect == "Deny":
            if not conditional:
                return None
            continue
        grant = TrustGrant(
            sid=raw.get("Sid") or None,
            principal=principal,
            action_pattern=action_text,
            conditional=conditional,
            names_principal=names_principal,
        )
        if admitted is None or (admitted.conditional and not conditional):
            admitted = grant
    return admitted


def _principal_named(raw: dict, arn: str, account: str) -> tuple[str, bool] | None:
    """Which principal value of the statement applies to `arn`, and whether it names it exactly."""
    if "NotPrincipal" in raw:
        excluded = _principal_match(raw["NotPrincipal"], arn, account)
        return None if excluded is not None else ("NotPrincipal", False)
    if "Principal" not in raw:
        return None
    return _principal_match(raw["Principal"], arn, account)


def _principal_match(block, arn: str, account: str) -> tuple[str, bool] | None:
    if block == "*":
        return "*", False
    if not isinstance(block, dict):
        return None
    # Service, Federated and CanonicalUser principals are never an IAM role or user.
    for value in _strings(block.get("AWS"), "trust policy", "Principal"):
        if value == "*":
            return value, False
        if _ACCOUNT_ID.match(value):
            if value == account:
                return value, False
            continue
        root = _ROOT_ARN.match(value)
        if root:
            if root.group(1) == account:
                return value, False
            continue
        if value.lower() == arn.lower():  # IAM names are unique regardless of case
            return value, True
        session = _ASSUMED_ROLE.match(value)
        if session and session.group(1) == account and (_role_name(arn) or "").lower() == session.group(2).lower():
            return value, True
    return None


def _role_name(arn: str) -> str | None:
    head, _, path = arn.partition(":role/")
    return path.rsplit("/", 1)[-1] if path and head.startswith("arn:") else None
