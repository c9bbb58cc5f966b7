"""Synthetic AWS estates for the benchmark, in the snapshot format (docs/snapshot-format.md).

The shapes are the API replies that normalization reads, laid out the way a large account is:

- one VPC per ~500 instances (INSTANCES_PER_VPC), each with three availability zones, a public
  subnet per zone routed to the VPC's internet gateway, private subnets (one per zone per ~450
  instances) routed to a NAT gateway in their zone, and a main route table that holds only the
  local route;
- the default network ACL (allow all) plus a custom ACL with deny rules on the private subnets and,
  in every other VPC, an edge ACL on the public subnets;
- services of ~20 instances (INSTANCES_PER_SERVICE) in tiers (web, app, worker, db, cache), each
  with its own security group: web admits its internet-facing load balancer's group (and, for some,
  443 from anywhere), app admits the internal load balancer's group and the VPC, db admits the app
  groups, workers admit SSH from office CIDRs; a shared group admits SSH from an office prefix list;
- an internet-facing ALB per web service and an internal ALB per app service, with HTTPS listeners,
  the default listener rule, target groups and their registered targets;
- ~5% CI nodes (CI_SHARE) per VPC: a Jenkins controller (`jenkins-N`; in every fourth VPC with a
  public address and 8080 open to the internet, in another quarter behind an internet-facing ALB)
  and runner pools in autoscaling groups: `gitlab-runner-N` on a GitLab runner AMI, or instances
  tagged `ci-role=runner`; CI nodes carry user data, some with a runner registration token;
- ~30% of services tagged env=production (PRODUCTION_SHARE);
- one IAM role and instance profile per application and tier (read-only or SSM, inline S3 access),
  shared by its services in every VPC as accounts usually do (at most 80 of them); per VPC a Jenkins
  role (AdministratorAccess in every third VPC, otherwise an iam:PassRole + ec2:RunInstances
  escalation set) and a runner role that may assume the production deploy role; a CodeBuild project
  with its own role in every fourth VPC;
- a VPC peering with routes both ways between VPC 3k and 3k+1.

Resources (nodes of the estate graph, the internet excluded: what `summary.resources` reports) grow
linearly with instances, about 1.14 resources per instance from 10,000 resources up:

    resources   instances   VPCs   security groups   load balancers   subnets   IAM roles
        1,000         843      2                53               26        12          40
       10,000       8,680     18               522              279       162         121
       50,000      43,773     88             2,640            1,364       792         279
      100,000      87,627    176             5,280            2,728     1,584         477

(plus per VPC 5 route tables, an internet gateway, 3 NAT gateways, 2-3 network ACLs, and a peering
per three VPCs). `resource_count(instances)` gives the exact number without building the snapshot,
and `instances_for(resources)` the smallest instance count that yields at least that many.

Beside the estate, `extra_roles` more IAM roles (Lambda service roles with an inline policy) and
`federated_roles` roles that hosted pipelines federate into (`--roles`, `--federated`): trusting
the account's OIDC providers for GitHub Actions, GitLab, Terraform Cloud and CircleCI, in the trust
shapes real accounts hold (no subject condition, `repo:*`, one owner's repositories, one
repository's branches, one pinned branch or environment), every tenth with AdministratorAccess.
Every estate has two IAM users (`terraform`, `auditor`).

Everything is a function of (instances, seed, account id, region, extra and federated roles): the
same arguments give the same snapshot, byte for byte.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import math
import random
from dataclasses import dataclass, field

from guardrails.snapshot import FORMAT as SNAPSHOT_FORMAT, VERSION as SNAPSHOT_VERSION

INSTANCES_PER_VPC = 500
INSTANCES_PER_SERVICE = 20
INSTANCES_PER_PRIVATE_SUBNET_SET = 450
CI_SHARE = 0.05
PRODUCTION_SHARE = 0.30
RUNNERS_PER_POOL = 10
ZONES = ("a", "b", "c")
TIER_CYCLE = ("web", "app", "app", "worker", "db", "app", "web", "cache", "worker", "app")
OFFICE_CIDRS = ("203.0.113.0/24", "198.51.100.0/24")
BLOCKED_CIDR = "192.0.2.0/24"
DEFAULT_ACCOUNT = "111122223333"
DEFAULT_REGION = "eu-west-1"
COLLECTED_AT = dt.datetime(2026, 11, 1, 10, 0, tzinfo=dt.timezone.utc)

AMAZON_LINUX = ("ami-0a1b2c3d4e5f60001", "al2023-ami-2023.6.20241010.0-kernel-6.1-x86_64", "137112412989")
UBUNTU = ("ami-0a1b2c3d4e5f60002", "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20241004", "099720109477")
JENKINS_AMI = ("ami-0a1b2c3d4e5f60003", "jenkins-controller-2.462.3-20241001", None)
GITLAB_RUNNER_AMI = ("ami-0a1b2c3d4e5f60004", "gitlab-runner-17.4.0-20241002", None)

INSTANCE_TYPES = {"web": "m6i.large", "app": "m6i.xlarge", "worker": "c6i.2xlarge", "db": "r6i.2xlarge",
                  "cache": "r6g.large", "jenkins": "m6i.2xlarge", "runner": "c6i.4xlarge"}
SERVICE_WORDS = ("orders", "payments", "catalog", "search", "billing", "ledger", "profile", "media", "notify",
                 "pricing", "inventory", "auth", "reports", "gateway", "events", "shipping")

READ_ONLY_DOCUMENT = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
    "ec2:Describe*", "elasticloadbalancing:Describe*", "iam:Get*", "iam:List*", "s3:Get*", "s3:List*",
    "cloudwatch:Get*", "cloudwatch:List*", "logs:Describe*", "logs:Get*", "rds:Describe*", "sqs:Get*",
    "sqs:List*", "dynamodb:Describe*", "dynamodb:List*", "lambda:Get*", "lambda:List*"]}]}
SSM_CORE_DOCUMENT = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Resource": "*", "Action": [
        "ssm:DescribeAssociation", "ssm:GetDeployablePatchSnapshotForInstance", "ssm:GetDocument",
        "ssm:DescribeDocument", "ssm:GetManifest", "ssm:GetParameter", "ssm:GetParameters", "ssm:ListAssociations",
        "ssm:ListInstanceAssociations", "ssm:PutInventory", "ssm:PutComplianceItems", "ssm:PutConfigurePackageResult",
        "ssm:UpdateAssociationStatus", "ssm:UpdateInstanceAssociationStatus", "ssm:UpdateInstanceInformation"]},
    {"Effect": "Allow", "Resource": "*", "Action": [
        "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel"]},
    {"Effect": "Allow", "Resource": "*", "Action": [
        "ec2messages:AcknowledgeMessage", "ec2messages:DeleteMessage", "ec2messages:FailMessage",
        "ec2messages:GetEndpoint", "ec2messages:GetMessages", "ec2messages:SendReply"]}]}
ADMIN_DOCUMENT = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
POWER_USER_DOCUMENT = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "NotAction": ["iam:*", "organizations:*", "account:*"], "Resource": "*"},
    {"Effect": "Allow", "Action": ["iam:CreateServiceLinkedRole", "iam:DeleteServiceLinkedRole", "iam:ListRoles",
                                   "organizations:DescribeOrganization", "account:ListRegions"], "Resource": "*"}]}
EC2_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
CODEBUILD_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


# -- layout: how many of everything, a function of the instance count alone --------------------


@dataclass
class Service:
    name: str
    tier: str
    size: int

    @property
    def role(self) -> str:
        """Services of one application share its role across VPCs, as accounts usually do."""
        return f"{self.name.rsplit('-', 1)[0]}-{self.tier}"


@dataclass
class VpcPlan:
    index: int
    instances: int
    services: list[Service] = field(default_factory=list)
    runner_pools: list[tuple[str, int]] = field(default_factory=list)  # ("gitlab" | "tagged", size)
    jenkins: int = 0
    private_per_zone: int = 1

    @property
    def name(self) -> str:
        return f"vpc{self.index:03d}"

    @property
    def jenkins_mode(self) -> str:
        """How the Jenkins controller is reached: public address, internet-facing ALB, internal ALB, none."""
        return ("public", "internet-alb", "internal-alb", "private")[self.index % 4]

    @property
    def edge_acl(self) -> bool:
        return self.index % 2 == 0

    @property
    def codebuild(self) -> bool:
        return self.index % 4 == 3

    @property
    def jenkins_admin(self) -> bool:
        return self.index % 3 == 0

    def load_balancers(self) -> int:
        count = sum(1 for s in self.services if s.tier in ("web", "app"))
        return count + (1 if self.jenkins and self.jenkins_mode in ("internet-alb", "internal-alb") else 0)

    def security_groups(self) -> int:
        # default, public ALB, internal ALB, office SSH; one per service; Jenkins and runners
        return 4 + len(self.services) + (1 if self.jenkins else 0) + (1 if self.runner_pools else 0)

    def ci_roles(self) -> int:
        return (1 if self.jenkins else 0) + (1 if self.runner_pools else 0) + (1 if self.codebuild else 0)

    def resources(self) -> int:
        subnets = len(ZONES) * (1 + self.private_per_zone)
        route_tables = 2 + len(ZONES)
        gateways = 1 + len(ZONES)
        acls = 2 + (1 if self.edge_acl else 0)
        compute = self.instances + (1 if self.codebuild else 0)
        return (1 + subnets + route_tables + gateways + acls + self.security_groups() + compute
                + self.load_balancers() + self.ci_roles())


def layout(instances: int) -> list[VpcPlan]:
    if instances < 1:
        raise ValueError("an estate needs at least one instance")
    vpcs = math.ceil(instances / INSTANCES_PER_VPC)
    plans = []
    for index in range(vpcs):
        count = instances // vpcs + (1 if index < instances % vpcs else 0)
        plan = VpcPlan(index, count, private_per_zone=max(1, math.ceil(count / INSTANCES_PER_PRIVATE_SUBNET_SET)))
        ci = round(count * CI_SHARE) if count >= 10 else 0
        if ci:
            plan.jenkins = 1
            runners = ci - 1
            pool = 0
            while runners > 0:
                size = min(RUNNERS_PER_POOL, runners)
                plan.runner_pools.append(("gitlab" if pool % 2 == 0 else "tagged", size))
                runners -= size
                pool += 1
        rest = count - ci
        n = 0
        while rest > 0:
            size = min(INSTANCES_PER_SERVICE, rest)
            word = SERVICE_WORDS[(index + n) % len(SERVICE_WORDS)]
            plan.services.append(Service(f"{word}-{n:02d}", TIER_CYCLE[n % len(TIER_CYCLE)], size))
            rest -= size
            n += 1
        plans.append(plan)
    return plans


def peer_pairs(vpcs: int) -> list[tuple[int, int]]:
    return [(i, i + 1) for i in range(0, vpcs - 1, 3)]


FEDERATION_ISSUERS = ("token.actions.githubusercontent.com", "gitlab.com", "app.terraform.io",
                      "oidc.circleci.com/org/5e2a7c10-0000-4d3c-8b1a-0123456789ab")
USERS = 2


def resource_count(instances: int, extra_roles: int = 0, federated_roles: int = 0) -> int:
    """Nodes of the estate graph, the internet excluded, that generate(instances, ...) normalizes to."""
    plans = layout(instances)
    service_roles = {service.role for plan in plans for service in plan.services}
    issuers = min(federated_roles, len(FEDERATION_ISSUERS))
    # the account, the production deploy role, the users
    return (1 + sum(p.resources() for p in plans) + len(service_roles) + len(peer_pairs(len(plans))) + 1 + USERS
            + extra_roles + federated_roles + issuers)


def instances_for(resources: int) -> int:
    """The smallest instance count whose estate has at least `resources` resources."""
    low, high = 1, max(1, resources)
    while low < high:
        mid = (low + high) // 2
        if resource_count(mid) < resources:
            low = mid + 1
        else:
            high = mid
    return low


# -- the snapshot --------------------------------------------------------------------------------


def _tags(**tags: str) -> list[dict]:
    return [{"Key": k.replace("_", ":") if k.startswith("aws_") else k, "Value": v} for k, v in tags.items()]


def _federated_trust(provider: str, url: str, n: int) -> dict:
    """One of the trust shapes real accounts hold for a hosted pipeline, by `n`."""
    subjects = {
        "token.actions.githubusercontent.com": ["repo:*", "repo:acme/*", f"repo:acme/svc-{n}:*",
                                                f"repo:acme/svc-{n}:ref:refs/heads/main",
                                                f"repo:acme/svc-{n}:environment:production"],
        "gitlab.com": ["project_path:*", "project_path:acme/*", f"project_path:acme/svc-{n}:*",
                       f"project_path:acme/svc-{n}:ref_type:branch:ref:main", "project_path:acme/platform/*"],
        "app.terraform.io": ["organization:*", "organization:acme:*",
                             f"organization:acme:project:*:workspace:svc-{n}:run_phase:*",
                             f"organization:acme:project:platform:workspace:svc-{n}:run_phase:apply",
                             "organization:acme:project:platform:*"],
    }.get(url, ["*", f"org/5e2a7c10-0000-4d3c-8b1a-0123456789ab/project/{n:08x}/user/*"])
    pick = subjects[n % len(subjects)]
    condition = {"StringEquals": {f"{url}:aud": "sts.amazonaws.com"}}
    if n % 7:  # every seventh trusts the audience alone
        condition["StringLike" if "*" in pick else "StringEquals"] = {f"{url}:sub": pick}
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Federated": provider},
                                                    "Action": "sts:AssumeRoleWithWebIdentity", "Condition": condition}]}


class _Builder:
    def __init__(self, instances: int, seed: int, account: str, region: str, extra_roles: int = 0,
                 federated_roles: int = 0) -> None:
        self.extra_roles = extra_roles
        self.federated_roles = federated_roles
        self.rng = random.Random(f"{seed}:{account}:{region}")
        self.account = account
        self.region = region
        self.plans = layout(instances)
        self.ids: set[str] = set()
        self.group_names: dict[str, str] = {}
        self.service_profiles: dict[str, str] = {}
        self.public_ips = 0
        self.instance_counter = 0
        self.data = {key: [] for key in (
            "vpcs", "subnets", "route_tables", "internet_gateways", "egress_only_internet_gateways", "nat_gateways",
            "network_acls", "security_groups", "managed_prefix_lists", "network_interfaces", "images", "instances",
            "load_balancers", "listeners", "listener_rules", "target_groups", "classic_load_balancers",
            "auto_scaling_groups", "codebuild_projects", "vpc_peering_connections", "transit_gateway_attachments",
            "transit_gateway_route_tables")}
        self.iam = {"roles": [], "policies": [], "instance_profiles": [], "users": []}

    # ids and addresses

    def id(self, prefix: str, digits: int = 17) -> str:
        while True:
            value = f"{prefix}-{self.rng.getrandbits(4 * digits):0{digits}x}"
            if value not in self.ids:
                self.ids.add(value)
                return value

    def hex(self, digits: int = 16) -> str:
        return f"{self.rng.getrandbits(4 * digits):0{digits}x}"

    def public_ip(self) -> str:
        self.public_ips += 1
        return str(ipaddress.IPv4Address("52.16.0.0") + self.public_ips)

    def time(self, days_ago: float) -> str:
        return (COLLECTED_AT - dt.timedelta(days=days_ago)).isoformat().replace("+00:00", "Z")

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"

    # the whole snapshot

    def build(self) -> dict:
        self._prefix_lists()
        self._images()
        self._iam_shared()
        networks = [self._vpc(plan) for plan in self.plans]
        self._peerings(networks)
        self._extra_roles()
        return {
            "format": SNAPSHOT_FORMAT,
            "version": SNAPSHOT_VERSION,
            "tool_version": "0.1.0",
            "collected_at": COLLECTED_AT.isoformat().replace("+00:00", "Z"),
            "provider": "aws",
            "source": "aws",
            "scope": self.account,
            "account": {"id": self.account, "aliases": [f"acme-platform-{self.account[-4:]}"]},
            "regions": {self.region: self.data},
            "iam": self.iam,
            "gaps": [],
        }

    def _prefix_lists(self) -> None:
        self.office_pl = self.id("pl", 17)
        self.data["managed_prefix_lists"] += [
            {"PrefixListId": self.office_pl, "AddressFamily": "IPv4", "State": "create-complete",
             "PrefixListArn": self.arn("ec2", f"prefix-list/{self.office_pl}"), "PrefixListName": "office-ranges",
             "MaxEntries": 10, "Version": 3, "Tags": _tags(Name="office-ranges"), "OwnerId": self.account,
             "Entries": [{"Cidr": c, "Description": f"office {n}"} for n, c in enumerate(OFFICE_CIDRS, 1)]},
            {"PrefixListId": self.id("pl", 8), "AddressFamily": "IPv4", "State": "create-complete",
             "PrefixListArn": f"arn:aws:ec2:{self.region}:aws:prefix-list/pl-s3",
             "PrefixListName": f"com.amazonaws.{self.region}.s3", "Tags": [], "OwnerId": "AWS",
             "Entries": [{"Cidr": "52.218.0.0/17"}, {"Cidr": "3.5.64.0/21"}, {"Cidr": "3.5.72.0/23"}]},
        ]

    def _images(self) -> None:
        for image_id, name, owner in (AMAZON_LINUX, UBUNTU, JENKINS_AMI, GITLAB_RUNNER_AMI):
            self.data["images"].append({
                "ImageId": image_id, "Name": name, "Description": name, "OwnerId": owner or self.account,
                "Architecture": "x86_64", "CreationDate": self.time(60), "Public": owner is not None,
                "ImageType": "machine", "State": "available", "RootDeviceType": "ebs", "RootDeviceName": "/dev/xvda",
                "VirtualizationType": "hvm", "PlatformDetails": "Linux/UNIX", "EnaSupport": True})

    # IAM

    def _policy(self, name: str, document: dict, aws_managed: bool) -> str:
        arn = f"arn:aws:iam::aws:policy/{name}" if aws_managed else f"arn:aws:iam::{self.account}:policy/{name}"
        self.iam["policies"].append({
            "PolicyName": name, "PolicyId": "ANPA" + self.hex(17).upper(), "Arn": arn, "Path": "/",
            "DefaultVersionId": "v1", "AttachmentCount": 1, "IsAttachable": True, "CreateDate": self.time(900),
            "UpdateDate": self.time(300),
            "PolicyVersionList": [{"Document": document, "VersionId": "v1", "IsDefaultVersion": True,
                                   "CreateDate": self.time(300)}]})
        return arn

    def _iam_shared(self) -> None:
        self.policies = {
            "admin": self._policy("AdministratorAccess", ADMIN_DOCUMENT, True),
            "read_only": self._policy("ReadOnlyAccess", READ_ONLY_DOCUMENT, True),
            "ssm": self._policy("AmazonSSMManagedInstanceCore", SSM_CORE_DOCUMENT, True),
            "power": self._policy("PowerUserAccess", POWER_USER_DOCUMENT, True),
            "ci_deploy": self._policy("ci-deploy", {"Version": "2012-10-17", "Statement": [
                {"Sid": "LaunchBuildHosts", "Effect": "Allow", "Resource": "*",
                 "Action": ["ec2:RunInstances", "ec2:CreateTags", "ec2:DescribeInstances", "iam:PassRole"]},
                {"Sid": "Artifacts", "Effect": "Allow", "Resource": "arn:aws:s3:::acme-artifacts/*",
                 "Action": ["s3:GetObject", "s3:PutObject"]}]}, False),
        }
        self.deploy_role = f"arn:aws:iam::{self.account}:role/deploy-production"
        self._role("deploy-production", {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{self.account}:root"}, "Action": "sts:AssumeRole"}]},
            managed=[("PowerUserAccess", self.policies["power"])], tags={"env": "production"}, profile=False)
        self.iam["users"] += [
            {"UserName": "terraform", "UserId": "AIDA" + self.hex(17).upper(), "Path": "/",
             "Arn": f"arn:aws:iam::{self.account}:user/terraform", "CreateDate": self.time(1200),
             "UserPolicyList": [], "GroupList": ["admins"], "Tags": [],
             "AttachedManagedPolicies": [{"PolicyName": "AdministratorAccess", "PolicyArn": self.policies["admin"]}]},
            {"UserName": "auditor", "UserId": "AIDA" + self.hex(17).upper(), "Path": "/",
             "Arn": f"arn:aws:iam::{self.account}:user/auditor", "CreateDate": self.time(800),
             "UserPolicyList": [], "GroupList": [], "Tags": [],
             "AttachedManagedPolicies": [{"PolicyName": "ReadOnlyAccess", "PolicyArn": self.policies["read_only"]}]}]

    def _role(self, name: str, trust: dict, *, managed=(), inline=(), tags=None, profile: bool = True) -> str:
        arn = f"arn:aws:iam::{self.account}:role/{name}"
        profiles = []
        if profile:
            profile_arn = f"arn:aws:iam::{self.account}:instance-profile/{name}"
            profiles = [{"Path": "/", "InstanceProfileName": name, "InstanceProfileId": "AIPA" + self.hex(17).upper(),
                         "Arn": profile_arn, "CreateDate": self.time(400),
                         "Roles": [{"Path": "/", "RoleName": name, "RoleId": "AROA" + self.hex(17).upper(),
                                    "Arn": arn, "CreateDate": self.time(400), "AssumeRolePolicyDocument": trust}]}]
            self.iam["instance_profiles"] += profiles
        self.iam["roles"].append({
            "Path": "/", "RoleName": name, "RoleId": "AROA" + self.hex(17).upper(), "Arn": arn,
            "CreateDate": self.time(400), "AssumeRolePolicyDocument": trust,
            "InstanceProfileList": [{k: v for k, v in p.items() if k != "Roles"} for p in profiles],
            "RolePolicyList": [{"PolicyName": n, "PolicyDocument": d} for n, d in inline],
            "AttachedManagedPolicies": [{"PolicyName": n, "PolicyArn": a} for n, a in managed],
            "Tags": _tags(**(tags or {})), "RoleLastUsed": {"LastUsedDate": self.time(1), "Region": self.region}})
        return f"arn:aws:iam::{self.account}:instance-profile/{name}"

    def _extra_roles(self) -> None:
        lambda_trust = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
        for n in range(self.extra_roles):
            self._role(f"fn-{n:05d}", lambda_trust, profile=False, inline=[("logs", {
                "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*",
                                                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"]}]})])
        if not self.federated_roles:
            return
        providers = []
        for url in FEDERATION_ISSUERS[:self.federated_roles]:
            arn = f"arn:aws:iam::{self.account}:oidc-provider/{url}"
            providers.append((arn, url))
            self.iam.setdefault("oidc_providers", []).append({
                "Arn": arn, "Url": url, "ClientIDList": ["sts.amazonaws.com"],
                "ThumbprintList": ["6938fd4d98bab03faadb97b34396831e3780aea1"], "Tags": []})
        for n in range(self.federated_roles):
            arn, url = providers[n % len(providers)]
            managed = [("AdministratorAccess", self.policies["admin"])] if n % 10 == 0 else []
            inline = [] if managed else [("deploy", {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Resource": f"arn:aws:s3:::acme-svc-{n}/*", "Action": ["s3:PutObject"]}]})]
            self._role(f"pipeline-{n:04d}", _federated_trust(arn, url, n), managed=managed, inline=inline,
                       profile=False)

    # one VPC with everything in it

    def _vpc(self, plan: VpcPlan) -> dict:
        d = self.data
        vpc_id = self.id("vpc")
        octet = plan.index % 250
        cidr = f"10.{octet}.0.0/16"
        d["vpcs"].append({
            "CidrBlock": cidr, "DhcpOptionsId": "dopt-0aa1bb2cc3dd4ee5f", "State": "available", "VpcId": vpc_id,
            "OwnerId": self.account, "InstanceTenancy": "default", "IsDefault": False,
            "CidrBlockAssociationSet": [{"AssociationId": self.id("vpc-cidr-assoc"), "CidrBlock": cidr,
                                         "CidrBlockState": {"State": "associated"}}],
            "Tags": _tags(Name=plan.name, team=SERVICE_WORDS[plan.index % len(SERVICE_WORDS)])})
        net = {"plan": plan, "vpc": vpc_id, "cidr": cidr, "public": [], "private": [], "next_ip": {},
               "route_tables": []}
        for z, zone in enumerate(ZONES):
            net["public"].append(self._subnet(net, f"10.{octet}.{4 * z}.0/22", zone, public=True))
        for z, zone in enumerate(ZONES):
            for k in range(plan.private_per_zone):
                net["private"].append(self._subnet(net, f"10.{octet}.{16 * (1 + z * plan.private_per_zone + k)}.0/20",
                                                   zone, public=False))
        self._gateways_and_routes(net)
        self._acls(net)
        self._security_groups(net)
        self._workloads(net)
        return net

    def _subnet(self, net: dict, cidr: str, zone: str, public: bool) -> dict:
        subnet_id = self.id("subnet")
        az = f"{self.region}{zone}"
        network = ipaddress.IPv4Network(cidr)
        self.data["subnets"].append({
            "AvailabilityZone": az, "AvailabilityZoneId": f"euw1-az{ZONES.index(zone) + 1}",
            "AvailableIpAddressCount": network.num_addresses - 5, "CidrBlock": cidr, "DefaultForAz": False,
            "MapPublicIpOnLaunch": public, "State": "available", "SubnetId": subnet_id, "VpcId": net["vpc"],
            "OwnerId": self.account, "AssignIpv6AddressOnCreation": False, "Ipv6CidrBlockAssociationSet": [],
            "SubnetArn": self.arn("ec2", f"subnet/{subnet_id}"),
            "Tags": _tags(Name=f"{net['plan'].name}-{'public' if public else 'private'}-{zone}",
                          tier="public" if public else "private")})
        net["next_ip"][subnet_id] = (int(network.network_address) + 4, network)
        return {"id": subnet_id, "zone": zone, "cidr": cidr}

    def ip_in(self, net: dict, subnet: dict) -> str:
        value, network = net["next_ip"][subnet["id"]]
        net["next_ip"][subnet["id"]] = (value + 1, network)
        address = ipaddress.IPv4Address(value)
        if address not in network:
            raise ValueError(f"subnet {subnet['cidr']} is full")
        return str(address)

    def _route_table(self, net: dict, name: str, routes: list[dict], subnets: list[str], main: bool = False) -> dict:
        rt_id = self.id("rtb")
        associations = []
        if main:
            associations.append({"Main": True, "RouteTableAssociationId": self.id("rtbassoc"), "RouteTableId": rt_id,
                                 "AssociationState": {"State": "associated"}})
        for subnet in subnets:
            associations.append({"Main": False, "RouteTableAssociationId": self.id("rtbassoc"), "RouteTableId": rt_id,
                                 "SubnetId": subnet, "AssociationState": {"State": "associated"}})
        local = {"DestinationCidrBlock": net["cidr"], "GatewayId": "local", "Origin": "CreateRouteTable",
                 "State": "active"}
        table = {"Associations": associations, "PropagatingVgws": [], "RouteTableId": rt_id,
                 "Routes": [local] + routes, "Tags": _tags(Name=name), "VpcId": net["vpc"], "OwnerId": self.account}
        self.data["route_tables"].append(table)
        net["route_tables"].append(table)
        return table

    def _gateways_and_routes(self, net: dict) -> None:
        d, plan = self.data, net["plan"]
        igw = self.id("igw")
        d["internet_gateways"].append({"Attachments": [{"State": "available", "VpcId": net["vpc"]}],
                                       "InternetGatewayId": igw, "OwnerId": self.account,
                                       "Tags": _tags(Name=f"{plan.name}-igw")})
        self._route_table(net, f"{plan.name}-main", [], [], main=True)
        self._route_table(net, f"{plan.name}-public",
                          [{"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": igw, "Origin": "CreateRoute",
                            "State": "active"}], [s["id"] for s in net["public"]])
        for z, zone in enumerate(ZONES):
            public = net["public"][z]
            nat = self.id("nat")
            eni = self.id("eni")
            private_ip, public_ip = self.ip_in(net, public), self.public_ip()
            d["nat_gateways"].append({
                "CreateTime": self.time(500), "NatGatewayAddresses": [
                    {"AllocationId": self.id("eipalloc"), "NetworkInterfaceId": eni, "PrivateIp": private_ip,
                     "PublicIp": public_ip, "IsPrimary": True, "Status": "succeeded"}],
                "NatGatewayId": nat, "State": "available", "SubnetId": public["id"], "VpcId": net["vpc"],
                "ConnectivityType": "public", "Tags": _tags(Name=f"{plan.name}-nat-{zone}")})
            self._eni(net, public, eni, private_ip, public_ip, [], None, "nat_gateway",
                      f"Interface for NAT Gateway {nat}", requester_managed=True)
            self._route_table(net, f"{plan.name}-private-{zone}",
                              [{"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": nat, "Origin": "CreateRoute",
                                "State": "active"}],
                              [s["id"] for s in net["private"] if s["zone"] == zone])

    def _acls(self, net: dict) -> None:
        plan = net["plan"]

        def entry(number, action, egress, cidr="0.0.0.0/0", protocol="-1", ports=None):
            item = {"CidrBlock": cidr, "Egress": egress, "Protocol": protocol, "RuleAction": action, "RuleNumber": number}
            if ports:
                item["PortRange"] = {"From": ports[0], "To": ports[1]}
            return item

        def acl(name, default, subnets, ingress):
            acl_id = self.id("acl")
            entries = [entry(100, "allow", True), entry(32767, "deny", True)] + ingress + [entry(32767, "deny", False)]
            self.data["network_acls"].append({
                "Associations": [{"NetworkAclAssociationId": self.id("aclassoc"), "NetworkAclId": acl_id, "SubnetId": s}
                                 for s in subnets],
                "Entries": entries, "IsDefault": default, "NetworkAclId": acl_id, "Tags": _tags(Name=name),
                "VpcId": net["vpc"], "OwnerId": self.account})

        public = [s["id"] for s in net["public"]]
        private = [s["id"] for s in net["private"]]
        acl(f"{plan.name}-default", True, [] if plan.edge_acl else public, [entry(100, "allow", False)])
        acl(f"{plan.name}-private", False, private, [
            entry(50, "deny", False, "0.0.0.0/0", "6", (3389, 3389)),
            entry(60, "deny", False, BLOCKED_CIDR),
            entry(100, "allow", False, "10.0.0.0/8"),
            entry(110, "allow", False, "0.0.0.0/0", "6", (1024, 65535)),
            entry(120, "allow", False, "0.0.0.0/0", "17", (1024, 65535))])
        if plan.edge_acl:
            acl(f"{plan.name}-edge", False, public, [
                entry(40, "deny", False, BLOCKED_CIDR),
                entry(100, "allow", False, "0.0.0.0/0", "6", (443, 443)),
                entry(110, "allow", False, "0.0.0.0/0", "6", (80, 80)),
                entry(120, "allow", False, OFFICE_CIDRS[0], "6", (22, 22)),
                entry(130, "allow", False, "0.0.0.0/0", "6", (8080, 8080)),
                entry(140, "allow", False, "10.0.0.0/8"),
                entry(150, "allow", False, "0.0.0.0/0", "6", (1024, 65535))])

    def _group(self, net: dict, name: str, description: str, ingress: list[dict], tags: dict | None = None) -> str:
        group_id = self.id("sg")
        self.group_names[group_id] = name
        self.data["security_groups"].append({
            "Description": description, "GroupName": name, "IpPermissions": ingress, "OwnerId": self.account,
            "GroupId": group_id, "VpcId": net["vpc"], "Tags": _tags(**(tags or {"Name": name})),
            "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [],
                                     "PrefixListIds": [], "UserIdGroupPairs": []}]})
        return group_id

    @staticmethod
    def _perm(protocol: str, low: int | None, high: int | None, cidrs=(), groups=(), prefix_lists=(),
              v6=(), owner: str = "") -> dict:
        perm = {"IpProtocol": protocol,
                "IpRanges": [{"CidrIp": c, "Description": "office" if c in OFFICE_CIDRS else ""} for c in cidrs],
                "Ipv6Ranges": [{"CidrIpv6": c} for c in v6],
                "PrefixListIds": [{"PrefixListId": p} for p in prefix_lists],
                "UserIdGroupPairs": [{"GroupId": g, "UserId": owner} for g in groups]}
        if low is not None:
            perm["FromPort"], perm["ToPort"] = low, high
        return perm

    def _security_groups(self, net: dict) -> None:
        plan, perm, owner = net["plan"], self._perm, self.account
        groups = net["groups"] = {}
        default = self.id("sg")
        self.group_names[default] = "default"
        self.data["security_groups"].append({
            "Description": "default VPC security group", "GroupName": "default", "OwnerId": owner, "GroupId": default,
            "VpcId": net["vpc"], "Tags": [],
            "IpPermissions": [perm("-1", None, None, groups=[default], owner=owner)],
            "IpPermissionsEgress": [perm("-1", None, None, cidrs=["0.0.0.0/0"])]})
        groups["alb-public"] = self._group(net, f"{plan.name}-alb-public", "public load balancers", [
            perm("tcp", 443, 443, cidrs=["0.0.0.0/0"], v6=["::/0"]), perm("tcp", 80, 80, cidrs=["0.0.0.0/0"])])
        groups["alb-internal"] = self._group(net, f"{plan.name}-alb-internal", "internal load balancers", [
            perm("tcp", 443, 443, cidrs=[net["cidr"]])])
        groups["office-ssh"] = self._group(net, f"{plan.name}-office-ssh", "SSH from the offices", [
            perm("tcp", 22, 22, prefix_lists=[self.office_pl])])
        app_groups = []
        for n, service in enumerate(plan.services):
            name = f"{plan.name}-{service.name}"
            if service.tier == "web":
                ingress = [perm("tcp", 80, 80, groups=[groups["alb-public"]], owner=owner)]
                if n % 3 == 0:
                    ingress.append(perm("tcp", 443, 443, cidrs=["0.0.0.0/0"]))
            elif service.tier == "app":
                ingress = [perm("tcp", 8080, 8080, groups=[groups["alb-internal"]], owner=owner),
                           perm("tcp", 8080, 8080, cidrs=[net["cidr"]])]
            elif service.tier == "worker":
                ingress = [perm("tcp", 22, 22, cidrs=list(OFFICE_CIDRS))]
            elif service.tier == "db":
                ingress = [perm("tcp", 5432, 5432, groups=app_groups[-3:] or [groups["alb-internal"]], owner=owner),
                           perm("tcp", 22, 22, cidrs=[net["cidr"]])]
            else:
                ingress = [perm("tcp", 6379, 6379, cidrs=[net["cidr"]])]
            groups[service.name] = self._group(net, name, f"{service.tier} tier of {service.name}", ingress,
                                               {"Name": name, "tier": service.tier})
            if service.tier == "app":
                app_groups.append(groups[service.name])
        if plan.runner_pools:
            groups["runner"] = self._group(net, f"{plan.name}-ci-runners", "CI runners", [])
        if plan.jenkins:
            ingress = [perm("tcp", 22, 22, prefix_lists=[self.office_pl])]
            if plan.jenkins_mode == "public":
                ingress.append(perm("tcp", 8080, 8080, cidrs=["0.0.0.0/0"]))
            else:
                alb = groups["alb-public" if plan.jenkins_mode == "internet-alb" else "alb-internal"]
                ingress.append(perm("tcp", 8080, 8080, groups=[alb], owner=owner))
            if plan.runner_pools:
                ingress.append(perm("tcp", 50000, 50000, groups=[groups["runner"]], owner=owner))
            groups["jenkins"] = self._group(net, f"{plan.name}-jenkins", "Jenkins controller", ingress)
        if plan.runner_pools:
            runner = next(g for g in self.data["security_groups"] if g["GroupId"] == groups["runner"])
            if plan.jenkins:
                runner["IpPermissions"].append(perm("tcp", 22, 22, groups=[groups["jenkins"]], owner=owner))

    # instances, load balancers, roles

    def _eni(self, net: dict, subnet: dict, eni_id: str, private_ip: str, public_ip: str | None, groups: list[str],
             instance: str | None, interface_type: str, description: str, requester_managed: bool = False) -> dict:
        mac = ":".join(f"{self.rng.getrandbits(8):02x}" for _ in range(5))
        association = None
        if public_ip:
            association = {"IpOwnerId": "amazon", "PublicDnsName": f"ec2-{public_ip.replace('.', '-')}.{self.region}.compute.amazonaws.com",
                           "PublicIp": public_ip}
        private_dns = f"ip-{private_ip.replace('.', '-')}.{self.region}.compute.internal"
        address = {"Primary": True, "PrivateDnsName": private_dns, "PrivateIpAddress": private_ip}
        if association:
            address["Association"] = association
        eni = {
            "AvailabilityZone": f"{self.region}{subnet['zone']}", "Description": description,
            "Groups": [{"GroupId": g, "GroupName": self.group_names[g]} for g in groups], "InterfaceType": interface_type,
            "Ipv6Addresses": [], "MacAddress": f"02:{mac}", "NetworkInterfaceId": eni_id, "OwnerId": self.account,
            "PrivateDnsName": private_dns, "PrivateIpAddress": private_ip, "PrivateIpAddresses": [address],
            "RequesterManaged": requester_managed, "SourceDestCheck": interface_type != "nat_gateway",
            "Status": "in-use", "SubnetId": subnet["id"], "TagSet": [], "VpcId": net["vpc"]}
        if association:
            eni["Association"] = association
        eni["Attachment"] = {"AttachTime": self.time(30), "AttachmentId": self.id("eni-attach"),
                             "DeleteOnTermination": True, "DeviceIndex": 0 if instance else 1, "NetworkCardIndex": 0,
                             "Status": "attached", "InstanceOwnerId": self.account if instance else "amazon-aws"}
        if instance:
            eni["Attachment"]["InstanceId"] = instance
        self.data["network_interfaces"].append(eni)
        return eni

    def _instance(self, net: dict, subnet: dict, name: str, kind: str, groups: list[str], profile: str | None,
                  tags: dict, *, public: bool, image: tuple, asg: str | None = None, user_data: str | None = None,
                  imds_v1: bool = False, hop_limit: int = 1, age_days: float = 30.0) -> str:
        instance_id = self.id("i")
        eni_id = self.id("eni")
        private_ip = self.ip_in(net, subnet)
        public_ip = self.public_ip() if public else None
        eni = self._eni(net, subnet, eni_id, private_ip, public_ip, groups, instance_id, "interface", "")
        embedded = {k: eni[k] for k in ("Description", "Groups", "Ipv6Addresses", "MacAddress", "NetworkInterfaceId",
                                        "OwnerId", "PrivateDnsName", "PrivateIpAddress", "PrivateIpAddresses",
                                        "SourceDestCheck", "Status", "SubnetId", "VpcId", "InterfaceType")}
        embedded["Attachment"] = {k: v for k, v in eni["Attachment"].items() if k not in ("InstanceId", "InstanceOwnerId")}
        if public_ip:
            embedded["Association"] = eni["Association"]
        all_tags = dict(Name=name, **tags)
        if asg:
            all_tags["aws_autoscaling_groupName"] = asg
        item = {
            "AmiLaunchIndex": 0, "ImageId": image[0], "InstanceId": instance_id, "InstanceType": INSTANCE_TYPES[kind],
            "LaunchTime": self.time(age_days), "Monitoring": {"State": "disabled"},
            "Placement": {"AvailabilityZone": f"{self.region}{subnet['zone']}", "GroupName": "", "Tenancy": "default"},
            "PrivateDnsName": eni["PrivateDnsName"], "PrivateIpAddress": private_ip,
            "PublicDnsName": eni["Association"]["PublicDnsName"] if public_ip else "",
            "State": {"Code": 16, "Name": "running"}, "SubnetId": subnet["id"], "VpcId": net["vpc"],
            "Architecture": "x86_64",
            "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {
                "AttachTime": self.time(age_days), "DeleteOnTermination": True, "Status": "attached",
                "VolumeId": self.id("vol")}}],
            "EbsOptimized": True, "EnaSupport": True, "Hypervisor": "xen",
            "NetworkInterfaces": [embedded], "RootDeviceName": "/dev/xvda", "RootDeviceType": "ebs",
            "SecurityGroups": [{"GroupId": g, "GroupName": self.group_names[g]} for g in groups], "SourceDestCheck": True,
            "Tags": _tags(**all_tags), "VirtualizationType": "hvm", "CpuOptions": {"CoreCount": 2, "ThreadsPerCore": 2},
            "MetadataOptions": {"State": "applied", "HttpTokens": "optional" if imds_v1 else "required",
                                "HttpPutResponseHopLimit": hop_limit, "HttpEndpoint": "enabled",
                                "HttpProtocolIpv6": "disabled", "InstanceMetadataTags": "disabled"},
            "PlatformDetails": "Linux/UNIX", "UsageOperation": "RunInstances"}
        if public_ip:
            item["PublicIpAddress"] = public_ip
        if profile:
            item["IamInstanceProfile"] = {"Arn": profile, "Id": "AIPA" + self.hex(17).upper()}
        if user_data is not None:
            item["UserData"] = base64.b64encode(user_data.encode()).decode()
        self.data["instances"].append(item)
        return instance_id

    @staticmethod
    def _one_per_zone(subnets: list[dict]) -> list[dict]:
        return list({s["zone"]: s for s in reversed(subnets)}.values())[::-1]

    def _load_balancer(self, net: dict, name: str, internet_facing: bool, group: str, port: int,
                       targets: list[str], target_port: int) -> None:
        d = self.data
        lb_hex = self.hex()
        lb_arn = self.arn("elasticloadbalancing", f"loadbalancer/app/{name}/{lb_hex}")
        subnets = net["public"] if internet_facing else self._one_per_zone(net["private"])
        zones = []
        for subnet in subnets:
            zones.append({"ZoneName": f"{self.region}{subnet['zone']}", "SubnetId": subnet["id"],
                          "LoadBalancerAddresses": []})
            eni_ip = self.ip_in(net, subnet)
            self._eni(net, subnet, self.id("eni"), eni_ip, self.public_ip() if internet_facing else None, [group],
                      None, "interface", f"ELB app/{name}/{lb_hex}", requester_managed=True)
        d["load_balancers"].append({
            "LoadBalancerArn": lb_arn, "DNSName": f"{'internal-' if not internet_facing else ''}{name}-{lb_hex[:10]}.{self.region}.elb.amazonaws.com",
            "CanonicalHostedZoneId": "Z32O12XQLNTSW2", "CreatedTime": self.time(200), "LoadBalancerName": name,
            "Scheme": "internet-facing" if internet_facing else "internal", "VpcId": net["vpc"],
            "State": {"Code": "active"}, "Type": "application", "AvailabilityZones": zones,
            "SecurityGroups": [group], "IpAddressType": "ipv4"})
        tg_arn = self.arn("elasticloadbalancing", f"targetgroup/{name}/{self.hex()}")
        d["target_groups"].append({
            "TargetGroupArn": tg_arn, "TargetGroupName": name, "Protocol": "HTTP", "Port": target_port,
            "VpcId": net["vpc"], "HealthCheckProtocol": "HTTP", "HealthCheckPort": "traffic-port",
            "HealthCheckEnabled": True, "HealthCheckIntervalSeconds": 30, "HealthCheckTimeoutSeconds": 5,
            "HealthyThresholdCount": 5, "UnhealthyThresholdCount": 2, "HealthCheckPath": "/health",
            "Matcher": {"HttpCode": "200"}, "LoadBalancerArns": [lb_arn], "TargetType": "instance",
            "ProtocolVersion": "HTTP1", "IpAddressType": "ipv4",
            "Targets": [{"Target": {"Id": t, "Port": target_port}, "HealthCheckPort": str(target_port),
                         "TargetHealth": {"State": "healthy"}} for t in targets]})
        listener_hex = self.hex()
        listener_arn = self.arn("elasticloadbalancing", f"listener/app/{name}/{lb_hex}/{listener_hex}")
        forward = [{"Type": "forward", "TargetGroupArn": tg_arn, "Order": 1,
                    "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": tg_arn, "Weight": 1}],
                                      "TargetGroupStickinessConfig": {"Enabled": False}}}]
        d["listeners"].append({
            "ListenerArn": listener_arn, "LoadBalancerArn": lb_arn, "Port": port, "Protocol": "HTTPS",
            "Certificates": [{"CertificateArn": self.arn("acm", f"certificate/{self.hex(8)}-{self.hex(4)}-{self.hex(4)}-{self.hex(4)}-{self.hex(12)}")}],
            "SslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06", "DefaultActions": forward})
        d["listener_rules"].append({
            "RuleArn": self.arn("elasticloadbalancing", f"listener-rule/app/{name}/{lb_hex}/{listener_hex}/{self.hex()}"),
            "Priority": "default", "Conditions": [], "Actions": forward, "IsDefault": True,
            "ListenerArn": listener_arn})
        if internet_facing:
            d["listeners"].append({
                "ListenerArn": self.arn("elasticloadbalancing", f"listener/app/{name}/{lb_hex}/{self.hex()}"),
                "LoadBalancerArn": lb_arn, "Port": 80, "Protocol": "HTTP",
                "DefaultActions": [{"Type": "redirect", "Order": 1, "RedirectConfig": {
                    "Protocol": "HTTPS", "Port": "443", "Host": "#{host}", "Path": "/#{path}", "Query": "#{query}",
                    "StatusCode": "HTTP_301"}}]})

    def _workloads(self, net: dict) -> None:
        plan, groups, rng = net["plan"], net["groups"], self.rng
        private = net["private"]
        for n, service in enumerate(plan.services):
            env = "production" if rng.random() < PRODUCTION_SHARE else rng.choice(("staging", "development"))
            tags = {"env": env, "service": service.name, "tier": service.tier}
            members = [groups[service.name]] + ([groups["office-ssh"]] if n % 2 == 0 else [])
            asg = f"{plan.name}-{service.name}" if service.tier == "worker" else None
            ids = []
            for k in range(service.size):
                if service.tier == "web":
                    subnet, public = net["public"][k % len(ZONES)], rng.random() < 0.3
                else:
                    subnet, public = private[k % len(private)], False
                ids.append(self._instance(net, subnet, f"{service.name}-{k:02d}", service.tier, members,
                                          self._service_role(service.role), tags, public=public,
                                          image=AMAZON_LINUX if n % 3 else UBUNTU, asg=asg,
                                          imds_v1=rng.random() < 0.2, age_days=rng.uniform(1, 400)))
            if asg:
                self._asg(net, asg, ids, tags)
            if service.tier == "web":
                self._load_balancer(net, f"{plan.name}-{service.name}"[:32], True, groups["alb-public"], 443, ids, 80)
            elif service.tier == "app":
                self._load_balancer(net, f"{plan.name}-{service.name}-int"[:32], False, groups["alb-internal"], 443,
                                    ids, 8080)
        self._ci(net)

    def _service_role(self, name: str) -> str:
        if name not in self.service_profiles:
            inline = [("s3-data", {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
                 "Resource": f"arn:aws:s3:::acme-{name}-data/*"}]})]
            managed = [("AmazonSSMManagedInstanceCore", self.policies["ssm"])]
            if len(self.service_profiles) % 2 == 0:
                managed.append(("ReadOnlyAccess", self.policies["read_only"]))
            self.service_profiles[name] = self._role(name, EC2_TRUST, managed=managed, inline=inline)
        return self.service_profiles[name]

    def _asg(self, net: dict, name: str, ids: list[str], tags: dict) -> None:
        self.data["auto_scaling_groups"].append({
            "AutoScalingGroupName": name,
            "AutoScalingGroupARN": self.arn("autoscaling", f"autoScalingGroup:{self.hex(8)}-{self.hex(4)}-{self.hex(4)}-"
                                                           f"{self.hex(4)}-{self.hex(12)}:autoScalingGroupName/{name}"),
            "LaunchTemplate": {"LaunchTemplateId": self.id("lt"), "LaunchTemplateName": name, "Version": "$Latest"},
            "MinSize": 0, "MaxSize": max(len(ids) * 2, 1), "DesiredCapacity": len(ids), "DefaultCooldown": 300,
            "AvailabilityZones": [f"{self.region}{z}" for z in ZONES], "HealthCheckType": "EC2",
            "Instances": [{"InstanceId": i, "AvailabilityZone": f"{self.region}a", "LifecycleState": "InService",
                           "HealthStatus": "Healthy", "ProtectedFromScaleIn": False} for i in ids],
            "VPCZoneIdentifier": ",".join(s["id"] for s in self._one_per_zone(net["private"])),
            "Tags": [{"ResourceId": name, "ResourceType": "auto-scaling-group", "Key": k, "Value": v,
                      "PropagateAtLaunch": True} for k, v in tags.items()],
            "CreatedTime": self.time(300)})

    def _ci(self, net: dict) -> None:
        plan, groups, rng = net["plan"], net["groups"], self.rng
        ci_tags = {"env": "tools", "team": "platform"}
        if plan.jenkins:
            if plan.jenkins_admin:
                managed, inline = [("AdministratorAccess", self.policies["admin"])], []
            else:
                managed, inline = [("ci-deploy", self.policies["ci_deploy"])], []
            profile = self._role(f"{plan.name}-jenkins", EC2_TRUST, managed=managed, inline=inline, tags=ci_tags)
            self.instance_counter += 1
            public = plan.jenkins_mode == "public"
            subnet = net["public"][0] if public else net["private"][0]
            script = "#!/bin/bash\nsystemctl enable --now jenkins\n"
            jenkins = self._instance(net, subnet, f"jenkins-{self.instance_counter}", "jenkins", [groups["jenkins"]],
                                     profile, ci_tags, public=public, image=JENKINS_AMI, user_data=script,
                                     imds_v1=plan.index % 5 == 0, age_days=rng.uniform(100, 700))
            if plan.jenkins_mode in ("internet-alb", "internal-alb"):
                internet = plan.jenkins_mode == "internet-alb"
                self._load_balancer(net, f"{plan.name}-jenkins", internet,
                                    groups["alb-public" if internet else "alb-internal"], 443, [jenkins], 8080)
        if plan.runner_pools:
            profile = self._role(f"{plan.name}-ci-runner", EC2_TRUST, tags=ci_tags, inline=[
                ("deploy", {"Version": "2012-10-17", "Statement": [
                    {"Sid": "AssumeDeploy", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": self.deploy_role},
                    {"Sid": "Cache", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
                     "Resource": "arn:aws:s3:::acme-build-cache/*"}]})])
            for p, (kind, size) in enumerate(plan.runner_pools):
                asg = f"{plan.name}-{'gitlab-runner' if kind == 'gitlab' else 'ephemeral'}-{p}"
                tags = dict(ci_tags, **({"ci-role": "runner"} if kind == "tagged" else {}))
                ids = []
                for k in range(size):
                    self.instance_counter += 1
                    name = f"{'gitlab-runner' if kind == 'gitlab' else 'ephemeral'}-{self.instance_counter}"
                    token = f"glrt-{self.hex(20)}" if p % 3 == 0 else None
                    script = ("#!/bin/bash\ngitlab-runner register --non-interactive --url https://gitlab.acme.example "
                              f"--token {token} --executor docker\n" if token else
                              "#!/bin/bash\n/opt/runner/bootstrap --from-ssm /ci/runner/token\n")
                    ids.append(self._instance(
                        net, net["private"][k % len(net["private"])], name, "runner", [groups["runner"]], profile, tags,
                        public=False, image=GITLAB_RUNNER_AMI if kind == "gitlab" else UBUNTU, asg=asg,
                        user_data=script, hop_limit=2 if p % 2 else 1, age_days=rng.uniform(0.1, 20)))
                self._asg(net, asg, ids, tags)
        if plan.codebuild:
            role = f"{plan.name}-codebuild"
            self._role(role, CODEBUILD_TRUST, managed=[("ci-deploy", self.policies["ci_deploy"])], profile=False)
            self.data["codebuild_projects"].append({
                "name": f"{plan.name}-build", "arn": self.arn("codebuild", f"project/{plan.name}-build"),
                "source": {"type": "GITHUB", "location": f"https://github.com/acme/{plan.name}.git"},
                "artifacts": {"type": "NO_ARTIFACTS"}, "serviceRole": f"arn:aws:iam::{self.account}:role/{role}",
                "environment": {"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                                "computeType": "BUILD_GENERAL1_SMALL", "privilegedMode": False},
                "vpcConfig": {"vpcId": net["vpc"], "subnets": [s["id"] for s in self._one_per_zone(net["private"])[:2]],
                              "securityGroupIds": [groups.get("runner") or groups["office-ssh"]]},
                "tags": [{"key": "team", "value": "platform"}], "created": self.time(100)})

    def _peerings(self, networks: list[dict]) -> None:
        for a, b in peer_pairs(len(networks)):
            left, right = networks[a], networks[b]
            pcx = self.id("pcx")
            info = lambda net: {"CidrBlock": net["cidr"], "CidrBlockSet": [{"CidrBlock": net["cidr"]}],  # noqa: E731
                                "OwnerId": self.account, "VpcId": net["vpc"], "Region": self.region}
            self.data["vpc_peering_connections"].append({
                "AccepterVpcInfo": info(right), "RequesterVpcInfo": info(left), "Status": {"Code": "active",
                                                                                          "Message": "Active"},
                "VpcPeeringConnectionId": pcx, "Tags": _tags(Name=f"{left['plan'].name}-{right['plan'].name}")})
            for net, other in ((left, right), (right, left)):
                for table in net["route_tables"][1:]:  # the main table stays local only
                    table["Routes"].append({"DestinationCidrBlock": other["cidr"], "VpcPeeringConnectionId": pcx,
                                            "Origin": "CreateRoute", "State": "active"})


def generate(instances: int, seed: int = 0, *, account_id: str = DEFAULT_ACCOUNT,
             region: str = DEFAULT_REGION, extra_roles: int = 0, federated_roles: int = 0) -> dict:
    """A snapshot of one synthetic account and region with `instances` EC2 instances, and
    `extra_roles` and `federated_roles` more IAM roles (see the module docstring)."""
    return _Builder(instances, seed, account_id, region, extra_roles, federated_roles).build()


def main() -> None:
    import argparse
    import json
    import sys

    parser = argparse.ArgumentParser(description="Write a synthetic AWS snapshot.")
    parser.add_argument("--resources", type=int, help="approximate number of resources (estate graph nodes)")
    parser.add_argument("--instances", type=int, help="number of EC2 instances (instead of --resources)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--account", default=DEFAULT_ACCOUNT)
    parser.add_argument("--region", default=DEFAULT_REGION)
    parser.add_argument("--roles", type=int, default=0, help="IAM roles in all (more Lambda service roles are added)")
    parser.add_argument("--federated", type=int, default=0, help="of those, roles hosted pipelines federate into")
    parser.add_argument("output", help="snapshot file to write (gzip when it ends in .gz), or - for stdout")
    args = parser.parse_args()
    if (args.resources is None) == (args.instances is None):
        parser.error("give exactly one of --resources and --instances")
    instances = args.instances if args.instances is not None else instances_for(args.resources)
    base = len(generate(instances, args.seed, account_id=args.account, region=args.region)["iam"]["roles"])
    extra = max(0, args.roles - base - args.federated) if args.roles else 0
    snap = generate(instances, args.seed, account_id=args.account, region=args.region, extra_roles=extra,
                    federated_roles=args.federated)
    if args.output == "-":
        json.dump(snap, sys.stdout, separators=(",", ":"))
    else:
        from guardrails import snapshot

        snapshot.save(snap, args.output)
    print(f"{instances} instances, {len(snap['iam']['roles'])} roles ({args.federated} federated), "
          f"{resource_count(instances, extra, args.federated)} resources", file=sys.stderr)


if __name__ == "__main__":
    main()
