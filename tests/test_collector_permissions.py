"""The read-only policies the README names really grant every call the collector makes."""

from __future__ import annotations

import pytest

import io
import json
import zipfile

from aws_builders import ANYWHERE, AwsBuilder, allow, policy_document, tcp, trust_service
from guardrails.providers.aws.iam_policy import IdentityPolicy
from guardrails.providers.aws.identity import aws_managed_document
from guardrails.providers.aws.commands import user_data_wanted as _user_data_wanted
from guardrails.config import Config
from guardrails.providers.aws.collect import collect

# botocore's service names where the IAM action prefix differs.
IAM_PREFIX = {"elbv2": "elasticloadbalancing", "elb": "elasticloadbalancing"}
# AWS answers GetCallerIdentity whatever the policies say.
ALWAYS_ALLOWED = {"sts:GetCallerIdentity"}


def _estate(b: AwsBuilder) -> None:
    vpc = b.vpc("10.0.0.0/16", name="ci", igw=True)
    public = b.public_subnet(vpc, "10.0.1.0/24")
    private = b.private_subnet(vpc, "10.0.2.0/24")
    lb_group = b.security_group(vpc, "lb", ingress=[tcp(443, ANYWHERE)])
    jenkins_group = b.security_group(vpc, "jenkins", ingress=[tcp(8080, lb_group)])
    role = b.role("jenkins", inline_policies={"read": policy_document(allow("s3:GetObject"))})
    jenkins = b.instance("jenkins", subnet=private, security_groups=[jenkins_group], instance_profile=role,
                         user_data="#!/bin/sh\necho hello\n",
                         tags={"ssm-agent": "online"})  # a Systems Manager managed instance (moto_extensions.py)
    b.load_balancer("jenkins", subnets=[public], security_groups=[lb_group], targets=[jenkins])
    b.autoscaling_group("runners", subnets=[private])
    b.codebuild_project("build-app", role=role, subnets=[private], security_groups=[jenkins_group])
    b.prefix_list("office", ["203.0.113.0/24"])
    b.oidc_provider("https://token.actions.githubusercontent.com")  # the hosted pipelines' issuers
    b.user("ci-deployer", keys=1)  # and a CI user's stored key
    _resources_that_run_as_a_role(b)


def _resources_that_run_as_a_role(b: AwsBuilder) -> None:
    """One of each resource the identity graph's take-overs read, so that listing and describing it runs."""
    def role(service: str) -> str:
        return b.role(f"{service.split('.')[0]}-app", trust=trust_service(service), instance_profile=False).arn

    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    b.client("lambda").create_function(FunctionName="rotate-keys", Runtime="python3.12", Handler="handler.handler",
                                       Role=role("lambda.amazonaws.com"), Code={"ZipFile": code.getvalue()})
    b.client("cloudformation").create_stack(
        StackName="platform", RoleARN=role("cloudformation.amazonaws.com"),
        TemplateBody=json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}))
    b.client("glue").create_dev_endpoint(EndpointName="etl-dev", RoleArn=role("glue.amazonaws.com"))
    b.client("sagemaker").create_notebook_instance(NotebookInstanceName="research", InstanceType="ml.t3.medium",
                                                   RoleArn=role("sagemaker.amazonaws.com"))
    b.client("ecs").register_task_definition(family="migrate", taskRoleArn=role("ecs-tasks.amazonaws.com"),
                                             containerDefinitions=[{"name": "migrate", "image": "busybox",
                                                                    "memory": 128}])
    b.client("ec2").create_launch_template(LaunchTemplateName="batch", LaunchTemplateData={"InstanceType": "t3.micro"})


@pytest.fixture
def operations(builder_session, collector_session) -> set[str]:
    _estate(AwsBuilder(builder_session))
    calls: set[str] = set()

    def record(model, **_kwargs) -> None:
        service = model.service_model.service_name
        calls.add(f"{IAM_PREFIX.get(service, service)}:{model.name}")

    collector_session.events.register("before-call", record)
    collect(collector_session, ["eu-west-1"], wants_user_data=_user_data_wanted(Config()))
    return calls


def test_read_only_policies_grant_every_collector_call(operations):
    assert len(operations) > 25  # the whole collection ran
    # and described the resources that run as a role
    assert {"lambda:ListFunctions", "cloudformation:DescribeStacks", "glue:GetDevEndpoints",
            "sagemaker:ListNotebookInstances", "ecs:DescribeTaskDefinition", "ec2:DescribeLaunchTemplateVersions",
            "ssm:DescribeInstanceInformation"} <= operations, sorted(operations)
    # One collection held to both policies the README names: building the estate is the test's cost.
    for policy in ("SecurityAudit", "ReadOnlyAccess"):
        document = aws_managed_document(f"arn:aws:iam::aws:policy/{policy}")
        assert document, f"the shipped catalogue has no {policy}"
        granted = IdentityPolicy([(policy, document)])
        assert sorted(op for op in operations - ALWAYS_ALLOWED if not granted.allows(op)) == [], policy
