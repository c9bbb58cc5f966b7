"""A small, realistic AWS estate with a CI/CD pipeline left open, for `guardrails demo` (in moto).

Everything is built through the public AWS API with the semantics of a real account: each VPC has
its own route tables and gateways (nothing relies on moto's default VPC), public addresses are
asked for explicitly, and the production database is reached only through a peering with routes
both ways and a security group that admits the runners.
"""

from __future__ import annotations

import json
from typing import Any

REGION = "eu-west-1"
# An account the pipeline deploys to that this scan does not see: configure it as production.
PRODUCTION_ACCOUNT_ID = "210987654321"
UBUNTU_AMI = "ami-785db401"  # present in moto in every region
ADMINISTRATOR_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"
READ_ONLY_ACCESS = "arn:aws:iam::aws:policy/ReadOnlyAccess"
MANAGED_POLICIES = (ADMINISTRATOR_ACCESS, READ_ONLY_ACCESS)  # every AWS managed policy the estate attaches
ANYWHERE = "0.0.0.0/0"
# Fake, but shaped like a GitLab runner authentication token.
RUNNER_TOKEN = "glrt-t3Xq9ZkL2vRm8PbW4nYc"

RUNNER_USER_DATA_WITH_TOKEN = f"""#!/bin/bash
set -euo pipefail
curl -fsSL https://packages.gitlab.com/install/repositories/runner/gitlab-runner/script.deb.sh | bash
apt-get install -y gitlab-runner docker.io
gitlab-runner register --non-interactive \\
  --url https://gitlab.example.com \\
  --token {RUNNER_TOKEN} \\
  --executor docker --docker-image alpine:3.20
"""

RUNNER_USER_DATA_FROM_SSM = """#!/bin/bash
set -euo pipefail
curl -fsSL https://packages.gitlab.com/install/repositories/runner/gitlab-runner/script.deb.sh | bash
apt-get install -y gitlab-runner docker.io
token="$(aws ssm get-parameter --with-decryption --name /ci/gitlab-runner-token --query Parameter.Value --output text)"
gitlab-runner register --non-interactive \\
  --url https://gitlab.example.com \\
  --token "$token" \\
  --executor docker --docker-image alpine:3.20
"""

JENKINS_USER_DATA = """#!/bin/bash
apt-get update && apt-get install -y openjdk-17-jre-headless
wget -q -O /usr/share/keyrings/jenkins-keyring.asc https://pkg.jenkins.io/debian-stable/jenkins.io-2023.key
echo "deb [signed-by=/usr/share/keyrings/jenkins-keyring.asc] https://pkg.jenkins.io/debian-stable binary/" \\
  > /etc/apt/sources.list.d/jenkins.list
apt-get update && apt-get install -y jenkins
"""


def build_demo_estate(session) -> dict:
    """Create the demo estate in eu-west-1 of the account behind `session`, inside moto.

    Run it with `MOTO_IAM_LOAD_MANAGED_POLICIES=true` set before `mock_aws` (or the moto server)
    starts, so that the AWS managed policies AdministratorAccess and ReadOnlyAccess exist; without
    it, customer-managed equivalents with the same documents are created and attached instead.

    What it holds, and what a scan should make of it:
    - VPC "ci" (10.20.0.0/16): two public subnets routed to an internet gateway, two private ones
      routed to a NAT gateway, and a peering to the production VPC with routes both ways.
    - jenkins-legacy: a Jenkins server in a public subnet with a public IP, its security group open
      to 0.0.0.0/0 on 8080 and 22, IMDSv1 allowed, running as a role that may assume
      "deploy-admin" (AdministratorAccess, trusting that role) and a deployer role in the
      production account PRODUCTION_ACCOUNT_ID.
    - jenkins: a Jenkins server in a private subnet behind an internet-facing ALB, admitting only
      the ALB's security group on 8080, IMDSv2 required, read-only role.
    - gitlab-runner-1 and -2: runners (tag ci-role=runner) in the private subnets, in the
      autoscaling group "gitlab-runners"; runner 1 allows IMDSv1 and has a runner token in its
      user data; their role may pass roles and launch instances (the docker-machine autoscaler).
      The production database admits their security group on 5432.
    - orders-db (env=production) in VPC "production" (10.30.0.0/16).
    - www: a public web server (not CI) in its own VPC, open on 443: no CI finding may name it.
    - build-app: a CodeBuild project in the private subnets (a managed runner), with a narrow role.

    Returns the notable ids (instances by Name tag, VPCs, roles, the load balancer's DNS name).
    """
    return _DemoEstate(session).build()


class _DemoEstate:
    def __init__(self, session):
        self.ec2 = session.client("ec2", region_name=REGION)
        self.elbv2 = session.client("elbv2", region_name=REGION)
        self.iam = session.client("iam", region_name=REGION)
        self.autoscaling = session.client("autoscaling", region_name=REGION)
        self.codebuild = session.client("codebuild", region_name=REGION)
        self.acm = session.client("acm", region_name=REGION)
        self.account_id = session.client("sts", region_name=REGION).get_caller_identity()["Account"]

    def build(self) -> dict:
        ids: dict[str, Any] = {
            "account_id": self.account_id,
            "region": REGION,
            "production_account_id": PRODUCTION_ACCOUNT_ID,
        }
        instances: dict[str, str] = {}

        # networks
        ci_vpc = self.vpc("10.20.0.0/16", "ci", {"team": "platform"})
        ci_igw = self.internet_gateway(ci_vpc, "ci")
        public_a = self.subnet(ci_vpc, "10.20.0.0/24", "ci-public-a", f"{REGION}a", public=True)
        public_b = self.subnet(ci_vpc, "10.20.1.0/24", "ci-public-b", f"{REGION}b", public=True)
        private_a = self.subnet(ci_vpc, "10.20.10.0/24", "ci-private-a", f"{REGION}a")
        private_b = self.subnet(ci_vpc, "10.20.11.0/24", "ci-private-b", f"{REGION}b")
        public_routes = self.route_table(ci_vpc, "ci-public", [public_a, public_b])
        self.ec2.create_route(RouteTableId=public_routes, DestinationCidrBlock=ANYWHERE, GatewayId=ci_igw)
        nat = self.nat_gateway(public_a, "ci-nat")
        private_routes = self.route_table(ci_vpc, "ci-private", [private_a, private_b])
        self.ec2.create_route(RouteTableId=private_routes, DestinationCidrBlock=ANYWHERE, NatGatewayId=nat)

        prod_vpc = self.vpc("10.30.0.0/16", "production", {"env": "production"})
        prod_data = self.subnet(prod_vpc, "10.30.10.0/24", "production-data-a", f"{REGION}a")
        prod_routes = self.route_table(prod_vpc, "production-data", [prod_data])
        peering = self.ec2.create_vpc_peering_connection(
            VpcId=ci_vpc,
            PeerVpcId=prod_vpc,
            TagSpecifications=self.tags("vpc-peering-connection", "ci-to-production"),
        )["VpcPeeringConnection"]["VpcPeeringConnectionId"]
        self.ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=peering)
        for table, destination in ((private_routes, "10.30.0.0/16"), (prod_routes, "10.20.0.0/16")):
            self.ec2.create_route(RouteTableId=table, DestinationCidrBlock=destination, VpcPeeringConnectionId=peering)

        web_vpc = self.vpc("10.40.0.0/16", "web", {"team": "web"})
        web_igw = self.internet_gateway(web_vpc, "web")
        web_public = self.subnet(web_vpc, "10.40.0.0/24", "web-public-a", f"{REGION}a", public=True)
        web_routes = self.route_table(web_vpc, "web-public", [web_public])
        self.ec2.create_route(RouteTableId=web_routes, DestinationCidrBlock=ANYWHERE, GatewayId=web_igw)
        ids.update(vpcs={"ci": ci_vpc, "production": prod_vpc, "web": web_vpc}, peering=peering, nat_gateway=nat)

        # identities
        legacy_role = self.role(
            "jenkins-legacy",
            inline={
                "assume-deploy-roles": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "sts:AssumeRole",
                            "Resource": [
                                f"arn:aws:iam::{self.account_id}:role/deploy-admin",
                                f"arn:aws:iam::{PRODUCTION_ACCOUNT_ID}:role/prod-deployer",
                            ],
                        }
                    ],
                }
            },
        )
        deploy_admin = self.role(
            "deploy-admin",
            trust={"AWS": legacy_role},
            managed=[ADMINISTRATOR_ACCESS],
            instance_profile=False,
        )
        readonly_role = self.role("jenkins-readonly", managed=[READ_ONLY_ACCESS])
        runner_role = self.role(
            "gitlab-runner",
            inline={
                "docker-machine-autoscaler": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": [
                                "ec2:RunInstances",
                                "ec2:TerminateInstances",
                                "ec2:CreateTags",
                                "ec2:Describe*",
                                "iam:PassRole",
                            ],
                            "Resource": "*",
                        },
                        {
                            "Effect": "Allow",
                            "Action": ["ssm:GetParameter"],
                            "Resource": f"arn:aws:ssm:{REGION}:{self.account_id}:parameter/ci/*",
                        },
                    ],
                }
            },
        )
        build_role = self.role(
            "codebuild-build-app",
            trust={"Service": "codebuild.amazonaws.com"},
            inline={
                "build-logs-and-artifacts": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                            "Resource": f"arn:aws:logs:{REGION}:{self.account_id}:log-group:/aws/codebuild/build-app:*",
                        },
                        {
                            "Effect": "Allow",
                            "Action": ["s3:PutObject"],
                            "Resource": "arn:aws:s3:::example-build-artifacts/*",
                        },
                    ],
                }
            },
            instance_profile=False,
        )
        ids["roles"] = {
            "jenkins-legacy": legacy_role,
            "deploy-admin": deploy_admin,
            "jenkins-readonly": readonly_role,
            "gitlab-runner": runner_role,
            "codebuild-build-app": build_role,
            "prod-deployer": f"arn:aws:iam::{PRODUCTION_ACCOUNT_ID}:role/prod-deployer",
        }

        # security groups
        legacy_sg = self.security_group(
            ci_vpc,
            "jenkins-legacy",
            [self.tcp(8080, cidr=ANYWHERE, note="Jenkins UI"), self.tcp(22, cidr=ANYWHERE, note="SSH")],
        )
        alb_sg = self.security_group(ci_vpc, "jenkins-alb", [self.tcp(443, cidr=ANYWHERE, note="HTTPS")])
        jenkins_sg = self.security_group(ci_vpc, "jenkins", [self.tcp(8080, group=alb_sg, note="from the ALB")])
        runners_sg = self.security_group(ci_vpc, "gitlab-runners", [])
        build_sg = self.security_group(ci_vpc, "codebuild-build-app", [])
        db_sg = self.security_group(
            prod_vpc, "orders-db", [self.tcp(5432, group=runners_sg, note="migrations from CI")], {"env": "production"}
        )
        web_sg = self.security_group(web_vpc, "www", [self.tcp(443, cidr=ANYWHERE, note="HTTPS")])
        ids["security_groups"] = {
            "jenkins-legacy": legacy_sg,
            "jenkins-alb": alb_sg,
            "jenkins": jenkins_sg,
            "gitlab-runners": runners_sg,
            "orders-db": db_sg,
            "www": web_sg,
        }

        # compute
        jenkins_ami = self.image("jenkins-lts-ubuntu-22.04", "Jenkins LTS on Ubuntu 22.04")
        runner_ami = self.image("gitlab-runner-ubuntu-22.04", "GitLab Runner with Docker on Ubuntu 22.04")
        instances["jenkins-legacy"] = self.instance(
            "jenkins-legacy",
            public_a,
            [legacy_sg],
            public_ip=True,
            tokens="optional",
            profile="jenkins-legacy",
            image=jenkins_ami,
            user_data=JENKINS_USER_DATA,
            tags={"team": "platform"},
        )
        instances["jenkins"] = self.instance(
            "jenkins",
            private_a,
            [jenkins_sg],
            tokens="required",
            profile="jenkins-readonly",
            image=jenkins_ami,
            user_data=JENKINS_USER_DATA,
            tags={"team": "platform"},
        )
        runner_tags = {"ci-role": "runner", "team": "platform"}
        instances["gitlab-runner-1"] = self.instance(
            "gitlab-runner-1",
            private_a,
            [runners_sg],
            tokens="optional",
            profile="gitlab-runner",
            image=runner_ami,
            user_data=RUNNER_USER_DATA_WITH_TOKEN,
            tags=runner_tags,
        )
        instances["gitlab-runner-2"] = self.instance(
            "gitlab-runner-2",
            private_b,
            [runners_sg],
            tokens="required",
            profile="gitlab-runner",
            image=runner_ami,
            user_data=RUNNER_USER_DATA_FROM_SSM,
            tags=runner_tags,
        )
        instances["orders-db"] = self.instance(
            "orders-db", prod_data, [db_sg], tokens="required", tags={"env": "production", "team": "orders"}
        )
        instances["www"] = self.instance(
            "www", web_public, [web_sg], public_ip=True, tokens="required", tags={"team": "web"}
        )
        ids["instances"] = instances

        template = self.ec2.create_launch_template(
            LaunchTemplateName="gitlab-runners",
            LaunchTemplateData={
                "ImageId": runner_ami,
                "InstanceType": "t3.large",
                "IamInstanceProfile": {"Name": "gitlab-runner"},
                "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled"},
            },
        )["LaunchTemplate"]["LaunchTemplateId"]
        self.autoscaling.create_auto_scaling_group(
            AutoScalingGroupName="gitlab-runners",
            LaunchTemplate={"LaunchTemplateId": template, "Version": "$Latest"},
            MinSize=0,
            MaxSize=4,
            DesiredCapacity=0,
            VPCZoneIdentifier=f"{private_a},{private_b}",
            Tags=[
                {
                    "Key": key,
                    "Value": value,
                    "PropagateAtLaunch": True,
                    "ResourceId": "gitlab-runners",
                    "ResourceType": "auto-scaling-group",
                }
                for key, value in runner_tags.items()
            ],
        )
        # The runners were launched by hand and adopted by the group, as a migration would do.
        self.autoscaling.attach_instances(
            AutoScalingGroupName="gitlab-runners",
            InstanceIds=[instances["gitlab-runner-1"], instances["gitlab-runner-2"]],
        )
        ids["auto_scaling_group"] = "gitlab-runners"

        # the load balancer in front of the private Jenkins
        balancer = self.elbv2.create_load_balancer(
            Name="jenkins",
            Subnets=[public_a, public_b],
            SecurityGroups=[alb_sg],
            Scheme="internet-facing",
            Type="application",
        )["LoadBalancers"][0]
        targets = self.elbv2.create_target_group(
            Name="jenkins", Protocol="HTTP", Port=8080, VpcId=ci_vpc, TargetType="instance", HealthCheckPath="/login"
        )["TargetGroups"][0]["TargetGroupArn"]
        self.elbv2.register_targets(TargetGroupArn=targets, Targets=[{"Id": instances["jenkins"], "Port": 8080}])
        certificate = self.acm.request_certificate(DomainName="jenkins.example.com", ValidationMethod="DNS")[
            "CertificateArn"
        ]
        self.elbv2.create_listener(
            LoadBalancerArn=balancer["LoadBalancerArn"],
            Protocol="HTTPS",
            Port=443,
            Certificates=[{"CertificateArn": certificate}],
            DefaultActions=[{"Type": "forward", "TargetGroupArn": targets}],
        )
        ids["load_balancer"] = {"arn": balancer["LoadBalancerArn"], "dns_name": balancer["DNSName"]}

        project = self.codebuild.create_project(
            name="build-app",
            source={"type": "GITHUB", "location": "https://github.com/example/app.git"},
            artifacts={"type": "NO_ARTIFACTS"},
            environment={
                "type": "LINUX_CONTAINER",
                "image": "aws/codebuild/standard:7.0",
                "computeType": "BUILD_GENERAL1_SMALL",
            },
            serviceRole=build_role,
            vpcConfig={"vpcId": ci_vpc, "subnets": [private_a, private_b], "securityGroupIds": [build_sg]},
            tags=[{"key": "team", "value": "platform"}],
        )["project"]
        ids["codebuild_project"] = project["arn"]
        return ids

    # small helpers over the API

    @staticmethod
    def tags(resource_type: str, name: str, extra: dict[str, str] | None = None) -> list[dict]:
        pairs = {"Name": name, **(extra or {})}
        return [{"ResourceType": resource_type, "Tags": [{"Key": k, "Value": v} for k, v in pairs.items()]}]

    @staticmethod
    def tcp(port: int, *, cidr: str | None = None, group: str | None = None, note: str) -> dict:
        permission: dict[str, Any] = {"IpProtocol": "tcp", "FromPort": port, "ToPort": port}
        if cidr:
            permission["IpRanges"] = [{"CidrIp": cidr, "Description": note}]
        if group:
            permission["UserIdGroupPairs"] = [{"GroupId": group, "Description": note}]
        return permission

    def vpc(self, cidr: str, name: str, tags: dict[str, str]) -> str:
        vpc_id = self.ec2.create_vpc(CidrBlock=cidr, TagSpecifications=self.tags("vpc", name, tags))["Vpc"]["VpcId"]
        self.ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
        return vpc_id

    def internet_gateway(self, vpc_id: str, name: str) -> str:
        igw = self.ec2.create_internet_gateway(TagSpecifications=self.tags("internet-gateway", name))
        igw_id = igw["InternetGateway"]["InternetGatewayId"]
        self.ec2.attach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc_id)
        return igw_id

    def subnet(self, vpc_id: str, cidr: str, name: str, zone: str, *, public: bool = False) -> str:
        subnet_id = self.ec2.create_subnet(
            VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=zone, TagSpecifications=self.tags("subnet", name)
        )["Subnet"]["SubnetId"]
        if public:
            self.ec2.modify_subnet_attribute(SubnetId=subnet_id, MapPublicIpOnLaunch={"Value": True})
        return subnet_id

    def route_table(self, vpc_id: str, name: str, subnets: list[str]) -> str:
        table_id = self.ec2.create_route_table(VpcId=vpc_id, TagSpecifications=self.tags("route-table", name))[
            "RouteTable"
        ]["RouteTableId"]
        for subnet_id in subnets:
            self.ec2.associate_route_table(RouteTableId=table_id, SubnetId=subnet_id)
        return table_id

    def nat_gateway(self, subnet_id: str, name: str) -> str:
        allocation = self.ec2.allocate_address(Domain="vpc", TagSpecifications=self.tags("elastic-ip", name))
        return self.ec2.create_nat_gateway(
            SubnetId=subnet_id, AllocationId=allocation["AllocationId"], TagSpecifications=self.tags("natgateway", name)
        )["NatGateway"]["NatGatewayId"]

    def security_group(self, vpc_id: str, name: str, ingress: list[dict], tags: dict[str, str] | None = None) -> str:
        group_id = self.ec2.create_security_group(
            VpcId=vpc_id, GroupName=name, Description=name, TagSpecifications=self.tags("security-group", name, tags)
        )["GroupId"]
        if ingress:
            self.ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=ingress)
        return group_id

    def image(self, name: str, description: str) -> str:
        return self.ec2.register_image(
            Name=name,
            Description=description,
            Architecture="x86_64",
            RootDeviceName="/dev/sda1",
            VirtualizationType="hvm",
            TagSpecifications=self.tags("image", name),
        )["ImageId"]

    def instance(
        self,
        name: str,
        subnet_id: str,
        groups: list[str],
        *,
        tokens: str,
        public_ip: bool = False,
        profile: str | None = None,
        image: str = UBUNTU_AMI,
        user_data: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> str:
        params: dict[str, Any] = {
            "ImageId": image,
            "InstanceType": "t3.large",
            "MinCount": 1,
            "MaxCount": 1,
            "NetworkInterfaces": [
                {"DeviceIndex": 0, "SubnetId": subnet_id, "Groups": groups, "AssociatePublicIpAddress": public_ip}
            ],
            "MetadataOptions": {"HttpEndpoint": "enabled", "HttpTokens": tokens, "HttpPutResponseHopLimit": 1},
            "TagSpecifications": self.tags("instance", name, tags),
        }
        if profile:
            params["IamInstanceProfile"] = {"Name": profile}
        if user_data:
            params["UserData"] = user_data
        return self.ec2.run_instances(**params)["Instances"][0]["InstanceId"]

    def role(
        self,
        name: str,
        *,
        trust: dict | None = None,
        managed: list[str] = (),
        inline: dict[str, dict] | None = None,
        instance_profile: bool = True,
    ) -> str:
        principal = trust or {"Service": "ec2.amazonaws.com"}
        document = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}],
        }
        arn = self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(document))["Role"]["Arn"]
        for policy_arn in managed:
            self.attach_managed(name, policy_arn)
        for policy_name, policy in (inline or {}).items():
            self.iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(policy))
        if instance_profile:
            self.iam.create_instance_profile(InstanceProfileName=name)
            self.iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
        return arn

    def attach_managed(self, role_name: str, policy_arn: str) -> None:
        try:
            self.iam.attach_role_policy(RoleName=role_name, PolicyArn=policy_arn)
        except self.iam.exceptions.NoSuchEntityException:
            # moto started without MOTO_IAM_LOAD_MANAGED_POLICIES: stand in for the AWS policy.
            self.iam.attach_role_policy(RoleName=role_name, PolicyArn=self.equivalent_policy(policy_arn))

    def equivalent_policy(self, policy_arn: str) -> str:
        name = policy_arn.rsplit("/", 1)[-1]
        local_arn = f"arn:aws:iam::{self.account_id}:policy/{name}"
        try:
            self.iam.get_policy(PolicyArn=local_arn)
            return local_arn
        except self.iam.exceptions.NoSuchEntityException:
            pass
        actions = "*" if name == "AdministratorAccess" else ["*:Describe*", "*:Get*", "*:List*"]
        document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
        return self.iam.create_policy(
            PolicyName=name, PolicyDocument=json.dumps(document), Description=f"Stand-in for {policy_arn}"
        )["Policy"]["Arn"]

