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
