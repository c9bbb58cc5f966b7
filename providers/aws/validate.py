"""What an AWS snapshot part must hold to be scanned: region lists and IAM lists of reply elements."""

from __future__ import annotations

from guardrails.errors import UserError
from guardrails.snapshot import check_items

# The field that identifies each element: without it nothing can refer to the resource.
ID_FIELDS = {
    "vpcs": "VpcId", "subnets": "SubnetId", "route_tables": "RouteTableId",
    "internet_gateways": "InternetGatewayId", "egress_only_internet_gateways": "EgressOnlyInternetGatewayId",
    "nat_gateways": "NatGatewayId", "network_acls": "NetworkAclId", "security_groups": "GroupId",
    "managed_prefix_lists": "PrefixListId", "instances": "InstanceId", "load_balancers": "LoadBalancerArn",
    "target_groups": "TargetGroupArn", "classic_load_balancers": "LoadBalancerName",
    "vpc_peering_connections": "VpcPeeringConnectionId", "iam.roles": "Arn",
}


def validate(data: dict, where: str) -> None:
    if not isinstance(data.get("regions", {}), dict):
        raise UserError(f"{where}: snapshot 'regions' must be an object")
    for region, lists in (data.get("regions") or {}).items():
        if not isinstance(lists, dict):
            raise UserError(f"{where}: regions.{region} must be an object of resource lists")
        for key, items in lists.items():
            check_items(items, f"regions.{region}.{key}", ID_FIELDS.get(key), where)
    iam = data.get("iam") or {}
    if not isinstance(iam, dict):
        raise UserError(f"{where}: 'iam' must be an object of resource lists")
    for key, items in iam.items():
        check_items(items, f"iam.{key}", ID_FIELDS.get(f"iam.{key}"), where)
