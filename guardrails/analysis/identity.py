"""Identity power as a graph of principals and resources.

Each identity is evaluated once, by its provider (`Provider.identity_power`, which answers in the
neutral records of guardrails/identity_facts.py). The answers' hops are the identity graph's
edges: `can_assume` (identity -> identity: assume, pass to a service, create credentials, rewrite
a trust), `acts_as` (identity -> a resource it can take over) and the `runs_as` edges normalization
wrote (resource -> identity). The checks follow them here; `write_edges` adds them, with `grants`
edges to what each identity holds, to the estate graph for an export that shows the whole graph
(writing a hundred thousand take-over edges costs as much as finding them, for no check). Power flows along them: a principal is
administrator when it, or an identity it can assume without changing anything, is; it can escalate
when any identity it reaches along any edge is administrator or can escalate; it is
production-capable when any identity it reaches can change production. `IdentityGraph.reach`
answers with the shortest chain, each hop with the statements and resources that allow it.

Only the CI identities (those CI nodes run as, and those the analysis is given) and what they
reach are evaluated: the many other identities of an estate cost nothing.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Iterable

import networkx as nx

from guardrails.analysis.nearest import NearestTargets, incoming
from guardrails.config import Config
from guardrails.graph import EstateGraph, Node
from guardrails.identity_facts import (
    CONFIRMED,
    LEVELS,
    POWER_RANK,
    UNKNOWN,
    Escalation,
    Hop,
    IdentityEvaluator,
    IdentityPower,
    PowerAnswer,
    ProductionAccess,
    Proof,
)
from guardrails.provider import snapshot_provider

__all__ = ["LEVELS", "POWER_RANK", "Escalation", "Hop", "IdentityFacts", "IdentityGraph", "PowerAnswer",
           "ProductionAccess", "Proof", "analyse_identities"]


@dataclass
class IdentityFacts:
    """What one identity can do by itself (its provider's IdentityPower); what it reaches along
    the identity graph is `IdentityGraph.reach`'s answer."""

    id: str
    power: str = "none"
    admin: str | None = None  # what proves administrator power
    escalations: list[Escalation] = field(default_factory=list)
    production: list[ProductionAccess] = field(default_factory=list)
    assumes: list[Hop] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    takes_over: list[Hop] = field(default_factory=list)
    admin_confidence: str = CONFIRMED


class IdentityGraph:
    """The identity graph of one estate, evaluated lazily and cached: `facts(id)` evaluates one
    identity (and adds its edges to the estate graph), `reach(principal, level)` follows power."""

    def __init__(self, graph: EstateGraph, config: Config, production: dict[str, str]) -> None:
        self.graph = graph
        self.config = config
        self.production = production
        self._evaluators: dict[str, IdentityEvaluator | None] = {}
        self._facts: dict[str, IdentityFacts] = {}
        self._unwritten: list[tuple[Node, IdentityPower]] = []
        self._answers: dict[tuple[str, str], PowerAnswer | None] = {}
        self._out: dict[str, tuple[Hop, ...]] = {}
        self._unknowns: dict[str, tuple[str, ...]] = {}
        self._kinds: dict[str, bool] = {}
        # The nodes whose every hop, and every hop of those, is known: the nearest holders of each
        # power are labelled over them, once, for every principal.
        self._closed: set[str] = set()
        self._nearest: dict[tuple[str, bool], NearestTargets[Hop]] = {}
        self._following: dict[tuple[bool, bool], dict[str, tuple[tuple[str, Hop], ...]]] = {}
        self._reached: dict[str, frozenset[str]] | None = None
        self._incoming: dict[tuple[bool, bool], dict[str, list[str]]] = {}

    # -- evaluation --

    def facts(self, identity_id: str) -> IdentityFacts:
        """The facts of one identity node, evaluated by its provider when first asked."""
        found = self._facts.get(identity_id)
        if found is None:
            node = self.graph.node(identity_id)
            power = self._evaluate(node)
            # Production reached by assuming a production role comes first, then the identity's own.
            reached = [ProductionAccess(hop.target, f"can assume {self.graph.node(hop.target).name}: "
                                                    f"{self.production[hop.target]}; {hop.via}", (hop,))
                       for hop in power.assumes if hop.target in self.production and hop.method == "assume"]
            found = self._facts[identity_id] = IdentityFacts(
                identity_id, power.power, power.admin, list(power.escalations), reached + list(power.production),
                list(power.assumes), list(power.unknown), list(power.takes_over), power.admin_confidence)
            self._unwritten.append((node, power))
        return found

    def write_edges(self) -> None:
        """Add the hops and powers of every identity evaluated so far to the estate graph."""
        for node, power in self._unwritten:
            _add_edges(self.graph, node, power)
        self._unwritten.clear()

    def evaluated(self) -> dict[str, IdentityFacts]:
        """Every identity evaluated so far."""
        return self._facts

    def _evaluate(self, node: Node) -> IdentityPower:
        name = node.get("provider")
        if name not in self._evaluators:
            self._evaluators[name] = snapshot_provider(name).identity_power(self.graph, self.production, self.config)
        evaluator = self._evaluators[name]
        return evaluator.evaluate(node) if evaluator is not None else IdentityPower()

    def hops(self, node_id: str) -> list[Hop]:
        """The identity graph's edges out of one node: an identity's hops (evaluating it), or the
        identities a resource runs as."""
        return list(self._hops(node_id))

    def _hops(self, node_id: str) -> tuple[Hop, ...]:
        # Read once per node: every search of the graph walks the same edges again.
        found = self._out.get(node_id)
        if found is None:
            node = self.graph.node(node_id)
            if node.kind == "identity":
                facts = self.facts(node_id)
                found = tuple(facts.assumes + facts.takes_over)
            else:
                found = tuple(Hop(node_id, identity.id, edge.get("via") or "runs as", "runs_as")
                              for identity, edge in sorted(self.graph.out(node_id, "runs_as"), key=lambda pair: pair[0].id)
                              if identity.kind == "identity")
            self._out[node_id] = found
        return found

    # -- power along the graph --

    def power(self, principal: str) -> PowerAnswer:
        """The strongest power the principal holds or reaches (LEVELS), with its shortest chain."""
        for level in ("admin", "escalate", "production"):
            answer = self.reach(principal, level)
            if answer is not None:
                return answer
        unknowns = self.unknowns(principal)
        return PowerAnswer(principal, UNKNOWN if unknowns else "none", principal, unknowns=unknowns,
                           confidence=UNKNOWN if unknowns else CONFIRMED)

    def reach(self, principal: str, level: str) -> PowerAnswer | None:
        """The shortest chain by which `principal` holds `level` (`admin`, `escalate` or
        `production`), certain chains before possible ones; None when it does not.

        `admin` follows only `assume` hops (becoming the identity changes nothing); `escalate`
        and `production` follow every hop. For `escalate` an administrator reached by another
        method counts, and the principal's own escalation sets, but an administrator at the end
        of a chain is the stronger evidence: an escalation set answers only when no
        administrator is reached for certain, and then only if it is certain or no administrator
        is reached at all."""
        key = (principal, level)
        if key not in self._answers:
            self._answers[key] = self._answer(principal, level)
        return self._answers[key]

    def _answer(self, principal: str, level: str) -> PowerAnswer | None:
        if level == "escalate" and self._is_identity(principal) and self.facts(principal).admin:
            # Its own administrator power is not an escalation: the holder must be another
            # identity, which the labels (where the principal itself is a holder) cannot tell.
            return self._search(principal, level)
        self.explore([principal])
        if level != "escalate":
            return self._nearest_answer(principal, level, True) or self._nearest_answer(principal, level, False)
        certain = self._nearest_answer(principal, "escalate", True)
        if certain is not None:
            return certain
        possible = self._nearest_answer(principal, "escalate", False)
        by_set = self._nearest_answer(principal, "set", True) or self._nearest_answer(principal, "set", False)
        if by_set is not None and (possible is None or by_set.confidence == CONFIRMED):
            return by_set
        return possible

    def explore(self, starts: Iterable[str]) -> None:
        """Evaluate everything the starts reach, so that the nearest holders can be labelled."""
        queue = deque(s for s in starts if s not in self._closed and self.graph.has(s))
        self._closed.update(queue)
        grown = bool(queue)
        follow = self._follow(False, False)
        while queue:
            for target, _ in follow(queue.popleft()):
                if target not in self._closed:
                    self._closed.add(target)
                    queue.append(target)
        if grown:
            self._nearest.clear()
            self._incoming.clear()
            self._reached = None

    # What holds each power, as (follows only assume hops, holds it) per kind of answer; the
    # `set` kind holds an escalation set of its own and is not an administrator.
    _HOLDERS = {
        "admin": (True, lambda facts, certain: bool(facts.admin) and (not certain or facts.admin_confidence == CONFIRMED)),
        "escalate": (False, lambda facts, certain: bool(facts.admin) and (not certain or facts.admin_confidence == CONFIRMED)),
        "set": (False, lambda facts, certain: not facts.admin and any(
            not certain or e.confidence == CONFIRMED for e in facts.escalations)),
        "production": (False, lambda facts, certain: any(
            not certain or p.confidence == CONFIRMED for p in facts.production)),
    }

    def _nearest_answer(self, principal: str, kind: str, certain: bool) -> PowerAnswer | None:
        """The answer through the nearest holder of `kind`; with `certain`, only certain hops
        to a holder that holds it for certain, which makes a confirmed answer."""
        key = (kind, certain)
        nearest = self._nearest.get(key)
        if nearest is None:
            assume_only, holds = self._HOLDERS[kind]
            follow = self._follow(assume_only, certain)
            into = self._incoming.get((assume_only, certain))
            if into is None:
                into = self._incoming[(assume_only, certain)] = incoming(self._closed, follow)
            nearest = self._nearest[key] = NearestTargets(
                self._closed, follow, into, lambda node: self._is_identity(node) and holds(self.facts(node), certain))
        hit = nearest.chain(principal)
        level = "escalate" if kind == "set" else kind
        return None if hit is None else self._holds(principal, hit[0], hit[1], level)

    def _follow(self, assume_only: bool, certain_only: bool):
        """The hops a search follows out of a node, as (target, hop), read once per node:
        `assume_only`, only `assume` hops; `certain_only`, only certain ones."""
        cache = self._following.setdefault((assume_only, certain_only), {})
        every = None if not certain_only else self._follow(assume_only, False)

        def follow(node_id: str) -> tuple[tuple[str, Hop], ...]:
            found = cache.get(node_id)
            if found is None:
                if every is not None:
                    found = tuple(pair for pair in every(node_id) if pair[1].confidence == CONFIRMED)
                else:
                    found = tuple((hop.target, hop) for hop in self._hops(node_id)
                                  if (not assume_only or hop.method == "assume") and self.graph.has(hop.target))
                cache[node_id] = found
            return found
        return follow

    def _search(self, principal: str, level: str) -> PowerAnswer | None:
        """`reach` for one principal by a search of its own, breadth first, so the first holder
        met is the nearest (the labels of `_nearest_answer` give the same answers for every
        principal at once)."""
        possible: PowerAnswer | None = None
        by_set: PowerAnswer | None = None
        # Node -> whether it was reached by a certain chain: a node first reached through a possible
        # hop is visited again when a certain chain reaches it.
        seen = {principal: True}
        # One generation of the queue at a time (the nodes one hop further than the last): all of it
        # is asked before any of it is followed, so the search stops without following the edges
        # of the generation where the answer is. The order of the questions is the queue's.
        # Each entry carries whether its chain is certain, so following it does not re-read the chain.
        generation: list[tuple[str, tuple[Hop, ...], bool]] = [(principal, (), True)]
        while generation:
            for current, chain, _ in generation:
                if self._is_identity(current):
                    if not self._may_hold(current, level, by_set is not None and by_set.confidence == CONFIRMED):
                        continue
                    answer = self._holds(principal, current, chain, level)
                    if answer is not None and answer.escalations:
                        if by_set is None or (by_set.confidence != CONFIRMED and answer.confidence == CONFIRMED):
                            by_set = answer
                    elif answer is not None:
                        if answer.confidence == CONFIRMED:
                            return answer
                        possible = possible or answer
            following: list[tuple[str, tuple[Hop, ...], bool]] = []
            follow = self._follow(level == "admin", False)
            for current, chain, certain in generation:
                for target, hop in follow(current):
                    surely = certain and hop.confidence == CONFIRMED
                    if target not in seen or (surely and not seen[target]):
                        seen[target] = surely
                        following.append((target, chain + (hop,), surely))
            generation = following
        if by_set is not None and (possible is None or by_set.confidence == CONFIRMED):
            return by_set
        return possible

    def _is_identity(self, node_id: str) -> bool:
        found = self._kinds.get(node_id)
        if found is None:
            found = self._kinds[node_id] = self.graph.node(node_id).kind == "identity"
        return found

    def _may_hold(self, holder: str, level: str, certain_set: bool) -> bool:
        """False when `_holds` answers None for the holder, or an escalation set that cannot change
        the search's answer (one held for certain is known already)."""
        facts = self.facts(holder)
        if level == "production":
            return bool(facts.production)
        if facts.admin:
            return True
        return level == "escalate" and bool(facts.escalations) and not certain_set

    def _holds(self, principal: str, holder: str, chain: tuple[Hop, ...], level: str) -> PowerAnswer | None:
        """The answer when `holder`, reached by `chain`, holds `level` itself."""
        facts = self.facts(holder)
        chain_confidence = UNKNOWN if any(h.confidence != CONFIRMED for h in chain) else CONFIRMED
        unknowns = tuple(f"{h.via} (a condition could not be evaluated)" for h in chain if h.confidence != CONFIRMED)
        if level in ("admin", "escalate") and facts.admin and (level == "admin" or chain):
            confidence = UNKNOWN if UNKNOWN in (chain_confidence, facts.admin_confidence) else CONFIRMED
            if facts.admin_confidence != CONFIRMED:
                unknowns += (f"{facts.admin} (a condition could not be evaluated)",)
            return PowerAnswer(principal, level, holder, chain, facts.admin, confidence, unknowns)
        if level == "escalate" and facts.escalations and not facts.admin:
            certain = [e for e in facts.escalations if e.confidence == CONFIRMED]
            escalations = tuple(certain or facts.escalations)
            confidence = CONFIRMED if certain and chain_confidence == CONFIRMED else UNKNOWN
            if not certain:
                unknowns += tuple(f"{e.name}: granted only under a condition that could not be evaluated"
                                  for e in escalations)
            return PowerAnswer(principal, level, holder, chain, "; ".join(e.name for e in escalations), confidence,
                               unknowns, escalations=escalations)
        if level == "production" and facts.production:
            # Certain access first; access that is only possible makes the answer possible.
            certain = [p for p in facts.production if p.confidence == CONFIRMED]
            accesses = certain + [p for p in facts.production if p.confidence != CONFIRMED]
            if not certain:
                chain_confidence = UNKNOWN
                unknowns += tuple(p.via for p in accesses)
            return PowerAnswer(principal, level, holder, chain, accesses[0].via, chain_confidence, unknowns,
                               production=tuple(accesses))
        return None

    def unknowns(self, principal: str) -> tuple[str, ...]:
        """What about the principal, and every identity it reaches, was not known: its own first,
        then the others' in text order."""
        if principal not in self._unknowns:
            self.explore([principal])
            own = self.facts(principal).unknown if self._is_identity(principal) else []
            reached = self._reached_unknowns().get(principal, frozenset())
            self._unknowns[principal] = tuple(dict.fromkeys([*own, *sorted(reached)]))
        return self._unknowns[principal]

    def _reached_unknowns(self) -> dict[str, frozenset[str]]:
        """Node -> the unknowns of every identity it reaches, itself included: one pass over the
        graph's strongly connected components (whose nodes all reach the same), last first."""
        if self._reached is None:
            graph = nx.DiGraph()
            graph.add_nodes_from(self._closed)
            follow = self._follow(False, False)
            graph.add_edges_from((node, target) for node in self._closed for target, _ in follow(node))
            components = nx.condensation(graph)
            found: dict[int, frozenset[str]] = {}
            for component in reversed(list(nx.topological_sort(components))):
                members = components.nodes[component]["members"]
                own = {u for m in members if self._is_identity(m) for u in self.facts(m).unknown}
                found[component] = frozenset(own).union(*(found[c] for c in components.successors(component)))
            self._reached = {node: found[c] for node, c in components.graph["mapping"].items()}
        return self._reached


def analyse_identities(graph: EstateGraph, config: Config, production: dict[str, str],
                       ci_nodes: Iterable[str] = (), identities: Iterable[str] = ()) -> IdentityGraph:
    """The identity graph, with every identity a CI node runs as, every CI identity of its own
    (`identities`: federated roles, CI users), and everything those reach evaluated. Other
    identities are not a pipeline's, and evaluating them would only cost time."""
    ci_identities = list(identities)
    identities = IdentityGraph(graph, config, production)
    starts = {n.id for node in ci_nodes for n, _ in graph.out(node, "runs_as") if n.get("kind") == "identity"}
    starts |= {i for i in ci_identities if graph.has(i)}
    identities.explore(sorted(starts))
    return identities


def _add_edges(graph: EstateGraph, node: Node, power: IdentityPower) -> None:
    """The answer's hops and powers as edges of the estate graph."""
    for hop in (*power.assumes, *power.takes_over):
        if graph.has(hop.target):
            graph.add_edge(hop.source, hop.target, hop.edge, key=hop.method, via=hop.via, method=hop.method,
                           proofs=[_proof_record(p) for p in hop.proofs], confidence=hop.confidence)
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


def _proof_record(proof: Proof) -> dict:
    return {"action": proof.action, "resource": proof.resource, "statement": proof.statement,
            "condition": proof.condition}
