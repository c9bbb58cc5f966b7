"""Runners are segmented: a build cannot open connections into production."""

from __future__ import annotations

import ipaddress
from bisect import bisect_right
from dataclasses import dataclass
from typing import Iterator

from guardrails.analysis.estate import Estate, ci_label as describe
from guardrails.analysis.reachability import step
from guardrails.graph import EstateGraph, Node
from guardrails.netsets import AddressSet, cidr_range
from guardrails.registry import Result, Severity, check
from guardrails.rules import EPHEMERAL_PORTS, SERVICE_PORTS, Admission, Layer, Principal, everything, format_portmap


def _address(iface: dict, graph: EstateGraph) -> str | None:
    """An address the interface sends from: its private IP, else its subnet's first host."""
    if iface.get("private"):
        return iface["private"][0]
    subnet = iface.get("subnet")
    if subnet and graph.has(subnet):
        for cidr in graph.node(subnet).get("cidrs") or []:
            net = ipaddress.ip_network(cidr, strict=False)
            if net.version == 4:
                return str(net.network_address + 4)  # AWS reserves the first four
    return None


def _route(graph: EstateGraph, estate: Estate, subnet_id: str, dest_ip: str) -> tuple[str | None, str]:
    """Longest-prefix-match target for dest_ip from the subnet's route table: (target, route text)."""
    found = estate.reach.route_table(subnet_id)
    if not found:
        return None, ""
    rt = found[0]
    best = _longest_match(rt.get("routes") or [], dest_ip)
    if best is None:
        return None, ""
    return best.get("target"), f"route {best['destination']} -> {best.get('target')} in {rt.id}"


def _joined(graph: EstateGraph, estate: Estate, src: tuple[str, str], dst: tuple[str, str]) -> list[str] | None:
    """Route texts joining (subnet, ip) to (subnet, ip) both ways, or None when no route carries it."""
    src_subnet, src_ip = src
    dst_subnet, dst_ip = dst
    src_net = graph.node(src_subnet).get("network")
    dst_net = graph.node(dst_subnet).get("network")
    if src_net == dst_net:
        return [f"same network {graph.node(src_net).name if graph.has(src_net) else src_net} (local route)"]
    there, there_text = _route(graph, estate, src_subnet, dst_ip)
    back, back_text = _route(graph, estate, dst_subnet, src_ip)
    if not there or not back or there == "local" or back == "local":
        return None
    for gw_id in {there, back}:
        if not graph.has(gw_id):
            return None
    gw_there, gw_back = graph.node(there), graph.node(back)
    kind = gw_there.get("gateway_type")
    if kind == "peering" and there == back:
        ends = {gw_there.get("requester"), gw_there.get("accepter")}
        if ends == {src_net, dst_net}:
            return [there_text, back_text]
        return None
    if kind == "transit" and gw_back.get("gateway_type") == "transit" and there == back:
        if _tgw_carries(gw_there, src_net, dst_net, dst_ip) and _tgw_carries(gw_there, dst_net, src_net, src_ip):
            return [there_text, f"transit gateway {there} routes both ways", back_text]
    return None


def _longest_match(routes: list[dict], dest_ip: str) -> dict | None:
    """The route whose destination holds the address with the longest prefix (the narrowest range)."""
    version, (ip, _) = cidr_range(dest_ip)
    best, best_size = None, None
    for route in routes:
        route_version, (first, last) = cidr_range(route["destination"])
        if route_version == version and first <= ip <= last and (best_size is None or last - first < best_size):
            best, best_size = route, last - first
    return best


def _tgw_carries(tgw: Node, from_net: str, to_net: str, dest_ip: str) -> bool:
    attachments = tgw.get("attachments") or []
    src_att = next((a for a in attachments if a.get("resource") == from_net), None)
    dst_att = next((a for a in attachments if a.get("resource") == to_net), None)
    if not src_att or not dst_att:
        return False
    routes = (tgw.get("route_tables") or {}).get(src_att.get("route_table"))
    if routes is None:
        return False
    best = _longest_match([r for r in routes if r.get("destination") and r.get("state") != "blackhole"], dest_ip)
    return bool(best) and dst_att.get("id") in best.get("attachments", [])


def _passes(admission: Admission, ports: dict) -> bool:
    """Whether the admission lets through any of these ports."""
    for proto, ranges in ports.items():
        mine = admission.ports.get(proto)
        if mine is not None and mine.overlaps(ranges):
            return True
    return False


def _answer_ports(ports: dict) -> dict:
    return {proto: EPHEMERAL_PORTS for proto in ports if proto in ("tcp", "udp")}


_NO_ACL = everything()  # a subnet without a network ACL lets everything through; one object, never changed


class _Nacls:
    """What the stateless network ACLs of two subnets let pass between two principals: the request
    must leave one subnet and enter the other on the service port, and the answer must come back
    on the client's ephemeral ports."""

    def __init__(self, estate: Estate, src_subnet: str, dst_subnet: str, me: Principal, them: Principal,
                 per_subnet: dict | None = None) -> None:
        reach = estate.reach
        src, dst = reach.nacl(src_subnet), reach.nacl(dst_subnet)
        src_layer = reach.firewall_layer(src) if src else None
        dst_layer = reach.firewall_layer(dst) if dst else None

        def judge(layer: Layer | None, direction: str, principal: Principal, subnet: str) -> Admission:
            if layer is None:
                return _NO_ACL
            if per_subnet is None:
                return reach.admits(layer, direction, principal)
            # The ACL judges every address of the other subnet alike: one answer per subnet.
            key = (layer.name, direction, subnet)
            found = per_subnet.get(key)
            if found is None:
                found = per_subnet[key] = reach.admits(layer, direction, principal)
            return found

        self.request = (judge(src_layer, "egress", them, dst_subnet), judge(dst_layer, "ingress", me, src_subnet))
        self.answer = (judge(dst_layer, "egress", me, src_subnet), judge(src_layer, "ingress", them, dst_subnet))
        # What passes depends on these admissions alone, and subnet pairs behind the same network
        # ACLs share them (the reachability caches keep them alive, so their ids are stable).
        self.key = tuple(id(adm) for adm in (*self.request, *self.answer))

    def pass_(self, ports: dict) -> bool:
        answer = _answer_ports(ports)
        return (all(_passes(adm, ports) for adm in self.request)
                and all(_passes(adm, answer) for adm in self.answer))


class _Target:
    """One production interface: its address is parsed only when a firewall must tell it apart."""

    __slots__ = ("node", "ip", "groups", "_principal")

    def __init__(self, node: Node, ip: str, groups: tuple[str, ...]) -> None:
        self.node, self.ip, self.groups, self._principal = node, ip, groups, None

    @property
    def principal(self) -> Principal:
        if self._principal is None:
            self._principal = Principal(addresses=AddressSet.parse(self.ip), groups=frozenset(self.groups))
        return self._principal


def _production_targets(estate: Estate) -> dict[str, dict[tuple[str, tuple[str, ...]], list[_Target]]]:
    """Production interfaces by network, then by (subnet, security groups): the pieces that share
    one answer from a firewall are evaluated once."""
    graph = estate.graph
    out: dict[str, dict[tuple[str, tuple[str, ...]], list[_Target]]] = {}
    network_of: dict[str, tuple[bool, str | None]] = {}  # subnet -> (collected, its network)
    for node in graph.nodes("compute"):
        if node.id not in estate.production or node.id in estate.ci:
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
            out.setdefault(network, {}).setdefault((subnet, groups), []).append(
                _Target(node, iface["private"][0], groups))
    return out


MAX_LISTED = 20


class _Paths:
    """Answers for pairs of (CI interface, production target), built from pieces cached at the
    widest scope where they hold: firewall answers per pair of subnets when no CIDR rule tells
    the subnets' addresses apart, routes per pair of subnets. Admissions come from the
    reachability caches, which keep them alive, so their ids are stable keys."""

    def __init__(self, estate: Estate) -> None:
        self.estate = estate
        self.joins: dict[tuple[str, str], list[str] | None] = {}
        self.egress: dict[tuple, Admission] = {}
        self.combined: dict[tuple[int, int], Admission] = {}
        self.nacls: dict[tuple[str, str], _Nacls] = {}
        self.nacls_pass: dict[tuple, bool] = {}
        self.acl_answers: dict[tuple[str, str, str], Admission] = {}
        self.uniform = _Uniformity(estate)

    def answer(self, inbound: Admission, ci_egress: Layer | None, me: Principal, src: tuple[str, str],
               t_subnet: str, target: _Target, uniform_egress: bool, uniform_nacls: bool):
        """(admitted ports, joining routes) for one CI interface and one production target, or False.
        `inbound` is what the target's security groups admit from the CI interface."""
        estate = self.estate
        if ci_egress is None:
            out = None
        elif uniform_egress:
            key = (ci_egress.name, t_subnet, target.groups)
            out = self.egress.get(key)
            if out is None:
                out = self.egress[key] = estate.reach.admits(ci_egress, "egress", target.principal)
        else:
            out = estate.reach.admits(ci_egress, "egress", target.principal)
        both = (id(inbound), id(out))
        admitted = self.combined.get(both)
        if admitted is None:
            admitted = inbound.services()
            if out is not None:
                admitted = admitted.intersect(out)
            self.combined[both] = admitted
        if not admitted:
            return False
        src_subnet = src[0]
        key = (src_subnet, t_subnet)
        joined = self.joins.get(key, False)
        if joined is False:
            # Routes are looked up once per pair of subnets: a route narrower than a subnet is rare.
            joined = self.joins[key] = _joined(estate.graph, estate, src, (t_subnet, target.ip))
        if joined is None:
            return False
        if src_subnet != t_subnet:
            if uniform_nacls:
                nacls = self.nacls.get(key)
                if nacls is None:
                    nacls = self.nacls[key] = _Nacls(estate, src_subnet, t_subnet, me, target.principal,
                                                     self.acl_answers)
                verdict_key = (nacls.key, id(admitted))
                passes = self.nacls_pass.get(verdict_key)
                if passes is None:
                    passes = self.nacls_pass[verdict_key] = nacls.pass_(admitted.ports)
            else:
                passes = _Nacls(estate, src_subnet, t_subnet, me, target.principal).pass_(admitted.ports)
            if not passes:
                return False
        return admitted, joined


class _Uniformity:
    """Whether a layer's CIDR rules judge every address of a subnet alike: each rule holds all of
    the subnet or none of it. Layers that name the same address sets share answers; the sets are
    compared once per layer, then known by a number."""

    def __init__(self, estate: Estate) -> None:
        self.reach = estate.reach
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

    def __init__(self, estate: Estate) -> None:
        self.estate = estate
        self._cuts: list[int] | None = None
        self._keys: dict[str, tuple | None] = {}

    def key(self, subnet_id: str, groups: tuple[str, ...]) -> tuple:
        place = self._keys.get(subnet_id, False)
        if place is False:
            place = self._keys[subnet_id] = self._place(subnet_id)
        return (place, groups) if place is not None else (subnet_id, groups)

    def _place(self, subnet_id: str) -> tuple | None:
        """Where the subnet sits among every address boundary of the estate, or None when one cuts it."""
        reach = self.estate.reach
        ranges = reach.subnet_addresses(subnet_id).v4.ranges
        if len(ranges) != 1:
            return None
        cuts = self._boundaries()
        if cuts is None:
            return None
        lo, hi = ranges[0]
        slot = bisect_right(cuts, lo)
        if bisect_right(cuts, hi) != slot:
            return None
        table = reach.route_table(subnet_id)
        nacl = reach.nacl(subnet_id)
        return (self.estate.graph.node(subnet_id).get("network"), table[0].id if table else None,
                nacl.id if nacl else None, slot)

    def _boundaries(self) -> list[int] | None:
        """The first address of every range a rule or route names, and the address after its
        last; None when a route's destination cannot be read (no grouping then)."""
        if self._cuts is None:
            graph = self.estate.graph
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


@check(
    id="ci-reaches-production",
    title="CI node can connect to production",
    severity=Severity.HIGH,
    stride=("tampering", "information_disclosure", "elevation_of_privilege"),
    owasp_cicd=("CICD-SEC-7",),
    remediation="Segment build runners from production: put them in their own network without peering or transit "
                "routes to production, and remove production security-group rules that admit the runners' security "
                "group or CIDR; deploy through a controlled deployment service instead.",
    needs=("routes", "acls", "firewalls", "joins", "production"),
)
def reaches_production(estate: Estate) -> Iterator[Result]:
    """A hostile build step can open connections to production systems."""
    graph = estate.graph
    targets = _production_targets(estate)
    if not targets:
        return
    paths = _Paths(estate)
    # Runner fleets share security groups and subnets, or subnets alike to every rule and route:
    # when no CIDR rule on the way tells their addresses apart, one answer serves every member.
    grouping = _Fleets(estate)
    fleets: dict[tuple, dict] = {}
    summaries: dict[int, _Summary] = {}  # per fleet answer: every member lists the same targets
    labels: dict[int, tuple[list[str], list[str]]] = {}
    for node, verdict in estate.ci_nodes():
        reached: dict[str, tuple] = {}
        found_sets = []
        for iface in node.get("interfaces") or []:
            src_subnet = iface.get("subnet")
            src_ip = _address(iface, graph)
            if not src_subnet or not graph.has(src_subnet) or not src_ip:
                continue
            groups = tuple(sorted(iface.get("groups") or ()))
            fleet = grouping.key(src_subnet, groups)
            if fleet in fleets:
                found = fleets[fleet]
            else:
                found, uniform = _reached_from(estate, targets, paths, src_subnet, src_ip, groups)
                if uniform:
                    fleets[fleet] = found
            found_sets.append(found)
        if len(found_sets) == 1 and found_sets[0] is fleets.get(fleet):
            reached = found_sets[0]
            if reached and id(reached) not in summaries:
                summaries[id(reached)] = _summarise(estate, reached, labels)
            summary = summaries.get(id(reached))
        else:
            for found in found_sets:
                for target_id, item in found.items():
                    reached.setdefault(target_id, item)
            summary = _summarise(estate, reached, labels) if reached else None
        if summary:
            yield _result(estate, node, verdict, summary)


def _reached_from(estate: Estate, targets: dict, paths: _Paths, src_subnet: str, src_ip: str,
                  groups: tuple[str, ...]) -> tuple[dict[str, tuple], bool]:
    """The production targets one CI interface reaches, and whether the answer holds for any
    address of its subnet (then the whole fleet shares it)."""
    graph, reach = estate.graph, estate.reach
    me = Principal(addresses=AddressSet.parse(src_ip), groups=frozenset(groups))
    src = (src_subnet, src_ip)
    ci_egress = reach.group_layer(groups)
    src_nacl = reach.nacl(src_subnet)
    src_nacl_layer = reach.firewall_layer(src_nacl) if src_nacl else None
    # The targets' security groups judge this interface alone: (what they admit, whether that opens
    # a service, whether any address of its subnet gets the same answer).
    inbound_of: dict[tuple[str, ...], tuple[Admission, bool, bool]] = {}
    subnet_facts: dict[str, tuple] = {}
    reached: dict[str, tuple] = {}
    all_uniform = True
    for network in sorted(n for n in graph.joined_networks(graph.node(src_subnet).get("network")) if n in targets):
        for (t_subnet, t_groups), members in sorted(targets[network].items()):
            layer = reach.group_layer(t_groups)
            if layer is None:
                continue
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
            seen = inbound_of.get(t_groups)
            if seen is None:
                inbound = reach.admits(layer, "ingress", me)
                seen = inbound_of[t_groups] = (inbound, _passes(inbound, SERVICE_PORTS),
                                               paths.uniform(layer, src_subnet))
            inbound, opens_service, layer_uniform = seen
            all_uniform = all_uniform and dst_nacl_uniform and layer_uniform
            if not opens_service:
                continue
            if uniform_egress and uniform_nacls:
                answer = paths.answer(inbound, ci_egress, me, src, t_subnet, members[0], True, True)
                if answer is not False:
                    for target in members:
                        reached.setdefault(target.node.id, (target, *answer, t_subnet, t_groups))
                continue
            for target in members:
                answer = paths.answer(inbound, ci_egress, me, src, t_subnet, target, uniform_egress, uniform_nacls)
                if answer is not False:
                    reached.setdefault(target.node.id, (target, *answer, t_subnet, t_groups))
    return reached, all_uniform


@dataclass(frozen=True)
class _Summary:
    """What a finding says about the production targets reached: shared by a whole fleet."""

    total: int
    listed: list[dict]
    steps: tuple  # from the first target's subnet to the first target
    names: str


def _summarise(estate: Estate, reached: dict, labels: dict[int, tuple[list[str], list[str]]]) -> _Summary:
    """`labels` caches the port and rule texts of each admission: fleets share admissions."""
    graph = estate.graph
    ordered = [reached[k] for k in sorted(reached)]

    def entry(target: _Target, admitted: Admission, joined: list[str], subnet: str, groups) -> dict:
        texts = labels.get(id(admitted))
        if texts is None:
            texts = labels[id(admitted)] = (format_portmap(admitted.ports),
                                            [r.describe() for r in admitted.rules if r.direction == "ingress"])
        return {"target": target.node.id, "name": target.node.name, "ports": list(texts[0]),
                "production": estate.production[target.node.id], "path": joined, "rules": list(texts[1])}

    listed = [entry(*item) for item in ordered[:MAX_LISTED]]
    first_target, _, _, first_subnet, first_groups = ordered[0]
    first = listed[0]
    steps = [step(graph.node(first_subnet), "; ".join(first["path"]))]
    for gid in first_groups:
        texts = [r for r in first["rules"] if r.startswith(gid + " ")]
        if texts:
            steps.append(step(graph.node(gid), "; ".join(texts)))
    steps.append(step(first_target.node, f"production: {first['production']}"))
    names = [f"{r['name']} ({', '.join(r['ports'])})" for r in listed[:5]]
    more = len(ordered) - len(names)
    return _Summary(len(ordered), listed, tuple(steps), "; ".join(names) + (f" (+{more} more)" if more > 0 else ""))


def _result(estate: Estate, node: Node, verdict, summary: _Summary) -> Result:
    return Result(node.id, f"{describe(node, verdict)} can open connections to {summary.total} production node(s): "
                           f"{summary.names}.",
                  path=(step(node, ""), *summary.steps), ports=tuple(summary.listed[0]["ports"]),
                  details={"production_nodes": summary.listed, "production_nodes_total": summary.total})
