"""Sets of integers as sorted disjoint ranges: ports, and IPv4/IPv6 addresses as integers.

Firewalls speak in ranges (port 1024-65535, 10.0.0.0/8), and the questions we ask of them are set
questions (does the union of these rules cover the whole internet on port 22?). Working on ranges
keeps every answer exact without enumerating ports or addresses.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

PORT_MAX = 65535
V4_MAX = (1 << 32) - 1
V6_MAX = (1 << 128) - 1


@dataclass(frozen=True)
class RangeSet:
    """An immutable set of integers held as sorted, disjoint, non-adjacent inclusive ranges."""

    ranges: tuple[tuple[int, int], ...] = ()

    @staticmethod
    def of(pairs: Iterable[tuple[int, int]]) -> "RangeSet":
        merged: list[list[int]] = []
        for lo, hi in sorted((min(a, b), max(a, b)) for a, b in pairs):
            if merged and lo <= merged[-1][1] + 1:
                if hi > merged[-1][1]:
                    merged[-1][1] = hi
            else:
                merged.append([lo, hi])
        return RangeSet(tuple((lo, hi) for lo, hi in merged))

    def __bool__(self) -> bool:
        return bool(self.ranges)

    def __or__(self, other: "RangeSet") -> "RangeSet":
        if not other.ranges:
            return self
        if not self.ranges:
            return other
        return RangeSet.of(self.ranges + other.ranges)

    def __and__(self, other: "RangeSet") -> "RangeSet":
        if self.ranges == other.ranges:
            return self
        if len(other.ranges) == 1 and self.ranges and other.ranges[0][0] <= self.ranges[0][0] \
                and other.ranges[0][1] >= self.ranges[-1][1]:
            return self  # intersecting with a range that holds all of this one, e.g. every port
        out: list[tuple[int, int]] = []
        i = j = 0
        a, b = self.ranges, other.ranges
        while i < len(a) and j < len(b):
            lo = max(a[i][0], b[j][0])
            hi = min(a[i][1], b[j][1])
            if lo <= hi:
                out.append((lo, hi))
            if a[i][1] < b[j][1]:
                i += 1
            else:
                j += 1
        return RangeSet(tuple(out))

    def __sub__(self, other: "RangeSet") -> "RangeSet":
        out: list[tuple[int, int]] = []
        for lo, hi in self.ranges:
            cur = lo
            for olo, ohi in other.ranges:
                if ohi < cur or olo > hi:
                    continue
                if olo > cur:
                    out.append((cur, olo - 1))
                cur = max(cur, ohi + 1)
                if cur > hi:
                    break
            if cur <= hi:
                out.append((cur, hi))
        return RangeSet(tuple(out))

    def covers(self, other: "RangeSet") -> bool:
        return not (other - self)

    def overlaps(self, other: "RangeSet") -> bool:
        a, b = self.ranges, other.ranges
        i = j = 0
        while i < len(a) and j < len(b):
            if a[i][1] < b[j][0]:
                i += 1
            elif b[j][1] < a[i][0]:
                j += 1
            else:
                return True
        return False

    def size(self) -> int:
        return sum(hi - lo + 1 for lo, hi in self.ranges)


ALL_PORTS = RangeSet(((0, PORT_MAX),))
NO_RANGES = RangeSet()


def port_range(lo: int | None, hi: int | None) -> RangeSet:
    """Ports lo..hi; None or -1 on either side means every port."""
    if lo is None or hi is None or lo < 0 or hi < 0:
        return ALL_PORTS
    return RangeSet.of([(max(0, lo), min(PORT_MAX, hi))])


@lru_cache(maxsize=65536)
def cidr_range(text: str) -> tuple[int, tuple[int, int]]:
    """(IP version, (first, last) address as integers) of a CIDR or address; estates repeat them."""
    try:  # a plain IPv4 address, by far the most common, without the cost of ipaddress
        packed = socket.inet_pton(socket.AF_INET, text)
    except (OSError, TypeError):
        pass
    else:
        number = int.from_bytes(packed, "big")
        return 4, (number, number)
    net = ipaddress.ip_network(text.strip(), strict=False)
    return net.version, (int(net.network_address), int(net.broadcast_address))


@dataclass(frozen=True)
class AddressSet:
    """IPv4 and IPv6 addresses, each family a RangeSet of integers."""

    v4: RangeSet = NO_RANGES
    v6: RangeSet = NO_RANGES

    @staticmethod
    def parse(*cidrs: str) -> "AddressSet":
        v4: list[tuple[int, int]] = []
        v6: list[tuple[int, int]] = []
        for text in cidrs:
            version, pair = cidr_range(text)
            (v4 if version == 4 else v6).append(pair)
        return AddressSet(RangeSet.of(v4), RangeSet.of(v6))

    def family(self, version: int) -> RangeSet:
        return self.v4 if version == 4 else self.v6

    def __or__(self, other: "AddressSet") -> "AddressSet":
        return AddressSet(self.v4 | other.v4, self.v6 | other.v6)

    def __and__(self, other: "AddressSet") -> "AddressSet":
        return AddressSet(self.v4 & other.v4, self.v6 & other.v6)

    def __bool__(self) -> bool:
        return bool(self.v4) or bool(self.v6)

    def overlaps(self, other: "AddressSet") -> bool:
        return self.v4.overlaps(other.v4) or self.v6.overlaps(other.v6)


EVERY_V4 = RangeSet(((0, V4_MAX),))
EVERY_V6 = RangeSet(((0, V6_MAX),))
INTERNET = AddressSet(EVERY_V4, EVERY_V6)


def every_address(version: int) -> RangeSet:
    return EVERY_V4 if version == 4 else EVERY_V6


def is_valid_cidr(text: str) -> bool:
    try:
        cidr_range(text)  # cached: security groups repeat the same few ranges
    except (ValueError, TypeError, AttributeError):
        return False
    return True
