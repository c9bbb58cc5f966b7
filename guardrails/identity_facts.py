"""Identity power in words every provider speaks: what one identity can do, and what proves it.

A provider reads its own policy language (AWS IAM statements; later GCP bindings, Azure role
assignments) and answers with these records, one identity at a time, when the analysis asks for
it (`Provider.identity_power`). guardrails/analysis/identity.py joins the answers into the
identity graph and follows power along its edges; the checks read nothing else. Every `via` and
proof is the human text of the statement, binding or assignment that allows what is claimed, shown
as evidence in findings.

The identity graph has principals (identity nodes) and the resources that run as them (compute
and workload nodes), joined by three edge kinds:

- `can_assume` identity -> identity: the first can obtain the second's credentials or act as it,
  by one of the METHODS below other than `take_over`;
- `acts_as` identity -> resource: the identity can take over an existing resource (run commands
  on an instance, replace a function's code, update a stack) and so act as what the resource runs as;
- `runs_as` resource -> identity: the resource holds the identity's credentials (written by
  normalization, not by identity evaluation).

A hop that rests on a grant whose condition could not be evaluated has confidence `unknown`: the
power it carries is possible, never certain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from guardrails.graph import Node

# Power levels, strongest first: administrator of the account, one step from it (escalation),
# able to change something, able to read something, nothing.
POWER_RANK = {"admin": 4, "escalate": 3, "write": 2, "read": 1, "none": 0}


CONFIRMED = "confirmed"
UNKNOWN = "unknown"

# How one principal comes to hold another's power: the edge vocabulary of the identity graph.
# GCP service-account impersonation and Azure managed identities map onto the same words.
METHODS: dict[str, str] = {
    "assume": "obtains the identity's credentials directly (AWS sts:AssumeRole, GCP impersonation)",
    "pass_to_service": "launches or reconfigures a service to run as the identity (AWS iam:PassRole with a "
                       "service that runs it)",
    "credentials": "creates long-lived credentials of the identity (an access key or a console password)",
    "trust_update": "rewrites who may assume the identity, then assumes it",
    "take_over": "controls an existing resource that runs as an identity (runs commands on it, replaces its code)",
    "runs_as": "the resource holds the identity's credentials",
}

# The edge kind of each method in the estate graph.
METHOD_EDGE = {"take_over": "acts_as", "runs_as": "runs_as"}


@dataclass(frozen=True)
class Proof:
    """One permission a step rests on: the action, the resource it is allowed on, and the statement
    (policy and statement id) that allows it. `condition` is the text of a condition the scan could
    not evaluate (the permission is then possible, not certain); empty when none."""

    action: str
    resource: str
    statement: str
    condition: str = ""


@dataclass(frozen=True)
class Hop:
    """One edge of the identity graph: from a principal (or a resource, for `runs_as`) to the
    principal or resource it reaches, how (`method`, a key of METHODS), and what allows it: `via`
    in words, `proofs` permission by permission. `confidence` is `unknown` when a proof holds only
    under a condition that could not be evaluated."""

    source: str
    target: str
    via: str
    method: str = "assume"
    proofs: tuple[Proof, ...] = ()
    confidence: str = CONFIRMED

    @property
    def edge(self) -> str:
        """The estate graph's edge kind for this hop."""
        return METHOD_EDGE.get(self.method, "can_assume")


@dataclass(frozen=True)
class Escalation:
    """A known way to make oneself administrator whose every permission the identity holds."""

    name: str
    permissions: tuple[str, ...]
    proofs: tuple[str, ...]  # what grants each permission, in the order of `permissions`
    confidence: str = CONFIRMED  # `unknown` when a permission holds only under an unevaluated condition


@dataclass(frozen=True)
class ProductionAccess:
    """Power to change production: over an account or a resource (`target`, a node id or an
    account id that was not scanned), reached directly or through the role chain `chain`.
    `confidence` is `unknown` when it is possible only: a fact it rests on was not collected (an
    account whose roles could not be read, or whether an account is production), which `via` says."""

    target: str
    via: str
    chain: tuple[Hop, ...] = ()
    confidence: str = CONFIRMED


@dataclass(frozen=True)
class IdentityPower:
    """What one identity's own policies let it do.

    `admin` is the proof of administrator power when it holds it (then `escalations` is empty:
    there is nothing left to escalate to). `assumes` are the roles it can assume, `production`
    what of production it can change without assuming another role, and `unknown` what about its
    policies was not known (it is evaluated without it).

    `assumes` are its `can_assume` hops (every method but take-over) and `takes_over` its
    `acts_as` hops to resources that run as an identity. `admin_confidence` is `unknown` when the
    administrator grant holds only under a condition that could not be evaluated."""

    power: str = "none"
    admin: str | None = None
    escalations: tuple[Escalation, ...] = ()
    assumes: tuple[Hop, ...] = ()
    production: tuple[ProductionAccess, ...] = ()
    unknown: tuple[str, ...] = ()
    takes_over: tuple[Hop, ...] = ()
    admin_confidence: str = CONFIRMED


# What a principal's power is, as the identity graph answers it (strongest first).
LEVELS = ("admin", "escalate", "production", "unknown", "none")


@dataclass(frozen=True)
class PowerAnswer:
    """The power of a principal, followed along the identity graph.

    `level`: `admin` (administrator itself, or by assuming identities without changing anything),
    `escalate` (can make itself administrator: an escalation set, or a chain through passing a
    role, taking over a resource or creating credentials to an identity that is administrator or
    can escalate), `production` (can change production), `unknown` (none of these was found, but
    what the principal or an identity it reaches holds was not all seen) or `none`.

    `chain` is the shortest chain of hops from the principal to `holder`, the identity whose own
    power it is (empty when the principal holds it itself); `proof` says what proves the holder's
    power. `confidence` is `unknown` when a hop or the holder's grant rests on a condition the scan
    could not evaluate, and `unknowns` says what was not known."""

    principal: str
    level: str
    holder: str = ""
    chain: tuple[Hop, ...] = ()
    proof: str = ""
    confidence: str = CONFIRMED
    unknowns: tuple[str, ...] = ()
    escalations: tuple[Escalation, ...] = ()
    production: tuple[ProductionAccess, ...] = ()

    @property
    def identities(self) -> tuple[str, ...]:
        """The ids along the chain after the principal (resources and identities), holder last."""
        return tuple(hop.target for hop in self.chain)


class IdentityEvaluator(Protocol):
    """A provider's evaluator of one estate's identities, made once per scan."""

    def evaluate(self, identity: Node) -> IdentityPower:
        """The power of `identity` (a node of this provider), evaluated when first asked: only the
        CI identities, and the identities those reach along the identity graph, are ever evaluated."""
