"""Identity power: what each identity can do, directly and through the roles it can assume.

Each identity is evaluated once, by its provider (`Provider.identity_power`, which answers in the
neutral records of guardrails/identity_facts.py). The `can_assume` and `grants` edges of the
answers are added to the graph, and power is followed along role assumption so that a build role
that may assume an administrator role is reported with the whole chain as evidence.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Iterable

from guardrails.config import Config
from guardrails.graph import EstateGraph, Node
from guardrails.identity_facts import POWER_RANK, Escalation, Hop, IdentityEvaluator, IdentityPower, ProductionAccess
from guardrails.provider import snapshot_provider

__all__ = ["POWER_RANK", "Escalation", "Hop", "IdentityFacts", "ProductionAccess", "analyse_identities"]


@dataclass
class IdentityFacts:
    """What one identity can do (its provider's IdentityPower), and what its role chain reaches."""

    id: str
    power: str = "none"
    admin: str | None = None  # what proves administrator power
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


def analyse_identities(graph: EstateGraph, config: Config, production: dict[str, str],
                       ci_nodes: Iterable[str] = (), identities: Iterable[str] = ()) -> dict[str, IdentityFacts]:
    """Facts for every identity a CI node runs as, every CI identity of its own (`identities`:
    federated roles, CI users), and every role reachable from those by assumption. Other
    identities are not a pipeline's, and evaluating them would only cost time."""
    evaluators: dict[str, IdentityEvaluator | None] = {}

    def power_of(node: Node) -> IdentityPower:
        name = node.get("provider")
        if name not in evaluators:
            evaluators[name] = snapshot_provider(name).identity_power(graph, production, config)
        evaluator = evaluators[name]
        return evaluator.evaluate(node) if evaluator is not None else IdentityPower()

    facts: dict[str, IdentityFacts] = {}
    seeds = {n.id for node in ci_nodes for n, _ in graph.out(node, "runs_as") if n.get("kind") == "identity"}
    queue = deque(sorted(seeds | set(identities)))
    while queue:
        current = queue.popleft()
        if current in facts:
            continue
        node = graph.node(current)
        power = power_of(node)
        # Production reached by assuming a production role comes first, then the identity's own.
        reached = [ProductionAccess(hop.target, f"can assume {graph.node(hop.target).name}: "
                                                f"{production[hop.target]}; {hop.via}", (hop,))
                   for hop in power.assumes if hop.target in production]
        facts[current] = IdentityFacts(current, power.power, power.admin, list(power.escalations),
                                       reached + list(power.production), list(power.assumes), list(power.unknown))
        _add_edges(graph, node, power)
        queue.extend(hop.target for hop in power.assumes)
    _chains(facts)
    return facts


def _add_edges(graph: EstateGraph, node: Node, power: IdentityPower) -> None:
    """The answer's role assumptions and powers as edges of the estate graph."""
    for hop in power.assumes:
        graph.add_edge(hop.source, hop.target, "can_assume", via=hop.via)
    account = node.get("account")
    if account and graph.has(account):
        if power.admin:
            graph.add_edge(node.id, account, "grants", key="admin", power="admin", via=power.admin)
        if power.escalations:
            graph.add_edge(node.id, account, "grants", key="escalate", power="escalate",
                           via="; ".join(e.name for e in power.escalations))
    for access in power.production:
        if graph.has(access.target):
            graph.add_edge(node.id, access.target, "grants", key="write", power="write", via=access.via)


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
