"""What the scan did not see about each CI node: the coverage gaps and the values known only after
apply that a verdict rests on. Unknown is a value: a check that cannot decide says so (findings
`confidence: unknown`) instead of reading "not collected" as "no".

Facts come in facets, named by the checks that rest on them (`@check(needs=...)`). A gap naming
a whole list of the snapshot (docs/snapshot-format.md: the security groups of a region, the
account's IAM roles) hides its facets for every node of that account and region; the graph shows
the rest node by node: an interface's subnet or security group that is not in it, a subnet without
a route table, a rule set or a role whose content is known only after apply (`unknown`).
"""

from __future__ import annotations

from typing import Iterator

from guardrails.analysis.reachability import unfiltered_via, Exposure, ExposurePath, Reachability, Step, step
from guardrails.graph import INTERNET, EstateGraph, Node
from guardrails.netsets import RangeSet
from guardrails.rules import everything

FACETS: dict[str, str] = {
    "firewalls": "the firewall rules on the node (security groups)",
    "routes": "the routes of the node's subnet",
    "acls": "the network ACL of the node's subnet",
    "joins": "how networks are joined (networks, peering, transit gateways)",
    "load_balancers": "the load balancers that may forward to the node",
    "identity": "the identity the node runs as and its policies",
    "launch_data": "the node's launch data",
    "production": "which accounts and nodes are production",
    "compute": "the compute nodes themselves, their images and groups",
    "interfaces": "the network interfaces of a node replied without them",
    "profiles": "the instance profile a node was launched with",
}

def _unknown_field(node: Node, name: str) -> bool:
    """Whether the node's attribute `name` (or part of it: `Routes[2].GatewayId`) is known only after apply."""
    return name in (node.get("unknown") or {})


def describe_gap(gap: dict, whole_list: bool) -> str:
    """The gap in words; `whole_list` when it names a whole list of the snapshot."""
    where = f" in {gap['region']}" if gap.get("region") else ""
    what = gap.get("what", "")
    if whole_list:
        return f"{what}{where} not collected ({gap.get('error', '')})"
    return f"{what}{where}: {gap.get('error', '')}"


class Coverage:
    """The unknowns of each node, by facet, from the graph's gaps and its nodes' unknown values."""

    def __init__(self, graph: EstateGraph, reach: Reachability) -> None:
        self.graph = graph
        self.reach = reach
        self._places: dict[tuple[str, str | None], dict[str, list[str]]] = {}
        self._named: dict[str, list[dict]] = {}
        self._of: dict[str, dict[str, list[str]]] = {}
        for gap in graph.gaps:
            what = str(gap.get("what") or "")
            facets = graph.gap_vocabulary.lists.get(what)
            if facets is not None:
                place = self._places.setdefault((str(gap.get("scope") or ""), gap.get("region")), {})
                for facet in facets:
                    place.setdefault(facet, []).append(describe_gap(gap, True))
                continue
            named = self._named_node(what)
            if named is not None:
                self._named.setdefault(named, []).append(gap)

    def _named_node(self, what: str) -> str | None:
        """The node a gap names: `... of ID`, `... of role ID`, `kind/ID/field`, or a Terraform
        `ADDRESS.attribute`."""
        has = self.graph.has
        candidates = [what.rsplit(" of ", 1)[-1].strip(), what.rsplit(" ", 1)[-1], *what.split("/")]
        dot = what.rfind(".")
        while dot > 0:
            candidates.append(what[:dot])
            dot = what.rfind(".", 0, dot)
        return next((c for c in candidates if c and c != INTERNET and has(c)), None)

    def at(self, node: Node, facet: str) -> list[str]:
        """What gaps naming a whole list hide of this facet where the node is."""
        account = str(node.get("account") or "")
        found = []
        for region in (node.get("region"), None):
            found += self._places.get((account, region), {}).get(facet, [])
            if region is None:
                break
        return found

    def of(self, node: Node) -> dict[str, list[str]]:
        """facet -> what is unknown about it for this node, each named (empty when all was seen)."""
        if not self.graph.gaps:
            # Whatever is missing or known only after apply is recorded as a gap where it is met
            # (collector, normalization, Terraform translation): no gaps, nothing unknown.
            return {}
        found = self._of.get(node.id)
        if found is None:
            found = self._of[node.id] = self._unknowns(node)
        return found

    def unknowns(self, node: Node, facets: tuple[str, ...]) -> list[str]:
        texts = self.of(node)
        return list(dict.fromkeys(t for f in facets for t in texts.get(f, ())))

    def _unknowns(self, node: Node) -> dict[str, list[str]]:
        graph, reach = self.graph, self.reach
        out: dict[str, list[str]] = {}

        def add(facets: tuple[str, ...], text: str) -> None:
            for facet in facets:
                texts = out.setdefault(facet, [])
                if text not in texts:
                    texts.append(text)

        unknown = set(node.get("unknown") or ())
        identities = [i for i, _ in graph.out(node.id, "runs_as")]
        runs_as_something = bool(node.get("identity_ref") or identities or "identity" in unknown)
        for facet in FACETS:
            if facet == "identity" and not runs_as_something:
                continue  # a node with no identity has no power, whatever the account's IAM holds
            for text in self.at(node, facet):
                add((facet,), text)
        if not node.get("interfaces") and node.get("compute_type") == "instance":
            for text in self.at(node, "interfaces"):
                add(("routes", "acls", "firewalls", "load_balancers"), text)
        for iface in node.get("interfaces") or ():
            subnet_id = iface.get("subnet")
            if subnet_id and not graph.has(subnet_id):
                add(("routes", "acls"), f"subnet {subnet_id} not collected")
            elif subnet_id:
                # Routes known only after apply are reachability's to assume (route_assumptions).
                if reach.route_table(subnet_id) is None:
                    add(("routes",), f"route table of subnet {subnet_id} not collected")
                acl = reach.nacl(subnet_id)
                if acl is not None and _unknown_field(acl, "rules"):
                    add(("acls",), f"rules of network ACL {acl.id} known only after apply")
            for group in iface.get("groups") or ():
                if not graph.has(group):
                    add(("firewalls",), f"security group {group} not collected")
                elif _unknown_field(graph.node(group), "ingress_rules"):
                    add(("firewalls",), f"ingress rules of {group} known only after apply")
        for field_name, facets, text in (
                ("subnet", ("routes", "acls"), "its subnet is known only after apply"),
                ("firewalls", ("firewalls",), "its security groups are known only after apply"),
                ("identity", ("identity",), "its instance profile is known only after apply"),
                ("launch_data", ("launch_data",), "its user data is known only after apply")):
            if field_name in unknown:
                add(facets, text)
        if node.get("identity_ref"):
            for text in self.at(node, "profiles"):
                add(("identity",), text)
        if node.get("identity_ref") and not identities:
            add(("identity",), f"the role of instance profile {node.get('identity_ref')} not collected")
        named = list(self._named.get(node.id, ()))
        for identity in identities:
            for field_name in identity.get("unknown") or ():
                add(("identity",), f"{field_name} of {identity.name} known only after apply")
            named += self._named.get(identity.id, ())
        for gap in named:
            words = str(gap.get("what", "")).lower()
            facet = next((f for word, f in self.graph.gap_vocabulary.words if word in words), None)
            # What the graph showed missing is named already; the gap names the rest (a user data
            # call that failed, a policy that could not be read).
            if facet is not None and (facet != "identity" or runs_as_something) and not out.get(facet):
                add((facet,), describe_gap(gap, False))
        return out


def possible_exposure(graph: EstateGraph, reach: Reachability, coverage: Coverage,
                      exposure: dict[str, Exposure], among) -> None:
    """Add to `exposure` the paths by which the internet may reach each of these nodes, through a
    layer that was not collected or is known only after apply, each unknown named as an assumption.
    A node with a path that holds for certain needs none."""
    if not graph.gaps:
        return  # nothing was missed (Coverage.of)
    internet = graph.node(INTERNET)
    for node_id in among:
        if not graph.has(node_id):
            continue
        node = graph.node(node_id)
        if node.kind != "compute" or node.get("state") in ("stopped", "stopping"):
            continue
        found = exposure.get(node_id)
        if found and any(not p.assumptions for p in found.paths):
            continue
        paths = [*_possible_direct(graph, reach, coverage, internet, node),
                 *_possible_through_load_balancers(graph, reach, coverage, internet, node)]
        if paths:
            exposure.setdefault(node_id, Exposure(node_id)).paths.extend(paths)


def _possible_direct(graph: EstateGraph, reach: Reachability, coverage: Coverage, internet: Node,
                     node: Node) -> Iterator[ExposurePath]:
    unknown = set(node.get("unknown") or ())
    for iface in node.get("interfaces") or ():
        target = reach.target_of(iface)
        tags = iface.get("network_tags") or ()
        for version, field_name, label in ((4, "public", "public IPv4"), (6, "ipv6", "IPv6")):
            addresses = iface.get(field_name) or []
            assumptions: list[str] = []
            if not addresses:
                if ("public_ipv4" if version == 4 else "ipv6") not in unknown:
                    continue
                assumptions.append(f"its {label} address is unknown until apply; assumed to be assigned")
            unseen: list[str] = []
            admitted = everything()
            steps = [step(internet)]
            subnet_id = iface.get("subnet")
            if not subnet_id or not graph.has(subnet_id):
                if not subnet_id and "subnet" not in unknown:
                    continue
                unseen.append(f"subnet {subnet_id} was not collected, its routes and network ACL taken to admit "
                              "the internet" if subnet_id else
                              "its subnet is known only after apply, taken to route to the internet")
                steps.append(Step(subnet_id or f"subnet of {node.id}", "subnet", subnet_id or "unknown subnet",
                                  unseen[-1]))
            else:
                subnet = graph.node(subnet_id)
                route = reach.internet_route(subnet_id, version, tags)
                if route is not None:
                    steps.append(step(route[1], route[2]))
                else:
                    if reach.route_table(subnet_id) is not None:
                        # No internet route, even with the routes known only after apply assumed.
                        continue
                    unseen.append(f"the route table of subnet {subnet.name} was not collected, taken to route "
                                  "to an internet gateway")
                acl = reach.nacl(subnet_id)
                missing_acls = coverage.at(node, "acls") if acl is None else []
                if missing_acls:
                    unseen.append(f"the network ACLs were not collected ({missing_acls[0]}), taken to admit the "
                                  "internet")
                    via = unseen[-1]
                elif acl is not None and _unknown_field(acl, "rules"):
                    unseen.append(f"the rules of network ACL {acl.id} are known only after apply, taken to admit "
                                  "the internet")
                    via = unseen[-1]
                else:
                    acl_admits, _ = reach.nacl_admits_internet(subnet_id, version, target)
                    if not acl_admits:
                        continue
                    admitted = admitted.intersect(acl_admits)
                    via = "network ACL admits the internet" if acl is not None else unfiltered_via(subnet)
                steps.append(step(subnet, via))
            groups = tuple(sorted(iface.get("groups") or ()))
            unseen_groups = [g for g in groups if not graph.has(g) or _unknown_field(graph.node(g), "ingress_rules")]
            if unseen_groups or (not groups and "firewalls" in unknown):
                for group in unseen_groups:
                    text = (f"security group {group} was not collected, taken to admit the internet"
                            if not graph.has(group) else
                            f"the ingress rules of {group} are known only after apply, taken to admit the internet")
                    unseen.append(text)
                    steps.append(Step(group, "firewall", graph.node(group).name if graph.has(group) else group, text))
                if not groups:
                    unseen.append("its security groups are known only after apply, taken to admit the internet")
            else:
                groups_admit = reach.groups_admit_internet(groups, version, target)
                if not groups_admit:
                    continue
                admitted = admitted.intersect(groups_admit)
            if not unseen:
                continue  # every layer is known: reachability has decided
            admitted = admitted.services()
            if not admitted:
                continue
            steps.append(step(node, f"{label} {', '.join(addresses) or 'address'}"
                                    + (f" on {iface['id']}" if iface.get("id") else "")))
            yield ExposurePath(steps, admitted.ports, assumptions + unseen)


def _possible_through_load_balancers(graph: EstateGraph, reach: Reachability, coverage: Coverage,
                                     internet: Node, node: Node) -> Iterator[ExposurePath]:
    missing = coverage.at(node, "load_balancers")
    if missing:
        where = node.get("region") or "its region"
        text = f"the load balancers of {where} were not collected ({missing[0]}): one may forward to it"
        yield ExposurePath([step(internet), Step(f"load balancers in {where}", "load_balancer",
                                                 f"load balancers in {where}", text),
                            step(node, "a possible target")], {}, [text])
        return
    groups = {g for iface in node.get("interfaces") or () for g in iface.get("groups") or ()}
    target_unseen = [f"security group {g} of the target" for g in sorted(groups)
                     if not graph.has(g) or _unknown_field(graph.node(g), "ingress_rules")]
    for lb, edge in graph.into(node.id, "forwards"):
        if edge.get("listener_port") is None:
            continue
        unseen = list(target_unseen)
        if not lb.get("internet_facing"):
            if not _unknown_field(lb, "internet_facing"):
                continue
            unseen.append(f"whether {lb.name} is internet-facing")
        routed = False
        for subnet_id in lb.get("subnets") or ():
            if not graph.has(subnet_id):
                unseen.append(f"subnet {subnet_id} of {lb.name}")
            elif reach.internet_route(subnet_id, 4) is not None:
                routed = True
            elif reach.route_table(subnet_id) is None:
                unseen.append(f"the routes of subnet {subnet_id} of {lb.name}")
        if not routed and len(unseen) == len(target_unseen):
            continue  # its subnets are known not to route to the internet
        unseen += [f"security group {g} of {lb.name}" for g in lb.get("firewalls") or ()
                   if not graph.has(g) or _unknown_field(graph.node(g), "ingress_rules")]
        if not unseen:
            continue  # every layer is known: reachability has decided
        text = (f"{', '.join(unseen)} not collected or known only after apply, taken to let the internet through "
                f"load balancer {lb.name}")
        protos = ("tcp", "udp") if edge.get("protocol") == "tcp_udp" else (edge.get("protocol") or "tcp",)
        port = int(edge["listener_port"])
        yield ExposurePath([step(internet), step(lb, edge.get("via", "")), step(node, text)],
                           {p: RangeSet(((port, port),)) for p in protos}, [text])
        return
