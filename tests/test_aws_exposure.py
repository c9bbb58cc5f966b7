"""AWS network exposure and runner hygiene, end to end: moto estate -> collect -> scan.

Each row builds one small estate the way a user would, collects it with the same read-only
collector and user-data classifier the CLI uses, scans the snapshot and compares, per CI node, the
exact set of checks that fire (nothing else may fire anywhere), with severities and ports where
they matter. The expectations are how AWS forwards packets (spec/CHECKS.md, "Effective internet
reachability"), not what the implementation happens to do.

Where moto departs from AWS the row says so and corrects only the recorded reply, never the code.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable

import boto3
import botocore.loaders
import botocore.session
import pytest
from aws_builders import (
    ANYWHERE,
    ANYWHERE_V6,
    UBUNTU_AMI,
    AwsBuilder,
    Vpc,
    all_traffic,
    read_only_session,
    rule,
    tcp,
    udp,
)

from guardrails.providers.aws.commands import user_data_wanted as _user_data_wanted
from guardrails.config import Config, parse
from guardrails.pipeline import scan_snapshots
from guardrails.providers.aws.collect import collect

REGION = "eu-west-1"
OFFICE = "203.0.113.0/24"

EXPOSED = "ci-internet-exposed"
FIREWALL = "ci-firewall-allows-internet"
IGW_SEGMENT = "ci-internet-gateway-segment"
NOT_BEHIND_LB = "ci-not-behind-load-balancer"
IMDS = "ci-imds-v1"
SECRET = "ci-secret-in-user-data"
LONG_LIVED = "ci-long-lived-runner"


@pytest.fixture(scope="module")
def service_models():
    """One botocore loader for the module: a fresh session otherwise parses the EC2, ELB, IAM...
    service models again, which costs more than building and scanning a small estate."""
    return botocore.loaders.create_loader()


def _core_session(loader) -> botocore.session.Session:
    core = botocore.session.get_session()
    core.register_component("data_loader", loader)
    return core


@pytest.fixture
def builder_session(aws, service_models):
    """As conftest's, sharing the parsed service models."""
    return boto3.Session(botocore_session=_core_session(service_models), region_name=REGION)


@pytest.fixture
def collector_session(aws, service_models):
    """As conftest's (fails the test on any write), sharing the parsed service models."""
    return read_only_session(REGION, botocore_session=_core_session(service_models))


# --- expectations --------------------------------------------------------------------------


@dataclass(frozen=True)
class Fires:
    """A finding that must be there, with its severity and (when given) its exact ports."""

    severity: str
    ports: tuple[str, ...] | None = None


def fires(severity: str, *ports: str) -> Fires:
    return Fires(severity, ports or None)


def exposed_directly(role: str, ports: tuple[str, ...], firewall_ports: tuple[str, ...] | None = None) -> dict:
    """Every check a CI node exposed on its own public address and IGW route gets."""
    expected = {
        EXPOSED: fires("critical" if role == "server" else "high", *ports),
        FIREWALL: fires("high", *(firewall_ports or ports)),
        IGW_SEGMENT: fires("medium"),
        IMDS: fires("high"),
    }
    if role == "server":
        expected[NOT_BEHIND_LB] = fires("high")
    else:
        expected[LONG_LIVED] = fires("low")
    return expected


def public_but_closed(firewall_ports: tuple[str, ...] | None, *, igw_route: bool = True) -> dict:
    """A CI server with its own public address that no path reaches today."""
    expected = {NOT_BEHIND_LB: fires("high"), IMDS: fires("medium")}
    if firewall_ports:
        expected[FIREWALL] = fires("medium", *firewall_ports)
    if igw_route:
        expected[IGW_SEGMENT] = fires("medium")
    return expected


@dataclass
class Row:
    build: Callable[[AwsBuilder], None]
    expected: dict[str, dict[str, Fires]]  # CI node Name tag -> check id -> expectation
    edit: Callable[[dict], None] | None = None  # a change to the recorded snapshot, see the row
    config: Config = field(default_factory=Config)


@dataclass
class Scan:
    document: dict
    findings: dict[tuple[str, str], dict]  # (check_id, resource id) -> finding
    ids: dict[str, str]  # instance Name tag -> instance id

    def by_node(self) -> dict[str, dict[str, dict]]:
        names = {v: k for k, v in self.ids.items()}
        out: dict[str, dict[str, dict]] = defaultdict(dict)
        for (check_id, resource_id), finding in self.findings.items():
            out[names.get(resource_id, resource_id)][check_id] = finding
        return out


def instance_names(snapshot: dict) -> dict[str, str]:
    names = {}
    for instance in snapshot["regions"][REGION].get("instances", []):
        tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
        names[tags.get("Name", instance["InstanceId"])] = instance["InstanceId"]
    return names


@pytest.fixture
def scan_estate(builder_session, collector_session):
    def scan(build: Callable[[AwsBuilder], None], *, config: Config | None = None,
             edit: Callable[[dict], None] | None = None) -> Scan:
        config = config or Config()
        build(AwsBuilder(builder_session))
        snapshot = collect(collector_session, [REGION], wants_user_data=_user_data_wanted(config))
        if edit:
            edit(snapshot)
        document = scan_snapshots([snapshot], config)
        findings = {(f["check_id"], f["resource"]["id"]): f for f in document["findings"]}
        assert len(findings) == len(document["findings"]), "one finding per check and CI node"
        return Scan(document, findings, instance_names(snapshot))

    return scan


def assert_fires_exactly(result: Scan, expected: dict[str, dict[str, Fires]]) -> None:
    actual = result.by_node()
    assert {n: set(c) for n, c in actual.items()} == {n: set(c) for n, c in expected.items() if c}
    for name, checks in expected.items():
        for check_id, want in checks.items():
            finding = actual[name][check_id]
            assert finding["severity"] == want.severity, (name, check_id, finding["message"])
            if want.ports is not None:
                assert tuple(finding["evidence"]["ports"]) == want.ports, (name, check_id, finding["message"])


# --- estate parts --------------------------------------------------------------------------


def public_node(b: AwsBuilder, ingress: list[dict], *, name: str = "jenkins", use_main_table: bool = False,
                **instance: object) -> None:
    """A node with a public IPv4 in a subnet routed to an internet gateway."""
    vpc = b.vpc("10.0.0.0/16", name="ci", igw=True)
    subnet = b.public_subnet(vpc, "10.0.1.0/24", name="public", use_main_table=use_main_table)
    group = b.security_group(vpc, name, ingress=ingress)
    b.instance(name, subnet=subnet, security_groups=[group], public_ip=True, **instance)


def nacl_entry(number: int, action: str, cidr: str, *, egress: bool = False, protocol: str = "-1",
               ports: tuple[int, int] | None = None) -> dict:
    entry = {"RuleNumber": number, "Protocol": protocol, "RuleAction": action, "Egress": egress}
    entry["Ipv6CidrBlock" if ":" in cidr else "CidrBlock"] = cidr
    if ports:
        entry["PortRange"] = {"From": ports[0], "To": ports[1]}
    return entry


def allow_all_both_ways(*cidrs: str, first: int = 100) -> list[dict]:
    return [nacl_entry(first + n, "allow", cidr, egress=egress) for n, cidr in enumerate(cidrs) for egress in (False, True)]


def behind_nacl(entries: list[dict], ingress: list[dict]) -> Callable[[AwsBuilder], None]:
    def build(b: AwsBuilder) -> None:
        vpc = b.vpc("10.0.0.0/16", name="ci", igw=True)
        subnet = b.public_subnet(vpc, "10.0.1.0/24", name="public")
        b.network_acl(vpc, [subnet], entries)
        group = b.security_group(vpc, "jenkins", ingress=ingress)
        b.instance("jenkins", subnet=subnet, security_groups=[group], public_ip=True)
    return build


def ipv6_node(b: AwsBuilder, vpc: Vpc, routes: dict[str, str], ingress: list[dict], *, name: str = "jenkins") -> None:
    """A node with a global IPv6 address and no public IPv4, behind a NACL shaped like the
    default one AWS gives an IPv6 VPC (rules 100 and 101 allow 0.0.0.0/0 and ::/0 both ways):
    moto's default NACL lacks the ::/0 rules that AWS adds."""
    subnet = b.subnet(vpc, "10.0.1.0/24", name="public6", routes=routes, ipv6_cidr=vpc.ipv6_cidr.replace("/56", "/64"))
    b.network_acl(vpc, [subnet], allow_all_both_ways(ANYWHERE, ANYWHERE_V6))
    group = b.security_group(vpc, name, ingress=ingress)
    b.ec2.run_instances(
        ImageId=UBUNTU_AMI, InstanceType="t3.medium", MinCount=1, MaxCount=1, SubnetId=subnet.id,
        SecurityGroupIds=[group], Ipv6AddressCount=1,
        MetadataOptions={"HttpEndpoint": "enabled", "HttpTokens": "optional"},
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}],
    )


def ipv6_via_igw(b: AwsBuilder) -> None:
    vpc = b.vpc("10.0.0.0/16", name="ci", igw=True, ipv6=True)
    ipv6_node(b, vpc, {ANYWHERE_V6: vpc.igw_id}, [tcp(8080, ANYWHERE_V6)])


def ipv6_node_with_ipv4_rule(b: AwsBuilder) -> None:
    vpc = b.vpc("10.0.0.0/16", name="ci", igw=True, ipv6=True)
    ipv6_node(b, vpc, {ANYWHERE_V6: vpc.igw_id}, [tcp(8080, ANYWHERE)])


def no_public_ip_in_public_subnet(b: AwsBuilder) -> None:
    vpc = b.vpc("10.0.0.0/16", name="ci", igw=True)
    subnet = b.public_subnet(vpc, "10.0.1.0/24", name="public", map_public_ip=False)
    group = b.security_group(vpc, "jenkins", ingress=[tcp(8080, ANYWHERE)])
    b.instance("jenkins", subnet=subnet, security_groups=[group])


def ipv6_via_egress_only(b: AwsBuilder) -> None:
    vpc = b.vpc("10.0.0.0/16", name="ci", igw=True, ipv6=True)
    eigw = b.egress_only_internet_gateway(vpc)
    ipv6_node(b, vpc, {ANYWHERE_V6: eigw}, [tcp(8080, ANYWHERE_V6)])


def balanced(*, lb_type: str = "application", scheme: str = "internet-facing", lb_ingress: list[dict] | None = None,
             target_ingress: Callable[[str | None, list], list[dict]], public_lb_subnets: bool = True,
             classic: bool = False) -> Callable[[AwsBuilder], None]:
    """A Jenkins in a private subnet behind a load balancer in two other subnets.

    `target_ingress(lb_group, lb_subnets)` gives the Jenkins security group's rules."""
    def build(b: AwsBuilder) -> None:
        vpc = b.vpc("10.0.0.0/16", name="ci", igw=True)
        make = b.public_subnet if public_lb_subnets else b.private_subnet
        lb_subnets = [make(vpc, "10.0.1.0/24", name="lb-a"), make(vpc, "10.0.2.0/24", name="lb-b")]
        private = b.private_subnet(vpc, "10.0.10.0/24", name="private")
        lb_group = None
        if lb_ingress is not None:
            lb_group = b.security_group(vpc, "lb", ingress=lb_ingress)
        target_group = b.security_group(vpc, "jenkins", ingress=target_ingress(lb_group, lb_subnets))
        jenkins = b.instance("jenkins", subnet=private, security_groups=[target_group])
        groups = [lb_group] if lb_group else []
        if classic:
            b.classic_load_balancer("ci", subnets=lb_subnets, security_groups=groups, instances=[jenkins],
                                    scheme=scheme, listener_port=443, instance_port=8080)
        else:
            b.load_balancer("ci", subnets=lb_subnets, security_groups=groups, targets=[jenkins], type=lb_type,
                            scheme=scheme, listener_port=443, target_port=8080)
    return build


def alb_forwarding_by_rule_only(b: AwsBuilder) -> None:
    """The listener's default action goes to an empty group; a path rule forwards to Jenkins."""
    vpc = b.vpc("10.0.0.0/16", name="ci", igw=True)
    lb_subnets = [b.public_subnet(vpc, "10.0.1.0/24", name="lb-a"), b.public_subnet(vpc, "10.0.2.0/24", name="lb-b")]
    private = b.private_subnet(vpc, "10.0.10.0/24", name="private")
    lb_group = b.security_group(vpc, "lb", ingress=[tcp(443, ANYWHERE)])
    jenkins = b.instance("jenkins", subnet=private, security_groups=[b.security_group(vpc, "jenkins", ingress=[tcp(8080, lb_group)])])
    balancer = b.load_balancer("ci", subnets=lb_subnets, security_groups=[lb_group], listener_port=443, target_port=8080)
    elbv2 = b.client("elbv2")
    group = elbv2.create_target_group(Name="jenkins", Protocol="HTTP", Port=8080, VpcId=vpc.id,
                                      TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=group, Targets=[{"Id": jenkins.id, "Port": 8080}])
    b.listener_rule(balancer, path="/jenkins/*", target_group_arn=group)


def alb_with_redirect_listener(b: AwsBuilder) -> None:
    """Port 80 only redirects to 443: it forwards nothing, whatever the group admits on it."""
    vpc = b.vpc("10.0.0.0/16", name="ci", igw=True)
    lb_subnets = [b.public_subnet(vpc, "10.0.1.0/24", name="lb-a"), b.public_subnet(vpc, "10.0.2.0/24", name="lb-b")]
    private = b.private_subnet(vpc, "10.0.10.0/24", name="private")
    lb_group = b.security_group(vpc, "lb", ingress=[tcp(443, ANYWHERE), tcp(80, ANYWHERE)])
    jenkins = b.instance("jenkins", subnet=private, security_groups=[b.security_group(vpc, "jenkins", ingress=[tcp(8080, lb_group)])])
    balancer = b.load_balancer("ci", subnets=lb_subnets, security_groups=[lb_group], targets=[jenkins],
                               listener_port=443, target_port=8080)
    b.client("elbv2").create_listener(
        LoadBalancerArn=balancer.arn, Protocol="HTTP", Port=80,
        DefaultActions=[{"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}],
    )


def lb_subnets_nacl_blocks_listener(b: AwsBuilder) -> None:
    vpc = b.vpc("10.0.0.0/16", name="ci", igw=True)
    lb_subnets = [b.public_subnet(vpc, "10.0.1.0/24", name="lb-a"), b.public_subnet(vpc, "10.0.2.0/24", name="lb-b")]
    b.network_acl(vpc, lb_subnets, [nacl_entry(90, "deny", ANYWHERE, protocol="6", ports=(443, 443)),
                                    *allow_all_both_ways(ANYWHERE)])
    private = b.private_subnet(vpc, "10.0.10.0/24", name="private")
    lb_group = b.security_group(vpc, "lb", ingress=[tcp(443, ANYWHERE)])
    jenkins = b.instance("jenkins", subnet=private, security_groups=[b.security_group(vpc, "jenkins", ingress=[tcp(8080, lb_group)])])
    b.load_balancer("ci", subnets=lb_subnets, security_groups=[lb_group], targets=[jenkins], listener_port=443, target_port=8080)


def target_subnet_nacl_refuses_lb(b: AwsBuilder) -> None:
    vpc = b.vpc("10.0.0.0/16", name="ci", igw=True)
    lb_subnets = [b.public_subnet(vpc, "10.0.1.0/24", name="lb-a"), b.public_subnet(vpc, "10.0.2.0/24", name="lb-b")]
    private = b.private_subnet(vpc, "10.0.10.0/24", name="private")
    b.network_acl(vpc, [private], [nacl_entry(100, "allow", OFFICE), nacl_entry(100, "allow", ANYWHERE, egress=True)])
    lb_group = b.security_group(vpc, "lb", ingress=[tcp(443, ANYWHERE)])
    jenkins = b.instance("jenkins", subnet=private, security_groups=[b.security_group(vpc, "jenkins", ingress=[tcp(8080, lb_group)])])
    b.load_balancer("ci", subnets=lb_subnets, security_groups=[lb_group], targets=[jenkins], listener_port=443, target_port=8080)


def public_ip_behind_nat(b: AwsBuilder) -> None:
    vpc = b.vpc("10.0.0.0/16", name="ci", igw=True)
    nat = b.nat_gateway(b.public_subnet(vpc, "10.0.0.0/24", name="nat"), name="nat")
    subnet = b.private_subnet(vpc, "10.0.1.0/24", name="private", nat_gateway=nat)
    group = b.security_group(vpc, "jenkins", ingress=[tcp(8080, ANYWHERE)])
    b.instance("jenkins", subnet=subnet, security_groups=[group], public_ip=True)


def runner(b: AwsBuilder, *, in_asg: bool = True, name: str = "gitlab-runner", **instance: object) -> None:
    """A runner in a private subnet, IMDSv2 with hop limit 1 unless told otherwise."""
    vpc = b.vpc("10.0.0.0/16", name="ci", igw=True)
    subnet = b.private_subnet(vpc, "10.0.10.0/24", name="private")
    group = b.security_group(vpc, "runner")
    instance.setdefault("imds", "required")
    node = b.instance(name, subnet=subnet, security_groups=[group], **instance)
    if in_asg:
        b.autoscaling_group("gitlab-runners", subnets=[subnet], instances=[node])


def runner_with(**instance: object) -> Callable[[AwsBuilder], None]:
    return lambda b: runner(b, **instance)


def launched_days_ago(days: float) -> Callable[[dict], None]:
    """The recorded LaunchTime of every instance, moved back: moto launches at the moment of the call."""
    def edit(snapshot: dict) -> None:
        when = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)
        for instance in snapshot["regions"][REGION]["instances"]:
            instance["LaunchTime"] = when.isoformat()
    return edit


def stopped_keeping_addresses(snapshot: dict) -> None:
    """AWS's reply for a stopped instance that holds an Elastic IP: state stopped, the Elastic IP
    still associated (moto wrongly drops the association on stop, so the row stops it here)."""
    for instance in snapshot["regions"][REGION]["instances"]:
        instance["State"] = {"Code": 80, "Name": "stopped"}


def elastic_ip_jenkins(b: AwsBuilder) -> None:
    vpc = b.vpc("10.0.0.0/16", name="ci", igw=True)
    subnet = b.public_subnet(vpc, "10.0.1.0/24", name="public", map_public_ip=False)
    group = b.security_group(vpc, "jenkins", ingress=[tcp(8080, ANYWHERE)])
    jenkins = b.instance("jenkins", subnet=subnet, security_groups=[group])
    allocation = b.ec2.allocate_address(Domain="vpc")["AllocationId"]
    b.ec2.associate_address(AllocationId=allocation, InstanceId=jenkins.id)


def stopped_auto_assigned(b: AwsBuilder) -> None:
    public_node(b, [tcp(8080, ANYWHERE)])
    instance_id = b.ec2.describe_instances(Filters=[{"Name": "tag:Name", "Values": ["jenkins"]}])["Reservations"][0][
        "Instances"][0]["InstanceId"]
    # AWS releases an auto-assigned public IPv4 when the instance stops (and moto does too).
    b.ec2.stop_instances(InstanceIds=[instance_id])


# --- route tables ----------------------------------------------------------------------------


def main_table_public(b: AwsBuilder) -> None:
    public_node(b, [tcp(8080, ANYWHERE)], use_main_table=True)


def explicit_private_while_main_public(b: AwsBuilder) -> None:
    vpc = b.vpc("10.0.0.0/16", name="ci", igw=True)
    b.public_subnet(vpc, "10.0.9.0/24", name="other", use_main_table=True)
    subnet = b.private_subnet(vpc, "10.0.1.0/24", name="private")
    group = b.security_group(vpc, "jenkins", ingress=[tcp(8080, ANYWHERE)])
    b.instance("jenkins", subnet=subnet, security_groups=[group], public_ip=True)


def other_vpcs_main_table_public(b: AwsBuilder) -> None:
    web = b.vpc("10.0.0.0/16", name="web", igw=True)
    b.public_subnet(web, "10.0.1.0/24", name="web-public", use_main_table=True)
    ci = b.vpc("10.1.0.0/16", name="ci")
    subnet = b.subnet(ci, "10.1.1.0/24", name="ci", use_main_table=True)
    group = b.security_group(ci, "jenkins", ingress=[tcp(8080, ANYWHERE)])
    b.instance("jenkins", subnet=subnet, security_groups=[group], public_ip=True)


def detached_gateway(b: AwsBuilder) -> None:
    """The route survives the gateway's detachment as a blackhole: nothing goes through it."""
    vpc = b.vpc("10.0.0.0/16", name="ci", igw=True)
    subnet = b.public_subnet(vpc, "10.0.1.0/24", name="public")
    group = b.security_group(vpc, "jenkins", ingress=[tcp(8080, ANYWHERE)])
    b.instance("jenkins", subnet=subnet, security_groups=[group], public_ip=True)
    b.ec2.detach_internet_gateway(InternetGatewayId=vpc.igw_id, VpcId=vpc.id)


def public_ip_without_igw_route(b: AwsBuilder) -> None:
    vpc = b.vpc("10.0.0.0/16", name="ci", igw=True)
    subnet = b.private_subnet(vpc, "10.0.1.0/24", name="private")
    group = b.security_group(vpc, "jenkins", ingress=[tcp(8080, ANYWHERE)])
    b.instance("jenkins", subnet=subnet, security_groups=[group], public_ip=True)


def two_groups(first: dict, second: dict) -> Callable[[AwsBuilder], None]:
    def build(b: AwsBuilder) -> None:
        vpc = b.vpc("10.0.0.0/16", name="ci", igw=True)
        subnet = b.public_subnet(vpc, "10.0.1.0/24", name="public")
        groups = [b.security_group(vpc, "low-half", ingress=[first]), b.security_group(vpc, "high-half", ingress=[second])]
        b.instance("jenkins", subnet=subnet, security_groups=groups, public_ip=True)
    return build


def prefix_list_node(cidrs: list[str]) -> Callable[[AwsBuilder], None]:
    def build(b: AwsBuilder) -> None:
        prefix_list = b.prefix_list("jenkins-clients", cidrs)
        public_node(b, [tcp(8080, prefix_list)])
    return build


def ipv6_rule_on_ipv4_node(b: AwsBuilder) -> None:
    public_node(b, [tcp(8080, ANYWHERE_V6)])


def web_server(b: AwsBuilder) -> None:
    public_node(b, [tcp(443, ANYWHERE), tcp(80, ANYWHERE)], name="www")


ROUTE_AND_FIREWALL_ROWS = [
    pytest.param(Row(lambda b: public_node(b, [tcp(8080, ANYWHERE)]), {"jenkins": exposed_directly("server", ("tcp/8080",))}),
                 id="public-server"),
    pytest.param(Row(lambda b: public_node(b, [tcp(8080, ANYWHERE)], name="gitlab-runner"),
                     {"gitlab-runner": exposed_directly("runner", ("tcp/8080",))}),
                 id="public-runner"),
    pytest.param(Row(public_ip_without_igw_route, {"jenkins": public_but_closed(("tcp/8080",), igw_route=False)}),
                 id="public-ip-without-igw-route"),
    pytest.param(Row(main_table_public, {"jenkins": exposed_directly("server", ("tcp/8080",))}),
                 id="implicit-main-table-with-igw"),
    pytest.param(Row(explicit_private_while_main_public, {"jenkins": public_but_closed(("tcp/8080",), igw_route=False)}),
                 id="explicit-private-table-beats-public-main"),
    pytest.param(Row(other_vpcs_main_table_public, {"jenkins": public_but_closed(("tcp/8080",), igw_route=False)}),
                 id="other-vpcs-main-table-does-not-count"),
    pytest.param(Row(detached_gateway, {"jenkins": public_but_closed(("tcp/8080",), igw_route=False)}),
                 id="route-to-detached-igw"),
    pytest.param(Row(lambda b: public_node(b, [tcp((8000, 8100), ANYWHERE)]),
                     {"jenkins": exposed_directly("server", ("tcp/8000-8100",))}),
                 id="sg-port-range"),
    pytest.param(Row(lambda b: public_node(b, [all_traffic(ANYWHERE)]), {"jenkins": exposed_directly("server", ("all",))}),
                 id="sg-all-traffic"),
    pytest.param(Row(lambda b: public_node(b, [udp(51820, ANYWHERE)]), {"jenkins": exposed_directly("server", ("udp/51820",))}),
                 id="sg-udp-only"),
    pytest.param(Row(lambda b: public_node(b, [tcp(8080, OFFICE), tcp(22, OFFICE)]), {"jenkins": public_but_closed(None)}),
                 id="office-allowlist"),
    pytest.param(Row(prefix_list_node([ANYWHERE]), {"jenkins": exposed_directly("server", ("tcp/8080",))}),
                 id="prefix-list-holding-the-internet"),
    pytest.param(Row(prefix_list_node([OFFICE]), {"jenkins": public_but_closed(None)}),
                 id="prefix-list-holding-an-office"),
    pytest.param(Row(two_groups(tcp(8080, "0.0.0.0/1"), tcp(8080, "128.0.0.0/1")),
                     {"jenkins": exposed_directly("server", ("tcp/8080",))}),
                 id="two-groups-two-halves-same-port"),
    pytest.param(Row(two_groups(tcp(8080, "0.0.0.0/1"), tcp(22, "128.0.0.0/1")), {"jenkins": public_but_closed(None)}),
                 id="two-groups-two-halves-different-ports"),
    pytest.param(Row(two_groups(tcp(8080, "0.0.0.0/1"), tcp(8080, "128.0.0.0/2")), {"jenkins": public_but_closed(None)}),
                 id="two-groups-three-quarters"),
    pytest.param(Row(ipv6_rule_on_ipv4_node, {"jenkins": public_but_closed(("tcp/8080",))}),
                 id="ipv6-rule-on-ipv4-only-node"),
    pytest.param(Row(ipv6_via_igw, {"jenkins": exposed_directly("server", ("tcp/8080",))}), id="ipv6-via-igw"),
    pytest.param(Row(ipv6_via_egress_only, {"jenkins": public_but_closed(("tcp/8080",), igw_route=False)}),
                 id="ipv6-via-egress-only-igw"),
    pytest.param(Row(web_server, {}), id="public-web-server-is-not-ci"),
    pytest.param(Row(ipv6_node_with_ipv4_rule, {"jenkins": public_but_closed(("tcp/8080",))}),
                 id="ipv6-node-with-ipv4-only-rule"),
    pytest.param(Row(no_public_ip_in_public_subnet, {"jenkins": {FIREWALL: fires("medium", "tcp/8080"),
                                                                 IGW_SEGMENT: fires("medium"), IMDS: fires("medium")}}),
                 id="no-public-address-in-public-subnet"),
    pytest.param(Row(public_ip_behind_nat, {"jenkins": public_but_closed(("tcp/8080",), igw_route=False)}),
                 id="public-ip-in-nat-routed-subnet"),
    # AWS's recommended rule for path MTU discovery (ICMP type 3 code 4 from anywhere) reaches
    # no service: the node is not reachable on any port.
    pytest.param(Row(lambda b: public_node(b, [rule("icmp", (3, 4), ANYWHERE), tcp(8080, OFFICE)]),
                     {"jenkins": public_but_closed(None)}),
                 id="sg-path-mtu-discovery-icmp-only"),
]

SG_8080_AND_22 = [tcp(8080, ANYWHERE), tcp(22, ANYWHERE)]
OPEN_EGRESS = [nacl_entry(100, "allow", ANYWHERE, egress=True)]

NACL_ROWS = [
    pytest.param(Row(behind_nacl([nacl_entry(90, "deny", ANYWHERE, protocol="6", ports=(8080, 8080)),
                                  nacl_entry(100, "allow", ANYWHERE)] + OPEN_EGRESS, SG_8080_AND_22),
                     {"jenkins": exposed_directly("server", ("tcp/22",), firewall_ports=("tcp/22", "tcp/8080"))}),
                 id="nacl-deny-8080-before-allow-all"),
    pytest.param(Row(behind_nacl([nacl_entry(100, "allow", ANYWHERE),
                                  nacl_entry(90, "deny", ANYWHERE, egress=True, protocol="6", ports=(1024, 65535)),
                                  nacl_entry(100, "allow", ANYWHERE, egress=True)], SG_8080_AND_22),
                     {"jenkins": public_but_closed(("tcp/22", "tcp/8080"))}),
                 id="nacl-outbound-denies-ephemeral"),
    pytest.param(Row(behind_nacl([nacl_entry(90, "deny", "198.51.100.0/24"), nacl_entry(100, "allow", ANYWHERE)]
                                 + OPEN_EGRESS, [tcp(8080, ANYWHERE)]),
                     {"jenkins": exposed_directly("server", ("tcp/8080",))}),
                 id="nacl-narrow-deny-before-allow-all"),
    pytest.param(Row(behind_nacl([], [tcp(8080, ANYWHERE)]), {"jenkins": public_but_closed(("tcp/8080",))}),
                 id="nacl-custom-without-entries-denies-all"),
    pytest.param(Row(behind_nacl([nacl_entry(100, "allow", ANYWHERE, protocol="6", ports=(8080, 8080)),
                                  nacl_entry(100, "allow", ANYWHERE, egress=True, protocol="6", ports=(1024, 65535))],
                                 SG_8080_AND_22),
                     {"jenkins": exposed_directly("server", ("tcp/8080",), firewall_ports=("tcp/22", "tcp/8080"))}),
                 id="nacl-minimal-8080-and-ephemeral"),
    pytest.param(Row(behind_nacl([nacl_entry(100, "allow", "0.0.0.0/1"), nacl_entry(110, "allow", "128.0.0.0/1")]
                                 + OPEN_EGRESS, [tcp(8080, ANYWHERE)]),
                     {"jenkins": exposed_directly("server", ("tcp/8080",))}),
                 id="nacl-two-halves-allowed"),
    pytest.param(Row(behind_nacl([nacl_entry(50, "deny", ANYWHERE), nacl_entry(100, "allow", ANYWHERE)] + OPEN_EGRESS,
                                 [tcp(8080, ANYWHERE)]),
                     {"jenkins": public_but_closed(("tcp/8080",))}),
                 id="nacl-deny-all-before-allow-all"),
]


def admits_group(port: int = 8080):
    return lambda lb_group, _subnets: [tcp(port, lb_group)]


LB_ONLY = {"jenkins": {EXPOSED: fires("critical", "tcp/443"), IMDS: fires("high")}}
LB_CLOSED = {"jenkins": {IMDS: fires("medium")}}

LOAD_BALANCER_ROWS = [
    pytest.param(Row(balanced(lb_ingress=[tcp(443, ANYWHERE)], target_ingress=admits_group()), LB_ONLY),
                 id="alb-internet-facing"),
    pytest.param(Row(balanced(lb_ingress=[tcp(443, ANYWHERE)],
                              target_ingress=lambda _g, subnets: [tcp(8080, *(s.cidr for s in subnets))]), LB_ONLY),
                 id="alb-target-admits-lb-subnets"),
    pytest.param(Row(balanced(scheme="internal", lb_ingress=[tcp(443, ANYWHERE)], target_ingress=admits_group()), LB_CLOSED),
                 id="alb-internal"),
    pytest.param(Row(balanced(lb_ingress=[tcp(443, OFFICE)], target_ingress=admits_group()), LB_CLOSED),
                 id="alb-admits-only-office"),
    pytest.param(Row(balanced(lb_ingress=[tcp(443, ANYWHERE)], target_ingress=lambda _g, _s: [tcp(8080, OFFICE)]), LB_CLOSED),
                 id="alb-target-does-not-admit-lb"),
    pytest.param(Row(balanced(lb_ingress=[tcp(443, ANYWHERE)], target_ingress=admits_group(22)), LB_CLOSED),
                 id="alb-target-admits-lb-on-other-port"),
    pytest.param(Row(balanced(lb_ingress=[tcp(443, ANYWHERE)], target_ingress=admits_group(), public_lb_subnets=False),
                     LB_CLOSED),
                 id="alb-in-subnets-without-igw-route"),
    pytest.param(Row(balanced(lb_type="network", target_ingress=lambda _g, _s: [tcp(8080, ANYWHERE)]),
                     {"jenkins": {EXPOSED: fires("critical", "tcp/443"), FIREWALL: fires("high", "tcp/8080"),
                                  IMDS: fires("high")}}),
                 id="nlb-without-groups-client-ip-preserved"),
    pytest.param(Row(balanced(lb_type="network", target_ingress=lambda _g, _s: [tcp(8080, "10.0.0.0/16")]), LB_CLOSED),
                 id="nlb-without-groups-target-admits-vpc-only"),
    pytest.param(Row(balanced(lb_type="network", lb_ingress=[tcp(443, ANYWHERE)], target_ingress=admits_group()), LB_ONLY),
                 id="nlb-with-groups-target-admits-lb-group"),
    pytest.param(Row(balanced(lb_type="network", lb_ingress=[tcp(443, ANYWHERE)],
                              target_ingress=lambda _g, _s: [tcp(8080, "10.0.0.0/16")]), LB_CLOSED),
                 id="nlb-with-groups-client-ip-preserved-target-admits-vpc-only"),
    pytest.param(Row(alb_forwarding_by_rule_only, LB_ONLY), id="alb-listener-rule-forwards"),
    pytest.param(Row(alb_with_redirect_listener, LB_ONLY), id="alb-redirect-listener-forwards-nothing"),
    pytest.param(Row(lb_subnets_nacl_blocks_listener, LB_CLOSED), id="alb-subnets-nacl-denies-listener-port"),
    pytest.param(Row(target_subnet_nacl_refuses_lb, LB_CLOSED), id="target-subnet-nacl-refuses-lb"),
    pytest.param(Row(balanced(classic=True, lb_ingress=[tcp(443, ANYWHERE)], target_ingress=admits_group()), LB_ONLY),
                 id="classic-elb-internet-facing"),
]

STOPPED_ROWS = [
    # Stopped: nothing answers, so nothing is reachable today. An auto-assigned address is gone;
    # an Elastic IP stays, and keeps the server exposable.
    pytest.param(Row(stopped_auto_assigned, {"jenkins": {FIREWALL: fires("medium", "tcp/8080"), IGW_SEGMENT: fires("medium"),
                                                         IMDS: fires("medium")}}),
                 id="stopped-auto-assigned-ip"),
    pytest.param(Row(elastic_ip_jenkins, {"jenkins": public_but_closed(("tcp/8080",))}, edit=stopped_keeping_addresses),
                 id="stopped-with-elastic-ip"),
    pytest.param(Row(elastic_ip_jenkins, {"jenkins": exposed_directly("server", ("tcp/8080",))}),
                 id="running-with-elastic-ip"),
]


@pytest.mark.parametrize("row", ROUTE_AND_FIREWALL_ROWS + NACL_ROWS + LOAD_BALANCER_ROWS + STOPPED_ROWS)
def test_network_exposure(scan_estate, row: Row) -> None:
    result = scan_estate(row.build, config=row.config, edit=row.edit)
    assert_fires_exactly(result, row.expected)


# --- runner hygiene --------------------------------------------------------------------------

GITLAB_TOKEN = "glrt-t1_Xy9kQ2mN7pL4vR8sT1wZ"
AWS_KEY_ID = "AKIA2OGYBAH6STMMNXNN"
PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----"
PRIVATE_KEY_BODY = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW"
REGISTER = "gitlab-runner register --non-interactive --url https://gitlab.example.com --executor docker"

TOKEN_IN_USER_DATA = f"#!/bin/bash\n{REGISTER} --token {GITLAB_TOKEN}\n"
TOKEN_FROM_SSM = (
    "#!/bin/bash\n"
    "TOKEN=$(aws ssm get-parameter --name /ci/gitlab/runner-token --with-decryption "
    "--query Parameter.Value --output text)\n"
    f'{REGISTER} --token "$TOKEN"\n'
)
AWS_KEY_IN_USER_DATA = f"#!/bin/bash\nexport AWS_ACCESS_KEY_ID={AWS_KEY_ID}\naws s3 sync s3://ci-cache /cache\n"
PRIVATE_KEY_GZIPPED = gzip.compress(
    f"#!/bin/bash\ncat > /home/runner/.ssh/id_ed25519 <<'EOF'\n{PRIVATE_KEY}\n{PRIVATE_KEY_BODY}\n"
    "-----END OPENSSH PRIVATE KEY-----\nEOF\n".encode()
)

HYGIENE_ROWS = [
    pytest.param(Row(runner_with(user_data=TOKEN_IN_USER_DATA), {"gitlab-runner": {SECRET: fires("high")}}),
                 id="user-data-gitlab-runner-token"),
    pytest.param(Row(runner_with(user_data=TOKEN_FROM_SSM), {}), id="user-data-token-from-ssm"),
    pytest.param(Row(runner_with(user_data=AWS_KEY_IN_USER_DATA), {"gitlab-runner": {SECRET: fires("high")}}),
                 id="user-data-aws-access-key"),
    pytest.param(Row(runner_with(user_data=PRIVATE_KEY_GZIPPED), {"gitlab-runner": {SECRET: fires("high")}}),
                 id="user-data-gzip-private-key"),
    pytest.param(Row(runner_with(imds="required", hop_limit=2), {"gitlab-runner": {IMDS: fires("medium")}}),
                 id="imds-v2-hop-limit-2-runner"),
    pytest.param(Row(runner_with(imds="required", hop_limit=1), {}), id="imds-v2-hop-limit-1-runner"),
    pytest.param(Row(runner_with(imds="disabled"), {}), id="imds-disabled-runner"),
    pytest.param(Row(runner_with(imds="optional"), {"gitlab-runner": {IMDS: fires("medium")}}), id="imds-v1-private-runner"),
    pytest.param(Row(runner_with(imds="required", hop_limit=2, name="jenkins", in_asg=False), {}),
                 id="imds-v2-hop-limit-2-server"),
    pytest.param(Row(runner_with(in_asg=False), {"gitlab-runner": {LONG_LIVED: fires("low")}}), id="runner-outside-asg"),
    pytest.param(Row(runner_with(), {}), id="runner-in-asg-launched-now"),
    pytest.param(Row(runner_with(), {"gitlab-runner": {LONG_LIVED: fires("low")}}, edit=launched_days_ago(30)),
                 id="runner-in-asg-30-days-old"),
    pytest.param(Row(runner_with(), {}, edit=launched_days_ago(6)), id="runner-in-asg-6-days-old"),
    pytest.param(Row(runner_with(), {}, edit=launched_days_ago(30), config=parse({"runners": {"max_age_days": 60}})),
                 id="runner-30-days-old-under-configured-limit"),
]


@pytest.mark.parametrize("row", HYGIENE_ROWS)
def test_runner_hygiene(scan_estate, row: Row) -> None:
    result = scan_estate(row.build, config=row.config, edit=row.edit)
    assert_fires_exactly(result, row.expected)
    text = json.dumps(result.document)
    for secret in (GITLAB_TOKEN, AWS_KEY_ID, PRIVATE_KEY_BODY):
        assert secret not in text
        assert secret[4:] not in text


def test_secret_is_named_and_masked(scan_estate) -> None:
    result = scan_estate(runner_with(user_data=TOKEN_IN_USER_DATA))
    finding = result.findings[(SECRET, result.ids["gitlab-runner"])]
    secrets = finding["evidence"]["details"]["secrets"]
    assert [s["masked"][:4] for s in secrets] == ["glrt"]
    assert set(secrets[0]["masked"][4:]) == {"*"}
    assert "GitLab runner token" in finding["message"]
    assert GITLAB_TOKEN not in json.dumps(result.document)


def test_non_ci_server_is_not_in_inventory(scan_estate) -> None:
    result = scan_estate(web_server)
    assert result.document["findings"] == []
    assert result.ids["www"] not in {entry["id"] for entry in result.document["inventory"]}


def test_exposure_evidence_names_the_path(scan_estate) -> None:
    """The path runs from the internet through the gateway, subnet and group to the node."""
    result = scan_estate(lambda b: public_node(b, [tcp(8080, ANYWHERE)]))
    finding = result.findings[(EXPOSED, result.ids["jenkins"])]
    kinds = [s["kind"] for s in finding["evidence"]["path"]]
    assert kinds[0] == "internet" and kinds[-1] == "compute"
    ids = [s["id"] for s in finding["evidence"]["path"]]
    assert any(i.startswith("igw-") for i in ids) and any(i.startswith("sg-") for i in ids)
