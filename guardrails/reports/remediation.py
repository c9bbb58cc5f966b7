"""Concrete remediation per check: what the check means, a Terraform change, and an AWS CLI
command aimed at the finding's own resources.

The finding's `remediation` text says what to do; this adds how, for AWS. Commands are built only
from ids the finding itself carries (the resource, and the firewall, route table or role steps of
its evidence path), every value passed through shlex.quote, and only for resources that exist in a
live account: a Terraform resource address is fixed in the code, not with the CLI.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

_LIVE_AWS_ID = re.compile(r"^(arn:aws[a-z-]*:|[a-z]+-[0-9a-f]{8,17}$)")
_SECURITY_GROUP = re.compile(r"^sg-[0-9a-f]{8,17}$")
_ROUTE_TABLE = re.compile(r"^rtb-[0-9a-f]{8,17}$")
_INSTANCE = re.compile(r"^i-[0-9a-f]{8,17}$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/(?:.*/)?([\w+=,.@-]+)$")
_POLICY_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(aws|\d{12}):policy/[\w+=,.@/-]+$")


@dataclass(frozen=True)
class CheckGuide:
    summary: str
    terraform: str
    cli: Callable[[dict], list[str]] = field(default=lambda finding: [])


def _q(value: str) -> str:
    return shlex.quote(value)


def is_live_aws(finding: dict) -> bool:
    resource = finding.get("resource") or {}
    return resource.get("provider") == "aws" and bool(_LIVE_AWS_ID.match(str(resource.get("id", ""))))


def _path(finding: dict) -> list[dict]:
    return [step for step in (finding.get("evidence") or {}).get("path") or [] if isinstance(step, dict)]


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _unique(items: Iterator[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _security_groups(finding: dict) -> list[str]:
    on_path = (str(s["id"]) for s in _path(finding) if s.get("kind") == "firewall")
    in_details = _strings((finding.get("evidence") or {}).get("details"))
    return _unique(g for g in [*on_path, *in_details] if _SECURITY_GROUP.match(g))


def _route_tables(finding: dict) -> list[str]:
    on_path = (str(s["id"]) for s in _path(finding) if s.get("kind") == "route_table")
    in_details = _strings((finding.get("evidence") or {}).get("details"))
    return _unique(r for r in [*on_path, *in_details] if _ROUTE_TABLE.match(r))


def _roles(finding: dict) -> list[tuple[str, str]]:
    """(account, role name) of the identity steps of the evidence path, the node's own first."""
    found = []
    for step in _path(finding):
        match = _ROLE_ARN.match(str(step.get("id", "")))
        if step.get("kind") == "identity" and match:
            found.append((match.group(1), match.group(2)))
    return list(dict.fromkeys(found))


def _policies(finding: dict) -> list[str]:
    return _unique(p for p in _strings((finding.get("evidence") or {}).get("details")) if _POLICY_ARN.match(p))


def _instance_id(finding: dict) -> str | None:
    resource_id = str((finding.get("resource") or {}).get("id", ""))
    return resource_id if _INSTANCE.match(resource_id) else None


def _revoke_internet_ingress(finding: dict) -> list[str]:
    commands = []
    for group in _security_groups(finding):
        query = 'SecurityGroupRules[?!IsEgress && (CidrIpv4==`"0.0.0.0/0"` || CidrIpv6==`"::/0"`)].SecurityGroupRuleId'
        commands.append(
            f"rules=$(aws ec2 describe-security-group-rules --filters Name=group-id,Values={_q(group)}"
            f" --query {_q(query)} --output text)\n"
            f"aws ec2 revoke-security-group-ingress --group-id {_q(group)} --security-group-rule-ids $rules"
        )
    return commands


def _remove_public_address(finding: dict) -> list[str]:
    instance = _instance_id(finding)
    if not instance:
        return []
    query = "Reservations[].Instances[].NetworkInterfaces[].NetworkInterfaceId"
    return [
        f"for eni in $(aws ec2 describe-instances --instance-ids {_q(instance)} --query {_q(query)} --output text); do\n"
        "  aws ec2 modify-network-interface-attribute --network-interface-id \"$eni\" --no-associate-public-ip-address\n"
        "done\n"
        "# an Elastic IP stays until released: aws ec2 disassociate-address --association-id <eipassoc-id>"
    ]


def _route_through_nat(finding: dict) -> list[str]:
    return [
        f"aws ec2 replace-route --route-table-id {_q(table)} --destination-cidr-block 0.0.0.0/0"
        ' --nat-gateway-id "$NAT_GATEWAY_ID"'
        for table in _route_tables(finding)
    ]


def _review_role(finding: dict) -> list[str]:
    commands = []
    roles = _roles(finding)
    if roles:
        account, role = roles[0]
        for policy in _policies(finding):
            commands.append(f"aws iam detach-role-policy --role-name {_q(role)} --policy-arn {_q(policy)}")
        commands.append(f"aws iam list-role-policies --role-name {_q(role)}")
        commands.append(f"aws iam list-attached-role-policies --role-name {_q(role)}")
        boundary = f"arn:aws:iam::{account}:policy/ci-permissions-boundary"
        commands.append(
            f"aws iam put-role-permissions-boundary --role-name {_q(role)} --permissions-boundary {_q(boundary)}"
        )
    return commands


def _tighten_trust(finding: dict) -> list[str]:
    roles = _roles(finding)
    commands = []
    for account, role in roles[1:]:
        commands.append(f"aws iam get-role --role-name {_q(role)} --query Role.AssumeRolePolicyDocument  # in account {account}")
        commands.append(
            f"aws iam update-assume-role-policy --role-name {_q(role)} --policy-document file://trust-policy.json"
        )
    return commands


def _imds_v2(finding: dict) -> list[str]:
    instance = _instance_id(finding)
    if not instance:
        return []
    return [
        f"aws ec2 modify-instance-metadata-options --instance-id {_q(instance)}"
        " --http-tokens required --http-put-response-hop-limit 1 --http-endpoint enabled"
    ]


def _clear_user_data(finding: dict) -> list[str]:
    instance = _instance_id(finding)
    if not instance:
        return []
    return [
        "# rotate the exposed secret first: removing it from user data does not un-leak it",
        f"aws ec2 stop-instances --instance-ids {_q(instance)}\n"
        f"aws ec2 wait instance-stopped --instance-ids {_q(instance)}\n"
        f"aws ec2 modify-instance-attribute --instance-id {_q(instance)} --attribute userData"
        " --value file://user-data-without-secrets.b64\n"
        f"aws ec2 start-instances --instance-ids {_q(instance)}",
    ]


def _limit_lifetime(finding: dict) -> list[str]:
    details = (finding.get("evidence") or {}).get("details") or {}
    group = details.get("autoscaling_group") if isinstance(details, dict) else None
    if isinstance(group, str) and group:
        return [
            f"aws autoscaling update-auto-scaling-group --auto-scaling-group-name {_q(group)}"
            " --max-instance-lifetime 604800"
        ]
    return []


def _exposure_fix(finding: dict) -> list[str]:
    return _revoke_internet_ingress(finding) + _remove_public_address(finding)


_TF_PRIVATE_BEHIND_LB = """\
resource "aws_instance" "ci" {
  subnet_id                   = aws_subnet.private.id   # no 0.0.0.0/0 route to an internet gateway
  associate_public_ip_address = false
  vpc_security_group_ids      = [aws_security_group.ci.id]
}

resource "aws_security_group_rule" "ci_from_lb" {
  type                     = "ingress"
  security_group_id        = aws_security_group.ci.id
  source_security_group_id = aws_security_group.lb.id   # only the load balancer, never 0.0.0.0/0
  protocol                 = "tcp"
  from_port                = 8080
  to_port                  = 8080
}
"""

_TF_NO_INTERNET_RULE = """\
resource "aws_security_group_rule" "ci_https" {
  type              = "ingress"
  security_group_id = aws_security_group.ci.id
  protocol          = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_blocks       = var.office_and_vpn_cidrs   # never ["0.0.0.0/0"] or ipv6 ["::/0"]
}
"""

_TF_NAT_SEGMENT = """\
resource "aws_route_table" "ci_private" {
  vpc_id = aws_vpc.main.id
  route {
    cidr_block     = "0.0.0.0/0"
    nat_gateway_id = aws_nat_gateway.main.id   # outbound only; no gateway_id = aws_internet_gateway...
  }
}

resource "aws_route_table_association" "ci" {
  subnet_id      = aws_subnet.ci.id
  route_table_id = aws_route_table.ci_private.id
}
"""

_TF_SEGMENTATION = """\
resource "aws_security_group_rule" "prod_app_ingress" {
  type                     = "ingress"
  security_group_id        = aws_security_group.prod_app.id
  source_security_group_id = aws_security_group.prod_lb.id   # not the CI or runner group, not the VPC CIDR
  protocol                 = "tcp"
  from_port                = 443
  to_port                  = 443
}
# and keep CI in its own VPC without peering or transit gateway routes into production
"""

_TF_LEAST_PRIVILEGE = """\
resource "aws_iam_role_policy" "ci_build" {
  role = aws_iam_role.ci.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["s3:GetObject", "s3:PutObject"]          # what the builds need, no "*" or "iam:*"
      Resource = ["${aws_s3_bucket.artifacts.arn}/*"]
    }]
  })
}

resource "aws_iam_role" "ci" {
  name                 = "ci-build"
  assume_role_policy   = data.aws_iam_policy_document.ec2_trust.json
  permissions_boundary = aws_iam_policy.ci_permissions_boundary.arn   # denies iam:* and sts:AssumeRole into production
}
"""

_TF_PROD_TRUST = """\
data "aws_iam_policy_document" "prod_deploy_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.release_pipeline.arn]   # the release identity only, not every CI runner
    }
    condition {
      test     = "StringEquals"
      variable = "aws:PrincipalTag/pipeline"
      values   = ["release"]
    }
  }
}
"""

_TF_IMDS_V2 = """\
resource "aws_instance" "ci" {
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"   # IMDSv2 only
    http_put_response_hop_limit = 1            # build containers cannot reach the host's credentials
  }
}
"""

_TF_NO_SECRET_USER_DATA = """\
resource "aws_instance" "ci" {
  # user data is readable by anyone with ec2:DescribeInstanceAttribute and from the instance itself:
  # fetch the secret at boot instead
  user_data = templatefile("${path.module}/bootstrap.sh", {
    token_parameter = aws_ssm_parameter.runner_token.name   # read with aws ssm get-parameter --with-decryption
  })
}
"""

_TF_EPHEMERAL_RUNNERS = """\
resource "aws_autoscaling_group" "runners" {
  min_size              = 0
  max_size              = 10
  max_instance_lifetime = 604800   # 7 days; ephemeral runners ideally live for one job
  vpc_zone_identifier   = [aws_subnet.private.id]
  launch_template {
    id      = aws_launch_template.runner.id
    version = "$Latest"
  }
}
"""

_TF_PINNED_FEDERATION = """\
data "aws_iam_policy_document" "deploy_trust" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.github.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"                       # not StringLike with "repo:*" or "repo:acme/*"
      variable = "token.actions.githubusercontent.com:sub"
      values   = ["repo:acme/infra:ref:refs/heads/main"]   # or "repo:acme/infra:environment:production"
    }
  }
}
"""

_TF_NO_STORED_KEY = """\
# Remove the long-lived key and let the pipeline federate instead (see ci-federation-unscoped)
# resource "aws_iam_access_key" "ci" { user = aws_iam_user.ci.name }   <- delete
resource "aws_iam_role" "ci_deploy" {
  name               = "ci-deploy"
  assume_role_policy = data.aws_iam_policy_document.deploy_trust.json   # pinned to one repository and branch
}
"""


def _deactivate_keys(finding: dict) -> list[str]:
    resource = finding.get("resource") or {}
    match = re.match(r"^arn:aws[a-z-]*:iam::\d{12}:user/(?:.*/)?([\w+=,.@-]+)$", str(resource.get("id", "")))
    if not match:
        return []
    return [f"aws iam list-access-keys --user-name {_q(match.group(1))}",
            f"aws iam update-access-key --user-name {_q(match.group(1))} --access-key-id <KEY-ID> --status Inactive"]


def _pin_trust(finding: dict) -> list[str]:
    return [f"aws iam get-role --role-name {_q(name)} --query Role.AssumeRolePolicyDocument"
            for _, name in _roles(finding)[:1]]


GUIDES: dict[str, CheckGuide] = {
    "ci-internet-exposed": CheckGuide(
        "Traffic from any internet address can reach the CI node on at least one port today, directly or through an internet-facing load balancer.",
        _TF_PRIVATE_BEHIND_LB,
        _exposure_fix,
    ),
    "ci-firewall-allows-internet": CheckGuide(
        "A firewall attached to the CI node admits ingress from any internet address: the node is one change away from exposure.",
        _TF_NO_INTERNET_RULE,
        _revoke_internet_ingress,
    ),
    "ci-internet-gateway-segment": CheckGuide(
        "The CI node's network segment routes straight to an internet gateway.",
        _TF_NAT_SEGMENT,
        _route_through_nat,
    ),
    "ci-not-behind-load-balancer": CheckGuide(
        "A CI server has its own public address instead of being reached only through a load balancer.",
        _TF_PRIVATE_BEHIND_LB,
        _remove_public_address,
    ),
    "ci-reaches-production": CheckGuide(
        "The CI node can open a connection to a production node through shared or joined networks and an admitting firewall rule.",
        _TF_SEGMENTATION,
    ),
    "ci-admin-identity": CheckGuide(
        "The identity the CI node runs as holds administrator power over the account, project or subscription.",
        _TF_LEAST_PRIVILEGE,
        _review_role,
    ),
    "ci-privilege-escalation": CheckGuide(
        "The CI node's identity is not administrator but holds permissions that let it make itself one.",
        _TF_LEAST_PRIVILEGE,
        _review_role,
    ),
    "ci-production-access": CheckGuide(
        "The CI node's identity can act on production: assume a production role or write to production resources.",
        _TF_PROD_TRUST,
        _tighten_trust,
    ),
    "ci-internet-to-admin-path": CheckGuide(
        "One path joins the internet to administrator or production power through the CI node and its identity.",
        _TF_PRIVATE_BEHIND_LB + "\n" + _TF_LEAST_PRIVILEGE,
        lambda finding: _exposure_fix(finding) + _review_role(finding),
    ),
    "ci-federation-unscoped": CheckGuide(
        "A CI platform's tokens can become the identity without its trust pinning which repository and branch: "
        "anyone who can run a pipeline there (or another repository or branch) gets its power.",
        _TF_PINNED_FEDERATION,
        _pin_trust,
    ),
    "ci-stored-credential": CheckGuide(
        "A CI identity holds a long-lived key stored in the CI system: whoever reads it acts as the pipeline, "
        "from anywhere, until it is rotated.",
        _TF_NO_STORED_KEY,
        _deactivate_keys,
    ),
    "ci-imds-v1": CheckGuide(
        "The instance metadata service accepts IMDSv1, or a runner's hop limit lets build containers reach the host's credentials.",
        _TF_IMDS_V2,
        _imds_v2,
    ),
    "ci-secret-in-user-data": CheckGuide(
        "The node's launch data holds a secret, readable from the instance and by anyone allowed to describe it.",
        _TF_NO_SECRET_USER_DATA,
        _clear_user_data,
    ),
    "ci-long-lived-runner": CheckGuide(
        "A runner has been running longer than the configured limit or belongs to no autoscaling group: persistent runners keep footholds between builds.",
        _TF_EPHEMERAL_RUNNERS,
        _limit_lifetime,
    ),
}


@dataclass(frozen=True)
class Steps:
    text: str
    terraform: str | None
    commands: list[str]


def steps_for(finding: dict) -> Steps:
    """The remediation of one finding: its own text, and the Terraform and AWS CLI that apply."""
    guide = GUIDES.get(str(finding.get("check_id")))
    aws = (finding.get("resource") or {}).get("provider") == "aws"
    terraform = guide.terraform if guide and aws else None
    commands = guide.cli(finding) if guide and is_live_aws(finding) else []
    return Steps(str(finding.get("remediation", "")), terraform, commands)


def summary_for(check_id: str, fallback: str) -> str:
    guide = GUIDES.get(check_id)
    return guide.summary if guide else fallback
