"""The AWS collector against moto: contents, gaps, user data, read-only guard, API call budget."""

from __future__ import annotations

import base64
import json

import boto3
import pytest
from aws_builders import (
    ADMINISTRATOR_ACCESS,
    ANYWHERE,
    ANYWHERE_V6,
    AwsBuilder,
    all_traffic,
    allow,
    count_calls,
    deny,
    policy_document,
    read_only_session,
    tcp,
    user_data_text,
)
from moto import mock_aws
from moto.core.authorization import enable_iam_authentication

from guardrails import __version__
from guardrails.providers.aws.demo_estate import PRODUCTION_ACCOUNT_ID, RUNNER_TOKEN, build_demo_estate
from guardrails.providers.aws import collect as aws_collect
from guardrails.providers.aws.collect import CollectionError, ConfigurationError, MutatingCallRefused

REGION = "eu-west-1"
REGION_KEYS = {
    "vpcs",
    "subnets",
    "route_tables",
    "internet_gateways",
    "egress_only_internet_gateways",
    "nat_gateways",
    "network_acls",
    "security_groups",
    "managed_prefix_lists",
    "network_interfaces",
    "images",
    "instances",
    "load_balancers",
    "listeners",
    "listener_rules",
    "target_groups",
    "classic_load_balancers",
    "auto_scaling_groups",
    "codebuild_projects",
    # What runs as a role, for identity analysis (none built here: tests/test_identity_graph.py builds them).
    "ssm_managed_instances",
    "lambda_functions",
    "cloudformation_stacks",
    "glue_dev_endpoints",
    "sagemaker_notebook_instances",
    "ecs_task_definitions",
    "launch_templates",
    "vpc_peering_connections",
    "transit_gateway_attachments",
    "transit_gateway_route_tables",
}
# What moto puts in an eu-west-1 before anyone builds: the default VPC, its subnet per zone,
# main route table, network ACL and security group.
DEFAULT_SUBNETS = 3
RUNNER_SCRIPT = "#!/bin/bash\ngitlab-runner register --url https://gitlab.example.com\n"


def tags_of(item: dict) -> dict:
    return {tag["Key"]: tag["Value"] for tag in item.get("Tags", [])}


def by_name(instances: list[dict]) -> dict:
    return {tags_of(instance).get("Name"): instance for instance in instances}


def wants_runners(instance: dict, context: dict) -> bool:
    return context["auto_scaling_group"] == "runners" or tags_of(instance).get("Name") == "jenkins"


def build_reference_estate(b: AwsBuilder, *, web_servers: int = 2) -> dict:
    """Every resource type the collector reads, with `web_servers` plain web servers."""
    ci = b.vpc("10.0.0.0/16", name="ci", igw=True, ipv6=True)
    public = b.public_subnet(ci, "10.0.1.0/24", name="public")
    nat = b.nat_gateway(public, name="nat")
    private = b.private_subnet(ci, "10.0.2.0/24", name="private", nat_gateway=nat)
    main_routed = b.public_subnet(ci, "10.0.3.0/24", name="on-main-table", use_main_table=True)
    b.egress_only_internet_gateway(ci)
    prod = b.vpc("10.1.0.0/16", name="prod", tags={"env": "production"})
    prod_subnet = b.private_subnet(prod, "10.1.1.0/24", name="prod-data")
    peering = b.vpc_peering(ci, prod)
    b.route(private.route_table_id, prod.cidr, peering)
    tgw = b.transit_gateway()
    ci_attachment = b.transit_gateway_attachment(tgw, ci, [private])
    b.transit_gateway_attachment(tgw, prod, [prod_subnet])
    b.transit_gateway_route(tgw, "10.9.0.0/16", ci_attachment)

    office = b.prefix_list("office", ["203.0.113.0/24", "198.51.100.0/24"])
    alb_sg = b.security_group(ci, "alb", ingress=[tcp(443, ANYWHERE, ANYWHERE_V6)])
    jenkins_sg = b.security_group(ci, "jenkins", ingress=[tcp(8080, alb_sg), tcp(22, office)])
    runners_sg = b.security_group(ci, "runners", egress=[tcp(443, ANYWHERE)])
    web_sg = b.security_group(ci, "web", ingress=[tcp(443, ANYWHERE)])
    b.security_group(prod, "db", ingress=[tcp(5432, runners_sg), all_traffic("10.1.0.0/16")])

    iam = b.client("iam")
    runner_policy = b.managed_policy("runner-v1", policy_document(allow("s3:GetObject")))
    iam.create_policy_version(
        PolicyArn=runner_policy, PolicyDocument=json.dumps(policy_document(allow("s3:*"))), SetAsDefault=True
    )
    unused_policy = b.managed_policy("nobody-uses-this", policy_document(allow("*")))
    boundary = b.managed_policy("ci-boundary", policy_document(allow("s3:*"), deny("iam:*")))
    jenkins_role = b.role(
        "jenkins",
        managed_policies=[ADMINISTRATOR_ACCESS],
        inline_policies={"assume": policy_document(allow("sts:AssumeRole", "arn:aws:iam::210987654321:role/deploy"))},
    )
    runner_role = b.role("runner", managed_policies=[runner_policy], permissions_boundary=boundary)
    build_role = b.role("build", instance_profile=False, trust={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    iam.create_user(UserName="deployer")
    iam.attach_user_policy(UserName="deployer", PolicyArn=runner_policy)

    jenkins_ami = b.image("jenkins-lts")
    jenkins = b.instance(
        "jenkins", subnet=private, security_groups=[jenkins_sg], instance_profile=jenkins_role, image_id=jenkins_ami,
        user_data="#!/bin/bash\napt-get install -y jenkins\n",
    )
    runners = [
        b.instance("runner-1", subnet=private, security_groups=[runners_sg], instance_profile=runner_role,
                   user_data=RUNNER_SCRIPT, tags={"ci-role": "runner"}),
        b.instance("runner-2", subnet=private, security_groups=[runners_sg], instance_profile=runner_role,
                   imds="required", tags={"ci-role": "runner"}),
    ]
    b.autoscaling_group("runners", subnets=[private], instances=runners)
    web = add_web_servers(b, main_routed, web_sg, web_servers)
    # an old server whose image was deregistered since: DescribeImages no longer knows it
    retired_ami = b.image("retired-golden-image")
    b.instance("legacy-app", subnet=private, image_id=retired_ami)
    b.ec2.deregister_image(ImageId=retired_ami)

    alb = b.load_balancer("jenkins", subnets=[public], security_groups=[alb_sg], targets=[jenkins])
    b.listener_rule(alb, path="/github-webhook/*", target_group_arn=alb.target_group_arn)
    b.load_balancer("ssh", subnets=[public], type="network", targets=[jenkins], listener_port=22, target_port=22)
    b.classic_load_balancer("web", subnets=[main_routed], security_groups=[web_sg], instances=web)
    b.codebuild_project("app", role=build_role, subnets=[private], security_groups=[runners_sg])
    b.codebuild_project("docs", role=build_role)
    return {
        "ci": ci,
        "prod": prod,
        "jenkins": jenkins,
        "runners": runners,
        "web": web,
        "jenkins_ami": jenkins_ami,
        "policies": {"runner": runner_policy, "unused": unused_policy, "boundary": boundary},
        "tgw": tgw,
        "retired_ami": retired_ami,
        "web_subnet": main_routed,
        "web_sg": web_sg,
    }


def add_web_servers(b: AwsBuilder, subnet, security_group: str, count: int, first: int = 0) -> list:
    return [
        b.instance(f"web-{n}", subnet=subnet, security_groups=[security_group], public_ip=True,
                   user_data="#!/bin/bash\nexport DB_PASSWORD=not-for-the-collector\n")
        for n in range(first, first + count)
    ]


def collect_with_calls(session, regions=(REGION,), wants=wants_runners):
    calls = count_calls(session)
    contexts = {}

    def recording_wants(instance, context):
        contexts[tags_of(instance).get("Name")] = context
        return wants(instance, context)

    snapshot = aws_collect.collect(session, list(regions), wants_user_data=recording_wants)
    return snapshot, calls, contexts


@pytest.fixture(scope="module")
def reference():
    """The reference estate, collected once for the tests that only read the result."""
    with mock_aws():
        built = build_reference_estate(AwsBuilder(boto3.Session(region_name=REGION)))
        progress: list[str] = []
        session = read_only_session()
        calls = count_calls(session)
        contexts = {}

        def wants(instance, context):
            contexts[tags_of(instance).get("Name")] = context
            return wants_runners(instance, context)

        snapshot = aws_collect.collect(session, [REGION], wants_user_data=wants, progress=progress.append)
    # moto is stopped again: the other tests start their own
    return {"built": built, "snapshot": snapshot, "calls": calls, "contexts": contexts, "progress": progress}


def test_snapshot_header_and_json(reference):
    snapshot = reference["snapshot"]
    assert snapshot["format"] == "pipeline-guardrails-snapshot"
    assert snapshot["version"] == 1
    assert snapshot["tool_version"] == __version__
    assert snapshot["provider"] == snapshot["source"] == "aws"
    assert snapshot["scope"] == snapshot["account"]["id"] == "123456789012"
    assert snapshot["account"]["aliases"] == []
    assert snapshot["collected_at"].endswith("Z")
    assert snapshot["gaps"] == []
    assert json.loads(json.dumps(snapshot)) == snapshot  # plain JSON, datetimes included
    assert isinstance(by_name(snapshot["regions"][REGION]["instances"])["jenkins"]["LaunchTime"], str)
    assert any(message.startswith(f"{REGION}: ") for message in reference["progress"])


def test_every_region_key_collected_with_its_items(reference):
    region = reference["snapshot"]["regions"][REGION]
    built = reference["built"]
    counts = {key: len(items) for key, items in region.items()}
    assert set(region) == REGION_KEYS
    web = len(built["web"])
    assert counts == {
        "vpcs": 3,  # default, ci, prod
        "subnets": DEFAULT_SUBNETS + 4,
        "route_tables": 3 + 3,  # a main table per VPC, plus public, private and prod-data
        "internet_gateways": 1,
        "egress_only_internet_gateways": 1,
        "nat_gateways": 1,
        "network_acls": 3,
        "security_groups": 3 + 5,
        "managed_prefix_lists": counts["managed_prefix_lists"],  # checked below: AWS's own vary
        "network_interfaces": counts["network_interfaces"],  # checked below: gateways have some too
        "images": 2,
        "instances": 4 + web,
        "load_balancers": 2,
        "listeners": 2,
        "listener_rules": 2,  # the ALB's default rule and the path rule; NLB listeners have none
        "target_groups": 2,
        "classic_load_balancers": 1,
        "auto_scaling_groups": 1,
        "codebuild_projects": 2,
        "ssm_managed_instances": 0,
        "lambda_functions": 0,
        "cloudformation_stacks": 0,
        "glue_dev_endpoints": 0,
        "sagemaker_notebook_instances": 0,
        "ecs_task_definitions": 0,
        "launch_templates": 1,  # the autoscaling group's
        "vpc_peering_connections": 1,
        "transit_gateway_attachments": 2,
        "transit_gateway_route_tables": 2,  # the gateway's default table and the built one
    }
    eni_instances = {eni.get("Attachment", {}).get("InstanceId") for eni in region["network_interfaces"]}
    assert {i["InstanceId"] for i in region["instances"]} <= eni_instances
    office = next(p for p in region["managed_prefix_lists"] if p["PrefixListName"] == "office")
    assert sorted(entry["Cidr"] for entry in office["Entries"]) == ["198.51.100.0/24", "203.0.113.0/24"]
    assert all("Entries" in p for p in region["managed_prefix_lists"])
    used_images = {i["ImageId"] for i in region["instances"]}
    assert {image["ImageId"] for image in region["images"]} == used_images - {built["retired_ami"]}


def test_added_fields_join_what_the_api_splits(reference):
    region = reference["snapshot"]["regions"][REGION]
    built = reference["built"]
    listener_arns = {listener["ListenerArn"] for listener in region["listeners"]}
    assert all(rule["ListenerArn"] in listener_arns for rule in region["listener_rules"])
    assert any(c["Values"] == ["/github-webhook/*"] for r in region["listener_rules"] for c in r["Conditions"])
    targets = {group["TargetGroupName"]: group["Targets"] for group in region["target_groups"]}
    assert [t["Target"]["Id"] for t in targets["jenkins-targets"]] == [built["jenkins"].id]
    assert targets["ssh-targets"][0]["Target"] == {"Id": built["jenkins"].id, "Port": 22}
    tables = {t["TransitGatewayRouteTableId"]: t for t in region["transit_gateway_route_tables"]}
    table = tables[built["tgw"].route_table_id]
    assert [route["DestinationCidrBlock"] for route in table["Routes"]] == ["10.9.0.0/16"]
    project = next(p for p in region["codebuild_projects"] if p["name"] == "app")
    assert project["vpcConfig"]["vpcId"] == built["ci"].id
    group = region["auto_scaling_groups"][0]
    assert sorted(m["InstanceId"] for m in group["Instances"]) == sorted(r.id for r in built["runners"])


def test_iam_documents_decoded_and_policies_reduced_to_the_used_ones(reference):
    iam = reference["snapshot"]["iam"]
    policies = reference["built"]["policies"]
    assert {role["RoleName"] for role in iam["roles"]} == {"jenkins", "runner", "build"}
    assert [user["UserName"] for user in iam["users"]] == ["deployer"]
    assert {p["Arn"] for p in iam["policies"]} == {ADMINISTRATOR_ACCESS, policies["runner"], policies["boundary"]}
    runner_policy = next(p for p in iam["policies"] if p["Arn"] == policies["runner"])
    assert runner_policy["PolicyName"] == "runner-v1"
    assert [v["VersionId"] for v in runner_policy["PolicyVersionList"]] == [runner_policy["DefaultVersionId"]] == ["v2"]
    assert runner_policy["PolicyVersionList"][0]["Document"]["Statement"][0]["Action"] == "s3:*"
    jenkins = next(role for role in iam["roles"] if role["RoleName"] == "jenkins")
    assert jenkins["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    assert jenkins["RolePolicyList"][0]["PolicyDocument"]["Statement"][0]["Action"] == "sts:AssumeRole"
    runner = next(role for role in iam["roles"] if role["RoleName"] == "runner")
    assert runner["PermissionsBoundary"]["PermissionsBoundaryArn"] == policies["boundary"]
    assert {p["InstanceProfileName"] for p in iam["instance_profiles"]} == {"jenkins", "runner"}


def test_user_data_fetched_only_for_the_instances_the_caller_wants(reference):
    instances = by_name(reference["snapshot"]["regions"][REGION]["instances"])
    assert user_data_text(instances["runner-1"]) == RUNNER_SCRIPT
    assert "UserData" not in instances["runner-2"]  # wanted, but it has none
    assert "apt-get install -y jenkins" in user_data_text(instances["jenkins"])
    assert all("UserData" not in instances[name] for name in instances if name.startswith("web-"))
    assert reference["calls"]["DescribeInstanceAttribute"] == 3


def test_user_data_decision_sees_images_and_autoscaling_group(reference):
    contexts = reference["contexts"]
    built = reference["built"]
    assert contexts["runner-1"]["auto_scaling_group"] == "runners"
    assert contexts["jenkins"]["auto_scaling_group"] is None
    assert contexts["jenkins"]["images"][built["jenkins_ami"]]["Name"] == "jenkins-lts"


def test_each_resource_type_is_one_region_wide_call(reference):
    calls = reference["calls"]
    for operation in ("DescribeVpcs", "DescribeSubnets", "DescribeRouteTables", "DescribeSecurityGroups",
                      "DescribeInstances", "DescribeImages", "DescribeAutoScalingGroups", "DescribeTargetGroups",
                      "ListProjects", "BatchGetProjects", "GetAccountAuthorizationDetails", "GetCallerIdentity"):
        assert calls[operation] == 1, operation
    assert calls["DescribeLoadBalancers"] == 2  # elbv2 and classic
    assert calls["DescribeListeners"] == 2  # per load balancer: the API needs one
    assert calls["DescribeTargetHealth"] == 2  # per target group


@pytest.fixture
def auditor_keys(builder_session):
    """Access keys of an IAM user who may read everything except CodeBuild and account aliases."""
    iam = builder_session.client("iam")
    iam.create_user(UserName="auditor")
    iam.put_user_policy(
        UserName="auditor",
        PolicyName="read-most",
        PolicyDocument=json.dumps(policy_document(allow("*"), deny(["codebuild:*", "iam:ListAccountAliases"]))),
    )
    key = iam.create_access_key(UserName="auditor")["AccessKey"]
    return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


def test_denied_service_becomes_a_gap_and_the_rest_goes_on(builder_session, auditor_keys, monkeypatch):
    b = AwsBuilder(builder_session)
    vpc = b.vpc(name="ci")
    subnet = b.private_subnet(vpc, "10.0.1.0/24")
    role = b.role("build", instance_profile=False)
    b.codebuild_project("app", role=role, subnets=[subnet])
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    monkeypatch.delenv("AWS_SECURITY_TOKEN")
    with enable_iam_authentication():
        snapshot = aws_collect.collect(read_only_session(**auditor_keys), [REGION], wants_user_data=lambda i, c: True)

    region = snapshot["regions"][REGION]
    # moto's IAM authentication cannot verify the signature of Lambda's REST requests: ListFunctions
    # fails there (SignatureDoesNotMatch), which the collector records as the gap it is.
    moto_unsigned = {"lambda_functions"}
    assert "codebuild_projects" not in region
    assert set(region) == REGION_KEYS - {"codebuild_projects"} - moto_unsigned
    assert vpc.id in {v["VpcId"] for v in region["vpcs"]}
    assert "aliases" not in snapshot["account"]
    gaps = {(gap["region"], gap["what"]): gap for gap in snapshot["gaps"]}
    assert set(gaps) == {(REGION, "codebuild_projects"), (None, "account_aliases"),
                         *((REGION, what) for what in moto_unsigned)}
    assert "SignatureDoesNotMatch" in gaps[(REGION, "lambda_functions")]["error"]
    codebuild_gap = gaps[(REGION, "codebuild_projects")]
    assert codebuild_gap["provider"] == "aws" and codebuild_gap["scope"] == "123456789012"
    assert codebuild_gap["error"].startswith("codebuild:ListProjects: AccessDenied")  # the call, then the error
    assert "\n" not in codebuild_gap["error"]


def test_no_credentials_is_a_collection_error(aws, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name)
    with pytest.raises(CollectionError, match="cannot identify the AWS account: sts:GetCallerIdentity: NoCredentialsError"):
        aws_collect.collect(read_only_session(), [REGION], wants_user_data=lambda i, c: True)


def test_regions_come_from_the_account(collector_session, monkeypatch):
    regions = aws_collect.list_regions(collector_session)
    assert REGION in regions and "us-east-1" in regions
    assert regions == sorted(regions)
    assert aws_collect.default_region(collector_session) == REGION
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(ConfigurationError, match="no AWS region configured"):
        aws_collect.default_region(boto3.Session())


WRITES = [
    ("ec2", "create_vpc", {"CidrBlock": "10.9.0.0/16"}),
    ("ec2", "modify_instance_metadata_options", {"InstanceId": "i-0123456789abcdef0", "HttpTokens": "required"}),
    ("iam", "create_role", {"RoleName": "x", "AssumeRolePolicyDocument": "{}"}),
    ("sts", "assume_role", {"RoleArn": "arn:aws:iam::123456789012:role/x", "RoleSessionName": "collector"}),
]


def test_collector_clients_refuse_every_write(builder_session):
    session = boto3.Session(region_name=REGION)
    for service, operation, params in WRITES:
        client = aws_collect.make_client(session, service, REGION)
        with pytest.raises(MutatingCallRefused, match=operation.title().replace("_", "")):
            getattr(client, operation)(**params)
    assert len(builder_session.client("ec2").describe_vpcs()["Vpcs"]) == 1  # only the default VPC


def test_collector_clients_still_read(aws):
    client = aws_collect.make_client(boto3.Session(region_name=REGION), "ec2", REGION)
    assert client.describe_vpcs()["Vpcs"][0]["IsDefault"]


def test_collector_clients_carry_retries_and_user_agent(aws):
    client = aws_collect.make_client(boto3.Session(region_name=REGION), "ec2", REGION)
    assert client.meta.config.retries["mode"] == "standard"
    # no attempt count of its own: botocore's standard 3, or the AWS configuration's max_attempts
    assert "max_attempts" not in client.meta.config.retries
    assert "total_max_attempts" not in client.meta.config.retries
    assert client.meta.config.connect_timeout == 5 and client.meta.config.read_timeout == 10
    assert client.meta.config.user_agent_extra == f"pipeline-guardrails/{__version__}"


def test_collector_session_fixture_fails_the_test_on_a_write(collector_session):
    ec2 = collector_session.client("ec2")
    assert ec2.describe_vpcs()["Vpcs"]
    with pytest.raises(pytest.fail.Exception, match="mutating operation ec2:CreateVpc"):
        ec2.create_vpc(CidrBlock="10.9.0.0/16")


def test_api_calls_do_not_grow_with_the_number_of_instances(aws):
    b = AwsBuilder(boto3.Session(region_name=REGION))
    built = build_reference_estate(b, web_servers=5)
    counts = {}
    for web_servers in (5, 50):
        already = len(built["web"])
        built["web"] += add_web_servers(b, built["web_subnet"], built["web_sg"], web_servers - already, first=already)
        snapshot, calls, _contexts = collect_with_calls(read_only_session())
        assert len(snapshot["regions"][REGION]["instances"]) == 4 + web_servers
        counts[web_servers] = calls

    print("\nAPI calls per operation, estate with 5 and with 50 web servers:")
    for operation in sorted(counts[5].keys() | counts[50].keys()):
        print(f"  {operation:40} {counts[5][operation]:4} {counts[50][operation]:4}")
    print(f"  {'total':40} {sum(counts[5].values()):4} {sum(counts[50].values()):4}")
    # Only listings whose length grows may take more pages; moto does not page them at this size.
    growing = {"DescribeInstances", "DescribeNetworkInterfaces", "DescribeLoadBalancers", "DescribeTargetHealth"}
    for operation in counts[5].keys() | counts[50].keys():
        extra = counts[50][operation] - counts[5][operation]
        assert 0 <= extra <= (1 if operation in growing else 0), operation


def test_end_to_end_through_a_moto_server(moto_server, monkeypatch):
    b = AwsBuilder(boto3.Session(region_name=REGION), endpoint_url=moto_server)
    vpc = b.vpc(name="ci", igw=True)
    public = b.public_subnet(vpc, "10.0.1.0/24")
    sg = b.security_group(vpc, "jenkins", ingress=[tcp(8080, ANYWHERE)])
    role = b.role("jenkins", managed_policies=[ADMINISTRATOR_ACCESS])
    jenkins = b.instance("jenkins", subnet=public, security_groups=[sg], public_ip=True, instance_profile=role,
                         user_data="#!/bin/bash\necho jenkins\n")

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    snapshot = aws_collect.collect(
        read_only_session(), [REGION], wants_user_data=lambda instance, context: True
    )
    region = snapshot["regions"][REGION]
    assert snapshot["gaps"] == []
    assert set(region) == REGION_KEYS
    instance = by_name(region["instances"])["jenkins"]
    assert instance["InstanceId"] == jenkins.id
    assert instance["PublicIpAddress"] == jenkins.public_ip
    assert user_data_text(instance) == "#!/bin/bash\necho jenkins\n"
    assert [p["Arn"] for p in snapshot["iam"]["policies"]] == [ADMINISTRATOR_ACCESS]


def test_demo_estate_shows_what_its_docstring_promises(builder_session, collector_session):
    ids = build_demo_estate(builder_session)
    snapshot = aws_collect.collect(
        collector_session, [REGION], wants_user_data=lambda instance, context: "ci-role" in tags_of(instance)
        or "jenkins" in tags_of(instance).get("Name", "")
    )
    assert snapshot["gaps"] == []
    region = snapshot["regions"][REGION]
    instances = by_name(region["instances"])
    groups = {group["GroupId"]: group for group in region["security_groups"]}
    iam = snapshot["iam"]
    roles = {role["RoleName"]: role for role in iam["roles"]}

    def ingress(instance_name):
        return [
            (permission.get("FromPort"), [r["CidrIp"] for r in permission.get("IpRanges", [])],
             [p["GroupId"] for p in permission.get("UserIdGroupPairs", [])])
            for interface in instances[instance_name]["NetworkInterfaces"]
            for group in interface["Groups"]
            for permission in groups[group["GroupId"]]["IpPermissions"]
        ]

    legacy = instances["jenkins-legacy"]
    assert legacy["PublicIpAddress"] and legacy["MetadataOptions"]["HttpTokens"] == "optional"
    assert sorted(ingress("jenkins-legacy")) == [(22, [ANYWHERE], []), (8080, [ANYWHERE], [])]
    assert legacy["IamInstanceProfile"]["Arn"].endswith("instance-profile/jenkins-legacy")
    assume = roles["jenkins-legacy"]["RolePolicyList"][0]["PolicyDocument"]["Statement"][0]
    assert ids["roles"]["deploy-admin"] in assume["Resource"]
    assert f"arn:aws:iam::{PRODUCTION_ACCOUNT_ID}:role/prod-deployer" in assume["Resource"]
    deploy_admin = roles["deploy-admin"]
    assert [p["PolicyArn"] for p in deploy_admin["AttachedManagedPolicies"]] == [ADMINISTRATOR_ACCESS]
    trust = deploy_admin["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"AWS": ids["roles"]["jenkins-legacy"]}

    jenkins = instances["jenkins"]
    assert "PublicIpAddress" not in jenkins and jenkins["MetadataOptions"]["HttpTokens"] == "required"
    assert ingress("jenkins") == [(8080, [], [ids["security_groups"]["jenkins-alb"]])]
    balancer = region["load_balancers"][0]
    assert balancer["Scheme"] == "internet-facing"
    assert region["listeners"][0]["Port"] == 443
    assert region["target_groups"][0]["Targets"][0]["Target"]["Id"] == jenkins["InstanceId"]

    runner_1, runner_2 = instances["gitlab-runner-1"], instances["gitlab-runner-2"]
    assert RUNNER_TOKEN in user_data_text(runner_1) and len(RUNNER_TOKEN) == len("glrt-") + 20
    assert runner_1["MetadataOptions"]["HttpTokens"] == "optional"
    assert "glrt-" not in user_data_text(runner_2)
    assert {"PublicIpAddress"} & (runner_1.keys() | runner_2.keys()) == set()
    group = region["auto_scaling_groups"][0]
    assert group["AutoScalingGroupName"] == "gitlab-runners"
    assert {m["InstanceId"] for m in group["Instances"]} == {runner_1["InstanceId"], runner_2["InstanceId"]}

    db = instances["orders-db"]
    assert tags_of(db)["env"] == "production"
    assert ingress("orders-db") == [(5432, [], [ids["security_groups"]["gitlab-runners"]])]
    peering = region["vpc_peering_connections"][0]
    assert peering["Status"]["Code"] == "active"
    peering_routes = [
        route["DestinationCidrBlock"]
        for table in region["route_tables"]
        for route in table["Routes"]
        if route.get("VpcPeeringConnectionId") == peering["VpcPeeringConnectionId"]
    ]
    assert sorted(peering_routes) == ["10.20.0.0/16", "10.30.0.0/16"]
    nat_routes = [r for t in region["route_tables"] for r in t["Routes"] if r.get("NatGatewayId")]
    assert [r["DestinationCidrBlock"] for r in nat_routes] == [ANYWHERE]

    www = instances["www"]
    assert www["PublicIpAddress"] and ingress("www") == [(443, [ANYWHERE], [])]
    assert not {"ci-role"} & tags_of(www).keys()
    assert region["codebuild_projects"][0]["vpcConfig"]["subnets"]
    assert base64.b64decode(runner_1["UserData"])  # stored as the API's base64 text
