"""The analysed estate: the graph plus the facts derived from it once, before any check runs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Iterator

from guardrails.analysis.classify import CiVerdict, classify_ci, production_reason
from guardrails.analysis.reachability import Exposure, Reachability, compute_exposure
from guardrails.config import Config
from guardrails.graph import EstateGraph, Node


@dataclass
class Estate:
    graph: EstateGraph
    config: Config
    now: dt.datetime
    ci: dict[str, CiVerdict] = field(default_factory=dict)
    production: dict[str, str] = field(default_factory=dict)
    exposure: dict[str, Exposure] = field(default_factory=dict)
    identity: dict = field(default_factory=dict)  # identity id -> IdentityFacts (analysis.identity)
    reach: Reachability | None = None

    def ci_nodes(self) -> Iterator[tuple[Node, CiVerdict]]:
        for node_id in sorted(self.ci):
            yield self.graph.node(node_id), self.ci[node_id]

    def identities_of(self, node_id: str) -> list[tuple[Node, dict]]:
        return sorted(((n, e) for n, e in self.graph.out(node_id, "runs_as") if n.kind == "identity"),
                      key=lambda pair: pair[0].id)


def ci_label(node: Node, verdict: CiVerdict) -> str:
    return f"CI {verdict.role} {node.name}" + (f" ({node.id})" if node.name != node.id else "")


def classify_nodes(graph: EstateGraph, config: Config) -> dict[str, CiVerdict]:
    verdicts = {}
    for node in graph.nodes("compute"):
        verdict = classify_ci(node.id, node.name, node.get("tags") or {}, image=node.get("image_name"),
                              autoscaling_group=node.get("autoscaling_group"),
                              managed_service=bool(node.get("managed_service")),
                              in_network=node.get("in_network", True), config=config)
        if verdict:
            verdicts[node.id] = verdict
    return verdicts


def classify_production(graph: EstateGraph, config: Config) -> dict[str, str]:
    """Production accounts, networks, subnets and compute; a node inherits from where it lives."""
    prod: dict[str, str] = {}
    for kind in ("account", "network", "subnet", "compute", "load_balancer", "identity"):
        for node in graph.nodes(kind):
            reason = production_reason(node.id, node.name, node.get("tags") or {}, config,
                                       aliases=node.get("aliases") or ())
            if reason is None and node.get("account") in config.production_accounts:
                reason = f"account {node.get('account')} is production (configuration)"
            if reason:
                prod[node.id] = reason
    for kind in ("subnet", "compute", "load_balancer", "identity"):
        for node in graph.nodes(kind):
            if node.id in prod:
                continue
            parents = [node.get("network")] if kind == "subnet" else []
            if kind in ("compute", "load_balancer"):
                parents = [i.get("subnet") for i in node.get("interfaces") or []] + list(node.get("subnets") or [])
            parents.append(node.get("account"))
            for parent in parents:
                if parent and parent in prod:
                    prod[node.id] = f"in production {graph.node(parent).kind} {graph.node(parent).name} ({prod[parent]})"
                    break
    return prod


def analyse(graph: EstateGraph, config: Config | None = None, now: dt.datetime | None = None) -> Estate:
    config = config or Config()
    estate = Estate(graph, config, now or dt.datetime.now(dt.timezone.utc))
    estate.ci = classify_nodes(graph, config)
    estate.production = classify_production(graph, config)
    estate.reach = Reachability(graph)
    estate.exposure = compute_exposure(graph, estate.reach)
    from guardrails.analysis.identity import analyse_identities

    estate.identity = analyse_identities(graph, config, estate.production, estate.ci)
    return estate
