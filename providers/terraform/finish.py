"""Completing a translated Terraform estate with what AWS adds or derives at apply time.

Each VPC gets the main route table, default network ACL and default security group that AWS
creates with it when the plan does not manage them; instances get their VPC, public address and
security groups from their subnet, launch template and Elastic IPs; each autoscaling group gets one
instance standing for the instances it launches; target groups learn their load balancers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .aws import AwsTranslator

from .aws import ASSIGNED_AT_APPLY

KEPT_PRIVATE = {"_unknown", "_address", "_source", "_launched_by", "_arn", "_source_location", "_trusted_providers"}


def finish(tr: "AwsTranslator") -> None:
    vpcs = {v["VpcId"]: v for v in tr.lists["vpcs"]}
    subnets = {s["SubnetId"]: s for s in tr.lists["subnets"]}
    for group in ("nat_gateways", "network_interfaces"):
        for el in tr.lists[group]:
            el["VpcId"] = el.get("VpcId") or _subnet_vpc(subnets, el.get("SubnetId"))
    for lb in tr.lists["load_balancers"]:
        lb["VpcId"] = next((_subnet_vpc(subnets, z["SubnetId"]) for z in lb["AvailabilityZones"]
                            if _subnet_vpc(subnets, z["SubnetId"])), None)
    for lb in tr.lists["classic_load_balancers"]:
        lb["VPCId"] = next((_subnet_vpc(subnets, s) for s in lb["Subnets"] if _subnet_vpc(subnets, s)), None)

    _main_route_tables(tr, vpcs)
    _default_nacls(tr, vpcs, subnets)
    _autoscaling_instances(tr)
    _instances(tr, subnets)
    _network_interfaces(tr)
    for lb in tr.lists["classic_load_balancers"]:
        if lb.pop("_default_groups", False) and lb["VPCId"]:
            lb["SecurityGroups"] = [_default_sg(tr, lb["VPCId"])]
    _target_groups(tr)
    _instance_profiles(tr)
    _transit_gateways(tr, vpcs)
    for el in list(tr.lists.get("vpcs", [])):
        el.pop("_data_source", None)
    for group in list(tr.lists.values()) + list(tr.iam.values()):
        for el in group:
            for key in [k for k in el if k.startswith("_") and k not in KEPT_PRIVATE]:
                del el[key]


def _subnet_vpc(subnets: dict, subnet_id: Any) -> Any:
    s = subnets.get(subnet_id) if isinstance(subnet_id, str) else None
    return s.get("VpcId") if s else None


def _gap(tr: "AwsTranslator", what: str, error: str) -> None:
    tr.gaps.append({"provider": "terraform", "scope": tr.source, "region": None, "what": what, "error": error})


def _main_route_tables(tr: "AwsTranslator", vpcs: dict) -> None:
    tables_by_vpc: dict[Any, list[dict]] = {}
    for rt in tr.lists["route_tables"]:
        tables_by_vpc.setdefault(rt.get("VpcId"), []).append(rt)
    synthesized = []
    for vpc_id, vpc in vpcs.items():
        tables = tables_by_vpc.get(vpc_id, [])
        for rt in tables:
            _add_local_routes(rt, vpc)
        if any(a.get("Main") for rt in tables for a in rt["Associations"]):
            continue
        if vpc.get("_data_source"):
            explicit = {a.get("SubnetId") for rt in tables for a in rt["Associations"]}
            if not any(s.get("VpcId") == vpc_id and s["SubnetId"] not in explicit for s in tr.lists["subnets"]):
                continue
            _gap(tr, f"{vpc['_address']} main route table",
                 "the existing VPC's main route table is not in the plan: subnets without an explicit "
                 "route table association have unknown routes")
            continue
        rt = {"RouteTableId": f"{vpc_id}.main_route_table", "VpcId": vpc_id, "Routes": [],
              "Associations": [{"Main": True, "RouteTableAssociationId": f"{vpc_id}.main_route_table.main"}],
              "Tags": [], "_address": f"{vpc_id}.main_route_table", "_source": tr.source}
        _add_local_routes(rt, vpc)
        if vpc.get("IsDefault"):
            igw = f"{vpc_id}.internet_gateway"
            tr.lists["internet_gateways"].append({
                "InternetGatewayId": igw, "Attachments": [{"VpcId": vpc_id, "State": "available"}], "Tags": [],
                "_address": igw, "_source": tr.source})
            rt["Routes"].append({"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": igw, "State": "active",
                                 "Origin": "CreateRouteTable"})
            tr._assume(f"{vpc_id}: a default VPC: its main route table is taken to route 0.0.0.0/0 to the "
                       "default VPC's internet gateway, as AWS creates it")
        else:
            synthesized.append(vpc_id)
        tr.lists["route_tables"].append(rt)
    if synthesized:
        tr._assume(
            "The plan does not show the main route table of " + ", ".join(synthesized) + ": it is taken to hold "
            "only the local route, as AWS creates it, so subnets without an explicit route table association "
            "are private unless a main route table association in the plan says otherwise")


def _add_local_routes(rt: dict, vpc: dict) -> None:
    cidrs = [("DestinationCidrBlock", a["CidrBlock"]) for a in vpc.get("CidrBlockAssociationSet") or [] if a.get("CidrBlock")]
    cidrs += [("DestinationIpv6CidrBlock", a["Ipv6CidrBlock"]) for a in vpc.get("Ipv6CidrBlockAssociationSet") or []
              if a.get("Ipv6CidrBlock") and a["Ipv6CidrBlock"] != ASSIGNED_AT_APPLY]
    for field, cidr in cidrs:
        if not any(r.get(field) == cidr and r.get("GatewayId") == "local" for r in rt["Routes"]):
            rt["Routes"].insert(0, {field: cidr, "GatewayId": "local", "State": "active",
                                    "Origin": "CreateRouteTable"})


def _default_nacls(tr: "AwsTranslator", vpcs: dict, subnets: dict) -> None:
    associated = {a.get("SubnetId") for acl in tr.lists["network_acls"] if not acl.get("IsDefault")
                  for a in acl["Associations"]}
    for vpc_id, vpc in vpcs.items():
        default = next((a for a in tr.lists["network_acls"] if a.get("IsDefault") and a.get("VpcId") == vpc_id), None)
        if default is None:
            if vpc.get("_data_source"):
                continue
            default = {"NetworkAclId": f"{vpc_id}.default_network_acl", "VpcId": vpc_id, "IsDefault": True,
                       "Entries": [], "Associations": [], "Tags": [],
                       "_address": f"{vpc_id}.default_network_acl", "_source": tr.source}
            for egress in (False, True):
                default["Entries"].append({"RuleNumber": 100, "Protocol": "-1", "RuleAction": "allow",
                                           "Egress": egress, "CidrBlock": "0.0.0.0/0"})
                if vpc.get("Ipv6CidrBlockAssociationSet"):
                    default["Entries"].append({"RuleNumber": 101, "Protocol": "-1", "RuleAction": "allow",
                                               "Egress": egress, "Ipv6CidrBlock": "::/0"})
            tr._nacl_default_denies(default)
            tr.lists["network_acls"].append(default)
        default["Associations"] = [
            {"SubnetId": sid, "NetworkAclId": default["NetworkAclId"]} for sid, s in subnets.items()
            if s.get("VpcId") == vpc_id and sid not in associated]


def _default_sg(tr: "AwsTranslator", vpc_id: Any) -> Any:
    vpc = next((v for v in tr.lists["vpcs"] if v["VpcId"] == vpc_id), None)
    if vpc is None:
        return None
    if vpc.get("_default_sg"):
        return vpc["_default_sg"]
    existing = next((g for g in tr.lists["security_groups"] if g.get("VpcId") == vpc_id
                     and g.get("GroupName") == "default"), None)
    if existing is not None:
        vpc["_default_sg"] = existing["GroupId"]
        return existing["GroupId"]
    if vpc.get("_data_source"):
        _gap(tr, f"{vpc_id} default security group", "the existing VPC's default security group is not in the plan")
        return None
    gid = f"{vpc_id}.default_security_group"
    tr.lists["security_groups"].append({
        "GroupId": gid, "GroupName": "default", "VpcId": vpc_id, "OwnerId": tr.account, "Tags": [],
        "Description": "default VPC security group",
        "IpPermissions": [{"IpProtocol": "-1", "IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": [],
                           "UserIdGroupPairs": [{"GroupId": gid}]}],
        "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [],
                                 "PrefixListIds": [], "UserIdGroupPairs": []}],
        "_address": gid, "_source": tr.source})
    vpc["_default_sg"] = gid
    tr._assume(f"{gid}: AWS's default security group of the VPC (ingress from itself only, all egress), "
               "attached where no security group is given")
    return gid


def _autoscaling_instances(tr: "AwsTranslator") -> None:
    for asg in tr.lists["auto_scaling_groups"]:
        template = tr.el.get(asg.get("_template")) if isinstance(asg.get("_template"), str) else None
        address = asg["AutoScalingGroupName"]
        inst: dict = {"InstanceId": address, "State": {"Name": "running"}, "LaunchTime": None,
                      "_address": address, "_source": tr.source, "_launched_by": address}
        if template is None:
            inst["_unknown"] = ["SecurityGroups", "IamInstanceProfile", "MetadataOptions", "UserData",
                                "PublicIpAddress"]
            _gap(tr, f"{address}.launch_template", "the group's launch template or configuration is not resolved")
            template = {"_groups": [], "_assoc_public": ("unknown", None), "_ipv6": None}
        for key in ("ImageId", "IamInstanceProfile", "MetadataOptions", "UserData"):
            if key in template:
                inst[key] = template[key]
        unknown = list(template.get("_unknown", [])) + [u for u in asg.get("_unknown", []) if u == "VPCZoneIdentifier"]
        if unknown:
            inst.setdefault("_unknown", [])
            inst["_unknown"] += [u if u != "VPCZoneIdentifier" else "SubnetId" for u in unknown
                                 if u not in inst["_unknown"]]
        subnets = asg.get("_subnets") or []
        inst["SubnetId"] = template.get("_subnet") or (subnets[0] if subnets else None)
        if len(subnets) > 1 and not template.get("_subnet"):
            inst["_other_subnets"] = subnets[1:]
        inst["_groups"] = template.get("_groups", [])
        inst["_assoc_public"] = template.get("_assoc_public", ("unset", None))
        inst["_ipv6"] = template.get("_ipv6")
        tags = {t["Key"]: t["Value"] for t in template.get("Tags", [])}
        tags.update({t["Key"]: t["Value"] for t in asg["Tags"] if t.get("PropagateAtLaunch")})
        tags["aws:autoscaling:groupName"] = asg.get("_name") or address
        inst["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        inst["_attached_enis"] = []
        tr.lists["instances"].append(inst)
        asg["Instances"] = [{"InstanceId": address, "LifecycleState": "InService"}]
        for tg_id in asg.get("TargetGroupARNs", []):
            tg = tr.el.get(tg_id)
            if tg is not None and "Targets" in tg:
                tg["Targets"].append({"Target": {"Id": address, "Port": tg.get("Port")},
                                      "TargetHealth": {"State": "unused"}})
        for elb_id in asg.get("LoadBalancerNames", []):
            elb = tr.el.get(elb_id)
            if elb is not None and "Instances" in elb:
                elb["Instances"].append({"InstanceId": address})


def _instances(tr: "AwsTranslator", subnets: dict) -> None:
    enis = {e["NetworkInterfaceId"]: e for e in tr.lists["network_interfaces"]}
    for inst in tr.lists["instances"]:
        addr = inst["InstanceId"]
        lt = tr.el.get(inst.get("_launch_template")) if isinstance(inst.get("_launch_template"), str) else None
        if lt is not None:
            _merge_launch_template(inst, lt)
        attached = [enis[e] for e in inst.get("_attached_enis", []) if e in enis]
        if attached:
            inst["SubnetId"] = attached[0].get("SubnetId")
            groups = [g["GroupId"] for g in attached[0].get("Groups", [])]
        else:
            groups = list(inst.get("_groups", []))
        groups += [g for g in inst.get("_extra_groups", []) if g not in groups]
        subnet = subnets.get(inst.get("SubnetId")) if isinstance(inst.get("SubnetId"), str) else None
        inst["VpcId"] = subnet.get("VpcId") if subnet else None
        if not groups and "SecurityGroups" not in inst.get("_unknown", []) and inst["VpcId"]:
            default = _default_sg(tr, inst["VpcId"])
            groups = [default] if default else []
        inst["SecurityGroups"] = [{"GroupId": g, "GroupName": _group_name(tr, g)} for g in groups]
        public = _public_ip(tr, inst, subnet)
        inst["PublicIpAddress"] = public
        ipv6 = inst.get("_ipv6")
        if ipv6 is None:
            assign = subnet.get("AssignIpv6AddressOnCreation") if subnet else False
            if assign is None:
                _mark(tr, inst, "Ipv6Address", "assign_ipv6_address_on_creation",
                      "whether the subnet gives the instance an IPv6 address is known only after apply")
                ipv6 = []
            else:
                ipv6 = [{"Ipv6Address": ASSIGNED_AT_APPLY}] if assign else []
        if attached:
            nis = []
            for i, eni in enumerate(attached):
                ni = {k: eni.get(k) for k in ("NetworkInterfaceId", "SubnetId", "VpcId", "Groups", "PrivateIpAddress",
                                              "PrivateIpAddresses", "Ipv6Addresses")}
                ni["Attachment"] = {"DeviceIndex": i, "InstanceId": addr}
                if i == 0 and public:
                    ni["Association"] = {"PublicIp": public}
                    eni["Association"] = {"PublicIp": public}
                elif eni.get("Association"):
                    ni["Association"] = eni["Association"]
                eni["Attachment"] = {"InstanceId": addr, "DeviceIndex": i}
                nis.append(ni)
            inst["NetworkInterfaces"] = nis
        else:
            primary = {"NetworkInterfaceId": f"{addr}.primary_network_interface", "SubnetId": inst.get("SubnetId"),
                       "VpcId": inst["VpcId"], "Groups": inst["SecurityGroups"],
                       "PrivateIpAddress": inst.get("PrivateIpAddress"),
                       "PrivateIpAddresses": [{"PrivateIpAddress": inst.get("PrivateIpAddress"), "Primary": True}],
                       "Ipv6Addresses": ipv6, "Attachment": {"DeviceIndex": 0, "InstanceId": addr},
                       "Status": "in-use"}
            if public:
                primary["Association"] = {"PublicIp": public}
                primary["PrivateIpAddresses"][0]["Association"] = {"PublicIp": public}
            inst["NetworkInterfaces"] = [primary]
            eni_el = dict(primary, _address=f"{addr}.primary_network_interface", _source=tr.source)
            tr.lists["network_interfaces"].append(eni_el)
        # Secondary interfaces attached by their own resources.
        for eni in tr.lists["network_interfaces"]:
            att = eni.get("Attachment") or {}
            if att.get("InstanceId") == addr and not any(
                    n["NetworkInterfaceId"] == eni["NetworkInterfaceId"] for n in inst["NetworkInterfaces"]):
                inst["NetworkInterfaces"].append({k: eni.get(k) for k in (
                    "NetworkInterfaceId", "SubnetId", "VpcId", "Groups", "PrivateIpAddress", "Ipv6Addresses",
                    "Association", "Attachment") if eni.get(k) is not None})


def _merge_launch_template(inst: dict, lt: dict) -> None:
    for key in ("ImageId", "IamInstanceProfile", "UserData"):
        if not inst.get(key) and lt.get(key):
            inst[key] = lt[key]
    if not inst.get("_groups") and lt.get("_groups"):
        inst["_groups"] = lt["_groups"]
    if inst.get("_assoc_public", ("unset",))[0] == "unset" and lt.get("_assoc_public", ("unset",))[0] != "unset":
        inst["_assoc_public"] = lt["_assoc_public"]
    if lt.get("MetadataOptions") and not inst.get("_metadata_set"):
        inst["MetadataOptions"] = lt["MetadataOptions"]
    tags = {t["Key"]: t["Value"] for t in lt.get("Tags", [])}
    tags.update({t["Key"]: t["Value"] for t in inst.get("Tags", [])})
    inst["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    for u in lt.get("_unknown", []):
        if u not in inst.setdefault("_unknown", []):
            inst["_unknown"].append(u)


def _group_name(tr: "AwsTranslator", gid: Any) -> Any:
    el = tr.el.get(gid) if isinstance(gid, str) else None
    if el is None:
        el = next((g for g in tr.lists["security_groups"] if g["GroupId"] == gid), None)
    return el.get("GroupName") if el else None


def _mark(tr: "AwsTranslator", el: dict, field: str, attr: str, why: str) -> None:
    if field not in el.setdefault("_unknown", []):
        el["_unknown"].append(field)
    _gap(tr, f"{el['_address']}.{attr}", why)


def _public_ip(tr: "AwsTranslator", inst: dict, subnet: dict | None) -> Any:
    if inst.get("_elastic_ip"):
        return inst["_elastic_ip"]
    if inst.get("_known_public_ip"):
        return inst["_known_public_ip"]
    state, value = inst.get("_assoc_public", ("unset", None))
    if state == "known":
        return ASSIGNED_AT_APPLY if _truthy(value) else None
    if state == "unknown":
        _mark(tr, inst, "PublicIpAddress", "associate_public_ip_address",
              "whether the instance gets a public IP is known only after apply")
        return None
    if subnet is None:
        if inst.get("SubnetId") is None:
            _mark(tr, inst, "PublicIpAddress", "subnet_id",
                  "the instance's subnet, which decides its public IP, is not resolved")
        return None
    if subnet.get("MapPublicIpOnLaunch") is None:
        _mark(tr, inst, "PublicIpAddress", "associate_public_ip_address",
              f"not set, and the subnet {subnet['SubnetId']}'s map_public_ip_on_launch is known only after apply")
        return None
    return ASSIGNED_AT_APPLY if subnet["MapPublicIpOnLaunch"] else None


def _truthy(v: Any) -> bool:
    return v is True or (isinstance(v, str) and v.lower() == "true")


def _network_interfaces(tr: "AwsTranslator") -> None:
    for eni in tr.lists["network_interfaces"]:
        if eni.pop("_default_groups", False) and eni.get("VpcId"):
            default = _default_sg(tr, eni["VpcId"])
            eni["Groups"] = [{"GroupId": default}] if default else []
        if eni.get("_elastic_ip"):
            eni["Association"] = {"PublicIp": eni["_elastic_ip"]}
        if eni.get("Ipv6Addresses") is None:
            eni["Ipv6Addresses"] = []


def _target_groups(tr: "AwsTranslator") -> None:
    listeners = {l["ListenerArn"]: l for l in tr.lists["listeners"]}
    for tg in tr.lists["target_groups"]:
        lbs = []
        for l in tr.lists["listeners"]:
            if _forwards_to(l.get("DefaultActions", []), tg["TargetGroupArn"]):
                lbs.append(l.get("LoadBalancerArn"))
        for rule in tr.lists["listener_rules"]:
            if _forwards_to(rule.get("Actions", []), tg["TargetGroupArn"]):
                lbs.append((listeners.get(rule.get("ListenerArn")) or {}).get("LoadBalancerArn"))
        tg["LoadBalancerArns"] = [lb for lb in dict.fromkeys(lbs) if lb]


def _forwards_to(actions: list, tg_id: str) -> bool:
    for a in actions:
        if a.get("TargetGroupArn") == tg_id:
            return True
        if any(t.get("TargetGroupArn") == tg_id for t in (a.get("ForwardConfig") or {}).get("TargetGroups", [])):
            return True
    return False


def _instance_profiles(tr: "AwsTranslator") -> None:
    for prof in tr.iam["instance_profiles"]:
        for role_id in prof.get("_roles", []):
            role = tr.el.get(role_id)
            if role is not None and "RoleName" in role:
                prof["Roles"].append({"RoleName": role["RoleName"], "Arn": role["Arn"], "RoleId": role["RoleId"]})
                role["InstanceProfileList"].append({"InstanceProfileName": prof["InstanceProfileName"],
                                                    "Arn": prof["Arn"]})
            else:
                prof["Roles"].append({"RoleName": role_id, "Arn": role_id})
                _gap(tr, f"{prof['_address']}.role", f"role {role_id!r} is not in the plan or state")


def _transit_gateways(tr: "AwsTranslator", vpcs: dict) -> None:
    for att in tr.lists["transit_gateway_attachments"]:
        tgw = tr.el.get(att.get("TransitGatewayId")) if isinstance(att.get("TransitGatewayId"), str) else None
        vpc = vpcs.get(att.get("ResourceId"))
        cidrs = [a["CidrBlock"] for a in (vpc or {}).get("CidrBlockAssociationSet", []) if a.get("CidrBlock")]
        tables = list(att.get("_associations", []))
        propagations = list(att.get("_propagations", []))
        if tgw is not None and tgw.get("_kind") == "transit_gateway":
            default = _tgw_default_table(tr, att["TransitGatewayId"], tgw)
            if att.get("_default_association") and tgw["association"] and not tables:
                tables.append(default)
            if att.get("_default_propagation") and tgw["propagation"]:
                propagations.append(default)
        if tables:
            att["Association"] = {"TransitGatewayRouteTableId": tables[0], "State": "associated"}
        for table_id in dict.fromkeys(propagations):
            table = tr.el.get(table_id)
            if table is None:
                continue
            for cidr in cidrs:
                table["Routes"].append({"DestinationCidrBlock": cidr, "Type": "propagated", "State": "active",
                                        "TransitGatewayAttachments": [{
                                            "TransitGatewayAttachmentId": att["TransitGatewayAttachmentId"],
                                            "ResourceId": att.get("ResourceId"), "ResourceType": "vpc"}]})


def _tgw_default_table(tr: "AwsTranslator", tgw_id: str, tgw: dict) -> str:
    if tgw["default_table"] is None:
        table_id = f"{tgw_id}.default_route_table"
        el = {"TransitGatewayRouteTableId": table_id, "TransitGatewayId": tgw_id, "State": "available",
              "DefaultAssociationRouteTable": True, "DefaultPropagationRouteTable": True, "Routes": [],
              "Tags": [], "_address": table_id, "_source": tr.source}
        tr.lists["transit_gateway_route_tables"].append(el)
        tr.el[table_id] = el
        tgw["default_table"] = table_id
    return tgw["default_table"]
