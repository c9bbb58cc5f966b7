"""Two sources, one truth: a Terraform scenario and the same estate built in moto find the same.

Each row rebuilds one scenario under terraform-fixtures/ in moto from its main.tf (same names and
tags, CIDRs, rules, IAM policies, user data and metadata options), collects it with the read-only
collector and the user-data classifier the CLI uses, scans it, and compares the findings with the
scenario's expected.json. That file is the single truth for both sources: the Terraform scan is
first held to it by (check id, address), which also maps each address to the CI node's name, and
the moto scan is then held to it by (check id, name), names coming from Name tags in AWS.

What differs between the two sources by nature, and how the rows deal with it:
- Terraform settles some values only at apply (ids, generated names); moto holds the applied
  value. A `name_prefix` becomes a generated name here, as apply would make it.
- moto's default VPC, with its default subnets, is left empty: every estate is built in its own VPC.
- An `aws_security_group` in Terraform starts without AWS's default allow-all egress rule (the
  provider revokes it); the rows reproduce the egress the configuration ends with.
- No scenario here puts instances in an autoscaling group, so every instance is standalone in
  both sources and ci-long-lived-runner reads the same fact (no group) on both sides.

Scenarios left out, and why:
- gcp-*: Google Cloud scenarios; their live twins are scanned against the replay fake of the GCP
  APIs in tests/test_gcp_scan.py, held to the same expected.json.
- unknown-public-ip: its subject is a value unknown until apply (map_public_ip_on_launch from an
  SSM parameter read during apply). A built estate can only hold the applied value, so a moto twin
  would compare one resolution of the unknown, which the Terraform scan only assumes.
"""

from __future__ import annotations

import base64
import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import boto3
import botocore.loaders
import botocore.session
import pytest
from aws_builders import (
    ADMINISTRATOR_ACCESS,
    ANYWHERE,
    ANYWHERE_V6,
    AwsBuilder,
    Subnet,
    Vpc,
    all_traffic,
    allow,
    policy_document,
    read_only_session,
    tcp,
    trust_web_identity,
)

from guardrails.providers.aws.commands import user_data_wanted as _user_data_wanted
from guardrails.config import Config
from guardrails.pipeline import scan_snapshots
from guardrails.providers.aws.collect import collect
from guardrails.providers.terraform import load_terraform

REGION = "eu-west-1"
FIXTURES = Path(__file__).resolve().parents[1] / "terraform-fixtures"
INPUT_NAMES = ("plan.json", "state.json", "terraform.tfstate")
# The AMI every scenario names. moto accepts an id it does not know and describes no image for it,
# so, as in the Terraform source, no image name takes part in classifying a node.
SCENARIO_AMI = "ami-0d64bb532e0502c46"
INSTANCE_TYPE = "t3.large"


# --- moto, per row --------------------------------------------------------------------------


@dataclass(frozen=True)
class Twin:
    scenario: str
    build: Callable[[AwsBuilder], None]
    managed_policies: bool = False  # the estate attaches an AWS managed policy


@pytest.fixture(scope="module")
def service_models():
    """One botocore loader for the module: parsing the service models again per session costs
    more than building and scanning a small estate."""
    return botocore.loaders.create_loader()


def _core_session(loader) -> botocore.session.Session:
    core = botocore.session.get_session()
    core.register_component("data_loader", loader)
    return core


@pytest.fixture
def aws(request, monkeypatch) -> Iterator[object]:
    """As conftest's, with moto's catalogue of AWS managed policies loaded only for the rows that
    attach one (loading it costs seconds), and without moto's public AMIs, which no row uses."""
    from moto import mock_aws

    twin: Twin = request.node.callspec.params["twin"]
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true" if twin.managed_policies else "false")
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    with mock_aws() as mock:
        yield mock


@pytest.fixture
def builder_session(aws, service_models):
    return boto3.Session(botocore_session=_core_session(service_models), region_name=REGION)


@pytest.fixture
def collector_session(aws, service_models):
    """Fails the test on any call that is not a read (see aws_builders.read_only_session)."""
    return read_only_session(REGION, botocore_session=_core_session(service_models))


# --- estate parts, as the scenarios' main.tf write them -------------------------------------


def ci_vpc(b: AwsBuilder, cidr: str, *, igw: bool = True, ipv6: bool = False) -> Vpc:
    return b.vpc(cidr, name="ci-vpc", igw=igw, ipv6=ipv6)


def subnet_on(b: AwsBuilder, vpc: Vpc, cidr: str, *, name: str, az: str, table: str,
              map_public_ip: bool = False) -> Subnet:
    """A subnet explicitly associated with an existing route table (several subnets may share one,
    as aws_route_table_association lets them; the builder gives each subnet its own)."""
    subnet_id = b.ec2.create_subnet(
        VpcId=vpc.id, CidrBlock=cidr, AvailabilityZone=az,
        TagSpecifications=[{"ResourceType": "subnet", "Tags": [{"Key": "Name", "Value": name}]}],
    )["Subnet"]["SubnetId"]
    if map_public_ip:
        b.ec2.modify_subnet_attribute(SubnetId=subnet_id, MapPublicIpOnLaunch={"Value": True})
    b.ec2.associate_route_table(RouteTableId=table, SubnetId=subnet_id)
    return Subnet(id=subnet_id, vpc=vpc, cidr=cidr, az=az, route_table_id=table)


def public_table(b: AwsBuilder, vpc: Vpc) -> str:
    """aws_route_table.public: 0.0.0.0/0 to the VPC's internet gateway."""
    return b.route_table(vpc, name="public", routes={ANYWHERE: vpc.igw_id})


def public_subnet_a(b: AwsBuilder, vpc: Vpc, cidr: str, table: str) -> Subnet:
    return subnet_on(b, vpc, cidr, name="public-a", az="eu-west-1a", table=table, map_public_ip=True)


def main_table_subnet(b: AwsBuilder, vpc: Vpc, cidr: str, name: str) -> Subnet:
    """A subnet with no route table association: the VPC's main table, the local route only."""
    return b.subnet(vpc, cidr, name=name, az="eu-west-1a", use_main_table=True)


def nat_private_subnet(b: AwsBuilder, vpc: Vpc, cidr: str, public: Subnet) -> Subnet:
    """aws_subnet.private behind aws_nat_gateway.main in the public subnet."""
    nat = b.nat_gateway(public, name="main")
    table = b.route_table(vpc, name="private", routes={ANYWHERE: nat})
    return subnet_on(b, vpc, cidr, name="private-a", az="eu-west-1a", table=table)


def group(b: AwsBuilder, vpc: Vpc, name: str, *, ingress: list[dict] = (), egress: list[dict] = (),
          description: str | None = None) -> str:
    """An aws_security_group: the egress it declares and nothing else (see the module docstring).

    In a VPC with an IPv6 block AWS's default egress also allows ::/0, and the provider revokes
    that rule too; the builder revokes only the IPv4 one."""
    group_id = b.security_group(vpc, name, ingress=list(ingress), egress=[],
                                description=description or f"{name} security group", tags={"Name": name})
    if vpc.ipv6_cidr:
        b.ec2.revoke_security_group_egress(GroupId=group_id, IpPermissions=[all_traffic(ANYWHERE_V6)])
    if egress:
        b.ec2.authorize_security_group_egress(GroupId=group_id, IpPermissions=list(egress))
    return group_id


ALL_EGRESS = [all_traffic(ANYWHERE, description="all egress")]


def instance(b: AwsBuilder, name: str, subnet: Subnet, groups: list[str], **kwargs) -> None:
    kwargs.setdefault("imds", "required")
    b.instance(name, subnet=subnet, security_groups=groups, image_id=SCENARIO_AMI, instance_type=INSTANCE_TYPE,
               **kwargs)


def public_jenkins_estate(b: AwsBuilder, vpc_cidr: str, subnet_cidr: str, ingress: list[dict], *,
                          description: str = "jenkins security group", hop_limit: int = 1,
                          egress: list[dict] = ALL_EGRESS) -> tuple[Vpc, Subnet, str]:
    """The shape public-jenkins, existing-state-json, update-opens-sg and nacl-deny share."""
    vpc = ci_vpc(b, vpc_cidr)
    public = public_subnet_a(b, vpc, subnet_cidr, public_table(b, vpc))
    jenkins = group(b, vpc, "jenkins", ingress=ingress, egress=egress, description=description)
    instance(b, "jenkins-controller", public, [jenkins], public_ip=True, hop_limit=hop_limit)
    return vpc, public, jenkins


# --- the scenarios ----------------------------------------------------------------------------


def public_jenkins(b: AwsBuilder) -> None:
    public_jenkins_estate(b, "10.20.0.0/16", "10.20.1.0/24", [tcp(8080, ANYWHERE), tcp(22, "10.20.0.0/16")])


def existing_state_json(b: AwsBuilder) -> None:
    public_jenkins_estate(b, "10.30.0.0/16", "10.30.1.0/24", [tcp(8080, ANYWHERE)], description="jenkins",
                          hop_limit=2, egress=[all_traffic(ANYWHERE)])


def update_opens_sg(b: AwsBuilder) -> None:
    """The estate as the plan leaves it once applied: the group admits the VPC and 0.0.0.0/0."""
    public_jenkins_estate(b, "10.32.0.0/16", "10.32.1.0/24", [tcp(8080, "10.32.0.0/16", ANYWHERE)],
                          description="jenkins", hop_limit=2, egress=[all_traffic(ANYWHERE)])


def nacl_deny(b: AwsBuilder) -> None:
    vpc, public, _ = public_jenkins_estate(b, "10.22.0.0/16", "10.22.1.0/24", [tcp(8080, ANYWHERE)])
    acl = b.network_acl(vpc, [public], [
        {"RuleNumber": 100, "Protocol": "6", "RuleAction": "allow", "Egress": False, "CidrBlock": "10.22.0.0/16",
         "PortRange": {"From": 0, "To": 65535}},
        {"RuleNumber": 100, "Protocol": "-1", "RuleAction": "allow", "Egress": True, "CidrBlock": ANYWHERE},
    ])
    b.ec2.create_tags(Resources=[acl], Tags=[{"Key": "Name", "Value": "restricted"}])


def runner_behind_nat(b: AwsBuilder) -> None:
    vpc = ci_vpc(b, "10.21.0.0/16")
    public = public_subnet_a(b, vpc, "10.21.1.0/24", public_table(b, vpc))
    private = nat_private_subnet(b, vpc, "10.21.10.0/24", public)
    runner = group(b, vpc, "runner", ingress=[tcp(22, ANYWHERE)], egress=ALL_EGRESS)
    instance(b, "gitlab-runner-01", private, [runner])


def unknown_route_sets(b: AwsBuilder) -> None:
    """The estate as applied from main.tf: the routes the plan knew only by their gateways."""
    vpc = ci_vpc(b, "10.37.0.0/16")
    public = public_subnet_a(b, vpc, "10.37.1.0/24", public_table(b, vpc))
    private = nat_private_subnet(b, vpc, "10.37.10.0/24", public)
    runner = group(b, vpc, "runner", ingress=[tcp(22, ANYWHERE)], egress=ALL_EGRESS)
    instance(b, "gitlab-runner-01", private, [runner])
    jenkins = group(b, vpc, "jenkins", ingress=[tcp(8080, ANYWHERE), tcp(22, "10.37.0.0/16")], egress=ALL_EGRESS)
    instance(b, "jenkins-controller", public, [jenkins], public_ip=True)


def jenkins_behind_alb(vpc_cidr: str, *, scheme: str) -> Callable[[AwsBuilder], None]:
    """alb-private-jenkins and internal-alb: Jenkins in a NAT subnet, an ALB in two public subnets."""
    prefix = vpc_cidr.rsplit(".", 2)[0]

    def build(b: AwsBuilder) -> None:
        vpc = ci_vpc(b, vpc_cidr)
        table = public_table(b, vpc)
        public = public_subnet_a(b, vpc, f"{prefix}.1.0/24", table)
        public_b = subnet_on(b, vpc, f"{prefix}.2.0/24", name="public-b", az="eu-west-1b", table=table,
                             map_public_ip=True)
        private = nat_private_subnet(b, vpc, f"{prefix}.10.0/24", public)
        alb = group(b, vpc, "alb", ingress=[tcp(80, ANYWHERE)], egress=ALL_EGRESS)
        jenkins = group(b, vpc, "jenkins", ingress=[tcp(8080, alb, description="from the load balancer")],
                        egress=[all_traffic(ANYWHERE)])
        node = b.instance("jenkins-controller", subnet=private, security_groups=[jenkins], imds="required",
                          image_id=SCENARIO_AMI, instance_type=INSTANCE_TYPE)
        b.load_balancer("jenkins", subnets=[public, public_b], security_groups=[alb], targets=[node],
                        type="application", scheme=scheme, listener_port=80, target_port=8080)

    return build


def iam_admin_escalation(b: AwsBuilder) -> None:
    vpc = ci_vpc(b, "10.25.0.0/16", igw=False)
    private = main_table_subnet(b, vpc, "10.25.10.0/24", "private-a")
    runner = group(b, vpc, "runner", egress=ALL_EGRESS)
    admin = b.role("ci-admin", managed_policies=[ADMINISTRATOR_ACCESS])
    b.role("ci-deployer", instance_profile=False, inline_policies={
        "launch": policy_document(allow(["iam:PassRole", "ec2:RunInstances", "ec2:DescribeInstances"]))})
    # name_prefix = "ci-deployer-": the name apply generates from it.
    deployer_profile = "ci-deployer-20240611093015123400000001"
    iam = b.client("iam")
    iam.create_instance_profile(InstanceProfileName=deployer_profile)
    iam.add_role_to_instance_profile(InstanceProfileName=deployer_profile, RoleName="ci-deployer")
    instance(b, "gitlab-runner-admin", private, [runner], instance_profile=admin.instance_profile_name)
    instance(b, "build-agent-deploy", private, [runner], instance_profile=deployer_profile)


GITLAB_USER_DATA_BASE64 = (
    "IyEvYmluL2Jhc2gKZ2l0bGFiLXJ1bm5lciByZWdpc3RlciAtLW5vbi1pbnRlcmFjdGl2ZSAtLXVybCBodHRwczovL2dpdGxhYi5leGFtcGxl"
    "LmNvbSAtLXRva2VuIGdscnQtdDNzdFQwa2VuTjB0UmVhbFh5WjEyM2FiYyAtLWV4ZWN1dG9yIGRvY2tlcgo="
)
# The heredocs of main.tf (<<-EOF strips the common indentation). The tokens are fake.
ACTIONS_USER_DATA = (
    "#!/bin/bash\n"
    "cd /opt/actions-runner\n"
    "./config.sh --url https://github.com/example/app --pat ghp_Zx81Lk2mQ9vT4bN7cR5sW0yH3jF6dA1eGqPo --unattended\n"
)
BUILDKITE_USER_DATA = "#!/bin/bash\nexport AWS_ACCESS_KEY_ID=AKIAZ7XQ4N2LWP3RT5VB\nbuildkite-agent start\n"


def imdsv1_user_data_secrets(b: AwsBuilder) -> None:
    vpc = ci_vpc(b, "10.29.0.0/16", igw=False)
    private = main_table_subnet(b, vpc, "10.29.10.0/24", "private-a")
    runner = group(b, vpc, "runner", egress=ALL_EGRESS)
    # user_data_base64 is the script base64-encoded; RunInstances takes the script (boto3 encodes it).
    instance(b, "gitlab-runner-docker", private, [runner], imds="optional",
             user_data=base64.b64decode(GITLAB_USER_DATA_BASE64).decode())
    instance(b, "actions-runner-01", private, [runner], user_data=ACTIONS_USER_DATA)
    instance(b, "buildkite-agent-01", private, [runner], user_data=BUILDKITE_USER_DATA)


def sg_rule_shapes(b: AwsBuilder) -> None:
    vpc = ci_vpc(b, "10.28.0.0/16")
    public = public_subnet_a(b, vpc, "10.28.1.0/24", public_table(b, vpc))
    private = main_table_subnet(b, vpc, "10.28.10.0/24", "private-a")
    ssh = group(b, vpc, "jenkins-ssh", ingress=[tcp(22, "10.28.0.0/16")])
    web = group(b, vpc, "jenkins-web", ingress=[tcp(443, "10.28.0.0/16"), tcp(8080, ANYWHERE)],
                egress=[all_traffic(ANYWHERE)])
    runner = group(b, vpc, "runner", ingress=[tcp(22, web)])
    instance(b, "jenkins-controller", public, [ssh, web], public_ip=True)
    instance(b, "gitlab-runner-01", private, [runner])


def ipv6_egress_only(b: AwsBuilder) -> None:
    vpc = ci_vpc(b, "10.33.0.0/16", igw=False, ipv6=True)
    # AWS adds rule 101 (::/0, allow, both ways) to the default NACL of a VPC with an IPv6 block;
    # moto does not, and without it the NACL, not the egress-only gateway, would keep traffic out.
    default_acl = b.ec2.describe_network_acls(
        Filters=[{"Name": "vpc-id", "Values": [vpc.id]}, {"Name": "default", "Values": ["true"]}]
    )["NetworkAcls"][0]["NetworkAclId"]
    for egress in (False, True):
        b.ec2.create_network_acl_entry(NetworkAclId=default_acl, RuleNumber=101, Protocol="-1", RuleAction="allow",
                                       Egress=egress, Ipv6CidrBlock=ANYWHERE_V6)
    eigw = b.egress_only_internet_gateway(vpc)
    table = b.route_table(vpc, name="v6", routes={ANYWHERE_V6: eigw})
    # cidrsubnet(aws_vpc.main.ipv6_cidr_block, 8, 1)
    v6_block = str(list(ipaddress.ip_network(vpc.ipv6_cidr).subnets(new_prefix=64))[1])
    subnet_id = b.ec2.create_subnet(
        VpcId=vpc.id, CidrBlock="10.33.1.0/24", Ipv6CidrBlock=v6_block, AvailabilityZone="eu-west-1a",
        TagSpecifications=[{"ResourceType": "subnet", "Tags": [{"Key": "Name", "Value": "v6-a"}]}],
    )["Subnet"]["SubnetId"]
    b.ec2.modify_subnet_attribute(SubnetId=subnet_id, AssignIpv6AddressOnCreation={"Value": True})
    b.ec2.associate_route_table(RouteTableId=table, SubnetId=subnet_id)
    runner = group(b, vpc, "runner", ingress=[tcp(22, ANYWHERE_V6)], egress=[all_traffic(ANYWHERE_V6)])
    # The builder's instance() has no IPv6 address count.
    b.ec2.run_instances(
        ImageId=SCENARIO_AMI, InstanceType=INSTANCE_TYPE, MinCount=1, MaxCount=1, SubnetId=subnet_id,
        SecurityGroupIds=[runner], Ipv6AddressCount=1,
        MetadataOptions={"HttpEndpoint": "enabled", "HttpTokens": "required", "HttpPutResponseHopLimit": 1},
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "gitlab-runner-v6"}]}],
    )


def public_web_not_ci(b: AwsBuilder) -> None:
    vpc = ci_vpc(b, "10.34.0.0/16")
    public = public_subnet_a(b, vpc, "10.34.1.0/24", public_table(b, vpc))
    web = group(b, vpc, "web", ingress=[tcp(443, ANYWHERE)], egress=ALL_EGRESS)
    # No metadata_options: the AWS default, IMDSv1 accepted.
    instance(b, "shop-frontend", public, [web], public_ip=True, imds="optional", tags={"team": "storefront"})


def raw_tfstate(b: AwsBuilder) -> None:
    vpc = ci_vpc(b, "10.31.0.0/16")
    public = public_subnet_a(b, vpc, "10.31.1.0/24", public_table(b, vpc))
    runner = group(b, vpc, "runner", ingress=[tcp(22, ANYWHERE)], egress=[all_traffic(ANYWHERE)],
                   description="runner")
    role = b.role("gitlab-runner", managed_policies=[ADMINISTRATOR_ACCESS])
    instance(b, "gitlab-runner-shell", public, [runner], public_ip=True, hop_limit=2,
             instance_profile=role.instance_profile_name)


def module_count_runners(b: AwsBuilder) -> None:
    vpc = ci_vpc(b, "10.26.0.0/16", igw=False)
    private = main_table_subnet(b, vpc, "10.26.10.0/24", "private-a")
    runner = group(b, vpc, "runner", ingress=[tcp(22, ANYWHERE)], egress=ALL_EGRESS)
    for index in range(2):
        instance(b, f"gitlab-runner-{index}", private, [runner])


def module_for_each_runners(b: AwsBuilder) -> None:
    vpc = b.vpc("10.27.0.0/16", name="runners")
    private = main_table_subnet(b, vpc, "10.27.10.0/24", "runners-private")
    runner = group(b, vpc, "runner", egress=ALL_EGRESS)
    # The module's instances set no metadata_options: the AWS default, IMDSv1 accepted.
    for key in ("linux", "windows"):
        instance(b, f"actions-runner-{key}", private, [runner], imds="optional")


def github_oidc_admin(b: AwsBuilder) -> None:
    """The account's only pipeline: a role GitHub Actions tokens of any repository can become
    (`repo:*`), with AdministratorAccess; the OIDC provider exists already."""
    provider = b.oidc_provider("https://token.actions.githubusercontent.com")
    b.role("github-deploy", trust=trust_web_identity(provider, {
        "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
        "StringLike": {"token.actions.githubusercontent.com:sub": "repo:*"}}),
        managed_policies=[ADMINISTRATOR_ACCESS], instance_profile=False)


TWINS = [
    Twin("public-jenkins", public_jenkins),
    Twin("runner-behind-nat", runner_behind_nat),
    Twin("unknown-route-sets", unknown_route_sets),
    Twin("nacl-deny", nacl_deny),
    Twin("alb-private-jenkins", jenkins_behind_alb("10.23.0.0/16", scheme="internet-facing")),
    Twin("internal-alb", jenkins_behind_alb("10.24.0.0/16", scheme="internal")),
    Twin("iam-admin-escalation", iam_admin_escalation, managed_policies=True),
    Twin("github-oidc-admin", github_oidc_admin, managed_policies=True),
    Twin("imdsv1-user-data-secrets", imdsv1_user_data_secrets),
    Twin("sg-rule-shapes", sg_rule_shapes),
    Twin("ipv6-egress-only", ipv6_egress_only),
    Twin("public-web-not-ci", public_web_not_ci),
    Twin("raw-tfstate", raw_tfstate, managed_policies=True),
    Twin("existing-state-json", existing_state_json),
    Twin("update-opens-sg", update_opens_sg),
    Twin("module-count-runners", module_count_runners),
    Twin("module-for-each-runners", module_for_each_runners),
]


# --- the comparison ---------------------------------------------------------------------------


def _input_of(folder: Path) -> Path:
    (found,) = [folder / n for n in INPUT_NAMES if (folder / n).is_file()]
    return found


def _by_node(document: dict) -> dict[tuple[str, str], dict]:
    """(check id, CI node name) -> finding; names must tell the scenario's CI nodes apart."""
    findings = {(f["check_id"], f["resource"]["name"]): f for f in document["findings"]}
    assert len(findings) == len(document["findings"]), "two CI nodes share a name"
    return findings


def test_every_scenario_is_twinned_or_left_out_on_purpose():
    left_out = {"unknown-public-ip"}  # see the module docstring
    scenarios = {d.name for d in FIXTURES.iterdir() if (d / "expected.json").is_file() and not d.name.startswith("gcp-")}
    assert scenarios - left_out == {twin.scenario for twin in TWINS}


@pytest.mark.parametrize("twin", [pytest.param(t, id=t.scenario) for t in TWINS])
def test_moto_estate_finds_what_the_scenario_expects(twin, builder_session, collector_session):
    folder = FIXTURES / twin.scenario
    expected = {(f["check_id"], f["resource"]) for f in json.loads((folder / "expected.json").read_text())["findings"]}

    terraform = scan_snapshots(load_terraform(_input_of(folder)))
    assert {(f["check_id"], f["resource"]["id"]) for f in terraform["findings"]} == expected
    name_of = {f["resource"]["id"]: f["resource"]["name"] for f in terraform["findings"]}
    expected_by_name = {(check_id, name_of[address]) for check_id, address in expected}

    twin.build(AwsBuilder(builder_session))
    config = Config()
    snapshot = collect(collector_session, [REGION], wants_user_data=_user_data_wanted(config))
    assert snapshot["gaps"] == [], "the collection is incomplete"
    moto = scan_snapshots([snapshot], config)

    found = _by_node(moto)
    assert set(found) == expected_by_name, (
        f"missing {sorted(expected_by_name - set(found))}, unexpected {sorted(set(found) - expected_by_name)}"
    )
    # Same findings, not just the same ids: the role the node is given, the severity it earns, the
    # ports and the kinds of node on the evidence path (ids and gateway names differ by source).
    reviewed = _by_node(terraform)
    assert {key: _substance(f) for key, f in found.items()} == {key: _substance(f) for key, f in reviewed.items()}


def _substance(finding: dict) -> tuple:
    evidence = finding.get("evidence") or {}
    return (finding["severity"], finding["resource"]["ci_role"], tuple(evidence.get("ports") or ()),
            tuple(step["kind"] for step in evidence.get("path") or ()))
