"""Effective internet reachability: which ports of which node the internet reaches, and by which path.

Computed once for the whole estate, outward from the internet node: every subnet's route to an
internet gateway, every subnet firewall (a network ACL, an NSG on a subnet) and every distinct set
of interface firewalls (security groups, NSGs on a NIC, a GCP network's VPC firewall) is evaluated
once and cached, then combined per network interface and per load balancer listener. Nothing here
knows which cloud a rule came from: the provider has already normalized routes, gateways and
rules, and says how each firewall's rules combine (`semantics`), which nodes a rule or a route
applies to (rule `targets`, route `node_tags`, matched against the interface's addresses, network
tags and service accounts), and what a load balancer preserves or where its front end sits;
attributes are those of guardrails/schema.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Collection, NamedTuple

from guardrails.graph import INTERNET, EstateGraph, Node
from guardrails.netsets import NO_RANGES, AddressSet, RangeSet, every_address, is_valid_cidr
from guardrails.rules import (ALLOW_UNION, EPHEMERAL_PORTS, PROTOCOLS, Admission, Layer, Principal,
                              admits_internet, admits_principal, everything, format_portmap)
from guardrails.schema import unknown_text

class Step(NamedTuple):
    """One hop of a path in a finding's evidence. A named tuple: paths are built for every
    exposed node, and a tuple is the cheapest immutable record to make."""

    id: str
    kind: str
    name: str
    via: str = ""

    def as_dict(self) -> dict:
        out = {"id": self.id, "kind": self.kind, "name": self.name}
        if self.via:
            out["via"] = self.via
        return out


@dataclass
class ExposurePath:
    steps: list[Step]
    ports: dict[str, RangeSet]
    assumptions: list[str] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        return format_portmap(self.ports)


@dataclass
class Exposure:
    """How the internet reaches one node: the union of its paths' ports."""

    node: str
    paths: list[ExposurePath] = field(default_factory=list)

    @property
    def ports(self) -> dict[str, RangeSet]:
        merged: dict[str, RangeSet] = {}
        for path in self.paths:
            for proto, ranges in path.ports.items():
                merged[proto] = merged.get(proto, NO_RANGES) | ranges
        return merged

    @property
    def labels(self) -> list[str]:
        return format_portmap(self.ports)

    @property
    def assumptions(self) -> list[str]:
        return sorted({a for p in self.paths for a in p.assumptions})

    def direct(self) -> list[ExposurePath]:
        return [p for p in self.paths if not any(s.kind == "load_balancer" for s in p.steps)]


def step(node: Node, via: str = "") -> Step:
    return Step(node.id, node.kind, node.name, via)


def interface_principal(iface: dict) -> Principal:
    """An interface as the rules of its own firewalls see it: the node a rule's targets select by
    address, network tag, service account or group, or the peer a rule's sources name."""
    return Principal(addresses=AddressSet.parse(*(iface.get("private") or ())),
                     groups=frozenset(iface.get("groups") or ()),
                     tags=frozenset(iface.get("network_tags") or ()),
                     service_accounts=frozenset(iface.get("service_accounts") or ()))


class Reachability:
    """Cached building blocks of reachability over one graph."""

    def __init__(self, graph: EstateGraph) -> None:
        self.graph = graph
        self._route_cache: dict[tuple, tuple[Node, Node, str] | None] = {}
        self._route_assumptions: dict[tuple, list[str]] = {}
        self._route_tags: dict[str, frozenset[str]] = {}
        self._nacl_cache: dict[tuple, Admission | None] = {}
        self._sg_cache: dict[tuple, Admission | None] = {}
        self._route_table_cache: dict[str, tuple[Node, str] | None] = {}
        self._layer_cache: dict[str, Layer] = {}
        self._group_layers: dict[tuple[str, ...], tuple[Layer, ...] | None] = {}
        self._admits_cache: dict[tuple, Admission] = {}
        self._nacl_of: dict[str, Node | None] = {}
        self._targeted: dict[tuple[str, ...], bool] = {}
        self._subnet_addresses: dict[str, AddressSet] = {}

    # -- network segments ----------------------------------------------------------------

    def route_table(self, subnet_id: str) -> tuple[Node, str] | None:
        if subnet_id not in self._route_table_cache:
            found = None
            for rt, data in self.graph.out(subnet_id, "routes"):
                if rt.kind == "route_table":
                    found = (rt, data.get("via") or f"{data.get('association') or 'explicit'} association")
                    break
            self._route_table_cache[subnet_id] = found
        return self._route_table_cache[subnet_id]

    def internet_route(self, subnet_id: str, version: int,
                       tags: Collection[str] = ()) -> tuple[Node, Node, str] | None:
        """(route table, internet gateway, how) when the subnet sends the whole internet to an IGW,
        for an interface with these network tags (routes that select by tags apply to it only
        when it carries one of them)."""
        key = self._route_key(subnet_id, version, tags)
        if key not in self._route_cache:
            self._route_cache[key] = self._internet_route(subnet_id, version, key[2] if len(key) > 2 else ())
        return self._route_cache[key]

    def route_assumptions(self, subnet_id: str, version: int, tags: Collection[str] = ()) -> list[str]:
        """What internet_route assumed for this subnet: routes known only after apply taken to send
        the internet to a gateway of the network (empty when its routes are known)."""
        self.internet_route(subnet_id, version, tags)
        return self._route_assumptions.get(self._route_key(subnet_id, version, tags), [])

    def _route_key(self, subnet_id: str, version: int, tags: Collection[str]) -> tuple:
        """The cache key of a subnet's internet route for an interface: its tags count only where
        some route of the subnet's table selects by them."""
        if not tags:
            return subnet_id, version
        found = self.route_table(subnet_id)
        if not found:
            return subnet_id, version
        table_tags = self._route_tags.get(found[0].id)
        if table_tags is None:
            table_tags = self._route_tags[found[0].id] = frozenset(
                t for _, data in self.graph.out(found[0].id, "routes") for t in data.get("node_tags") or ())
        relevant = tuple(sorted(table_tags.intersection(tags)))
        return (subnet_id, version, relevant) if relevant else (subnet_id, version)

    def _internet_route(self, subnet_id: str, version: int,
                        tags: tuple[str, ...] = ()) -> tuple[Node, Node, str] | None:
        found = self.route_table(subnet_id)
        if not found:
            return None
        rt, association = found  # the provider's words for how the subnet comes to use the table
        subnet = self.graph.node(subnet_id)
        covered, gateway, destinations = NO_RANGES, None, []
        for gw, data in self.graph.out(rt.id, "routes"):
            if gw.kind != "gateway" or gw.get("gateway_type") != "internet":
                continue
            selectors = data.get("node_tags")
            if selectors and not any(t in tags for t in selectors):
                continue  # a route for other network tags
            dest = AddressSet.parse(data["destination"]).family(version)
            if not dest:
                continue
            if not self._attached_to(gw, subnet.get("network")):
                continue
            covered = covered | dest
            gateway = gw
            destinations.append(data["destination"])
        unknown_routes = rt.get("unknown_routes")
        if unknown_routes and not (gateway is not None and covered.covers(every_address(version))):
            # Routes known only after apply are not "no route": one that may reach an internet
            # gateway of the network is taken to, and the verdict says it was assumed.
            assumed = []
            for route in unknown_routes:
                gw = self._assumed_gateway(route.get("target"), subnet.get("network"))
                if gw is None:
                    continue
                if route.get("destination") is None:
                    if version == 6 and not self.subnet_addresses(subnet_id).family(6):
                        continue
                    dest = every_address(version)
                elif is_valid_cidr(route["destination"]):
                    dest = AddressSet.parse(route["destination"]).family(version)
                else:
                    continue
                if not dest:
                    continue
                covered = covered | dest
                gateway = gateway or gw
                destinations.append(route.get("destination") or "(destination unknown until apply)")
                assumed.append(f"{route.get('why') or 'a route is known only after apply'}; assumed to send "
                               f"{route.get('destination') or 'the internet'} to {gw.id}")
            if assumed and gateway is not None and covered.covers(every_address(version)):
                self._route_assumptions[(subnet_id, version, tags) if tags else (subnet_id, version)] = assumed
        if gateway is None or not covered.covers(every_address(version)):
            return None
        return rt, gateway, f"route {', '.join(destinations)} -> {gateway.id} in {rt.id} ({association})"

    def _assumed_gateway(self, target: str | None, network: str | None) -> Node | None:
        """The internet gateway a route known only after apply may use: its named target if that is
        one, else (its target unknown too) an internet gateway attached to the network."""
        if target:
            gw = self.graph.node(target) if self.graph.has(target) else None
            if gw is None or gw.kind != "gateway" or gw.get("gateway_type") != "internet":
                return None
            return gw if self._attached_to(gw, network) else None
        if network is None or not self.graph.has(network):
            return None
        gateways = sorted((gw for gw, _ in self.graph.into(network, "attached")
                           if gw.kind == "gateway" and gw.get("gateway_type") == "internet"), key=lambda n: n.id)
        return gateways[0] if gateways else None

    def _attached_to(self, gateway: Node, network: str | None) -> bool:
        if gateway.get("external") or network is None:
            return True  # not collected: its attachment is unknown, and the route exists
        return any(n.id == network for n, _ in self.graph.out(gateway.id, "attached"))

    def subnet_addresses(self, subnet_id: str) -> AddressSet:
        found = self._subnet_addresses.get(subnet_id)
        if found is None:
            found = self._subnet_addresses[subnet_id] = AddressSet.parse(
                *(self.graph.node(subnet_id).get("cidrs") or []))
        return found

    def nacl(self, subnet_id: str) -> Node | None:
        if subnet_id not in self._nacl_of:
            self._nacl_of[subnet_id] = next(
                (fw for fw, _ in self.graph.out(subnet_id, "filtered_by") if fw.kind == "firewall"), None)
        return self._nacl_of[subnet_id]

    def nacl_admits_internet(self, subnet_id: str, version: int,
                             target: Principal | None = None) -> tuple[Admission, Node | None]:
        """Ingress from the internet that the subnet's firewall lets in (and, stateless, answers),
        to `target` when its rules apply to some nodes only."""
        fw = self.nacl(subnet_id)
        if fw is None:
            return everything(), None
        layer = self.firewall_layer(fw)
        if target is not None and layer.targeted:
            layer = layer.applying_to(target)
            key: tuple = (fw.id, version, layer.name)
        else:
            key = (fw.id, version)
        if key not in self._nacl_cache:
            inbound = admits_internet(layer, "ingress", version)
            if fw.get("stateful"):
                self._nacl_cache[key] = inbound
            else:
                outbound = admits_internet(layer, "egress", version)
                ports = {p: r for p, r in inbound.ports.items()
                         if p in ("icmp", "icmpv6") or outbound.ports.get(p, NO_RANGES).overlaps(EPHEMERAL_PORTS)}
                self._nacl_cache[key] = Admission(ports, inbound.rules)
        return self._nacl_cache[key], fw

    def groups_admit_internet(self, groups: tuple[str, ...], version: int,
                              target: Principal | None = None) -> Admission | None:
        """What these firewalls together admit from the internet (to `target`, the interface they
        protect, when some rule applies to some nodes only); None if one is unknown."""
        layers = self._layers_of_groups(groups)
        if target is None or layers is None or not any(layer.targeted for layer in layers):
            key: tuple = (groups, version)
        else:
            layers = tuple(layer.applying_to(target) for layer in layers)
            key = (groups, version, tuple(layer.name for layer in layers))
        if key not in self._sg_cache:
            self._sg_cache[key] = None if layers is None else _through(
                admits_internet(layer, "ingress", version) for layer in layers)
        return self._sg_cache[key]

    def groups_admit(self, groups: tuple[str, ...], direction: str, principal: Principal,
                     target: Principal | None = None) -> Admission | None:
        """What these firewalls together admit from (or to) a principal, for the interface
        `target` they protect; None if one is unknown."""
        layers = self.group_layers(groups, target)
        return None if layers is None else _through(self.admits(layer, direction, principal) for layer in layers)

    def target_of(self, iface: dict) -> Principal | None:
        """The interface as the rules of its firewalls select it, when some rule of its firewalls
        (its own or its subnet's) applies to some nodes only; None when every rule applies to
        every node, as the rules of most clouds do (then nothing about it needs parsing)."""
        groups = tuple(sorted(iface.get("groups") or ()))
        targeted = self._targeted.get(groups)
        if targeted is None:
            layers = self._layers_of_groups(groups)
            targeted = self._targeted[groups] = bool(layers) and any(layer.targeted for layer in layers)
        if not targeted:
            subnet_id = iface.get("subnet")
            fw = self.nacl(subnet_id) if subnet_id and self.graph.has(subnet_id) else None
            targeted = fw is not None and self.firewall_layer(fw).targeted
        return interface_principal(iface) if targeted else None

    def firewall_layer(self, fw: Node) -> Layer:
        if fw.id not in self._layer_cache:
            self._layer_cache[fw.id] = layer_of([fw])
        return self._layer_cache[fw.id]

    def admits(self, layer: Layer, direction: str, principal: Principal) -> Admission:
        """admits_principal, cached by which of the layer's rules the principal matches: the
        answer depends on nothing else, and many principals match the same rules."""
        key = (layer.name, layer.semantics, direction, layer.matching(direction, principal))
        if key not in self._admits_cache:
            self._admits_cache[key] = admits_principal(layer, direction, principal)
        return self._admits_cache[key]

    def group_layers(self, groups: tuple[str, ...], target: Principal | None = None) -> tuple[Layer, ...] | None:
        """The layers a set of firewalls on one interface makes, as they judge the interface
        `target` (only the rules that apply to it); None when one was not collected.

        Firewalls of one layer with the same semantics are one set of rules: allow_union ones add
        up (every AWS security group of an interface), first_match ones are evaluated together in
        priority order. Traffic must pass every distinct layer (an Azure NIC's network security
        group and its subnet's)."""
        layers = self._layers_of_groups(groups)
        if target is None or layers is None or not any(layer.targeted for layer in layers):
            return layers
        return tuple(layer.applying_to(target) for layer in layers)

    def _layers_of_groups(self, groups: tuple[str, ...]) -> tuple[Layer, ...] | None:
        found = self._group_layers.get(groups, False)
        if found is False:
            if not all(self.graph.has(gid) for gid in groups):
                found = None
            else:
                by_layer: dict[tuple, list[Node]] = {}
                for gid in groups:
                    fw = self.graph.node(gid)
                    by_layer.setdefault((fw.get("layer"), fw.get("semantics") or ALLOW_UNION), []).append(fw)
                found = tuple(layer_of(members) for members in by_layer.values()) or (layer_of([]),)
            self._group_layers[groups] = found
        return found

    def group_layer(self, groups: tuple[str, ...], target: Principal | None = None) -> Layer | None:
        """The one layer these firewalls make (as they judge `target`); None when one was not
        collected, or when they make several layers (then `group_layers` and `groups_admit` judge
        them)."""
        layers = self.group_layers(groups, target)
        return layers[0] if layers is not None and len(layers) == 1 else None


def _through(admissions) -> Admission:
    """What passes every one of these layers in turn."""
    result = None
    for admission in admissions:
        result = admission if result is None else result.intersect(admission)
    return result if result is not None else everything()


def layer_of(firewalls: list[Node]) -> Layer:
    """The rules of firewalls of one layer, combined as their provider says (their `semantics`)."""
    rules = tuple(r for fw in firewalls for r in fw.get("rules") or ())
    semantics = (firewalls[0].get("semantics") or ALLOW_UNION) if firewalls else ALLOW_UNION
    return Layer(",".join(fw.id for fw in firewalls), semantics, rules)


def unfiltered_via(subnet: Node) -> str:
    """Evidence for a subnet without a firewall of its own, in its provider's words."""
    return subnet.get("unfiltered_text") or "no network ACL filters the subnet"


def _rules_via(admission: Admission, fallback: str) -> str:
    texts = [r.describe() for r in admission.rules]
    return "; ".join(texts[:4]) + (f" (+{len(texts) - 4} more)" if len(texts) > 4 else "") if texts else fallback


def compute_exposure(graph: EstateGraph, reach: Reachability | None = None,
                     among: Collection[str] | None = None) -> dict[str, Exposure]:
    """Every compute node the internet reaches today, with the paths and ports; with `among`, only
    those of these nodes (checks ask about CI nodes, a small share of a large estate's compute)."""
    reach = reach or Reachability(graph)
    exposures: dict[str, Exposure] = {}
    internet = graph.node(INTERNET)
    nodes = graph.nodes("compute") if among is None else (graph.node(i) for i in among if graph.has(i))
    for node in nodes:
        if node.kind != "compute":
            continue
        attrs = node.attrs
        if attrs.get("state") in ("stopped", "stopping"):
            continue
        if not attrs.get("unknown") and not any(i.get("public") or i.get("ipv6") for i in attrs.get("interfaces") or ()):
            continue  # most nodes: no address the internet can reach directly
        for path in _direct_paths(reach, internet, node):
            exposures.setdefault(node.id, Exposure(node.id)).paths.append(path)
    for lb in graph.nodes("load_balancer"):
        for target_id, path in _load_balancer_paths(reach, internet, lb, among):
            exposures.setdefault(target_id, Exposure(target_id)).paths.append(path)
    return exposures


def _direct_paths(reach: Reachability, internet: Node, node: Node):
    graph = reach.graph
    interfaces = node.attrs.get("interfaces") or ()
    unknown = node.attrs.get("unknown") or {}
    for iface in interfaces:
        subnet_id = iface.get("subnet")
        if not subnet_id or not graph.has(subnet_id):
            continue
        target = reach.target_of(iface)
        tags = iface.get("network_tags") or ()
        for version in (4, 6):
            assumptions = []
            if version == 4:
                has_address = bool(iface.get("public"))
                if not has_address and "public_ipv4" in unknown:
                    has_address = True
                    assumptions.append(f"its public IPv4 address is {unknown_text(unknown['public_ipv4'])}; "
                                       "assumed to be assigned")
                address_text = ", ".join(iface.get("public") or []) or "a public IPv4 address"
            else:
                has_address = bool(iface.get("ipv6"))
                if not has_address and "ipv6" in unknown:
                    has_address = True
                    assumptions.append(f"its IPv6 address is {unknown_text(unknown['ipv6'])}; assumed to be assigned")
                address_text = ", ".join(iface.get("ipv6") or []) or "an IPv6 address"
            if not has_address:
                continue
            route = reach.internet_route(subnet_id, version, tags)
            if route is None:
                continue
            rt, gateway, route_via = route
            assumptions += reach.route_assumptions(subnet_id, version, tags)
            nacl_adm, nacl = reach.nacl_admits_internet(subnet_id, version, target)
            if not nacl_adm:
                continue
            groups = tuple(sorted(iface.get("groups") or ()))
            sg_adm = reach.groups_admit_internet(groups, version, target)
            if not sg_adm:
                continue
            admitted = nacl_adm.intersect(sg_adm).services()
            if not admitted:
                continue
            subnet = graph.node(subnet_id)
            steps = [step(internet), step(gateway, route_via),
                     step(subnet, _rules_via(nacl_adm, "no network ACL") if nacl else unfiltered_via(subnet))]
            for gid in groups:
                fw = graph.node(gid)
                rules = [r for r in sg_adm.rules if r.firewall == gid]
                if rules:
                    steps.append(step(fw, _rules_via(Admission({}, rules), "")))
            iface_text = f" on {iface['id']}" if iface.get("id") else ""
            steps.append(step(node, f"{'public IPv4' if version == 4 else 'IPv6'} {address_text}{iface_text}"))
            yield ExposurePath(steps, admitted.ports, assumptions)


def _load_balancer_paths(reach: Reachability, internet: Node, lb: Node, among: Collection[str] | None = None):
    graph = reach.graph
    if not lb.get("internet_facing"):
        return
    targets = list(graph.out(lb.id, "forwards"))
    if among is not None:
        targets = [(target, edge) for target, edge in targets if target.id in among]
    if not targets:
        return
    groups = tuple(sorted(lb.get("firewalls") or ()))
    front_end = lb.get("front_end_ranges") or []
    if lb.get("edge_front_end"):
        # The provider's own front end: the internet reaches it with no route or subnet of the
        # estate in between, and the targets see its traffic come from these ranges.
        front_steps: tuple[Step, ...] = (step(internet),)
        nacl_adm, front_assumptions = everything(), []
        lb_addresses = AddressSet.parse(*front_end)
    else:
        routed = [s for s in lb.get("subnets") or [] if graph.has(s) and reach.internet_route(s, 4)]
        if not routed:
            return
        subnet = graph.node(routed[0])
        _, gateway, route_via = reach.internet_route(routed[0], 4)
        front_assumptions = reach.route_assumptions(routed[0], 4)
        nacl_adm = Admission()
        for s in routed:
            adm, _ = reach.nacl_admits_internet(s, 4)
            for proto, ranges in adm.ports.items():
                nacl_adm.ports[proto] = nacl_adm.ports.get(proto, NO_RANGES) | ranges
            nacl_adm.rules.extend(adm.rules)
        lb_addresses = AddressSet()
        for s in lb.get("subnets") or []:
            if graph.has(s):
                lb_addresses = lb_addresses | AddressSet.parse(*graph.node(s).get("cidrs") or [])
        front_steps = (step(internet), step(gateway, route_via),
                       step(subnet, _rules_via(nacl_adm, "no network ACL filters the subnet")))
    if groups:
        lb_adm = reach.groups_admit_internet(groups, 4)
        if lb_adm is None:
            return
    else:
        lb_adm = everything()
    front = nacl_adm.intersect(lb_adm)
    if not front:
        return
    lb_via = _rules_via(lb_adm, "the listener filters no client: it is open to every address")
    # A load balancer's targets are fleets: members that share security groups and subnets get
    # one answer, as do listeners on one port.
    at_fronts: dict[tuple, Admission] = {}
    backs: dict[tuple, str | None] = {}
    lb_steps: dict[str, Step] = {}  # the load balancer's hop, per listener rule: shared by its targets
    for target, edge in targets:
        if target.kind != "compute" or target.get("state") in ("stopped", "stopping"):
            continue
        protos = ("tcp", "udp") if edge.get("protocol") == "tcp_udp" else (edge.get("protocol") or "tcp",)
        listener_port = edge.get("listener_port")
        if listener_port is None:
            continue
        last_port = int(edge.get("listener_port_end") or listener_port)
        front_key = (protos, int(listener_port), last_port)
        at_front = at_fronts.get(front_key)
        if at_front is None:
            listener_ports = {p: RangeSet(((int(listener_port), last_port),)) for p in protos}
            at_front = at_fronts[front_key] = front.only(listener_ports)
        if not at_front:
            continue
        if edge.get("listener_port_end") is not None:
            # A range of ports, each forwarded to the same port: what reaches the target is what
            # passes the front and the target's own filters on those ports.
            first_target = last_target = None
        else:
            first_target = last_target = int(edge.get("target_port") or listener_port)
        back_key = (protos, first_target if first_target is not None else front_key, edge.get("target_type", "instance"),
                    tuple((tuple(sorted(i.get("groups") or ())), i.get("subnet"), tuple(i.get("network_tags") or ()),
                           tuple(i.get("service_accounts") or ())) for i in target.get("interfaces") or []))
        if back_key in backs:
            back = backs[back_key]
        else:
            target_ports = ({p: RangeSet(((first_target, last_target),)) for p in protos} if first_target is not None
                            else at_front.ports)
            back = backs[back_key] = _target_admits(reach, lb, target, edge, lb_addresses, groups, target_ports)
        if back is None:
            continue
        back_via, back_ports = back
        edge_via = edge.get("via", "")
        lb_step = lb_steps.get(edge_via)
        if lb_step is None:
            lb_step = lb_steps[edge_via] = step(lb, f"{lb_via}; {edge_via}")
        steps = [*front_steps, lb_step, step(target, back_via)]
        ports = at_front.ports if first_target is not None else back_ports
        assumed = list(front_assumptions) + ([edge["assumption"]] if edge.get("assumption") else [])
        yield target.id, ExposurePath(steps, ports, assumed)


def _target_admits(reach: Reachability, lb: Node, target: Node, edge: dict, lb_addresses: AddressSet,
                   lb_groups: tuple[str, ...],
                   target_ports: dict[str, RangeSet]) -> tuple[str, dict[str, RangeSet]] | None:
    """How the target's own filters let the load balancer's traffic in on the target ports, and
    on which of them; None when they do not."""
    graph = reach.graph
    # When the load balancer keeps the client's address (the provider says when), the target sees
    # internet addresses, and can admit the load balancer only by referring to its firewalls.
    client_preserved = bool(edge.get("client_address_preserved"))
    principals: list[Principal | None] = []
    if client_preserved:
        principals.append(None)
        if lb_groups:
            principals.append(Principal(groups=frozenset(lb_groups)))
    else:
        principals.append(Principal(addresses=lb_addresses, groups=frozenset(lb_groups)))
    for iface in target.get("interfaces") or []:
        groups = tuple(sorted(iface.get("groups") or ()))
        if reach.group_layers(groups) is None:
            continue
        subnet_id = iface.get("subnet")
        me = reach.target_of(iface)
        for principal in principals:
            sg_adm = (reach.groups_admit_internet(groups, 4, me) if principal is None
                      else reach.groups_admit(groups, "ingress", principal, me))
            sg_adm = sg_adm.only(target_ports)
            if not sg_adm:
                continue
            nacl_adm, nacl = (everything(), None)
            if subnet_id and graph.has(subnet_id) and subnet_id not in (lb.get("subnets") or []):
                fw = reach.nacl(subnet_id)
                if fw is not None:
                    nl = reach.firewall_layer(fw)
                    if me is not None and nl.targeted:
                        nl = nl.applying_to(me)
                    # Network ACLs see addresses only: the client's when the NLB preserves it.
                    nacl_adm = (admits_internet(nl, "ingress", 4) if client_preserved
                                else reach.admits(nl, "ingress", principal))
                    nacl = fw
            if not nacl_adm.only(target_ports):
                continue
            who = ("the internet (client addresses preserved)" if principal is None
                   else "the load balancer's security group" if client_preserved else "the load balancer")
            via = f"admits {who}: {_rules_via(sg_adm, '')}"
            if nacl is not None:
                via += f"; {_rules_via(nacl_adm.only(target_ports), '')}"
            return via, sg_adm.intersect(nacl_adm).ports
    return None


__all__ = ["compute_exposure", "Exposure", "ExposurePath", "Step", "Reachability", "step", "PROTOCOLS"]
