"""AWS: normalize a snapshot (the API's own replies) into the estate graph.

Pure: no API calls. The same code reads a live collection and the in-memory translation of a
Terraform plan, whose ids are resource addresses instead of `vpc-...`; so kinds are decided by which
list an id was found in, and only fall back on AWS id prefixes for resources outside the snapshot.
AWS quirks live here and nowhere else: security groups are a union of allows, network ACLs are
first-match and stateless, the VPC's main route table serves every subnet without an explicit
association, an egress-only internet gateway admits nothing inbound, a network load balancer keeps
the client's address for instance targets. API field names stop here: the graph holds the
attributes guardrails/schema.py declares, "unknown until apply" included.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, Callable, Iterable, Iterator

from guardrails.graph import EstateGraph
from guardrails.providers.aws.arns import partition_of_region
from guardrails.providers.aws.gaps import GAP_LISTS, GAP_WORDS
from guardrails.netsets import AddressSet, is_valid_cidr, port_range
from guardrails.rules import ALLOW_UNION, FIRST_MATCH, Peer, Rule
from guardrails.federation import issuer_url
from guardrails.providers.aws.federation import TrustDocumentError, federations, mentioned_providers, oidc_url
from guardrails.schema import AFTER_APPLY, NOT_COLLECTED
from guardrails.snapshot import decode_in_place, decoded

PROVIDER = "aws"

PROTOCOL_NUMBERS = {"-1": "all", "all": "all", "6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6",
                    "tcp": "tcp", "udp": "udp", "icmp": "icmp", "icmpv6": "icmpv6"}

GATEWAY_PREFIXES = {"igw-": "internet", "eigw-": "egress_only", "nat-": "nat", "tgw-": "transit",
                    "pcx-": "peering", "vgw-": "vpn", "vpce-": "endpoint", "eni-": "appliance", "i-": "appliance",
                    "cagw-": "carrier", "lgw-": "local"}
TERRAFORM_GATEWAY_TYPES = {"aws_internet_gateway": "internet", "aws_egress_only_internet_gateway": "egress_only",
                           "aws_nat_gateway": "nat", "aws_ec2_transit_gateway": "transit",
                           "aws_vpc_peering_connection": "peering", "aws_vpn_gateway": "vpn",
                           "aws_network_interface": "appliance", "aws_instance": "appliance"}

# The neutral name (guardrails/schema.py UNKNOWN_FACTS) of each API field a Terraform plan can leave
# unknown until apply; any other field is an unknown "setting" that no stage reads.
UNKNOWN_FACTS = {
    "PublicIpAddress": "public_ipv4", "Ipv6Address": "ipv6", "MetadataOptions": "metadata_service",
    "UserData": "launch_data", "SecurityGroups": "firewalls", "Groups": "firewalls", "IamInstanceProfile": "identity",
    "SubnetId": "subnet", "LaunchTemplate": "launch_settings", "ImageId": "image", "CidrBlock": "cidrs",
    "VpcId": "network", "Routes": "routes", "Entries": "rules", "IpPermissions": "ingress_rules",
    "IpPermissionsEgress": "egress_rules", "Scheme": "internet_facing", "Port": "listeners", "Targets": "targets",
    "AssumeRolePolicyDocument": "trust_policy", "RolePolicyList": "policies", "PolicyVersionList": "policies",
    "UserPolicyList": "policies", "GroupPolicyList": "policies", "GroupList": "policies",
    "AttachedManagedPolicies": "policies",
}

ROUTE_TARGET_FIELDS = ("GatewayId", "EgressOnlyInternetGatewayId", "NatGatewayId", "TransitGatewayId",
                       "VpcPeeringConnectionId", "NetworkInterfaceId", "InstanceId", "CarrierGatewayId",
                       "LocalGatewayId", "CoreNetworkArn", "VpcEndpointId")


def tags_of(item: dict) -> dict[str, str]:
    tags = item.get("Tags") or item.get("tags") or []
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    try:  # the API's own shape, taken as it is
        out = {tag["Key"]: tag["Value"] for tag in tags}
        if all(map(isinstance, out, repeat(str))) and all(map(isinstance, out.values(), repeat(str))):
            return out
    except (KeyError, TypeError):
        pass
    out = {}
    for tag in tags:
        key = tag.get("Key", tag.get("key"))
        if key is not None:
            out[str(key)] = str(tag.get("Value", tag.get("value", "")))
    return out


def gateway_type_of(gateway_id: str) -> str:
    """Gateway type of an id that is not in the snapshot: an AWS id prefix or a Terraform address."""
    for prefix, kind in GATEWAY_PREFIXES.items():
        if gateway_id.startswith(prefix):
            return kind
    for tf_type, kind in TERRAFORM_GATEWAY_TYPES.items():
        if f"{tf_type}." in gateway_id:
            return kind
    return "unknown"


@dataclass
class _Context:
    """Indexes of one snapshot, built before any edge is resolved."""

    graph: EstateGraph
    source: str
    account: str
    region: str = ""
    prefix_lists: dict[str, dict] = field(default_factory=dict)
    profiles: dict[str, list[str]] = field(default_factory=dict)
    instance_by_ip: dict[str, str | list[str]] = field(default_factory=dict)  # the holder, or holders in order
    metadata_services: dict[tuple, dict] = field(default_factory=dict)  # one record per distinct setting
    consume: bool = False

    def gap(self, what: str, error: str) -> None:
        self.graph.gap(PROVIDER if self.source == "aws" else self.source, what, error, self.account, self.region or None)

    @property
    def partition(self) -> str:
        """The partition of the ARNs built here: the region's (GovCloud and China have their own)."""
        return partition_of_region(self.region)

    def base(self, item: dict) -> dict[str, Any]:
        return {"provider": PROVIDER, "account": self.account, "region": self.region or None, **_translated(item)}


def _translated(item: dict) -> dict[str, Any]:
    """What the Terraform translation adds to an element (docs/snapshot-format.md), as node attributes."""
    unknown, address, location = item.get("_unknown"), item.get("_address"), item.get("_source_location")
    attrs: dict[str, Any] = {}
    if unknown:
        attrs["unknown"] = unknown_facts(unknown)
    if address:
        attrs["address"] = address
    if location:
        attrs["source_location"] = location
    return attrs


def unknown_facts(fields: Iterable[str]) -> dict[str, str]:
    """The neutral facts behind API fields a plan leaves unknown ("Routes[0].GatewayId" is routes)."""
    facts: dict[str, str] = {}
    for name in fields:
        base = str(name).split("[", 1)[0].split(".", 1)[0]
        facts.setdefault(UNKNOWN_FACTS.get(base, "settings"), AFTER_APPLY)
    return facts



def normalize(snapshots: Iterable[dict], graph: EstateGraph | None = None, consume: bool = False) -> EstateGraph:
    """Add every AWS snapshot's resources to one graph (new unless given) and return it.

    With `consume`, each instance reply is taken out of its snapshot as soon as its node is built,
    so that the memory of the replies, by far the bulk of a large snapshot, is reused for the
    graph instead of the graph growing beside them."""
    graph = graph or EstateGraph()
    add_instances = normalize_all_but_instances(snapshots, graph, consume)
    add_instances()
    return graph


def normalize_all_but_instances(snapshots: Iterable[dict], graph: EstateGraph, consume: bool = False) -> Callable[[], None]:
    """Add everything of the snapshots but their instances to the graph; the function returned
    adds the instances the snapshots hold when it is called (a shard of a split scan first leaves
    its own in them: guardrails/shards.py), with what refers to them (load balancer targets)."""
    snapshots = list(snapshots)
    graph.gap_vocabulary.add(GAP_LISTS, GAP_WORDS)
    contexts = []
    for snap in snapshots:
        ctx = _Context(graph, snap.get("source", "aws"), str(snap.get("scope") or snap.get("account", {}).get("id") or ""),
                       consume=consume)
        _add_account(ctx, snap)
        _index_iam(ctx, snap.get("iam") or {})
        contexts.append(ctx)
        for gap in snap.get("gaps") or []:
            graph.gaps.append(dict(gap))
        graph.notes.extend(snap.get("notes") or [])
    # Nodes first, across every snapshot, so that references between accounts and regions resolve.
    for ctx, snap in zip(contexts, snapshots):
        _add_identities(ctx, snap.get("iam") or {})
        for region, data in sorted((snap.get("regions") or {}).items()):
            ctx.region = region
            _add_network_nodes(ctx, data)
    for ctx, snap in zip(contexts, snapshots):
        for region, data in sorted((snap.get("regions") or {}).items()):
            ctx.region = region
            _add_network_edges(ctx, data)
            _add_build_projects(ctx, data)
            _add_workloads(ctx, data)
            _add_load_balancers(ctx, data)
        ctx.region = ""
        _add_role_edges(ctx, snap.get("iam") or {})

    def add_instances() -> None:
        for ctx, snap in zip(contexts, snapshots):
            for region, data in sorted((snap.get("regions") or {}).items()):
                ctx.region = region
                _add_instances(ctx, data)
                _add_load_balancer_targets(ctx, data)
            ctx.region = ""

    return add_instances


# -- account and identities ------------------------------------------------------------------


def _add_account(ctx: _Context, snap: dict) -> None:
    account = snap.get("account") or {}
    aliases = list(account.get("aliases") or [])
    if ctx.account and not ctx.graph.has(ctx.account):
        organization = account.get("organization") or {}
        ctx.graph.add_node(ctx.account, "account", provider=PROVIDER, name=aliases[0] if aliases else ctx.account,
                           account=ctx.account, raw={"aliases": aliases}, aliases=aliases,
                           tags=dict(organization.get("tags") or {}),
                           guardrail_policies=_service_control_policies(account))


def _service_control_policies(account: dict) -> list[dict] | None:
    """The SCPs an organization applies to the account, level by level from the root down."""
    levels = (account.get("organization") or {}).get("service_control_policies")
    if levels is None:
        return None
    return [{"target": level.get("target"), "level": level.get("type"),
             "policies": [{"name": policy.get("name") or policy.get("id"), "document": policy.get("document")}
                          for policy in level.get("policies") or []]}
            for level in levels]


def _index_iam(ctx: _Context, iam: dict) -> None:
    for profile in iam.get("instance_profiles") or []:
        roles = [r.get("Arn") for r in profile.get("Roles") or [] if r.get("Arn")]
        for key in (profile.get("Arn"), profile.get("InstanceProfileName")):
            if key:
                ctx.profiles.setdefault(key, []).extend(r for r in roles if r not in ctx.profiles.get(key, []))
    for role in iam.get("roles") or []:
        for profile in role.get("InstanceProfileList") or []:
            for key in (profile.get("Arn"), profile.get("InstanceProfileName")):
                if key and role.get("Arn") not in ctx.profiles.get(key, []):
                    ctx.profiles.setdefault(key, []).append(role["Arn"])


def _add_identities(ctx: _Context, iam: dict) -> None:
    policies = {p.get("Arn"): p for p in iam.get("policies") or [] if p.get("Arn")}
    for role in iam.get("roles") or []:
        arn = role.get("Arn")
        if not arn:
            continue
        attached = []
        for ref in role.get("AttachedManagedPolicies") or []:
            policy_arn = ref.get("PolicyArn")
            doc = _default_document(policies.get(policy_arn))
            attached.append({"name": ref.get("PolicyName") or policy_arn, "arn": policy_arn, "document": doc})
        inline = [{"name": p.get("PolicyName"), "document": p.get("PolicyDocument")}
                  for p in role.get("RolePolicyList") or []]
        boundary_arn = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        boundary = None
        if boundary_arn:
            boundary = {"name": boundary_arn, "arn": boundary_arn, "document": _default_document(policies.get(boundary_arn))}
        ctx.graph.add_node(arn, "identity", name=role.get("RoleName") or arn, tags=tags_of(role),
                           raw={"RoleId": role.get("RoleId"), "Path": role.get("Path")},
                           identity_type="role", arn=arn, trust_policy=role.get("AssumeRolePolicyDocument"),
                           managed_policies=attached, inline_policies=inline, boundary=boundary,
                           **ctx.base(role))
    _add_users(ctx, iam, policies)
    _add_issuers(ctx, iam)


def _attached(refs: Iterable[dict], policies: dict[str, dict], owner: str = "") -> list[dict]:
    out = []
    for ref in refs or []:
        policy_arn = ref.get("PolicyArn")
        name = ref.get("PolicyName") or policy_arn
        out.append({"name": f"{owner}{name}", "arn": policy_arn, "document": _default_document(policies.get(policy_arn))})
    return out


def _add_users(ctx: _Context, iam: dict, policies: dict[str, dict]) -> None:
    """IAM users, with their groups' policies as their own (a user holds what its groups hold) and
    their access keys, when the snapshot has them."""
    if not iam.get("users"):
        return
    groups = {g.get("GroupName"): g for g in iam.get("groups") or [] if g.get("GroupName")}
    keys_listed = "access_keys" in iam
    keys: dict[str, list[dict]] = {}
    for key in iam.get("access_keys") or []:
        keys.setdefault(key.get("UserName"), []).append({
            "id": str(key.get("AccessKeyId") or ""), "status": str(key.get("Status") or "").lower() or "active",
            "created": _iso(key.get("CreateDate")), "last_used": _iso(key.get("LastUsedDate")),
            "last_used_service": key.get("ServiceName") if key.get("ServiceName") not in (None, "N/A") else None,
            "kind": "access key"})
    for user in iam.get("users") or []:
        arn = user.get("Arn")
        if not arn:
            continue
        name = user.get("UserName") or arn
        attached = _attached(user.get("AttachedManagedPolicies"), policies)
        inline = [{"name": p.get("PolicyName"), "document": p.get("PolicyDocument")}
                  for p in user.get("UserPolicyList") or []]
        unknown_groups: list[str] = []
        for group_name in user.get("GroupList") or []:
            group = groups.get(group_name)
            if group is None:
                continue  # a user's groups not collected: its gap (iam.groups) says so
            if group.get("_unknown"):  # a plan's group whose policies are known only after apply
                unknown_groups.append(group_name)
            attached += _attached(group.get("AttachedManagedPolicies"), policies, f"group {group_name}: ")
            inline += [{"name": f"group {group_name}: {p.get('PolicyName')}", "document": p.get("PolicyDocument")}
                       for p in group.get("GroupPolicyList") or []]
        boundary_arn = (user.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        boundary = None
        if boundary_arn:
            boundary = {"name": boundary_arn, "arn": boundary_arn, "document": _default_document(policies.get(boundary_arn))}
        attrs = ctx.base(user)
        unknown = dict(attrs.pop("unknown", {}))
        if not keys_listed or user.get("_keys_unknown"):
            unknown["access_keys"] = unknown.get("access_keys", NOT_COLLECTED)
        if unknown_groups:
            unknown.setdefault("policies", AFTER_APPLY)
        ctx.graph.add_node(arn, "identity", name=name, tags=tags_of(user),
                           raw={"UserId": user.get("UserId"), "Path": user.get("Path")},
                           identity_type="user", arn=arn, managed_policies=attached, inline_policies=inline,
                           boundary=boundary, access_keys=keys.get(name, []), unknown=unknown, **attrs)
        if ctx.account and ctx.graph.has(ctx.account):
            ctx.graph.add_edge(ctx.account, arn, "contains")


def _iso(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def _add_issuers(ctx: _Context, iam: dict) -> None:
    """The account's OIDC providers, and a `federates` edge to every role whose trust policy lets
    one's tokens become it, with the trust as neutral clauses (providers/aws/federation.py)."""
    graph = ctx.graph
    collected, unread = [], set()
    for provider in iam.get("oidc_providers") or []:
        arn = provider.get("Arn")
        if not arn:
            continue
        if not provider.get("Url"):
            unread.add(arn)  # listed, but its details could not be read: the collector's gap names it
        url = issuer_url(provider.get("Url") or oidc_url(arn) or arn)
        graph.add_node(arn, "issuer", name=url, tags=tags_of(provider), url=url,
                       audiences=[str(a) for a in provider.get("ClientIDList") or []], **ctx.base(provider))
        collected.append(arn)
    listed = "oidc_providers" in iam
    for role in iam.get("roles") or []:
        arn = role.get("Arn")
        trust = role.get("AssumeRolePolicyDocument")
        if arn and trust is None and graph.has(arn):
            # A trust known only after apply that refers to OIDC providers: who may become the
            # role through them is unknown, never taken as pinned.
            for provider_arn in role.get("_trusted_providers") or []:
                _ensure_issuer(ctx, provider_arn, listed, arn)
                graph.add_edge(provider_arn, arn, "federates", unknown="the trust policy is known only after apply",
                               via="trust policy")
        if not arn or trust is None or not graph.has(arn):
            continue
        try:
            found = federations(trust, collected)
        except TrustDocumentError as exc:
            text = trust if isinstance(trust, str) else json.dumps(trust, default=str)
            mentioned = mentioned_providers(text)
            if mentioned:  # otherwise no token can become it; identity analysis says what it costs
                ctx.gap(f"trust policy of role {arn}", f"the trust policy could not be read: {exc}; who can "
                        f"become the role through {', '.join(mentioned)} is unknown")
            for provider_arn in mentioned:
                _ensure_issuer(ctx, provider_arn, listed, arn)
                graph.add_edge(provider_arn, arn, "federates", unknown=f"the trust policy could not be read: {exc}",
                               statement=text[:2000], via="trust policy")
            continue
        for fed in found:
            _ensure_issuer(ctx, fed.provider_arn, listed, arn)
            if fed.provider_arn in unread:
                ctx.gap(f"OIDC provider {fed.provider_arn} trusted by role {arn}",
                        "the OIDC provider could not be read; its issuer is taken from its ARN")
            if fed.unknown:
                ctx.gap(f"trust policy of role {arn}",
                        f"a condition for tokens of {fed.url} could not be evaluated: {'; '.join(fed.unknown)}; "
                        "who can become the role is unknown")
            graph.add_edge(fed.provider_arn, arn, "federates", trust=fed.clauses,
                           statement=json.dumps({"Statement": fed.statements}, separators=(",", ":"), sort_keys=True),
                           via="trust policy: sts:AssumeRoleWithWebIdentity")


def _ensure_issuer(ctx: _Context, provider_arn: str, listed: bool, role: str) -> None:
    """An OIDC provider a trust names that the snapshot does not hold: known by its ARN."""
    if ctx.graph.has(provider_arn) and ctx.graph.node(provider_arn).get("kind") == "issuer":
        return
    url = issuer_url(oidc_url(provider_arn) or provider_arn)
    ctx.graph.add_node(provider_arn, "issuer", name=url, url=url, external=True, provider=PROVIDER,
                       account=(provider_arn.split(":")[4] or None), region=None)
    if not listed:
        ctx.gap(f"OIDC provider {provider_arn} trusted by role {role}",
                "the account's OIDC providers were not collected; the issuer is known from the role's trust policy")


def _default_document(policy: dict | None) -> dict | None:
    if not policy:
        return None
    versions = policy.get("PolicyVersionList") or []
    for version in versions:
        if version.get("IsDefaultVersion") or version.get("VersionId") == policy.get("DefaultVersionId"):
            return version.get("Document")
    return versions[0].get("Document") if versions else None


def _add_role_edges(ctx: _Context, iam: dict) -> None:
    if ctx.account and ctx.graph.has(ctx.account):
        for role in iam.get("roles") or []:
            if role.get("Arn") and ctx.graph.has(role["Arn"]):
                ctx.graph.add_edge(ctx.account, role["Arn"], "contains")


# -- network ---------------------------------------------------------------------------------


def _cidrs(item: dict, v4_key: str = "CidrBlock") -> list[str]:
    cidrs = []
    if item.get(v4_key):
        cidrs.append(item[v4_key])
    for assoc in item.get("CidrBlockAssociationSet") or []:
        if assoc.get("CidrBlock") and assoc["CidrBlock"] not in cidrs:
            cidrs.append(assoc["CidrBlock"])
    for assoc in item.get("Ipv6CidrBlockAssociationSet") or []:
        if assoc.get("Ipv6CidrBlock"):
            cidrs.append(assoc["Ipv6CidrBlock"])
    return [c for c in cidrs if is_valid_cidr(c)]


def _add_network_nodes(ctx: _Context, data: dict) -> None:
    g = ctx.graph
    for pl in data.get("managed_prefix_lists") or []:
        ctx.prefix_lists[pl.get("PrefixListId")] = pl
    for vpc in data.get("vpcs") or []:
        g.add_node(vpc["VpcId"], "network", name=tags_of(vpc).get("Name", vpc["VpcId"]), tags=tags_of(vpc),
                   raw={"IsDefault": vpc.get("IsDefault")}, cidrs=_cidrs(vpc), **ctx.base(vpc))
    for subnet in data.get("subnets") or []:
        g.add_node(subnet["SubnetId"], "subnet", name=tags_of(subnet).get("Name", subnet["SubnetId"]),
                   tags=tags_of(subnet), raw={"MapPublicIpOnLaunch": subnet.get("MapPublicIpOnLaunch")},
                   cidrs=_cidrs(subnet), network=subnet.get("VpcId"), zone=subnet.get("AvailabilityZone"),
                   **ctx.base(subnet))
    for igw in data.get("internet_gateways") or []:
        g.add_node(igw["InternetGatewayId"], "gateway", name=tags_of(igw).get("Name", igw["InternetGatewayId"]),
                   tags=tags_of(igw), gateway_type="internet", **ctx.base(igw))
    for eigw in data.get("egress_only_internet_gateways") or []:
        g.add_node(eigw["EgressOnlyInternetGatewayId"], "gateway", tags=tags_of(eigw),
                   name=tags_of(eigw).get("Name", eigw["EgressOnlyInternetGatewayId"]),
                   gateway_type="egress_only", **ctx.base(eigw))
    for nat in data.get("nat_gateways") or []:
        if nat.get("State") in ("deleted", "deleting", "failed"):
            continue
        g.add_node(nat["NatGatewayId"], "gateway", name=tags_of(nat).get("Name", nat["NatGatewayId"]),
                   tags=tags_of(nat), gateway_type="nat", subnet=nat.get("SubnetId"), **ctx.base(nat))
    for pcx in data.get("vpc_peering_connections") or []:
        status = (pcx.get("Status") or {}).get("Code", "active")
        if status not in ("active", "provisioning"):
            continue
        g.add_node(pcx["VpcPeeringConnectionId"], "gateway", tags=tags_of(pcx),
                   name=tags_of(pcx).get("Name", pcx["VpcPeeringConnectionId"]), gateway_type="peering",
                   requester=(pcx.get("RequesterVpcInfo") or {}).get("VpcId"),
                   accepter=(pcx.get("AccepterVpcInfo") or {}).get("VpcId"), **ctx.base(pcx))
    for att in data.get("transit_gateway_attachments") or []:
        tgw = att.get("TransitGatewayId")
        if tgw and not g.has(tgw):
            g.add_node(tgw, "gateway", name=tgw, gateway_type="transit", attachments=[], route_tables={},
                       **ctx.base(att))
        if tgw and att.get("State", "available") == "available":
            g.node(tgw).attrs["attachments"].append(
                {"id": att.get("TransitGatewayAttachmentId"), "resource_type": att.get("ResourceType"),
                 "resource": att.get("ResourceId"),
                 "route_table": (att.get("Association") or {}).get("TransitGatewayRouteTableId")})
    for tgw_rt in data.get("transit_gateway_route_tables") or []:
        tgw = tgw_rt.get("TransitGatewayId")
        if tgw and not g.has(tgw):
            g.add_node(tgw, "gateway", name=tgw, gateway_type="transit", attachments=[], route_tables={},
                       **ctx.base(tgw_rt))
        if tgw:
            g.node(tgw).attrs["route_tables"][tgw_rt.get("TransitGatewayRouteTableId")] = [
                {"destination": r.get("DestinationCidrBlock"),
                 "attachments": [a.get("TransitGatewayAttachmentId") for a in r.get("TransitGatewayAttachments") or []],
                 "state": r.get("State", "active")}
                for r in tgw_rt.get("Routes") or []]
    for sg in data.get("security_groups") or []:
        g.add_node(sg["GroupId"], "firewall", name=sg.get("GroupName") or sg["GroupId"], tags=tags_of(sg),
                   semantics=ALLOW_UNION, layer="interface", stateful=True, network=sg.get("VpcId"),
                   rules=tuple(_sg_rules(ctx, sg)), raw={"Description": sg.get("Description")}, **ctx.base(sg))
    for acl in data.get("network_acls") or []:
        g.add_node(acl["NetworkAclId"], "firewall", name=tags_of(acl).get("Name", acl["NetworkAclId"]),
                   tags=tags_of(acl), semantics=FIRST_MATCH, layer="subnet", stateful=False,
                   network=acl.get("VpcId"), default=bool(acl.get("IsDefault")),
                   rules=tuple(_nacl_rules(ctx, acl)), **ctx.base(acl))
    for rt in data.get("route_tables") or []:
        g.add_node(rt["RouteTableId"], "route_table", name=tags_of(rt).get("Name", rt["RouteTableId"]),
                   tags=tags_of(rt), network=rt.get("VpcId"), routes=_routes(ctx, rt),
                   default=any(a.get("Main") for a in rt.get("Associations") or []),
                   **({"unknown_routes": _unknown_routes(rt)}
                      if "_unknown" in rt or any("_unknown" in r for r in rt.get("Routes") or ()) else {}),
                   **ctx.base(rt))


def _routes(ctx: _Context, rt: dict) -> list[dict]:
    routes = []
    for route in rt.get("Routes") or []:
        if route.get("State") == "blackhole":
            continue
        destinations = [d for d in (route.get("DestinationCidrBlock"), route.get("DestinationIpv6CidrBlock")) if d]
        if route.get("DestinationPrefixListId"):
            pl = ctx.prefix_lists.get(route["DestinationPrefixListId"])
            destinations += [e["Cidr"] for e in (pl or {}).get("Entries") or [] if e.get("Cidr")]
        target = next((route[f] for f in ROUTE_TARGET_FIELDS if route.get(f)), None)
        target_kind = "local" if target == "local" else _next_hop_kind(ctx, target) if target else "unknown"
        for dest in destinations:
            routes.append({"destination": dest, "target": target, "target_kind": target_kind,
                           "state": route.get("State", "active")})
    return routes


def _unknown_routes(rt: dict) -> list[dict]:
    """Routes of a translated plan that may send traffic to an internet gateway, though their
    destination or gateway is known only after apply: {"destination": a CIDR or None for unknown,
    "target": a gateway id or None for unknown, "why": what is unknown}. A route whose unknown
    target can only be a NAT gateway, a peering or another non-gateway target is not one."""
    out = []
    if "Routes" in (rt.get("_unknown") or ()):
        out.append({"destination": None, "target": None,
                    "why": f"the routes of {rt['RouteTableId']} are known only after apply"})
    for route in rt.get("Routes") or []:
        unknown = [u for u in route.get("_unknown") or () if isinstance(u, str)]
        if not unknown or route.get("State") == "blackhole":
            continue
        target_unknown = "GatewayId" in unknown
        target = None if target_unknown else next((route[f] for f in ROUTE_TARGET_FIELDS if route.get(f)), None)
        if not target_unknown and (target is None or target == "local"):
            continue
        if any(u.startswith("Destination") for u in unknown):
            out.append({"destination": None, "target": target,
                        "why": f"the destination of the route to {target} in {rt['RouteTableId']} is known only after apply"
                        if target else f"a route of {rt['RouteTableId']} is known only after apply"})
            continue
        if not target_unknown:
            continue
        for dest in (route.get("DestinationCidrBlock"), route.get("DestinationIpv6CidrBlock")):
            if dest:
                out.append({"destination": dest, "target": None,
                            "why": f"the gateway of route {dest} in {rt['RouteTableId']} is known only after apply"})
    return out


def _next_hop_kind(ctx: _Context, target: str) -> str:
    """The gateway type of a route's next hop: of its node when collected, else told by its id."""
    if ctx.graph.has(target):
        node = ctx.graph.node(target)
        if node.kind == "gateway":
            return node.get("gateway_type") or "unknown"
        if node.kind == "compute":
            return "appliance"
    return gateway_type_of(target)


def _range_peer(ctx: _Context, firewall: str, text: Any, where: str) -> Peer:
    """A rule's address range; one that cannot be read is kept as an unknown peer, which matches
    no one, and told as a coverage gap naming the firewall and the value."""
    if isinstance(text, str) and is_valid_cidr(text):
        return Peer("cidr", text, AddressSet.parse(text))
    ctx.gap(f"firewall {firewall} {where}", f"address range {text!r} is not a valid CIDR; what the rule admits is unknown")
    return Peer("unknown", str(text), label=f"{text} (not a valid address range)")


def _sg_rules(ctx: _Context, sg: dict) -> Iterable[Rule]:
    for direction, key in (("ingress", "IpPermissions"), ("egress", "IpPermissionsEgress")):
        for n, perm in enumerate(sg.get(key) or []):
            protocol = PROTOCOL_NUMBERS.get(str(perm.get("IpProtocol", "-1")).lower())
            if protocol is None:
                continue  # other IP protocols (GRE, ESP...) carry no CI service
            ports = port_range(perm.get("FromPort"), perm.get("ToPort")) if protocol in ("tcp", "udp") else port_range(None, None)
            peers: list[Peer] = []
            where = f"{direction} rule {n + 1}"
            for r in perm.get("IpRanges") or []:
                if r.get("CidrIp"):
                    peers.append(_range_peer(ctx, sg["GroupId"], r["CidrIp"], where))
            for r in perm.get("Ipv6Ranges") or []:
                if r.get("CidrIpv6"):
                    peers.append(_range_peer(ctx, sg["GroupId"], r["CidrIpv6"], where))
            for r in perm.get("PrefixListIds") or []:
                pl_id = r.get("PrefixListId")
                pl = ctx.prefix_lists.get(pl_id)
                if pl is None:
                    ctx.gap(f"prefix list {pl_id} in {sg['GroupId']}", "prefix list entries not collected; its addresses are unknown")
                    peers.append(Peer("cidr", pl_id, AddressSet(), label=f"{pl_id} (entries unknown)"))
                    continue
                cidrs = [e["Cidr"] for e in pl.get("Entries") or [] if e.get("Cidr") and is_valid_cidr(e["Cidr"])]
                name = pl.get("PrefixListName") or pl_id
                peers.append(Peer("cidr", pl_id, AddressSet.parse(*cidrs), label=f"{pl_id} ({name}: {', '.join(cidrs[:4])}{'...' if len(cidrs) > 4 else ''})"))
            for pair in perm.get("UserIdGroupPairs") or []:
                if pair.get("GroupId"):
                    peers.append(Peer("group", pair["GroupId"]))
            if peers:
                yield Rule(direction, "allow", protocol, ports, tuple(peers), 0, f"{sg['GroupId']} {where}",
                           firewall=sg["GroupId"])


def _nacl_rules(ctx: _Context, acl: dict) -> Iterable[Rule]:
    acl_id = acl["NetworkAclId"]
    for entry in acl.get("Entries") or []:
        protocol = PROTOCOL_NUMBERS.get(str(entry.get("Protocol", "-1")).lower())
        if protocol is None:
            continue
        cidr = entry.get("CidrBlock") or entry.get("Ipv6CidrBlock")
        if not cidr:
            continue
        pr = entry.get("PortRange") or {}
        ports = port_range(pr.get("From"), pr.get("To")) if protocol in ("tcp", "udp") and pr else port_range(None, None)
        direction = "egress" if entry.get("Egress") else "ingress"
        number = int(entry.get("RuleNumber", 32767))
        label = "*" if number >= 32767 else str(number)
        where = f"{direction} rule {label}"
        yield Rule(direction, str(entry.get("RuleAction", "deny")).lower(), protocol, ports,
                   (_range_peer(ctx, acl_id, cidr, where),), number, f"{acl_id} {where}", firewall=acl_id)


def _ensure_gateway(ctx: _Context, gateway_id: str) -> None:
    if not ctx.graph.has(gateway_id):
        ctx.graph.add_node(gateway_id, "gateway", name=gateway_id, gateway_type=gateway_type_of(gateway_id),
                           external=True, provider=PROVIDER, account=ctx.account, region=ctx.region or None)


def _add_network_edges(ctx: _Context, data: dict) -> None:
    g = ctx.graph
    for subnet in data.get("subnets") or []:
        if subnet.get("VpcId") and g.has(subnet["VpcId"]):
            g.add_edge(subnet["VpcId"], subnet["SubnetId"], "contains")
    for igw in data.get("internet_gateways") or []:
        for att in igw.get("Attachments") or []:
            if att.get("VpcId") and att.get("State", "available") in ("available", "attached"):
                g.add_edge(igw["InternetGatewayId"], att["VpcId"], "attached")
    for eigw in data.get("egress_only_internet_gateways") or []:
        for att in eigw.get("Attachments") or []:
            if att.get("VpcId"):
                g.add_edge(eigw["EgressOnlyInternetGatewayId"], att["VpcId"], "attached")
    for nat in data.get("nat_gateways") or []:
        if g.has(nat["NatGatewayId"]) and nat.get("VpcId"):
            g.add_edge(nat["NatGatewayId"], nat["VpcId"], "attached")
    for pcx in data.get("vpc_peering_connections") or []:
        node_id = pcx["VpcPeeringConnectionId"]
        if not g.has(node_id):
            continue
        a, b = g.node(node_id).get("requester"), g.node(node_id).get("accepter")
        for vpc in (a, b):
            if vpc:
                g.add_edge(node_id, vpc, "attached")
        if a and b:
            g.add_edge(a, b, "peers", via=node_id)
            g.add_edge(b, a, "peers", via=node_id)
    for node in list(g.nodes("gateway")):
        if node.get("gateway_type") == "transit" and node.get("region") == (ctx.region or None):
            for att in node.get("attachments") or []:
                if att.get("resource_type") == "vpc" and att.get("resource"):
                    g.add_edge(node.id, att["resource"], "attached", key=att.get("id"), attachment=att.get("id"))
    for rt in data.get("route_tables") or []:
        for route in g.node(rt["RouteTableId"]).get("unknown_routes") or ():
            if route["target"]:
                _ensure_gateway(ctx, route["target"])
        for route in g.node(rt["RouteTableId"]).get("routes"):
            target = route["target"]
            if not target or target == "local":
                continue
            _ensure_gateway(ctx, target)
            g.add_edge(rt["RouteTableId"], target, "routes", key=route["destination"], destination=route["destination"])
    _associate_route_tables(ctx, data)
    _associate_nacls(ctx, data)


def _associate_route_tables(ctx: _Context, data: dict) -> None:
    g = ctx.graph
    explicit: dict[str, str] = {}
    main: dict[str, str] = {}
    for rt in data.get("route_tables") or []:
        for assoc in rt.get("Associations") or []:
            if assoc.get("Main"):
                main[rt.get("VpcId")] = rt["RouteTableId"]
            elif assoc.get("SubnetId"):
                explicit[assoc["SubnetId"]] = rt["RouteTableId"]
    collected = "route_tables" in data
    for subnet in data.get("subnets") or []:
        sid = subnet["SubnetId"]
        if sid in explicit:
            g.add_edge(sid, explicit[sid], "routes", association="explicit", via="explicit association")
        elif subnet.get("VpcId") in main:
            g.add_edge(sid, main[subnet["VpcId"]], "routes", association="default", via="the VPC's main route table")
        elif collected:
            ctx.gap(f"route table of {sid}", f"no explicit association and no main route table found for {subnet.get('VpcId')}")


def _associate_nacls(ctx: _Context, data: dict) -> None:
    if "network_acls" not in data:
        return
    g = ctx.graph
    associated: dict[str, str] = {}
    default: dict[str, str] = {}
    for acl in data.get("network_acls") or []:
        if acl.get("IsDefault"):
            default[acl.get("VpcId")] = acl["NetworkAclId"]
        for assoc in acl.get("Associations") or []:
            if assoc.get("SubnetId"):
                associated[assoc["SubnetId"]] = acl["NetworkAclId"]
    for subnet in data.get("subnets") or []:
        acl = associated.get(subnet["SubnetId"]) or default.get(subnet.get("VpcId"))
        if acl:
            g.add_edge(subnet["SubnetId"], acl, "filtered_by", layer="subnet")


# -- compute ---------------------------------------------------------------------------------


def _interfaces(instance: dict, enis: list[dict]) -> list[dict]:
    """Every network interface of an instance with its addresses and security groups."""
    out = []
    for eni in enis:
        public: list[str] = []
        public_kind = None
        association = eni.get("Association")
        if association and association.get("PublicIp"):
            public.append(association["PublicIp"])
            public_kind = _public_kind(association)
        private = []
        for addr in eni.get("PrivateIpAddresses") or ():
            address = addr.get("PrivateIpAddress")
            if address:
                private.append(address)
            association = addr.get("Association")
            if association:
                address = association.get("PublicIp")
                if address and address not in public:
                    public.append(address)
                    public_kind = public_kind or _public_kind(association)
        primary = eni.get("PrivateIpAddress")
        if primary and primary not in private:
            private.insert(0, primary)
        ipv6 = eni.get("Ipv6Addresses")
        out.append({
            "id": eni.get("NetworkInterfaceId"),
            "subnet": eni.get("SubnetId") or instance.get("SubnetId"),
            "private": private,
            "public": sorted(public) if len(public) > 1 else public,
            "public_kind": public_kind,
            "ipv6": [a["Ipv6Address"] for a in ipv6 if a.get("Ipv6Address")] if ipv6 else [],
            "groups": [grp["GroupId"] for grp in eni.get("Groups") or () if grp.get("GroupId")],
        })
    if not out and (instance.get("SubnetId") or instance.get("PrivateIpAddress")):
        out.append({
            "id": None,
            "subnet": instance.get("SubnetId"),
            "private": [instance["PrivateIpAddress"]] if instance.get("PrivateIpAddress") else [],
            "public": [instance["PublicIpAddress"]] if instance.get("PublicIpAddress") else [],
            "public_kind": None,  # the instance's reply does not say whether its address is an Elastic IP
            "ipv6": [instance["Ipv6Address"]] if instance.get("Ipv6Address") else [],
            "groups": [grp["GroupId"] for grp in instance.get("SecurityGroups") or [] if grp.get("GroupId")],
        })
    elif out and instance.get("PublicIpAddress") and not any(i["public"] for i in out):
        out[0]["public"] = [instance["PublicIpAddress"]]
    return out


def _public_kind(association: dict) -> str:
    """An address AWS assigned (owner `amazon`) is released when the instance stops; an Elastic IP
    (owned by the account) is kept until released."""
    return "ephemeral" if association.get("IpOwnerId", "amazon") == "amazon" else "static"


def _metadata_service(ctx: _Context, options: Any, unknown: bool) -> dict | None:
    """The instance metadata service in neutral words; AWS's defaults when its options are known
    only after apply. Instances share a few settings, so each record is made once and shared."""
    if not isinstance(options, dict):
        if not unknown:
            return None
        options = {}
    tokens = str(options.get("HttpTokens", "optional")).lower()
    hops = options.get("HttpPutResponseHopLimit")
    enabled = str(options.get("HttpEndpoint", "enabled")).lower() != "disabled"
    key = (tokens, hops if type(hops) is int else None, enabled)
    found = ctx.metadata_services.get(key)
    if found is None:
        found = ctx.metadata_services[key] = {
            "enabled": enabled, "v1_allowed": tokens == "optional", "hop_limit": key[1],
            "session_tokens": tokens, "setting": f"HttpTokens={tokens}"}
    return found


def _taken(data: dict, key: str) -> Iterator[dict]:
    """The items of data[key], in order, each removed from the list before it is given out."""
    items = data.get(key) or []
    items.reverse()
    while items:
        yield items.pop()


def _enis_by_instance(data: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for eni in data.get("network_interfaces") or []:
        eni = decoded(eni)  # left undecoded by a projecting snapshot reader
        owner = (eni.get("Attachment") or {}).get("InstanceId")
        if owner:
            out.setdefault(owner, []).append(eni)
    return out


def _add_instances(ctx: _Context, data: dict) -> None:
    g = ctx.graph
    images = {img.get("ImageId"): img for img in data.get("images") or []}
    enis_by_instance: dict[str, list[dict]] | None = None  # only for instances replied without their ENIs
    asg_of: dict[str, str] = {}
    for asg in data.get("auto_scaling_groups") or []:
        for inst in asg.get("Instances") or []:
            asg_of[inst.get("InstanceId")] = asg.get("AutoScalingGroupName")
    instance_by_ip = ctx.instance_by_ip
    region = ctx.region or None
    via_profile: dict[str, str] = {}  # one text per instance profile, shared by its instances' edges
    managed = data.get("ssm_managed_instances")
    agent_of = None if managed is None else {m.get("InstanceId") for m in managed if isinstance(m, dict)}
    if data.get("instances"):
        decode_in_place(data["instances"], f"regions.{ctx.region}.instances", "InstanceId")  # a projecting reader defers them
    for inst in _taken(data, "instances") if ctx.consume else data.get("instances") or []:
        state = (inst.get("State") or {}).get("Name", "running")
        if state in ("terminated", "shutting-down"):
            continue
        iid = inst["InstanceId"]
        tags = tags_of(inst)
        image = images.get(inst.get("ImageId")) or {}
        enis = inst.get("NetworkInterfaces")
        if not enis:
            if enis_by_instance is None:
                enis_by_instance = _enis_by_instance(data)
            enis = enis_by_instance.get(iid, ())
        interfaces = _interfaces(inst, enis)
        asg = asg_of.get(iid) or tags.get("aws:autoscaling:groupName") or inst.get("_launched_by")
        profile = (inst.get("IamInstanceProfile") or {}).get("Arn")
        translated = _translated(inst)
        metadata = _metadata_service(ctx, inst.get("MetadataOptions"),
                                     "metadata_service" in translated.get("unknown", ()))
        g.add_node(iid, "compute", provider=PROVIDER, account=ctx.account, region=region,
                   name=tags.get("Name", iid), tags=tags,
                   raw={"InstanceType": inst.get("InstanceType"), "ImageId": inst.get("ImageId")},
                   compute_type="instance", state=state, interfaces=interfaces,
                   image_name=image.get("Name"),
                   autoscaling_group=asg, launch_time=inst.get("LaunchTime"),
                   metadata_service=metadata, launch_data=inst.get("UserData"),
                   managed_service=False, identity_ref=profile,
                   command_agent=None if agent_of is None else iid in agent_of, **translated)
        for iface in interfaces:
            for ip in iface["private"]:
                held = instance_by_ip.get(ip)  # most addresses have one holder; overlapping networks give more
                if held is None:
                    instance_by_ip[ip] = iid
                elif held != iid:
                    instance_by_ip[ip] = [*held, iid] if type(held) is list else [held, iid]
        _link_compute(ctx, iid, interfaces)
        if profile:
            roles = ctx.profiles.get(profile) or ctx.profiles.get(profile.rsplit("/", 1)[-1])
            if not roles:
                ctx.gap(f"instance profile of {iid}", f"instance profile {profile} not found among collected IAM instance profiles")
            via = via_profile.get(profile) or via_profile.setdefault(profile, f"instance profile {profile}")
            for role in roles or []:
                if g.has(role):
                    g.add_edge(iid, role, "runs_as", via=via)
                else:
                    ctx.gap(f"role of {iid}", f"role {role} (instance profile {profile}) not collected")


def _add_build_projects(ctx: _Context, data: dict) -> None:
    g = ctx.graph
    for project in data.get("codebuild_projects") or []:
        arn = build_project_id(project)
        vpc = project.get("vpcConfig") or {}
        subnets = [s for s in vpc.get("subnets") or [] if s]
        groups = [s for s in vpc.get("securityGroupIds") or [] if s]
        interfaces = [{"id": None, "subnet": s, "private": [], "public": [], "public_kind": None, "ipv6": [],
                       "groups": groups} for s in subnets]
        g.add_node(arn, "compute", name=project.get("name") or arn, tags=tags_of(project),
                   raw={"environment": {"image": (project.get("environment") or {}).get("image")}},
                   compute_type="build_project", state="running", interfaces=interfaces,
                   image_name=(project.get("environment") or {}).get("image"), autoscaling_group=None,
                   launch_time=None, metadata_service=None, launch_data=None, managed_service=True,
                   in_network=bool(subnets), **ctx.base(project))
        _link_compute(ctx, arn, interfaces)
        role = project.get("serviceRole")
        if role:
            role_arn = role if role.startswith("arn:") or g.has(role) else f"arn:{ctx.partition}:iam::{ctx.account}:role/{role}"
            if g.has(role_arn):
                g.add_edge(arn, role_arn, "runs_as", via="CodeBuild service role")
            else:
                ctx.gap(f"role of {arn}", f"service role {role} not collected")


# -- what runs as a role without being a host of the network ------------------------------------


def _add_workloads(ctx: _Context, data: dict) -> None:
    """Functions, stacks, dev endpoints, notebooks, task definitions and launch templates: nodes
    that identity analysis may find taken over, each with a `runs_as` edge to its role."""
    region, account = ctx.region, ctx.account
    for function in data.get("lambda_functions") or []:
        _add_workload(ctx, function.get("FunctionArn"), "function", function.get("FunctionName"),
                      function.get("Role"), "Lambda execution role")
    for stack in data.get("cloudformation_stacks") or []:
        _add_workload(ctx, stack.get("StackId"), "stack", stack.get("StackName"), stack.get("RoleARN"),
                      "CloudFormation service role", tags=tags_of(stack))
    for endpoint in data.get("glue_dev_endpoints") or []:
        name = endpoint.get("EndpointName")
        _add_workload(ctx, f"arn:{ctx.partition}:glue:{region}:{account}:devEndpoint/{name}", "dev_endpoint", name,
                      endpoint.get("RoleArn"), "Glue dev endpoint role")
    for notebook in data.get("sagemaker_notebook_instances") or []:
        _add_workload(ctx, notebook.get("NotebookInstanceArn"), "notebook", notebook.get("NotebookInstanceName"),
                      notebook.get("RoleArn"), "SageMaker notebook role")
    for definition in data.get("ecs_task_definitions") or []:
        arn = definition.get("taskDefinitionArn")
        _add_workload(ctx, arn, "task_definition", f"{definition.get('family')}:{definition.get('revision')}",
                      definition.get("taskRoleArn"), "ECS task role")
    for template in data.get("launch_templates") or []:
        template_id = template.get("LaunchTemplateId")
        profiles = {((v.get("LaunchTemplateData") or {}).get("IamInstanceProfile") or {}).get("Arn")
                    or ((v.get("LaunchTemplateData") or {}).get("IamInstanceProfile") or {}).get("Name")
                    for v in template.get("Versions") or []} - {None}
        arn = f"arn:{ctx.partition}:ec2:{region}:{account}:launch-template/{template_id}"
        roles = sorted({role for profile in profiles
                        for role in ctx.profiles.get(profile) or ctx.profiles.get(str(profile).rsplit("/", 1)[-1]) or []})
        _add_workload(ctx, arn, "launch_template", template.get("LaunchTemplateName"), None, "",
                      tags=tags_of(template), profile=sorted(profiles)[0] if profiles else None, roles=roles)


def _add_workload(ctx: _Context, arn: str | None, workload_type: str, name: str | None, role: str | None, via: str,
                  *, tags: dict | None = None, profile: str | None = None, roles: list[str] | None = None) -> None:
    if not arn:
        return
    g = ctx.graph
    g.add_node(arn, "workload", provider=PROVIDER, account=ctx.account, region=ctx.region or None,
               name=name or arn, tags=tags or {}, workload_type=workload_type, arn=arn,
               identity_ref=profile or role)
    if profile:
        via = f"instance profile {profile}"
        if not roles:
            ctx.gap(f"role of {arn}", f"instance profile {profile} not found among collected IAM instance profiles")
    elif role:
        roles = [role]
    for role_arn in roles or []:
        if g.has(role_arn):
            g.add_edge(arn, role_arn, "runs_as", via=via)
        else:
            ctx.gap(f"role of {arn}", f"role {role_arn} not collected")


def build_project_id(project: dict) -> str:
    return project.get("arn") or project.get("name")


def _link_compute(ctx: _Context, node_id: str, interfaces: list[dict]) -> None:
    g = ctx.graph
    has, add_edge = g.has, g.add_edge
    for iface in interfaces:
        subnet = iface["subnet"]
        if subnet and has(subnet):
            add_edge(subnet, node_id, "contains")
        elif subnet:
            ctx.gap(f"subnet of {node_id}", f"subnet {subnet} not collected; routes and network ACL unknown")
        for group in iface["groups"]:
            if has(group):
                add_edge(node_id, group, "filtered_by", key=group, layer="interface")
            else:
                ctx.gap(f"security group of {node_id}", f"security group {group} not collected; its rules are unknown")


# -- load balancers --------------------------------------------------------------------------


def _forward_targets(actions: list[dict]) -> list[str]:
    arns = []
    for action in actions or []:
        if str(action.get("Type", "")).lower() != "forward":
            continue
        if action.get("TargetGroupArn"):
            arns.append(action["TargetGroupArn"])
        for tg in (action.get("ForwardConfig") or {}).get("TargetGroups") or []:
            if tg.get("TargetGroupArn") and tg["TargetGroupArn"] not in arns:
                arns.append(tg["TargetGroupArn"])
    return arns


def _add_load_balancers(ctx: _Context, data: dict) -> None:
    g = ctx.graph
    target_groups = {tg["TargetGroupArn"]: tg for tg in data.get("target_groups") or [] if tg.get("TargetGroupArn")}
    rules_by_listener: dict[str, list[dict]] = {}
    for rule in data.get("listener_rules") or []:
        rules_by_listener.setdefault(rule.get("ListenerArn"), []).append(rule)
    listeners_by_lb: dict[str, list[dict]] = {}
    for listener in data.get("listeners") or []:
        listeners_by_lb.setdefault(listener.get("LoadBalancerArn"), []).append(listener)
    for lb in data.get("load_balancers") or []:
        lb_type = lb.get("Type", "application")
        if lb_type == "gateway":
            continue  # a gateway load balancer inspects traffic in line; it does not publish a service
        arn = lb["LoadBalancerArn"]
        subnets = [z["SubnetId"] for z in lb.get("AvailabilityZones") or [] if z.get("SubnetId")]
        listeners = []
        for listener in listeners_by_lb.get(arn, []):
            tgs = _forward_targets(listener.get("DefaultActions"))
            for rule in rules_by_listener.get(listener.get("ListenerArn"), []):
                tgs += [t for t in _forward_targets(rule.get("Actions")) if t not in tgs]
            listeners.append({"id": listener.get("ListenerArn"), "port": listener.get("Port"),
                              "protocol": str(listener.get("Protocol") or "").upper(), "target_groups": tgs})
        g.add_node(arn, "load_balancer", name=lb.get("LoadBalancerName") or arn, tags=tags_of(lb),
                   internet_facing=lb.get("Scheme", "internet-facing") == "internet-facing", lb_type=lb_type,
                   subnets=subnets, firewalls=list(lb.get("SecurityGroups") or []), listeners=listeners,
                   network=lb.get("VpcId"), **ctx.base(lb))
        _link_load_balancer(ctx, arn, subnets, lb.get("SecurityGroups") or [])
        for listener in listeners:
            for tg_arn in listener["target_groups"]:
                if tg_arn not in target_groups:
                    ctx.gap(f"target group {tg_arn}", f"forwarded to by {listener['id']} but not collected")
    for clb in data.get("classic_load_balancers") or []:
        name = clb.get("LoadBalancerName")
        listeners = [{"id": f"{name}:{d['Listener'].get('LoadBalancerPort')}", "port": d["Listener"].get("LoadBalancerPort"),
                      "protocol": str(d["Listener"].get("Protocol") or "").upper(), "instance_port": d["Listener"].get("InstancePort")}
                     for d in clb.get("ListenerDescriptions") or [] if d.get("Listener")]
        subnets = list(clb.get("Subnets") or [])
        arn = _classic_arn(ctx, clb)
        g.add_node(arn, "load_balancer", name=name, tags=tags_of(clb),
                   internet_facing=clb.get("Scheme", "internet-facing") == "internet-facing",
                   lb_type="classic", subnets=subnets, firewalls=list(clb.get("SecurityGroups") or []),
                   listeners=listeners, network=clb.get("VPCId"), **ctx.base(clb))
        _link_load_balancer(ctx, arn, subnets, clb.get("SecurityGroups") or [])


def _classic_arn(ctx: _Context, clb: dict) -> str:
    return clb.get("_address") or f"arn:{ctx.partition}:elasticloadbalancing:{ctx.region}:{ctx.account}:loadbalancer/{clb.get('LoadBalancerName')}"


def _instance_at(ctx: _Context, address: str, reachable: set[str] | None) -> str | None:
    """The instance a target group reaches at a private address: one in the group's network or in
    a network joined to it (`reachable`: the only ones AWS lets an IP target be in, besides
    on-premises; None when the group's network is not known). With overlapping ranges, an instance
    elsewhere holding the same address is not it."""
    held = ctx.instance_by_ip.get(address)
    if held is None:
        return None
    holders = held if type(held) is list else [held]
    if reachable is None:
        return holders[-1]
    g = ctx.graph
    for instance in reversed(holders):  # the last one listed, as when the address had one holder
        for iface in g.node(instance).get("interfaces") or ():
            subnet = iface.get("subnet")
            if address in iface.get("private", ()) and subnet and g.has(subnet) and g.node(subnet).get("network") in reachable:
                return instance
    return None


def _add_load_balancer_targets(ctx: _Context, data: dict) -> None:
    """Edges from the load balancers to the instances they forward to, once the instances are built."""
    g = ctx.graph
    target_groups = {tg["TargetGroupArn"]: tg for tg in data.get("target_groups") or [] if tg.get("TargetGroupArn")}
    for lb in data.get("load_balancers") or []:
        arn = lb["LoadBalancerArn"]
        if lb.get("Type", "application") == "gateway" or not g.has(arn):
            continue
        for listener in g.node(arn).get("listeners") or ():
            for tg_arn in listener["target_groups"]:
                tg = target_groups.get(tg_arn)
                if tg is None:
                    continue
                by_address = tg.get("TargetType", "instance") != "instance"
                reachable = g.joined_networks(tg["VpcId"]) if by_address and tg.get("VpcId") else None
                for target in tg.get("Targets") or []:
                    desc = target.get("Target") or target
                    target_id = desc.get("Id")
                    node = _instance_at(ctx, target_id, reachable) if by_address else target_id
                    if not node or not g.has(node):
                        continue
                    port = desc.get("Port") or tg.get("Port")
                    protocol = _transport(listener["protocol"])
                    g.add_edge(arn, node, "forwards", key=f"{listener['id']}>{tg_arn}>{port}",
                               listener_port=listener["port"], target_port=port, protocol=protocol,
                               target_type=tg.get("TargetType", "instance"),
                               client_address_preserved=_client_address_preserved(
                                   lb.get("Type", "application"), tg.get("TargetType", "instance"), protocol),
                               via=f"listener {listener['protocol']}:{listener['port']} -> target group "
                                   f"{tg.get('TargetGroupName') or tg_arn} port {port}")
    for clb in data.get("classic_load_balancers") or []:
        arn = _classic_arn(ctx, clb)
        if not g.has(arn):
            continue
        listeners = g.node(arn).get("listeners") or ()
        for inst in clb.get("Instances") or []:
            if not g.has(inst.get("InstanceId", "")):
                continue
            for listener in listeners:
                g.add_edge(arn, inst["InstanceId"], "forwards", key=f"{listener['id']}>{listener['instance_port']}",
                           listener_port=listener["port"], target_port=listener["instance_port"],
                           protocol=_transport(listener["protocol"]), target_type="instance",
                           client_address_preserved=False,
                           via=f"listener {listener['protocol']}:{listener['port']} -> instance port {listener['instance_port']}")


def _client_address_preserved(lb_type: str, target_type: str, protocol: str) -> bool:
    """A network load balancer keeps the client's address for instance targets, and for UDP,
    whether or not it has security groups: the target then sees internet addresses. For IP targets
    over TCP, AWS turns client IP preservation off by default and the target sees the load
    balancer's own private addresses. Application and classic load balancers end connections."""
    return lb_type == "network" and (target_type == "instance" or protocol in ("udp", "tcp_udp"))


def _transport(protocol: str) -> str:
    return "udp" if protocol in ("UDP",) else ("tcp_udp" if protocol == "TCP_UDP" else "tcp")


def _link_load_balancer(ctx: _Context, lb_id: str, subnets: list[str], groups: list[str]) -> None:
    g = ctx.graph
    for subnet in subnets:
        if g.has(subnet):
            g.add_edge(subnet, lb_id, "contains")
        else:
            ctx.gap(f"subnet of {lb_id}", f"subnet {subnet} not collected")
    for group in groups:
        if g.has(group):
            g.add_edge(lb_id, group, "filtered_by", key=group, layer="interface")
        else:
            ctx.gap(f"security group of {lb_id}", f"security group {group} not collected; its rules are unknown")

