"""Routing between networks: which routes carry traffic from one subnet to another and back.

Two subnets of one network reach each other by the network's local route. Two networks are joined
when each side's route table sends the other's address to the same peering connection between
them, or to the same transit gateway whose route tables carry the traffic both ways. Routes are
chosen by longest prefix, as every cloud router does. Nothing here knows which cloud a route came
from: the provider has already normalized route tables, gateways and their attachments.
"""

from __future__ import annotations

import ipaddress

from guardrails.analysis.reachability import Reachability
from guardrails.graph import EstateGraph, Node
from guardrails.netsets import cidr_range


def sending_address(graph: EstateGraph, iface: dict) -> str | None:
    """An address the interface sends from: its private IP, else its subnet's first usable host."""
    if iface.get("private"):
        return iface["private"][0]
    subnet = iface.get("subnet")
    if subnet and graph.has(subnet):
        for cidr in graph.node(subnet).get("cidrs") or []:
            net = ipaddress.ip_network(cidr, strict=False)
            if net.version == 4:
                return str(net.network_address + 4)  # AWS reserves the first four
    return None


def longest_match(routes: list[dict], dest_ip: str) -> dict | None:
    """The route whose destination holds the address with the longest prefix (the narrowest range)."""
    version, (ip, _) = cidr_range(dest_ip)
    best, best_size = None, None
    for route in routes:
        route_version, (first, last) = cidr_range(route["destination"])
        if route_version == version and first <= ip <= last and (best_size is None or last - first < best_size):
            best, best_size = route, last - first
    return best


def route(reach: Reachability, subnet_id: str, dest_ip: str) -> tuple[str | None, str]:
    """Where the subnet's route table sends dest_ip, by longest prefix: (next hop, route text);
    (None, "") when the subnet has no route table or no route holds the address."""
    found = reach.route_table(subnet_id)
    if not found:
        return None, ""
    table = found[0]
    # Routes for some network tags only are not taken to join networks: segmentation asks about
    # every interface of a subnet alike.
    routes = [r for r in table.get("routes") or [] if not r.get("node_tags")]
    best = longest_match(routes, dest_ip)
    if best is None:
        return None, ""
    return best.get("target"), f"route {best['destination']} -> {best.get('target')} in {table.id}"


def joining_routes(graph: EstateGraph, reach: Reachability, src: tuple[str, str],
                   dst: tuple[str, str]) -> tuple[str, ...] | None:
    """The route texts joining (subnet, address) to (subnet, address) both ways, or None when no
    route carries the traffic there and its answer back."""
    src_subnet, src_ip = src
    dst_subnet, dst_ip = dst
    src_net = graph.node(src_subnet).get("network")
    dst_net = graph.node(dst_subnet).get("network")
    if src_net == dst_net:
        return (f"same network {graph.node(src_net).name if graph.has(src_net) else src_net} (local route)",)
    there, there_text = route(reach, src_subnet, dst_ip)
    back, back_text = route(reach, dst_subnet, src_ip)
    if not there or not back or there == "local" or back == "local":
        return None
    for gateway_id in {there, back}:
        if not graph.has(gateway_id):
            return None  # a hop that was not collected: nothing is known to carry the traffic
    gw_there, gw_back = graph.node(there), graph.node(back)
    kind = gw_there.get("gateway_type")
    if kind == "peering" and there == back:
        ends = {gw_there.get("requester"), gw_there.get("accepter")}
        return (there_text, back_text) if ends == {src_net, dst_net} else None
    if kind == "transit" and gw_back.get("gateway_type") == "transit" and there == back:
        if _transit_carries(gw_there, src_net, dst_net, dst_ip) and _transit_carries(gw_there, dst_net, src_net, src_ip):
            return (there_text, f"transit gateway {there} routes both ways", back_text)
    return None


def _transit_carries(gateway: Node, from_net: str, to_net: str, dest_ip: str) -> bool:
    """Whether the transit gateway's route table for from_net's attachment sends dest_ip to to_net's."""
    attachments = gateway.get("attachments") or []
    src_att = next((a for a in attachments if a.get("resource") == from_net), None)
    dst_att = next((a for a in attachments if a.get("resource") == to_net), None)
    if not src_att or not dst_att:
        return False
    routes = (gateway.get("route_tables") or {}).get(src_att.get("route_table"))
    if routes is None:
        return False
    best = longest_match([r for r in routes if r.get("destination") and r.get("state") != "blackhole"], dest_ip)
    return bool(best) and dst_att.get("id") in best.get("attachments", [])
