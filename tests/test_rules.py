"""Range sets and the firewall rule evaluator, checked against plain Python sets and a brute-force
model of each layer's semantics (guardrails/netsets.py, guardrails/rules.py)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails.netsets import ALL_PORTS, INTERNET, NO_RANGES, AddressSet, RangeSet, port_range
from guardrails.rules import (ALLOW_UNION, FIRST_MATCH, Layer, Peer, Principal, Rule, admits_internet,
                              admits_principal, format_portmap)

# --- RangeSet against Python sets -----------------------------------------------------------

UNIVERSE = 48
pairs = st.lists(st.tuples(st.integers(0, UNIVERSE - 1), st.integers(0, UNIVERSE - 1)), max_size=6)


def members(pairs_: list[tuple[int, int]]) -> set[int]:
    return {n for a, b in pairs_ for n in range(min(a, b), max(a, b) + 1)}


def as_set(ranges: RangeSet) -> set[int]:
    return members(list(ranges.ranges))


def is_canonical(ranges: RangeSet) -> bool:
    flat = ranges.ranges
    return all(lo <= hi for lo, hi in flat) and all(a[1] + 1 < b[0] for a, b in zip(flat, flat[1:]))


@given(pairs)
def test_of_holds_exactly_the_members_in_canonical_form(p) -> None:
    ranges = RangeSet.of(p)
    assert as_set(ranges) == members(p)
    assert is_canonical(ranges)
    assert ranges.size() == len(members(p))
    assert bool(ranges) == bool(p)


@given(pairs, pairs)
def test_set_operations_match_python_sets(p, q) -> None:
    a, b = RangeSet.of(p), RangeSet.of(q)
    sa, sb = members(p), members(q)
    for result, expected in ((a | b, sa | sb), (a & b, sa & sb), (a - b, sa - sb), (b - a, sb - sa)):
        assert as_set(result) == expected
        assert is_canonical(result)
    assert a.covers(b) == (sb <= sa)
    assert a.overlaps(b) == bool(sa & sb)


@given(pairs, pairs, pairs)
def test_set_laws(p, q, r) -> None:
    a, b, c = RangeSet.of(p), RangeSet.of(q), RangeSet.of(r)
    assert a | b == b | a and a & b == b & a
    assert (a | b) | c == a | (b | c)
    assert a & (b | c) == (a & b) | (a & c)
    assert a - (b | c) == (a - b) - c
    assert (a - b) | (a & b) == a
    assert (a - b) & b == NO_RANGES
    assert a | NO_RANGES == a and a & NO_RANGES == NO_RANGES and a - NO_RANGES == a


@pytest.mark.parametrize(
    ("lo", "hi", "expected"),
    [
        (22, 22, ((22, 22),)),
        (8000, 8100, ((8000, 8100),)),
        (None, None, ((0, 65535),)),
        (-1, -1, ((0, 65535),)),
        (0, 65535, ((0, 65535),)),
    ],
)
def test_port_range(lo, hi, expected) -> None:
    assert port_range(lo, hi).ranges == expected


def test_addresses_of_cidrs() -> None:
    both = AddressSet.parse("10.0.0.0/8", "10.1.0.0/16", "2001:db8::/32")
    assert both.v4.ranges == ((int(ipaddress.ip_address("10.0.0.0")), int(ipaddress.ip_address("10.255.255.255"))),)
    assert both.v6.size() == 2 ** 96
    assert AddressSet.parse("10.0.0.5/8") == AddressSet.parse("10.0.0.0/8")  # host bits as AWS accepts them
    assert AddressSet.parse("0.0.0.0/1", "128.0.0.0/1") == AddressSet(INTERNET.v4)
    assert AddressSet.parse("::/0").v6 == INTERNET.v6 and not AddressSet.parse("::/0").v4
    assert AddressSet.parse("10.0.0.0/8").overlaps(AddressSet.parse("10.2.3.4/32"))
    assert not AddressSet.parse("10.0.0.0/8").overlaps(AddressSet.parse("::/0"))


# --- the rule evaluator against a brute-force model --------------------------------------------

# CIDRs whose atoms (the pieces no CIDR splits) are few enough to enumerate: the four quarters of
# IPv4, with two /24s inside the last one.
CIDRS = ["0.0.0.0/0", "0.0.0.0/1", "128.0.0.0/1", "0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/2", "192.0.0.0/2",
         "203.0.113.0/24", "198.51.100.0/24", "::/0"]
ATOMS_V4 = ["1.0.0.1", "65.0.0.1", "129.0.0.1", "193.0.0.1", "203.0.113.7", "198.51.100.7"]
ATOMS_V6 = ["2001:db8::1", "::1"]
PORT_BOUNDS = [0, 22, 80, 443, 1024, 8080, 65535]
PROBE_PORTS = sorted({p + d for p in PORT_BOUNDS for d in (-1, 0, 1) if 0 <= p + d <= 65535})


@lru_cache(maxsize=None)
def contains(cidrs: tuple[str, ...], address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip.version == ipaddress.ip_network(c).version and ip in ipaddress.ip_network(c) for c in cidrs)


@st.composite
def rules(draw, direction: str = "ingress") -> Rule:
    cidrs = tuple(draw(st.lists(st.sampled_from(CIDRS), min_size=1, max_size=2, unique=True)))
    protocol = draw(st.sampled_from(["tcp", "udp", "all"]))
    lo, hi = sorted(draw(st.tuples(st.sampled_from(PORT_BOUNDS), st.sampled_from(PORT_BOUNDS))))
    ports = ALL_PORTS if protocol == "all" else RangeSet.of([(lo, hi)])
    return Rule(
        direction=draw(st.sampled_from([direction, direction, "egress" if direction == "ingress" else "ingress"])),
        action=draw(st.sampled_from(["allow", "allow", "deny"])),
        protocol=protocol,
        ports=ports,
        peers=tuple(Peer("cidr", c, AddressSet.parse(c)) for c in cidrs),
        priority=draw(st.integers(1, 200)),
        ref=f"rule {'+'.join(cidrs)}",
    )


def matches(rule: Rule, direction: str, protocol: str, port: int) -> bool:
    return rule.direction == direction and rule.applies_to(protocol) and any(lo <= port <= hi for lo, hi in rule.ports.ranges)


def cidrs_of(rule: Rule) -> tuple[str, ...]:
    return tuple(p.value for p in rule.peers)


def model_internet(layer_rules: list[Rule], semantics: str, protocol: str, port: int, version: int) -> bool:
    """Does every internet address of this version pass on (protocol, port)? The docstring's
    carve-out: in a first-match layer an address denied by a rule narrower than the whole address
    space is forgiven, as long as some address is allowed."""
    atoms = ATOMS_V4 if version == 4 else ATOMS_V6
    applicable = [r for r in layer_rules if matches(r, "ingress", protocol, port)]
    if semantics == ALLOW_UNION:
        return all(any(r.action == "allow" and contains(cidrs_of(r), a) for r in applicable) for a in atoms)
    applicable.sort(key=lambda r: r.priority)
    allowed_any = False
    for atom in atoms:
        first = next((r for r in applicable if contains(cidrs_of(r), atom)), None)
        if first is None:
            return False  # the implied deny-all at the end is not a carve-out
        if first.action == "allow":
            allowed_any = True
        elif all(contains(cidrs_of(first), a) for a in atoms):
            return False
    return allowed_any


def unique_priorities(rs: list[Rule]) -> list[Rule]:
    seen, out = set(), []
    for r in rs:
        if r.priority not in seen:
            seen.add(r.priority)
            out.append(r)
    return out


def ports_contain(admission, protocol: str, port: int) -> bool:
    return any(lo <= port <= hi for lo, hi in admission.ports.get(protocol, NO_RANGES).ranges)


@settings(max_examples=200, deadline=None)
@given(st.lists(rules(), max_size=5), st.sampled_from([ALLOW_UNION, FIRST_MATCH]), st.sampled_from([4, 6]))
def test_admits_internet_matches_the_model(layer_rules, semantics, version) -> None:
    if semantics == FIRST_MATCH:
        layer_rules = unique_priorities(layer_rules)  # NACL rule numbers and NSG priorities are unique
    else:
        layer_rules = [r for r in layer_rules if r.action == "allow"]  # security groups only allow
    admission = admits_internet(Layer("layer", semantics, tuple(layer_rules)), "ingress", version)
    for protocol in ("tcp", "udp"):
        for port in PROBE_PORTS:
            assert ports_contain(admission, protocol, port) == model_internet(layer_rules, semantics, protocol, port, version), (
                protocol, port)
    for rule in admission.rules:
        assert rule.action == "allow" and rule in layer_rules


def model_principal(layer_rules: list[Rule], semantics: str, protocol: str, port: int, address: str) -> bool:
    applicable = [r for r in layer_rules if matches(r, "ingress", protocol, port) and contains(cidrs_of(r), address)]
    if semantics == ALLOW_UNION:
        return any(r.action == "allow" for r in applicable)
    applicable.sort(key=lambda r: r.priority)
    return bool(applicable) and applicable[0].action == "allow"


@settings(max_examples=200, deadline=None)
@given(st.lists(rules(), max_size=5), st.sampled_from([ALLOW_UNION, FIRST_MATCH]),
       st.sampled_from(ATOMS_V4 + ATOMS_V6))
def test_admits_principal_matches_the_model(layer_rules, semantics, address) -> None:
    if semantics == FIRST_MATCH:
        layer_rules = unique_priorities(layer_rules)
    else:
        layer_rules = [r for r in layer_rules if r.action == "allow"]
    principal = Principal(addresses=AddressSet.parse(address))
    admission = admits_principal(Layer("layer", semantics, tuple(layer_rules)), "ingress", principal)
    for protocol in ("tcp", "udp"):
        for port in PROBE_PORTS:
            assert ports_contain(admission, protocol, port) == model_principal(layer_rules, semantics, protocol, port, address), (
                protocol, port)


# --- worked examples ------------------------------------------------------------------------


def cidr_rule(action: str, cidr: str, protocol: str = "all", ports: RangeSet = ALL_PORTS, *, priority: int = 0,
              direction: str = "ingress") -> Rule:
    return Rule(direction, action, protocol, ports, (Peer("cidr", cidr, AddressSet.parse(cidr)),), priority, f"{cidr}@{priority}")


def tcp_ports(lo: int, hi: int | None = None) -> RangeSet:
    return RangeSet.of([(lo, hi if hi is not None else lo)])


def nacl(*rules_: Rule) -> Layer:
    return Layer("acl", FIRST_MATCH, rules_)


def groups(*rules_: Rule) -> Layer:
    return Layer("sg", ALLOW_UNION, rules_)


def test_security_groups_union_of_allows() -> None:
    layer = groups(cidr_rule("allow", "0.0.0.0/1", "tcp", tcp_ports(8080)),
                   cidr_rule("allow", "128.0.0.0/1", "tcp", tcp_ports(8000, 8100)))
    assert format_portmap(admits_internet(layer, "ingress", 4).ports) == ["tcp/8080"]
    assert not admits_internet(layer, "ingress", 6)
    assert not admits_internet(layer, "egress", 4)


def test_first_match_deny_before_allow_closes_the_port() -> None:
    layer = nacl(cidr_rule("deny", "0.0.0.0/0", "tcp", tcp_ports(8080), priority=90),
                 cidr_rule("allow", "0.0.0.0/0", priority=100))
    admitted = admits_internet(layer, "ingress", 4)
    assert not ports_contain(admitted, "tcp", 8080)
    assert ports_contain(admitted, "tcp", 8079) and ports_contain(admitted, "tcp", 8081)
    assert format_portmap({"tcp": admitted.ports["tcp"]}) == ["tcp/0-8079", "tcp/8081-65535"]


def test_first_match_allow_before_deny_opens_the_port() -> None:
    layer = nacl(cidr_rule("allow", "0.0.0.0/0", "tcp", tcp_ports(8080), priority=90),
                 cidr_rule("deny", "0.0.0.0/0", priority=100))
    assert format_portmap(admits_internet(layer, "ingress", 4).ports) == ["tcp/8080"]


def test_narrow_deny_is_a_carve_out_not_a_closure() -> None:
    layer = nacl(cidr_rule("deny", "198.51.100.0/24", priority=90), cidr_rule("allow", "0.0.0.0/0", priority=100))
    assert format_portmap(admits_internet(layer, "ingress", 4).ports) == ["all"]
    # but a principal inside the denied range is refused
    inside = Principal(addresses=AddressSet.parse("198.51.100.7/32"))
    assert not admits_principal(layer, "ingress", inside)
    outside = Principal(addresses=AddressSet.parse("192.0.2.7/32"))
    assert admits_principal(layer, "ingress", outside)


def test_narrow_allow_does_not_admit_the_internet() -> None:
    layer = nacl(cidr_rule("allow", "203.0.113.0/24", priority=100))
    assert not admits_internet(layer, "ingress", 4)
    assert not admits_internet(groups(cidr_rule("allow", "203.0.113.0/24")), "ingress", 4)


def test_only_denies_admit_nothing() -> None:
    layer = nacl(cidr_rule("deny", "0.0.0.0/1", priority=10), cidr_rule("deny", "128.0.0.0/1", priority=20),
                 cidr_rule("allow", "0.0.0.0/0", priority=100))
    assert not admits_internet(layer, "ingress", 4)


def test_security_group_peer_admits_its_members_only() -> None:
    rule = Rule("ingress", "allow", "tcp", tcp_ports(8080), (Peer("group", "sg-lb"),), 0, "sg-web ingress rule 1")
    layer = groups(rule)
    assert format_portmap(admits_principal(layer, "ingress", Principal(groups=frozenset({"sg-lb"}))).ports) == ["tcp/8080"]
    assert not admits_principal(layer, "ingress", Principal(groups=frozenset({"sg-other"})))
    assert not admits_internet(layer, "ingress", 4)


@pytest.mark.parametrize(
    ("ports", "labels"),
    [
        ({"tcp": tcp_ports(22)}, ["tcp/22"]),
        ({"tcp": tcp_ports(8000, 8080)}, ["tcp/8000-8080"]),
        ({"tcp": RangeSet.of([(22, 22), (443, 443)]), "udp": tcp_ports(53)}, ["tcp/22", "tcp/443", "udp/53"]),
        ({"tcp": ALL_PORTS, "udp": ALL_PORTS, "icmp": ALL_PORTS}, ["all"]),
        # Exposure counts services only, so every TCP and UDP port is "all" with or without ICMP.
        ({"tcp": ALL_PORTS, "udp": ALL_PORTS}, ["all"]),
        ({"tcp": ALL_PORTS}, ["tcp/0-65535"]),
        ({"icmp": ALL_PORTS}, ["icmp"]),
    ],
)
def test_port_labels(ports, labels) -> None:
    assert format_portmap(ports) == labels


# --- each firewall layer judged by its own semantics, through reachability ------------------
#
# One row per rule a cloud gives its firewalls. The estate is neutral: internet -> internet
# gateway -> subnet (optionally filtered by a subnet firewall) -> a node with a public address
# whose interface carries the row's firewalls. What the internet reaches must follow each
# firewall's own `semantics`, whatever other firewalls share its interface.

ANYWHERE = "0.0.0.0/0"


def fw_rule(action: str, ports: RangeSet | None = None, *, priority: int = 0, cidr: str = ANYWHERE,
            direction: str = "ingress") -> Rule:
    protocol = "all" if ports is None else "tcp"
    return Rule(direction, action, protocol, ports or ALL_PORTS, (Peer("cidr", cidr, AddressSet.parse(cidr)),),
                priority, f"rule {priority}")


def firewall(semantics: str, *rules_: Rule, layer: str = "interface", stateful: bool = True) -> dict:
    return {"semantics": semantics, "layer": layer, "stateful": stateful, "rules": rules_}


def reached_ports(firewalls: list[dict]) -> list[str]:
    from guardrails.analysis.reachability import compute_exposure
    from guardrails.graph import EstateGraph

    graph = EstateGraph()
    graph.add_node("net", "network", provider="test", cidrs=["10.0.0.0/16"])
    graph.add_node("subnet", "subnet", provider="test", cidrs=["10.0.1.0/24"], network="net")
    graph.add_edge("net", "subnet", "contains")
    graph.add_node("gw", "gateway", provider="test", gateway_type="internet")
    graph.add_edge("gw", "net", "attached")
    graph.add_node("rt", "route_table", provider="test", network="net",
                   routes=[{"destination": ANYWHERE, "target": "gw", "target_kind": "internet", "state": "active"}])
    graph.add_edge("rt", "gw", "routes", key=ANYWHERE, destination=ANYWHERE)
    graph.add_edge("subnet", "rt", "routes", association="explicit", via="explicit association")
    on_interface = []
    for n, spec in enumerate(firewalls):
        fw_id = f"fw-{n}"
        rules_ = tuple(Rule(r.direction, r.action, r.protocol, r.ports, r.peers, r.priority, f"{fw_id} {r.ref}",
                            firewall=fw_id) for r in spec["rules"])
        graph.add_node(fw_id, "firewall", provider="test", semantics=spec["semantics"], layer=spec["layer"],
                       stateful=spec["stateful"], rules=rules_)
        if spec["layer"] == "subnet":
            graph.add_edge("subnet", fw_id, "filtered_by", layer="subnet")
        else:
            on_interface.append(fw_id)
    graph.add_node("vm", "compute", provider="test", compute_type="instance",
                   interfaces=[{"id": "nic-1", "subnet": "subnet", "private": ["10.0.1.5"], "public": ["203.0.113.5"],
                                "public_kind": "static", "ipv6": [], "groups": on_interface}])
    graph.add_edge("subnet", "vm", "contains")
    for fw_id in on_interface:
        graph.add_edge("vm", fw_id, "filtered_by", key=fw_id, layer="interface")
    exposure = compute_exposure(graph).get("vm")
    return exposure.labels if exposure else []


LAYER_ROWS = [
    pytest.param([firewall(ALLOW_UNION, fw_rule("allow", tcp_ports(22))),
                  firewall(ALLOW_UNION, fw_rule("allow", tcp_ports(443), cidr="10.0.0.0/8"))],
                 ["tcp/22"], id="aws-security-groups-an-allow-in-any-group-admits"),
    pytest.param([firewall(ALLOW_UNION, fw_rule("allow", tcp_ports(22), cidr="0.0.0.0/1"),
                           fw_rule("allow", tcp_ports(22), cidr="128.0.0.0/1"))],
                 ["tcp/22"], id="aws-security-group-allows-add-up-to-the-whole-internet"),
    pytest.param([firewall(ALLOW_UNION, fw_rule("allow", tcp_ports(22), cidr="10.0.0.0/8"))],
                 [], id="aws-security-group-narrow-allow-admits-no-internet"),
    pytest.param([firewall(ALLOW_UNION, fw_rule("allow", tcp_ports(22)), fw_rule("allow", tcp_ports(443))),
                  firewall(FIRST_MATCH, fw_rule("deny", tcp_ports(22), priority=100), fw_rule("allow", priority=200),
                           fw_rule("allow", priority=200, direction="egress"), layer="subnet", stateful=False)],
                 ["tcp/443"], id="aws-network-acl-lowest-numbered-entry-decides"),
    pytest.param([firewall(ALLOW_UNION, fw_rule("allow", tcp_ports(443))),
                  firewall(FIRST_MATCH, fw_rule("allow", priority=100), layer="subnet", stateful=False)],
                 [], id="aws-network-acl-stateless-without-egress-answers-nothing"),
    pytest.param([firewall(FIRST_MATCH, fw_rule("deny", tcp_ports(22), priority=100),
                           fw_rule("allow", tcp_ports(0, 65535), priority=200))],
                 ["tcp/0-21", "tcp/23-65535"], id="azure-nic-nsg-deny-at-lower-priority-wins"),
    pytest.param([firewall(FIRST_MATCH, fw_rule("allow", tcp_ports(22), priority=100),
                           fw_rule("deny", tcp_ports(22), priority=200))],
                 ["tcp/22"], id="azure-nic-nsg-allow-at-lower-priority-wins"),
    pytest.param([firewall(FIRST_MATCH, fw_rule("allow", tcp_ports(22), priority=100),
                           fw_rule("allow", tcp_ports(443), priority=110)),
                  firewall(FIRST_MATCH, fw_rule("allow", tcp_ports(443), priority=100),
                           fw_rule("deny", priority=4096), layer="subnet")],
                 ["tcp/443"], id="azure-nic-and-subnet-nsgs-must-both-admit"),
    pytest.param([firewall(FIRST_MATCH, fw_rule("allow", tcp_ports(22), priority=1000),
                           fw_rule("deny", priority=65534))],
                 ["tcp/22"], id="gcp-firewall-rules-in-priority-order"),
    pytest.param([firewall(FIRST_MATCH, fw_rule("deny", tcp_ports(22), priority=900)),
                  firewall(FIRST_MATCH, fw_rule("allow", tcp_ports(22), priority=1000))],
                 [], id="gcp-firewall-rule-sets-of-one-layer-are-one-priority-order"),
    pytest.param([firewall(ALLOW_UNION, fw_rule("allow", tcp_ports(22)), fw_rule("allow", tcp_ports(443))),
                  firewall(FIRST_MATCH, fw_rule("deny", tcp_ports(443), priority=100), fw_rule("allow", priority=200))],
                 ["tcp/22"], id="union-groups-and-first-match-set-on-one-interface-are-two-layers"),
]


@pytest.mark.parametrize("firewalls, expected", LAYER_ROWS)
def test_each_layer_is_judged_by_its_own_semantics(firewalls, expected) -> None:
    assert reached_ports(firewalls) == expected
