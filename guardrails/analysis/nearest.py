"""Nearest targets in a directed graph, for every start at once.

A breadth-first search from each of many starts walks the same edges again for each of them: in an
account where fifty deploy roles can each update two thousand Lambda functions, every CI identity
that reaches those roles pays for the same hundred thousand edges. One breadth-first search
backwards from all the targets gives every node its distance to the nearest target instead, and a
start's chain is then read forwards, one hop per step.

The chain read is the one a forward breadth-first search from the start would meet first: the
shortest, and among the shortest the first in edge order at every step (the forward search's queue
order), because comparing two chains of the same length hop by hop is deciding at the first hop.
"""

from __future__ import annotations

from collections import deque
from typing import Callable, Generic, Hashable, Iterable, Sequence, TypeVar

Edge = TypeVar("Edge")

#: (target node, the edge itself) in the order a forward search would follow them.
Edges = Callable[[Hashable], Sequence[tuple[Hashable, Edge]]]


def incoming(nodes: Iterable[Hashable], edges: Edges) -> dict[Hashable, list[Hashable]]:
    """Node -> the nodes with an edge to it: what NearestTargets walks, shareable between target sets."""
    found: dict[Hashable, list[Hashable]] = {}
    for node in nodes:
        for target, _ in edges(node):
            found.setdefault(target, []).append(node)
    return found


class NearestTargets(Generic[Edge]):
    """Every node's distance to the nearest target over `edges`, among `nodes` (a set closed
    under `edges`: every target of an edge of a node is a node too); `into` is `incoming(nodes,
    edges)`."""

    def __init__(self, nodes: Iterable[Hashable], edges: Edges, into: dict[Hashable, list[Hashable]],
                 is_target: Callable[[Hashable], bool]) -> None:
        self._edges = edges
        self._distance = {node: 0 for node in nodes if is_target(node)}
        queue = deque(self._distance)
        while queue:
            node = queue.popleft()
            further = self._distance[node] + 1
            for source in into.get(node, ()):
                if source not in self._distance:
                    self._distance[source] = further
                    queue.append(source)

    def distance(self, start: Hashable) -> int | None:
        """Hops from `start` to the nearest target; None when no target is reachable."""
        return self._distance.get(start)

    def chain(self, start: Hashable) -> tuple[Hashable, tuple[Edge, ...]] | None:
        """(the target reached, the edges to it) for the nearest target, None when there is none."""
        left = self._distance.get(start)
        if left is None:
            return None
        current, chain = start, []
        while left:
            left -= 1
            current, edge = next((target, edge) for target, edge in self._edges(current)
                                 if self._distance.get(target) == left)
            chain.append(edge)
        return current, tuple(chain)
