"""Segmentation: the production nodes each CI node can open connections to, and how.

A CI interface reaches a production interface when routes join their subnets both ways
(`routing.py`), the CI node's own firewalls let the request out, the production node's firewalls
let it in on some TCP or UDP port, and the stateless network ACLs of both subnets pass the request
and its answer. Computed once per estate, for CI nodes only.

A large estate has thousands of runners and tens of thousands of production interfaces, so
answers are cached at the widest scope where they hold, and every cache is keyed by values (ids,
tuples of ids, the indexes of the rules a principal matches), never by the identity of an object:

- runner fleets: interfaces with the same security groups in one subnet, or in subnets alike to
  every rule and route of the estate, share one answer when no CIDR rule tells their addresses apart;
- production tiers: interfaces with the same security groups in one subnet are judged together;
- pairs of subnets: routes, and network ACL answers when no ACL rule tells the subnets' addresses
  apart, are looked up once per pair.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import Mapping, NamedTuple

from guardrails.analysis.reachability import Reachability
from guardrails.analysis.routing import joining_routes, sending_address
from guardrails.graph import EstateGraph, Node
from guardrails.netsets import AddressSet, RangeSet, cidr_range
from guardrails.rules import (EPHEMERAL_PORTS, SERVICE_PORTS, Admission, Layer, Principal, Rule, admits_principal,
                              everything, format_portmap)


class ReachedTarget(NamedTuple):
    """One production node a CI node can open connections to. A named tuple: a fleet's answer
    holds one per production node it reaches, and a tuple is the cheapest record to make."""

    target: str  # the production node's id
    subnet: str  # the subnet of its interface that admits the CI node
    groups: tuple[str, ...]  # that interface's firewall groups, sorted
    ports: dict[str, RangeSet]  # the TCP and UDP ports that every layer on the way admits
    port_labels: tuple[str, ...]  # the same, as finding labels (tcp/22, all, ...)
    rules: tuple[Rule, ...]  # the production side's ingress rules that admit the CI node
    path: tuple[str, ...]  # the routes joining the two subnets both ways

    def rules_of(self, firewall_id: str) -> list[str]:
        """The texts of the admitting rules that live in this firewall (each rule carries its id)."""
        return [rule.describe() for rule in self.rules if rule.firewall == firewall_id]


@dataclass(frozen=True)
class ProductionReach:
    """The production nodes one CI node can open connections to, sorted by id. The members of a
    runner fleet share one answer: `answer` is the value that names it (the fleet, or the node
    alone), and nodes with equal `answer` reach the same targets by the same ports, routes and
    rules, so a consumer can work on each answer once."""

    answer: tuple
    targets: tuple[ReachedTarget, ...]


def production_reach(graph: EstateGraph, reach: Reachability, ci: Mapping[str, object],
                     production: Mapping[str, str]) -> dict[str, ProductionReach]:
    """Per CI node that reaches any production node, what it reaches. A node with several
    interfaces reaches what any of them does, the first interface's answer kept for a target
    that several reach."""
    targets = _production_targets(graph, ci, production)
    if not targets:
        return {}
    paths = _Paths(graph, reach)
    # Runner fleets share security groups and subnets, or subnets alike to every rule and route:
    # when no CIDR rule on the way tells their addresses apart, one answer serves every member.
    grouping = _Fleets(graph, reach)
    fleets: dict[tuple, ProductionReach] = {}
    out: dict[str, ProductionReach] = {}
    for node_id in sorted(ci):  # the order decides which address stands for a pair of subnets
        found_sets = []
        for iface in graph.node(node_id).get("interfaces") or []:
            src_subnet = iface.get("subnet")
            src_ip = sending_address(graph, iface)
            if not src_subnet or not graph.has(src_subnet) or not src_ip:
                continue
            groups = tuple(sorted(iface.get("groups") or ()))
            selectors = _selectors(iface)
            fleet = grouping.key(src_subnet, (groups, *selectors) if selectors else groups)
            found = fleets.get(fleet)
            if found is None:
                reached, uniform = _reached_from(graph, reach, targets, paths, src_subnet, src_ip, groups, selectors)
                found = ProductionReach(("fleet", fleet) if uniform else ("node", node_id), reached)
                if uniform:
                    fleets[fleet] = found
            found_sets.append(found)
        if len(found_sets) > 1:
            merged: dict[str, ReachedTarget] = {}
            for found in found_sets:
                for item in found.targets:
                    merged.setdefault(item.target, item)
            found_sets = [ProductionReach(("node", node_id), tuple(merged[k] for k in sorted(merged)))]
        if found_sets and found_sets[0].targets:
            out[node_id] = found_sets[0]
    return out


def _selectors(iface: dict) -> tuple:
    """The interface's network tags and service accounts, sorted; empty when it has neither (then
    its firewalls' rules tell it apart by address and groups alone)."""
    tags, accounts = iface.get("network_tags"), iface.get("service_accounts")
    return (tuple(sorted(tags or ())), tuple(sorted(accounts or ()))) if tags or accounts else ()


class _Target:
    """One production interface: its address is parsed only when a firewall must tell it apart."""

    __slots__ = ("node", "ip", "groups", "selectors", "_principal")

    def __init__(self, node: Node, ip: str, groups: tuple[str, ...], selectors: tuple = ()) -> None:
        self.node, self.ip, self.groups, self.selectors, self._principal = node, ip, groups, selectors, None

    @property
    def principal(self) -> Principal:
        if self._principal is None:
            tags, accounts = self.selectors or ((), ())
            self._principal = Principal(addresses=AddressSet.parse(self.ip), groups=frozenset(self.groups),
                                        tags=frozenset(tags), service_accounts=frozenset(accounts))
        return self._principal


# network -> (subnet, firewall groups, selectors) -> the production interfaces there
_Targets = dict[str, dict[tuple, list[_Target]]]


def _production_targets(graph: EstateGraph, ci: Mapping[str, object], production: Mapping[str, str]) -> _Targets:
    """Production interfaces by network, then by (subnet, security groups): the pieces that share
    one answer from a firewall are evaluated once."""
    out: _Targets = {}
    network_of: dict[str, tuple[bool, str | None]] = {}  # subnet -> (collected, its network)
    for node in graph.nodes("compute"):
        if node.id not in production or node.id in ci:
            continue
        for iface in node.get("interfaces") or []:
            subnet = iface.get("subnet")
            if not (subnet and iface.get("private")):
                continue
            if subnet not in network_of:
                network_of[subnet] = ((True, graph.node(subnet).get("network")) if graph.has(subnet)
                                      else (False, None))
            collected, network = network_of[subnet]
            if not collected:
                continue
            groups = tuple(sorted(iface.get("groups") or ()))
            selectors = _selectors(iface)
            out.setdefault(network, {}).setdefault((subnet, groups, selectors), []).append(
                _Target(node, iface["private"][0], groups, selectors))
    return out


# An admission with the value that names it: equal keys mean equal admissions.
_Keyed = tuple[tuple | None, Admission]
_NO_ACL: _Keyed = (None, everything())  # a subnet without a network ACL lets everything through


class _Admissions:
    """What a layer admits for a principal, named by the layer and the indexes of the rules the
    principal matches: the answer depends on nothing else, so principals that match the same
    rules share one answer and one key."""

    def __init__(self) -> None:
        self._known: dict[tuple, Admission] = {}

    def __call__(self, layer: Layer, direction: str, principal: Principal) -> _Keyed:
        key = (layer.name, layer.semantics, direction, layer.matching(direction, principal))
        found = self._known.get(key)
        if found is None:
            found = self._known[key] = admits_principal(layer, direction, principal)
        return key, found


def _passes(admission: Admission, ports: dict) -> bool:
    """Whether the admission lets through any of these ports."""
    for proto, ranges in ports.items():
        mine = admission.ports.get(proto)
        if mine is not None and mine.overlaps(ranges):
            return True
    return False


def _answer_ports(ports: dict) -> dict:
    return {proto: EPHEMERAL_PORTS for proto in ports if proto in ("tcp", "udp")}


class _Nacls:
    """What the stateless network ACLs of two subnets let pass between two principals: the request
    must leave one subnet and enter the other on the service port, and the answer must come back
    on the client's ephemeral ports."""

    def __init__(self, reach: Reachability, admissions: _Admissions, src_subnet: str, dst_subnet: str,
                 me: Principal, them: Principal, per_subnet: dict | None = None) -> None:
        src, dst = reach.nacl(src_subnet), reach.nacl(dst_subnet)
        src_layer = reach.firewall_layer(src) if src else None
        dst_layer = reach.firewall_layer(dst) if dst else None
        # A subnet firewall's rules that select protected nodes apply to the node on its side.
        if src_layer is not None and src_layer.targeted:
            src_layer = src_layer.applying_to(me)
        if dst_layer is not None and dst_layer.targeted:
            dst_layer = dst_layer.applying_to(them)

        def judge(layer: Layer | None, direction: str, principal: Principal, subnet: str) -> _Keyed:
            if layer is None:
                return _NO_ACL
            if per_subnet is None:
                return admissions(layer, direction, principal)
            # The ACL judges every address of the other subnet alike: one answer per subnet.
            key = (layer.name, direction, subnet)
            found = per_subnet.get(key)
            if found is None:
                found = per_subnet[key] = admissions(layer, direction, principal)
            return found

        self.request = (judge(src_layer, "egress", them, dst_subnet), judge(dst_layer, "ingress", me, src_subnet))
        self.answer = (judge(dst_layer, "egress", me, src_subnet), judge(src_layer, "ingress", them, dst_subnet))
        # What passes depends on these admissions alone: subnet pairs behind the same network ACLs
        # that match the same rules share one key, and one verdict per set of ports.
        self.key = tuple(key for key, _ in (*self.request, *self.answer))

    def pass_(self, ports: dict) -> bool:
        answer = _answer_ports(ports)
        return (all(_passes(adm, ports) for _, adm in self.request)
                and all(_passes(adm, answer) for _, adm in self.answer))


class _Passage(NamedTuple):
    """What every firewall between a CI interface and a production target admits, named by the
    keys of the admissions it was combined from, with the texts a finding shows."""

    key: tuple
    admitted: Admission
    labels: tuple[str, ...]
    rules: tuple[Rule, ...]  # ingress rules only: those of the production side


class _Paths:
    """Answers for pairs of (CI interface, production target), built from pieces cached at the
    widest scope where they hold: firewall answers per pair of subnets when no CIDR rule tells
    the subnets' addresses apart, routes per pair of subnets."""

    def __init__(self, graph: EstateGraph, reach: Reachability) -> None:
        self.graph, self.reach = graph, reach
        self.admissions = _Admissions()
        self.joins: dict[tuple[str, str], tuple[str, ...] | None] = {}
        self.egress: dict[tuple, _Keyed] = {}
        self.combined: dict[tuple, _Passage] = {}
        self.nacls: dict[tuple[str, str], _Nacls] = {}
        self.nacls_pass: dict[tuple, bool] = {}
        self.acl_answers: dict[tuple[str, str, str], _Keyed] = {}
        self.uniform = _Uniformity(reach)

    def answer(self, inbound: _Keyed, ci_egress: Layer | None, me: Principal, src: tuple[str, str],
               t_subnet: str, target: _Target, uniform_egress: bool,
               uniform_nacls: bool) -> tuple[_Passage, tuple[str, ...]] | None:
        """(what passes, joining routes) for one CI interface and one production target, or None.
        `inbound` is what the target's security groups admit from the CI interface."""
        if ci_egress is None:
            out: tuple = (None, None)  # no egress layer: nothing known to cut the request
        elif uniform_egress:
            key = (ci_egress.name, t_subnet, target.groups, target.selectors)
            out = self.egress.get(key)
            if out is None:
                out = self.egress[key] = self.admissions(ci_egress, "egress", target.principal)
        else:
            out = self.admissions(ci_egress, "egress", target.principal)
        passage = self._combine(inbound, out)
        if not passage.admitted:
            return None
        src_subnet = src[0]
        key = (src_subnet, t_subnet)
        joined = self.joins.get(key, False)
        if joined is False:
            # Routes are looked up once per pair of subnets: a route narrower than a subnet is rare.
            joined = self.joins[key] = joining_routes(self.graph, self.reach, src, (t_subnet, target.ip))
        if joined is None:
            return None
        if src_subnet != t_subnet:
            if uniform_nacls:
                nacls = self.nacls.get(key)
                if nacls is None:
                    nacls = self.nacls[key] = _Nacls(self.reach, self.admissions, src_subnet, t_subnet, me,
                                                     target.principal, self.acl_answers)
                verdict_key = (nacls.key, passage.key)
                passes = self.nacls_pass.get(verdict_key)
                if passes is None:
                    passes = self.nacls_pass[verdict_key] = nacls.pass_(passage.admitted.ports)
            else:
                passes = _Nacls(self.reach, self.admissions, src_subnet, t_subnet, me,
                                target.principal).pass_(passage.admitted.ports)
            if not passes:
                return None
        return passage, joined

    def _combine(self, inbound: _Keyed, out: tuple) -> _Passage:
        """The services both the target's ingress and the CI node's egress admit (no egress
        layer: the CI node's groups were not collected, and only ingress is known)."""
        key = (inbound[0], out[0])
        found = self.combined.get(key)
        if found is None:
            admitted = inbound[1].services()
            if out[1] is not None:
                admitted = admitted.intersect(out[1])
            found = self.combined[key] = _Passage(key, admitted, tuple(format_portmap(admitted.ports)),
                                                  tuple(r for r in admitted.rules if r.direction == "ingress"))
        return found


class _Uniformity:
    """Whether a layer's CIDR rules judge every address of a subnet alike: each rule holds all of
    the subnet or none of it. Layers that name the same address sets share answers; the sets are
    compared once per layer, then known by a number."""

    def __init__(self, reach: Reachability) -> None:
        self.reach = reach
        self._peers_of: dict[str, int] = {}  # layer name -> number of its set of CIDR peers
        self._numbers: dict[frozenset, int] = {}
        self._answers: dict[tuple[int, str], bool] = {}

    def __call__(self, layer: Layer | None, subnet_id: str) -> bool:
        if layer is None:
            return True
        number = self._peers_of.get(layer.name)
        if number is None:
            number = self._peers_of[layer.name] = self._numbers.setdefault(layer.cidr_peers, len(self._numbers))
        key = (number, subnet_id)
        found = self._answers.get(key)
        if found is None:
            found = self._answers[key] = _judged_alike(layer.cidr_peers, self.reach.subnet_addresses(subnet_id))
        return found


def _judged_alike(peers: frozenset[AddressSet], subnet: AddressSet) -> bool:
    if not subnet.v6 and len(subnet.v4.ranges) == 1:  # the usual subnet: one IPv4 range
        lo, hi = subnet.v4.ranges[0]
        return all(_alike(peer.v4.ranges, lo, hi) for peer in peers)
    return all(not peer.overlaps(subnet) or (peer.v4.covers(subnet.v4) and peer.v6.covers(subnet.v6))
               for peer in peers)


def _alike(ranges: tuple[tuple[int, int], ...], lo: int, hi: int) -> bool:
    """Whether sorted disjoint ranges hold all of lo..hi or none of it."""
    for first, last in ranges:
        if first <= hi and lo <= last:
            return first <= lo and last >= hi
    return True


class _Fleets:
    """Which CI interfaces get one answer. Interfaces with the same security groups in one subnet
    do when no CIDR rule tells their addresses apart. So do those in different subnets of one
    network with the same route table and network ACL, when no address range that any rule or
    route in the estate names starts or ends inside either subnet or between them: every firewall
    and every route then judges their addresses alike (runner fleets spread over one subnet per
    availability zone)."""

    def __init__(self, graph: EstateGraph, reach: Reachability) -> None:
        self.graph, self.reach = graph, reach
        self._cuts: list[int] | None = None
        self._keys: dict[str, tuple | None] = {}

    def key(self, subnet_id: str, groups: tuple[str, ...]) -> tuple:
        place = self._keys.get(subnet_id, False)
        if place is False:
            place = self._keys[subnet_id] = self._place(subnet_id)
        return (place, groups) if place is not None else (subnet_id, groups)

    def _place(self, subnet_id: str) -> tuple | None:
        """Where the subnet sits among every address boundary of the estate, or None when one cuts it."""
        ranges = self.reach.subnet_addresses(subnet_id).v4.ranges
        if len(ranges) != 1:
            return None
        cuts = self._boundaries()
        if cuts is None:
            return None
        lo, hi = ranges[0]
        slot = bisect_right(cuts, lo)
        if bisect_right(cuts, hi) != slot:
            return None
        table = self.reach.route_table(subnet_id)
        nacl = self.reach.nacl(subnet_id)
        return (self.graph.node(subnet_id).get("network"), table[0].id if table else None,
                nacl.id if nacl else None, slot)

    def _boundaries(self) -> list[int] | None:
        """The first address of every range a rule or route names, and the address after its
        last; None when a route's destination cannot be read (no grouping then)."""
        if self._cuts is None:
            graph = self.graph
            points: set[int] = set()
            for node in graph.nodes("firewall"):
                for rule in node.get("rules") or ():
                    for peer in rule.peers:
                        if peer.kind == "cidr":
                            for first, last in peer.addresses.v4.ranges:
                                points.add(first)
                                points.add(last + 1)
            destinations = [route.get("destination") for node in graph.nodes("route_table")
                            for route in node.get("routes") or ()]
            destinations += [route.get("destination") for node in graph.nodes("gateway")
                             for routes in (node.get("route_tables") or {}).values() for route in routes]
            for destination in destinations:
                if destination is None:
                    continue  # a route without a readable destination carries nothing here
                try:
                    version, (first, last) = cidr_range(destination)
                except (TypeError, ValueError):
                    return None
                if version == 4:
                    points.add(first)
                    points.add(last + 1)
            self._cuts = sorted(points)
        return self._cuts


def _reached_from(graph: EstateGraph, reach: Reachability, targets: _Targets, paths: _Paths, src_subnet: str,
                  src_ip: str, groups: tuple[str, ...], selectors: tuple = ()) -> tuple[tuple[ReachedTarget, ...], bool]:
    """The production targets one CI interface reaches, sorted by id, and whether the answer holds
    for any address of its subnet (then the whole fleet shares it)."""
    tags, accounts = selectors or ((), ())
    me = Principal(addresses=AddressSet.parse(src_ip), groups=frozenset(groups), tags=frozenset(tags),
                   service_accounts=frozenset(accounts))
    src = (src_subnet, src_ip)
    ci_egress = reach.group_layer(groups, me)
    src_nacl = reach.nacl(src_subnet)
    src_nacl_layer = reach.firewall_layer(src_nacl) if src_nacl else None
    # The targets' security groups judge this interface alone: (what they admit, whether that opens
    # a service, whether any address of its subnet gets the same answer).
    inbound_of: dict[str, tuple[_Keyed, bool, bool]] = {}
    subnet_facts: dict[str, tuple[bool, bool, bool]] = {}
    reached: dict[str, ReachedTarget] = {}
    all_uniform = True

    def add(target: _Target, found: tuple[_Passage, tuple[str, ...]], t_subnet: str, t_groups: tuple[str, ...]):
        if target.node.id not in reached:
            passage, joined = found
            reached[target.node.id] = ReachedTarget(target.node.id, t_subnet, t_groups, passage.admitted.ports,
                                                    passage.labels, passage.rules, joined)

    for network in sorted(n for n in graph.joined_networks(graph.node(src_subnet).get("network")) if n in targets):
        for (t_subnet, t_groups, _), all_members in sorted(targets[network].items()):
            base = reach.group_layer(t_groups)
            if base is None:
                continue
            for layer, members in _by_applying_layer(base, all_members):
                all_uniform = _reach_targets(paths, reach, layer, members, me, src, src_subnet, t_subnet, t_groups,
                                             ci_egress, src_nacl_layer, subnet_facts, inbound_of, add) and all_uniform
    return tuple(reached[k] for k in sorted(reached)), all_uniform


def _by_applying_layer(base: Layer, members: list[_Target]):
    """The production interfaces of one (subnet, groups, selectors), split by the rules of their
    firewalls that apply to them: all together unless a rule selects nodes by address."""
    if not base.targeted:
        yield base, members
        return
    if not base.targets_by_address:  # selected by tags and service accounts alone: the same for all
        yield base.applying_to(members[0].principal), members
        return
    split: dict[str, tuple[Layer, list[_Target]]] = {}
    for target in members:
        layer = base.applying_to(target.principal)
        split.setdefault(layer.name, (layer, []))[1].append(target)
    yield from split.values()


def _reach_targets(paths: "_Paths", reach: Reachability, layer: Layer, members: list[_Target], me: Principal,
                   src: tuple[str, str], src_subnet: str, t_subnet: str, t_groups: tuple[str, ...],
                   ci_egress: Layer | None, src_nacl_layer: Layer | None, subnet_facts: dict, inbound_of: dict,
                   add) -> bool:
    """Add the members that the CI interface reaches through the target layer; whether the answer
    holds for any address of the CI subnet."""
    facts = subnet_facts.get(t_subnet)
    if facts is None:
        dst_nacl = reach.nacl(t_subnet)
        dst_nacl_layer = reach.firewall_layer(dst_nacl) if dst_nacl else None
        dst_nacl_uniform = paths.uniform(dst_nacl_layer, src_subnet)
        src_nacl_uniform = paths.uniform(src_nacl_layer, t_subnet)
        facts = subnet_facts[t_subnet] = (
            dst_nacl_uniform,  # the answer holds for any address of the CI subnet
            paths.uniform(ci_egress, t_subnet),  # the CI egress rules judge the target subnet as one
            src_nacl_uniform and dst_nacl_uniform)  # so do both network ACLs
    dst_nacl_uniform, uniform_egress, uniform_nacls = facts
    seen = inbound_of.get(layer.name)
    if seen is None:
        inbound = paths.admissions(layer, "ingress", me)
        seen = inbound_of[layer.name] = (inbound, _passes(inbound[1], SERVICE_PORTS),
                                         paths.uniform(layer, src_subnet))
    inbound, opens_service, layer_uniform = seen
    uniform = dst_nacl_uniform and layer_uniform
    if not opens_service:
        return uniform
    if uniform_egress and uniform_nacls:
        found = paths.answer(inbound, ci_egress, me, src, t_subnet, members[0], True, True)
        if found is not None:
            for target in members:
                add(target, found, t_subnet, t_groups)
        return uniform
    for target in members:
        found = paths.answer(inbound, ci_egress, me, src, t_subnet, target, uniform_egress, uniform_nacls)
        if found is not None:
            add(target, found, t_subnet, t_groups)
    return uniform
