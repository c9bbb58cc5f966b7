"""The remediation's AWS CLI commands do what they say: the demo estate is built on a moto server,
scanned, every generated command is run with the real AWS CLI against that server, and a rescan
shows the findings gone. The scanner itself never runs a command: this test does, as a person
would after reading the report."""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import boto3

from guardrails.reports.remediation import steps_for

GUARDRAILS = [str(Path(sys.executable).with_name("guardrails"))]
# Where moto departs from EC2, the command is still generated and checked for its form, but cannot
# show the finding gone: moto accepts modify-network-interface-attribute --no-associate-public-ip-address
# without removing the address; and it revokes a rule that names a security group only when the
# request repeats the rule's description (EC2 matches protocol, ports and group alone), which the
# demo's rules carry and the evidence does not.
NOT_IMPLEMENTED_BY_MOTO = {"ci-not-behind-load-balancer": "public address not removed by moto",
                           "ci-reaches-production": "moto matches the rule's description on revoke"}


def scan(env: dict, cwd: Path, name: str) -> dict:
    result = subprocess.run([*GUARDRAILS, "scan", "aws", "--region", "eu-west-1", "-f", "json", "-o", name, "-q",
                             "--config", "guardrails.toml", "--fail-on", "never"],
                            capture_output=True, text=True, env=env, cwd=cwd, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads((cwd / name).read_text())


def user_data_without_secrets(finding: dict, endpoint: str) -> str:
    """What a person edits: the instance's user data without the secret's lines."""
    ec2 = boto3.client("ec2", region_name="eu-west-1", endpoint_url=endpoint)
    instance = finding["resource"]["id"]
    encoded = ec2.describe_instance_attribute(InstanceId=instance, Attribute="userData")["UserData"]["Value"]
    lines = base64.b64decode(encoded).decode().splitlines()
    secret_lines = {s["line"] for s in finding["evidence"]["details"]["secrets"]}
    return "\n".join(line for number, line in enumerate(lines, 1) if number not in secret_lines) + "\n"


def write_trust_policy_without(change, directory: Path, endpoint: str) -> None:
    """What a person edits: the role's trust policy without the principal the change names."""
    role = change.resource.removeprefix("role ")
    principal = change.what.rsplit(" ", 1)[-1]
    iam = boto3.client("iam", endpoint_url=endpoint)
    document = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    for statement in document["Statement"]:
        named = statement.get("Principal", {}).get("AWS", [])
        named = [named] if isinstance(named, str) else named
        statement["Principal"]["AWS"] = [p for p in named if p != principal] or ["arn:aws:iam::123456789012:root"]
    (directory / f"{role}-trust.json").write_text(json.dumps(document))


# The AWS console's page of each kind of resource a change names, as the console itself links them
# (the anchor of the EC2 and VPC consoles' single-page apps, the IAM console's route).
CONSOLE_PAGES = [
    re.compile(r"^https://console\.aws\.amazon\.com/ec2/home\?region=(?P<region>[a-z]{2}-[a-z]+-\d)#"
               r"(SecurityGroup:groupId=(?P<sg>sg-[0-9a-f]{8,17})|InstanceDetails:instanceId=(?P<i>i-[0-9a-f]{8,17})|"
               r"NetworkInterface:networkInterfaceId=(?P<eni>eni-[0-9a-f]{8,17})|"
               r"Addresses:search=(?P<ip>[0-9.]+)|AutoScalingGroupDetails:id=(?P<asg>[\w.-]+);view=details)$"),
    re.compile(r"^https://console\.aws\.amazon\.com/vpcconsole/home\?region=(?P<region>[a-z]{2}-[a-z]+-\d)#"
               r"RouteTableDetails:RouteTableId=(?P<rtb>rtb-[0-9a-f]{8,17})$"),
    re.compile(r"^https://console\.aws\.amazon\.com/iam/home#/(roles|users)/details/(?P<name>[\w+=,.@-]+)$"),
]


def assert_console_page(console: str, finding: dict) -> None:
    """The console path opens with the real page of the resource: its URL pattern, the finding's
    region, and an id the finding's evidence holds."""
    url = console.split(" > ", 1)[0]
    match = next((m for m in (p.match(url) for p in CONSOLE_PAGES) if m), None)
    assert match, url
    if "region" in match.re.groupindex:
        assert match["region"] == finding["resource"]["region"], url
    named = next(v for k, v in match.groupdict().items() if v and k != "region")
    assert named in json.dumps(finding), url


def test_every_generated_command_runs_and_the_findings_are_gone(moto_server, monkeypatch, tmp_path):
    from guardrails.providers.aws.demo_estate import PRODUCTION_ACCOUNT_ID, build_demo_estate

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    build_demo_estate(boto3.Session(region_name="eu-west-1"))
    (tmp_path / "guardrails.toml").write_text(f'[production]\naccounts = ["{PRODUCTION_ACCOUNT_ID}"]\n')
    env = dict(os.environ, AWS_ENDPOINT_URL=moto_server)
    before = scan(env, tmp_path, "before.json")
    assert len(before["findings"]) >= 15

    commands: list[str] = []
    for finding in before["findings"]:
        steps = steps_for(finding)
        if finding["check_id"] in NOT_IMPLEMENTED_BY_MOTO:
            assert steps.commands and all(c.startswith("aws ec2 ") for c in steps.commands)
            continue
        # every finding of the demo names the exact change, with real ids and a console path
        assert steps.changes and steps.commands, finding["check_id"]
        assert all(change.console and change.what for change in steps.changes)
        for change in steps.changes:
            assert_console_page(change.console, finding)
        if finding["check_id"] == "ci-secret-in-user-data":
            cleaned = user_data_without_secrets(finding, moto_server)
            (tmp_path / "user-data.b64").write_text(base64.b64encode(cleaned.encode()).decode())
        for change in steps.changes:
            for note in change.notes:
                if "trust policy" in note and "-trust.json" in note:
                    write_trust_policy_without(change, tmp_path, moto_server)
        commands += [c for c in steps.commands if c not in commands]

    # The real AWS CLI, driven in this process (as `aws` would run it) to spare an interpreter start per command.
    import botocore.loaders
    import botocore.session
    from awscli.clidriver import create_clidriver

    # The CLI adds its own data to its session's loader: it gets a loader of its own, not the tests' shared one.
    monkeypatch.setattr(botocore.session, "create_loader", botocore.loaders.create_loader)
    monkeypatch.chdir(tmp_path)  # where the commands' file:// arguments are
    for command in commands:
        words = shlex.split(command)
        assert words[0] == "aws" and "\n" not in command, command  # one CLI call, nothing for a shell to do
        assert create_clidriver().main(words[1:]) == 0, command

    after = scan(env, tmp_path, "after.json")
    left = {(f["check_id"], f["resource"]["name"]) for f in after["findings"]}
    fixed = {(f["check_id"], f["resource"]["name"]) for f in before["findings"]
             if f["check_id"] not in NOT_IMPLEMENTED_BY_MOTO}
    assert not (left & fixed), [(f["check_id"], f["message"], [s.get("via") for s in f["evidence"]["path"]])
                                for f in after["findings"] if (f["check_id"], f["resource"]["name"]) in fixed]
    assert {check for check, _ in left} <= set(NOT_IMPLEMENTED_BY_MOTO)


def test_a_plan_finding_gets_the_change_at_its_address():
    from test_reports_support import load

    from guardrails.reports.remediation import terraform_changes

    sample = load("sample")
    secret = next(f for f in sample["findings"] if f["check_id"] == "ci-secret-in-user-data")
    address = secret["resource"]["id"]
    assert address.startswith("module.") and steps_for(secret).commands == []
    changes = terraform_changes(secret)
    assert len(changes) == 1 and changes[0].startswith(f"{address}: user_data: remove ")
    assert "line 7" in changes[0] and "aws_ssm_parameter" in changes[0]
    live = next(f for f in sample["findings"] if f["check_id"] == "ci-imds-v1" and f["resource"]["id"].startswith("i-"))
    assert terraform_changes(live) == []  # a live resource is changed in the cloud, not at an address
