"""Normalized firewall rules and the one evaluator every provider's rules go through.

Providers translate their firewalls (security groups, network ACLs, NSGs, VPC firewall rules) into
`Rule` records and say how a layer combines them:

- ``allow_union``: any matching allow admits; there are no denies (AWS security groups).
- ``first_match``: rules in priority order, lower first; the first rule matching the flow decides;
  nothing matching means deny (network ACLs, Azure NSGs, GCP firewall rules).

The evaluator answers "on which protocols and ports does this layer admit this principal?", for a
principal that is either a concrete node (its addresses, firewall groups, tags, service accounts)
or the internet. Quirks of a cloud stay in the provider that builds the rules.

A rule may apply to only some of the nodes its layer protects (`targets`: GCP target tags and
target service accounts, Azure destination prefixes and application security groups). A layer is
judged for one protected node by `Layer.applying_to(node's principal)`, which keeps the rules that
apply to it; a rule without targets applies to every node.

The internet is admitted on a port when every internet address is, except ranges that a
first-match layer denies explicitly with a rule narrower than the whole address space: a network
ACL that blocks a few abusive ranges still leaves the host open to the internet at large, while a
security group that admits only an office range does not open it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterable, Sequence

from guardrails.netsets import ALL_PORTS, NO_RANGES, AddressSet, RangeSet, every_address

PROTOCOLS = ("tcp", "udp", "icmp", "icmpv6")
# Exposure is about services: ICMP (e.g. AWS's recommended path-MTU rule from anywhere) opens none.
EPHEMERAL_PORTS = RangeSet(((1024, 65535),))

ALLOW_UNION = "allow_union"
FIRST_MATCH = "first_match"


@dataclass(frozen=True)
class Peer:
    """The other side of a rule: a CIDR, a firewall group, a network tag or a service account."""

    kind: str  # "cidr" | "group" | "tag" | "service_account" | "unknown" (a value that could not be read)
    value: str
    addresses: AddressSet = AddressSet()
    label: str = ""

    def describe(self) -> str:
        return self.label or self.value


@dataclass(frozen=True)
class Rule:
    """One normalized firewall rule: who (peers) may pass in which direction on which protocol and
    ports. `ref` words where it lives for evidence; `firewall` is the id of the firewall holding it."""

    direction: str  # "ingress" | "egress"
    action: str  # "allow" | "deny"
    protocol: str  # "all" or one of PROTOCOLS (other IP protocols are not evaluated)
    ports: RangeSet
    peers: tuple[Peer, ...]
    priority: int = 0
    ref: str = ""  # where the rule lives, for evidence: "sg-0abc ingress", "acl-1 rule 100"
    firewall: str = ""  # id of the firewall node that holds the rule
    # The protected nodes the rule applies to (peers matched against the node, not the other side):
    # empty, every node behind the layer.
    targets: tuple[Peer, ...] = ()

    def __hash__(self) -> int:
        # Rules are hashed over and over when admissions merge their evidence: hash the fields once.
        return self._hash

    @cached_property
    def _hash(self) -> int:
        return hash((self.direction, self.action, self.protocol, self.ports, self.peers, self.priority, self.ref,
                     self.firewall, self.targets))

    def applies_to(self, protocol: str) -> bool:
        return self.protocol == "all" or self.protocol == protocol

    def describe(self) -> str:
        return self._description

    @cached_property
    def _description(self) -> str:
        proto = "all traffic" if self.protocol == "all" else f"{self.protocol}/{format_ranges(self.ports)}"
        word = "from" if self.direction == "ingress" else "to"
        peers = ", ".join(p.describe() for p in self.peers) or "nothing"
        text = f"{self.action} {proto} {word} {peers}"
        if self.targets:
            text += f" to targets {', '.join(p.describe() for p in self.targets)}"
        return f"{self.ref}: {text}" if self.ref else text


@dataclass(frozen=True)
class Layer:
    """One filtering layer on a path: a set of rules and how they combine."""

    name: str
    semantics: str
    rules: tuple[Rule, ...]
    kind: str = "firewall"

    @cached_property
    def _peer_index(self) -> dict[str, tuple]:
        """Per direction, which rules name each group, tag and service account, and each CIDR
        rule's address ranges: matching a principal then costs a few lookups, not a pass over
        every peer of every rule."""
        index: dict[str, tuple] = {}
        for i, rule in enumerate(self.rules):
            by_group, cidrs, by_tag, by_account = index.setdefault(rule.direction, ({}, [], {}, {}))
            addresses = AddressSet()
            for peer in rule.peers:
                if peer.kind == "cidr":
                    addresses = addresses | peer.addresses
                else:
                    table = by_group if peer.kind == "group" else by_tag if peer.kind == "tag" else \
                        by_account if peer.kind == "service_account" else None
                    if table is not None:
                        table.setdefault(peer.value, set()).add(i)
            if addresses:
                cidrs.append((i, addresses.v4.ranges, addresses.v6.ranges))
        return index

    @cached_property
    def cidr_peers(self) -> frozenset[AddressSet]:
        """The address sets its rules name; a frozenset keeps its hash, so it is a cheap cache key."""
        return frozenset(peer.addresses for rule in self.rules for peer in rule.peers if peer.kind == "cidr")

    def matching(self, direction: str, principal: "Principal") -> tuple[int, ...]:
        """Indexes of the rules of this direction with a peer that matches the principal."""
        index = self._peer_index.get(direction)
        if index is None:
            return ()
        by_group, cidrs, by_tag, by_account = index
        found: set[int] = set()
        for table, values in ((by_group, principal.groups), (by_tag, principal.tags),
                              (by_account, principal.service_accounts)):
            if table:
                for value in values:
                    rules = table.get(value)
                    if rules:
                        found |= rules
        if cidrs:
            mine_v4, mine_v6 = principal.addresses.v4.ranges, principal.addresses.v6.ranges
            if mine_v4 or mine_v6:
                for i, v4, v6 in cidrs:
                    if i not in found and ((mine_v4 and v4 and _ranges_overlap(v4, mine_v4))
                                           or (mine_v6 and v6 and _ranges_overlap(v6, mine_v6))):
                        found.add(i)
        return tuple(sorted(found))

    @cached_property
    def _target_index(self) -> tuple | None:
        """Which rules apply to every node, and which to nodes with a given tag, service account,
        group or address; None when no rule has targets (the layer is the same for every node)."""
        if not any(rule.targets for rule in self.rules):
            return None
        everyone: list[int] = []
        by_value: dict[tuple[str, str], list[int]] = {}
        cidrs: list[tuple[int, AddressSet]] = []
        for i, rule in enumerate(self.rules):
            if not rule.targets:
                everyone.append(i)
            for peer in rule.targets:
                if peer.kind == "cidr":
                    cidrs.append((i, peer.addresses))
                else:
                    by_value.setdefault((peer.kind, peer.value), []).append(i)
        return tuple(everyone), by_value, cidrs

    @property
    def targeted(self) -> bool:
        """Whether some rule applies to only some of the nodes behind the layer."""
        return self._target_index is not None

    @property
    def targets_by_address(self) -> bool:
        """Whether some rule selects the nodes it applies to by address."""
        index = self._target_index
        return index is not None and bool(index[2])

    def applying_to(self, node: "Principal") -> "Layer":
        """The layer as it judges traffic to or from one protected node: only the rules that apply
        to it (no targets, or a target the node matches). The same layer when no rule has targets;
        layers of nodes that match the same rules are equal and share a name."""
        index = self._target_index
        if index is None:
            return self
        everyone, by_value, cidrs = index
        found = set(everyone)
        for kind, values in (("tag", node.tags), ("service_account", node.service_accounts), ("group", node.groups)):
            for value in values:
                found.update(by_value.get((kind, value), ()))
        if cidrs and node.addresses:
            found.update(i for i, addresses in cidrs if addresses.overlaps(node.addresses))
        key = tuple(sorted(found))
        cache = self._applying
        layer = cache.get(key)
        if layer is None:
            layer = cache[key] = Layer(f"{self.name}[{','.join(map(str, key))}]", self.semantics,
                                       tuple(self.rules[i] for i in key), self.kind)
        return layer

    @cached_property
    def _applying(self) -> dict[tuple[int, ...], "Layer"]:
        return {}

    def ordered(self, direction: str) -> list[Rule]:
        rules = [r for r in self.rules if r.direction == direction]
        if self.semantics == FIRST_MATCH:
            rules.sort(key=first_match_order)
        return rules


def first_match_order(rule: Rule) -> tuple[int, bool]:
    """Lower priority numbers first; at equal priority a deny before an allow (GCP's rule; the
    other clouds give each rule of a layer its own priority, so it changes nothing for them)."""
    return rule.priority, rule.action != "deny"


def _ranges_overlap(a: tuple[tuple[int, int], ...], b: tuple[tuple[int, int], ...]) -> bool:
    if len(b) == 1:  # one address or one subnet: the usual principal
        lo, hi = b[0]
        for first, last in a:
            if first <= hi and lo <= last:
                return True
        return False
    return RangeSet(a).overlaps(RangeSet(b))


@dataclass(frozen=True)
class Principal:
    """Who sends the traffic (ingress) or receives it (egress)."""

    addresses: AddressSet = AddressSet()
    groups: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    service_accounts: frozenset[str] = frozenset()



@dataclass
class Admission:
    """What a layer (or a chain of layers) admits, and the rules that admit it."""

    ports: dict[str, RangeSet] = field(default_factory=dict)
    rules: list[Rule] = field(default_factory=list)

    def __bool__(self) -> bool:
        return any(self.ports.values())

    def intersect(self, other: "Admission") -> "Admission":
        ports = {}
        for proto, ranges in self.ports.items():
            theirs = other.ports.get(proto)
            if theirs is None:
                continue
            both = ranges if theirs is ranges else ranges & theirs
            if both:
                ports[proto] = both
        rules = self.rules if not other.rules else other.rules if not self.rules else _unique(self.rules + other.rules)
        return Admission(ports, rules)

    def only(self, ports: dict[str, RangeSet]) -> "Admission":
        return self.intersect(Admission(ports, []))

    def services(self) -> "Admission":
        """The TCP and UDP part: what a connection can be opened to."""
        return self.only(SERVICE_PORTS)


def _unique(rules: Iterable[Rule]) -> list[Rule]:
    seen: dict[Rule, None] = {}
    for rule in rules:
        seen.setdefault(rule, None)
    return list(seen)


def _segments(rules: Sequence[Rule], protocol: str) -> list[RangeSet]:
    """Split the port space at every rule boundary so each piece is decided as one."""
    points = {0, 65536}
    for rule in rules:
        if rule.applies_to(protocol):
            for lo, hi in rule.ports.ranges:
                points.add(lo)
                points.add(hi + 1)
    ordered = sorted(points)
    return [RangeSet(((lo, hi - 1),)) for lo, hi in zip(ordered, ordered[1:])]


def _rule_addresses(rule: Rule, version: int) -> RangeSet:
    out = NO_RANGES
    for peer in rule.peers:
        if peer.kind == "cidr":
            out = out | peer.addresses.family(version)
    return out


def admits_internet(layer: Layer, direction: str, version: int) -> Admission:
    """Ports on which every internet address of this IP version passes the layer."""
    every = every_address(version)
    rules = layer.ordered(direction)
    result = Admission()
    for protocol in PROTOCOLS:
        admitted_ports = NO_RANGES
        for segment in _segments(rules, protocol):
            applicable = [r for r in rules if r.applies_to(protocol) and r.ports.covers(segment)]
            if layer.semantics == ALLOW_UNION:
                union, used = NO_RANGES, []
                for rule in applicable:
                    if rule.action != "allow":
                        continue
                    addrs = _rule_addresses(rule, version)
                    if addrs:
                        union = union | addrs
                        used.append(rule)
                if union.covers(every):
                    admitted_ports = admitted_ports | segment
                    result.rules.extend(used)
            else:
                remaining, admitted, carved, used = every, NO_RANGES, NO_RANGES, []
                for rule in applicable:
                    addrs = _rule_addresses(rule, version) & remaining
                    if not addrs:
                        continue
                    if rule.action == "allow":
                        admitted = admitted | addrs
                        used.append(rule)
                    elif not _rule_addresses(rule, version).covers(every):
                        carved = carved | addrs
                    remaining = remaining - addrs
                    if not remaining:
                        break
                if admitted and (admitted | carved).covers(every):
                    admitted_ports = admitted_ports | segment
                    result.rules.extend(used)
        if admitted_ports:
            result.ports[protocol] = admitted_ports
    result.rules = _unique(result.rules)
    return result


def admits_principal(layer: Layer, direction: str, principal: Principal) -> Admission:
    """Ports on which traffic from (ingress) or to (egress) this principal passes the layer."""
    matched = layer.matching(direction, principal)
    rules = [layer.rules[i] for i in matched]
    if layer.semantics == FIRST_MATCH:
        rules.sort(key=first_match_order)
    result = Admission()
    for protocol in PROTOCOLS:
        admitted_ports = NO_RANGES
        for segment in _segments(rules, protocol):
            for rule in rules:
                if not (rule.applies_to(protocol) and rule.ports.covers(segment)):
                    continue
                if rule.action == "allow":
                    admitted_ports = admitted_ports | segment
                    result.rules.append(rule)
                    if layer.semantics == FIRST_MATCH:
                        break
                elif layer.semantics == FIRST_MATCH:
                    break
        if admitted_ports:
            result.ports[protocol] = admitted_ports
    result.rules = _unique(result.rules)
    return result


SERVICE_PORTS = {"tcp": ALL_PORTS, "udp": ALL_PORTS}


def everything() -> Admission:
    return Admission({p: ALL_PORTS for p in PROTOCOLS}, [])


def format_ranges(ports: RangeSet) -> str:
    return ",".join(f"{lo}" if lo == hi else f"{lo}-{hi}" for lo, hi in ports.ranges)


def format_portmap(ports: dict[str, RangeSet]) -> list[str]:
    """Port labels for findings: tcp/22, tcp/8000-8080, udp/53, icmp, or all (every TCP and UDP port)."""
    if all(ports.get(p, NO_RANGES).covers(ALL_PORTS) for p in ("tcp", "udp")):
        return ["all"]
    labels: list[str] = []
    for proto in PROTOCOLS:
        ranges = ports.get(proto)
        if not ranges:
            continue
        if proto in ("icmp", "icmpv6"):
            labels.append(proto)
            continue
        for lo, hi in ranges.ranges:
            labels.append(f"{proto}/{lo}" if lo == hi else f"{proto}/{lo}-{hi}")
    return labels
