"""Neutral estate graphs for testing checks without a cloud.

An EstateBuilder adds nodes and edges to an EstateGraph with the attributes a provider's normalizer
sets (providers/aws/normalize.py is the reference): networks, subnets, gateways, route tables,
firewalls with their rules, compute with interfaces, load balancers and identities. Tests name only
what a case is about; everything else gets a plain default. Every attribute name is written here and
nowhere else in the check tests, so a change of the estate schema is one edit to this module.

    b = EstateBuilder()
    net = b.public_network()
    web = b.firewall("sg-web", ingress=[allow_tcp(8080, cidr="0.0.0.0/0")])
    b.compute("i-jenkins", name="jenkins", subnet=net.subnet, public=["203.0.113.10"], groups=[web])
    estate = b.analyse()
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from typing import Iterable, NamedTuple

from guardrails.analysis.estate import Estate, analyse
from guardrails.config import Config
from guardrails.graph import EstateGraph
from guardrails.netsets import AddressSet, port_range
from guardrails.rules import ALLOW_UNION, FIRST_MATCH, Peer, Rule
from guardrails.schema import AFTER_APPLY, NOT_COLLECTED

ACCOUNT = "111122223333"
REGION = "eu-west-1"
PROVIDER = "aws"  # the provider whose identity evaluator reads the identities' policy documents
NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.timezone.utc)
INTERNET_V4 = "0.0.0.0/0"
INTERNET_V6 = "::/0"


class RuleSpec(NamedTuple):
    """One firewall rule before it belongs to a firewall: the firewall gives it its place (`ref`)."""

    action: str
    protocol: str
    ports: tuple[int | None, int | None]
    cidrs: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    priority: int = 0
    tags: tuple[str, ...] = ()  # source network tags
    target_tags: tuple[str, ...] = ()  # the protected nodes it applies to, by network tag (none: all)


def allow_tcp(first: int, last: int | None = None, *, cidr: str | Iterable[str] = (),
              group: str | Iterable[str] = (), priority: int = 0) -> RuleSpec:
    """Allow TCP on a port or a range, from CIDRs and/or firewall groups."""
    return RuleSpec("allow", "tcp", (first, first if last is None else last), _many(cidr), _many(group), priority)


def allow_all(*, cidr: str | Iterable[str] = (), group: str | Iterable[str] = (), priority: int = 0) -> RuleSpec:
    """Allow every protocol and port."""
    return RuleSpec("allow", "all", (None, None), _many(cidr), _many(group), priority)


def deny_all(*, cidr: str | Iterable[str] = INTERNET_V4, priority: int) -> RuleSpec:
    """Deny every protocol and port (first-match layers only)."""
    return RuleSpec("deny", "all", (None, None), _many(cidr), (), priority)


def deny_tcp(first: int, last: int | None = None, *, cidr: str | Iterable[str] = INTERNET_V4, priority: int) -> RuleSpec:
    return RuleSpec("deny", "tcp", (first, first if last is None else last), _many(cidr), (), priority)


def _many(value: str | Iterable[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


@dataclass(frozen=True)
class Network:
    """What public_network and private_network made: the network, its one subnet and route table."""

    id: str
    subnet: str
    route_table: str
    gateway: str | None


class EstateBuilder:
    """Adds neutral nodes and edges to one EstateGraph, in one account and region by default."""

    def __init__(self, account: str = ACCOUNT, region: str = REGION, *, account_tags: dict | None = None,
                 account_aliases: Iterable[str] = (), partition: str = "aws") -> None:
        self.graph = EstateGraph()
        self.account, self.region, self.partition = account, region, partition
        self.add_account(account, tags=account_tags, aliases=account_aliases)

    def _base(self, account: str | None = None) -> dict:
        return {"provider": PROVIDER, "account": account or self.account, "region": self.region}

    # -- accounts and networks -------------------------------------------------------------

    def add_account(self, account: str, *, tags: dict | None = None, aliases: Iterable[str] = ()) -> str:
        aliases = list(aliases)
        self.graph.add_node(account, "account", provider=PROVIDER, name=aliases[0] if aliases else account,
                            account=account, tags=tags, raw={"aliases": aliases}, aliases=aliases)
        return account

    def network(self, network_id: str, cidr: str, *, name: str = "", tags: dict | None = None) -> str:
        self.graph.add_node(network_id, "network", name=name or network_id, tags=tags, cidrs=[cidr], **self._base())
        return network_id

    def subnet(self, subnet_id: str, network: str, cidr: str, *, name: str = "", tags: dict | None = None) -> str:
        self.graph.add_node(subnet_id, "subnet", name=name or subnet_id, tags=tags, cidrs=[cidr], network=network,
                            zone=f"{self.region}a", **self._base())
        self.graph.add_edge(network, subnet_id, "contains")
        return subnet_id

    def gateway(self, gateway_id: str, network: str, gateway_type: str) -> str:
        """An internet gateway ("internet"), NAT gateway ("nat"), egress-only gateway ("egress_only")...
        attached to the network."""
        self.graph.add_node(gateway_id, "gateway", name=gateway_id, gateway_type=gateway_type, **self._base())
        self.graph.add_edge(gateway_id, network, "attached")
        return gateway_id

    def route_table(self, table_id: str, network: str, routes: dict[str, str], *, subnets: Iterable[str] = (),
                    default: bool = False, route_tags: dict[str, list[str]] | None = None) -> str:
        """A route table with `routes` (destination CIDR -> gateway id), serving `subnets` explicitly,
        or as the network's default table (serving every subnet without one of its own).
        `route_tags` (destination -> network tags) limits a route to interfaces with one of them."""
        kinds = {t: self.graph.node(t).get("gateway_type") if self.graph.has(t) else "unknown" for t in routes.values()}
        route_tags = route_tags or {}
        self.graph.add_node(table_id, "route_table", name=table_id, network=network, default=default,
                            routes=[{"destination": d, "target": t, "target_kind": kinds[t], "state": "active",
                                     "node_tags": list(route_tags.get(d, []))}
                                    for d, t in routes.items()],
                            **self._base())
        for destination, target in routes.items():
            self.graph.add_edge(table_id, target, "routes", key=destination, destination=destination,
                                node_tags=list(route_tags.get(destination, [])))
        for subnet in subnets:
            self.graph.add_edge(subnet, table_id, "routes", association="default" if default else "explicit",
                                via="the network's default route table" if default else "explicit association")
        return table_id

    def peer(self, a: str, b: str, peering_id: str = "pcx-1") -> str:
        """Peer two networks: a peering gateway attached to both, routes left to the caller."""
        self.graph.add_node(peering_id, "gateway", name=peering_id, gateway_type="peering", requester=a,
                            accepter=b, **self._base())
        for network in (a, b):
            self.graph.add_edge(peering_id, network, "attached")
        self.graph.add_edge(a, b, "peers", via=peering_id)
        self.graph.add_edge(b, a, "peers", via=peering_id)
        return peering_id

    def public_network(self, prefix: str = "pub", cidr: str = "10.0.0.0/16", subnet_cidr: str = "10.0.1.0/24",
                       *, ipv6: bool = False, tags: dict | None = None) -> Network:
        """A network whose one subnet routes the whole internet to an internet gateway."""
        network = self.network(f"vpc-{prefix}", cidr, tags=tags)
        subnet = self.subnet(f"subnet-{prefix}", network, subnet_cidr, tags=tags)
        igw = self.gateway(f"igw-{prefix}", network, "internet")
        routes = {INTERNET_V4: igw, **({INTERNET_V6: igw} if ipv6 else {})}
        table = self.route_table(f"rtb-{prefix}", network, routes, subnets=[subnet])
        return Network(network, subnet, table, igw)

    def private_network(self, prefix: str = "priv", cidr: str = "10.1.0.0/16", subnet_cidr: str = "10.1.1.0/24",
                        *, tags: dict | None = None) -> Network:
        """A network whose one subnet sends the internet to a NAT gateway: outbound only."""
        network = self.network(f"vpc-{prefix}", cidr, tags=tags)
        subnet = self.subnet(f"subnet-{prefix}", network, subnet_cidr, tags=tags)
        nat = self.gateway(f"nat-{prefix}", network, "nat")
        table = self.route_table(f"rtb-{prefix}", network, {INTERNET_V4: nat}, subnets=[subnet])
        return Network(network, subnet, table, nat)

    # -- firewalls ---------------------------------------------------------------------------

    def firewall(self, firewall_id: str, *, ingress: Iterable[RuleSpec] = (), egress: Iterable[RuleSpec] = (),
                 network: str | None = None, semantics: str = ALLOW_UNION, layer: str = "interface",
                 stateful: bool = True) -> str:
        """A firewall; by default a stateful allow-union layer (a security group). Attach it to
        compute or load balancers by id (`groups=`), or to a subnet with filter_subnet."""
        rules = []
        for direction, specs in (("ingress", ingress), ("egress", egress)):
            for n, spec in enumerate(specs, 1):
                peers = [Peer("cidr", c, AddressSet.parse(c)) for c in spec.cidrs]
                peers += [Peer("group", g) for g in spec.groups]
                peers += [Peer("tag", t) for t in spec.tags]
                place = spec.priority if semantics == FIRST_MATCH else n
                rules.append(Rule(direction, spec.action, spec.protocol, port_range(*spec.ports), tuple(peers),
                                  spec.priority, f"{firewall_id} {direction} rule {place}", firewall=firewall_id,
                                  targets=tuple(Peer("tag", t) for t in spec.target_tags)))
        self.graph.add_node(firewall_id, "firewall", name=firewall_id, semantics=semantics, layer=layer,
                            stateful=stateful, network=network, rules=tuple(rules), **self._base())
        return firewall_id

    def network_filter(self, filter_id: str, subnet: str, *, ingress: Iterable[RuleSpec] = (),
                       egress: Iterable[RuleSpec] = ()) -> str:
        """A stateless first-match filter on a subnet (a network ACL): rules in priority order."""
        self.firewall(filter_id, ingress=ingress, egress=egress, semantics=FIRST_MATCH, layer="subnet", stateful=False)
        self.graph.add_edge(subnet, filter_id, "filtered_by", layer="subnet")
        return filter_id

    # -- compute and load balancers --------------------------------------------------------

    def compute(self, node_id: str, *, subnet: str, private: str, name: str = "", public: Iterable[str] = (),
                ipv6: Iterable[str] = (), groups: Iterable[str] = (), tags: dict | None = None,
                image: str | None = None, autoscaling_group: str | None = None,
                launched: dt.datetime | None = None, metadata: dict | None = None, launch_data: str | None = None,
                public_address_unknown: bool = False, metadata_unknown: bool = False,
                managed_service: bool = False, runs_as: str | None = None, state: str = "running",
                network_tags: Iterable[str] = (), command_agent: bool | None = None) -> str:
        """An instance with one network interface in `subnet`. `metadata` is its metadata service
        ({enabled, v1_allowed, hop_limit}; by default enabled, v1 allowed, no hop limit); `launch_data`
        its boot script, as text; the `..._unknown` flags say that a value is known only after apply
        (a Terraform plan): a metadata service known only after apply is judged by its defaults.
        `command_agent`: whether a remote command service manages it (None: not collected)."""
        groups = list(groups)
        interfaces = [{"id": f"eni-{node_id}", "subnet": subnet, "private": [private], "public": list(public),
                       "public_kind": "static" if public else None, "ipv6": list(ipv6), "groups": groups,
                       "network_tags": list(network_tags)}]
        attrs = {}
        unknown = {fact: AFTER_APPLY for fact, flag in (("public_ipv4", public_address_unknown),
                                                        ("metadata_service", metadata_unknown)) if flag}
        if unknown:
            attrs["unknown"] = unknown
        service = None
        if metadata is not None or metadata_unknown:
            service = {"enabled": True, "v1_allowed": True, "hop_limit": None, **(metadata or {})}
            tokens = "optional" if service["v1_allowed"] else "required"
            service.update(session_tokens=tokens, setting=f"session tokens {tokens}")
        self.graph.add_node(node_id, "compute", name=name or node_id, tags={"Name": name or node_id, **(tags or {})},
                            compute_type="build_project" if managed_service else "instance", state=state,
                            interfaces=interfaces, image_name=image, autoscaling_group=autoscaling_group,
                            launch_time=(launched or NOW - dt.timedelta(hours=2)).isoformat(),
                            metadata_service=service, managed_service=managed_service, command_agent=command_agent,
                            launch_data=base64.b64encode(launch_data.encode()).decode() if launch_data else None,
                            **attrs, **self._base())
        self.graph.add_edge(subnet, node_id, "contains")
        for group in groups:
            self.graph.add_edge(node_id, group, "filtered_by", key=group, layer="interface")
        if runs_as:
            self.graph.add_edge(node_id, runs_as, "runs_as", via=f"instance profile of {node_id}")
        return node_id

    def load_balancer(self, lb_id: str, *, subnets: Iterable[str], listeners: dict[int, dict[str, int]],
                      groups: Iterable[str] = (), internet_facing: bool = True, lb_type: str = "application",
                      network: str | None = None, front_end_ranges: Iterable[str] | None = None) -> str:
        """A load balancer; `listeners` maps each listener port to its targets (node id -> target port).
        A network load balancer keeps the client's address, as AWS's does for instance targets.
        With `front_end_ranges`, its front end is the provider's edge (no subnets), and its targets
        see its traffic come from those ranges."""
        subnets, groups = list(subnets), list(groups)
        edge = {} if front_end_ranges is None else {"edge_front_end": True, "front_end_ranges": list(front_end_ranges)}
        self.graph.add_node(lb_id, "load_balancer", name=lb_id, internet_facing=internet_facing, lb_type=lb_type,
                            subnets=subnets, firewalls=groups, network=network, **edge,
                            listeners=[{"id": f"{lb_id}/{port}", "port": port, "protocol": "HTTP",
                                        "target_groups": [f"{lb_id}/tg-{port}"]} for port in listeners],
                            **self._base())
        for subnet in subnets:
            self.graph.add_edge(subnet, lb_id, "contains")
        for group in groups:
            self.graph.add_edge(lb_id, group, "filtered_by", key=group, layer="interface")
        for port, targets in listeners.items():
            for target, target_port in targets.items():
                self.graph.add_edge(lb_id, target, "forwards", key=f"{port}>{target_port}", listener_port=port,
                                    target_port=target_port, protocol="tcp", target_type="instance",
                                    client_address_preserved=lb_type == "network",
                                    via=f"listener HTTP:{port} -> target port {target_port}")
        return lb_id

    # -- identities ----------------------------------------------------------------------------

    def identity(self, name: str, *, allows: Iterable[tuple[str | list[str], str | list[str]]] = (),
                 trusts: Iterable[str] = ("ec2.amazonaws.com",), account: str | None = None,
                 tags: dict | None = None, managed: Iterable[str] = ()) -> str:
        """A role granted `allows` (action pattern(s), resource pattern(s)) in one policy, that the
        principals of `trusts` (service names or role ARNs) may assume. Returns its id. `managed`:
        ARNs of attached managed policies whose documents were not collected (as a plan names them)."""
        account = account or self.account
        arn = f"arn:{self.partition}:iam::{account}:role/{name}"
        statements = [{"Effect": "Allow", "Action": action, "Resource": resource} for action, resource in allows]
        trust = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"Service": p} if p.endswith(".amazonaws.com") else {"AWS": p}} for p in trusts]}
        policies = [{"name": f"{name}-policy", "document": {"Version": "2012-10-17", "Statement": statements}}]
        self.graph.add_node(arn, "identity", name=name, tags=tags, identity_type="role", arn=arn,
                            trust_policy=trust, inline_policies=policies if statements else [],
                            managed_policies=[{"name": m.rsplit("/", 1)[-1], "arn": m, "document": None}
                                              for m in managed],
                            boundary=None, **self._base(account))
        if self.graph.has(account):
            self.graph.add_edge(account, arn, "contains")
        return arn

    def issuer(self, url: str, *, account: str | None = None) -> str:
        """A token issuer (an OIDC provider of the account) with this URL. Returns its id."""
        account = account or self.account
        issuer_id = f"arn:aws:iam::{account}:oidc-provider/{url}"
        self.graph.add_node(issuer_id, "issuer", name=url, url=url, audiences=["sts.amazonaws.com"],
                            **self._base(account))
        return issuer_id

    def federate(self, issuer: str, identity: str, *, like: Iterable[str] | None = None,
                 equals: Iterable[str] | None = None, deny_unless_like: Iterable[str] | None = None,
                 unknown: str | None = None, unevaluated: Iterable[str] = ()) -> None:
        """Let the issuer's tokens become the identity when their subject matches one of `like`
        (wildcards) or `equals` (exact); neither: any subject. `deny_unless_like` adds a deny of
        every subject matching none of its patterns; `unknown` says the trust is not known;
        `unevaluated` names conditions that could not be evaluated."""
        conditions = []
        if like is not None:
            conditions.append({"operator": "like", "negated": False, "ignore_case": False, "values": list(like)})
        if equals is not None:
            conditions.append({"operator": "equals", "negated": False, "ignore_case": False, "values": list(equals)})
        trust = [{"effect": "allow", "conditions": conditions, "unknown": list(unevaluated),
                  "statement": f"allow sts:AssumeRoleWithWebIdentity from {issuer}"}]
        if deny_unless_like is not None:
            trust.append({"effect": "deny", "conditions": [{"operator": "like", "negated": True, "ignore_case": False,
                                                            "values": list(deny_unless_like)}],
                          "unknown": [], "statement": "deny unless the subject matches"})
        attrs = {"unknown": unknown} if unknown else {"trust": trust}
        self.graph.add_edge(issuer, identity, "federates", statement=f"trust of {identity}",
                            via="trust policy", **attrs)

    def federated_role(self, name: str, *, issuer: str = "token.actions.githubusercontent.com",
                       allows: Iterable[tuple[str | list[str], str | list[str]]] = (), tags: dict | None = None,
                       **trust) -> str:
        """A role granted `allows` that tokens of the issuer at URL `issuer` can become, under the
        trust `federate` makes of the keywords. Returns its id."""
        issuer_id = f"arn:aws:iam::{self.account}:oidc-provider/{issuer}"
        if not self.graph.has(issuer_id):
            self.issuer(issuer)
        role = self.identity(name, allows=allows, trusts=[], tags=tags)
        self.federate(issuer_id, role, **trust)
        return role

    def user(self, name: str, *, allows: Iterable[tuple[str | list[str], str | list[str]]] = (),
             keys: Iterable[dict] = (), tags: dict | None = None, account: str | None = None,
             keys_unknown: bool = False) -> str:
        """An IAM user granted `allows`, holding `keys` (each {id, status, created, last_used}), or
        whose keys were not collected (`keys_unknown`). Returns its id."""
        account = account or self.account
        arn = f"arn:aws:iam::{account}:user/{name}"
        statements = [{"Effect": "Allow", "Action": action, "Resource": resource} for action, resource in allows]
        policies = [{"name": f"{name}-policy", "document": {"Version": "2012-10-17", "Statement": statements}}]
        access_keys = [{"status": "active", "created": None, "last_used": None, "last_used_service": None,
                        "kind": "access key", **key} for key in keys]
        self.graph.add_node(arn, "identity", name=name, tags=tags, identity_type="user", arn=arn,
                            managed_policies=[], inline_policies=policies if statements else [], boundary=None,
                            access_keys=access_keys, **self._base(account),
                            **({"unknown": {"access_keys": NOT_COLLECTED}} if keys_unknown else {}))
        if self.graph.has(account):
            self.graph.add_edge(account, arn, "contains")
        return arn

    # -- the analysed estate ---------------------------------------------------------------

    def analyse(self, config: Config | None = None) -> Estate:
        """The real analysis of the built graph, at a fixed time."""
        return analyse(self.graph, config or Config(), now=NOW)
