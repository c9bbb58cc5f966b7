"""Azure identity power: what a managed identity's role assignments let it do (CHECKS.md).

- Administrator: Owner, Contributor or User Access Administrator (or a role allowing every action
  with no NotActions) assigned at a subscription or management group scope, or above.
- Escalation: any role, at any scope, allowing `Microsoft.Authorization/roleAssignments/write`
  (assign itself Owner) or `Microsoft.Authorization/roleDefinitions/write` (widen a custom role it
  holds), wildcards such as `Microsoft.Authorization/*` included and NotActions taken off.
- Production: any role with a write action at the scope of a production subscription (or a
  management group above one) or of a production resource group.

Azure has no role assumption between managed identities: an identity's power is its own
assignments'. The normalizer puts each assignment, with its role's permissions, on the identity
node (`managed_policies`: name, arn = assignment id, document = scope, role and permissions).
"""

from __future__ import annotations

import fnmatch
from typing import Any, Mapping

from guardrails.analysis.classify import production_reason
from guardrails.graph import EstateGraph, Node
from guardrails.identity_facts import Escalation, IdentityPower, ProductionAccess

from . import arm

ESCALATING_ACTIONS = ("Microsoft.Authorization/roleAssignments/write", "Microsoft.Authorization/roleDefinitions/write")


def _matches(pattern: str, action: str) -> bool:
    return fnmatch.fnmatchcase(action.lower(), str(pattern).lower())


def allows(permissions: list[dict], action: str) -> bool:
    """Whether a role's permission blocks allow `action`: some block's Actions match it and that
    block's NotActions do not."""
    for block in permissions or []:
        if any(_matches(a, action) for a in block.get("actions") or []) and \
                not any(_matches(n, action) for n in block.get("notActions") or []):
            return True
    return False


def _writes(permissions: list[dict]) -> list[str]:
    """The actions of a role that change something (all but reads), NotActions aside."""
    found = []
    for block in permissions or []:
        for action in block.get("actions") or []:
            if not str(action).lower().endswith("/read"):
                found.append(str(action))
    return found


def _every_action(permissions: list[dict]) -> bool:
    return any("*" in (b.get("actions") or []) and not b.get("notActions") for b in permissions or [])


def is_wide_scope(scope: str) -> bool:
    """A subscription, a management group or the root: not a resource group or a resource."""
    parts = [p for p in scope.lower().split("/") if p]
    if not parts:
        return True
    if parts[:1] == ["subscriptions"] and len(parts) == 2:
        return True
    return parts[:3] == ["providers", "microsoft.management", "managementgroups"] and len(parts) == 4


def _scope_text(scope: str) -> str:
    parts = [p for p in scope.split("/") if p]
    if not parts:
        return "the root scope /"
    if parts[0].lower() == "subscriptions" and len(parts) == 2:
        return f"subscription {parts[1]}"
    if len(parts) == 4 and parts[2].lower() == "managementgroups":
        return f"management group {parts[3]}"
    if len(parts) == 4 and parts[2].lower() == "resourcegroups":
        return f"resource group {parts[3]}"
    return scope


class AzureIdentities:
    """The evaluator of one estate's managed identities (guardrails/identity_facts.py)."""

    def __init__(self, graph: EstateGraph, production: Mapping[str, str], config: Any) -> None:
        self.graph = graph
        self.production = production
        self.config = config

    def evaluate(self, identity: Node) -> IdentityPower:
        admin = None
        escalations: list[Escalation] = []
        production: list[ProductionAccess] = []
        unknown: list[str] = []
        power = "none"
        for grant in identity.get("managed_policies") or []:
            document = grant.get("document")
            if not isinstance(document, dict):
                unknown.append(f"role {grant.get('name')} of assignment {grant.get('arn')} was not collected")
                continue
            permissions = document.get("permissions") or []
            scope = str(document.get("scope") or "")
            role = document.get("roleName") or grant.get("name")
            proof = f"{role} at {_scope_text(scope)} (role assignment {str(grant.get('arn')).rsplit('/', 1)[-1]})"
            if is_wide_scope(scope) and (document.get("guid") in arm.ADMIN_ROLES or _every_action(permissions)):
                admin = admin or proof
                continue
            for action in ESCALATING_ACTIONS:
                if allows(permissions, action):
                    escalations.append(Escalation(f"{action} through {role} at {_scope_text(scope)}", (action,),
                                                  (proof,)))
                    break
            writes = _writes(permissions)
            if writes:
                power = "write" if power in ("none", "read") else power
                target = self._production_scope(scope, document)
                if target:
                    production.append(ProductionAccess(target[0], f"{proof} allows {', '.join(writes[:3])} "
                                                                  f"on production ({target[1]})"))
            elif permissions and power == "none":
                power = "read"
        if admin:
            return IdentityPower("admin", admin, (), (), tuple(production), tuple(unknown))
        if escalations:
            power = "escalate"
        return IdentityPower(power, None, tuple(escalations), (), tuple(production), tuple(unknown))

    def _production_scope(self, scope: str, document: dict) -> tuple[str, str] | None:
        """(target, why) when the scope is or holds production."""
        subscription = arm.subscription_of(scope)
        if subscription and subscription in self.production:
            return subscription, self.production[subscription]
        group = arm.resource_group_of(scope)
        if group:
            reason = production_reason(group, group.rsplit("/", 1)[-1], document.get("scope_tags") or {}, self.config)
            if reason:
                return group, f"resource group {group.rsplit('/', 1)[-1]}: {reason}"
        for inherited in document.get("subscriptions") or []:  # a management group above them
            if inherited in self.production:
                return inherited, f"{self.production[inherited]}, under {_scope_text(scope)}"
        return None
