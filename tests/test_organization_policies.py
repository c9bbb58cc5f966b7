"""Service control policies as AWS evaluates them, on an organization in moto (in process): an
action is a power in a member account only where every level from the root through each OU to
the account has an SCP that allows it and none denies it; the management account and
service-linked roles are bound by none. Collected by the organization collector, scanned."""

from __future__ import annotations

import json

import boto3

from aws_builders import AwsBuilder, allow, deny, policy_document

from guardrails import pipeline
from guardrails.config import Config
from guardrails.normalize import normalize
from guardrails.providers.aws import organization

REGION = "eu-west-1"
ROLE = "OrganizationAccountAccessRole"


def _member(management, account: str) -> AwsBuilder:
    credentials = management.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{ROLE}", RoleSessionName="builder")["Credentials"]
    return AwsBuilder(boto3.Session(aws_access_key_id=credentials["AccessKeyId"],
                                    aws_secret_access_key=credentials["SecretAccessKey"],
                                    aws_session_token=credentials["SessionToken"], region_name=REGION))


def _runner(b: AwsBuilder, name: str, *statements: dict) -> None:
    vpc = b.vpc("10.0.0.0/16", name="ci")
    subnet = b.private_subnet(vpc, "10.0.1.0/24")
    role = b.role(name, inline_policies={"all": policy_document(*statements)})
    b.instance(name, subnet=subnet, security_groups=[b.security_group(vpc, name)], imds="required",
               instance_profile=role)


def _scp(organizations, name: str, *statements: dict) -> str:
    return organizations.create_policy(Name=name, Type="SERVICE_CONTROL_POLICY", Description=name,
                                       Content=json.dumps(policy_document(*statements)))["Policy"]["PolicySummary"]["Id"]


def test_service_control_policies_bound_members_as_allow_lists(aws, tmp_path):
    """Root: FullAWSAccess and a deny of iam:CreateUser; OU workloads: an allow-list of s3, ec2
    and sts (FullAWSAccess detached there); production in it. Runners with `*` on `*` in
    production and in the management account."""
    management = boto3.Session(region_name=REGION)
    organizations = management.client("organizations")
    organizations.create_organization(FeatureSet="ALL")
    root = organizations.list_roots()["Roots"][0]["Id"]
    organizations.enable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")
    organizations.attach_policy(PolicyId=_scp(organizations, "no-new-users", deny("iam:CreateUser")), TargetId=root)
    workloads = organizations.create_organizational_unit(ParentId=root, Name="workloads")["OrganizationalUnit"]["Id"]
    organizations.attach_policy(PolicyId=_scp(organizations, "allow-list", allow(["s3:*", "ec2:*", "sts:*"])),
                                TargetId=workloads)
    organizations.detach_policy(PolicyId="p-FullAWSAccess", TargetId=workloads)
    production = organizations.create_account(AccountName="production", Email="p@example.com")[
        "CreateAccountStatus"]["AccountId"]
    organizations.move_account(AccountId=production, SourceParentId=root, DestinationParentId=workloads)
    organizations.tag_resource(ResourceId=production, Tags=[{"Key": "environment", "Value": "production"}])

    member = _member(management, production)
    _runner(member, "gitlab-runner-p", allow("*"))
    service_linked = member.client("iam").create_service_linked_role(
        AWSServiceName="autoscaling.amazonaws.com")["Role"]
    member.client("iam").put_role_policy(RoleName=service_linked["RoleName"], PolicyName="all",
                                         PolicyDocument=json.dumps(policy_document(allow("*"))))
    _runner(AwsBuilder(management), "gitlab-runner-m", allow("*"))

    request = organization.Request(profile=None, home_region=REGION, regions=[REGION], snapshot_dir=str(tmp_path))
    snapshots, _ = organization.collect_accounts(management, request, {}, lambda _message: None)
    by_account = {s["scope"]: s for s in snapshots}
    levels = by_account[production]["account"]["organization"]["service_control_policies"]
    assert [(level["type"], sorted(p["name"] for p in level["policies"])) for level in levels] == [
        ("ROOT", ["FullAWSAccess", "no-new-users"]), ("ORGANIZATIONAL_UNIT", ["allow-list"]),
        ("ACCOUNT", ["FullAWSAccess"])]
    management_id = organizations.describe_organization()["Organization"]["MasterAccountId"]
    assert by_account[management_id]["account"]["organization"]["service_control_policies"] == []
    assert by_account[production]["account"]["organization"]["tags"] == {"environment": "production"}

    graph = normalize(snapshots)
    estate = pipeline.analyse(graph, Config())
    fired = {(f["check_id"], f["resource"]["name"]) for f in pipeline.run_checks(estate)}
    # Production's runner: iam is on no allow-list of its OU, so neither administrator nor an
    # escalation; it still changes production (the account's tag says it is production).
    assert ("ci-admin-identity", "gitlab-runner-p") not in fired
    assert ("ci-privilege-escalation", "gitlab-runner-p") not in fired
    assert ("ci-production-access", "gitlab-runner-p") in fired
    assert production in estate.production and "environment=production" in estate.production[production]
    # The management account is bound by no SCP: its runner is administrator.
    assert ("ci-admin-identity", "gitlab-runner-m") in fired
    # Nor is a service-linked role, in any account.
    assert estate.identities.facts(service_linked["Arn"]).power == "admin"


def test_role_arns_are_built_in_the_caller_s_partition(aws):
    """GovCloud and China: the organization's role ARNs follow the caller identity's partition."""
    for region, partition in (("us-gov-west-1", "aws-us-gov"), ("cn-north-1", "aws-cn")):
        session = boto3.Session(region_name=region)
        session.client("organizations").create_organization(FeatureSet="ALL")
        org = organization.describe(session, None)
        assert org.partition == partition
        member = org.members[0].id
        assert organization.role_arn(org.partition, member, ROLE) == f"arn:{partition}:iam::{member}:role/{ROLE}"
    assert organization.partition_of("arn:aws:sts::123456789012:assumed-role/r/s") == "aws"
    assert organization.partition_of("") == "aws"
