"""Composable builders for AWS estates, for tests running inside moto (in-process or a server).

    b = AwsBuilder(session)
    ci = b.vpc("10.0.0.0/16", name="ci", igw=True)
    public = b.public_subnet(ci, "10.0.1.0/24")
    sg = b.security_group(ci, "jenkins", ingress=[tcp(8080, ANYWHERE)])
    role = b.role("jenkins", managed_policies=[ADMINISTRATOR_ACCESS])
    jenkins = b.instance("jenkins", subnet=public, security_groups=[sg], public_ip=True,
                         instance_profile=role)

Every builder creates what it says through the public API, exactly as a user would, and returns
the ids in a small frozen dataclass. Nothing is implied: a VPC gets an internet gateway only when
asked, and a subnet is public only through its route table.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

DEFAULT_REGION = "eu-west-1"
# An Ubuntu image moto ships in every region.
UBUNTU_AMI = "ami-785db401"
ANYWHERE = "0.0.0.0/0"
ANYWHERE_V6 = "::/0"
ADMINISTRATOR_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"
READ_ONLY_ACCESS = "arn:aws:iam::aws:policy/ReadOnlyAccess"


# --- security group rules ------------------------------------------------------------------


def rule(protocol: str, ports: int | tuple[int, int] | None, *sources: str, description: str | None = None) -> dict:
    """One IpPermission. A source is a CIDR (v4 or v6), a security group id or a prefix list id."""
    permission: dict[str, Any] = {"IpProtocol": protocol}
    if protocol != "-1":
        low, high = (ports, ports) if isinstance(ports, int) else ports
        permission.update(FromPort=low, ToPort=high)
    extra = {"Description": description} if description else {}
    for source in sources:
        if source.startswith("sg-"):
            permission.setdefault("UserIdGroupPairs", []).append({"GroupId": source, **extra})
        elif source.startswith("pl-"):
            permission.setdefault("PrefixListIds", []).append({"PrefixListId": source, **extra})
        elif ":" in source:
            permission.setdefault("Ipv6Ranges", []).append({"CidrIpv6": source, **extra})
        else:
            permission.setdefault("IpRanges", []).append({"CidrIp": source, **extra})
    return permission


def tcp(ports: int | tuple[int, int], *sources: str, description: str | None = None) -> dict:
    return rule("tcp", ports, *sources, description=description)


def udp(ports: int | tuple[int, int], *sources: str, description: str | None = None) -> dict:
    return rule("udp", ports, *sources, description=description)


def all_traffic(*sources: str, description: str | None = None) -> dict:
    return rule("-1", None, *sources, description=description)


# --- IAM documents -------------------------------------------------------------------------


def allow(actions: str | list[str], resources: str | list[str] = "*", **extra: Any) -> dict:
    return {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}


def deny(actions: str | list[str], resources: str | list[str] = "*", **extra: Any) -> dict:
    return {"Effect": "Deny", "Action": actions, "Resource": resources, **extra}


def policy_document(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def trust_service(service: str = "ec2.amazonaws.com") -> dict:
    return policy_document({"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"})


def trust_principals(*arns: str) -> dict:
    return policy_document({"Effect": "Allow", "Principal": {"AWS": list(arns)}, "Action": "sts:AssumeRole"})


# --- what the builders return ---------------------------------------------------------------


@dataclass(frozen=True)
class Vpc:
    id: str
    cidr: str
    main_route_table_id: str
    igw_id: str | None = None
    ipv6_cidr: str | None = None


@dataclass(frozen=True)
class Subnet:
    id: str
    vpc: Vpc
    cidr: str
    az: str
    route_table_id: str  # the effective one: its explicit association, else the VPC's main table

    @property
    def vpc_id(self) -> str:
        return self.vpc.id


@dataclass(frozen=True)
class Role:
    name: str
    arn: str
    instance_profile_name: str | None = None
    instance_profile_arn: str | None = None


@dataclass(frozen=True)
class Instance:
    id: str
    name: str | None
    subnet_id: str
    private_ip: str
    public_ip: str | None
    network_interface_id: str
    security_group_ids: tuple[str, ...]


@dataclass(frozen=True)
class LoadBalancer:
    arn: str
    name: str
    type: str
    dns_name: str
    security_group_ids: tuple[str, ...]
    listener_arn: str
    target_group_arn: str


@dataclass(frozen=True)
class ClassicLoadBalancer:
    name: str
    dns_name: str
    security_group_ids: tuple[str, ...]


@dataclass(frozen=True)
class AutoScalingGroup:
    name: str
    instance_ids: tuple[str, ...]
    launch_template_id: str


@dataclass(frozen=True)
class CodeBuildProject:
    name: str
    arn: str


@dataclass(frozen=True)
class TransitGateway:
    id: str
    route_table_id: str


# --- the builder -----------------------------------------------------------------------------


@dataclass
class AwsBuilder:
    """Builds estate parts in one region through `session` (moto must be running)."""

    session: Any
    region: str = DEFAULT_REGION
    endpoint_url: str | None = None
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)
    _azs: list[str] = field(default_factory=list, repr=False)
    _subnet_count: int = field(default=0, repr=False)

    def client(self, service: str):
        if service not in self._clients:
            self._clients[service] = self.session.client(
                service, region_name=self.region, endpoint_url=self.endpoint_url
            )
        return self._clients[service]

    @property
    def ec2(self):
        return self.client("ec2")

    @property
    def account_id(self) -> str:
        return self.client("sts").get_caller_identity()["Account"]

    def _tags(self, resource_type: str, name: str | None, tags: dict[str, str] | None) -> list[dict]:
        pairs = dict(tags or {})
        if name is not None:
            pairs.setdefault("Name", name)
        if not pairs:
            return []
        return [{"ResourceType": resource_type, "Tags": [{"Key": k, "Value": v} for k, v in pairs.items()]}]

    def _next_az(self, az: str | None) -> str:
        if az:
            return az
        if not self._azs:
            zones = self.ec2.describe_availability_zones()["AvailabilityZones"]
            self._azs = sorted(zone["ZoneName"] for zone in zones)
        self._subnet_count += 1
        return self._azs[(self._subnet_count - 1) % len(self._azs)]

    # network

    def vpc(
        self,
        cidr: str = "10.0.0.0/16",
        *,
        name: str | None = None,
        igw: bool = False,
        ipv6: bool = False,
        tags: dict[str, str] | None = None,
    ) -> Vpc:
        vpc = self.ec2.create_vpc(
            CidrBlock=cidr, AmazonProvidedIpv6CidrBlock=ipv6, TagSpecifications=self._tags("vpc", name, tags)
        )["Vpc"]
        vpc_id = vpc["VpcId"]
        ipv6_cidr = None
        if ipv6:
            described = self.ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
            ipv6_cidr = described["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"]
        main = self.ec2.describe_route_tables(
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "association.main", "Values": ["true"]}]
        )["RouteTables"][0]["RouteTableId"]
        igw_id = None
        if igw:
            igw_id = self.ec2.create_internet_gateway(TagSpecifications=self._tags("internet-gateway", name, None))[
                "InternetGateway"
            ]["InternetGatewayId"]
            self.ec2.attach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc_id)
        return Vpc(id=vpc_id, cidr=cidr, main_route_table_id=main, igw_id=igw_id, ipv6_cidr=ipv6_cidr)

    def egress_only_internet_gateway(self, vpc: Vpc) -> str:
        return self.ec2.create_egress_only_internet_gateway(VpcId=vpc.id)["EgressOnlyInternetGateway"][
            "EgressOnlyInternetGatewayId"
        ]

    def route_table(self, vpc: Vpc, *, name: str | None = None, routes: dict[str, str] | None = None) -> str:
        """A route table with `routes` ({destination: target id}) besides the local route."""
        table_id = self.ec2.create_route_table(VpcId=vpc.id, TagSpecifications=self._tags("route-table", name, None))[
            "RouteTable"
        ]["RouteTableId"]
        for destination, target in (routes or {}).items():
            self.route(table_id, destination, target)
        return table_id

    def route(self, route_table_id: str, destination: str, target: str) -> None:
        """Add one route; the target's id prefix says what kind of next hop it is."""
        target_keys = {
            "igw-": "GatewayId",
            "vgw-": "GatewayId",
            "eigw-": "EgressOnlyInternetGatewayId",
            "nat-": "NatGatewayId",
            "tgw-": "TransitGatewayId",
            "pcx-": "VpcPeeringConnectionId",
            "eni-": "NetworkInterfaceId",
            "i-": "InstanceId",
        }
        target_key = next(key for prefix, key in target_keys.items() if target.startswith(prefix))
        if destination.startswith("pl-"):
            destination_key = "DestinationPrefixListId"
        elif ":" in destination:
            destination_key = "DestinationIpv6CidrBlock"
        else:
            destination_key = "DestinationCidrBlock"
        self.ec2.create_route(RouteTableId=route_table_id, **{destination_key: destination, target_key: target})

    def subnet(
        self,
        vpc: Vpc,
        cidr: str,
        *,
        name: str | None = None,
        az: str | None = None,
        routes: dict[str, str] | None = None,
        use_main_table: bool = False,
        map_public_ip: bool = False,
        ipv6_cidr: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> Subnet:
        """A subnet with its own route table holding `routes`, or on the VPC's main table.

        With `use_main_table`, `routes` are added to the main table (and so apply to every subnet
        without an explicit association)."""
        zone = self._next_az(az)
        params: dict[str, Any] = {"VpcId": vpc.id, "CidrBlock": cidr, "AvailabilityZone": zone}
        if ipv6_cidr:
            params["Ipv6CidrBlock"] = ipv6_cidr
        subnet_id = self.ec2.create_subnet(**params, TagSpecifications=self._tags("subnet", name, tags))["Subnet"][
            "SubnetId"
        ]
        if map_public_ip:
            self.ec2.modify_subnet_attribute(SubnetId=subnet_id, MapPublicIpOnLaunch={"Value": True})
        if use_main_table:
            table_id = vpc.main_route_table_id
            for destination, target in (routes or {}).items():
                self.route(table_id, destination, target)
        else:
            table_id = self.route_table(vpc, name=name, routes=routes)
            self.ec2.associate_route_table(RouteTableId=table_id, SubnetId=subnet_id)
        return Subnet(id=subnet_id, vpc=vpc, cidr=cidr, az=zone, route_table_id=table_id)

    def public_subnet(self, vpc: Vpc, cidr: str, *, use_main_table: bool = False, **kwargs: Any) -> Subnet:
        """A subnet routing 0.0.0.0/0 (and ::/0 when it has IPv6) to the VPC's internet gateway."""
        if vpc.igw_id is None:
            raise ValueError("a public subnet needs a VPC built with igw=True")
        routes = {ANYWHERE: vpc.igw_id}
        if kwargs.get("ipv6_cidr"):
            routes[ANYWHERE_V6] = vpc.igw_id
        kwargs.setdefault("map_public_ip", True)
        return self.subnet(vpc, cidr, routes=routes, use_main_table=use_main_table, **kwargs)

    def private_subnet(
        self, vpc: Vpc, cidr: str, *, nat_gateway: str | None = None, use_main_table: bool = False, **kwargs: Any
    ) -> Subnet:
        """A subnet with no internet gateway route: egress through `nat_gateway` when given."""
        routes = {ANYWHERE: nat_gateway} if nat_gateway else {}
        return self.subnet(vpc, cidr, routes=routes, use_main_table=use_main_table, **kwargs)

    def nat_gateway(self, subnet: Subnet, *, name: str | None = None) -> str:
        allocation = self.ec2.allocate_address(Domain="vpc")["AllocationId"]
        return self.ec2.create_nat_gateway(
            SubnetId=subnet.id, AllocationId=allocation, TagSpecifications=self._tags("natgateway", name, None)
        )["NatGateway"]["NatGatewayId"]

    def network_acl(self, vpc: Vpc, subnets: list[Subnet], entries: list[dict]) -> str:
        """A NACL replacing the subnets' current one; entries are CreateNetworkAclEntry kwargs."""
        acl_id = self.ec2.create_network_acl(VpcId=vpc.id)["NetworkAcl"]["NetworkAclId"]
        for entry in entries:
            self.ec2.create_network_acl_entry(NetworkAclId=acl_id, **entry)
        for subnet in subnets:
            current = self.ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnet.id]}])
            association = next(
                a["NetworkAclAssociationId"]
                for acl in current["NetworkAcls"]
                for a in acl["Associations"]
                if a["SubnetId"] == subnet.id
            )
            self.ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=acl_id)
        return acl_id

    def security_group(
        self,
        vpc: Vpc,
        name: str,
        *,
        ingress: list[dict] = (),
        egress: list[dict] | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> str:
        """A security group with `ingress` rules; `egress=None` keeps AWS's default allow-all egress."""
        group_id = self.ec2.create_security_group(
            VpcId=vpc.id,
            GroupName=name,
            Description=description or name,
            TagSpecifications=self._tags("security-group", None, tags),
        )["GroupId"]
        if ingress:
            self.ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=list(ingress))
        if egress is not None:
            self.ec2.revoke_security_group_egress(GroupId=group_id, IpPermissions=[all_traffic(ANYWHERE)])
            if egress:
                self.ec2.authorize_security_group_egress(GroupId=group_id, IpPermissions=list(egress))
        return group_id

    def allow_ingress(self, group_id: str, *permissions: dict) -> None:
        """Add rules to an existing group (e.g. one referring to a group created after it)."""
        self.ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=list(permissions))

    def prefix_list(self, name: str, cidrs: list[str], *, max_entries: int | None = None) -> str:
        family = "IPv6" if any(":" in cidr for cidr in cidrs) else "IPv4"
        return self.ec2.create_managed_prefix_list(
            PrefixListName=name,
            AddressFamily=family,
            MaxEntries=max_entries or max(len(cidrs), 1),
            Entries=[{"Cidr": cidr} for cidr in cidrs],
        )["PrefixList"]["PrefixListId"]

    def vpc_peering(self, requester: Vpc, accepter: Vpc) -> str:
        """An active peering between two VPCs of this account and region (routes not included)."""
        peering_id = self.ec2.create_vpc_peering_connection(VpcId=requester.id, PeerVpcId=accepter.id)[
            "VpcPeeringConnection"
        ]["VpcPeeringConnectionId"]
        self.ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
        return peering_id

    def transit_gateway(self) -> TransitGateway:
        tgw = self.ec2.create_transit_gateway()["TransitGateway"]
        table = self.ec2.create_transit_gateway_route_table(TransitGatewayId=tgw["TransitGatewayId"])
        table_id = table["TransitGatewayRouteTable"]["TransitGatewayRouteTableId"]
        return TransitGateway(id=tgw["TransitGatewayId"], route_table_id=table_id)

    def transit_gateway_attachment(self, tgw: TransitGateway, vpc: Vpc, subnets: list[Subnet]) -> str:
        """Attach a VPC and associate it with the gateway's route table, propagating its CIDR."""
        attachment = self.ec2.create_transit_gateway_vpc_attachment(
            TransitGatewayId=tgw.id, VpcId=vpc.id, SubnetIds=[s.id for s in subnets]
        )["TransitGatewayVpcAttachment"]["TransitGatewayAttachmentId"]
        self.ec2.associate_transit_gateway_route_table(
            TransitGatewayRouteTableId=tgw.route_table_id, TransitGatewayAttachmentId=attachment
        )
        self.ec2.enable_transit_gateway_route_table_propagation(
            TransitGatewayRouteTableId=tgw.route_table_id, TransitGatewayAttachmentId=attachment
        )
        return attachment

    def transit_gateway_route(self, tgw: TransitGateway, cidr: str, attachment: str) -> None:
        self.ec2.create_transit_gateway_route(
            TransitGatewayRouteTableId=tgw.route_table_id,
            DestinationCidrBlock=cidr,
            TransitGatewayAttachmentId=attachment,
        )

    # compute

    def image(self, name: str, *, description: str | None = None) -> str:
        """An AMI of this account with the given name (CI detection reads image names)."""
        return self.ec2.register_image(
            Name=name,
            Description=description or name,
            Architecture="x86_64",
            RootDeviceName="/dev/xvda",
            VirtualizationType="hvm",
        )["ImageId"]

    def instance(
        self,
        name: str | None = None,
        *,
        subnet: Subnet,
        security_groups: list[str] = (),
        public_ip: bool = False,
        imds: str = "optional",
        hop_limit: int = 1,
        user_data: str | None = None,
        instance_profile: Role | str | None = None,
        tags: dict[str, str] | None = None,
        image_id: str = UBUNTU_AMI,
        instance_type: str = "t3.medium",
        private_ip: str | None = None,
    ) -> Instance:
        """One running instance. `imds` is "optional" (IMDSv1 allowed), "required" or "disabled"."""
        interface: dict[str, Any] = {
            "DeviceIndex": 0,
            "SubnetId": subnet.id,
            "Groups": list(security_groups),
            "AssociatePublicIpAddress": public_ip,
        }
        if private_ip:
            interface["PrivateIpAddress"] = private_ip
        metadata = {"HttpEndpoint": "disabled"} if imds == "disabled" else {
            "HttpEndpoint": "enabled",
            "HttpTokens": imds,
            "HttpPutResponseHopLimit": hop_limit,
        }
        params: dict[str, Any] = {
            "ImageId": image_id,
            "InstanceType": instance_type,
            "MinCount": 1,
            "MaxCount": 1,
            "NetworkInterfaces": [interface],
            "MetadataOptions": metadata,
            "TagSpecifications": self._tags("instance", name, tags),
        }
        if user_data is not None:
            params["UserData"] = user_data
        if instance_profile is not None:
            profile = instance_profile.instance_profile_arn if isinstance(instance_profile, Role) else instance_profile
            params["IamInstanceProfile"] = {"Arn": profile} if profile.startswith("arn:") else {"Name": profile}
        instance_id = self.ec2.run_instances(**params)["Instances"][0]["InstanceId"]
        described = self.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
        eni = described["NetworkInterfaces"][0]
        return Instance(
            id=instance_id,
            name=name,
            subnet_id=subnet.id,
            private_ip=described["PrivateIpAddress"],
            public_ip=described.get("PublicIpAddress"),
            network_interface_id=eni["NetworkInterfaceId"],
            security_group_ids=tuple(group["GroupId"] for group in eni["Groups"]),
        )

    def autoscaling_group(
        self,
        name: str,
        *,
        subnets: list[Subnet],
        instances: list[Instance] = (),
        tags: dict[str, str] | None = None,
        image_id: str = UBUNTU_AMI,
        max_size: int | None = None,
    ) -> AutoScalingGroup:
        """A group with a launch template, holding `instances` (attached, as a scale-out would)."""
        template = self.ec2.create_launch_template(
            LaunchTemplateName=f"{name}-template",
            LaunchTemplateData={"ImageId": image_id, "InstanceType": "t3.medium"},
        )["LaunchTemplate"]["LaunchTemplateId"]
        size = max_size if max_size is not None else max(len(instances), 1)
        self.client("autoscaling").create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchTemplate={"LaunchTemplateId": template, "Version": "$Latest"},
            MinSize=0,
            MaxSize=size,
            DesiredCapacity=0,
            VPCZoneIdentifier=",".join(s.id for s in subnets),
            Tags=[
                {"Key": k, "Value": v, "PropagateAtLaunch": True, "ResourceId": name,
                 "ResourceType": "auto-scaling-group"}
                for k, v in (tags or {}).items()
            ],
        )
        if instances:
            self.client("autoscaling").attach_instances(
                AutoScalingGroupName=name, InstanceIds=[instance.id for instance in instances]
            )
        return AutoScalingGroup(name=name, instance_ids=tuple(i.id for i in instances), launch_template_id=template)

    def codebuild_project(
        self,
        name: str,
        *,
        role: Role | str,
        subnets: list[Subnet] = (),
        security_groups: list[str] = (),
        image: str = "aws/codebuild/standard:7.0",
        source_location: str = "https://github.com/example/app.git",
        tags: dict[str, str] | None = None,
    ) -> CodeBuildProject:
        """A CodeBuild project, in a VPC when `subnets` are given."""
        params: dict[str, Any] = {
            "name": name,
            "source": {"type": "GITHUB", "location": source_location},
            "artifacts": {"type": "NO_ARTIFACTS"},
            "environment": {"type": "LINUX_CONTAINER", "image": image, "computeType": "BUILD_GENERAL1_SMALL"},
            "serviceRole": role.arn if isinstance(role, Role) else role,
            "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()],
        }
        if subnets:
            params["vpcConfig"] = {
                "vpcId": subnets[0].vpc_id,
                "subnets": [s.id for s in subnets],
                "securityGroupIds": list(security_groups),
            }
        project = self.client("codebuild").create_project(**params)["project"]
        return CodeBuildProject(name=project["name"], arn=project["arn"])

    # load balancers

    def load_balancer(
        self,
        name: str,
        *,
        subnets: list[Subnet],
        security_groups: list[str] = (),
        targets: list[Instance] = (),
        type: str = "application",
        scheme: str = "internet-facing",
        listener_port: int = 443,
        target_port: int = 8080,
    ) -> LoadBalancer:
        """An ALB or NLB with one listener forwarding to one instance target group."""
        elbv2 = self.client("elbv2")
        params: dict[str, Any] = {"Name": name, "Subnets": [s.id for s in subnets], "Scheme": scheme, "Type": type}
        if security_groups:
            params["SecurityGroups"] = list(security_groups)
        balancer = elbv2.create_load_balancer(**params)["LoadBalancers"][0]
        listener_protocol, target_protocol = ("HTTP", "HTTP") if type == "application" else ("TCP", "TCP")
        group = elbv2.create_target_group(
            Name=f"{name}-targets"[:32],
            Protocol=target_protocol,
            Port=target_port,
            VpcId=subnets[0].vpc_id,
            TargetType="instance",
        )["TargetGroups"][0]
        if targets:
            elbv2.register_targets(
                TargetGroupArn=group["TargetGroupArn"], Targets=[{"Id": t.id, "Port": target_port} for t in targets]
            )
        listener = elbv2.create_listener(
            LoadBalancerArn=balancer["LoadBalancerArn"],
            Protocol=listener_protocol,
            Port=listener_port,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}],
        )["Listeners"][0]
        return LoadBalancer(
            arn=balancer["LoadBalancerArn"],
            name=name,
            type=type,
            dns_name=balancer["DNSName"],
            security_group_ids=tuple(security_groups),
            listener_arn=listener["ListenerArn"],
            target_group_arn=group["TargetGroupArn"],
        )

    def listener_rule(self, balancer: LoadBalancer, *, path: str, target_group_arn: str, priority: int = 10) -> str:
        return self.client("elbv2").create_rule(
            ListenerArn=balancer.listener_arn,
            Priority=priority,
            Conditions=[{"Field": "path-pattern", "Values": [path]}],
            Actions=[{"Type": "forward", "TargetGroupArn": target_group_arn}],
        )["Rules"][0]["RuleArn"]

    def classic_load_balancer(
        self,
        name: str,
        *,
        subnets: list[Subnet],
        security_groups: list[str] = (),
        instances: list[Instance] = (),
        scheme: str = "internet-facing",
        listener_port: int = 443,
        instance_port: int = 8080,
    ) -> ClassicLoadBalancer:
        elb = self.client("elb")
        params: dict[str, Any] = {
            "LoadBalancerName": name,
            "Listeners": [{"Protocol": "TCP", "LoadBalancerPort": listener_port, "InstancePort": instance_port}],
            "Subnets": [s.id for s in subnets],
            "Scheme": scheme,
        }
        if security_groups:
            params["SecurityGroups"] = list(security_groups)
        dns_name = elb.create_load_balancer(**params)["DNSName"]
        if instances:
            elb.register_instances_with_load_balancer(
                LoadBalancerName=name, Instances=[{"InstanceId": i.id} for i in instances]
            )
        return ClassicLoadBalancer(name=name, dns_name=dns_name, security_group_ids=tuple(security_groups))

    # identity

    def managed_policy(self, name: str, document: dict) -> str:
        return self.client("iam").create_policy(PolicyName=name, PolicyDocument=json.dumps(document))["Policy"]["Arn"]

    def role(
        self,
        name: str,
        *,
        trust: dict | None = None,
        managed_policies: list[str] = (),
        inline_policies: dict[str, dict] | None = None,
        permissions_boundary: str | None = None,
        instance_profile: bool = True,
        tags: dict[str, str] | None = None,
    ) -> Role:
        """A role (trusting EC2 unless `trust` says otherwise) and, by default, its instance profile."""
        iam = self.client("iam")
        params: dict[str, Any] = {
            "RoleName": name,
            "AssumeRolePolicyDocument": json.dumps(trust or trust_service()),
            "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()],
        }
        if permissions_boundary:
            params["PermissionsBoundary"] = permissions_boundary
        arn = iam.create_role(**params)["Role"]["Arn"]
        for policy_arn in managed_policies:
            iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
        for policy_name, document in (inline_policies or {}).items():
            iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(document))
        if not instance_profile:
            return Role(name=name, arn=arn)
        profile = iam.create_instance_profile(InstanceProfileName=name)["InstanceProfile"]
        iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
        return Role(name=name, arn=arn, instance_profile_name=name, instance_profile_arn=profile["Arn"])


    def oidc_provider(self, url: str, *, audiences: tuple[str, ...] = ("sts.amazonaws.com",)) -> str:
        """An IAM OIDC provider for the issuer at `url` (with its scheme). Returns its ARN."""
        return self.client("iam").create_open_id_connect_provider(
            Url=url, ClientIDList=list(audiences), ThumbprintList=["6938fd4d98bab03faadb97b34396831e3780aea1"],
        )["OpenIDConnectProviderArn"]

    def user(self, name: str, *, managed_policies: list[str] = (), inline_policies: dict[str, dict] | None = None,
             groups: list[str] = (), keys: int = 0, inactive_keys: int = 0,
             tags: dict[str, str] | None = None) -> str:
        """An IAM user with `keys` active and `inactive_keys` inactive access keys. Returns its ARN."""
        iam = self.client("iam")
        arn = iam.create_user(UserName=name, Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()])["User"]["Arn"]
        for policy_arn in managed_policies:
            iam.attach_user_policy(UserName=name, PolicyArn=policy_arn)
        for policy_name, document in (inline_policies or {}).items():
            iam.put_user_policy(UserName=name, PolicyName=policy_name, PolicyDocument=json.dumps(document))
        for group in groups:
            iam.add_user_to_group(GroupName=group, UserName=name)
        for n in range(keys + inactive_keys):
            key = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
            if n >= keys:
                iam.update_access_key(UserName=name, AccessKeyId=key, Status="Inactive")
        return arn

    def group(self, name: str, *, managed_policies: list[str] = ()) -> str:
        iam = self.client("iam")
        arn = iam.create_group(GroupName=name)["Group"]["Arn"]
        for policy_arn in managed_policies:
            iam.attach_group_policy(GroupName=name, PolicyArn=policy_arn)
        return arn


def trust_web_identity(provider_arn: str, conditions: dict | None = None, *, deny: dict | None = None) -> dict:
    """A trust policy letting tokens of the OIDC provider become the role under `conditions`
    (an IAM Condition block), with a Deny under `deny` when given."""
    allow_statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Federated": provider_arn},
                                       "Action": "sts:AssumeRoleWithWebIdentity"}
    if conditions:
        allow_statement["Condition"] = conditions
    statements = [allow_statement]
    if deny:
        statements.append({"Effect": "Deny", "Principal": {"Federated": provider_arn},
                           "Action": "sts:AssumeRoleWithWebIdentity", "Condition": deny})
    return {"Version": "2012-10-17", "Statement": statements}


READ_ONLY_PREFIXES = ("Describe", "List", "Get", "BatchGet", "Search")


def fail_on_writes(model, **_kwargs) -> None:
    """botocore `before-call` handler failing the test on any operation that is not a read."""
    import pytest

    if not model.name.startswith(READ_ONLY_PREFIXES):
        pytest.fail(f"the collector called the mutating operation {model.service_model.service_name}:{model.name}")


def read_only_session(region: str = DEFAULT_REGION, **session_kwargs: Any):
    """A boto3 session for the code under test: any client it makes fails the test on a write.

    The hook sits on the session's own event system, so it holds whatever the code under test
    does to its clients, independently of the collector's own guard."""
    import boto3

    session = boto3.Session(region_name=region, **session_kwargs)
    session.events.register("before-call", fail_on_writes)
    return session


def count_calls(session) -> Counter[str]:
    """A counter of the API operations called through `session`'s clients, updated live."""

    calls: Counter[str] = Counter()

    def record(model, **_kwargs) -> None:
        calls[model.name] += 1

    session.events.register("before-call", record)
    return calls


def user_data_text(instance: dict) -> str | None:
    """The clear text of a collected instance's UserData, for assertions."""
    encoded = instance.get("UserData")
    return base64.b64decode(encoded).decode() if encoded else None
