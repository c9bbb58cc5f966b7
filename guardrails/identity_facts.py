"""Identity power in words every provider speaks: what one identity can do, and what proves it.

A provider reads its own policy language (AWS IAM statements; later GCP bindings, Azure role
assignments) and answers with these records, one identity at a time, when the analysis asks for
it (`Provider.identity_power`). guardrails/analysis/identity.py follows role assumption between
the answers, and the checks read nothing else. Every `via` and proof is the human text of the
statement, binding or assignment that allows what is claimed, shown as evidence in findings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from guardrails.graph import Node

# Power levels, strongest first: administrator of the account, one step from it (escalation),
# able to change something, able to read something, nothing.
POWER_RANK = {"admin": 4, "escalate": 3, "write": 2, "read": 1, "none": 0}


@dataclass(frozen=True)
class Hop:
    """One role assumption: from an identity to a role, and why it is allowed."""

    source: str
    target: str
    via: str


@dataclass(frozen=True)
class Escalation:
    """A known way to make oneself administrator whose every permission the identity holds."""

    name: str
    permissions: tuple[str, ...]
    proofs: tuple[str, ...]  # what grants each permission, in the order of `permissions`


@dataclass(frozen=True)
class ProductionAccess:
    """Power to change production: over an account or a resource (`target`, a node id or an
    account id that was not scanned), reached directly or through the role chain `chain`."""

    target: str
    via: str
    chain: tuple[Hop, ...] = ()


@dataclass(frozen=True)
class IdentityPower:
    """What one identity's own policies let it do.

    `admin` is the proof of administrator power when it holds it (then `escalations` is empty:
    there is nothing left to escalate to). `assumes` are the roles it can assume, `production`
    what of production it can change without assuming another role, and `unknown` what about its
    policies was not known (it is evaluated without it)."""

    power: str = "none"
    admin: str | None = None
    escalations: tuple[Escalation, ...] = ()
    assumes: tuple[Hop, ...] = ()
    production: tuple[ProductionAccess, ...] = ()
    unknown: tuple[str, ...] = ()


class IdentityEvaluator(Protocol):
    """A provider's evaluator of one estate's identities, made once per scan."""

    def evaluate(self, identity: Node) -> IdentityPower:
        """The power of `identity` (a node of this provider), evaluated when first asked: only the
        identities CI nodes run as, and the roles those can assume, are ever evaluated."""
