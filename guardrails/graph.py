"""The estate graph: one provider-neutral networkx MultiDiGraph behind a small interface.

Node kinds and edge kinds, and the attributes each may carry, are declared once in
guardrails/schema.py; every insert is checked against them. Every node carries `kind`, `provider`,
`name`, `account`, `region`, `tags` and `raw`; kinds add their declared attributes. networkx stays
behind this module so a faster graph library could replace it in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, NamedTuple

from guardrails import schema

INTERNET = "internet"

# The kinds and their attributes are declared in guardrails/schema.py; these tables name them.
NODE_KINDS = schema.NODE_KINDS
EDGE_KINDS = schema.EDGE_KINDS
_NODE_ATTRIBUTES = schema.NODE_ATTRIBUTES
_EDGE_ATTRIBUTES = schema.EDGE_ATTRIBUTES


class Node(NamedTuple):
    """A view of one node: its id and its attribute dict (the graph's own, not a copy). A named
    tuple because analysis makes millions of them, and a tuple is the cheapest object to make."""

    id: str
    attrs: dict[str, Any]

    @property
    def kind(self) -> str:
        return self.attrs["kind"]

    @property
    def name(self) -> str:
        return self.attrs.get("name") or self.id

    def get(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)


@dataclass
class GapVocabulary:
    """How the providers name what they could not collect, in the facets of coverage analysis
    (guardrails/analysis/coverage.py): each provider adds its own words while normalizing.

    `lists` maps a snapshot list's name, as a gap names it when the whole list could not be read,
    to the facets that list holds; `words` maps a word of a gap naming one resource to its facet,
    first match."""

    lists: dict[str, tuple[str, ...]] = field(default_factory=dict)
    words: list[tuple[str, str]] = field(default_factory=list)

    def add(self, lists: dict[str, tuple[str, ...]], words: tuple[tuple[str, str], ...]) -> None:
        self.lists.update(lists)
        self.words.extend(w for w in words if w not in self.words)


class EstateGraph:
    """The estate: nodes and edges of the kinds guardrails/schema.py declares, plus the coverage
    gaps and notes of the sources that built it."""

    def __init__(self) -> None:
        import networkx as nx  # imported here so that listing checks or --help stays fast

        self._g = nx.MultiDiGraph()
        self._by_kind: dict[str, list[str]] = {}
        # Per node kind and per edge kind, how many more inserts have their attributes' types checked.
        self._typed_left: dict[str, int] = {}
        self._typed_edges_left: dict[str, int] = {}
        self.gaps: list[dict] = []
        self.notes: list[str] = []
        self.gap_vocabulary = GapVocabulary()
        self.sources: list[dict] = []
        self.add_node(INTERNET, "internet", provider="any", name="internet")

    def add_node(self, node_id: str, kind: str, *, provider: str, name: str = "", account: str | None = None,
                 region: str | None = None, tags: dict | None = None, raw: dict | None = None, **attrs: Any) -> None:
        allowed = _NODE_ATTRIBUTES.get(kind)
        if allowed is None:
            raise schema.SchemaError(f"unknown node kind {kind!r}")
        if attrs and not allowed.issuperset(attrs):  # one set operation: cheap enough for every insert
            raise schema.undeclared(allowed, attrs, f"{kind} node {node_id!r}")
        attrs["kind"] = kind
        attrs["provider"] = provider
        attrs["name"] = name or node_id
        attrs["account"] = account
        attrs["region"] = region
        attrs["tags"] = tags or {}
        attrs["raw"] = raw or {}
        left = self._typed_left.get(kind, schema.TYPED_INSERTS_PER_KIND)
        if left:
            self._typed_left[kind] = left - 1
            schema.check_types(schema.NODE_SCHEMAS[kind], attrs, f"{kind} node {node_id!r}")
        nodes = self._g._node
        if node_id in nodes:
            existing = nodes[node_id]
            before = existing.get("kind")  # None: made by an edge to it before it was added
            if before != kind:
                # Known first by another's reference (an instance as a route's target, say), it is
                # listed under what it turns out to be.
                if before is not None:
                    self._by_kind[before].remove(node_id)
                self._by_kind.setdefault(kind, []).append(node_id)
            existing.update(attrs)
            return
        # Written straight into networkx's adjacency (its documented data structure: dicts of
        # dicts), which is what add_node does, minus the per-call overhead that dominates building
        # a graph of a hundred thousand nodes.
        self._by_kind.setdefault(kind, []).append(node_id)
        nodes[node_id] = attrs
        self._g._succ[node_id] = {}
        self._g._pred[node_id] = {}

    def add_edge(self, src: str, dst: str, kind: str, key: object = "", **attrs: Any) -> None:
        allowed = _EDGE_ATTRIBUTES.get(kind)
        if allowed is None:
            raise schema.SchemaError(f"unknown edge kind {kind!r}")
        if attrs:
            if not allowed.issuperset(attrs):
                raise schema.undeclared(allowed, attrs, f"{kind} edge {src!r} -> {dst!r}")
            left = self._typed_edges_left.get(kind, schema.TYPED_INSERTS_PER_KIND)
            if left:
                self._typed_edges_left[kind] = left - 1
                schema.check_types(schema.EDGE_SCHEMAS[kind], attrs, f"{kind} edge {src!r} -> {dst!r}")
        key = kind + ":" + (key if type(key) is str else str(key))
        attrs["kind"] = kind
        succ = self._g._succ
        out = succ.get(src)
        if out is None or dst not in succ:
            self._g.add_edge(src, dst, key=key, **attrs)  # a new endpoint: networkx adds the node
            return
        keys = out.get(dst)
        if keys is None:
            # As MultiDiGraph.add_edge: one key dict shared by both directions of adjacency.
            out[dst] = self._g._pred[dst][src] = {key: attrs}
            return
        data = keys.get(key)
        if data is None:
            keys[key] = attrs
        else:
            data.update(attrs)

    def has(self, node_id: str) -> bool:
        return node_id in self._g._node

    def node(self, node_id: str) -> Node:
        return Node(node_id, self._g._node[node_id])

    def nodes(self, kind: str | None = None) -> Iterator[Node]:
        ids = self._by_kind.get(kind, []) if kind else list(self._g._node)
        return map(Node, ids, map(self._g._node.__getitem__, ids))  # no generator frame per node

    def count(self, kind: str | None = None) -> int:
        return len(self._by_kind.get(kind, [])) if kind else self._g.number_of_nodes()

    def counts_by_kind(self) -> dict[str, int]:
        return {kind: len(ids) for kind, ids in sorted(self._by_kind.items()) if kind != "internet" and ids}

    def out(self, node_id: str, kind: str | None = None) -> Iterator[tuple[Node, dict]]:
        attrs = self._g._node
        for dst, keys in self._g._succ.get(node_id, {}).items():
            for data in keys.values():
                if kind is None or data["kind"] == kind:
                    yield Node(dst, attrs[dst]), data

    def into(self, node_id: str, kind: str | None = None) -> Iterator[tuple[Node, dict]]:
        attrs = self._g._node
        for src, keys in self._g._pred.get(node_id, {}).items():
            for data in keys.values():
                if kind is None or data["kind"] == kind:
                    yield Node(src, attrs[src]), data

    def joined_networks(self, network: str) -> set[str]:
        """The network and those joined to it: peered, or attached to one of its transit gateways."""
        networks = {network}
        if network in self._g._node:
            networks |= {n.id for n, _ in self.out(network, "peers")}
            for gateway, _ in self.into(network, "attached"):
                if gateway.get("gateway_type") == "transit":
                    networks |= {a.get("resource") for a in gateway.get("attachments") or []}
        return networks

    def gap(self, provider: str, what: str, error: str, scope: str = "", region: str | None = None) -> None:
        self.gaps.append({"provider": provider, "scope": scope, "region": region, "what": what, "error": error})
