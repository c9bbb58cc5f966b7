"""The analysed estate: the graph plus the facts derived from it once, before any check runs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator

from guardrails.analysis.classify import CiVerdict, classify_ci, names_ci_word, production_reason
from guardrails.analysis.coverage import Coverage, possible_exposure
from guardrails.analysis.reachability import Exposure, ExposurePath, Reachability, compute_exposure
from guardrails.analysis.segmentation import ProductionReach, production_reach
from guardrails.config import Config
from guardrails.graph import EstateGraph, Node

if TYPE_CHECKING:
    from guardrails.analysis.ci_identities import CiIdentity


@dataclass
class Estate:
    graph: EstateGraph
    config: Config
    now: dt.datetime
    ci: dict[str, CiVerdict] = field(default_factory=dict)
    # CI identities and why (analysis.ci_identities): federated roles, CI users, CI nodes' identities
    ci_identities: dict = field(default_factory=dict)
    production: dict[str, str] = field(default_factory=dict)
    exposure: dict[str, Exposure] = field(default_factory=dict)  # of CI nodes: what every check asks about
    identity: dict = field(default_factory=dict)  # identity id -> IdentityFacts (analysis/identity.py)
    identities: Any = None  # the IdentityGraph (analysis/identity.py): power of any principal, with its chain
    reach: Reachability | None = None
    coverage: Coverage | None = None  # what was not seen about each node (analysis.coverage)
    # of CI nodes that reach any: the production nodes they can open connections to (analysis.segmentation)
    production_reach: dict[str, ProductionReach] = field(default_factory=dict)

    def ci_nodes(self) -> Iterator[tuple[Node, CiVerdict]]:
        for node_id in sorted(self.ci):
            yield self.graph.node(node_id), self.ci[node_id]

    def hosted_ci_identities(self) -> Iterator[tuple[Node, "CiIdentity"]]:
        """The CI identities that are a pipeline's by themselves (federated, CI users, configured),
        not only as a CI node's: the identity checks report on these with the identity as resource."""
        for identity_id in sorted(self.ci_identities):
            verdict = self.ci_identities[identity_id]
            if verdict.hosted:
                yield self.graph.node(identity_id), verdict

    def identities_of(self, node_id: str) -> list[tuple[Node, dict]]:
        return sorted(((n, e) for n, e in self.graph.out(node_id, "runs_as") if n.kind == "identity"),
                      key=lambda pair: pair[0].id)

    def power_of(self, principal: str, level: str | None = None):
        """The power of any principal (an identity node id): the strongest (PowerAnswer) when
        `level` is None, else the shortest chain to `level` (admin, escalate, production) or None.
        Identities outside the CI set are evaluated on demand."""
        if level is None:
            return self.identities.power(principal)
        return self.identities.reach(principal, level)

    def exposed(self, node_id: str) -> bool | str:
        """True when the internet reaches the node for certain, "unknown" when only through a layer
        that was not collected or is known only after apply, False when it does not."""
        exposure = self.exposure.get(node_id)
        if exposure is None:
            return False
        return True if any(not path.assumptions for path in exposure.paths) else "unknown"

    def exposure_paths(self, node_id: str) -> tuple[list[ExposurePath], tuple[str, ...]]:
        """The paths by which the internet reaches the node and what they rest on that is unknown:
        the paths that hold for certain when there are any (and nothing unknown), else every
        possible path with its assumptions. ([], ()) when the internet does not reach it."""
        exposure = self.exposure.get(node_id)
        if exposure is None:
            return [], ()
        certain = [path for path in exposure.paths if not path.assumptions]
        if certain:
            return certain, ()
        return list(exposure.paths), tuple(exposure.assumptions)


def ci_label(node: Node, verdict: CiVerdict) -> str:
    return f"CI {verdict.role} {node.name}" + (f" ({node.id})" if node.name != node.id else "")


def classify_nodes(graph: EstateGraph, config: Config) -> dict[str, CiVerdict]:
    verdicts = {}
    # Members of a fleet share all their words but their names. Once one member holds no CI word
    # anywhere, another with the same shared words is settled by its name alone; words never run
    # across the parts of a node's text, so the parts can be looked at apart. Configured selectors
    # and exclusions match on ids and names, so they take the full path.
    by_words = not config.ci_nodes and not config.ci_exclude
    quiet: set[tuple] = set()
    for node_id, attrs in graph.nodes(kind="compute"):
        name = attrs.get("name") or node_id
        tags = attrs.get("tags") or {}
        image, group, managed = attrs.get("image_name"), attrs.get("autoscaling_group"), bool(attrs.get("managed_service"))
        network_tags: tuple[str, ...] = ()
        for iface in attrs.get("interfaces") or ():
            if iface.get("network_tags"):
                network_tags = tuple(sorted({t for i in attrs["interfaces"] for t in i.get("network_tags") or ()}))
                break
        shared = None
        if by_words and not managed:
            shared = (image, group, network_tags,
                      tuple(item for item in tags.items() if item[0] != "Name" or item[1] != name))
            if shared in quiet and not names_ci_word(name.lower()):
                continue
        verdict = classify_ci(node_id, name, tags, image=image, autoscaling_group=group, managed_service=managed,
                              network_tags=network_tags,
                              in_network=attrs.get("in_network", True), config=config)
        if verdict:
            verdicts[node_id] = verdict
        elif shared is not None:
            quiet.add(shared)
    return verdicts


def classify_production(graph: EstateGraph, config: Config) -> dict[str, str]:
    """Production accounts, groups, networks, subnets and compute; a node inherits from where it
    lives (its account, its group, its network or subnet).

    Kinds are taken outermost first, so a node's parents are settled before the node."""
    prod: dict[str, str] = {}
    for kind in ("account", "group", "network", "subnet", "compute", "load_balancer", "identity"):
        for node_id, attrs in graph.nodes(kind):
            reason = production_reason(node_id, attrs.get("name") or node_id, attrs.get("tags") or {}, config,
                                       aliases=attrs.get("aliases") or ())
            if reason is None and attrs.get("account") in config.production_accounts:
                reason = f"account {attrs.get('account')} is production (configuration)"
            if reason is None and prod and kind not in ("account", "network"):
                reason = _inherited(graph, prod, kind, attrs)
            if reason:
                prod[node_id] = reason
    return prod


def _inherited(graph: EstateGraph, prod: dict[str, str], kind: str, attrs: dict) -> str | None:
    parents = [attrs.get("network")] if kind == "subnet" else []
    if kind in ("compute", "load_balancer"):
        parents = [i.get("subnet") for i in attrs.get("interfaces") or []] + list(attrs.get("subnets") or [])
    parents += [attrs.get("group"), attrs.get("account")]
    for parent in parents:
        if parent and parent in prod:
            return f"in production {graph.node(parent).kind} {graph.node(parent).name} ({prod[parent]})"
    return None


def analyse(graph: EstateGraph, config: Config | None = None, now: dt.datetime | None = None,
            classified: Callable[[Estate], None] | None = None) -> Estate:
    """The estate's facts; `classified` is called once CI and production nodes are known, before
    anything is derived from them (a shard of a split scan trades its production nodes there)."""
    config = config or Config()
    estate = Estate(graph, config, now or dt.datetime.now(dt.timezone.utc))
    estate.ci = classify_nodes(graph, config)
    estate.production = classify_production(graph, config)
    if classified is not None:
        classified(estate)
    estate.reach = Reachability(graph)
    estate.exposure = compute_exposure(graph, estate.reach, among=estate.ci)
    estate.production_reach = production_reach(graph, estate.reach, estate.ci, estate.production)
    from guardrails.analysis.identity import analyse_identities

    from guardrails.analysis.ci_identities import classify_identities

    estate.ci_identities = classify_identities(graph, config, estate.ci)
    estate.identities = analyse_identities(graph, config, estate.production, estate.ci,
                                           identities=[i for i, v in estate.ci_identities.items() if v.hosted])
    estate.identity = estate.identities.evaluated()
    # Last: identity evaluation adds the gaps of the policies it could not read.
    estate.coverage = Coverage(graph, estate.reach)
    possible_exposure(graph, estate.reach, estate.coverage, estate.exposure, among=estate.ci)
    return estate
