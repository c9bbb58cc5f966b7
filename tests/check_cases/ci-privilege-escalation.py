"""ci-privilege-escalation: the CI node's identity is not administrator but can make itself one."""

from check_cases import Case
from estate_builder import EstateBuilder


def runner_as(*allows):
    b = EstateBuilder()
    net = b.private_network()
    role = b.identity("ci-build", allows=allows)
    b.compute("i-runner", name="gitlab-runner", subnet=net.subnet, private="10.1.1.80", runs_as=role)
    return b


CASES = [
    Case("it can write a new default version of any policy", lambda: runner_as(("iam:CreatePolicyVersion", "*")),
         fires={"i-runner": "high"}),
    Case("it can attach any policy to the role it runs as", lambda: runner_as(("iam:AttachRolePolicy", "*")),
         fires={"i-runner": "high"}),
    Case("read access only", lambda: runner_as(("s3:GetObject", "*"), ("iam:Get*", "*"))),
    Case("an administrator is reported as such, not as escalation", lambda: runner_as(("*", "*"))),
]


def hosted(*allows):
    """A role a GitHub Actions workflow of acme/infra's main branch can become."""
    b = EstateBuilder()
    b.federated_role("deploy", allows=list(allows), equals=["repo:acme/infra:ref:refs/heads/main"])
    return b


HOSTED = "arn:aws:iam::111122223333:role/deploy"
CASES += [
    Case("a federated role that can create policy versions", lambda: hosted(("iam:CreatePolicyVersion", "*")),
         fires={HOSTED: "high"}),
    Case("a federated role that can only read", lambda: hosted(("s3:GetObject", "*"))),
]


def hosted_beside_instance(instance_allows, agent=True):
    """A role a pinned GitHub Actions workflow can become, allowed to run commands on an instance
    whose role is granted `instance_allows` (`agent`: the instance's command agent is registered)."""
    b = EstateBuilder()
    net = b.private_network()
    b.federated_role("deploy", allows=[("ssm:SendCommand", "*")], equals=["repo:acme/infra:ref:refs/heads/main"])
    app = b.identity("app", allows=[instance_allows])
    b.compute("i-app", name="app-server", subnet=net.subnet, private="10.1.1.81", runs_as=app, command_agent=agent)
    return b


CASES += [
    Case("a federated role that can run commands on an instance running as an administrator",
         lambda: hosted_beside_instance(("*", "*")), fires={HOSTED: "high"}),
    Case("a federated role that can run commands on an instance whose role can escalate",
         lambda: hosted_beside_instance(("iam:CreatePolicyVersion", "*")), fires={HOSTED: "high"}),
    Case("a federated role that can run commands on an instance running as a read-only role",
         lambda: hosted_beside_instance(("s3:GetObject", "*"))),
    Case("a federated role and an administrator instance no command agent manages",
         lambda: hosted_beside_instance(("*", "*"), agent=False)),
]


# GovCloud (and China) are partitions of their own: their ARNs start `arn:aws-us-gov:`, and an
# AWS-managed policy there (`arn:aws-us-gov:iam::aws:policy/...`) is no more changeable than in `aws`.
def gov_runner_as(*allows, beside_admin_instance=False):
    b = EstateBuilder(region="us-gov-west-1", partition="aws-us-gov")
    net = b.private_network()
    role = b.identity("ci-build", allows=allows)
    b.compute("i-runner", name="gitlab-runner", subnet=net.subnet, private="10.1.1.80", runs_as=role)
    if beside_admin_instance:
        admin = b.identity("app", allows=[("*", "*")])
        b.compute("i-app", name="app-server", subnet=net.subnet, private="10.1.1.81", runs_as=admin,
                  command_agent=True)
    return b


CASES += [
    Case("GovCloud: new versions of AWS-managed policies only",
         lambda: gov_runner_as(("iam:CreatePolicyVersion", "arn:aws-us-gov:iam::aws:policy/*"))),
    Case("GovCloud: new versions of the account's own policies",
         lambda: gov_runner_as(("iam:CreatePolicyVersion", "arn:aws-us-gov:iam::*:policy/*")),
         fires={"i-runner": "high"}),
    Case("GovCloud: commands on the partition's instances, one of them running as an administrator",
         lambda: gov_runner_as(("ssm:SendCommand", "arn:aws-us-gov:ec2:*:*:instance/*"), beside_admin_instance=True),
         fires={"i-runner": "high"}),
    Case("GovCloud: commands on instances of the aws partition only, none of which is here",
         lambda: gov_runner_as(("ssm:SendCommand", "arn:aws:ec2:*:*:instance/*"), beside_admin_instance=True)),
]
