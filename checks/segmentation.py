"""Runners are segmented: a build cannot open connections into production."""

from __future__ import annotations

import ipaddress
from typing import Iterator

from guardrails.analysis.estate import Estate, ci_label as describe
from guardrails.analysis.reachability import layer_of, step
from guardrails.graph import EstateGraph, Node
from guardrails.netsets import AddressSet
from guardrails.registry import Result, Severity, check
from guardrails.rules import Admission, Principal, admits_principal, everything, format_portmap


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
    return bool(admits_principal(layer_of([fw]), direction, peer).only(ports))


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
    targets: dict[str, list[tuple[Node, dict]]] = {}
    for node in graph.nodes("compute"):
        if node.id not in estate.production or node.id in estate.ci:
            continue
        for iface in node.get("interfaces") or []:
            subnet = iface.get("subnet")
            if subnet and graph.has(subnet) and iface.get("private"):
                targets.setdefault(graph.node(subnet).get("network"), []).append((node, iface))
    if not targets:
        return
    for node, verdict in estate.ci_nodes():
        reached: dict[str, dict] = {}
        for iface in node.get("interfaces") or []:
            src_subnet = iface.get("subnet")
            src_ip = _address(iface, graph)
            if not src_subnet or not graph.has(src_subnet) or not src_ip:
                continue
            src_net = graph.node(src_subnet).get("network")
            networks = {src_net} | {n.id for n, _ in graph.out(src_net, "peers")} if graph.has(src_net) else {src_net}
            for gw, _ in graph.into(src_net, "attached") if graph.has(src_net) else ():
                if gw.get("gateway_type") == "transit":
                    networks |= {a.get("resource") for a in gw.get("attachments") or []}
            me = Principal(addresses=AddressSet.parse(src_ip), groups=frozenset(iface.get("groups") or ()))
            ci_egress = estate.reach.group_layer(tuple(sorted(iface.get("groups") or ())))
            admitted_by: dict[tuple[str, ...], Admission] = {}  # many targets share one set of groups
            for network in sorted(n for n in networks if n in targets):
                for target, t_iface in targets[network]:
                    if target.id in reached:
                        continue
                    groups = tuple(sorted(t_iface.get("groups") or ()))
                    if groups not in admitted_by:
                        layer = estate.reach.group_layer(groups)
                        admitted_by[groups] = admits_principal(layer, "ingress", me) if layer else Admission()
                    admitted = admitted_by[groups]
                    if not admitted:
                        continue
                    dst_ip = t_iface["private"][0]
                    them = Principal(addresses=AddressSet.parse(dst_ip), groups=frozenset(t_iface.get("groups") or ()))
                    out: Admission = admits_principal(ci_egress, "egress", them) if ci_egress else everything()
                    admitted = admitted.intersect(out).services()
                    if not admitted:
                        continue
                    joined = _joined(graph, estate, (src_subnet, src_ip), (t_iface["subnet"], dst_ip))
                    if joined is None:
                        continue
                    if src_subnet != t_iface["subnet"]:
                        if not (_nacl_passes(estate, src_subnet, "egress", them, admitted.ports)
                                and _nacl_passes(estate, t_iface["subnet"], "ingress", me, admitted.ports)):
                            continue
                    rules = [r.describe() for r in admitted.rules if r.direction == "ingress"]
                    reached[target.id] = {"target": target.id, "name": target.name, "ports": format_portmap(admitted.ports),
                                          "production": estate.production[target.id], "path": joined, "rules": rules,
                                          "_steps": (t_iface, joined, rules)}
        if not reached:
            continue
        first_id = sorted(reached)[0]
        first = reached[first_id]
        t_iface, joined, rules = first.pop("_steps")
        for other in reached.values():
            other.pop("_steps", None)
        target = graph.node(first_id)
        steps = [step(node, "")]
        steps.append(step(graph.node(t_iface["subnet"]), "; ".join(joined)))
        for gid in sorted(t_iface.get("groups") or ()):
            texts = [r for r in rules if r.startswith(gid + " ")]
            if texts:
                steps.append(step(graph.node(gid), "; ".join(texts)))
        steps.append(step(target, f"production: {first['production']}"))
        names = [f"{r['name']} ({', '.join(r['ports'])})" for r in reached.values()]
        yield Result(node.id, f"{describe(node, verdict)} can open connections to {len(reached)} production node(s): "
                              + "; ".join(names[:5]) + (f" (+{len(names) - 5} more)" if len(names) > 5 else "") + ".",
                     path=tuple(steps), ports=tuple(first["ports"]),
                     details={"production_nodes": sorted(reached.values(), key=lambda r: r["target"])})
