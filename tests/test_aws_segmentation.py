"""Whether a build runner can open connections into production, as AWS networking decides it.

Each scenario builds a runner (private subnet, no public address, IMDSv2, autoscaled, no role: only
segmentation can fire) and production servers around it in moto, collects, scans, and compares the
whole set of (check, CI node) and the production nodes the finding lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pytest
from aws_builders import ANYWHERE, AwsBuilder, Instance, Subnet, Vpc, tcp, udp

from guardrails import pipeline
from guardrails.providers.aws.commands import user_data_wanted as _user_data_wanted
from guardrails.config import Config
from guardrails.providers.aws import collect as aws_collect

REGION = "eu-west-1"
PRODUCTION_TAGS = {"env": "production"}

# --- estate parts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ci:
    vpc: Vpc
    subnet: Subnet
    group: str


def ci_network(b: AwsBuilder, *, egress: list[dict] | None = None) -> Ci:
    """The runners' VPC 10.0.0.0/16 and subnet 10.0.1.0/24, and their security group."""
    vpc = b.vpc("10.0.0.0/16", name="ci")
    subnet = b.private_subnet(vpc, "10.0.1.0/24", name="ci-runners")
    return Ci(vpc, subnet, b.security_group(vpc, "ci-runner", egress=egress))


def runner(b: AwsBuilder, ci: Ci) -> Instance:
    instance = b.instance("gitlab-runner", subnet=ci.subnet, security_groups=[ci.group], imds="required")
    b.autoscaling_group("gitlab-runners", subnets=[ci.subnet], instances=[instance])
    return instance


def server(b: AwsBuilder, name: str, subnet: Subnet, group: str, tags: dict[str, str] | None = PRODUCTION_TAGS):
    return b.instance(name, subnet=subnet, security_groups=[group], imds="required", tags=tags)


def production_vpc(b: AwsBuilder, **kwargs) -> tuple[Vpc, Subnet]:
    vpc = b.vpc("10.20.0.0/16", name="shop", **kwargs)
    return vpc, b.private_subnet(vpc, "10.20.1.0/24", name="shop-data")


def peered(b: AwsBuilder, ci: Ci, shop: Vpc, shop_subnet: Subnet, *, route_back: bool = True) -> str:
    peering = b.vpc_peering(ci.vpc, shop)
    b.route(ci.subnet.route_table_id, shop.cidr, peering)
    if route_back:
        b.route(shop_subnet.route_table_id, ci.vpc.cidr, peering)
    return peering


@dataclass(frozen=True)
class TransitGateway:
    id: str
    # (route table, destination, attachment, VPC) of each static route created
    routes: tuple[tuple[str, str, str, str], ...]


def transit_gateway(b: AwsBuilder, joined: list[tuple[Vpc, Subnet]]) -> TransitGateway:
    """A transit gateway with its default route table, each VPC attached (AWS associates new
    attachments with that table) and a static route for each VPC's CIDR to its attachment.

    Static routes, because moto does not create propagated ones; and the default table, because
    moto reports every attachment's Association as the default table whatever
    AssociateTransitGatewayRouteTable said."""
    ec2 = b.ec2
    tgw = ec2.create_transit_gateway(Description="shared")["TransitGateway"]
    table = tgw["Options"]["AssociationDefaultRouteTableId"]
    routes = []
    for vpc, subnet in joined:
        attachment = ec2.create_transit_gateway_vpc_attachment(
            TransitGatewayId=tgw["TransitGatewayId"], VpcId=vpc.id, SubnetIds=[subnet.id]
        )["TransitGatewayVpcAttachment"]["TransitGatewayAttachmentId"]
        ec2.create_transit_gateway_route(
            TransitGatewayRouteTableId=table, DestinationCidrBlock=vpc.cidr, TransitGatewayAttachmentId=attachment
        )
        routes.append((table, vpc.cidr, attachment, vpc.id))
    return TransitGateway(tgw["TransitGatewayId"], tuple(routes))


def record_route_attachments(snapshot: dict, tgw: TransitGateway) -> None:
    """Put back into the collected SearchTransitGatewayRoutes replies the attachment each static
    route leads to, in AWS's shape. moto keeps it in a shape its serializer drops, so every route
    comes back with `TransitGatewayAttachments: []`; this fills only routes left that way."""
    tables = {t["TransitGatewayRouteTableId"]: t for t in snapshot["regions"][REGION]["transit_gateway_route_tables"]}
    for table, destination, attachment, vpc in tgw.routes:
        for route in tables[table]["Routes"]:
            if route.get("DestinationCidrBlock") == destination and not route.get("TransitGatewayAttachments"):
                route["TransitGatewayAttachments"] = [
                    {"ResourceId": vpc, "TransitGatewayAttachmentId": attachment, "ResourceType": "vpc"}
                ]


def deny_entry(number: int, cidr: str, *, egress: bool = False) -> dict:
    return {"RuleNumber": number, "Protocol": "-1", "RuleAction": "deny", "Egress": egress, "CidrBlock": cidr}


def allow_entry(number: int, cidr: str = ANYWHERE, *, egress: bool = False) -> dict:
    return {"RuleNumber": number, "Protocol": "-1", "RuleAction": "allow", "Egress": egress, "CidrBlock": cidr}


# --- scenarios ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Built:
    runner: Instance
    reached: list[Instance]  # the production nodes the runner must be found to reach
    transit_gateway: TransitGateway | None = None


def _same_vpc_group_reference(b):
    ci = ci_network(b)
    data = b.private_subnet(ci.vpc, "10.0.2.0/24", name="data")
    db = server(b, "orders-db", data, b.security_group(ci.vpc, "orders-db", ingress=[tcp(5432, ci.group)]))
    return Built(runner(b, ci), [db])


def _cache_admitting_another_group(b):
    ci = ci_network(b)
    data = b.private_subnet(ci.vpc, "10.0.2.0/24", name="data")
    db = server(b, "orders-db", data, b.security_group(ci.vpc, "orders-db", ingress=[tcp(5432, ci.group)]))
    app = b.security_group(ci.vpc, "shop-app")
    server(b, "sessions-cache", data, b.security_group(ci.vpc, "sessions-cache", ingress=[tcp(6379, app)]))
    return Built(runner(b, ci), [db])


def _runner_egress_only_443(b):
    ci = ci_network(b, egress=[tcp(443, ANYWHERE)])
    data = b.private_subnet(ci.vpc, "10.0.2.0/24", name="data")
    server(b, "orders-db", data, b.security_group(ci.vpc, "orders-db", ingress=[tcp(5432, ci.group)]))
    return Built(runner(b, ci), [])


def _runner_egress_to_the_db_group(b):
    ci = ci_network(b, egress=[])
    data = b.private_subnet(ci.vpc, "10.0.2.0/24", name="data")
    db_group = b.security_group(ci.vpc, "orders-db", ingress=[tcp(5432, ci.group)])
    b.ec2.authorize_security_group_egress(GroupId=ci.group, IpPermissions=[tcp(5432, db_group)])
    db = server(b, "orders-db", data, db_group)
    return Built(runner(b, ci), [db])


def _db_admits_runner_subnet(b):
    ci = ci_network(b)
    data = b.private_subnet(ci.vpc, "10.0.2.0/24", name="data")
    db = server(b, "orders-db", data, b.security_group(ci.vpc, "orders-db", ingress=[tcp(5432, ci.subnet.cidr)]))
    return Built(runner(b, ci), [db])


def _db_open_to_every_address(b):
    ci = ci_network(b)
    data = b.private_subnet(ci.vpc, "10.0.2.0/24", name="data")
    db = server(b, "orders-db", data, b.security_group(ci.vpc, "orders-db", ingress=[tcp(5432, ANYWHERE)]))
    return Built(runner(b, ci), [db])


def _db_admits_a_prefix_list_of_the_runners(b):
    ci = ci_network(b)
    data = b.private_subnet(ci.vpc, "10.0.2.0/24", name="data")
    runners = b.prefix_list("ci-runners", ["10.0.1.0/25", "10.0.1.128/25"])
    db = server(b, "orders-db", data, b.security_group(ci.vpc, "orders-db", ingress=[tcp(5432, runners)]))
    return Built(runner(b, ci), [db])


def _db_admits_two_ports(b):
    ci = ci_network(b)
    data = b.private_subnet(ci.vpc, "10.0.2.0/24", name="data")
    group = b.security_group(ci.vpc, "orders-db", ingress=[tcp(5432, ci.group), tcp(22, ci.subnet.cidr)])
    db = server(b, "orders-db", data, group)
    return Built(runner(b, ci), [db])


def _dns_over_udp(b):
    ci = ci_network(b)
    data = b.private_subnet(ci.vpc, "10.0.2.0/24", name="data")
    db = server(b, "internal-dns", data, b.security_group(ci.vpc, "internal-dns", ingress=[udp(53, ci.group)]))
    return Built(runner(b, ci), [db])


def _one_of_two_runner_groups_allows_egress(b):
    # Security groups are a union: the second group's allow-all egress lets 5432 out.
    ci = ci_network(b, egress=[tcp(443, ANYWHERE)])
    data = b.private_subnet(ci.vpc, "10.0.2.0/24", name="data")
    monitoring = b.security_group(ci.vpc, "monitoring-agent")
    db = server(b, "orders-db", data, b.security_group(ci.vpc, "orders-db", ingress=[tcp(5432, ci.group)]))
    instance = b.instance("gitlab-runner", subnet=ci.subnet, security_groups=[ci.group, monitoring], imds="required")
    b.autoscaling_group("gitlab-runners", subnets=[ci.subnet], instances=[instance])
    return Built(instance, [db])


def _same_subnet_behind_a_denying_nacl(b):
    # A network ACL filters traffic entering or leaving its subnet, not traffic within it.
    ci = ci_network(b)
    b.network_acl(ci.vpc, [ci.subnet], [deny_entry(100, ci.subnet.cidr), deny_entry(100, ci.subnet.cidr, egress=True)])
    db = server(b, "orders-db", ci.subnet, b.security_group(ci.vpc, "orders-db", ingress=[tcp(5432, ci.group)]))
    return Built(runner(b, ci), [db])


def _db_admits_another_subnet(b):
    ci = ci_network(b)
    data = b.private_subnet(ci.vpc, "10.0.2.0/24", name="data")
    server(b, "orders-db", data, b.security_group(ci.vpc, "orders-db", ingress=[tcp(5432, "10.0.9.0/24")]))
    return Built(runner(b, ci), [])


def _db_not_production(b):
    ci = ci_network(b)
    data = b.private_subnet(ci.vpc, "10.0.2.0/24", name="data")
    server(b, "orders-db", data, b.security_group(ci.vpc, "orders-db", ingress=[tcp(5432, ci.group)]),
           tags={"env": "staging"})
    return Built(runner(b, ci), [])


def _db_in_production_vpc(b):
    # An untagged server in a VPC tagged env=production is production too.
    ci = ci_network(b)
    shop, data = production_vpc(b, tags=PRODUCTION_TAGS)
    peered(b, ci, shop, data)
    db = server(b, "orders-db", data, b.security_group(shop, "orders-db", ingress=[tcp(5432, ci.subnet.cidr)]),
                tags=None)
    return Built(runner(b, ci), [db])


def _peered_routes_both_ways(b):
    ci = ci_network(b)
    shop, data = production_vpc(b)
    peered(b, ci, shop, data)
    db = server(b, "orders-db", data, b.security_group(shop, "orders-db", ingress=[tcp(5432, ci.subnet.cidr)]))
    return Built(runner(b, ci), [db])


def _peered_without_route_back(b):
    ci = ci_network(b)
    shop, data = production_vpc(b)
    peered(b, ci, shop, data, route_back=False)
    server(b, "orders-db", data, b.security_group(shop, "orders-db", ingress=[tcp(5432, ci.subnet.cidr)]))
    return Built(runner(b, ci), [])


def _peering_route_to_another_subnet_only(b):
    ci = ci_network(b)
    shop, data = production_vpc(b)
    peering = b.vpc_peering(ci.vpc, shop)
    b.route(ci.subnet.route_table_id, "10.20.9.0/24", peering)
    b.route(data.route_table_id, ci.vpc.cidr, peering)
    server(b, "orders-db", data, b.security_group(shop, "orders-db", ingress=[tcp(5432, ci.subnet.cidr)]))
    return Built(runner(b, ci), [])


def _not_peered(b):
    ci = ci_network(b)
    shop, data = production_vpc(b)
    server(b, "orders-db", data, b.security_group(shop, "orders-db", ingress=[tcp(5432, ci.subnet.cidr)]))
    return Built(runner(b, ci), [])


def _nacl_denies_runner_subnet(b):
    ci = ci_network(b)
    data = b.private_subnet(ci.vpc, "10.0.2.0/24", name="data")
    b.network_acl(ci.vpc, [data], [deny_entry(100, ci.subnet.cidr), allow_entry(200), allow_entry(100, egress=True)])
    server(b, "orders-db", data, b.security_group(ci.vpc, "orders-db", ingress=[tcp(5432, ci.group)]))
    return Built(runner(b, ci), [])


def _nacl_allows_runner_subnet(b):
    ci = ci_network(b)
    data = b.private_subnet(ci.vpc, "10.0.2.0/24", name="data")
    b.network_acl(ci.vpc, [data], [allow_entry(100, ci.subnet.cidr), allow_entry(100, egress=True)])
    db = server(b, "orders-db", data, b.security_group(ci.vpc, "orders-db", ingress=[tcp(5432, ci.group)]))
    return Built(runner(b, ci), [db])


def _nacl_blocks_the_answer(b):
    # Network ACLs are stateless: a database subnet that lets the SYN in but sends nothing back
    # (only the implicit deny outbound) never completes a TCP connection.
    ci = ci_network(b)
    data = b.private_subnet(ci.vpc, "10.0.2.0/24", name="data")
    b.network_acl(ci.vpc, [data], [allow_entry(100)])
    server(b, "orders-db", data, b.security_group(ci.vpc, "orders-db", ingress=[tcp(5432, ci.group)]))
    return Built(runner(b, ci), [])


def _runner_nacl_takes_no_answers(b):
    # The same on the runner's side: its subnet sends anything but lets in only SSH.
    ci = ci_network(b)
    data = b.private_subnet(ci.vpc, "10.0.2.0/24", name="data")
    b.network_acl(ci.vpc, [ci.subnet], [
        {"RuleNumber": 100, "Protocol": "6", "RuleAction": "allow", "Egress": False, "CidrBlock": ANYWHERE,
         "PortRange": {"From": 22, "To": 22}},
        allow_entry(100, egress=True),
    ])
    server(b, "orders-db", data, b.security_group(ci.vpc, "orders-db", ingress=[tcp(5432, ci.group)]))
    return Built(runner(b, ci), [])


def _peered_group_reference(b):
    # Security groups may name a group of a peered VPC in the same region.
    ci = ci_network(b)
    shop, data = production_vpc(b)
    peered(b, ci, shop, data)
    db = server(b, "orders-db", data, b.security_group(shop, "orders-db", ingress=[tcp(5432, ci.group)]))
    return Built(runner(b, ci), [db])


def _transit_gateway_routes_both_ways(b):
    ci = ci_network(b)
    shop, data = production_vpc(b)
    tgw = transit_gateway(b, [(ci.vpc, ci.subnet), (shop, data)])
    b.route(ci.subnet.route_table_id, shop.cidr, tgw.id)
    b.route(data.route_table_id, ci.vpc.cidr, tgw.id)
    db = server(b, "orders-db", data, b.security_group(shop, "orders-db", ingress=[tcp(5432, ci.subnet.cidr)]))
    return Built(runner(b, ci), [db], tgw)


def _transit_gateway_without_route_back(b):
    ci = ci_network(b)
    shop, data = production_vpc(b)
    tgw = transit_gateway(b, [(ci.vpc, ci.subnet), (shop, data)])
    b.route(ci.subnet.route_table_id, shop.cidr, tgw.id)
    server(b, "orders-db", data, b.security_group(shop, "orders-db", ingress=[tcp(5432, ci.subnet.cidr)]))
    return Built(runner(b, ci), [], tgw)


def _transit_gateway_without_shop_attachment_route(b):
    # Both VPCs route to the gateway, but its route table knows only the CI VPC's CIDR.
    ci = ci_network(b)
    shop, data = production_vpc(b)
    tgw = transit_gateway(b, [(ci.vpc, ci.subnet)])
    b.ec2.create_transit_gateway_vpc_attachment(TransitGatewayId=tgw.id, VpcId=shop.id, SubnetIds=[data.id])
    b.route(ci.subnet.route_table_id, shop.cidr, tgw.id)
    b.route(data.route_table_id, ci.vpc.cidr, tgw.id)
    server(b, "orders-db", data, b.security_group(shop, "orders-db", ingress=[tcp(5432, ci.subnet.cidr)]))
    return Built(runner(b, ci), [], tgw)


@dataclass(frozen=True)
class Row:
    build: Callable[[AwsBuilder], Built]
    ports: tuple[str, ...] = ("tcp/5432",)


ROWS = [
    pytest.param(Row(_same_vpc_group_reference), id="same VPC, DB admits the runner group"),
    pytest.param(Row(_cache_admitting_another_group), id="cache admitting only another group is not listed"),
    pytest.param(Row(_runner_egress_only_443), id="runner egress only 443"),
    pytest.param(Row(_runner_egress_to_the_db_group), id="runner egress 5432 to the DB group"),
    pytest.param(Row(_db_admits_runner_subnet), id="DB admits the runner subnet CIDR"),
    pytest.param(Row(_db_admits_another_subnet), id="DB admits another CIDR"),
    pytest.param(Row(_db_open_to_every_address), id="DB open to 0.0.0.0/0"),
    pytest.param(Row(_db_admits_a_prefix_list_of_the_runners), id="DB admits a prefix list holding the runners"),
    pytest.param(Row(_db_admits_two_ports, ("tcp/22", "tcp/5432")), id="DB admits two ports"),
    pytest.param(Row(_dns_over_udp, ("udp/53",)), id="UDP 53"),
    pytest.param(Row(_one_of_two_runner_groups_allows_egress), id="one of two runner groups allows egress"),
    pytest.param(Row(_same_subnet_behind_a_denying_nacl), id="same subnet, NACL does not filter within it"),
    pytest.param(Row(_db_not_production), id="DB tagged staging"),
    pytest.param(Row(_db_in_production_vpc), id="untagged DB in a production VPC"),
    pytest.param(Row(_peered_routes_both_ways), id="peered, routes both ways"),
    pytest.param(Row(_peered_without_route_back), id="peered, no route back"),
    pytest.param(Row(_peered_group_reference), id="peered, DB admits the runner group"),
    pytest.param(Row(_peering_route_to_another_subnet_only), id="peered, route covers another subnet only"),
    pytest.param(Row(_not_peered), id="separate VPCs, not joined"),
    pytest.param(Row(_nacl_denies_runner_subnet), id="DB subnet NACL denies the runner subnet"),
    pytest.param(Row(_nacl_allows_runner_subnet), id="DB subnet NACL admits the runner subnet"),
    # NACLs are stateless: the answer must also get back on the client's ephemeral ports.
    pytest.param(Row(_nacl_blocks_the_answer), id="DB subnet NACL lets nothing out"),
    pytest.param(Row(_runner_nacl_takes_no_answers), id="runner subnet NACL lets only SSH in"),
    pytest.param(Row(_transit_gateway_routes_both_ways), id="transit gateway, routes both ways"),
    pytest.param(Row(_transit_gateway_without_route_back), id="transit gateway, no VPC route back"),
    pytest.param(Row(_transit_gateway_without_shop_attachment_route), id="transit gateway table lacks the shop CIDR"),
]


@pytest.mark.parametrize("row", ROWS)
def test_runner_reaches_production(aws, builder_session, collector_session, row: Row):
    built = row.build(AwsBuilder(builder_session))
    config = Config()
    snapshot = aws_collect.collect(collector_session, [REGION], wants_user_data=_user_data_wanted(config))
    if built.transit_gateway:
        record_route_attachments(snapshot, built.transit_gateway)

    document = pipeline.scan_snapshots([snapshot], config)

    found = {(f["check_id"], f["resource"]["id"]) for f in document["findings"]}
    reached = sorted(i.id for i in built.reached)
    assert found == ({("ci-reaches-production", built.runner.id)} if reached else set())
    if reached:
        (finding,) = document["findings"]
        listed = finding["evidence"]["details"]["production_nodes"]
        assert [n["target"] for n in listed] == reached
        assert all(tuple(n["ports"]) == row.ports for n in listed)
        assert tuple(finding["evidence"]["ports"]) == row.ports
        path = finding["evidence"]["path"]
        assert (path[0]["id"], path[-1]["id"]) == (built.runner.id, reached[0])


# --- one runner fleet over two subnets ------------------------------------------------------------
# Subnets that share a route table, a network ACL and every rule's and route's view of their
# addresses are judged once; a rule or a route that names one of them must still tell them apart.


def _fleet_over_two_subnets(b: AwsBuilder) -> tuple[Ci, Subnet, Instance, Instance]:
    vpc = b.vpc("10.0.0.0/16", name="ci")
    first = b.private_subnet(vpc, "10.0.1.0/24", name="ci-runners-a", use_main_table=True)
    second = b.private_subnet(vpc, "10.0.2.0/24", name="ci-runners-b", use_main_table=True)
    ci = Ci(vpc, first, b.security_group(vpc, "ci-runner"))
    runners = [b.instance(f"gitlab-runner-{n}", subnet=subnet, security_groups=[ci.group], imds="required")
               for n, subnet in enumerate((first, second))]
    b.autoscaling_group("gitlab-runners", subnets=[first, second], instances=runners)
    return ci, second, *runners


def _fleet_db_admits_one_subnet(b):
    ci, _, in_first, _ = _fleet_over_two_subnets(b)
    data = b.private_subnet(ci.vpc, "10.0.9.0/24", name="data", use_main_table=True)
    db = server(b, "orders-db", data, b.security_group(ci.vpc, "orders-db", ingress=[tcp(5432, "10.0.1.0/24")]))
    return {in_first.id: [db.id]}


def _fleet_db_admits_the_network(b):
    ci, _, in_first, in_second = _fleet_over_two_subnets(b)
    data = b.private_subnet(ci.vpc, "10.0.9.0/24", name="data", use_main_table=True)
    db = server(b, "orders-db", data, b.security_group(ci.vpc, "orders-db", ingress=[tcp(5432, ci.vpc.cidr)]))
    return {in_first.id: [db.id], in_second.id: [db.id]}


def _fleet_route_back_to_one_subnet(b):
    ci, _, in_first, _ = _fleet_over_two_subnets(b)
    shop, data = production_vpc(b)
    peering = b.vpc_peering(ci.vpc, shop)
    b.route(ci.vpc.main_route_table_id, shop.cidr, peering)
    b.route(data.route_table_id, "10.0.1.0/24", peering)
    db = server(b, "orders-db", data, b.security_group(shop, "orders-db", ingress=[tcp(5432, ci.vpc.cidr)]))
    return {in_first.id: [db.id]}


def _fleet_one_address_admitted(b):
    ci, _, in_first, _ = _fleet_over_two_subnets(b)
    data = b.private_subnet(ci.vpc, "10.0.9.0/24", name="data", use_main_table=True)
    address = f"{in_first.private_ip}/32"
    db = server(b, "orders-db", data, b.security_group(ci.vpc, "orders-db", ingress=[tcp(5432, address)]))
    return {in_first.id: [db.id]}


@pytest.mark.parametrize("build", [
    pytest.param(_fleet_db_admits_one_subnet, id="DB admits one of the fleet's subnets"),
    pytest.param(_fleet_db_admits_the_network, id="DB admits the fleet's whole network"),
    pytest.param(_fleet_route_back_to_one_subnet, id="peered, route back covers one of the fleet's subnets"),
    pytest.param(_fleet_one_address_admitted, id="DB admits one runner's address"),
])
def test_a_fleet_over_subnets_is_told_apart_where_a_rule_or_route_does(aws, builder_session, collector_session,
                                                                         build):
    expected = build(AwsBuilder(builder_session))
    snapshot = aws_collect.collect(collector_session, [REGION], wants_user_data=_user_data_wanted(Config()))
    document = pipeline.scan_snapshots([snapshot], Config())
    found = {f["resource"]["id"]: [n["target"] for n in f["evidence"]["details"]["production_nodes"]]
             for f in document["findings"] if f["check_id"] == "ci-reaches-production"}
    assert found == expected
