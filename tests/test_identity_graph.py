"""Every way a build identity becomes more powerful, as IAM and the services really allow it: one
moto estate per escalation path and per control, collected and scanned, and the chain the finding
gives (runner -> its role -> the resource or role it reaches -> ... -> the account)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
from aws_builders import (
    ADMINISTRATOR_ACCESS,
    AwsBuilder,
    Role,
    allow,
    deny,
    policy_document,
    trust_service,
)

from guardrails import pipeline
from guardrails.config import Config
from guardrails.providers.aws import collect as aws_collect
from guardrails.providers.aws.commands import user_data_wanted

REGION = "eu-west-1"
ACCOUNT = "123456789012"
AGENT_ONLINE = {"ssm-agent": "online"}  # tests/moto_extensions.py: the instance's SSM agent registered
GUARDRAILS = [str(Path(sys.executable).with_name("guardrails"))]


def inline(*statements: dict) -> dict[str, dict]:
    return {"ci": policy_document(*statements)}


def ci_runner(b: AwsBuilder, role: Role):
    """A private, IMDSv2-only, autoscaled runner: only the identity checks can fire on it."""
    vpc = b.vpc("10.0.0.0/16", name="ci")
    subnet = b.private_subnet(vpc, "10.0.1.0/24", name="ci-private")
    group = b.security_group(vpc, "ci-runner")
    runner = b.instance("gitlab-runner", subnet=subnet, security_groups=[group], imds="required",
                        instance_profile=role)
    b.autoscaling_group("gitlab-runners", subnets=[subnet], instances=[runner])
    return runner, subnet, group


def admin_role(b: AwsBuilder, service: str = "ec2.amazonaws.com", name: str = "app-admin") -> Role:
    return b.role(name, trust=trust_service(service), managed_policies=[ADMINISTRATOR_ACCESS],
                  instance_profile=service == "ec2.amazonaws.com")


# --- resources that run as a role ---------------------------------------------------------------


def app_instance(b: AwsBuilder, ctx: dict, *, agent: bool = True) -> str:
    role = admin_role(b)
    instance = b.instance("app-server", subnet=ctx["subnet"], security_groups=[ctx["group"]], imds="required",
                          instance_profile=role, tags=AGENT_ONLINE if agent else None)
    return instance.id


def unmanaged_instance(b: AwsBuilder, ctx: dict) -> str:
    return app_instance(b, ctx, agent=False)


def lambda_function(b: AwsBuilder, _ctx: dict) -> str:
    role = admin_role(b, "lambda.amazonaws.com")
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return b.client("lambda").create_function(
        FunctionName="rotate-keys", Runtime="python3.12", Role=role.arn, Handler="handler.handler",
        Code={"ZipFile": code.getvalue()})["FunctionArn"]


def stack(b: AwsBuilder, _ctx: dict) -> str:
    role = admin_role(b, "cloudformation.amazonaws.com")
    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
    return b.client("cloudformation").create_stack(StackName="platform", TemplateBody=json.dumps(template),
                                                   RoleARN=role.arn)["StackId"]


def dev_endpoint(b: AwsBuilder, _ctx: dict) -> str:
    role = admin_role(b, "glue.amazonaws.com")
    b.client("glue").create_dev_endpoint(EndpointName="etl-dev", RoleArn=role.arn)
    return f"arn:aws:glue:{REGION}:{ACCOUNT}:devEndpoint/etl-dev"


def notebook(b: AwsBuilder, _ctx: dict) -> str:
    role = admin_role(b, "sagemaker.amazonaws.com")
    return b.client("sagemaker").create_notebook_instance(
        NotebookInstanceName="research", InstanceType="ml.t3.medium", RoleArn=role.arn)["NotebookInstanceArn"]


def build_project(b: AwsBuilder, _ctx: dict) -> str:
    role = admin_role(b, "codebuild.amazonaws.com")
    return b.codebuild_project("release", role=role).arn


def task_definition(b: AwsBuilder, _ctx: dict) -> str:
    role = admin_role(b, "ecs-tasks.amazonaws.com")
    return b.client("ecs").register_task_definition(
        family="migrate", taskRoleArn=role.arn,
        containerDefinitions=[{"name": "migrate", "image": "busybox", "memory": 128}])["taskDefinition"]["taskDefinitionArn"]


def launch_template(b: AwsBuilder, _ctx: dict) -> str:
    role = admin_role(b)
    template = b.client("ec2").create_launch_template(
        LaunchTemplateName="batch", LaunchTemplateData={"IamInstanceProfile": {"Arn": role.instance_profile_arn}})
    return f"arn:aws:ec2:{REGION}:{ACCOUNT}:launch-template/{template['LaunchTemplate']['LaunchTemplateId']}"


def admin_user(b: AwsBuilder, _ctx: dict) -> str:
    return b.user("app-admin", managed_policies=[ADMINISTRATOR_ACCESS])


def instance_without_role(b: AwsBuilder, ctx: dict) -> str:
    """An instance the SSM agent manages, with no role, beside an administrator role EC2 may assume."""
    admin_role(b)
    return b.instance("batch", subnet=ctx["subnet"], security_groups=[ctx["group"]], imds="required",
                      tags=AGENT_ONLINE).id


def instance_with_a_weak_role(b: AwsBuilder, ctx: dict) -> str:
    """An instance the SSM agent manages running as a read-only role, beside an administrator role."""
    admin_role(b)
    weak = b.role("batch-reader", trust=trust_service("ec2.amazonaws.com"),
                  inline_policies={"read": policy_document(allow("s3:GetObject"))}, instance_profile=True)
    return b.instance("batch", subnet=ctx["subnet"], security_groups=[ctx["group"]], imds="required",
                      instance_profile=weak, tags=AGENT_ONLINE).id


def only_a_role(service: str) -> Callable[[AwsBuilder, dict], str]:
    def build(b: AwsBuilder, _ctx: dict) -> str:
        return admin_role(b, service).arn
    return build


@dataclass(frozen=True)
class Path_:
    """One row: the estate's powerful resource, what the runner's role is allowed, and what the
    scan must say. `via` is the kinds of the nodes between the runner's role and the admin role."""

    target: Callable[[AwsBuilder, dict], str]
    statements: tuple[dict, ...]
    check: str | None = "ci-privilege-escalation"
    via: tuple[str, ...] = ()
    mentions: tuple[str, ...] = ()
    confidence: str = "confirmed"
    boundary: dict | None = None  # the runner role's permissions boundary


def row(target, *statements, **kwargs) -> Path_:
    return Path_(target, statements, **kwargs)


TAKE_OVER = ("compute", "identity")  # the resource taken over, then the role it runs as
WORKLOAD = ("workload", "identity")
PASSED = ("identity",)  # the role passed to a service

PATHS = [
    pytest.param(row(app_instance, allow("ssm:SendCommand"), via=TAKE_OVER, mentions=("ssm:SendCommand",)),
                 id="ssm:SendCommand to an instance with an admin role"),
    pytest.param(row(app_instance, allow("ssm:StartSession"), via=TAKE_OVER, mentions=("ssm:StartSession",)),
                 id="ssm:StartSession"),
    pytest.param(row(app_instance, allow("ec2-instance-connect:SendSSHPublicKey"), via=TAKE_OVER,
                     mentions=("ec2-instance-connect:SendSSHPublicKey",)), id="EC2 Instance Connect"),
    pytest.param(row(lambda_function, allow("lambda:UpdateFunctionCode"), via=WORKLOAD,
                     mentions=("lambda:UpdateFunctionCode", "rotate-keys")), id="lambda:UpdateFunctionCode"),
    pytest.param(row(lambda_function, allow("lambda:UpdateFunctionConfiguration"), via=WORKLOAD),
                 id="lambda:UpdateFunctionConfiguration"),
    pytest.param(row(stack, allow("cloudformation:UpdateStack"), via=WORKLOAD, mentions=("platform",)),
                 id="cloudformation:UpdateStack"),
    pytest.param(row(stack, allow(["cloudformation:CreateChangeSet", "cloudformation:ExecuteChangeSet"]),
                     via=WORKLOAD), id="cloudformation change sets"),
    pytest.param(row(dev_endpoint, allow("glue:UpdateDevEndpoint"), via=WORKLOAD), id="glue:UpdateDevEndpoint"),
    pytest.param(row(notebook, allow("sagemaker:CreatePresignedNotebookInstanceUrl"), via=WORKLOAD),
                 id="sagemaker:CreatePresignedNotebookInstanceUrl"),
    pytest.param(row(build_project, allow("codebuild:StartBuild", f"arn:aws:codebuild:{REGION}:{ACCOUNT}:project/*"),
                     via=TAKE_OVER), id="codebuild:StartBuild with a buildspec override"),
    pytest.param(row(task_definition, allow(["ecs:RunTask", "iam:PassRole"]), via=PASSED),
                 id="ecs:RunTask of a task definition"),
    pytest.param(row(launch_template, allow(["ec2:RunInstances", "iam:PassRole"]), via=PASSED),
                 id="ec2:RunInstances with a launch template"),
    pytest.param(row(only_a_role("datapipeline.amazonaws.com"),
                     allow(["iam:PassRole", "datapipeline:CreatePipeline", "datapipeline:PutPipelineDefinition"]),
                     via=PASSED, mentions=("datapipeline",)), id="PassRole + Data Pipeline"),
    pytest.param(row(only_a_role("sagemaker.amazonaws.com"), allow(["iam:PassRole", "sagemaker:CreateTrainingJob"]),
                     via=PASSED), id="PassRole + sagemaker:CreateTrainingJob"),
    pytest.param(row(only_a_role("sagemaker.amazonaws.com"),
                     allow(["iam:PassRole", "sagemaker:CreateProcessingJob"]), via=PASSED),
                 id="PassRole + sagemaker:CreateProcessingJob"),
    pytest.param(row(only_a_role("glue.amazonaws.com"), allow(["iam:PassRole", "glue:CreateDevEndpoint"]),
                     via=PASSED), id="PassRole + glue:CreateDevEndpoint"),
    pytest.param(row(only_a_role("ec2.amazonaws.com"),
                     allow("iam:UpdateAssumeRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/app-*"), via=PASSED,
                     mentions=("rewrite the trust policy of app-admin",)), id="iam:UpdateAssumeRolePolicy of an admin role"),
    pytest.param(row(admin_user, allow("iam:CreateAccessKey", f"arn:aws:iam::{ACCOUNT}:user/app-*"), via=PASSED,
                     mentions=("create credentials of app-admin",)), id="iam:CreateAccessKey of an admin user"),
    pytest.param(row(admin_user, allow("iam:UpdateLoginProfile", f"arn:aws:iam::{ACCOUNT}:user/app-admin"),
                     via=PASSED), id="iam:UpdateLoginProfile of an admin user"),
    pytest.param(row(instance_without_role, allow(["ec2:AssociateIamInstanceProfile", "iam:PassRole",
                                                   "ssm:SendCommand"]), via=PASSED,
                     mentions=("pass app-admin",)), id="ec2:AssociateIamInstanceProfile onto an instance it commands"),
    pytest.param(row(instance_with_a_weak_role, allow(["ec2:ReplaceIamInstanceProfileAssociation", "iam:PassRole",
                                                       "ssm:StartSession"]), via=PASSED),
                 id="ec2:ReplaceIamInstanceProfileAssociation onto an instance it commands"),
    pytest.param(row(lambda_function, allow("lambda:UpdateFunctionCode",
                                            Condition={"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}),
                     via=WORKLOAD, confidence="unknown", mentions=("possible, not certain",)),
                 id="a condition the scan cannot evaluate: possible, not certain"),
    pytest.param(row(app_instance, allow("ssm:SendCommand", Condition={
        "StringEquals": {"aws:ResourceTag/ssm-agent": "online"}}), via=TAKE_OVER),
                 id="ssm:SendCommand on instances with a tag the instance has"),
    # Controls: nothing to report.
    pytest.param(row(app_instance, allow("ssm:SendCommand", Condition={
        "StringEquals": {"aws:ResourceTag/team": "ci"}}), check=None),
                 id="control: ssm:SendCommand only on instances with a tag the instance lacks"),
    pytest.param(row(app_instance, allow("ssm:SendCommand"), deny("ssm:SendCommand", Condition={
        "StringEquals": {"aws:ResourceTag/ssm-agent": "online"}}), check=None),
                 id="control: ssm:SendCommand denied on instances with a tag the instance has"),
    pytest.param(row(lambda_function, allow("lambda:UpdateFunctionCode", Condition={
        "DateGreaterThan": {"aws:CurrentTime": "2019-01-01T00:00:00Z"},
        "DateLessThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}), check=None),
                 id="control: a grant under a date window in the past"),
    pytest.param(row(lambda_function, allow("lambda:UpdateFunctionCode"), check=None,
                     boundary=policy_document(allow("s3:*"))), id="control: a boundary that cuts the take-over"),
    pytest.param(row(lambda_function, allow("lambda:UpdateFunctionCode", Condition={
        "StringEquals": {"aws:PrincipalAccount": "111122223333"}}), check=None),
                 id="control: a condition on another account"),
    pytest.param(row(unmanaged_instance, allow("ssm:SendCommand"), check=None),
                 id="control: ssm:SendCommand, no SSM agent on the instance"),
    pytest.param(row(lambda_function, allow("lambda:UpdateFunctionCode",
                                            f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:build-*"), check=None),
                 id="control: UpdateFunctionCode on functions that do not match"),
    pytest.param(row(lambda_function, allow("lambda:GetFunction"), check=None), id="control: reading a function"),
    pytest.param(row(stack, allow("cloudformation:CreateChangeSet"), check=None),
                 id="control: a change set that cannot be executed"),
    pytest.param(row(instance_without_role, allow(["ec2:AssociateIamInstanceProfile", "iam:PassRole"]), check=None),
                 id="control: a profile associated to an instance it cannot command"),
    pytest.param(row(instance_without_role, allow(["ec2:AssociateIamInstanceProfile", "iam:PassRole", "ssm:SendCommand"]),
                     deny("ec2:AssociateIamInstanceProfile"), check=None),
                 id="control: associating a profile denied"),
    pytest.param(row(instance_with_a_weak_role, allow(["ec2:AssociateIamInstanceProfile", "iam:PassRole",
                                                       "ssm:SendCommand"]), check=None),
                 id="control: associating a profile to an instance that has one"),
    pytest.param(row(admin_user, allow("iam:CreateAccessKey", f"arn:aws:iam::{ACCOUNT}:user/*", Condition={
        "DateLessThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}), check=None),
                 id="control: CreateAccessKey under a date window in the past"),
    pytest.param(row(only_a_role("lambda.amazonaws.com"), allow("iam:CreatePolicyVersion",
                                                                 "arn:aws:iam::aws:policy/*"), check=None),
                 id="control: CreatePolicyVersion on AWS-managed policies only"),
]


def collect(session) -> dict:
    return aws_collect.collect(session, [REGION], wants_user_data=user_data_wanted(Config()))


@pytest.mark.parametrize("path", PATHS)
def test_escalation_path(aws, builder_session, collector_session, path: Path_):
    b = AwsBuilder(builder_session)
    boundary = b.managed_policy("ci-boundary", path.boundary) if path.boundary else None
    role = b.role("ci-runner", inline_policies=inline(*path.statements), permissions_boundary=boundary)
    runner, subnet, group = ci_runner(b, role)
    target = path.target(b, {"subnet": subnet, "group": group})

    document = pipeline.scan_snapshots([collect(collector_session)], Config())

    fired = {(f["check_id"], f["resource"]["id"]) for f in document["findings"]}
    assert fired == ({(path.check, runner.id)} if path.check else set())
    if not path.check:
        return
    (finding,) = document["findings"]
    steps = finding["evidence"]["path"]
    assert [s["kind"] for s in steps] == ["compute", "identity", *path.via, "account"]
    assert steps[1]["id"] == role.arn
    assert steps[-2]["name"] == "app-admin"
    if path.via != PASSED:
        assert steps[2]["id"] == target
    for text in path.mentions:
        assert text in finding["message"]
    assert finding["confidence"] == path.confidence
    hops = finding["evidence"]["details"]["hops"]
    assert hops and all(proof["statement"] for hop in hops[:1] for proof in hop["proofs"])


def test_a_service_that_cannot_be_read_leaves_its_take_overs_unknown(aws, builder_session, collector_session):
    b = AwsBuilder(builder_session)
    role = b.role("ci-runner", inline_policies=inline(allow("lambda:UpdateFunctionCode")))
    runner, _, _ = ci_runner(b, role)
    lambda_function(b, {})
    snapshot = collect(collector_session)
    del snapshot["regions"][REGION]["lambda_functions"]
    snapshot["gaps"].append({"provider": "aws", "scope": ACCOUNT, "region": REGION, "what": "lambda_functions",
                             "error": "AccessDeniedException: not authorized"})

    document = pipeline.scan_snapshots([snapshot], Config())

    (finding,) = document["findings"]
    assert (finding["check_id"], finding["resource"]["id"]) == ("ci-privilege-escalation", runner.id)
    assert finding["confidence"] == "unknown"
    assert "lambda_functions not collected" in finding["message"]


# --- the whole flow: `guardrails scan aws` against a moto server -------------------------------


def test_scan_aws_reports_runner_to_instance_to_role_to_administrator(moto_server, tmp_path):
    import boto3

    b = AwsBuilder(boto3.Session(region_name=REGION), endpoint_url=moto_server)
    role = b.role("ci-runner", inline_policies=inline(allow("ssm:SendCommand")))
    runner, subnet, group = ci_runner(b, role)
    instance = app_instance(b, {"subnet": subnet, "group": group})
    out = tmp_path / "findings.json"

    result = subprocess.run([*GUARDRAILS, "scan", "aws", "--region", REGION, "--format", "json", "--output", str(out),
                             "--quiet"], capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, AWS_ENDPOINT_URL=moto_server))

    assert result.returncode == 1, result.stderr
    document = json.loads(out.read_text())
    (finding,) = [f for f in document["findings"] if f["resource"]["id"] == runner.id]
    assert finding["check_id"] == "ci-privilege-escalation"
    assert finding["confidence"] == "confirmed"
    steps = finding["evidence"]["path"]
    assert [(s["kind"], s["name"]) for s in steps] == [
        ("compute", "gitlab-runner"), ("identity", "ci-runner"), ("compute", "app-server"),
        ("identity", "app-admin"), ("account", ACCOUNT)]
    assert steps[2]["id"] == instance
    assert "ssm:SendCommand" in steps[2]["via"] and "inline policy ci" in steps[2]["via"]
    assert "AdministratorAccess" in steps[-1]["via"]


# --- CI identities of hosted pipelines: the same graph, the same answer -----------------------


def test_an_any_owner_federation_reaches_administrator_through_a_take_over():
    """internet -> issuer -> federated role -> instance it takes over -> the instance's role -> account,
    each hop with the statement and the resource that allow it."""
    from estate_builder import EstateBuilder

    from guardrails.findings import ci_identity_inventory, run_checks
    from guardrails.registry import all_checks

    b = EstateBuilder()
    net = b.private_network()
    deploy = b.federated_role("github-deploy", allows=[("ssm:SendCommand", "*")], like=["repo:*"])
    admin = b.identity("app-admin", allows=[("*", "*")])
    b.compute("i-app", name="app-server", subnet=net.subnet, private="10.1.1.81", runs_as=admin, command_agent=True)
    wanted = {"ci-internet-to-admin-path", "ci-privilege-escalation", "ci-admin-identity"}
    estate = b.analyse()
    findings = run_checks(estate, [c for c in all_checks() if c.id in wanted])

    by_check = {f["check_id"]: f for f in findings if f["resource"]["id"] == deploy}
    assert set(by_check) == {"ci-internet-to-admin-path", "ci-privilege-escalation"}
    path = by_check["ci-internet-to-admin-path"]["evidence"]["path"]
    assert [s["kind"] for s in path] == ["internet", "issuer", "identity", "compute", "identity", "account"]
    assert [s["id"] for s in path[2:5]] == [deploy, "i-app", admin]
    escalation = by_check["ci-privilege-escalation"]
    assert [s["kind"] for s in escalation["evidence"]["path"]] == ["issuer", "identity", "compute", "identity",
                                                                   "account"]
    assert "can take over app-server (ssm:SendCommand), which runs as app-admin" in escalation["message"]
    first, second = escalation["evidence"]["details"]["hops"]
    assert (first["method"], first["to"]) == ("take_over", "i-app")
    (proof,) = first["proofs"]
    assert proof["action"] == "ssm:SendCommand" and proof["resource"].endswith(":instance/i-app")
    assert "github-deploy-policy" in proof["statement"]
    assert (second["method"], second["to"]) == ("runs_as", admin)
    (inventory,) = [i for i in ci_identity_inventory(estate) if i["id"] == deploy]
    assert (inventory["power"], inventory["power_via"]) == ("escalate", "app-admin")
