"""Translating AWS Terraform resources into the AWS API reply shapes of a snapshot.

Ids are resource addresses. What Terraform only learns at apply time and a check depends on is
listed in the element's `_unknown` and reported as a gap, never read as false or empty.
Assumptions about AWS defaults the plan does not show are collected in `notes`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections import Counter
from typing import Any

from guardrails.providers.aws.arns import aws_managed_policy_partition

from .hcl import SourceLocator
from .links import Linker, get_value, is_expression, unknown_mask
from .load import TfDocument, TfResource

# Stands for an address AWS assigns at apply time: its presence is known, its value is not.
ASSIGNED_AT_APPLY = "(known after apply)"

REGION_KEYS = (
    "vpcs", "subnets", "route_tables", "internet_gateways", "egress_only_internet_gateways",
    "nat_gateways", "network_acls", "security_groups", "managed_prefix_lists", "network_interfaces",
    "images", "instances", "load_balancers", "listeners", "listener_rules", "target_groups",
    "classic_load_balancers", "auto_scaling_groups", "codebuild_projects", "vpc_peering_connections",
    "transit_gateway_attachments", "transit_gateway_route_tables",
)

T_VPC = ("aws_vpc", "aws_default_vpc")
T_SUBNET = ("aws_subnet", "aws_default_subnet")
T_SG = ("aws_security_group", "aws_default_security_group")
T_RT = ("aws_route_table", "aws_default_route_table")
T_IGW = ("aws_internet_gateway",)
T_EIGW = ("aws_egress_only_internet_gateway",)
T_NAT = ("aws_nat_gateway",)
T_NACL = ("aws_network_acl", "aws_default_network_acl")
T_ENI = ("aws_network_interface",)
T_INSTANCE = ("aws_instance",)
T_EIP = ("aws_eip",)
T_LB = ("aws_lb", "aws_alb")
T_LISTENER = ("aws_lb_listener", "aws_alb_listener")
T_TG = ("aws_lb_target_group", "aws_alb_target_group")
T_ELB = ("aws_elb",)
T_ROLE = ("aws_iam_role",)
T_POLICY = ("aws_iam_policy",)
T_PROFILE = ("aws_iam_instance_profile",)
T_USER = ("aws_iam_user",)
T_GROUP = ("aws_iam_group",)
T_OIDC = ("aws_iam_openid_connect_provider",)
T_POLICY_DOC = ("aws_iam_policy_document",)
T_PREFIX_LIST = ("aws_ec2_managed_prefix_list",)
T_LT = ("aws_launch_template",)
T_LC = ("aws_launch_configuration",)
T_ASG = ("aws_autoscaling_group",)
T_PEERING = ("aws_vpc_peering_connection",)
T_TGW = ("aws_ec2_transit_gateway",)
T_TGW_ATTACH = ("aws_ec2_transit_gateway_vpc_attachment",)
T_TGW_RT = ("aws_ec2_transit_gateway_route_table",)
T_AMI = ("aws_ami",)

SG_PROTOCOL_NAMES = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "all": "-1", "-1": "-1"}
NACL_PROTOCOL_NUMBERS = {"tcp": "6", "udp": "17", "icmp": "1", "icmpv6": "58", "all": "-1", "-1": "-1"}
ROUTE_TARGETS = (
    # (Terraform attribute, API field, target types)
    ("gateway_id", "GatewayId", T_IGW + ("aws_vpn_gateway",)),
    ("egress_only_gateway_id", "EgressOnlyInternetGatewayId", T_EIGW),
    ("nat_gateway_id", "NatGatewayId", T_NAT),
    ("transit_gateway_id", "TransitGatewayId", T_TGW),
    ("vpc_peering_connection_id", "VpcPeeringConnectionId", T_PEERING),
    ("network_interface_id", "NetworkInterfaceId", T_ENI),
    ("instance_id", "InstanceId", T_INSTANCE),
    ("vpc_endpoint_id", "GatewayId", ("aws_vpc_endpoint",)),
    ("local_gateway_id", "LocalGatewayId", ("aws_ec2_local_gateway",)),
    ("carrier_gateway_id", "CarrierGatewayId", ("aws_ec2_carrier_gateway",)),
    ("core_network_arn", "CoreNetworkArn", ()),
)
ROUTE_DESTINATIONS = (
    ("cidr_block", "DestinationCidrBlock"), ("destination_cidr_block", "DestinationCidrBlock"),
    ("ipv6_cidr_block", "DestinationIpv6CidrBlock"), ("destination_ipv6_cidr_block", "DestinationIpv6CidrBlock"),
    ("destination_prefix_list_id", "DestinationPrefixListId"),
)
HEX_SHA1 = re.compile(r"^[0-9a-f]{40}$")


def _tags(values: dict) -> list[dict]:
    tags = values.get("tags_all") if isinstance(values.get("tags_all"), dict) else None
    if not tags:
        tags = values.get("tags") if isinstance(values.get("tags"), dict) else {}
    return [{"Key": k, "Value": "" if v is None else str(v)} for k, v in tags.items()]


def _block(values: dict, attr: str) -> dict:
    v = values.get(attr)
    if isinstance(v, list) and v and isinstance(v[0], dict):
        return v[0]
    return v if isinstance(v, dict) else {}


def _bool(v: Any) -> bool | None:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.lower() in ("true", "false"):
        return v.lower() == "true"
    return None


def _int(v: Any) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def _json_doc(v: Any) -> Any:
    if isinstance(v, dict):
        return v
    if isinstance(v, str) and v.strip():
        try:
            return json.loads(v)
        except json.JSONDecodeError:
            return None
    return None


class AwsTranslator:
    def __init__(self, doc: TfDocument, linker: Linker, source: str, sources: SourceLocator | None = None):
        self.doc = doc
        self.linker = linker
        self.source = source
        self.sources = sources  # the .tf files, when they are beside the plan
        self.lists: dict[str, list[dict]] = {k: [] for k in REGION_KEYS}
        self.iam: dict[str, list[dict]] = {"roles": [], "policies": [], "instance_profiles": [], "users": [],
                                           "groups": [], "oidc_providers": [], "access_keys": []}
        self.gaps: list[dict] = []
        self.notes: list[str] = []
        self.ignored: Counter = Counter()
        self.el: dict[str, dict] = {}  # address -> element
        self.account = self._account_id()
        self.region = self._region()
        self.imds_defaults: dict = {}
        # A data source reading an object the document already holds (managed, or read by another
        # data source in another module) is that object, not a second one.
        self.alias: dict[str, str] = {}
        first: dict[tuple[str, str], str] = {}
        for res in sorted(doc.resources, key=lambda r: r.mode != "managed"):
            rid = res.values.get("id")
            if not isinstance(rid, str) or not rid or get_value(res, ("id",))[1]:
                continue
            key = (res.type, rid)
            if key in first and res.mode == "data":
                self.alias[res.address] = first[key]
            else:
                first.setdefault(key, res.address)
        for res in doc.resources:
            if res.type == "aws_ec2_instance_metadata_defaults" and res.mode == "managed":
                for tf, api in (("http_tokens", "HttpTokens"), ("http_endpoint", "HttpEndpoint"),
                                ("http_put_response_hop_limit", "HttpPutResponseHopLimit")):
                    val = res.values.get(tf)
                    if val not in (None, "", "no-preference", -1):
                        self.imds_defaults[api] = _int(val) if api == "HttpPutResponseHopLimit" else val

    # ---- helpers ---------------------------------------------------------------------------
    def _account_id(self) -> str | None:
        for r in self.doc.resources:
            if r.type == "aws_caller_identity" and isinstance(r.values.get("account_id"), str):
                return r.values["account_id"]
        for r in self.doc.resources:
            for key in ("arn", "owner_id"):
                v = r.values.get(key)
                if isinstance(v, str):
                    m = re.match(r"arn:aws[\w-]*:[\w-]+:[\w-]*:(\d{12}):", v)
                    if m:
                        return m.group(1)
                    if key == "owner_id" and re.fullmatch(r"\d{12}", v):
                        return v
        return None

    def _region(self) -> str:
        conf = (self.doc.configuration or {}).get("provider_config") or {}
        aws = conf.get("aws") or {}
        region = ((aws.get("expressions") or {}).get("region") or {}).get("constant_value")
        if isinstance(region, str) and region:
            return region
        for r in self.doc.resources:
            if r.type == "aws_region" and isinstance(r.values.get("name"), str):
                return r.values["name"]
        for r in self.doc.resources:
            az = r.values.get("availability_zone")
            if isinstance(az, str) and re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d[a-z]", az):
                return az[:-1]
        return "unknown"

    def base(self, res: TfResource, key: str | None, **fields) -> dict:
        el = dict(fields)
        el["_address"] = res.address
        el["_source"] = self.source
        if key is not None:
            self.lists[key].append(el) if key in self.lists else self.iam[key.split(".", 1)[1]].append(el)
        self.el[res.address] = el
        return el

    def unknown(self, el: dict, field: str, res: TfResource, attr: str, why: str) -> None:
        if field not in el.setdefault("_unknown", []):
            el["_unknown"].append(field)
        self.gaps.append({
            "provider": "terraform", "scope": self.source, "region": None,
            "what": f"{res.address}.{attr}", "error": why,
        })

    def ident(self, target: Any) -> Any:
        """The snapshot id of a link target: the address, or the literal id of an outside object."""
        if isinstance(target, TfResource):
            if target.address in self.alias:
                return self.alias[target.address]
            arn = target.values.get("arn")
            if target.type in T_POLICY and isinstance(arn, str) and aws_managed_policy_partition(arn):
                return arn
            return target.address
        return target

    def ref_many(self, res: TfResource, path: tuple, types: tuple, el: dict, field: str) -> list:
        targets, known = self.linker.link(res, path, types)
        if not known:
            self.unknown(el, field, res, ".".join(map(str, path)),
                         "unresolved reference: value known only after apply and not traceable in the configuration")
        return [self.ident(t) for t in targets]

    def gap(self, what: str, error: str) -> None:
        self.gaps.append({"provider": "terraform", "scope": self.source, "region": None, "what": what, "error": error})

    def _parent(self, res: TfResource, attr: str, types: tuple, field: str, missing: str) -> tuple[Any, dict | None]:
        """The element a child resource (a rule, an association, an attachment) adds itself to,
        or (id, None) with a gap saying what could not be resolved."""
        parent = self.ref_one(res, (attr,), types, {}, field)
        el = self.el.get(parent) if isinstance(parent, str) else None
        if el is None:
            self.gap(f"{res.address}.{attr}", f"unresolved reference: {missing}")
        return parent, el

    def ref_one(self, res: TfResource, path: tuple, types: tuple, el: dict, field: str) -> Any:
        targets = self.ref_many(res, path, types, el, field)
        if len(targets) > 1:
            self.unknown(el, field, res, ".".join(map(str, path)),
                         "ambiguous reference: one of " + ", ".join(map(str, targets)))
            return None
        return targets[0] if targets else None

    def setting(self, res: TfResource, path: tuple) -> tuple[str, Any]:
        """('known', v), ('unset', None) or ('unknown', None) for an optional, provider-computed argument.

        An unknown value whose argument the configuration does not set is a provider default filled
        at apply time (unset); one the configuration sets, or that a dynamic block may set, is unknown.
        """
        value, unknown = get_value(res, path)
        if not unknown:
            return ("unset", None) if value is None or value == "" or value == [] else ("known", value)
        if self.linker.config_of(res) is None:
            return "unknown", None
        expr = self.linker.expression(res, path)
        if expr is not None:
            if "constant_value" in expr and len(path) == 1 and expr["constant_value"] is not None:
                return "known", expr["constant_value"]
            return "unknown", None
        if len(path) > 1 and not self.linker.has_expression(res, path[0]):
            return "unknown", None  # the block may come from a `dynamic` block, which configuration omits
        return "unset", None

    def present(self, res: TfResource, path: tuple) -> bool:
        return self.setting(res, path)[0] != "unset"

    def translate(self) -> None:
        primary, secondary = [], []
        for res in self.doc.resources:
            if res.address in self.alias:
                continue
            handler = getattr(self, f"t_{res.type}", None)
            if res.mode == "data":
                handler = getattr(self, f"d_{res.type}", None)
            if handler is None:
                if res.type.startswith("aws_") and res.mode == "managed":
                    self.ignored[res.type] += 1
                continue
            (secondary if getattr(handler, "secondary", False) else primary).append((handler, res))
        for handler, res in primary:
            handler(res)
        for handler, res in secondary:
            handler(res)
        self.finish()

    # ---- network -----------------------------------------------------------------------------
    def t_aws_vpc(self, res: TfResource, default: bool = False) -> None:
        v = res.values
        el = self.base(res, "vpcs", VpcId=res.address, OwnerId=v.get("owner_id") or self.account,
                       CidrBlock=v.get("cidr_block"), IsDefault=default, Tags=_tags(v))
        if get_value(res, ("cidr_block",))[1]:
            self.unknown(el, "CidrBlock", res, "cidr_block", "value known only after apply (IPAM allocation)")
        el["CidrBlockAssociationSet"] = [{"CidrBlock": v["cidr_block"]}] if v.get("cidr_block") else []
        ipv6 = v.get("ipv6_cidr_block")
        el["Ipv6CidrBlockAssociationSet"] = [{"Ipv6CidrBlock": ipv6}] if ipv6 else []
        if not ipv6 and (v.get("assign_generated_ipv6_cidr_block") or get_value(res, ("ipv6_cidr_block",))[1]
                         and self.setting(res, ("assign_generated_ipv6_cidr_block",))[0] != "unset"):
            el["Ipv6CidrBlockAssociationSet"] = [{"Ipv6CidrBlock": ASSIGNED_AT_APPLY}]
        el["_main_route_table"] = None
        el["_default_nacl"] = None
        el["_default_sg"] = None
        el["_data_source"] = res.mode == "data"

    def t_aws_default_vpc(self, res: TfResource) -> None:
        self.t_aws_vpc(res, default=True)

    d_aws_vpc = t_aws_vpc

    def t_aws_subnet(self, res: TfResource) -> None:
        v = res.values
        el = self.base(res, "subnets", SubnetId=res.address, CidrBlock=v.get("cidr_block"),
                       AvailabilityZone=v.get("availability_zone"), Tags=_tags(v))
        el["VpcId"] = self.ref_one(res, ("vpc_id",), T_VPC, el, "VpcId")
        ipv6 = v.get("ipv6_cidr_block")
        el["Ipv6CidrBlockAssociationSet"] = [{"Ipv6CidrBlock": ipv6}] if ipv6 else []
        if not ipv6 and get_value(res, ("ipv6_cidr_block",))[1]:
            el["Ipv6CidrBlockAssociationSet"] = [{"Ipv6CidrBlock": ASSIGNED_AT_APPLY}]
        default_public = res.type == "aws_default_subnet"
        for attr, field, default in (("map_public_ip_on_launch", "MapPublicIpOnLaunch", default_public),
                                     ("assign_ipv6_address_on_creation", "AssignIpv6AddressOnCreation", False)):
            state, val = self.setting(res, (attr,))
            if state == "known":
                el[field] = bool(_bool(val))
            elif state == "unset":
                el[field] = default
            else:
                el[field] = None
                self.unknown(el, field, res, attr, "value known only after apply")

    t_aws_default_subnet = t_aws_subnet
    d_aws_subnet = t_aws_subnet

    def t_aws_internet_gateway(self, res: TfResource) -> None:
        el = self.base(res, "internet_gateways", InternetGatewayId=res.address, Tags=_tags(res.values),
                       OwnerId=self.account)
        vpc = self.ref_one(res, ("vpc_id",), T_VPC, el, "Attachments") if (
            self.present(res, ("vpc_id",))) else None
        el["Attachments"] = [{"VpcId": vpc, "State": "available"}] if vpc else []

    d_aws_internet_gateway = t_aws_internet_gateway

    def t_aws_internet_gateway_attachment(self, res: TfResource) -> None:
        probe: dict = {}
        igw = self.ref_one(res, ("internet_gateway_id",), T_IGW, probe, "InternetGatewayId")
        vpc = self.ref_one(res, ("vpc_id",), T_VPC, probe, "VpcId")
        target = self.el.get(igw) if isinstance(igw, str) else None
        if target is not None and vpc:
            target["Attachments"].append({"VpcId": vpc, "State": "available"})
        elif probe.get("_unknown"):
            self.notes.append(f"{res.address}: the internet gateway attachment could not be linked")

    t_aws_internet_gateway_attachment.secondary = True

    def t_aws_egress_only_internet_gateway(self, res: TfResource) -> None:
        el = self.base(res, "egress_only_internet_gateways", EgressOnlyInternetGatewayId=res.address,
                       Tags=_tags(res.values))
        vpc = self.ref_one(res, ("vpc_id",), T_VPC, el, "Attachments")
        el["Attachments"] = [{"VpcId": vpc, "State": "attached"}] if vpc else []

    def t_aws_nat_gateway(self, res: TfResource) -> None:
        v = res.values
        el = self.base(res, "nat_gateways", NatGatewayId=res.address, State="available",
                       ConnectivityType=v.get("connectivity_type") or "public", Tags=_tags(v))
        el["SubnetId"] = self.ref_one(res, ("subnet_id",), T_SUBNET, el, "SubnetId")
        el["VpcId"] = None  # from the subnet, in finish()

    # ---- route tables ------------------------------------------------------------------------
    def unknown_route(self, route: dict, field: str, res: TfResource, attr: str, why: str) -> None:
        """Marks one field of one route as known only after apply: the route is listed with what is
        known of it, and normalization tells an unknown destination or target from a missing one."""
        if field not in route.setdefault("_unknown", []):
            route["_unknown"].append(field)
        self.gap(f"{res.address}.{attr}", why)

    def _route(self, res: TfResource, path: tuple, route: dict, n: int, multi_block: bool,
               mask: Any = None) -> dict:
        """A route of the plan's `route` set; `mask` is its after_unknown mask (read from the plan
        unless given: a route filled from a constant configuration has none)."""
        out: dict = {"State": "active", "Origin": "CreateRoute"}
        for attr, field in ROUTE_DESTINATIONS:
            if route.get(attr):
                out[field] = route[attr]
        if mask is None:
            mask = unknown_mask(res, path) if path else False
        if not any(route.get(attr) for attr, _ in ROUTE_DESTINATIONS) and (
                mask is True or isinstance(mask, dict) and any(mask.get(a) is True for a, _ in ROUTE_DESTINATIONS)):
            for field in ("DestinationCidrBlock", "DestinationIpv6CidrBlock"):
                self.unknown_route(out, field, res, ".".join(map(str, path)) + ".cidr_block",
                                   "route destination known only after apply")
        for attr, field, types in ROUTE_TARGETS:
            value = route.get(attr)
            is_unknown = mask is True or (isinstance(mask, dict) and mask.get(attr) is True)
            if value in (None, "") and not is_unknown:
                continue
            if value == "local":
                out[field] = "local"
                continue
            if not is_unknown:
                hit = self.linker.lookup_value(value, types) if types else None
                out[field] = self.ident(hit) if hit is not None else value
                continue
            # One expression covers all inline route blocks: only a single candidate is certain.
            found, consts, _ = self.linker.targets_from_config(res, path[:1] + (attr,), types) if types else ([], [], True)
            cands = [self.ident(t) for t in found]
            if len(cands) == 1 and (not multi_block or not consts):
                out[field] = cands[0]
            else:
                self.unknown_route(out, field, res, ".".join(map(str, path + (attr,))),
                                   "unresolved reference: route target known only after apply"
                                   + (f" (candidates: {', '.join(cands)})" if cands else ""))
        return out

    def _route_from_block(self, res: TfResource, block: dict, i: int) -> dict:
        """A route written as its own block in the configuration: constants as they are, targets
        through their references."""
        out: dict = {"State": "active", "Origin": "CreateRoute"}
        where = f"route.{i}"
        unknown_destination = False
        for attr, field in ROUTE_DESTINATIONS:
            expr = block.get(attr)
            if not is_expression(expr):
                continue
            if "constant_value" in expr:
                if expr["constant_value"]:
                    out[field] = expr["constant_value"]
            else:
                unknown_destination = True
        if unknown_destination and not any(out.get(f) for _, f in ROUTE_DESTINATIONS):
            for field in ("DestinationCidrBlock", "DestinationIpv6CidrBlock"):
                self.unknown_route(out, field, res, f"{where}.cidr_block", "route destination known only after apply")
        for attr, field, types in ROUTE_TARGETS:
            expr = block.get(attr)
            if not is_expression(expr) or expr.get("constant_value", "unset") in (None, ""):
                continue
            if expr.get("constant_value") == "local":
                out[field] = "local"
                continue
            found, consts, broken = self.linker.targets_of_expression(expr, res, types) if types else (
                [], [expr["constant_value"]] if "constant_value" in expr else [], "constant_value" not in expr)
            cands = [self.ident(t) for t in found] + [c for c in consts if c not in found]
            if len(cands) == 1 and not broken:
                out[field] = cands[0]
            else:
                self.unknown_route(out, field, res, f"{where}.{attr}",
                                   "unresolved reference: route target known only after apply"
                                   + (f" (candidates: {', '.join(map(str, cands))})" if cands else ""))
        return out

    def _routes_from_references(self, res: TfResource, expr: dict, el: dict) -> list[dict]:
        """Routes of an inline set the configuration writes as one expression that names only what
        the routes refer to: one route per gateway (or other target) named, its destination unknown.
        A name that cannot be followed leaves the whole set unknown besides."""
        types = tuple(t for _, _, ts in ROUTE_TARGETS for t in ts)
        found, _, broken = self.linker.targets_of_expression(expr, res, types)
        routes = []
        for target in found:
            field = next(f for _, f, ts in ROUTE_TARGETS if target.type in ts)
            route: dict = {"State": "active", "Origin": "CreateRoute", field: self.ident(target)}
            for dest in ("DestinationCidrBlock", "DestinationIpv6CidrBlock"):
                self.unknown_route(route, dest, res, "route",
                                   f"inline route to {target.address}: its destination is known only after apply "
                                   "and the configuration does not state it as a constant")
            routes.append(route)
        if broken or not found:
            self.unknown(el, "Routes", res, "route",
                         "inline routes known only after apply: some route target is not traceable in the configuration")
        return routes

    def inline_config(self, res: TfResource, attr: str, el: dict, field: str, what: str) -> tuple[str, Any]:
        """Linker.inline_config, and the element's field marked unknown when the resource's source
        writes `dynamic` blocks of `attr`, which the plan's configuration leaves out."""
        shape, content = self.linker.inline_config(res, attr)
        if shape != "unknown" and self.sources is not None and self.sources.has_dynamic_block(
                Linker.config_path_of(res.module_address), res.mode, res.type, res.name, attr):
            self.unknown(el, field, res, attr, f"{what} known only after apply: a dynamic block writes "
                         "some of them, and the plan's configuration leaves dynamic blocks out")
            if shape == "none":
                return "dynamic", None
        return shape, content

    def _omitted(self) -> str:
        """Why the configuration cannot fill an unknown inline block set, when the Terraform that
        wrote the plan is the reason."""
        return (" (this Terraform version leaves inline blocks out of the plan's configuration)"
                if self.linker.omits_inline_blocks else "")

    def _route_table(self, res: TfResource, vpc: Any, main: bool) -> dict:
        el = self.base(res, "route_tables", RouteTableId=res.address, VpcId=vpc, Tags=_tags(res.values),
                       Routes=[], Associations=[])
        if main:
            el["Associations"].append({"Main": True, "RouteTableAssociationId": f"{res.address}.main"})
        routes = res.values.get("route")
        if get_value(res, ("route",))[1] and not isinstance(routes, list):
            # The whole set is unknown until apply: take the routes from the configuration.
            shape, content = self.inline_config(res, "route", el, "Routes", "inline routes")
            if shape == "constant":
                for i, r in enumerate(content):
                    el["Routes"].append(self._route(res, ("route", i), r, len(el["Routes"]), len(content) > 1, mask=False))
            elif shape == "blocks":
                for i, block in enumerate(content):
                    el["Routes"].append(self._route_from_block(res, block, i))
            elif shape == "references":
                el["Routes"] += self._routes_from_references(res, content, el)
            elif shape == "unknown":
                self.unknown(el, "Routes", res, "route", "inline routes known only after apply" + self._omitted())
            return el
        routes = [r for r in routes or [] if isinstance(r, dict)]
        for i, r in enumerate(routes):
            el["Routes"].append(self._route(res, ("route", i), r, len(el["Routes"]), len(routes) > 1))
        return el

    def t_aws_route_table(self, res: TfResource) -> None:
        probe: dict = {}
        vpc = self.ref_one(res, ("vpc_id",), T_VPC, probe, "VpcId")
        el = self._route_table(res, vpc, main=False)
        for f in probe.get("_unknown", []):
            el.setdefault("_unknown", []).append(f)

    d_aws_route_table = t_aws_route_table

    def t_aws_default_route_table(self, res: TfResource) -> None:
        probe: dict = {}
        vpc = self.ref_one(res, ("vpc_id",), T_VPC, probe, "VpcId")
        if vpc is None:
            vpc = self.ref_one(res, ("default_route_table_id",), T_VPC, probe, "VpcId")
        el = self._route_table(res, vpc, main=True)
        if vpc is None:
            self.unknown(el, "VpcId", res, "default_route_table_id", "unresolved reference to the VPC")

    def t_aws_route(self, res: TfResource) -> None:
        probe: dict = {}
        rt = self.ref_one(res, ("route_table_id",), T_RT, probe, "RouteTableId")
        table = self.el.get(rt) if isinstance(rt, str) else None
        if table is None:
            self.gap(f"{res.address}.route_table_id", "unresolved reference: the route's table is not in the plan or state")
            return
        route = {k: res.values.get(k) for k, _ in ROUTE_DESTINATIONS}
        route.update({k: res.values.get(k) for k, _, _ in ROUTE_TARGETS})
        out: dict = {"State": "active", "Origin": "CreateRoute", "_address": res.address}
        for attr, field in ROUTE_DESTINATIONS:
            state, value = ("known", route[attr]) if route.get(attr) else self.setting(res, (attr,))
            if state == "known" and value:
                out[field] = value
            elif state == "unknown":
                self.unknown_route(out, field, res, attr, "route destination known only after apply")
        for attr, field, types in ROUTE_TARGETS:
            if not self.present(res, (attr,)):
                continue
            if route.get(attr) == "local":
                out[field] = "local"
                continue
            if not types:
                out[field] = route.get(attr)
                continue
            probe: dict = {}
            out[field] = self.ref_one(res, (attr,), types, probe, field)
            if field in probe.get("_unknown", ()):
                out.setdefault("_unknown", []).append(field)
        key = json.dumps({k: v for k, v in out.items() if k != "_address"}, sort_keys=True)
        if not any(json.dumps({k: v for k, v in r.items() if k != "_address"}, sort_keys=True) == key
                   for r in table["Routes"]):
            table["Routes"].append(out)

    t_aws_route.secondary = True

    def t_aws_route_table_association(self, res: TfResource) -> None:
        probe: dict = {}
        rt = self.ref_one(res, ("route_table_id",), T_RT, probe, "RouteTableId")
        table = self.el.get(rt) if isinstance(rt, str) else None
        if table is None:
            self.gap(f"{res.address}.route_table_id", "unresolved reference: the associated route table is not in the plan or state")
            return
        if res.values.get("gateway_id") and not res.values.get("subnet_id"):
            return  # edge association (ingress routing for a gateway), not a subnet
        subnet = self.ref_one(res, ("subnet_id",), T_SUBNET, table, "Associations")
        if subnet is not None:
            table["Associations"].append({"Main": False, "SubnetId": subnet, "RouteTableAssociationId": res.address})

    t_aws_route_table_association.secondary = True

    def t_aws_main_route_table_association(self, res: TfResource) -> None:
        probe: dict = {}
        rt = self.ref_one(res, ("route_table_id",), T_RT, probe, "RouteTableId")
        vpc = self.ref_one(res, ("vpc_id",), T_VPC, probe, "VpcId")
        table = self.el.get(rt) if isinstance(rt, str) else None
        vpc_el = self.el.get(vpc) if isinstance(vpc, str) else None
        if table is None or vpc_el is None:
            self.gap(f"{res.address}", "unresolved reference: main route table association")
            return
        table["Associations"].append({"Main": True, "RouteTableAssociationId": res.address})
        vpc_el["_main_route_table"] = rt

    t_aws_main_route_table_association.secondary = True

    # ---- network ACLs ------------------------------------------------------------------------
    @staticmethod
    def _nacl_entry(rule: dict, egress: bool) -> dict | None:
        proto = str(rule.get("protocol", "-1")).lower()
        proto = NACL_PROTOCOL_NUMBERS.get(proto, proto)
        number = _int(rule.get("rule_no", rule.get("rule_number")))
        if number is None:
            return None
        entry: dict = {"RuleNumber": number, "Protocol": proto,
                       "RuleAction": str(rule.get("action", rule.get("rule_action", "deny"))).lower(),
                       "Egress": egress}
        if rule.get("cidr_block"):
            entry["CidrBlock"] = rule["cidr_block"]
        if rule.get("ipv6_cidr_block"):
            entry["Ipv6CidrBlock"] = rule["ipv6_cidr_block"]
        if proto in ("6", "17"):
            entry["PortRange"] = {"From": _int(rule.get("from_port")), "To": _int(rule.get("to_port"))}
        if proto in ("1", "58"):
            entry["IcmpTypeCode"] = {"Type": _int(rule.get("icmp_type")), "Code": _int(rule.get("icmp_code"))}
        return entry

    def _literal_block(self, res: TfResource, where: str, block: dict, el: dict, field: str) -> dict | None:
        """The values of a configuration block whose every argument is a constant; None (and the
        element's field marked unknown) when one is not."""
        out = {}
        for attr, expr in block.items():
            if not is_expression(expr):
                continue
            if "constant_value" not in expr:
                self.unknown(el, field, res, f"{where}.{attr}", "inline rule value known only after apply")
                return None
            out[attr] = expr["constant_value"]
        return out

    @staticmethod
    def _nacl_default_denies(el: dict) -> None:
        for egress in (False, True):
            for cidr_key, cidr in (("CidrBlock", "0.0.0.0/0"), ("Ipv6CidrBlock", "::/0")):
                el["Entries"].append({"RuleNumber": 32767, "Protocol": "-1", "RuleAction": "deny",
                                      "Egress": egress, cidr_key: cidr})

    def t_aws_network_acl(self, res: TfResource, default: bool = False) -> None:
        v = res.values
        el = self.base(res, "network_acls", NetworkAclId=res.address, IsDefault=default, Tags=_tags(v),
                       Entries=[], Associations=[])
        if default:
            el["VpcId"] = self.ref_one(res, ("default_network_acl_id",), T_VPC, el, "VpcId")
        else:
            el["VpcId"] = self.ref_one(res, ("vpc_id",), T_VPC, el, "VpcId")
        for direction, egress in (("ingress", False), ("egress", True)):
            rules, unknown = get_value(res, (direction,))
            if unknown and not isinstance(rules, list):
                # The whole set is unknown until apply: take the rules from the configuration.
                shape, content = self.inline_config(res, direction, el, "Entries", "inline NACL rules")
                if shape == "constant":
                    rules = content
                elif shape == "blocks":
                    rules = [self._literal_block(res, f"{direction}.{i}", block, el, "Entries")
                             for i, block in enumerate(content)]
                elif shape in ("none", "dynamic"):
                    rules = []
                else:
                    self.unknown(el, "Entries", res, direction, "inline NACL rules known only after apply"
                                 + self._omitted())
                    rules = []
            for rule in rules or []:
                if isinstance(rule, dict):
                    entry = self._nacl_entry(rule, egress)
                    if entry:
                        el["Entries"].append(entry)
        self._nacl_default_denies(el)
        state, _ = self.setting(res, ("subnet_ids",))
        if res.values.get("subnet_ids") or state == "unknown":
            for s in self.ref_many(res, ("subnet_ids",), T_SUBNET, el, "Associations"):
                el["Associations"].append({"SubnetId": s, "NetworkAclId": res.address})
        if default and el["VpcId"] in self.el:
            self.el[el["VpcId"]]["_default_nacl"] = res.address

    def t_aws_default_network_acl(self, res: TfResource) -> None:
        self.t_aws_network_acl(res, default=True)

    def t_aws_network_acl_rule(self, res: TfResource) -> None:
        acl, el = self._parent(res, "network_acl_id", T_NACL, "NetworkAclId",
                               "the rule's network ACL is not in the plan or state")
        if el is None:
            return
        entry = self._nacl_entry(res.values, bool(_bool(res.values.get("egress"))))
        if entry and entry not in el["Entries"]:
            el["Entries"].append(entry)

    t_aws_network_acl_rule.secondary = True

    def t_aws_network_acl_association(self, res: TfResource) -> None:
        acl, el = self._parent(res, "network_acl_id", T_NACL, "NetworkAclId",
                               "the associated network ACL is not in the plan or state")
        if el is None:
            return
        subnet = self.ref_one(res, ("subnet_id",), T_SUBNET, el, "Associations")
        if subnet and not any(a.get("SubnetId") == subnet for a in el["Associations"]):
            el["Associations"].append({"SubnetId": subnet, "NetworkAclId": acl})

    t_aws_network_acl_association.secondary = True

    # ---- security groups ---------------------------------------------------------------------
    def _permission(self, proto: Any, from_port: Any, to_port: Any) -> dict:
        p = str(proto if proto not in (None, "") else "-1").lower()
        p = SG_PROTOCOL_NAMES.get(p, p)
        perm: dict = {"IpProtocol": p, "IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []}
        if p != "-1":
            perm["FromPort"] = _int(from_port)
            perm["ToPort"] = _int(to_port)
        return perm

    def _add_permission(self, sg: dict, egress: bool, perm: dict) -> None:
        key = "IpPermissionsEgress" if egress else "IpPermissions"
        for existing in sg[key]:
            if (existing["IpProtocol"], existing.get("FromPort"), existing.get("ToPort")) == (
                    perm["IpProtocol"], perm.get("FromPort"), perm.get("ToPort")):
                for field, inner in (("IpRanges", "CidrIp"), ("Ipv6Ranges", "CidrIpv6"),
                                     ("PrefixListIds", "PrefixListId"), ("UserIdGroupPairs", "GroupId")):
                    have = {e.get(inner) for e in existing[field]}
                    for e in perm[field]:
                        if e.get(inner) not in have:
                            existing[field].append(e)
                            have.add(e.get(inner))
                return
        if any(perm[f] for f in ("IpRanges", "Ipv6Ranges", "PrefixListIds", "UserIdGroupPairs")):
            sg[key].append(perm)

    def _sg_sources(self, res: TfResource, path: tuple, rule: dict, perm: dict, sg: dict, field: str,
                    mask: Any = None) -> None:
        """The sources of an inline rule; `mask` is its after_unknown mask (read from the plan unless
        given: a rule filled from a constant configuration has none)."""
        for c in rule.get("cidr_blocks") or []:
            perm["IpRanges"].append({"CidrIp": c})
        for c in rule.get("ipv6_cidr_blocks") or []:
            perm["Ipv6Ranges"].append({"CidrIpv6": c})
        if mask is None:
            mask = unknown_mask(res, path)
        for attr, types, inner, target in (("prefix_list_ids", T_PREFIX_LIST, "PrefixListId", "PrefixListIds"),
                                           ("security_groups", T_SG, "GroupId", "UserIdGroupPairs")):
            values = rule.get(attr) or []
            sub = mask.get(attr) if isinstance(mask, dict) else mask
            any_unknown = sub is True or (isinstance(sub, list) and True in sub)
            for i, val in enumerate(values):
                if isinstance(sub, list) and i < len(sub) and sub[i] is True or val in (None, ""):
                    continue
                hit = self.linker.lookup_value(val, types)
                perm[target].append({inner: self.ident(hit) if hit is not None else val})
            if any_unknown:
                found, consts, broken = self.linker.targets_from_config(res, path[:1] + (attr,), types)
                cands = [self.ident(t) for t in found]
                if len(cands) == 1 and not broken:
                    perm[target].append({inner: cands[0]})
                else:
                    self.unknown(sg, field, res, ".".join(map(str, path + (attr,))),
                                 "unresolved reference: rule source known only after apply"
                                 + (f" (candidates: {', '.join(cands)})" if cands else ""))
        if rule.get("self"):
            perm["UserIdGroupPairs"].append({"GroupId": sg["GroupId"]})

    def t_aws_security_group(self, res: TfResource, default: bool = False) -> None:
        v = res.values
        name = v.get("name") if isinstance(v.get("name"), str) else ("default" if default else res.address)
        sg = self.base(res, "security_groups", GroupId=res.address, GroupName=name,
                       Description=v.get("description"), OwnerId=self.account, Tags=_tags(v),
                       IpPermissions=[], IpPermissionsEgress=[])
        sg["VpcId"] = self.ref_one(res, ("vpc_id",), T_VPC, sg, "VpcId") if (
            self.present(res, ("vpc_id",))) else None
        if default and sg["VpcId"] in self.el:
            self.el[sg["VpcId"]]["_default_sg"] = res.address
        for direction, egress, field in (("ingress", False, "IpPermissions"), ("egress", True, "IpPermissionsEgress")):
            rules, unknown = get_value(res, (direction,))
            if unknown and not isinstance(rules, list):
                # The whole set is unknown until apply: take the rules from the configuration.
                shape, content = self.inline_config(res, direction, sg, field, "inline rules")
                if shape == "dynamic":
                    pass
                elif res.mode == "data" or shape == "none":
                    # No inline rules: Terraform fills the attribute after apply from rule resources.
                    pass
                elif shape == "constant":
                    for i, rule in enumerate(content):
                        perm = self._permission(rule.get("protocol"), rule.get("from_port"), rule.get("to_port"))
                        self._sg_sources(res, (direction, i), rule, perm, sg, field, mask=False)
                        self._add_permission(sg, egress, perm)
                elif shape == "blocks":
                    for i, block in enumerate(content):
                        self._sg_rule_from_block(res, direction, i, block, sg, egress, field)
                else:
                    self.unknown(sg, field, res, direction, "inline rules known only after apply"
                                 + (": the configuration names only what they refer to" if shape == "references"
                                    else self._omitted()))
                continue
            for i, rule in enumerate(rules or []):
                if not isinstance(rule, dict):
                    continue
                perm = self._permission(rule.get("protocol"), rule.get("from_port"), rule.get("to_port"))
                self._sg_sources(res, (direction, i), rule, perm, sg, field)
                self._add_permission(sg, egress, perm)

    def _sg_rule_from_block(self, res: TfResource, direction: str, i: int, block: dict, sg: dict,
                            egress: bool, field: str) -> None:
        """An inline rule written as its own block in the configuration: ports, protocol and address
        ranges from its constants, source groups and prefix lists through their references."""
        where = f"{direction}.{i}"
        literal: dict = {}
        for attr in ("protocol", "from_port", "to_port", "cidr_blocks", "ipv6_cidr_blocks", "self"):
            expr = block.get(attr)
            if not is_expression(expr):
                continue
            if "constant_value" not in expr:
                self.unknown(sg, field, res, f"{where}.{attr}", "inline rule value known only after apply")
                if attr in ("protocol", "from_port", "to_port"):
                    return  # which traffic the rule admits is unknown
                continue
            literal[attr] = expr["constant_value"]
        perm = self._permission(literal.get("protocol"), literal.get("from_port"), literal.get("to_port"))
        self._sg_sources(res, (direction, i), literal, perm, sg, field, mask=False)
        for attr, types, inner, target in (("prefix_list_ids", T_PREFIX_LIST, "PrefixListId", "PrefixListIds"),
                                           ("security_groups", T_SG, "GroupId", "UserIdGroupPairs")):
            expr = block.get(attr)
            if not is_expression(expr) or expr.get("constant_value", "unset") in (None, []):
                continue
            found, consts, broken = self.linker.targets_of_expression(expr, res, types)
            for ref in [self.ident(t) for t in found] + [c for c in consts if c not in found]:
                perm[target].append({inner: ref})
            if broken or not (found or consts):
                self.unknown(sg, field, res, f"{where}.{attr}", "unresolved reference: rule source known only after apply")
        self._add_permission(sg, egress, perm)

    def t_aws_default_security_group(self, res: TfResource) -> None:
        self.t_aws_security_group(res, default=True)

    d_aws_security_group = t_aws_security_group

    def t_aws_security_group_rule(self, res: TfResource) -> None:
        v = res.values
        probe: dict = {}
        gid = self.ref_one(res, ("security_group_id",), T_SG, probe, "GroupId")
        sg = self.el.get(gid) if isinstance(gid, str) else None
        if sg is None:
            self.gap(f"{res.address}.security_group_id", "unresolved reference: the rule's security group is not in the plan or state")
            return
        egress = v.get("type") == "egress"
        field = "IpPermissionsEgress" if egress else "IpPermissions"
        perm = self._permission(v.get("protocol"), v.get("from_port"), v.get("to_port"))
        for c in v.get("cidr_blocks") or []:
            perm["IpRanges"].append({"CidrIp": c})
        for c in v.get("ipv6_cidr_blocks") or []:
            perm["Ipv6Ranges"].append({"CidrIpv6": c})
        if self.present(res, ("prefix_list_ids",)):
            for p in self.ref_many(res, ("prefix_list_ids",), T_PREFIX_LIST, sg, field):
                perm["PrefixListIds"].append({"PrefixListId": p})
        if self.present(res, ("source_security_group_id",)):
            src = self.ref_one(res, ("source_security_group_id",), T_SG, sg, field)
            if src:
                perm["UserIdGroupPairs"].append({"GroupId": src})
        if v.get("self"):
            perm["UserIdGroupPairs"].append({"GroupId": gid})
        if get_value(res, ("cidr_blocks",))[1] and not v.get("cidr_blocks"):
            self.unknown(sg, field, res, "cidr_blocks", "rule CIDR blocks known only after apply")
        self._add_permission(sg, egress, perm)

    t_aws_security_group_rule.secondary = True

    def t_aws_vpc_security_group_ingress_rule(self, res: TfResource, egress: bool = False) -> None:
        v = res.values
        probe: dict = {}
        gid = self.ref_one(res, ("security_group_id",), T_SG, probe, "GroupId")
        sg = self.el.get(gid) if isinstance(gid, str) else None
        if sg is None:
            self.gap(f"{res.address}.security_group_id", "unresolved reference: the rule's security group is not in the plan or state")
            return
        field = "IpPermissionsEgress" if egress else "IpPermissions"
        perm = self._permission(v.get("ip_protocol"), v.get("from_port"), v.get("to_port"))
        if v.get("cidr_ipv4"):
            perm["IpRanges"].append({"CidrIp": v["cidr_ipv4"]})
        if v.get("cidr_ipv6"):
            perm["Ipv6Ranges"].append({"CidrIpv6": v["cidr_ipv6"]})
        for attr, types, target, inner in (("prefix_list_id", T_PREFIX_LIST, "PrefixListIds", "PrefixListId"),
                                           ("referenced_security_group_id", T_SG, "UserIdGroupPairs", "GroupId")):
            if v.get(attr) or get_value(res, (attr,))[1]:
                ref = self.ref_one(res, (attr,), types, sg, field)
                if ref:
                    perm[target].append({inner: ref})
        for attr in ("cidr_ipv4", "cidr_ipv6"):
            if get_value(res, (attr,))[1]:
                self.unknown(sg, field, res, attr, "rule CIDR known only after apply")
        self._add_permission(sg, egress, perm)

    t_aws_vpc_security_group_ingress_rule.secondary = True

    def t_aws_vpc_security_group_egress_rule(self, res: TfResource) -> None:
        self.t_aws_vpc_security_group_ingress_rule(res, egress=True)

    t_aws_vpc_security_group_egress_rule.secondary = True

    def t_aws_ec2_managed_prefix_list(self, res: TfResource) -> None:
        v = res.values
        el = self.base(res, "managed_prefix_lists", PrefixListId=res.address, PrefixListName=v.get("name"),
                       OwnerId=v.get("owner_id") or self.account, AddressFamily=v.get("address_family"),
                       Tags=_tags(v), Entries=[])
        for e in v.get("entry") or v.get("entries") or []:
            if isinstance(e, dict) and e.get("cidr"):
                el["Entries"].append({"Cidr": e["cidr"], "Description": e.get("description")})
        if get_value(res, ("entry",))[1] and self.linker.has_expression(res, "entry") is not False and not el["Entries"]:
            self.unknown(el, "Entries", res, "entry", "prefix list entries known only after apply")

    d_aws_ec2_managed_prefix_list = t_aws_ec2_managed_prefix_list

    def t_aws_ec2_managed_prefix_list_entry(self, res: TfResource) -> None:
        pl, el = self._parent(res, "prefix_list_id", T_PREFIX_LIST, "PrefixListId",
                              "the entry's prefix list is not in the plan or state")
        if el is None:
            return
        cidr = res.values.get("cidr")
        if cidr and not any(e["Cidr"] == cidr for e in el["Entries"]):
            el["Entries"].append({"Cidr": cidr, "Description": res.values.get("description")})

    t_aws_ec2_managed_prefix_list_entry.secondary = True

    # ---- network interfaces and addresses ----------------------------------------------------
    def t_aws_network_interface(self, res: TfResource) -> None:
        v = res.values
        el = self.base(res, "network_interfaces", NetworkInterfaceId=res.address, Status="in-use",
                       TagSet=_tags(v), PrivateIpAddress=v.get("private_ip"))
        el["SubnetId"] = self.ref_one(res, ("subnet_id",), T_SUBNET, el, "SubnetId")
        groups = self.ref_many(res, ("security_groups",), T_SG, el, "Groups") if (
            self.present(res, ("security_groups",))) else []
        el["Groups"] = [{"GroupId": g} for g in groups]
        el["_default_groups"] = not groups and "Groups" not in el.get("_unknown", [])
        ips = [ip for ip in v.get("private_ips") or [] if ip]
        el["PrivateIpAddresses"] = [{"PrivateIpAddress": ip, "Primary": i == 0} for i, ip in enumerate(ips)]
        el["Ipv6Addresses"] = self._ipv6(res, el, "Ipv6Addresses")
        for att in v.get("attachment") or []:
            if isinstance(att, dict):
                probe: dict = {}
                inst = self.ref_one(res, ("attachment", 0, "instance"), T_INSTANCE, probe, "Attachment")
                el["Attachment"] = {"InstanceId": inst, "DeviceIndex": _int(att.get("device_index"))}

    def _ipv6(self, res: TfResource, el: dict, field: str) -> list | None:
        """IPv6 addresses from ipv6_addresses / ipv6_address_count; None means "the subnet decides"."""
        addrs = [a for a in res.values.get("ipv6_addresses") or [] if isinstance(a, str) and a]
        if addrs:
            return [{"Ipv6Address": a} for a in addrs]
        state, count = self.setting(res, ("ipv6_address_count",))
        if state == "known":
            return [{"Ipv6Address": ASSIGNED_AT_APPLY} for _ in range(_int(count) or 0)]
        list_state, _ = self.setting(res, ("ipv6_addresses",))
        if state == "unknown" or list_state == "unknown":
            self.unknown(el, "Ipv6Address", res, "ipv6_address_count", "IPv6 address count known only after apply")
            return []
        return None

    def t_aws_network_interface_attachment(self, res: TfResource) -> None:
        probe: dict = {}
        eni = self.ref_one(res, ("network_interface_id",), T_ENI, probe, "NetworkInterfaceId")
        inst = self.ref_one(res, ("instance_id",), T_INSTANCE, probe, "InstanceId")
        el = self.el.get(eni) if isinstance(eni, str) else None
        if el is None or inst is None:
            self.gap(res.address, "unresolved reference: network interface attachment")
            return
        el["Attachment"] = {"InstanceId": inst, "DeviceIndex": _int(res.values.get("device_index"))}

    t_aws_network_interface_attachment.secondary = True

    def t_aws_network_interface_sg_attachment(self, res: TfResource) -> None:
        probe: dict = {}
        sg = self.ref_one(res, ("security_group_id",), T_SG, probe, "GroupId")
        target = self.ref_one(res, ("network_interface_id",), T_ENI + T_INSTANCE, probe, "NetworkInterfaceId")
        el = self.el.get(target) if isinstance(target, str) else None
        if el is None or sg is None:
            self.gap(res.address, "unresolved reference: security group attachment")
            return
        if "InstanceId" in el:  # the instance's primary network interface
            el.setdefault("_extra_groups", []).append(sg)
        elif not any(g["GroupId"] == sg for g in el["Groups"]):
            el["Groups"].append({"GroupId": sg})
            el["_default_groups"] = False

    t_aws_network_interface_sg_attachment.secondary = True

    def t_aws_eip(self, res: TfResource) -> None:
        v = res.values
        el = {"_address": res.address, "PublicIp": v.get("public_ip") or ASSIGNED_AT_APPLY}
        self.el[res.address] = el
        for attr, types in (("instance", T_INSTANCE), ("network_interface", T_ENI)):
            if self.present(res, (attr,)):
                probe: dict = {}
                target = self.ref_one(res, (attr,), types, probe, attr)
                self._give_public_ip(res, target, el["PublicIp"], probe)

    t_aws_eip.secondary = True

    def t_aws_eip_association(self, res: TfResource) -> None:
        v = res.values
        probe: dict = {}
        eip = None
        if self.present(res, ("allocation_id",)):
            eip = self.ref_one(res, ("allocation_id",), T_EIP, probe, "AllocationId")
        ip = v.get("public_ip") or (self.el.get(eip, {}).get("PublicIp") if isinstance(eip, str) else None) \
            or ASSIGNED_AT_APPLY
        for attr, types in (("instance_id", T_INSTANCE), ("network_interface_id", T_ENI)):
            if self.present(res, (attr,)):
                target = self.ref_one(res, (attr,), types, probe, attr)
                self._give_public_ip(res, target, ip, probe)

    t_aws_eip_association.secondary = True

    def _give_public_ip(self, res: TfResource, target: Any, ip: str, probe: dict) -> None:
        el = self.el.get(target) if isinstance(target, str) else None
        if el is None:
            if probe.get("_unknown"):
                self.notes.append(f"{res.address}: the Elastic IP's instance or interface could not be resolved")
            return
        el["_elastic_ip"] = ip

    # ---- compute -----------------------------------------------------------------------------
    def _user_data(self, res: TfResource, el: dict, clear_attr: str, b64_attr: str, clear_is_b64: bool = False) -> None:
        v = res.values
        b64 = v.get(b64_attr) if b64_attr else None
        if isinstance(b64, str) and b64:
            el["UserData"] = b64
            return
        clear = v.get(clear_attr)
        if isinstance(clear, str) and clear:
            if clear_is_b64:
                el["UserData"] = clear
            elif HEX_SHA1.match(clear):
                literal = self._config_literal(res, clear_attr)
                if isinstance(literal, str) and hashlib.sha1(literal.encode()).hexdigest() == clear:
                    el["UserData"] = base64.b64encode(literal.encode()).decode()
                else:
                    self.unknown(el, "UserData", res, clear_attr,
                                 "user data stored as a hash and not a literal in the configuration")
            else:
                el["UserData"] = base64.b64encode(clear.encode()).decode()
            return
        for attr in (clear_attr, b64_attr):
            if attr and get_value(res, (attr,))[1] and self.setting(res, (attr,))[0] != "unset":
                literal = self._config_literal(res, attr)
                if isinstance(literal, str):
                    el["UserData"] = literal if (attr == b64_attr or clear_is_b64) else \
                        base64.b64encode(literal.encode()).decode()
                else:
                    self.unknown(el, "UserData", res, attr, "user data known only after apply")
                return

    def _config_literal(self, res: TfResource, attr: str) -> Any:
        expr = self.linker.expression(res, (attr,))
        if expr is None:
            return None
        resolved = self.linker.resolve_expression(expr, res.module_address, res.index)
        if len(resolved.constants) == 1 and not resolved.targets and not resolved.dead_ends:
            return resolved.constants[0]
        return None

    def _metadata(self, res: TfResource, el: dict, attr: str = "metadata_options") -> None:
        block = _block(res.values, attr)
        mask = unknown_mask(res, (attr, 0)) if isinstance(res.values.get(attr), list) else unknown_mask(res, (attr,))
        expr_set = self.linker.has_expression(res, attr)
        defaults = {"HttpTokens": "optional", "HttpEndpoint": "enabled", "HttpPutResponseHopLimit": 1}
        out = {}
        for tf, api in (("http_tokens", "HttpTokens"), ("http_endpoint", "HttpEndpoint"),
                        ("http_put_response_hop_limit", "HttpPutResponseHopLimit")):
            val = block.get(tf)
            unknown = mask is True or (isinstance(mask, dict) and mask.get(tf) is True)
            if val not in (None, "") and not unknown:
                out[api] = _int(val) if api == "HttpPutResponseHopLimit" else val
            elif unknown and expr_set and self._block_sets(res, attr, tf):
                self.unknown(el, "MetadataOptions", res, f"{attr}.{tf}", "metadata option known only after apply")
                out[api] = None
            else:
                out[api] = self.imds_defaults.get(api, defaults[api])
                if api == "HttpTokens" and res.action != "state":
                    self._assume(f"{res.address}: metadata_options.http_tokens not set: assuming the "
                                 f"{self.imds_defaults.get(api, defaults[api])!r} default "
                                 "(AWS default for most AMIs; AMIs registered with ImdsSupport v2.0 require tokens)")
        el["MetadataOptions"] = out
        el["_metadata_set"] = expr_set if expr_set is not None else bool(block)

    def _block_sets(self, res: TfResource, attr: str, inner: str) -> bool:
        conf = self.linker.config_of(res)
        node = ((conf or {}).get("expressions") or {}).get(attr)
        if isinstance(node, list):
            node = node[0] if node else {}
        if isinstance(node, dict) and not ("references" in node or "constant_value" in node):
            return inner in node
        return True

    def _assume(self, note: str) -> None:
        if note not in self.notes:
            self.notes.append(note)

    def t_aws_instance(self, res: TfResource) -> None:
        v = res.values
        state = v.get("instance_state") if isinstance(v.get("instance_state"), str) else "running"
        el = self.base(res, "instances", InstanceId=res.address, State={"Name": state},
                       InstanceType=v.get("instance_type"), ImageId=None, Tags=_tags(v),
                       PrivateIpAddress=v.get("private_ip"), LaunchTime=None)
        self._image(res, el, "ami")
        # Network interfaces given as blocks: device 0 carries subnet and groups.
        enis = []
        for i, ni in enumerate(v.get("network_interface") or []):
            if isinstance(ni, dict):
                probe: dict = {}
                eni = self.ref_one(res, ("network_interface", i, "network_interface_id"), T_ENI, probe, "NetworkInterfaces")
                if eni:
                    enis.append((_int(ni.get("device_index")) or 0, eni))
        el["_attached_enis"] = [e for _, e in sorted(enis)]
        el["SubnetId"] = None
        if not enis:
            if self.present(res, ("subnet_id",)):
                el["SubnetId"] = self.ref_one(res, ("subnet_id",), T_SUBNET, el, "SubnetId")
                if el["SubnetId"] is None and "SubnetId" not in el.get("_unknown", []):
                    self.unknown(el, "SubnetId", res, "subnet_id", "unresolved reference to the subnet")
            else:
                self.unknown(el, "SubnetId", res, "subnet_id",
                             "no subnet_id: the instance lands in a default subnet of the default VPC")
        groups: list = []
        for attr in ("vpc_security_group_ids", "security_groups"):
            if self.present(res, (attr,)):
                groups += self.ref_many(res, (attr,), T_SG, el, "SecurityGroups")
        el["_groups"] = list(dict.fromkeys(groups))
        el["_assoc_public"] = self.setting(res, ("associate_public_ip_address",))
        if v.get("public_ip") and not get_value(res, ("public_ip",))[1]:
            el["_assoc_public"] = ("known", True)
            el["_known_public_ip"] = v["public_ip"]
        elif res.action == "state" or (res.action == "no-op" and not get_value(res, ("public_ip",))[1]):
            el["_assoc_public"] = ("known", False)
        el["_ipv6"] = self._ipv6(res, el, "Ipv6Address")
        self._profile(res, el, "iam_instance_profile")
        self._metadata(res, el)
        self._user_data(res, el, "user_data", "user_data_base64")
        lt = _block(v, "launch_template")
        if lt or self.present(res, ("launch_template",)):
            el["_launch_template"] = self._lt_ref(res, ("launch_template", 0), el)

    def _image(self, res: TfResource, el: dict, attr: str) -> None:
        value, unknown = get_value(res, (attr,))
        if not unknown:
            el["ImageId"] = value
            return
        targets, _ = self.linker.link(res, (attr,), T_AMI)
        for t in targets:
            if isinstance(t, TfResource) and isinstance(t.values.get("id"), str):
                el["ImageId"] = t.values["id"]

    def _profile(self, res: TfResource, el: dict, attr: str, path: tuple | None = None) -> None:
        path = path or (attr,)
        value, unknown = get_value(res, path)
        if value in (None, "") and not unknown:
            return
        if not unknown or self.linker.expression(res, path) is not None or self.linker.config_of(res) is None:
            target = self.ref_one(res, path, T_PROFILE, el, "IamInstanceProfile")
            if target:
                el["IamInstanceProfile"] = {"Arn": target}
                if target not in self.linker.by_address and not str(target).startswith("arn:"):
                    self.gap(f"{res.address}.{attr}", f"instance profile {target!r} is not in the plan or state")

    def _lt_ref(self, res: TfResource, path: tuple, el: dict) -> Any:
        block, _ = get_value(res, path)
        block = block if isinstance(block, dict) else {}
        for attr in ("id", "name"):
            if self.present(res, path + (attr,)):
                probe: dict = {}
                target = self.ref_one(res, path + (attr,), T_LT, probe, "LaunchTemplate")
                if target:
                    return target
        self.unknown(el, "LaunchTemplate", res, ".".join(map(str, path)), "unresolved launch template reference")
        return None

    def t_aws_launch_template(self, res: TfResource) -> None:
        v = res.values
        # Held aside: an instance or an autoscaling group turns these settings into an instance.
        el = {"_address": res.address, "_source": self.source, "_kind": "launch_template", "Tags": []}
        self.el[res.address] = el
        self._image(res, el, "image_id")
        for spec in v.get("tag_specifications") or []:
            if isinstance(spec, dict) and spec.get("resource_type") == "instance":
                el["Tags"] += [{"Key": k, "Value": str(val)} for k, val in (spec.get("tags") or {}).items()]
        groups = []
        if self.present(res, ("vpc_security_group_ids",)):
            groups += self.ref_many(res, ("vpc_security_group_ids",), T_SG, el, "SecurityGroups")
        if self.present(res, ("security_groups",)):
            groups += self.ref_many(res, ("security_groups",), T_SG, el, "SecurityGroups")
        el["_subnet"] = None
        el["_assoc_public"] = ("unset", None)
        el["_ipv6"] = None
        ni = _block(v, "network_interfaces")
        if ni:
            groups += self.ref_many(res, ("network_interfaces", 0, "security_groups"), T_SG, el, "SecurityGroups") \
                if self.present(res, ("network_interfaces", 0, "security_groups")) else []
            if self.present(res, ("network_interfaces", 0, "subnet_id")):
                el["_subnet"] = self.ref_one(res, ("network_interfaces", 0, "subnet_id"), T_SUBNET, el, "SubnetId")
            el["_assoc_public"] = self.setting(res, ("network_interfaces", 0, "associate_public_ip_address"))
            if el["_assoc_public"][0] == "known":
                el["_assoc_public"] = ("known", _bool(el["_assoc_public"][1]))
            count = _int(ni.get("ipv6_address_count"))
            if count or ni.get("ipv6_addresses"):
                el["_ipv6"] = [{"Ipv6Address": a} for a in ni.get("ipv6_addresses") or []] or \
                    [{"Ipv6Address": ASSIGNED_AT_APPLY} for _ in range(count or 0)]
        el["_groups"] = list(dict.fromkeys(groups))
        prof = _block(v, "iam_instance_profile")
        if prof or self.present(res, ("iam_instance_profile",)):
            for attr in ("arn", "name"):
                if self.present(res, ("iam_instance_profile", 0, attr)):
                    self._profile(res, el, "iam_instance_profile", ("iam_instance_profile", 0, attr))
                    break
        self._metadata(res, el)
        self._user_data(res, el, "user_data", "", clear_is_b64=True)

    def t_aws_launch_configuration(self, res: TfResource) -> None:
        el = {"_address": res.address, "_source": self.source, "_kind": "launch_configuration", "Tags": []}
        self.el[res.address] = el
        self._image(res, el, "image_id")
        el["_groups"] = self.ref_many(res, ("security_groups",), T_SG, el, "SecurityGroups") \
            if self.present(res, ("security_groups",)) else []
        el["_subnet"] = None
        el["_assoc_public"] = self.setting(res, ("associate_public_ip_address",))
        el["_ipv6"] = None
        self._profile(res, el, "iam_instance_profile")
        self._metadata(res, el)
        self._user_data(res, el, "user_data", "user_data_base64")

    def t_aws_autoscaling_group(self, res: TfResource) -> None:
        v = res.values
        name = v.get("name") if isinstance(v.get("name"), str) else res.address
        el = self.base(res, "auto_scaling_groups", AutoScalingGroupName=res.address, Instances=[],
                       _name=name, Tags=[])
        for t in v.get("tag") or v.get("tags") or []:
            if isinstance(t, dict) and "key" in t:
                el["Tags"].append({"Key": t["key"], "Value": str(t.get("value")),
                                   "PropagateAtLaunch": bool(_bool(t.get("propagate_at_launch")))})
        subnets = self.ref_many(res, ("vpc_zone_identifier",), T_SUBNET, el, "VPCZoneIdentifier") \
            if self.present(res, ("vpc_zone_identifier",)) else []
        el["VPCZoneIdentifier"] = ",".join(map(str, subnets))
        source = None
        for path in (("launch_template", 0), ("mixed_instances_policy", 0, "launch_template", 0,
                                              "launch_template_specification", 0)):
            block, unknown = get_value(res, path)
            if isinstance(block, dict) and block or unknown:
                source = self._lt_ref(res, path, el)
                break
        if source is None and (self.present(res, ("launch_configuration",))):
            probe: dict = {}
            source = self.ref_one(res, ("launch_configuration",), T_LC, probe, "LaunchConfigurationName")
        el["_template"] = source
        el["_subnets"] = subnets
        tgs = self.ref_many(res, ("target_group_arns",), T_TG, el, "TargetGroupARNs") \
            if self.present(res, ("target_group_arns",)) else []
        el["TargetGroupARNs"] = tgs
        elbs = self.ref_many(res, ("load_balancers",), T_ELB, el, "LoadBalancerNames") \
            if self.present(res, ("load_balancers",)) else []
        el["LoadBalancerNames"] = elbs

    def t_aws_autoscaling_attachment(self, res: TfResource) -> None:
        asg, el = self._parent(res, "autoscaling_group_name", T_ASG, "AutoScalingGroupName", "autoscaling attachment")
        if el is None:
            return
        for attr, types, field in (("lb_target_group_arn", T_TG, "TargetGroupARNs"),
                                   ("alb_target_group_arn", T_TG, "TargetGroupARNs"),
                                   ("elb", T_ELB, "LoadBalancerNames")):
            if res.values.get(attr) or get_value(res, (attr,))[1]:
                target = self.ref_one(res, (attr,), types, el, field)
                if target and target not in el[field]:
                    el[field].append(target)

    t_aws_autoscaling_attachment.secondary = True

    # ---- load balancers ----------------------------------------------------------------------
    def t_aws_lb(self, res: TfResource) -> None:
        v = res.values
        internal = self.setting(res, ("internal",))
        el = self.base(res, "load_balancers", LoadBalancerArn=res.address, LoadBalancerName=v.get("name") or res.address,
                       Type=v.get("load_balancer_type") or "application", Tags=_tags(v))
        if internal[0] == "unknown":
            el["Scheme"] = None
            self.unknown(el, "Scheme", res, "internal", "value known only after apply")
        else:
            el["Scheme"] = "internal" if _bool(internal[1]) else "internet-facing"
        subnets = []
        if self.present(res, ("subnets",)):
            subnets += self.ref_many(res, ("subnets",), T_SUBNET, el, "AvailabilityZones")
        for i, m in enumerate(v.get("subnet_mapping") or []):
            if isinstance(m, dict):
                s = self.ref_one(res, ("subnet_mapping", i, "subnet_id"), T_SUBNET, el, "AvailabilityZones")
                if s:
                    subnets.append(s)
        el["AvailabilityZones"] = [{"SubnetId": s} for s in dict.fromkeys(subnets)]
        groups = self.ref_many(res, ("security_groups",), T_SG, el, "SecurityGroups") if (
            self.present(res, ("security_groups",))) else []
        el["SecurityGroups"] = groups
        el["VpcId"] = None

    t_aws_alb = t_aws_lb
    d_aws_lb = t_aws_lb

    def _actions(self, res: TfResource, attr: str, el: dict) -> list[dict]:
        out = []
        for i, a in enumerate(res.values.get(attr) or []):
            if not isinstance(a, dict):
                continue
            action: dict = {"Type": a.get("type"), "Order": a.get("order")}
            if a.get("target_group_arn") or get_value(res, (attr, i, "target_group_arn"))[1]:
                action["TargetGroupArn"] = self.ref_one(res, (attr, i, "target_group_arn"), T_TG, el, attr)
            fwd = _block(a, "forward")
            if fwd:
                groups = []
                for j, tg in enumerate(fwd.get("target_group") or []):
                    if isinstance(tg, dict):
                        groups.append({"TargetGroupArn": self.ref_one(
                            res, (attr, i, "forward", 0, "target_group", j, "arn"), T_TG, el, attr),
                            "Weight": tg.get("weight")})
                action["ForwardConfig"] = {"TargetGroups": groups}
            out.append(action)
        return out

    def t_aws_lb_listener(self, res: TfResource) -> None:
        v = res.values
        el = self.base(res, "listeners", ListenerArn=res.address, Port=_int(v.get("port")),
                       Protocol=v.get("protocol"))
        el["LoadBalancerArn"] = self.ref_one(res, ("load_balancer_arn",), T_LB, el, "LoadBalancerArn")
        el["DefaultActions"] = self._actions(res, "default_action", el)
        if el["Port"] is None and get_value(res, ("port",))[1]:
            self.unknown(el, "Port", res, "port", "listener port known only after apply")

    t_aws_alb_listener = t_aws_lb_listener

    def t_aws_lb_listener_rule(self, res: TfResource) -> None:
        el = self.base(res, "listener_rules", RuleArn=res.address, Priority=str(res.values.get("priority")))
        el["ListenerArn"] = self.ref_one(res, ("listener_arn",), T_LISTENER, el, "ListenerArn")
        el["Actions"] = self._actions(res, "action", el)

    t_aws_alb_listener_rule = t_aws_lb_listener_rule

    def t_aws_lb_target_group(self, res: TfResource) -> None:
        v = res.values
        el = self.base(res, "target_groups", TargetGroupArn=res.address, TargetGroupName=v.get("name"),
                       Port=_int(v.get("port")), Protocol=v.get("protocol"),
                       TargetType=v.get("target_type") or "instance", LoadBalancerArns=[], Targets=[])
        el["VpcId"] = self.ref_one(res, ("vpc_id",), T_VPC, el, "VpcId") if (
            self.present(res, ("vpc_id",))) else None

    t_aws_alb_target_group = t_aws_lb_target_group
    d_aws_lb_target_group = t_aws_lb_target_group

    def t_aws_lb_target_group_attachment(self, res: TfResource) -> None:
        tg, el = self._parent(res, "target_group_arn", T_TG, "TargetGroupArn",
                              "the attachment's target group is not in the plan or state")
        if el is None:
            return
        types = T_INSTANCE if el.get("TargetType") == "instance" else ()
        if types:
            target = self.ref_one(res, ("target_id",), types, el, "Targets")
        else:
            target, unknown = get_value(res, ("target_id",))
            if unknown:
                found, consts, _ = self.linker.targets_from_config(res, ("target_id",), T_INSTANCE + T_ENI)
                target = found[0].address if len(found) == 1 else None
                if target is None:
                    self.unknown(el, "Targets", res, "target_id", "target known only after apply")
        if target:
            port = _int(res.values.get("port")) or el.get("Port")
            el["Targets"].append({"Target": {"Id": target, "Port": port}, "TargetHealth": {"State": "unused"}})

    t_aws_lb_target_group_attachment.secondary = True
    t_aws_alb_target_group_attachment = t_aws_lb_target_group_attachment

    def t_aws_elb(self, res: TfResource) -> None:
        v = res.values
        internal = self.setting(res, ("internal",))
        el = self.base(res, "classic_load_balancers", LoadBalancerName=res.address, Instances=[],
                       ListenerDescriptions=[])
        if internal[0] == "unknown":
            el["Scheme"] = None
            self.unknown(el, "Scheme", res, "internal", "value known only after apply")
        else:
            el["Scheme"] = "internal" if _bool(internal[1]) else "internet-facing"
        el["Subnets"] = self.ref_many(res, ("subnets",), T_SUBNET, el, "Subnets") if (
            self.present(res, ("subnets",))) else []
        el["SecurityGroups"] = self.ref_many(res, ("security_groups",), T_SG, el, "SecurityGroups") if (
            self.present(res, ("security_groups",))) else []
        el["_default_groups"] = not el["SecurityGroups"] and "SecurityGroups" not in el.get("_unknown", [])
        if self.present(res, ("instances",)):
            el["Instances"] = [{"InstanceId": i} for i in self.ref_many(res, ("instances",), T_INSTANCE, el, "Instances")]
        for lst in v.get("listener") or []:
            if isinstance(lst, dict):
                el["ListenerDescriptions"].append({"Listener": {
                    "Protocol": str(lst.get("lb_protocol", "")).upper(), "LoadBalancerPort": _int(lst.get("lb_port")),
                    "InstanceProtocol": str(lst.get("instance_protocol", "")).upper(),
                    "InstancePort": _int(lst.get("instance_port"))}})
        el["VPCId"] = None

    def t_aws_elb_attachment(self, res: TfResource) -> None:
        elb, el = self._parent(res, "elb", T_ELB, "LoadBalancerName", "classic load balancer attachment")
        if el is None:
            return
        inst = self.ref_one(res, ("instance",), T_INSTANCE, el, "Instances")
        if inst and {"InstanceId": inst} not in el["Instances"]:
            el["Instances"].append({"InstanceId": inst})

    t_aws_elb_attachment.secondary = True

    # ---- CodeBuild ---------------------------------------------------------------------------
    def t_aws_codebuild_project(self, res: TfResource) -> None:
        v = res.values
        tags = v.get("tags_all") or v.get("tags") or {}
        el = self.base(res, "codebuild_projects", name=v.get("name") or res.address, arn=res.address,
                       tags=[{"key": k, "value": str(val)} for k, val in tags.items()])
        el["serviceRole"] = self.ref_one(res, ("service_role",), T_ROLE, el, "serviceRole")
        env = _block(v, "environment")
        el["environment"] = {"image": env.get("image"), "type": env.get("type"),
                             "computeType": env.get("compute_type"),
                             "privilegedMode": bool(env.get("privileged_mode"))}
        vpc = _block(v, "vpc_config")
        if vpc or self.present(res, ("vpc_config",)):
            el["vpcConfig"] = {
                "vpcId": self.ref_one(res, ("vpc_config", 0, "vpc_id"), T_VPC, el, "vpcConfig"),
                "subnets": self.ref_many(res, ("vpc_config", 0, "subnets"), T_SUBNET, el, "vpcConfig"),
                "securityGroupIds": self.ref_many(res, ("vpc_config", 0, "security_group_ids"), T_SG, el, "vpcConfig"),
            }

    # ---- IAM ---------------------------------------------------------------------------------
    def t_aws_iam_role(self, res: TfResource) -> None:
        v = res.values
        el = self.base(res, "iam.roles", RoleName=v.get("name") if isinstance(v.get("name"), str) else res.address,
                       RoleId=res.address, Arn=res.address, Path=v.get("path") or "/", Tags=_tags(v),
                       RolePolicyList=[], AttachedManagedPolicies=[], InstanceProfileList=[])
        if isinstance(v.get("arn"), str):
            el["_arn"] = v["arn"]
        doc = _json_doc(v.get("assume_role_policy"))
        el["AssumeRolePolicyDocument"] = doc
        if doc is None and get_value(res, ("assume_role_policy",))[1]:
            self.unknown(el, "AssumeRolePolicyDocument", res, "assume_role_policy", "trust policy known only after apply")
            # Who may assume it is unknown; which OIDC providers it names may still be traced.
            el["_trusted_providers"] = self._trusted_providers(res)
        inline, unknown = get_value(res, ("inline_policy",))
        if unknown and self.linker.has_expression(res, "inline_policy"):
            self.unknown(el, "RolePolicyList", res, "inline_policy", "inline policies known only after apply")
        for p in inline or []:
            if isinstance(p, dict) and p.get("name"):
                self._add_inline(el, p["name"], p.get("policy"), res, "inline_policy")
        state, _ = self.setting(res, ("managed_policy_arns",))
        if v.get("managed_policy_arns") or (state == "unknown" and self.linker.has_expression(res, "managed_policy_arns")):
            for arn in self.ref_many(res, ("managed_policy_arns",), T_POLICY, el, "AttachedManagedPolicies"):
                self._attach(el, arn)
        if self.present(res, ("permissions_boundary",)):
            pb = self.ref_one(res, ("permissions_boundary",), T_POLICY, el, "PermissionsBoundary")
            if pb:
                el["PermissionsBoundary"] = {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": pb}

    d_aws_iam_role = t_aws_iam_role

    def _trusted_providers(self, res: TfResource) -> list[str]:
        """The OIDC providers an unknown trust policy refers to, directly or through the
        `aws_iam_policy_document` it is rendered from."""
        targets, _ = self.linker.link(res, ("assume_role_policy",), T_OIDC + T_POLICY_DOC)
        found = []
        for target in targets:
            if isinstance(target, TfResource) and target.type in T_POLICY_DOC:
                for i, statement in enumerate(target.values.get("statement") or []):
                    for j, _ in enumerate((statement or {}).get("principals") or []):
                        inner, _ = self.linker.link(target, ("statement", i, "principals", j, "identifiers"), T_OIDC)
                        found.extend(inner)
            elif isinstance(target, TfResource) or (isinstance(target, str) and ":oidc-provider/" in target):
                found.append(target)
        return list(dict.fromkeys(self._oidc_id(t) for t in found))

    def _oidc_id(self, target: Any) -> str:
        if isinstance(target, TfResource):
            arn = target.values.get("arn")
            return arn if isinstance(arn, str) and arn and not get_value(target, ("arn",))[1] else target.address
        return str(target)

    def t_aws_iam_openid_connect_provider(self, res: TfResource) -> None:
        v = res.values
        url = v.get("url") if isinstance(v.get("url"), str) else None
        el = self.base(res, "iam.oidc_providers", Arn=self._oidc_id(res), Url=url,
                       ClientIDList=[str(a) for a in v.get("client_id_list") or [] if isinstance(a, str)],
                       Tags=_tags(v))
        if url is None:
            self.unknown(el, "Url", res, "url", "issuer URL known only after apply")

    d_aws_iam_openid_connect_provider = t_aws_iam_openid_connect_provider

    def t_aws_iam_user(self, res: TfResource) -> None:
        v = res.values
        self.base(res, "iam.users", UserName=v.get("name") if isinstance(v.get("name"), str) else res.address,
                  UserId=res.address, Arn=res.address, Path=v.get("path") or "/", Tags=_tags(v),
                  UserPolicyList=[], AttachedManagedPolicies=[], GroupList=[])

    d_aws_iam_user = t_aws_iam_user

    def _user_of(self, res: TfResource) -> dict | None:
        _, el = self._parent(res, "user", T_USER, "UserName", "the user is not in the plan or state")
        return el

    def t_aws_iam_user_policy(self, res: TfResource) -> None:
        el = self._user_of(res)
        if el is None:
            return
        doc = _json_doc(res.values.get("policy"))
        name = res.values.get("name") or res.address
        if doc is None:
            self.unknown(el, "UserPolicyList", res, "policy",
                         f"policy {name!r} of user {el.get('UserName')} known only after apply")
            return
        el["UserPolicyList"].append({"PolicyName": name, "PolicyDocument": doc})

    t_aws_iam_user_policy.secondary = True

    def t_aws_iam_user_policy_attachment(self, res: TfResource) -> None:
        el = self._user_of(res)
        if el is None:
            return
        arn = self.ref_one(res, ("policy_arn",), T_POLICY, el, "AttachedManagedPolicies")
        self._attach(el, arn)

    t_aws_iam_user_policy_attachment.secondary = True

    # A user holds what its groups hold: the groups and memberships become the API's GroupDetailList
    # and each user's GroupList, which normalization folds into the user as a live scan does.

    def t_aws_iam_group(self, res: TfResource) -> None:
        v = res.values
        self.base(res, "iam.groups", GroupName=v.get("name") if isinstance(v.get("name"), str) else res.address,
                  GroupId=res.address, Arn=res.address, Path=v.get("path") or "/", GroupPolicyList=[],
                  AttachedManagedPolicies=[])

    d_aws_iam_group = t_aws_iam_group

    def _group_of(self, res: TfResource) -> dict | None:
        _, el = self._parent(res, "group", T_GROUP, "GroupName", "the group is not in the plan or state")
        return el

    def t_aws_iam_group_policy(self, res: TfResource) -> None:
        el = self._group_of(res)
        if el is None:
            return
        doc = _json_doc(res.values.get("policy"))
        name = res.values.get("name") or res.address
        if doc is None:
            self.unknown(el, "GroupPolicyList", res, "policy", f"policy {name!r} of group {el['GroupName']} known "
                                                               "only after apply")
            return
        el["GroupPolicyList"].append({"PolicyName": name, "PolicyDocument": doc})

    t_aws_iam_group_policy.secondary = True

    def t_aws_iam_group_policy_attachment(self, res: TfResource) -> None:
        el = self._group_of(res)
        if el is None:
            return
        self._attach(el, self.ref_one(res, ("policy_arn",), T_POLICY, el, "AttachedManagedPolicies"))

    t_aws_iam_group_policy_attachment.secondary = True

    def _join(self, user: dict, group: Any, res: TfResource, attr: str) -> None:
        """Adds a group to a user's GroupList; a group the plan does not hold leaves the user's
        policies unknown (what the group grants is not in the plan)."""
        el = self.el.get(group) if isinstance(group, str) else None
        if el is None or "GroupId" not in el:
            self.unknown(user, "GroupList", res, attr, f"group {group} is not in the plan or state: what it grants "
                                                        f"{user['UserName']} is unknown")
            return
        if el["GroupName"] not in user["GroupList"]:
            user["GroupList"].append(el["GroupName"])

    def t_aws_iam_group_membership(self, res: TfResource) -> None:
        group = self._group_of(res)
        if group is None:
            return
        probe: dict = {}
        users = self.ref_many(res, ("users",), T_USER, probe, "Users")
        if probe.get("_unknown"):
            self.notes.append(f"{res.address}: some members of group {group['GroupName']} could not be resolved")
        for user in users:
            el = self.el.get(user) if isinstance(user, str) else None
            if el is not None and "UserId" in el:
                self._join(el, group["_address"], res, "group")

    t_aws_iam_group_membership.secondary = True

    def t_aws_iam_user_group_membership(self, res: TfResource) -> None:
        user = self._user_of(res)
        if user is None:
            return
        for group in self.ref_many(res, ("groups",), T_GROUP, user, "GroupList"):
            self._join(user, group, res, "groups")

    t_aws_iam_user_group_membership.secondary = True

    def t_aws_iam_access_key(self, res: TfResource) -> None:
        v = res.values
        user = self._user_of(res)
        if user is None:
            return
        key_id, unknown = get_value(res, ("id",))
        created, _ = get_value(res, ("create_date",))
        self.base(res, "iam.access_keys", UserName=user["UserName"],
                  AccessKeyId=key_id if isinstance(key_id, str) and not unknown else ASSIGNED_AT_APPLY,
                  Status=v.get("status") if isinstance(v.get("status"), str) else "Active",
                  CreateDate=created if isinstance(created, str) else None)

    t_aws_iam_access_key.secondary = True

    def _add_inline(self, role: dict, name: str, policy: Any, res: TfResource, attr: str) -> None:
        doc = _json_doc(policy)
        if doc is None:
            self.unknown(role, "RolePolicyList", res, attr,
                         f"policy {name!r} of role {role.get('RoleName')} known only after apply")
            return
        role["RolePolicyList"] = [p for p in role["RolePolicyList"] if p["PolicyName"] != name]
        role["RolePolicyList"].append({"PolicyName": name, "PolicyDocument": doc})

    def _attach(self, role: dict, arn: Any) -> None:
        if not arn or any(p["PolicyArn"] == arn for p in role["AttachedManagedPolicies"]):
            return
        policy = self.el.get(arn)
        name = policy.get("PolicyName") if policy else str(arn).rsplit("/", 1)[-1]
        role["AttachedManagedPolicies"].append({"PolicyName": name, "PolicyArn": arn})

    def t_aws_iam_policy(self, res: TfResource) -> None:
        v = res.values
        arn = self.ident(res)
        doc = _json_doc(v.get("policy"))
        el = self.base(res, "iam.policies", PolicyName=v.get("name") or res.address, Arn=arn, DefaultVersionId="v1",
                       PolicyVersionList=[{"VersionId": "v1", "IsDefaultVersion": True, "Document": doc}])
        if arn != res.address:
            self.el[arn] = el
        if isinstance(v.get("arn"), str):
            el["_arn"] = v["arn"]
        if doc is None:
            self.unknown(el, "PolicyVersionList", res, "policy", "policy document known only after apply")

    d_aws_iam_policy = t_aws_iam_policy

    def _role_target(self, res: TfResource, path: tuple, el_for_unknown: dict) -> list:
        return self.ref_many(res, path, T_ROLE, el_for_unknown, "Roles")

    def t_aws_iam_role_policy(self, res: TfResource) -> None:
        role, el = self._parent(res, "role", T_ROLE, "RoleName", "the policy's role is not in the plan or state")
        if el is None:
            return
        self._add_inline(el, res.values.get("name") or res.address, res.values.get("policy"), res, "policy")

    t_aws_iam_role_policy.secondary = True

    def t_aws_iam_role_policy_attachment(self, res: TfResource) -> None:
        role, el = self._parent(res, "role", T_ROLE, "RoleName", "the attachment's role is not in the plan or state")
        if el is None:
            return
        arn = self.ref_one(res, ("policy_arn",), T_POLICY, el, "AttachedManagedPolicies")
        self._attach(el, arn)

    t_aws_iam_role_policy_attachment.secondary = True

    def t_aws_iam_policy_attachment(self, res: TfResource) -> None:
        probe: dict = {}
        roles = self.ref_many(res, ("roles",), T_ROLE, probe, "Roles")
        arn = self.ref_one(res, ("policy_arn",), T_POLICY, probe, "PolicyArn")
        if probe.get("_unknown"):
            self.notes.append(f"{res.address}: some roles or the policy of this attachment could not be resolved")
        users = self.ref_many(res, ("users",), T_USER, probe, "Users") if self.present(res, ("users",)) else []
        groups = self.ref_many(res, ("groups",), T_GROUP, probe, "Groups") if self.present(res, ("groups",)) else []
        for holder in roles + users + groups:
            el = self.el.get(holder)
            if el is not None and ("RoleId" in el or "UserId" in el or "GroupId" in el):
                self._attach(el, arn)

    t_aws_iam_policy_attachment.secondary = True

    def t_aws_iam_instance_profile(self, res: TfResource) -> None:
        v = res.values
        el = self.base(res, "iam.instance_profiles", InstanceProfileName=v.get("name") or res.address,
                       InstanceProfileId=res.address, Arn=res.address, Path=v.get("path") or "/", Roles=[])
        if isinstance(v.get("arn"), str):
            el["_arn"] = v["arn"]
        roles = []
        for attr in ("role", "roles"):
            if self.present(res, (attr,)):
                roles += self._role_target(res, (attr,), el)
        el["_roles"] = list(dict.fromkeys(roles))

    d_aws_iam_instance_profile = t_aws_iam_instance_profile

    # ---- connectivity between networks -------------------------------------------------------
    def t_aws_vpc_peering_connection(self, res: TfResource) -> None:
        v = res.values
        status = v.get("accept_status")
        if not isinstance(status, str) or not status:
            status = "active" if v.get("auto_accept") else "pending-acceptance"
        el = self.base(res, "vpc_peering_connections", VpcPeeringConnectionId=res.address,
                       Status={"Code": status}, Tags=_tags(v))
        el["RequesterVpcInfo"] = {"VpcId": self.ref_one(res, ("vpc_id",), T_VPC, el, "RequesterVpcInfo"),
                                  "OwnerId": self.account, "Region": self.region}
        el["AccepterVpcInfo"] = {"VpcId": self.ref_one(res, ("peer_vpc_id",), T_VPC, el, "AccepterVpcInfo"),
                                 "OwnerId": v.get("peer_owner_id") or self.account,
                                 "Region": v.get("peer_region") or self.region}

    def t_aws_vpc_peering_connection_accepter(self, res: TfResource) -> None:
        probe: dict = {}
        pcx = self.ref_one(res, ("vpc_peering_connection_id",), T_PEERING, probe, "VpcPeeringConnectionId")
        el = self.el.get(pcx) if isinstance(pcx, str) else None
        if el is not None and res.values.get("auto_accept"):
            el["Status"] = {"Code": "active"}

    t_aws_vpc_peering_connection_accepter.secondary = True

    def t_aws_ec2_transit_gateway(self, res: TfResource) -> None:
        v = res.values
        self.el[res.address] = {
            "_address": res.address, "_kind": "transit_gateway",
            "association": v.get("default_route_table_association", "enable") != "disable",
            "propagation": v.get("default_route_table_propagation", "enable") != "disable",
            "default_table": None,
        }

    def t_aws_ec2_transit_gateway_route_table(self, res: TfResource) -> None:
        el = self.base(res, "transit_gateway_route_tables", TransitGatewayRouteTableId=res.address,
                       State="available", Routes=[], Tags=_tags(res.values))
        el["TransitGatewayId"] = self.ref_one(res, ("transit_gateway_id",), T_TGW, el, "TransitGatewayId")

    def t_aws_ec2_transit_gateway_vpc_attachment(self, res: TfResource) -> None:
        v = res.values
        el = self.base(res, "transit_gateway_attachments", TransitGatewayAttachmentId=res.address,
                       ResourceType="vpc", ResourceOwnerId=self.account, State="available", Tags=_tags(v))
        el["TransitGatewayId"] = self.ref_one(res, ("transit_gateway_id",), T_TGW, el, "TransitGatewayId")
        el["ResourceId"] = self.ref_one(res, ("vpc_id",), T_VPC, el, "ResourceId")
        el["_default_association"] = v.get("transit_gateway_default_route_table_association") is not False
        el["_default_propagation"] = v.get("transit_gateway_default_route_table_propagation") is not False

    def t_aws_ec2_transit_gateway_route(self, res: TfResource) -> None:
        rt, el = self._parent(res, "transit_gateway_route_table_id", T_TGW_RT, "TransitGatewayRouteTableId", "transit gateway route table")
        if el is None:
            return
        blackhole = bool(res.values.get("blackhole"))
        route = {"DestinationCidrBlock": res.values.get("destination_cidr_block"), "Type": "static",
                 "State": "blackhole" if blackhole else "active", "TransitGatewayAttachments": []}
        if not blackhole:
            att = self.ref_one(res, ("transit_gateway_attachment_id",), T_TGW_ATTACH, el, "Routes")
            if att:
                route["TransitGatewayAttachments"].append({"TransitGatewayAttachmentId": att, "ResourceType": "vpc"})
        el["Routes"].append(route)

    t_aws_ec2_transit_gateway_route.secondary = True

    def _tgw_link(self, res: TfResource, kind: str) -> None:
        probe: dict = {}
        rt = self.ref_one(res, ("transit_gateway_route_table_id",), T_TGW_RT, probe, "TransitGatewayRouteTableId")
        att = self.ref_one(res, ("transit_gateway_attachment_id",), T_TGW_ATTACH, probe, "TransitGatewayAttachmentId")
        if rt in self.el and att in self.el:
            self.el[att].setdefault(kind, []).append(rt)
        else:
            self.gap(res.address, "unresolved reference: transit gateway route table link")

    def t_aws_ec2_transit_gateway_route_table_association(self, res: TfResource) -> None:
        self._tgw_link(res, "_associations")

    def t_aws_ec2_transit_gateway_route_table_propagation(self, res: TfResource) -> None:
        self._tgw_link(res, "_propagations")

    t_aws_ec2_transit_gateway_route_table_association.secondary = True
    t_aws_ec2_transit_gateway_route_table_propagation.secondary = True

    # ---- data sources worth keeping ----------------------------------------------------------
    def d_aws_ami(self, res: TfResource) -> None:
        v = res.values
        if isinstance(v.get("id"), str):
            self.lists["images"].append({"ImageId": v["id"], "Name": v.get("name"),
                                         "Description": v.get("description"), "OwnerId": v.get("owner_id"),
                                         "_address": res.address, "_source": self.source})

    def t_aws_ec2_instance_metadata_defaults(self, res: TfResource) -> None:
        """Read up front in __init__: the account-level defaults apply to every instance launched."""

    # ---- completing what depends on several resources ----------------------------------------
    def finish(self) -> None:
        from .finish import finish

        finish(self)
