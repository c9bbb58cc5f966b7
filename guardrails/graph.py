"""The estate graph: one provider-neutral networkx MultiDiGraph behind a small interface.

Node kinds and edge kinds are declared here once. Every node carries `kind`, `provider`, `name`,
`account`, `region`, `tags` and `raw`; kinds add the normalized attributes listed in NODE_KINDS.
networkx stays behind this module so a faster graph library could replace it in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

INTERNET = "internet"

NODE_KINDS: dict[str, str] = {
    "internet": "the one node standing for every internet address (id `internet`)",
    "account": "AWS account, GCP project, Azure subscription",
    "network": "VPC, VPC network, VNet; `cidrs`",
    "subnet": "subnet; `cidrs`, `network`",
    "route_table": "route table; `routes`: [{destination, target, target_kind, state}]",
    "gateway": "IGW, egress-only IGW, NAT, transit gateway, peering; `gateway_type`",
    "firewall": "security group, network ACL, NSG, firewall rule set; `semantics`, `rules`, `layer`",
    "compute": "instance, VM, managed build project; `interfaces`, `identity_refs`, hygiene facts",
    "load_balancer": "ALB/NLB/CLB, forwarding rule, application gateway; `scheme`, `lb_type`, `listeners`",
    "identity": "IAM role or user, service account, managed identity",
}

EDGE_KINDS: dict[str, str] = {
    "contains": "network -> subnet, subnet -> compute or load balancer",
    "routes": "subnet -> route table (`association`), route table -> gateway (`destination`)",
    "attached": "gateway -> network",
    "filtered_by": "compute, subnet or load balancer -> firewall (`layer`)",
    "forwards": "load balancer -> compute (`listener_port`, `target_port`, `protocol`, `via`)",
    "runs_as": "compute -> identity",
    "can_assume": "identity -> identity (`via`)",
    "grants": "identity -> account or resource (`power`, `via`)",
    "peers": "network -> network (`via`)",
}


@dataclass(frozen=True)
class Node:
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


class EstateGraph:
    def __init__(self) -> None:
        import networkx as nx  # imported here so that listing checks or --help stays fast

        self._g = nx.MultiDiGraph()
        self._by_kind: dict[str, list[str]] = {}
        self.gaps: list[dict] = []
        self.notes: list[str] = []
        self.sources: list[dict] = []
        self.add_node(INTERNET, "internet", provider="any", name="internet")

    def add_node(self, node_id: str, kind: str, *, provider: str, name: str = "", account: str | None = None,
                 region: str | None = None, tags: dict | None = None, raw: dict | None = None, **attrs: Any) -> None:
        if kind not in NODE_KINDS:
            raise ValueError(f"unknown node kind {kind!r}")
        if node_id not in self._g:
            self._by_kind.setdefault(kind, []).append(node_id)
        self._g.add_node(node_id, kind=kind, provider=provider, name=name or node_id, account=account,
                         region=region, tags=tags or {}, raw=raw or {}, **attrs)

    def add_edge(self, src: str, dst: str, kind: str, **attrs: Any) -> None:
        if kind not in EDGE_KINDS:
            raise ValueError(f"unknown edge kind {kind!r}")
        key = kind + ":" + str(attrs.pop("key", ""))
        self._g.add_edge(src, dst, key=key, kind=kind, **attrs)

    def has(self, node_id: str) -> bool:
        return node_id in self._g

    def node(self, node_id: str) -> Node:
        return Node(node_id, self._g.nodes[node_id])

    def nodes(self, kind: str | None = None) -> Iterator[Node]:
        ids = self._by_kind.get(kind, []) if kind else list(self._g.nodes)
        for node_id in ids:
            yield Node(node_id, self._g.nodes[node_id])

    def count(self, kind: str | None = None) -> int:
        return len(self._by_kind.get(kind, [])) if kind else self._g.number_of_nodes()

    def counts_by_kind(self) -> dict[str, int]:
        return {kind: len(ids) for kind, ids in sorted(self._by_kind.items()) if kind != "internet"}

    def out(self, node_id: str, kind: str | None = None) -> Iterator[tuple[Node, dict]]:
        for _, dst, data in self._g.out_edges(node_id, data=True):
            if kind is None or data["kind"] == kind:
                yield Node(dst, self._g.nodes[dst]), data

    def into(self, node_id: str, kind: str | None = None) -> Iterator[tuple[Node, dict]]:
        for src, _, data in self._g.in_edges(node_id, data=True):
            if kind is None or data["kind"] == kind:
                yield Node(src, self._g.nodes[src]), data

    def gap(self, provider: str, what: str, error: str, scope: str = "", region: str | None = None) -> None:
        self.gaps.append({"provider": provider, "scope": scope, "region": region, "what": what, "error": error})
