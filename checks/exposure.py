"""The CI server is never publicly exposed, nor exposable."""

from __future__ import annotations

from typing import Iterator

from guardrails.analysis.estate import Estate, ci_label as describe
from guardrails.analysis.reachability import Exposure, step
from guardrails.graph import INTERNET
from guardrails.registry import Result, Severity, check
from guardrails.rules import FIRST_MATCH, format_portmap
from guardrails.schema import unknown_text


def _assumption_text(assumptions: list[str]) -> str:
    return f" Assumed: {'; '.join(assumptions)}." if assumptions else ""


@check(
    id="ci-internet-exposed",
    title="CI node reachable from the internet",
    severity=Severity.CRITICAL,
    severity_note="high for a runner",
    stride=("spoofing", "elevation_of_privilege", "information_disclosure"),
    owasp_cicd=("CICD-SEC-7",),
    cis=("AWS Foundations v3.0.0 5.2", "AWS Foundations v3.0.0 5.3"),
    nist=("SP 800-53 SC-7",),
    remediation="Remove the node's public address and its internet gateway route, and publish the CI service "
                "only through an authenticated, internal or allow-listed load balancer (or a VPN/zero-trust "
                "proxy). Close every security group and network ACL rule that admits 0.0.0.0/0 or ::/0.",
)
def internet_exposed(estate: Estate) -> Iterator[Result]:
    """Every layer between the internet and the node lets traffic through today."""
    for node, verdict in estate.ci_nodes():
        paths, unknowns = estate.exposure_paths(node.id)
        if not paths:
            continue
        exposure = Exposure(node.id, paths)
        direct = exposure.direct()
        path = (direct or paths)[0]
        how = "directly on its own address" if direct else "through an internet-facing load balancer"
        if direct and len(direct) < len(paths):
            how = "directly on its own address and through an internet-facing load balancer"
        lbs = sorted({s.name for p in paths for s in p.steps if s.kind == "load_balancer"})
        ports = exposure.labels or ["ports that are unknown"]
        yield Result(
            node.id,
            f"{describe(node, verdict)} is reachable from the internet on {', '.join(ports)} {how}"
            + (f" ({', '.join(lbs)})" if lbs else "") + "." + _assumption_text(exposure.assumptions),
            path=tuple(path.steps),
            ports=tuple(exposure.labels),
            details={"paths": [{"ports": p.labels, "steps": [s.as_dict() for s in p.steps]} for p in paths],
                     "assumptions": exposure.assumptions},
            severity=Severity.CRITICAL if verdict.role == "server" else Severity.HIGH,
            unknowns=unknowns,
        )


@check(
    id="ci-firewall-allows-internet",
    title="CI node's firewall admits the internet",
    severity=Severity.MEDIUM,
    severity_note="raised to high when the node is also reachable from the internet",
    stride=("spoofing", "elevation_of_privilege"),
    owasp_cicd=("CICD-SEC-7",),
    cis=("AWS Foundations v3.0.0 5.2", "AWS Foundations v3.0.0 5.3"),
    nist=("SP 800-53 SC-7",),
    remediation="Replace ingress rules from 0.0.0.0/0 or ::/0 with the load balancer's security group or the "
                "specific CIDRs that need access; a CI node should never be one route change away from exposure.",
    needs=("firewalls",),
)
def firewall_allows_internet(estate: Estate) -> Iterator[Result]:
    """A security group on the node admits every internet address, whether or not a path exists."""
    graph = estate.graph
    for node, verdict in estate.ci_nodes():
        # The node's own firewalls: those filtering it (security groups; Azure NSGs on its NICs and
        # on their subnets, never a network ACL).
        own = {fw.id: data.get("layer") for fw, data in graph.out(node.id, "filtered_by") if fw.kind == "firewall"}
        groups = sorted(own)
        if not groups:
            continue
        # Each of the node's firewalls (or, allow-union ones, each layer of them together) is judged
        # for each interface it filters, as the rules that apply to some nodes only select it.
        judged: dict[tuple, None] = {}
        covered: set[str] = set()
        for iface in node.get("interfaces") or []:
            target = estate.reach.target_of(iface)
            subnet_id = iface.get("subnet")
            subnet_fw = estate.reach.nacl(subnet_id) if subnet_id and graph.has(subnet_id) else None
            mine = [g for g in iface.get("groups") or [] if g in own]
            if subnet_fw is not None and subnet_fw.id in own:
                mine.append(subnet_fw.id)
            covered.update(mine)
            for members in _layers(graph, own, mine):
                judged[(members, target)] = None
        for members in _layers(graph, own, [g for g in groups if g not in covered]):
            judged[(members, None)] = None
        ports: dict = {}
        rules = []
        for version in (4, 6):
            for members, target in judged:
                adm = estate.reach.groups_admit_internet(members, version, target).services()
                for proto, ranges in adm.ports.items():
                    ports[proto] = ports[proto] | ranges if proto in ports else ranges
                rules.extend(r for r in adm.rules if r not in rules)
        if not ports:
            continue
        labels = format_portmap(ports)
        firewall_ids = sorted({r.firewall for r in rules})
        exposed = estate.exposed(node.id)
        path = [step(graph.node(INTERNET))]
        path += [step(graph.node(f), "; ".join(r.describe() for r in rules if r.firewall == f))
                 for f in firewall_ids if graph.has(f)]
        path.append(step(node, "attached to the node's network interface"))
        yield Result(
            node.id,
            f"{describe(node, verdict)} has firewall rules admitting any internet address on {', '.join(labels)}: "
            + "; ".join(r.describe() for r in rules[:5]) + "."
            + ("" if exposed is True else
               " Whether a path reaches it today is unknown: " + "; ".join(estate.exposure_paths(node.id)[1]) + "."
               if exposed else " No path reaches it today, but one route or address change would expose it."),
            path=tuple(path),
            ports=tuple(labels),
            details={"rules": [r.describe() for r in rules], "firewalls": firewall_ids, "exposed": exposed},
            severity=Severity.HIGH if exposed else Severity.MEDIUM,  # possibly exposed counts as exposed
        )


def _layers(graph, own: dict, firewalls: list[str]) -> list[tuple[str, ...]]:
    """The firewalls as the cloud judges them: a first-match one on its own, allow-union ones of a
    layer together."""
    layers: dict[tuple, list[str]] = {}
    for fid in sorted(set(firewalls)):
        first_match = graph.node(fid).get("semantics") == FIRST_MATCH
        layers.setdefault((own.get(fid), fid if first_match else ""), []).append(fid)
    return [tuple(members) for members in layers.values()]


def _addresses_of(iface: dict) -> dict:
    """Which interface holds which public addresses, and how: what a remediation takes away."""
    return {"id": iface.get("id"), "public": list(iface.get("public") or []),
            "public_kind": iface.get("public_kind"), "ipv6": list(iface.get("ipv6") or [])}


@check(
    id="ci-internet-gateway-segment",
    title="CI node in a segment routed to an internet gateway",
    severity=Severity.MEDIUM,
    stride=("spoofing", "information_disclosure"),
    owasp_cicd=("CICD-SEC-7",),
    nist=("SP 800-53 SC-7",),
    remediation="Move the node into a private subnet whose route table sends 0.0.0.0/0 and ::/0 to a NAT gateway "
                "(or an inspection appliance), never straight to an internet gateway.",
    needs=("routes",),
)
def internet_gateway_segment(estate: Estate) -> Iterator[Result]:
    """The node's subnet routes the internet straight to an internet gateway."""
    graph = estate.graph
    for node, verdict in estate.ci_nodes():
        seen = set()
        for iface in node.get("interfaces") or []:
            subnet_id = iface.get("subnet")
            if not subnet_id or subnet_id in seen or not graph.has(subnet_id):
                continue
            seen.add(subnet_id)
            tags = iface.get("network_tags") or ()
            routes = [r for r in (estate.reach.internet_route(subnet_id, 4, tags),
                                  estate.reach.internet_route(subnet_id, 6, tags)) if r]
            # A gateway that serves only interfaces with a public address of their own (Azure's
            # system Internet route, GCP's default internet gateway) makes the segment open for such interfaces alone.
            has_public = bool(iface.get("public") or iface.get("ipv6")) or "public_ipv4" in (node.get("unknown") or {})
            routes = [r for r in routes if has_public or not r[1].get("public_addresses_only")]
            if not routes:
                continue
            rt, gateway, how = routes[0]
            subnet = graph.node(subnet_id)
            assumed = sorted({a for version in (4, 6) for a in estate.reach.route_assumptions(subnet_id, version, tags)})
            # Where the gateway serves only addresses of their own, the interface's public address is
            # what puts the node on the route: a remediation takes that address away.
            holders = [_addresses_of(iface)] if gateway.get("public_addresses_only") and has_public else []
            yield Result(
                node.id,
                f"{describe(node, verdict)} sits in subnet {subnet.name} whose {how.split(' in ')[0]} "
                f"goes straight to internet gateway {gateway.name} (route table {rt.name})."
                + _assumption_text(assumed),
                path=(step(graph.node(INTERNET)), step(gateway, how), step(subnet, f"route table {rt.id}"),
                      step(node, "in the subnet")),
                details={"subnet": subnet_id, "route_table": rt.id, "gateway": gateway.id,
                         "routes": [r[2] for r in routes], **({"assumptions": assumed} if assumed else {}),
                         **({"interfaces": holders} if holders else {})},
                unknowns=tuple(assumed),
            )
            break


@check(
    id="ci-not-behind-load-balancer",
    title="CI server has its own public address",
    severity=Severity.HIGH,
    stride=("spoofing", "elevation_of_privilege"),
    owasp_cicd=("CICD-SEC-7",),
    nist=("SP 800-53 SC-7",),
    remediation="Release the server's public IP / Elastic IP (and IPv6 address), disable auto-assigned public "
                "IPs on its subnet, and reach it only through a load balancer.",
)
def not_behind_load_balancer(estate: Estate) -> Iterator[Result]:
    """A CI server with a public address is exposable whatever its routes and firewalls say today."""
    for node, verdict in estate.ci_nodes():
        if verdict.role != "server":
            continue
        unknown = node.get("unknown") or {}
        addresses = [a for iface in node.get("interfaces") or [] for a in (iface.get("public") or []) + (iface.get("ipv6") or [])]
        assumed = []
        if not addresses:
            fact = "public_ipv4" if "public_ipv4" in unknown else "ipv6" if "ipv6" in unknown else None
            if fact is None:
                continue
            address = "a public IPv4 address" if fact == "public_ipv4" else "an IPv6 address"
            assumed.append(f"whether it gets {address} is {unknown_text(unknown[fact])}")
        what = ", ".join(addresses) if addresses else f"a public address ({unknown_text(unknown[fact])})"
        yield Result(
            node.id,
            f"{describe(node, verdict)} has its own public address {what} instead of being reached only through "
            "a load balancer." + _assumption_text(assumed),
            path=(step(estate.graph.node(INTERNET)), step(node, f"public address {what}")),
            details={"addresses": addresses, "assumptions": assumed,
                     # which interface holds each address, and how: what a remediation changes
                     "interfaces": [_addresses_of(iface) for iface in node.get("interfaces") or []
                                    if iface.get("public") or iface.get("ipv6")]},
            unknowns=tuple(assumed),
        )
