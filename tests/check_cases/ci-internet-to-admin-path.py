"""ci-internet-to-admin-path: the CI node is reachable from the internet and its identity holds
administrator, escalation or production power."""

from check_cases import Case
from estate_builder import INTERNET_V4, EstateBuilder, allow_tcp


def node_as(*allows, exposed=True, name="jenkins"):
    """A CI node running as a role granted `allows`; `exposed`: on its own address in a subnet routed
    to an internet gateway with a firewall open on 8080, else in a private subnet."""
    b = EstateBuilder()
    net = b.public_network() if exposed else b.private_network()
    group = b.firewall("sg-ci", ingress=[allow_tcp(8080, cidr=INTERNET_V4)])
    role = b.identity("ci-build", allows=allows)
    b.compute("i-ci", name=name, subnet=net.subnet, private="10.0.1.100",
              public=["198.51.100.100"] if exposed else [], groups=[group], runs_as=role)
    return b


CASES = [
    Case("an exposed server running as an administrator", lambda: node_as(("*", "*")), fires={"i-ci": "critical"}),
    Case("an exposed runner whose identity can escalate",
         lambda: node_as(("iam:CreatePolicyVersion", "*"), name="gitlab-runner"), fires={"i-ci": "critical"}),
    Case("an administrator that the internet does not reach", lambda: node_as(("*", "*"), exposed=False)),
    Case("an exposed server with read access only", lambda: node_as(("s3:GetObject", "*"))),
]


def federated(*allows, **trust):
    """A role that GitHub Actions tokens can become under `trust`, granted `allows`: the only pipeline
    of the account."""
    b = EstateBuilder()
    b.federated_role("github-deploy", allows=list(allows), **trust)
    return b


HOSTED = "arn:aws:iam::111122223333:role/github-deploy"
CASES += [
    Case("any GitHub repository can become an administrator role", lambda: federated(("*", "*"), like=["repo:*"]),
         fires={HOSTED: "critical"}),
    Case("any GitHub repository can become a role that can escalate",
         lambda: federated(("iam:AttachRolePolicy", "*"), like=["repo:*"]), fires={HOSTED: "critical"}),
    Case("any repository of acme can become an administrator role: not the internet",
         lambda: federated(("*", "*"), like=["repo:acme/*"])),
    Case("any GitHub repository can become a read-only role", lambda: federated(("s3:GetObject", "*"))),
    Case("a pinned branch on an administrator role",
         lambda: federated(("*", "*"), equals=["repo:acme/infra:ref:refs/heads/main"])),
]


def federated_commanding(instance_allows, **trust):
    """A role GitHub Actions tokens can become under `trust`, allowed to run commands on an instance
    whose role is granted `instance_allows`."""
    b = EstateBuilder()
    net = b.private_network()
    b.federated_role("github-deploy", allows=[("ssm:SendCommand", "*")], **trust)
    app = b.identity("app", allows=[instance_allows])
    b.compute("i-app", name="app-server", subnet=net.subnet, private="10.1.1.81", runs_as=app, command_agent=True)
    return b


CASES += [
    Case("any GitHub repository can become a role that takes over an administrator instance",
         lambda: federated_commanding(("*", "*"), like=["repo:*"]), fires={HOSTED: "critical"}),
    Case("any GitHub repository can become a role that takes over a read-only instance",
         lambda: federated_commanding(("s3:GetObject", "*"), like=["repo:*"])),
    Case("a pinned branch can become a role that takes over an administrator instance",
         lambda: federated_commanding(("*", "*"), equals=["repo:acme/infra:ref:refs/heads/main"])),
]
