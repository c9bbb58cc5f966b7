"""What the AWS normalizer makes of API replies, in the estate schema's neutral words."""

from __future__ import annotations

from guardrails.normalize import normalize
from guardrails.rules import ALLOW_UNION, FIRST_MATCH
from guardrails.schema import AFTER_APPLY

ACCOUNT = "111122223333"
REGION = "eu-west-1"


def snapshot(**region: list) -> dict:
    return {"provider": "aws", "account": {"id": ACCOUNT}, "regions": {REGION: region}}


def security_group(group_id: str, *cidrs: str, ipv6: tuple[str, ...] = ()) -> dict:
    return {"GroupId": group_id, "GroupName": group_id, "VpcId": "vpc-1",
            "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                               "IpRanges": [{"CidrIp": c} for c in cidrs],
                               "Ipv6Ranges": [{"CidrIpv6": c} for c in ipv6]}],
            "IpPermissionsEgress": []}


def test_a_malformed_range_in_a_security_group_rule_is_a_gap_naming_the_firewall_and_value() -> None:
    graph = normalize([snapshot(security_groups=[security_group("sg-1", "10.0.0.300/8", "192.0.2.0/24",
                                                                ipv6=("fe80::zz/64",))])])
    gaps = [(gap["what"], gap["error"]) for gap in graph.gaps]
    assert ("firewall sg-1 ingress rule 1",
            "address range '10.0.0.300/8' is not a valid CIDR; what the rule admits is unknown") in gaps
    assert ("firewall sg-1 ingress rule 1",
            "address range 'fe80::zz/64' is not a valid CIDR; what the rule admits is unknown") in gaps
    [rule] = graph.node("sg-1").get("rules")
    assert rule.firewall == "sg-1"
    assert [(p.kind, p.value) for p in rule.peers] == [("unknown", "10.0.0.300/8"), ("cidr", "192.0.2.0/24"),
                                                       ("unknown", "fe80::zz/64")]
    assert "10.0.0.300/8 (not a valid address range)" in rule.describe()


def test_a_rule_whose_only_range_is_malformed_is_kept() -> None:
    graph = normalize([snapshot(security_groups=[security_group("sg-1", "0.0.0.0/33")])])
    [rule] = graph.node("sg-1").get("rules")
    assert [p.kind for p in rule.peers] == ["unknown"]
    assert [gap["what"] for gap in graph.gaps] == ["firewall sg-1 ingress rule 1"]


def test_a_malformed_range_in_a_network_acl_entry_is_a_gap() -> None:
    acl = {"NetworkAclId": "acl-1", "VpcId": "vpc-1", "IsDefault": False, "Associations": [],
           "Entries": [{"RuleNumber": 100, "Protocol": "-1", "RuleAction": "allow", "Egress": False,
                        "CidrBlock": "not-a-cidr"}]}
    graph = normalize([snapshot(network_acls=[acl])])
    assert [(gap["what"], gap["error"]) for gap in graph.gaps] == [
        ("firewall acl-1 ingress rule 100", "address range 'not-a-cidr' is not a valid CIDR; what the rule admits is unknown")]
    [rule] = graph.node("acl-1").get("rules")
    assert (rule.firewall, rule.priority, rule.action) == ("acl-1", 100, "allow")


def test_well_formed_rules_make_no_gap() -> None:
    graph = normalize([snapshot(security_groups=[security_group("sg-1", "0.0.0.0/0", ipv6=("::/0",))])])
    assert graph.gaps == []
    assert [p.kind for p in graph.node("sg-1").get("rules")[0].peers] == ["cidr", "cidr"]


def test_firewall_semantics_and_layers_are_set_by_the_provider() -> None:
    acl = {"NetworkAclId": "acl-1", "VpcId": "vpc-1", "IsDefault": True, "Entries": []}
    graph = normalize([snapshot(security_groups=[security_group("sg-1", "0.0.0.0/0")], network_acls=[acl])])
    group, network_acl = graph.node("sg-1"), graph.node("acl-1")
    assert (group.get("semantics"), group.get("layer"), group.get("stateful")) == (ALLOW_UNION, "interface", True)
    assert (network_acl.get("semantics"), network_acl.get("layer"), network_acl.get("stateful")) == (
        FIRST_MATCH, "subnet", False)


def test_the_main_route_table_is_the_networks_default() -> None:
    tables = [{"RouteTableId": "rtb-main", "VpcId": "vpc-1", "Associations": [{"Main": True}],
               "Routes": [{"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local"},
                          {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1"}]},
              {"RouteTableId": "rtb-own", "VpcId": "vpc-1", "Associations": [{"SubnetId": "subnet-b"}],
               "Routes": [{"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-1"}]}]
    subnets = [{"SubnetId": s, "VpcId": "vpc-1", "CidrBlock": c} for s, c in (("subnet-a", "10.0.1.0/24"),
                                                                              ("subnet-b", "10.0.2.0/24"))]
    graph = normalize([snapshot(vpcs=[{"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16"}], subnets=subnets,
                                internet_gateways=[{"InternetGatewayId": "igw-1"}], route_tables=tables)])
    assert graph.node("rtb-main").get("default") is True and graph.node("rtb-own").get("default") is False
    assert [(r["destination"], r["target_kind"]) for r in graph.node("rtb-main").get("routes")] == [
        ("10.0.0.0/16", "local"), ("0.0.0.0/0", "internet")]
    assert [r["target_kind"] for r in graph.node("rtb-own").get("routes")] == ["nat"]
    [(table, edge)] = graph.out("subnet-a", "routes")
    assert (table.id, edge["association"]) == ("rtb-main", "default")
    [(table, edge)] = graph.out("subnet-b", "routes")
    assert (table.id, edge["association"]) == ("rtb-own", "explicit")


def test_instance_facts_are_neutral() -> None:
    instance = {"InstanceId": "i-1", "State": {"Name": "running"}, "SubnetId": "subnet-a",
                "MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 2, "HttpEndpoint": "enabled"},
                "UserData": "IyEvYmluL3NoCg==",
                "NetworkInterfaces": [{"NetworkInterfaceId": "eni-1", "SubnetId": "subnet-a",
                                       "PrivateIpAddress": "10.0.1.5",
                                       "Association": {"PublicIp": "203.0.113.5", "IpOwnerId": ACCOUNT},
                                       "Groups": [], "Ipv6Addresses": []}]}
    planned = {"InstanceId": "aws_instance.ci", "SubnetId": "subnet-a",
               "_unknown": ["PublicIpAddress", "MetadataOptions"], "_address": "aws_instance.ci"}
    graph = normalize([snapshot(subnets=[{"SubnetId": "subnet-a", "VpcId": "vpc-1", "CidrBlock": "10.0.1.0/24"}],
                                instances=[instance, planned])])
    node = graph.node("i-1")
    assert node.get("metadata_service") == {"enabled": True, "v1_allowed": False, "hop_limit": 2,
                                            "session_tokens": "required", "setting": "HttpTokens=required"}
    assert node.get("launch_data") == "IyEvYmluL3NoCg=="
    [iface] = node.get("interfaces")
    assert (iface["public"], iface["public_kind"]) == (["203.0.113.5"], "static")
    plan = graph.node("aws_instance.ci")
    assert plan.get("unknown") == {"public_ipv4": AFTER_APPLY, "metadata_service": AFTER_APPLY}
    assert plan.get("metadata_service")["v1_allowed"] is True  # AWS's default until the plan is applied
