"""GCP: normalize a snapshot (the REST APIs' own replies) into the estate graph.

Pure: no API calls. GCP quirks live here and nowhere else:
- a VPC network's firewall rules are one first-match layer on every interface in the network, each
  rule applying to the instances its target tags or target service accounts select (all when it
  names none), lower priority numbers first and a deny before an allow of equal priority, with
  the implied rules at 65535 (deny every ingress, allow every egress); disabled rules do nothing;
- routes belong to the network and apply to the instances their tags select (all when untagged);
  the default internet gateway is the next hop of the internet route; subnets exchange their
  routes over an active peering;
- an external load balancer's front end is Google's edge: proxies (HTTP(S), SSL and TCP proxy)
  reach the backends from Google's front-end ranges, pass-through ones (target pools, external
  backend services) keep the client's address;
- a service account's power is the bindings that name it, on the project and on every folder and
  organization above it, and on other service accounts (impersonation).
Node ids are the resources' own paths (`projects/P/zones/Z/instances/N`): selfLinks without the
API's address, so a collection through an emulator and a Terraform plan give the same ids.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterable, Iterator

from guardrails.graph import EstateGraph
from guardrails.netsets import AddressSet, is_valid_cidr, port_range
from guardrails.rules import FIRST_MATCH, Peer, Rule
from guardrails.schema import AFTER_APPLY

from .gaps import GAP_LISTS, GAP_WORDS
from .identity import scope_names, scopes_limit

PROVIDER = "gcp"

# Google's front ends: the addresses proxy load balancers (and health checks) reach backends from.
FRONT_END_RANGES = ["35.191.0.0/16", "130.211.0.0/22"]
PROXY_TARGETS = ("targetHttpProxies", "targetHttpsProxies", "targetSslProxies", "targetTcpProxies")
PROTOCOLS = {"tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "icmp": "icmp", "1": "icmp", "all": "all",
             "58": "icmpv6", "ipv6-icmp": "icmpv6"}
EVERY_V4, EVERY_V6 = "0.0.0.0/0", "::/0"
_PATH = re.compile(r"(?:^|/)((?:projects|organizations|folders)/.*)$")

# The neutral fact (guardrails/schema.py UNKNOWN_FACTS) of each field a plan can leave unknown.
UNKNOWN_FACTS = {"accessConfigs": "public_ipv4", "natIP": "public_ipv4", "metadata": "launch_data",
                 "serviceAccounts": "identity", "subnetwork": "subnet", "tags": "firewalls",
                 "sourceRanges": "ingress_rules", "allowed": "ingress_rules", "denied": "ingress_rules",
                 "ipCidrRange": "cidrs", "network": "network", "nextHopGateway": "routes",
                 "destRange": "routes"}


_PATHS: dict[str, str] = {}


def path_of(link: str | None) -> str | None:
    """A selfLink or URL as the resource's path (`projects/P/...`); other values as they are."""
    if not link:
        return None
    found = _PATHS.get(link)
    if found is None:
        if len(_PATHS) > 200_000:  # links repeat (networks, subnetworks, zones): a bounded memo
            _PATHS.clear()
        match = _PATH.search(link.split("?", 1)[0])
        found = _PATHS[link] = match.group(1) if match else link
    return found


def name_of(link: str | None) -> str:
    return (link or "").rstrip("/").rsplit("/", 1)[-1]


def firewall_id(network: str) -> str:
    """The node of a network's VPC firewall: every rule of the network, one layer."""
    return f"{network}/firewall"


def routes_id(network: str) -> str:
    return f"{network}/routes"



class _Context:
    """One snapshot's project, with the graph and the indexes built before edges resolve."""

    def __init__(self, graph: EstateGraph, snap: dict) -> None:
        self.graph = graph
        self.snap = snap
        self.project = str(snap.get("scope") or (snap.get("project") or {}).get("projectId") or "")
        self.compute: dict[str, list] = snap.get("compute") or {}
        self._failed: set[str] | None = None

    def collected(self, name: str) -> bool:
        """Whether the compute list was read (a list that failed is named by a gap)."""
        if self._failed is None:
            self._failed = {str(gap.get("what")) for gap in self.snap.get("gaps") or ()}
        return f"compute.{name}" not in self._failed

    def items(self, name: str) -> list[dict]:
        return [i for i in self.compute.get(name) or [] if isinstance(i, dict)]

    def gap(self, what: str, error: str) -> None:
        self.graph.gap(PROVIDER if self.snap.get("source", PROVIDER) == PROVIDER else self.snap["source"],
                       what, error, self.project, None)

    def base(self, item: dict, region: str | None = None) -> dict[str, Any]:
        attrs: dict[str, Any] = {"provider": PROVIDER, "account": _project_of(item) or self.project,
                                 "region": region}
        if item.get("_unknown"):
            attrs["unknown"] = {UNKNOWN_FACTS.get(str(f).split(".")[0].split("[")[0], "settings"): AFTER_APPLY
                                for f in item["_unknown"]}
        if item.get("_address"):
            attrs["address"] = item["_address"]
        if item.get("_source_location"):
            attrs["source_location"] = item["_source_location"]
        return attrs


def _project_of(item: dict) -> str | None:
    link = path_of(item.get("selfLink")) or ""
    return link.split("/")[1] if link.startswith("projects/") else None


def _region_of(item: dict) -> str | None:
    for key in ("zone", "region"):
        if item.get(key):
            return name_of(item[key])
    return None


def normalize(snapshots: Iterable[dict], graph: EstateGraph | None = None) -> EstateGraph:
    graph = graph or EstateGraph()
    normalize_all(list(snapshots), graph)()
    return graph


def normalize_all(snapshots: list[dict], graph: EstateGraph) -> Callable[[], None]:
    """Add every GCP snapshot's estate to the graph; nothing is deferred to shards."""
    graph.gap_vocabulary.add(GAP_LISTS, GAP_WORDS)
    contexts = [_Context(graph, snap) for snap in snapshots]
    for ctx in contexts:
        for gap in ctx.snap.get("gaps") or []:
            graph.gaps.append(dict(gap))
        graph.notes.extend(ctx.snap.get("notes") or [])
        _add_project(ctx)
    scanned = {ctx.project for ctx in contexts}
    for ctx in contexts:
        host = (ctx.snap.get("shared_vpc") or {}).get("host")
        if host and host not in scanned:
            ctx.gap(f"Shared VPC host of {ctx.project}", f"Shared VPC host project {host} not scanned: the "
                    "subnetworks, firewall rules and routes of the instances on its networks are unknown")
        if host and ctx.graph.has(ctx.project):
            ctx.graph.node(ctx.project).attrs["raw"]["sharedVpcHost"] = host
    for ctx in contexts:
        _add_networks(ctx)
    for ctx in contexts:
        _add_routes(ctx)
        _add_peerings(ctx)
    from .federation import add_federations
    from .identity import add_identities

    add_identities(contexts)
    add_federations(contexts)
    for ctx in contexts:
        _add_instances(ctx)
    for ctx in contexts:
        _add_load_balancers(ctx)
    return lambda: None


# -- project ---------------------------------------------------------------------------------


def _add_project(ctx: _Context) -> None:
    project = ctx.snap.get("project") or {}
    pid = ctx.project
    if pid and not ctx.graph.has(pid):
        ctx.graph.add_node(pid, "account", provider=PROVIDER, name=pid, account=pid, tags=dict(project.get("labels") or {}),
                           raw={"name": project.get("name"), "parent": project.get("parent"),
                                "displayName": project.get("displayName")},
                           aliases=[pid] + ([project["displayName"]] if project.get("displayName") else []))


# -- networks, subnets, firewalls ---------------------------------------------------------------


def _add_networks(ctx: _Context) -> None:
    g = ctx.graph
    subnets_of: dict[str, list[str]] = {}
    for subnet in ctx.items("subnetworks"):
        sid = path_of(subnet.get("selfLink")) or f"projects/{ctx.project}/regions/{_region_of(subnet)}/subnetworks/{subnet['name']}"
        network = path_of(subnet.get("network"))
        cidrs = [c for c in [subnet.get("ipCidrRange"), subnet.get("externalIpv6Prefix"), subnet.get("internalIpv6Prefix")]
                 if c and is_valid_cidr(c)]
        g.add_node(sid, "subnet", name=subnet.get("name") or sid, cidrs=cidrs, network=network,
                   zone=_region_of(subnet), raw={"purpose": subnet.get("purpose")},
                   unfiltered_text="GCP filters at the instance (VPC firewall), not at the subnet",
                   **ctx.base(subnet, _region_of(subnet)))
        subnets_of.setdefault(network, []).extend(cidrs)
    for network in ctx.items("networks"):
        nid = path_of(network.get("selfLink")) or f"projects/{ctx.project}/global/networks/{network['name']}"
        g.add_node(nid, "network", name=network.get("name") or nid, cidrs=subnets_of.get(nid, []),
                   raw={"autoCreateSubnetworks": network.get("autoCreateSubnetworks")}, **ctx.base(network))
        if ctx.collected("firewalls"):  # else unknown, not empty: no node stands for it
            g.add_node(firewall_id(nid), "firewall", name=f"VPC firewall of {network.get('name') or nid}",
                       semantics=FIRST_MATCH, layer="interface", stateful=True, network=nid,
                       rules=tuple(_firewall_rules(ctx, nid)), **ctx.base(network))
    for subnet in ctx.items("subnetworks"):
        sid = path_of(subnet.get("selfLink")) or f"projects/{ctx.project}/regions/{_region_of(subnet)}/subnetworks/{subnet['name']}"
        network = path_of(subnet.get("network"))
        if network and g.has(network):
            g.add_edge(network, sid, "contains")
    if ctx.items("networkFirewallPolicies"):
        ctx.gap("network firewall policies",
                f"{len(ctx.items('networkFirewallPolicies'))} network firewall policies are not evaluated: their rules "
                "may allow or deny traffic before the VPC firewall rules")


def _peers(values: Iterable[str], kind: str) -> list[Peer]:
    out = []
    for value in values or ():
        if kind == "cidr":
            out.append(Peer("cidr", value, AddressSet.parse(value)) if is_valid_cidr(value) else Peer("unknown", value))
        else:
            out.append(Peer(kind, value, label=f"{'network tag' if kind == 'tag' else 'service account'} {value}"))
    return out


def _firewall_rules(ctx: _Context, network: str) -> Iterator[Rule]:
    fw = firewall_id(network)
    for item in ctx.items("firewalls"):
        if path_of(item.get("network")) != network or item.get("disabled"):
            continue
        direction = "egress" if item.get("direction") == "EGRESS" else "ingress"
        if direction == "ingress":
            peers = (_peers(item.get("sourceRanges"), "cidr") + _peers(item.get("sourceTags"), "tag")
                     + _peers(item.get("sourceServiceAccounts"), "service_account"))
            if not peers:  # no source at all: every IPv4 address, as the API documents
                peers = _peers([EVERY_V4], "cidr")
        else:
            peers = _peers(item.get("destinationRanges") or [EVERY_V4], "cidr")
        targets = tuple(_peers(item.get("targetTags"), "tag") + _peers(item.get("targetServiceAccounts"), "service_account"))
        priority = int(item.get("priority", 1000))
        for action, entries in (("allow", item.get("allowed")), ("deny", item.get("denied"))):
            for entry in entries or ():
                protocol = PROTOCOLS.get(str(entry.get("IPProtocol", entry.get("I_p_protocol", ""))).lower())
                if protocol is None:
                    continue  # esp, ah, sctp...: no TCP or UDP service is opened or closed
                specs = entry.get("ports") or []
                ranges = [port_range(*_ports(p)) for p in specs] or [port_range(None, None)]
                for ports in ranges:
                    yield Rule(direction, action, protocol, ports, tuple(peers), priority,
                               f"firewall rule {item.get('name')} (priority {priority})", firewall=fw,
                               targets=targets)
    every = tuple(_peers([EVERY_V4, EVERY_V6], "cidr"))
    yield Rule("ingress", "deny", "all", port_range(None, None), every, 65535, "implied rule: deny all ingress",
               firewall=fw)
    yield Rule("egress", "allow", "all", port_range(None, None), every, 65535, "implied rule: allow all egress",
               firewall=fw)


def _ports(text: str) -> tuple[int, int]:
    first, _, last = str(text).partition("-")
    return int(first), int(last or first)


# -- routes and peerings -----------------------------------------------------------------------------


def gateway_id(project: str) -> str:
    return f"projects/{project}/global/gateways/default-internet-gateway"


def _add_routes(ctx: _Context) -> None:
    g = ctx.graph
    by_network: dict[str, list[dict]] = {}
    for route in ctx.items("routes"):
        network = path_of(route.get("network"))
        if network:
            by_network.setdefault(network, []).append(route)
    nat_networks = {path_of(r.get("network")) for r in ctx.items("routers") if r.get("nats")}
    for network in [path_of(n.get("selfLink")) or f"projects/{ctx.project}/global/networks/{n['name']}"
                    for n in ctx.items("networks")]:
        table = routes_id(network)
        routes, edges = [], []
        for route in by_network.get(network, []):
            destination = route.get("destRange")
            tags = list(route.get("tags") or [])
            if route.get("nextHopGateway"):
                target = path_of(route["nextHopGateway"])
                if target.endswith("/default-internet-gateway") and not g.has(target):
                    g.add_node(target, "gateway", name="default-internet-gateway", gateway_type="internet",
                               public_addresses_only=True, **ctx.base(route))
                kind = "internet" if g.has(target) else "unknown"
            elif route.get("nextHopPeering"):
                continue  # subnet routes of a peering are added with the peering
            elif route.get("nextHopNetwork"):
                target, kind = "local", "local"
            elif route.get("nextHopVpnTunnel"):
                target, kind = path_of(route["nextHopVpnTunnel"]), "vpn"
            else:
                target = path_of(route.get("nextHopInstance") or route.get("nextHopIlb")) or route.get("nextHopIp")
                kind = "appliance"
            routes.append({"destination": destination, "target": target, "target_kind": kind, "state": "active",
                           "node_tags": tags})
            if kind == "internet" and destination and is_valid_cidr(destination):
                if not any(n.id == network for n, _ in g.out(target, "attached")):
                    g.add_edge(target, network, "attached")
                edges.append((target, destination, tags, route.get("name")))
        for subnet in (n for n, _ in g.out(network, "contains") if n.kind == "subnet") if g.has(network) else ():
            cidrs = subnet.get("cidrs") or []
            routes.extend({"destination": c, "target": "local", "target_kind": "local", "state": "active",
                           "node_tags": []} for c in cidrs if ":" not in c)
        if not g.has(network):
            continue
        g.add_node(table, "route_table", name=f"routes of {g.node(network).name}", network=network, routes=routes,
                   default=True, **ctx.base({}))
        for target, destination, tags, name in edges:
            g.add_edge(table, target, "routes", key=f"{name}", destination=destination, node_tags=tags)
        via = "the network's routes" + (" (Cloud NAT on its router)" if network in nat_networks else "")
        for subnet, _ in list(g.out(network, "contains")):
            if subnet.kind == "subnet":
                g.add_edge(subnet.id, table, "routes", association="default", via=via)


def _add_peerings(ctx: _Context) -> None:
    """An active peering joins two networks: one gateway for the pair, each side routing the
    other's subnet ranges to it (GCP exchanges subnet routes over every peering)."""
    g = ctx.graph
    for network in ctx.items("networks"):
        nid = path_of(network.get("selfLink")) or f"projects/{ctx.project}/global/networks/{network['name']}"
        for peering in network.get("peerings") or []:
            other = path_of(peering.get("network"))
            if peering.get("state") != "ACTIVE" or not other:
                continue
            if not g.has(other):
                ctx.gap(f"peering {peering.get('name')} of {nid}", f"peer network {other} not collected; what it "
                        "reaches is unknown")
                continue
            first, second = sorted((nid, other))
            pid = f"{first}/peerings/{peering.get('name')}" if first == nid else None
            existing = next((gw.id for gw, _ in g.into(nid, "attached") if gw.get("gateway_type") == "peering"
                             and {gw.get("requester"), gw.get("accepter")} == {nid, other}), None)
            if existing:
                continue
            pid = pid or f"{nid}/peerings/{peering.get('name')}"
            g.add_node(pid, "gateway", name=peering.get("name") or pid, gateway_type="peering", requester=nid,
                       accepter=other, **ctx.base(network))
            for a, b in ((nid, other), (other, nid)):
                g.add_edge(pid, a, "attached")
                g.add_edge(a, b, "peers", via=pid)
                table = routes_id(a)
                if g.has(table):
                    for cidr in g.node(b).get("cidrs") or []:
                        if ":" not in cidr:
                            g.node(table).attrs["routes"].append({"destination": cidr, "target": pid,
                                                                  "target_kind": "peering", "state": "active",
                                                                  "node_tags": []})


# -- instances -----------------------------------------------------------------------------------

STATES = {"RUNNING": "running", "PROVISIONING": "pending", "STAGING": "pending", "STOPPING": "stopping",
          "TERMINATED": "stopped", "SUSPENDING": "stopping", "SUSPENDED": "stopped", "REPAIRING": "pending"}
NOT_SECRETS = ("ssh-keys", "sshKeys", "block-project-ssh-keys", "enable-oslogin", "created-by",
               "instance-template", "enable-guest-attributes", "serial-port-enable")


def launch_text(metadata: dict | None) -> str | None:
    """The metadata items a secret may hide in (startup scripts, user data, anything custom), as
    one text naming each item; public SSH keys and GCE's own bookkeeping are left out."""
    parts = []
    for item in (metadata or {}).get("items") or []:
        if item.get("key") in NOT_SECRETS or item.get("value") in (None, ""):
            continue
        parts.append(f"# metadata {item.get('key')}\n{item.get('value')}")
    return "\n".join(parts) or None


def _metadata_value(metadata: dict | None, key: str) -> str | None:
    return next((i.get("value") for i in (metadata or {}).get("items") or [] if i.get("key") == key), None)


def instance_id(item: dict, project: str) -> str:
    return path_of(item.get("selfLink")) or f"projects/{project}/zones/{_region_of(item)}/instances/{item.get('name')}"


def _add_instances(ctx: _Context) -> None:
    g = ctx.graph
    images = {path_of(d.get("selfLink")): d.get("sourceImage") for d in ctx.items("disks")}
    reserved = {a.get("address") for a in ctx.items("addresses") + ctx.items("globalAddresses")
                if a.get("addressType", "EXTERNAL") == "EXTERNAL"}
    groups_of: dict[str, str] = {}
    for manager in ctx.items("instanceGroupManagers"):
        for member in manager.get("_members") or []:
            groups_of[path_of(member)] = manager.get("name")
    firewalls_read = ctx.collected("firewalls")
    has, add_edge = g.has, g.add_edge
    vias: dict[tuple, str] = {}  # one evidence text per service account and scopes
    for item in ctx.items("instances"):
        iid = instance_id(item, ctx.project)
        service_accounts = item.get("serviceAccounts") or []
        accounts = [sa["email"] for sa in service_accounts if sa.get("email")]
        tags = list((item.get("tags") or {}).get("items") or [])
        interfaces = []
        for nic in item.get("networkInterfaces") or []:
            network = path_of(nic.get("network"))
            public = [a["natIP"] for a in nic.get("accessConfigs") or () if a.get("natIP")]
            ipv6 = [a["externalIpv6"] for a in nic.get("ipv6AccessConfigs") or () if a.get("externalIpv6")]
            interfaces.append({"id": f"{iid}/{nic.get('name') or 'nic0'}", "subnet": path_of(nic.get("subnetwork")),
                               "private": [nic["networkIP"]] if nic.get("networkIP") else [], "public": public,
                               "public_kind": ("static" if public[0] in reserved else "ephemeral") if public else None,
                               "ipv6": ipv6, "groups": [firewall_id(network)] if network else [],
                               "network_tags": tags, "service_accounts": accounts})
        image = None
        for disk in item.get("disks") or ():
            if disk.get("boot"):
                image = images.get(path_of(disk.get("source"))) or disk.get("sourceImage") or \
                    (disk.get("initializeParams") or {}).get("sourceImage")
                break
        metadata = item.get("metadata")
        created_by = _metadata_value(metadata, "created-by") if metadata else None
        group = groups_of.get(iid) or (name_of(created_by) if created_by else None)
        zone = item.get("zone")
        g.add_node(iid, "compute", name=item.get("name") or iid, tags=dict(item.get("labels") or {}),
                   raw={"machineType": name_of(item.get("machineType")), "networkTags": tags},
                   compute_type="instance", state=STATES.get(item.get("status", "RUNNING"), "running"),
                   interfaces=interfaces, image_name=name_of(image) if image else None, autoscaling_group=group,
                   launch_time=item.get("creationTimestamp"), metadata_service=None,
                   launch_data=launch_text(metadata) if metadata else None, managed_service=False,
                   identity_ref=accounts[0] if accounts else None,
                   **ctx.base(item, name_of(zone).rsplit("-", 1)[0] if zone else _region_of(item)))
        for iface in interfaces:
            subnet = iface["subnet"]
            if subnet and has(subnet):
                add_edge(subnet, iid, "contains")
            elif subnet:
                ctx.gap(f"subnet of {iid}", f"subnetwork {subnet} not collected (a Shared VPC host project "
                        "not scanned?); routes and firewall unknown")
            for fw in iface["groups"]:
                if has(fw):
                    add_edge(iid, fw, "filtered_by", key=fw, layer="interface")
                elif firewalls_read:
                    ctx.gap(f"firewall of {iid}", f"network {fw.rsplit('/', 1)[0]} not collected; its firewall rules "
                            "are unknown")
        for sa in service_accounts:
            email = sa.get("email")
            if not email:
                continue
            scopes = tuple(sa.get("scopes") or ())
            via = vias.get((email, scopes))
            if via is None:
                via = vias[(email, scopes)] = (f"service account {email} (scopes: "
                                               f"{', '.join(name_of(s) for s in scopes) or 'none'})")
            if has(email) and scopes_limit(scopes) and not (item.get("_unknown") and "serviceAccounts" in
                                                             item["_unknown"]):
                add_edge(iid, _scoped_token(ctx, email, scopes), "runs_as", via=via)
            elif has(email):
                add_edge(iid, email, "runs_as", via=via)
            else:
                ctx.gap(f"service account of {iid}", f"service account {email} not collected; its power is unknown")


def _scoped_token(ctx: _Context, email: str, scopes: tuple[str, ...]) -> str:
    """The identity a VM holds when its access scopes limit its service account's token: the
    account's power cut to the APIs the scopes open (providers/gcp/identity.py)."""
    names = scope_names(scopes)
    token = f"{email}#scopes={','.join(names)}"
    if not ctx.graph.has(token):
        account = ctx.graph.node(email)
        ctx.graph.add_node(token, "identity", name=f"{email} (token limited to scopes {', '.join(names) or 'none'})",
                           identity_type="access_token", arn=email, stands_for=email, trust_policy=None,
                           raw={"scopes": list(scopes)}, provider=PROVIDER, account=account.get("account"),
                           region=None)
    return token


# -- load balancers --------------------------------------------------------------------------------


def _managed_members(ctx: _Context) -> None:
    """The members of the instance groups managed instance groups keep, from their instances' own
    `created-by` metadata (which names the manager), so no per-group list call is needed."""
    managed: dict[str, dict] = {}  # `zones/Z/instanceGroupManagers/NAME` -> the manager's instance group
    groups = {path_of(g.get("selfLink")): g for g in ctx.items("instanceGroups")}
    for manager in ctx.items("instanceGroupManagers"):
        group = groups.get(path_of(manager.get("instanceGroup")))
        where = manager.get("zone") or manager.get("region")
        if group is not None and "_members" not in group and where:
            kind = "zones" if manager.get("zone") else "regions"
            managed[f"{kind}/{name_of(where)}/instanceGroupManagers/{manager.get('name')}"] = group
    if not managed:
        return
    for group in managed.values():
        group["_members"] = []
    for item in ctx.items("instances"):
        created_by = _metadata_value(item.get("metadata"), "created-by") or ""
        key = created_by.split("/", 2)[-1] if created_by.startswith("projects/") else created_by
        if key in managed:
            managed[key]["_members"].append(item.get("selfLink") or instance_id(item, ctx.project))


def _add_load_balancers(ctx: _Context) -> None:
    g = ctx.graph
    _managed_members(ctx)
    # Resources by path, with the list they came from: what a target is, its list says.
    by_path = {path_of(i.get("selfLink")): (name, i) for name in ("backendServices", "regionBackendServices",
                                                                  "targetPools", "urlMaps", *PROXY_TARGETS,
                                                                  "instanceGroups")
               for i in ctx.items(name)}
    for rule in ctx.items("forwardingRules") + ctx.items("globalForwardingRules"):
        scheme = rule.get("loadBalancingScheme", "EXTERNAL")
        if scheme not in ("EXTERNAL", "EXTERNAL_MANAGED"):
            continue  # internal: no address on the internet
        lb_id = path_of(rule.get("selfLink")) or f"projects/{ctx.project}/forwardingRules/{rule.get('name')}"
        target = path_of(rule.get("target") or rule.get("backendService"))
        proxy = (by_path.get(target) or ("", None))[0] in PROXY_TARGETS
        protocol = "udp" if rule.get("IPProtocol") == "UDP" else "tcp"
        g.add_node(lb_id, "load_balancer", name=rule.get("name") or lb_id, internet_facing=True,
                   lb_type="application" if proxy else "network", subnets=[], firewalls=[],
                   listeners=[], network=None, edge_front_end=True,
                   front_end_ranges=list(FRONT_END_RANGES) if proxy else [],
                   raw={"IPAddress": rule.get("IPAddress"), "portRange": rule.get("portRange"), "target": target},
                   **ctx.base(rule, _region_of(rule)))
        ports = _listener_ports(rule)
        for member, target_port, via in _backends(ctx, by_path, target):
            if not g.has(member):
                ctx.gap(f"load balancer target of {lb_id}", f"instance {member} not collected")
                continue
            for first, last in ports:
                same_port = last != first or target_port is None
                g.add_edge(lb_id, member, "forwards", key=f"{first}-{last}>{target_port}", listener_port=first,
                           listener_port_end=last if last != first else None,
                           target_port=first if same_port else target_port, protocol=protocol,
                           client_address_preserved=not proxy,
                           via=f"forwarding rule {rule.get('name')} {rule.get('IPAddress') or ''}:"
                               f"{first if first == last else f'{first}-{last}'} -> {via}")


def _listener_ports(rule: dict) -> list[tuple[int, int]]:
    if rule.get("allPorts"):
        return [(1, 65535)]
    if rule.get("ports"):
        return [_ports(p) for p in rule["ports"]]
    if rule.get("portRange"):
        return [_ports(rule["portRange"])]
    return [(1, 65535)]


def _backends(ctx: _Context, by_path: dict, target: str | None) -> Iterator[tuple[str, int | None, str]]:
    """(instance, port on it or None for the listener's, how) for every instance the target serves."""
    kind, item = by_path.get(target) or ("", None)
    if item is None:
        if target:
            ctx.gap(f"load balancer target {target}", "not collected; the instances it serves are unknown")
        return
    if kind == "targetPools":
        for member in item.get("instances") or []:
            yield path_of(member), None, f"target pool {item.get('name')}"
        return
    if kind in PROXY_TARGETS:
        url_map = (by_path.get(path_of(item.get("urlMap"))) or ("", None))[1] if item.get("urlMap") else None
        services = [path_of(item.get("service"))] if item.get("service") else []
        if url_map is not None:
            services = [path_of(url_map.get("defaultService"))]
            for matcher in url_map.get("pathMatchers") or []:
                services.append(path_of(matcher.get("defaultService")))
                services += [path_of(r.get("service")) for r in matcher.get("pathRules") or []]
        elif item.get("urlMap"):
            ctx.gap(f"url map of {target}", f"url map {item.get('urlMap')} not collected")
        for service in dict.fromkeys(s for s in services if s):
            yield from _service_backends(ctx, by_path, service, proxy=True, via=f"{name_of(target)} -> ")
        return
    yield from _service_backends(ctx, by_path, target, proxy=False, via="")


def _service_backends(ctx: _Context, by_path: dict, service: str, proxy: bool, via: str):
    item = (by_path.get(service) or ("", None))[1]
    if item is None:
        ctx.gap(f"backend service {service}", "not collected; the instances it serves are unknown")
        return
    for backend in item.get("backends") or []:
        group = (by_path.get(path_of(backend.get("group"))) or ("", None))[1]
        if group is None:
            ctx.gap(f"instance group {backend.get('group')}", "not collected; its instances are unknown")
            continue
        port = None
        if proxy:
            named = {p.get("name"): p.get("port") for p in group.get("namedPorts") or []}
            port = named.get(item.get("portName") or "http") or item.get("port") or 80
        for member in group.get("_members") or []:
            yield path_of(member), port, f"{via}backend service {item.get('name')} -> instance group {group.get('name')}" + (
                f" port {port}" if port else "")
