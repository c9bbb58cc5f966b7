"""Runners are segmented: a build cannot open connections into production."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Iterator

from guardrails.analysis.estate import Estate, ci_label as describe
from guardrails.analysis.reachability import step
from guardrails.graph import EstateGraph, Node
from guardrails.netsets import AddressSet
from guardrails.registry import Result, Severity, check
from guardrails.rules import EPHEMERAL_PORTS, Admission, Layer, Principal, everything, format_portmap


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
    ip = ipaddress.ip_address(dest_ip)
    best, best_len = None, -1
    for route in rt.get("routes") or []:
        net = ipaddress.ip_network(route["destination"], strict=False)
        if net.version == ip.version and ip in net and net.prefixlen > best_len:
            best, best_len = route, net.prefixlen
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


def _tgw_carries(tgw: Node, from_net: str, to_net: str, dest_ip: str) -> bool:
    attachments = tgw.get("attachments") or []
    src_att = next((a for a in attachments if a.get("resource") == from_net), None)
    dst_att = next((a for a in attachments if a.get("resource") == to_net), None)
    if not src_att or not dst_att:
        return False
    routes = (tgw.get("route_tables") or {}).get(src_att.get("route_table"))
    if routes is None:
        return False
    ip = ipaddress.ip_address(dest_ip)
    best, best_len = None, -1
    for route in routes:
        if not route.get("destination") or route.get("state") == "blackhole":
            continue
        net = ipaddress.ip_network(route["destination"], strict=False)
        if net.version == ip.version and ip in net and net.prefixlen > best_len:
            best, best_len = route, net.prefixlen
    return bool(best) and dst_att.get("id") in best.get("attachments", [])


def _nacl_passes(estate: Estate, subnet_id: str, direction: str, peer: Principal, ports: dict) -> bool:
    fw = estate.reach.nacl(subnet_id)
    if fw is None:
        return True
    return bool(estate.reach.admits(estate.reach.firewall_layer(fw), direction, peer).only(ports))


def _nacls_pass(estate: Estate, src_subnet: str, dst_subnet: str, me: Principal, them: Principal,
                ports: dict) -> bool:
    """Network ACLs are stateless: the request must leave one subnet and enter the other on the
    service port, and the answer must come back on the client's ephemeral ports."""
    answer = {proto: EPHEMERAL_PORTS for proto in ports if proto in ("tcp", "udp")}
    return (_nacl_passes(estate, src_subnet, "egress", them, ports)
            and _nacl_passes(estate, dst_subnet, "ingress", me, ports)
            and _nacl_passes(estate, dst_subnet, "egress", me, answer)
            and _nacl_passes(estate, src_subnet, "ingress", them, answer))


@dataclass(frozen=True)
class _Target:
    node: Node
    ip: str
    principal: Principal


def _production_targets(estate: Estate) -> dict[str, dict[tuple[str, tuple[str, ...]], list[_Target]]]:
    """Production interfaces by network, then by (subnet, security groups): the pieces that share
    one answer from a firewall are evaluated once."""
    graph = estate.graph
    out: dict[str, dict[tuple[str, tuple[str, ...]], list[_Target]]] = {}
    for node in graph.nodes("compute"):
        if node.id not in estate.production or node.id in estate.ci:
            continue
        for iface in node.get("interfaces") or []:
            subnet = iface.get("subnet")
            if not (subnet and graph.has(subnet) and iface.get("private")):
                continue
            groups = tuple(sorted(iface.get("groups") or ()))
            ip = iface["private"][0]
            target = _Target(node, ip, Principal(addresses=AddressSet.parse(ip), groups=frozenset(groups)))
            out.setdefault(graph.node(subnet).get("network"), {}).setdefault((subnet, groups), []).append(target)
    return out


MAX_LISTED = 20


def _answer(estate: Estate, joins: dict, target_layer: Layer, ci_egress: Layer | None, me: Principal,
            src: tuple[str, str], t_subnet: str, target: _Target):
    """(admitted ports, joining routes) for one CI interface and one production target, or False."""
    inbound = estate.reach.admits(target_layer, "ingress", me).services()
    if not inbound:
        return False
    out = estate.reach.admits(ci_egress, "egress", target.principal) if ci_egress else everything()
    admitted = inbound.intersect(out)
    if not admitted:
        return False
    src_subnet, src_ip = src
    key = (src_subnet, t_subnet)
    if key not in joins:
        # Routes are looked up once per pair of subnets: a route narrower than a subnet is rare.
        joins[key] = _joined(estate.graph, estate, src, (t_subnet, target.ip))
    if joins[key] is None:
        return False
    if src_subnet != t_subnet and not _nacls_pass(estate, src_subnet, t_subnet, me, target.principal,
                                                  admitted.ports):
        return False
    return admitted, joins[key]


def _uniform(estate: Estate, layer: Layer | None, subnet_id: str) -> bool:
    """Whether every CIDR rule of the layer holds either all of the subnet's addresses or none."""
    if layer is None:
        return True
    key = (layer.name, subnet_id)
    cache = estate.reach.uniform_cache
    if key not in cache:
        subnet = AddressSet.parse(*(estate.graph.node(subnet_id).get("cidrs") or []))
        cache[key] = all(
            not peer.addresses.overlaps(subnet)
            or (peer.addresses.v4.covers(subnet.v4) and peer.addresses.v6.covers(subnet.v6))
            for rule in layer.rules for peer in rule.peers if peer.kind == "cidr")
    return cache[key]

def _joined_networks(graph: EstateGraph, network: str) -> set[str]:
    networks = {network}
    if graph.has(network):
        networks |= {n.id for n, _ in graph.out(network, "peers")}
        for gw, _ in graph.into(network, "attached"):
            if gw.get("gateway_type") == "transit":
                networks |= {a.get("resource") for a in gw.get("attachments") or []}
    return networks


@check(
    id="ci-reaches-production",
    title="CI node can connect to production",
    severity=Severity.HIGH,
    stride=("tampering", "information_disclosure", "elevation_of_privilege"),
    owasp_cicd=("CICD-SEC-7",),
    remediation="Segment build runners from production: put them in their own network without peering or transit "
                "routes to production, and remove production security-group rules that admit the runners' security "
                "group or CIDR; deploy through a controlled deployment service instead.",
)
def reaches_production(estate: Estate) -> Iterator[Result]:
    """A hostile build step can open connections to production systems."""
    graph = estate.graph
    targets = _production_targets(estate)
    if not targets:
        return
    joins: dict[tuple[str, str], list[str] | None] = {}
    # Runner fleets share subnets and security groups: when no CIDR rule on the way tells one
    # address of either subnet from another, one answer serves every member of both sides.
    shared: dict[tuple, object] = {}
    fleets: dict[tuple[str, tuple[str, ...]], dict] = {}
    summaries: dict[int, _Summary] = {}  # per fleet answer: every member lists the same targets
    for node, verdict in estate.ci_nodes():
        reached: dict[str, tuple] = {}
        found_sets = []
        for iface in node.get("interfaces") or []:
            src_subnet = iface.get("subnet")
            src_ip = _address(iface, graph)
            if not src_subnet or not graph.has(src_subnet) or not src_ip:
                continue
            groups = tuple(sorted(iface.get("groups") or ()))
            fleet = (src_subnet, groups)
            if fleet in fleets:
                found = fleets[fleet]
            else:
                found, uniform = _reached_from(estate, targets, joins, shared, src_subnet, src_ip, groups)
                if uniform:
                    fleets[fleet] = found
            found_sets.append(found)
        if len(found_sets) == 1 and found_sets[0] is fleets.get(fleet):
            reached = found_sets[0]
            if reached and id(reached) not in summaries:
                summaries[id(reached)] = _summarise(estate, reached)
            summary = summaries.get(id(reached))
        else:
            for found in found_sets:
                for target_id, item in found.items():
                    reached.setdefault(target_id, item)
            summary = _summarise(estate, reached) if reached else None
        if summary:
            yield _result(estate, node, verdict, summary)


def _reached_from(estate: Estate, targets: dict, joins: dict, shared: dict, src_subnet: str, src_ip: str,
                  groups: tuple[str, ...]) -> tuple[dict[str, tuple], bool]:
    """The production targets one CI interface reaches, and whether the answer holds for any
    address of its subnet (then the whole fleet shares it)."""
    graph, reach = estate.graph, estate.reach
    me = Principal(addresses=AddressSet.parse(src_ip), groups=frozenset(groups))
    ci_egress = reach.group_layer(groups)
    src_nacl = reach.nacl(src_subnet)
    reached: dict[str, tuple] = {}
    all_uniform = True
    for network in sorted(n for n in _joined_networks(graph, graph.node(src_subnet).get("network")) if n in targets):
        for (t_subnet, t_groups), members in sorted(targets[network].items()):
            layer = reach.group_layer(t_groups)
            if layer is None:
                continue
            dst_nacl = reach.nacl(t_subnet)
            to_target = (ci_egress, reach.firewall_layer(src_nacl) if src_nacl else None)
            to_me = (layer, reach.firewall_layer(dst_nacl) if dst_nacl else None)
            uniform = (all(_uniform(estate, lyr, t_subnet) for lyr in to_target)
                       and all(_uniform(estate, lyr, src_subnet) for lyr in to_me))
            all_uniform = all_uniform and uniform
            if uniform:
                key = (src_subnet, groups, t_subnet, t_groups)
                if key not in shared:
                    shared[key] = _answer(estate, joins, layer, ci_egress, me, (src_subnet, src_ip), t_subnet,
                                          members[0])
                answer = shared[key]
                if answer is not False:
                    for target in members:
                        reached.setdefault(target.node.id, (target, *answer, t_subnet, t_groups))
                continue
            for target in members:
                answer = _answer(estate, joins, layer, ci_egress, me, (src_subnet, src_ip), t_subnet, target)
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


def _summarise(estate: Estate, reached: dict) -> _Summary:
    graph = estate.graph
    ordered = [reached[k] for k in sorted(reached)]

    def entry(target: _Target, admitted: Admission, joined: list[str], subnet: str, groups) -> dict:
        return {"target": target.node.id, "name": target.node.name, "ports": format_portmap(admitted.ports),
                "production": estate.production[target.node.id], "path": joined,
                "rules": [r.describe() for r in admitted.rules if r.direction == "ingress"]}

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
