"""Azure: normalize snapshot parts (Resource Manager's own JSON) into the estate graph.

Pure: no API calls. A live collection and the translation of a Terraform plan give the same parts.
Azure's quirks live here and nowhere else:

- An NSG is evaluated first-match by priority, its default rules included (AllowVnetInBound 65000,
  AllowAzureLoadBalancerInBound 65001, DenyAllInBound 65500); the subnet's NSG is the subnet's
  filtering layer and the NIC's NSG the interface's, and traffic must pass both.
- A level with no NSG lets everything through, except that a Standard-SKU public IP or load
  balancer denies inbound from the internet unless some NSG allows it: an interface with no NSG on
  either level gets a firewall standing for that (`…/noNetworkSecurityGroup`) which admits the
  virtual network, and the internet only behind a Basic-SKU public IP or load balancer.
- Every subnet has Azure's system routes: its VNet's prefixes locally, peered VNets' prefixes
  through the peering, and 0.0.0.0/0 to the Internet, which a user route table may override (a
  route to a virtual appliance or to None is a segment without an internet gateway). A subnet's
  effective routes are a route table node of their own, the system Internet route a gateway.
- The Internet reaches an interface's own public IP only when its subnet still routes 0.0.0.0/0 to
  the Internet (otherwise answers go to the appliance and the flow breaks).
- A public load balancer passes the client's address through: the backend's NSGs must admit the
  internet on the backend port. Its answers follow the backend subnet's 0.0.0.0/0 route: to a
  virtual appliance or None they do not go back through the load balancer (asymmetric routing),
  which the path keeps as an assumption. An application gateway ends connections in its own subnet.
- An NSG sees a VM's private address: a rule for a service tag other than VirtualNetwork (and `*`,
  `Any`, `Internet`) is for Azure's public ranges, which hold no VM.
- A resource group is a group node: what it holds inherits production from its tags and name.
- NAT gateways carry outbound flows only: collected, and read by no verdict.
- A user-assigned identity is an identity node whether or not a VM runs as it; its federated
  identity credentials are trust clauses on `federates` edges from their issuers
  (providers/azure/federation.py).

Node ids are the ARM ids as the resource's own element spells them; references between resources
are matched case-insensitively, as ARM does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from guardrails.federation import issuer_url
from guardrails.graph import EstateGraph
from guardrails.netsets import INTERNET, AddressSet, RangeSet, is_valid_cidr, port_range
from guardrails.normalize import reply_shape_errors
from guardrails.rules import FIRST_MATCH, Peer, Rule
from guardrails.schema import AFTER_APPLY

from . import arm
from .arm import key, props, ref
from .federation import ExpressionError, credential_clause
from .gaps import GAP_LISTS, GAP_WORDS

PROVIDER = "azure"

PROTOCOLS = {"*": "all", "tcp": "tcp", "udp": "udp", "icmp": "icmp"}

# Fields of an element a Terraform plan can leave unknown until apply, by the neutral fact they hold.
UNKNOWN_FACTS = {
    "ipAddress": "public_ipv4", "publicIPAddress": "public_ipv4", "customData": "launch_data",
    "userData": "launch_data", "networkSecurityGroup": "firewalls", "identity": "identity", "subnet": "subnet",
    "imageReference": "image", "addressPrefixes": "cidrs", "addressPrefix": "cidrs", "routes": "routes",
    "securityRules": "rules", "principalId": "identity", "permissions": "policies",
}


def unknown_facts(fields: Iterable[str]) -> dict[str, str]:
    facts: dict[str, str] = {}
    for name in fields:
        facts.setdefault(UNKNOWN_FACTS.get(str(name).split(".")[-1], "settings"), AFTER_APPLY)
    return facts



def tags_of(item: dict) -> dict[str, str]:
    tags = item.get("tags")
    return {str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else {}


@dataclass
class _Estate:
    """Indexes over every Azure part of the scan, built before any edge is resolved."""

    graph: EstateGraph
    by_key: dict[str, dict] = field(default_factory=dict)  # lower-cased id -> element
    subscription_of: dict[str, str] = field(default_factory=dict)  # lower-cased element id -> subscription
    source_of: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[tuple[str, dict]]] = field(default_factory=dict)  # list name -> (subscription, element)
    vnet_prefixes: dict[str, list[str]] = field(default_factory=dict)  # vnet key -> its prefixes and its peers'
    subnet_vnet: dict[str, str] = field(default_factory=dict)  # subnet key -> vnet key
    nsg_vnets: dict[str, set[str]] = field(default_factory=dict)  # nsg key -> vnets it filters in
    nsg_on_subnet: set[str] = field(default_factory=set)
    internet_gateway: dict[str, str] = field(default_factory=dict)  # subscription -> its Internet gateway id
    route_table_of: dict[str, str] = field(default_factory=dict)  # subnet key -> effective route table id
    pools: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # pool or NAT rule key -> (NIC id, ipconfig key)
    nic_compute: dict[str, str] = field(default_factory=dict)  # NIC key -> compute id
    ipconfig_nic: dict[str, str] = field(default_factory=dict)  # ipconfig key -> NIC key
    address_nic: dict[str, str] = field(default_factory=dict)  # private address -> NIC key
    assignments: dict[str, list[tuple[str, dict]]] = field(default_factory=dict)  # principal id -> (subscription, assignment)
    definitions: dict[str, dict] = field(default_factory=dict)  # role GUID -> definition
    standard_lb_nics: set[str] = field(default_factory=set)
    basic_lb_nics: set[str] = field(default_factory=set)
    subnet_nsgs: dict[str, str | None] = field(default_factory=dict)

    def canonical(self, arm_id: str | None) -> str | None:
        """The id a resource's node has, from any spelling of it."""
        if not arm_id:
            return None
        found = self.by_key.get(key(arm_id))
        return found.get("id") if found else arm_id

    def gap(self, subscription: str | None, what: str, error: str) -> None:
        self.graph.gap(self.source_of.get(subscription or "", PROVIDER), what, error, subscription or "", None)


def base(item: dict, subscription: str | None) -> dict[str, Any]:
    """Attributes every node of an element carries, the Terraform translation's additions included."""
    attrs: dict[str, Any] = {"provider": PROVIDER, "account": subscription, "region": item.get("location"),
                             "tags": tags_of(item)}
    if item.get("_unknown"):
        attrs["unknown"] = unknown_facts(item["_unknown"])
    if item.get("_address"):
        attrs["address"] = item["_address"]
    if item.get("_source_location"):
        attrs["source_location"] = item["_source_location"]
    return attrs


LISTS = ("subscription", "resource_groups", "virtual_networks", "network_security_groups", "route_tables",
         "public_ip_addresses", "network_interfaces", "load_balancers", "application_gateways", "nat_gateways",
         "virtual_machines", "virtual_machine_scale_sets", "scale_set_vms", "role_definitions", "role_assignments",
         "user_assigned_identities", "federated_identity_credentials")


def normalize(snapshots: list[dict], graph: EstateGraph) -> Callable[[], None]:
    """Add every Azure part's estate to the graph; nothing is deferred (the finisher does nothing)."""
    with reply_shape_errors("Azure Resource Manager"):
        _normalize(snapshots, graph)
    return lambda: None


def _normalize(snapshots: list[dict], graph: EstateGraph) -> None:
    graph.gap_vocabulary.add(GAP_LISTS, GAP_WORDS)
    est = _Estate(graph)
    for snap in snapshots:
        for gap in snap.get("gaps") or []:
            graph.gaps.append(dict(gap))
        graph.notes.extend(snap.get("notes") or [])
        for subscription, lists in (snap.get("subscriptions") or {}).items():
            est.source_of[subscription] = snap.get("source", PROVIDER)
            for name in LISTS:
                for item in lists.get(name) or []:
                    est.lists.setdefault(name, []).append((subscription, item))
                    if item.get("id"):
                        est.by_key.setdefault(key(item["id"]), item)
                        est.subscription_of[key(item["id"])] = subscription
                    for sub in props(item).get("subnets") or []:  # subnets inside their VNet
                        if isinstance(sub, dict) and sub.get("id"):
                            est.by_key.setdefault(key(sub["id"]), sub)
                            est.subscription_of[key(sub["id"])] = subscription
    for subscription, item in est.lists.get("role_definitions", []):
        est.definitions.setdefault(arm.role_guid(item.get("id") or item.get("name")), item)
    for subscription, item in est.lists.get("role_assignments", []):
        principal = props(item).get("principalId")
        if principal:
            est.assignments.setdefault(str(principal), []).append((subscription, item))
    _add_subscriptions(est)
    _add_groups(est)
    _add_networks(est)
    _add_firewalls(est)
    _add_routes(est)
    _index_interfaces(est)
    _add_managed_identities(est)
    _add_compute(est)
    _add_load_balancers(est)
    _add_application_gateways(est)


# -- subscriptions ---------------------------------------------------------------------------------


def _add_subscriptions(est: _Estate) -> None:
    seen = set()
    for subscription, item in est.lists.get("subscription", []):
        sid = item.get("subscriptionId") or subscription
        name = item.get("displayName") or sid
        est.graph.add_node(sid, "account", name=name, raw={"state": item.get("state")},
                           aliases=[name] if name != sid else [], **base(item, sid) | {"region": None})
        seen.add(sid)
    for subscription in {sub for name in LISTS for sub, _ in est.lists.get(name, [])}:  # collected, yet unnamed
        if subscription not in seen:
            seen.add(subscription)
            est.graph.add_node(subscription, "account", name=subscription, provider=PROVIDER, account=subscription)


def _add_groups(est: _Estate) -> None:
    """Resource groups: their tags and names (and the configuration) make what they hold production."""
    for subscription, item in est.lists.get("resource_groups", []):
        est.graph.add_node(item["id"], "group", name=item.get("name") or item["id"].rsplit("/", 1)[-1],
                           **base(item, subscription))
        if est.graph.has(subscription):
            est.graph.add_edge(subscription, item["id"], "contains")


def group_of(est: _Estate, item: dict) -> str | None:
    """The resource group node of an element (a plan's elements, named by address, say it in
    `_resource_group`), or None when its group was not collected."""
    found = est.canonical(item.get("_resource_group") or arm.resource_group_of(str(item.get("id") or "")))
    return found if found and est.graph.has(found) and est.graph.node(found).kind == "group" else None


# -- networks --------------------------------------------------------------------------------------


def _prefixes(space: Any) -> list[str]:
    found = (space or {}).get("addressPrefixes") if isinstance(space, dict) else None
    return [p for p in found or [] if isinstance(p, str) and is_valid_cidr(p)]


def _subnet_prefixes(subnet: dict) -> list[str]:
    p = props(subnet)
    found = [p["addressPrefix"]] if isinstance(p.get("addressPrefix"), str) else []
    found += [x for x in p.get("addressPrefixes") or [] if isinstance(x, str)]
    return [x for x in dict.fromkeys(found) if is_valid_cidr(x)]


def _add_networks(est: _Estate) -> None:
    g = est.graph
    own: dict[str, list[str]] = {}
    for subscription, vnet in est.lists.get("virtual_networks", []):
        vid = vnet["id"]
        prefixes = _prefixes(props(vnet).get("addressSpace"))
        own[key(vid)] = prefixes
        g.add_node(vid, "network", name=vnet.get("name") or vid, cidrs=prefixes, **base(vnet, subscription))
        g.add_edge(subscription, vid, "contains")
        for subnet in props(vnet).get("subnets") or []:
            sid = subnet.get("id")
            if not sid:
                continue
            est.subnet_vnet[key(sid)] = key(vid)
            g.add_node(sid, "subnet", name=subnet.get("name") or sid, cidrs=_subnet_prefixes(subnet), network=vid,
                       **base(subnet, subscription) | {"region": vnet.get("location"), "tags": {}})
            g.add_edge(vid, sid, "contains")
            nsg = ref(props(subnet).get("networkSecurityGroup"))
            if nsg:
                est.nsg_on_subnet.add(key(nsg))
                est.nsg_vnets.setdefault(key(nsg), set()).add(key(vid))
    for vkey, prefixes in own.items():
        est.vnet_prefixes[vkey] = list(prefixes)
    # Peerings: a pair of VNets is joined when both sides' peerings are Connected. One gateway per
    # pair (named by the side whose id sorts first) carries the system routes both ways.
    sides: dict[tuple[str, str], list[dict]] = {}
    for subscription, vnet in est.lists.get("virtual_networks", []):
        for peering in props(vnet).get("virtualNetworkPeerings") or []:
            remote = ref(props(peering).get("remoteVirtualNetwork"))
            if remote:
                sides.setdefault((key(vnet["id"]), key(remote)), []).append(dict(peering, _vnet=vnet["id"],
                                                                                  _subscription=subscription))
    for (a, b), peerings in sorted(sides.items()):
        if a > b or (b, a) not in sides:
            continue
        here, there = peerings[0], sides[(b, a)][0]
        connected = all(str(props(p).get("peeringState", "Connected")).lower() == "connected" for p in (here, there))
        if not connected or a not in own or b not in own:
            continue
        va, vb = est.canonical(here["_vnet"]), est.canonical(there["_vnet"])
        gid = here.get("id") or f"{va}/virtualNetworkPeerings/{b}"
        g.add_node(gid, "gateway", name=here.get("name") or gid, gateway_type="peering", requester=va, accepter=vb,
                   **base(here, here["_subscription"]) | {"region": None, "tags": {}})
        g.add_edge(gid, va, "attached")
        g.add_edge(gid, vb, "attached")
        g.add_edge(va, vb, "peers", via=gid)
        g.add_edge(vb, va, "peers", via=gid)
        est.vnet_prefixes[a] = est.vnet_prefixes[a] + own[b]
        est.vnet_prefixes[b] = est.vnet_prefixes[b] + own[a]
        est.by_key[f"peering:{a}:{b}"] = est.by_key[f"peering:{b}:{a}"] = {"id": gid}


# -- network security groups -----------------------------------------------------------------------


def _ports(p: dict) -> RangeSet:
    texts = [p.get("destinationPortRange")] if p.get("destinationPortRange") not in (None, "") else []
    texts += list(p.get("destinationPortRanges") or [])
    ranges = RangeSet(())
    for text in texts:
        text = str(text).strip()
        if text in ("*", ""):
            return port_range(0, 65535)
        lo, _, hi = text.partition("-")
        try:
            ranges = ranges | port_range(int(lo), int(hi or lo))
        except ValueError:
            continue
    return ranges


def _peers(p: dict, side: str, vnet_prefixes: list[str]) -> tuple[Peer, ...]:
    texts = [p.get(f"{side}AddressPrefix")] if p.get(f"{side}AddressPrefix") not in (None, "") else []
    texts += list(p.get(f"{side}AddressPrefixes") or [])
    peers: list[Peer] = []
    for text in texts:
        text = str(text).strip()
        lowered = text.lower()
        if lowered in arm.INTERNET_PREFIXES:
            peers.append(Peer("cidr", text, AddressSet.parse("0.0.0.0/0", "::/0"), label=text))
        elif lowered == "virtualnetwork":
            peers.append(Peer("cidr", text, AddressSet.parse(*vnet_prefixes) if vnet_prefixes else AddressSet(),
                              label=f"VirtualNetwork ({', '.join(vnet_prefixes[:4]) or 'no prefixes'})"))
        elif lowered == "azureloadbalancer":
            peers.append(Peer("cidr", text, AddressSet.parse(arm.AZURE_LOAD_BALANCER_ADDRESS), label=text))
        elif is_valid_cidr(text):
            peers.append(Peer("cidr", text, AddressSet.parse(text)))
        else:  # another service tag (Storage, AzureCloud...): ranges this scan does not hold
            peers.append(Peer("service_tag", text, label=f"service tag {text}"))
    for asg in p.get(f"{side}ApplicationSecurityGroups") or []:
        if ref(asg):  # an interface carries its application security groups as network tags
            peers.append(Peer("tag", key(ref(asg)), label=f"application security group {ref(asg).rsplit('/', 1)[-1]}"))
    return tuple(peers)


_PUBLIC = AddressSet(INTERNET.v4 - AddressSet.parse(*arm.PRIVATE_PREFIXES).v4,
                     INTERNET.v6 - AddressSet.parse(*arm.PRIVATE_PREFIXES).v6)


def _targets(p: dict, side: str, allow: bool) -> tuple[Peer, ...]:
    """The protected nodes a rule applies to: its destination (inbound) or source (outbound)
    prefixes and application security groups; none when they name every address.

    NSGs see a VM's private address (inbound traffic to a public IP is translated first). A service
    tag other than VirtualNetwork (and *, Any, Internet, which are taken to name every node) names
    public ranges this scan does not hold: `AzureLoadBalancer` is the probe address alone, and any
    other (Storage, Sql, AzureCloud...) holds no private address. A VNet may use public ranges as
    its own, so such a tag is taken to hold a node with a public private address when the rule
    allows (it may admit), and never when it denies (it may not refuse)."""
    texts = [p.get(f"{side}AddressPrefix")] if p.get(f"{side}AddressPrefix") not in (None, "") else []
    texts += list(p.get(f"{side}AddressPrefixes") or [])
    targets = []
    for text in (str(t).strip() for t in texts):
        lowered = text.lower()
        if lowered in arm.INTERNET_PREFIXES or lowered == "virtualnetwork":
            return ()  # every node behind the NSG (VirtualNetwork: every one inside the VNet)
        if is_valid_cidr(text):
            targets.append(Peer("cidr", text, AddressSet.parse(text)))
        elif lowered == "azureloadbalancer":
            targets.append(Peer("cidr", text, AddressSet.parse(arm.AZURE_LOAD_BALANCER_ADDRESS),
                                label=f"service tag {text}"))
        else:
            targets.append(Peer("cidr", text, _PUBLIC if allow else AddressSet(),
                                label=f"service tag {text} (Azure public ranges)"))
    for asg in p.get(f"{side}ApplicationSecurityGroups") or []:
        if ref(asg):
            targets.append(Peer("tag", key(ref(asg)), label=f"application security group {ref(asg).rsplit('/', 1)[-1]}"))
    return tuple(targets)


def nsg_rules(nsg: dict, vnet_prefixes: list[str]) -> tuple[Rule, ...]:
    """The NSG's rules, the default ones included, as the neutral evaluator reads them."""
    p = props(nsg)
    defaults = p.get("defaultSecurityRules") or list(arm.DEFAULT_SECURITY_RULES)
    rules = []
    for rule in list(p.get("securityRules") or []) + list(defaults):
        rp = props(rule)
        protocol = PROTOCOLS.get(str(rp.get("protocol", "*")).lower())
        if protocol is None:  # ESP, AH: not a protocol a service listens on
            continue
        inbound = str(rp.get("direction", "")).lower() == "inbound"
        peers = _peers(rp, "source" if inbound else "destination", vnet_prefixes)
        priority = int(rp.get("priority") or 0)
        rules.append(Rule("ingress" if inbound else "egress", str(rp.get("access", "")).lower(), protocol, _ports(rp),
                          peers, priority, f"{nsg.get('name')} rule {rule.get('name')} (priority {priority})",
                          nsg["id"], _targets(rp, "destination" if inbound else "source",
                                              str(rp.get("access", "")).lower() == "allow")))
    return tuple(rules)


def _add_firewalls(est: _Estate) -> None:
    g = est.graph
    for _, nic in est.lists.get("network_interfaces", []):  # the VNets an NSG on a NIC filters in
        nsg = ref(props(nic).get("networkSecurityGroup"))
        for config in props(nic).get("ipConfigurations") or [] if nsg else []:
            subnet = ref(props(config).get("subnet"))
            if subnet and key(subnet) in est.subnet_vnet:
                est.nsg_vnets.setdefault(key(nsg), set()).add(est.subnet_vnet[key(subnet)])
    for subscription, nsg in est.lists.get("network_security_groups", []):
        nkey = key(nsg["id"])
        prefixes = sorted({c for v in est.nsg_vnets.get(nkey, ()) for c in est.vnet_prefixes.get(v, [])})
        g.add_node(nsg["id"], "firewall", name=nsg.get("name") or nsg["id"], semantics=FIRST_MATCH,
                   layer="subnet" if nkey in est.nsg_on_subnet else "interface", stateful=True,
                   rules=nsg_rules(nsg, prefixes), **base(nsg, subscription))
    for subscription, vnet in est.lists.get("virtual_networks", []):
        for subnet in props(vnet).get("subnets") or []:
            nsg = ref(props(subnet).get("networkSecurityGroup"))
            if subnet.get("id") and nsg:
                if g.has(est.canonical(nsg)):
                    g.add_edge(subnet["id"], est.canonical(nsg), "filtered_by", key="subnet", layer="subnet")
                else:
                    est.gap(subscription, f"network security group of subnet {subnet['id']}",
                            f"network security group {nsg} not collected; its rules are unknown")


# -- routes ----------------------------------------------------------------------------------------

NEXT_HOPS = {"internet": "internet", "virtualappliance": "appliance", "virtualnetworkgateway": "vpn",
             "vnetlocal": "local", "none": "none"}


def _internet_gateway(est: _Estate, subscription: str, vnet_id: str) -> str:
    """The node standing for Azure's system Internet route in a subscription, attached to the VNet."""
    gid = est.internet_gateway.get(subscription)
    if gid is None:
        gid = est.internet_gateway[subscription] = f"/subscriptions/{subscription}/systemRoutes/Internet"
        est.graph.add_node(gid, "gateway", name="Internet (system route)", gateway_type="internet",
                           public_addresses_only=True, provider=PROVIDER, account=subscription)
    est.graph.add_edge(gid, vnet_id, "attached")
    return gid


def _add_routes(est: _Estate) -> None:
    g = est.graph
    tables = {key(rt["id"]): (subscription, rt) for subscription, rt in est.lists.get("route_tables", [])}
    vnets_of_table: dict[str, set[str]] = {}
    for _, vnet in est.lists.get("virtual_networks", []):
        for subnet in props(vnet).get("subnets") or []:
            rt = ref(props(subnet).get("routeTable"))
            if rt:
                vnets_of_table.setdefault(key(rt), set()).add(key(vnet["id"]))
    made: dict[tuple[str, str], str] = {}
    for subscription, vnet in est.lists.get("virtual_networks", []):
        vkey = key(vnet["id"])
        for subnet in props(vnet).get("subnets") or []:
            if not subnet.get("id"):
                continue
            rt_ref = ref(props(subnet).get("routeTable"))
            table_key = key(rt_ref) if rt_ref else ""
            if rt_ref and table_key not in tables:
                est.gap(subscription, f"route table of subnet {subnet['id']}",
                        f"route table {rt_ref} not collected; its routes are unknown")
            made_key = (vkey, table_key)
            if made_key not in made:
                made[made_key] = _effective_table(est, subscription, vnet, tables.get(table_key),
                                                  len(vnets_of_table.get(table_key, ())) > 1)
            rt_id = made[made_key]
            g.add_edge(subnet["id"], rt_id, "routes", association="explicit" if rt_ref else "default",
                       via=f"route table {rt_ref.rsplit('/', 1)[-1]} associated with the subnet" if rt_ref
                       else "Azure system routes (no route table associated)")
            est.route_table_of[key(subnet["id"])] = rt_id


def _effective_table(est: _Estate, subscription: str, vnet: dict, table: tuple[str, dict] | None,
                     shared: bool) -> str:
    """The node of a subnet's effective routes: the system routes of its VNet and the user routes of
    its route table, a user route replacing the system route of the same prefix."""
    g, vid, vkey = est.graph, vnet["id"], key(vnet["id"])
    routes: dict[str, dict] = {}
    edges: list[tuple[str, str]] = []
    for prefix in _prefixes(props(vnet).get("addressSpace")):
        routes[prefix] = {"destination": prefix, "target": "local", "target_kind": "local"}
    for peer, _ in g.out(vid, "peers"):
        gateway = est.by_key.get(f"peering:{vkey}:{key(peer.id)}", {}).get("id")
        for prefix in peer.get("cidrs") or []:
            routes[prefix] = {"destination": prefix, "target": gateway, "target_kind": "peering"}
            edges.append((gateway, prefix))
    internet = _internet_gateway(est, subscription, vid)
    routes["0.0.0.0/0"] = {"destination": "0.0.0.0/0", "target": internet, "target_kind": "internet"}
    unknown: dict[str, str] = {}
    if table is None:
        rt_id, name, item = f"{vid}/systemRoutes", f"system routes of {vnet.get('name')}", {}
    else:
        item = table[1]
        rt_id = item["id"] if not shared else f"{item['id']}/in/{vnet.get('name')}"
        name = item.get("name") or rt_id
        if item.get("_unknown") and "routes" in unknown_facts(item["_unknown"]):
            unknown = {"routes": AFTER_APPLY}
        for route in props(item).get("routes") or []:
            rp = props(route)
            prefix = rp.get("addressPrefix")
            if not isinstance(prefix, str) or not is_valid_cidr(prefix):
                continue  # a service tag as destination: not the whole internet
            kind = NEXT_HOPS.get(str(rp.get("nextHopType", "")).lower(), "unknown")
            if kind == "internet":
                target = internet
            elif kind == "local":
                target = "local"
            elif kind == "none":
                target = None
            else:
                target = f"{item['id']}/routes/{route.get('name')}"
                if not g.has(target):
                    g.add_node(target, "gateway", name=f"{route.get('name')} -> {rp.get('nextHopIpAddress') or kind}",
                               gateway_type=kind, provider=PROVIDER, account=subscription,
                               raw={"nextHopType": rp.get("nextHopType"), "nextHopIpAddress": rp.get("nextHopIpAddress")})
            routes[prefix] = {"destination": prefix, "target": target, "target_kind": kind,
                              "state": "blackhole" if kind == "none" else "active"}
    if not g.has(rt_id):
        attrs = base(item, subscription) if item else {"provider": PROVIDER, "account": subscription,
                                                        "region": vnet.get("location")}
        if unknown:
            attrs["unknown"] = unknown
        g.add_node(rt_id, "route_table", name=name, network=vid, routes=list(routes.values()),
                   default=table is None, **attrs)
        for route in routes.values():
            if route["target"] not in (None, "local") and g.has(route["target"]):
                g.add_edge(rt_id, route["target"], "routes", key=route["destination"],
                           destination=route["destination"])
    return rt_id


# -- interfaces and compute ------------------------------------------------------------------------


def _index_interfaces(est: _Estate) -> None:
    for subscription, nic in est.lists.get("network_interfaces", []):
        for config in props(nic).get("ipConfigurations") or []:
            cp = props(config)
            if config.get("id"):
                est.ipconfig_nic[key(config["id"])] = key(nic["id"])
            if cp.get("privateIPAddress"):
                est.address_nic[str(cp["privateIPAddress"])] = key(nic["id"])
            for pool in cp.get("loadBalancerBackendAddressPools") or []:
                if ref(pool):
                    est.pools.setdefault(key(ref(pool)), []).append((nic["id"], key(config.get("id"))))
            for rule in cp.get("loadBalancerInboundNatRules") or []:
                if ref(rule):
                    est.pools.setdefault(key(ref(rule)), []).append((nic["id"], key(config.get("id"))))
    for _, lb in est.lists.get("load_balancers", []):
        standard = str((lb.get("sku") or {}).get("name", "Basic")).lower() == "standard"
        lp = props(lb)
        members = [key(ref(p)) for p in lp.get("backendAddressPools") or []]
        members += [key(r.get("id")) for r in lp.get("inboundNatRules") or []]
        for pool in lp.get("backendAddressPools") or []:  # pools that name their members' ipconfigs
            for config in props(pool).get("backendIPConfigurations") or []:
                nic = est.ipconfig_nic.get(key(ref(config)))
                if nic and pool.get("id"):
                    est.pools.setdefault(key(pool["id"]), []).append((est.by_key[nic]["id"], key(ref(config))))
        for member in members:
            for nic_id, _ in est.pools.get(member, []):
                (est.standard_lb_nics if standard else est.basic_lb_nics).add(key(nic_id))


def _public_ip(est: _Estate, pip_ref: str | None) -> tuple[str | None, str | None, str | None]:
    """(address, allocation kind, SKU) of a public IP reference; the address is its name when Azure
    has not allocated one yet."""
    if not pip_ref:
        return None, None, None
    pip = est.by_key.get(key(pip_ref))
    if pip is None:
        return f"public IP {pip_ref.rsplit('/', 1)[-1]} (not collected)", None, None
    pp = props(pip)
    address = pp.get("ipAddress") or f"public IP {pip.get('name')} (address allocated at start)"
    kind = "static" if str(pp.get("publicIPAllocationMethod", "")).lower() == "static" else "ephemeral"
    return address, kind, str((pip.get("sku") or {}).get("name", "Basic")).lower()


def _interface(est: _Estate, subscription: str, nic: dict, owner: str) -> tuple[dict, list[str]]:
    """The neutral interface record of a NIC, and the firewalls that filter it."""
    g = est.graph
    np_ = props(nic)
    configs = np_.get("ipConfigurations") or []
    subnet = None
    private, public, kinds, skus, asgs = [], [], set(), set(), []
    for config in configs:
        cp = props(config)
        if cp.get("applicationSecurityGroups"):
            asgs += [key(ref(a)) for a in cp["applicationSecurityGroups"] if ref(a)]
        subnet = subnet or est.canonical(ref(cp.get("subnet")))
        if cp.get("privateIPAddress"):
            private.append(str(cp["privateIPAddress"]))
        address, kind, sku = _public_ip(est, ref(cp.get("publicIPAddress")))
        if address:
            public.append(address)
            kinds.add(kind)
            skus.add(sku)
    groups = []
    nsg = ref(np_.get("networkSecurityGroup"))
    if nsg:
        if g.has(est.canonical(nsg)):
            groups.append(est.canonical(nsg))
        else:
            est.gap(subscription, f"network security group of {owner}",
                    f"network security group {nsg} not collected; its rules are unknown")
            groups.append(nsg)
    subnet_nsg = _subnet_nsg(est, subnet)
    if not nsg and subnet and g.has(subnet):
        groups.append(_no_nsg_firewall(est, subscription, nic, subnet, skus, subnet_nsg is not None))
    interface = {"id": nic["id"], "subnet": subnet, "private": private, "public": public,
                 "public_kind": ("static" if "static" in kinds else "ephemeral") if public else None,
                 "ipv6": [], "groups": groups, **({"network_tags": sorted(set(asgs))} if asgs else {})}
    # The node's own filters are its NSGs; a level without one is no filter of its own.
    return interface, [f for f in (nsg and groups[0], subnet_nsg) if f]


def _subnet_nsg(est: _Estate, subnet: str | None) -> str | None:
    """The NSG filtering a subnet (looked up once per subnet: a subnet holds many NICs)."""
    if not subnet:
        return None
    found = est.subnet_nsgs.get(subnet, False)
    if found is False:
        g = est.graph
        found = est.subnet_nsgs[subnet] = next((fw.id for fw, _ in g.out(subnet, "filtered_by")), None) \
            if g.has(subnet) else None
    return found


def _no_nsg_firewall(est: _Estate, subscription: str, nic: dict, subnet: str, skus: set, subnet_nsg: bool) -> str:
    """The interface level of a NIC without an NSG: every flow passes it, unless its subnet has no
    NSG either and a Standard-SKU public IP or load balancer fronts it, which then admits only what
    some NSG allows (none: the virtual network alone). A Basic-SKU one with no NSG is open."""
    nkey = key(nic["id"])
    standard = "standard" in skus or nkey in est.standard_lb_nics
    fid = f"{nic['id']}/noNetworkSecurityGroup"
    everyone = (Peer("cidr", "*", AddressSet.parse("0.0.0.0/0", "::/0"), label="*"),)
    if subnet_nsg or not standard:
        why = "its subnet's NSG decides" if subnet_nsg else "no NSG on the NIC or its subnet"
        rules = [Rule("ingress", "allow", "all", port_range(0, 65535), everyone, 1,
                      f"no NSG on {nic.get('name')}: every flow passes ({why})", fid)]
    else:
        prefixes = est.vnet_prefixes.get(est.subnet_vnet.get(key(subnet), ""), [])
        rules = [Rule("ingress", "allow", "all", port_range(0, 65535),
                      (Peer("cidr", "VirtualNetwork", AddressSet.parse(*prefixes), label="VirtualNetwork"),), 1,
                      f"no NSG on {nic.get('name')} or its subnet: the virtual network passes", fid),
                 Rule("ingress", "deny", "all", port_range(0, 65535), everyone, 2,
                      f"no NSG on {nic.get('name')} or its subnet: a Standard-SKU public IP or load balancer denies "
                      "inbound unless an NSG allows it", fid)]
    rules.append(Rule("egress", "allow", "all", port_range(0, 65535), everyone, 1,
                      f"no NSG on {nic.get('name')}: every flow passes", fid))
    est.graph.add_node(fid, "firewall", name=f"no network security group ({nic.get('name')})", semantics=FIRST_MATCH,
                       layer="interface", stateful=True, rules=tuple(rules), provider=PROVIDER, account=subscription,
                       region=nic.get("location"))
    return fid


def image_name(vm: dict) -> str | None:
    """The VM's image as the CI classification reads it: publisher:offer:sku:version, or the image's name."""
    reference = props(vm).get("storageProfile", {}).get("imageReference") or {}
    parts = [reference.get(k) for k in ("publisher", "offer", "sku", "version") if reference.get(k)]
    if parts:
        return ":".join(map(str, parts))
    for k in ("id", "communityGalleryImageId", "sharedGalleryImageId"):
        if reference.get(k):
            return str(reference[k]).rsplit("/images/", 1)[-1] if "/images/" in str(reference[k]) else str(reference[k])
    return None


def _identities(est: _Estate, subscription: str, vm: dict, owner: str) -> list[tuple[str, str]]:
    """The managed identities the VM runs as, as identity nodes: (id, how)."""
    identity = vm.get("identity") or {}
    kinds = str(identity.get("type", "")).lower()
    found = []
    if "systemassigned" in kinds:
        iid = f"{owner}/providers/Microsoft.ManagedIdentity/Identities/default"
        _identity_node(est, subscription, iid, f"system-assigned identity of {vm.get('name')}",
                       identity.get("principalId"), vm)
        found.append((iid, "system-assigned managed identity"))
    for uid, details in sorted((identity.get("userAssignedIdentities") or {}).items()):
        principal = (details or {}).get("principalId")
        canonical = est.canonical(uid) or uid
        _identity_node(est, subscription, canonical, canonical.rsplit("/", 1)[-1], principal, vm)
        found.append((canonical, "user-assigned managed identity"))
    return found


def _identity_node(est: _Estate, subscription: str, iid: str, name: str, principal: Any, vm: dict,
                   own: dict | None = None) -> None:
    """The identity node of a managed identity, with its role assignments; `own` is the
    user-assigned identity's own element when it was collected (its tags, its plan address)."""
    if est.graph.has(iid):
        return
    granted: list[dict] = []
    unknown: dict[str, str] = {}
    if principal:
        grants: dict[str, dict] = {}
        for assignment_sub, assignment in est.assignments.get(str(principal), []):
            # The same assignment above a subscription is listed in every subscription below it.
            grant = grants.setdefault(key(assignment.get("id")) or str(len(grants)), _grant(est, assignment))
            if grant["document"] is not None and assignment_sub not in grant["document"]["subscriptions"]:
                grant["document"]["subscriptions"].append(assignment_sub)
        granted = list(grants.values())
    elif vm.get("_unknown") and "identity" in unknown_facts(vm["_unknown"]):
        unknown["identity"] = AFTER_APPLY
    attrs = {"provider": PROVIDER, "account": arm.subscription_of(iid) or subscription, "region": vm.get("location")}
    if own is not None:
        attrs.update({k: v for k, v in base(own, subscription).items() if k in ("tags", "address", "source_location")})
        attrs["group"] = group_of(est, own)
    if unknown:
        attrs["unknown"] = unknown
    est.graph.add_node(iid, "identity", name=name, identity_type="managed_identity", arn=str(principal or ""),
                       raw={"principalId": principal}, managed_policies=granted, **attrs)
    if est.graph.has(attrs["account"]):
        est.graph.add_edge(attrs["account"], iid, "contains")


def _add_managed_identities(est: _Estate) -> None:
    """Every user-assigned managed identity collected, whether or not a VM runs as it: a pipeline
    elsewhere may become it through a federated credential (_add_federations)."""
    for subscription, item in est.lists.get("user_assigned_identities", []):
        _identity_node(est, subscription, item["id"], item.get("name") or item["id"].rsplit("/", 1)[-1],
                       props(item).get("principalId"), item, own=item)
    _add_federations(est)


def _add_federations(est: _Estate) -> None:
    """An issuer node per issuer a federated identity credential names, and a `federates` edge from
    it to each identity its tokens can become, with the credentials as trust clauses
    (providers/azure/federation.py). A credential whose expression cannot be read leaves who can
    become the identity through that issuer unknown."""
    g = est.graph
    pairs: dict[tuple[str, str], list[tuple[str, dict]]] = {}
    for subscription, credential in est.lists.get("federated_identity_credentials", []):
        cp = props(credential)
        identity = est.canonical(arm.parent_of(str(credential.get("id") or ""), 2))
        if not isinstance(cp.get("issuer"), str) or not cp["issuer"].strip():
            if "issuer" in (credential.get("_unknown") or ()):
                continue  # a plan's issuer known only after apply: the plan's gap says so
            est.gap(subscription, f"federated identity credential {credential.get('id')}",
                    "its issuer is known only after apply or was not read; who can become the identity is unknown")
            continue
        if not identity or not g.has(identity) or g.node(identity).get("kind") != "identity":
            est.gap(subscription, f"federated identity credential {credential.get('id')}",
                    f"the identity it belongs to ({identity}) was not collected")
            continue
        pairs.setdefault((issuer_url(cp["issuer"]), identity), []).append((subscription, credential))
    for (url, identity), credentials in sorted(pairs.items()):
        issuer = f"https://{url}"
        audiences = sorted({str(a) for _, c in credentials for a in props(c).get("audiences") or []})
        if not g.has(issuer):
            g.add_node(issuer, "issuer", name=url, url=url, audiences=audiences, provider=PROVIDER,
                       account=credentials[0][0], region=None)
        clauses, unknown, names = [], [], []
        for subscription, credential in credentials:
            names.append(str(credential.get("name") or credential.get("id")))
            if credential.get("_unknown"):  # a plan's subject known only after apply (its gap is the plan's)
                unknown.append(f"federated credential {credential.get('name')}: its subject is known only after apply")
                continue
            try:
                clauses.append(credential_clause(props(credential)))
            except ExpressionError as exc:
                unknown.append(f"federated credential {credential.get('name')}: {exc}")
                est.gap(subscription, f"federated identity credential {credential.get('id')}",
                        f"{exc}; who can become the identity through {url} is unknown")
        statement = json.dumps([json.loads(c["statement"]) for c in clauses], separators=(",", ":"))
        via = f"federated identity credential{'s' if len(names) > 1 else ''} {', '.join(names)}"
        if unknown:
            g.add_edge(issuer, identity, "federates", unknown="; ".join(unknown), statement=statement, via=via)
        else:
            g.add_edge(issuer, identity, "federates", trust=clauses, statement=statement, via=via)


def _grant(est: _Estate, assignment: dict) -> dict:
    """A role assignment as the identity analysis reads it: scope, role and its permissions."""
    ap = props(assignment)
    guid = arm.role_guid(ap.get("roleDefinitionId"))
    definition = est.definitions.get(guid)
    if definition is not None:
        dp = props(definition)
        document = {"roleName": dp.get("roleName"), "type": dp.get("type"),
                    "permissions": dp.get("permissions") or []}
    elif guid in arm.BUILT_IN_ROLES:
        document = dict(arm.BUILT_IN_ROLES[guid], type="BuiltInRole")
    else:
        document = None
    scope = str(ap.get("scope") or "")
    group = est.by_key.get(key(arm.resource_group_of(scope))) if arm.resource_group_of(scope) else None
    return {"name": (document or {}).get("roleName") or guid, "arn": assignment.get("id") or "",
            "document": None if document is None else dict(document, scope=scope, guid=guid,
                                                            roleDefinitionId=ap.get("roleDefinitionId") or "",
                                                            scope_tags=tags_of(group or {}), subscriptions=[])}


def _add_compute(est: _Estate) -> None:
    g = est.graph
    scale_sets = {key(s["id"]): s for _, s in est.lists.get("virtual_machine_scale_sets", [])}
    nics = {key(n["id"]): (sub, n) for sub, n in est.lists.get("network_interfaces", [])}
    members = [(sub, vm, None) for sub, vm in est.lists.get("virtual_machines", [])]
    members += [(sub, vm, arm.parent_of(vm["id"])) for sub, vm in est.lists.get("scale_set_vms", [])]
    for subscription, vm, scale_set in members:
        vid = vm["id"]
        vp = props(vm)
        scale_set = scale_set or ref(vp.get("virtualMachineScaleSet"))
        fleet = scale_sets.get(key(scale_set)) if scale_set else None
        interfaces, firewalls = [], []
        for nic_ref in (vp.get("networkProfile") or {}).get("networkInterfaces") or []:
            found = nics.get(key(ref(nic_ref)))
            if found is None:
                if ref(nic_ref):
                    est.gap(subscription, f"network interface of {vid}",
                            f"network interface {ref(nic_ref)} not collected; addresses and NSG unknown")
                continue
            interface, filters = _interface(est, subscription, found[1], vid)
            interfaces.append(interface)
            firewalls += filters
            est.nic_compute[key(found[1]["id"])] = vid
        os_profile = vp.get("osProfile") or {}
        launch = "\n".join(str(x) for x in (os_profile.get("customData"), vp.get("userData")) if x) or None
        tags = tags_of(vm) or (tags_of(fleet) if fleet else {})
        state = "running"
        for status in (vp.get("instanceView") or {}).get("statuses") or []:
            code = str(status.get("code", ""))
            if code.startswith("PowerState/"):
                state = {"running": "running", "starting": "pending", "stopped": "stopped",
                         "deallocated": "stopped", "deallocating": "stopping", "stopping": "stopping"}.get(
                    code.split("/", 1)[1], "running")
        attrs = base(vm, subscription) | {"tags": tags}
        image = image_name(vm) or (image_name({"properties": (props(fleet).get("virtualMachineProfile") or {})})
                               if fleet else None)
        g.add_node(vid, "compute", name=vm.get("name") or vid, compute_type="instance", state=state,
                   interfaces=interfaces, image_name=image,
                   autoscaling_group=(fleet or {}).get("name") or (scale_set.rsplit("/", 1)[-1] if scale_set else None),
                   launch_time=vp.get("timeCreated"), metadata_service=None, launch_data=launch,
                   identity_ref=None, raw={"vmId": vp.get("vmId"), "resourceGroup": arm.resource_group_of(vid)},
                   group=group_of(est, vm) or (group_of(est, fleet) if fleet else None),
                   **attrs)
        for interface in interfaces:
            if interface["subnet"] and g.has(interface["subnet"]):
                g.add_edge(interface["subnet"], vid, "contains")
            elif interface["subnet"]:
                est.gap(subscription, f"subnet of {vid}",
                        f"subnet {interface['subnet']} not collected; routes and NSG unknown")
        for fw in dict.fromkeys(firewalls):
            if g.has(fw):
                g.add_edge(vid, fw, "filtered_by", key=fw, layer=g.node(fw).get("layer"))
        for iid, how in _identities(est, subscription, vm if vm.get("identity") or not fleet else fleet, vid):
            g.add_edge(vid, iid, "runs_as", via=how)


# -- load balancers --------------------------------------------------------------------------------


def _protocols(value: Any) -> str:
    text = str(value or "Tcp").lower()
    return {"tcp": "tcp", "udp": "udp", "all": "tcp_udp"}.get(text, "tcp")


def _add_load_balancers(est: _Estate) -> None:
    g = est.graph
    for subscription, lb in est.lists.get("load_balancers", []):
        lid, lp = lb["id"], props(lb)
        fronts = {key(f.get("id")): f for f in lp.get("frontendIPConfigurations") or []}
        public = {k for k, f in fronts.items() if ref(props(f).get("publicIPAddress"))}
        subnets = [est.canonical(ref(props(f).get("subnet"))) for f in fronts.values() if ref(props(f).get("subnet"))]
        listeners, forwards = [], []
        for kind, items in (("load-balancing rule", lp.get("loadBalancingRules") or []),
                            ("inbound NAT rule", lp.get("inboundNatRules") or [])):
            for rule in items:
                rp = props(rule)
                port = rp.get("frontendPort")
                if port in (None, 0):  # HA ports: every port
                    port = rp.get("frontendPortRangeStart")
                if port is None:
                    continue
                listeners.append({"id": rule.get("id"), "port": int(port), "protocol": str(rp.get("protocol", "Tcp")).upper(),
                                  "target_groups": [ref(rp.get("backendAddressPool"))] if ref(rp.get("backendAddressPool")) else [],
                                  "instance_port": int(rp.get("backendPort") or port)})
                front = key(ref(rp.get("frontendIPConfiguration")))
                pool = ref(rp.get("backendAddressPool")) if kind == "load-balancing rule" else rule.get("id")
                targets = list(est.pools.get(key(pool), []))
                if kind == "inbound NAT rule" and ref(rp.get("backendIPConfiguration")):
                    nic = est.ipconfig_nic.get(key(ref(rp["backendIPConfiguration"])))
                    if nic:
                        targets.append((est.by_key[nic]["id"], key(ref(rp["backendIPConfiguration"]))))
                for nic_id, _ in targets:
                    forwards.append((nic_id, int(port), int(rp.get("backendPort") or port), _protocols(rp.get("protocol")),
                                     f"{kind} {rule.get('name')} ({'public' if front in public else 'private'} "
                                     f"frontend port {port} -> backend port {rp.get('backendPort') or port})",
                                     front in public))
        # A public frontend is an address at Azure's edge, in no subnet of the estate; the load
        # balancer passes the client's address on (its targets' NSGs see the internet).
        g.add_node(lid, "load_balancer", name=lb.get("name") or lid, internet_facing=bool(public), lb_type="network",
                   subnets=[s for s in dict.fromkeys(subnets) if s], firewalls=[], listeners=listeners,
                   network=None, edge_front_end=bool(public), front_end_ranges=[],
                   raw={"sku": (lb.get("sku") or {}).get("name")}, group=group_of(est, lb), **base(lb, subscription))
        for nic_id, listener_port, target_port, protocol, via, from_public in forwards:
            if public and not from_public:
                continue  # a private frontend of a public load balancer: not the internet's way in
            compute = est.nic_compute.get(key(nic_id))
            if compute is None:
                continue
            g.add_edge(lid, compute, "forwards", key=f"{listener_port}:{target_port}:{via}",
                       listener_port=listener_port, target_port=target_port, protocol=protocol,
                       target_type="ip", client_address_preserved=True, via=via,
                       assumption=_answers_elsewhere(est, compute, nic_id))


def _answers_elsewhere(est: _Estate, compute: str, nic_id: str) -> str:
    """The assumption a public load balancer's path to a backend rests on when the backend's
    subnet sends 0.0.0.0/0 to a virtual appliance or to None: the load balancer keeps the client's
    address, so the answers match that route and do not go back the way the flow came (Azure's
    asymmetric routing, which a stateful appliance breaks by dropping answers to flows it never
    saw, and None by dropping them). Whether the appliance passes them (or Azure returns them
    another way) is not known here: the path is taken to work, and the finding says so."""
    interfaces = [i for i in est.graph.node(compute).get("interfaces") or [] if key(i.get("id")) == key(nic_id)]
    for interface in interfaces:
        table = est.route_table_of.get(key(interface.get("subnet")))
        if table is None:
            continue
        node = est.graph.node(table)
        for route in node.get("routes") or []:
            if route.get("destination") == "0.0.0.0/0" and route.get("target_kind") in ("appliance", "none"):
                hop = ("a virtual appliance" if route["target_kind"] == "appliance" else "next hop None, which drops "
                       "them")
                return (f"answers leave {interface['subnet'].rsplit('/', 1)[-1]} by route 0.0.0.0/0 of {node.name} to "
                        f"{hop}, not back through the load balancer (asymmetric routing); taken to reach the client")
    return ""


def _add_application_gateways(est: _Estate) -> None:
    g = est.graph
    for subscription, gw in est.lists.get("application_gateways", []):
        gid, gp = gw["id"], props(gw)
        public = any(ref(props(f).get("publicIPAddress")) for f in gp.get("frontendIPConfigurations") or [])
        subnets = [est.canonical(ref(props(c).get("subnet"))) for c in gp.get("gatewayIPConfigurations") or []]
        ports = {key(p.get("id")): props(p).get("port") for p in gp.get("frontendPorts") or []}
        listeners_by = {key(l.get("id")): l for l in gp.get("httpListeners") or []}
        settings = {key(s.get("id")): props(s) for s in gp.get("backendHttpSettingsCollection") or []}
        pools = {key(p.get("id")): p for p in gp.get("backendAddressPools") or []}
        listeners = []
        for rule in gp.get("requestRoutingRules") or []:
            rp = props(rule)
            listener = listeners_by.get(key(ref(rp.get("httpListener"))))
            if listener is None:
                continue
            port = ports.get(key(ref(props(listener).get("frontendPort"))))
            setting = settings.get(key(ref(rp.get("backendHttpSettings")))) or {}
            pool = pools.get(key(ref(rp.get("backendAddressPool"))))
            if port is None:
                continue
            listeners.append({"id": rule.get("id"), "port": int(port),
                              "protocol": str(props(listener).get("protocol", "Http")).upper(),
                              "target_groups": [pool["id"]] if pool else [],
                              "instance_port": int(setting.get("port") or port)})
            for nic_id in _pool_members(est, pool):
                compute = est.nic_compute.get(key(nic_id))
                if compute:
                    g.add_edge(gid, compute, "forwards", key=f"{port}:{rule.get('name')}", listener_port=int(port),
                               target_port=int(setting.get("port") or port), protocol="tcp", target_type="ip",
                               via=f"listener {listener.get('name')} rule {rule.get('name')} -> pool "
                                   f"{(pool or {}).get('name')}")
        g.add_node(gid, "load_balancer", name=gw.get("name") or gid, internet_facing=public, lb_type="application",
                   subnets=[s for s in subnets if s], firewalls=[], listeners=listeners,
                   network=est.canonical(arm.parent_of(subnets[0])) if subnets and subnets[0] else None,
                   **base(gw, subscription))


def _pool_members(est: _Estate, pool: dict | None) -> list[str]:
    found = []
    for config in props(pool).get("backendIPConfigurations") or []:
        nic = est.ipconfig_nic.get(key(ref(config)))
        if nic:
            found.append(est.by_key[nic]["id"])
    for address in props(pool).get("backendAddresses") or []:
        nic = est.address_nic.get(str(address.get("ipAddress")))
        if nic:
            found.append(est.by_key[nic]["id"])
    for nic_id, _ in est.pools.get(key((pool or {}).get("id")), []):
        found.append(nic_id)
    return list(dict.fromkeys(found))


__all__ = ["normalize", "nsg_rules", "tags_of", "LISTS"]
