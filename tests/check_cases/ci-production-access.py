"""ci-production-access: the CI node's identity can act on production."""

from check_cases import Case
from estate_builder import EstateBuilder

PRODUCTION = {"env": "prod"}


def runner_assuming_production_role(trusted=True):
    """A runner whose role may assume a production deploy role; that role's trust admits the runner's
    role only when `trusted`."""
    b = EstateBuilder()
    net = b.private_network()
    deployer = f"arn:aws:iam::{b.account}:role/prod-deployer"
    role = b.identity("ci-build", allows=[("sts:AssumeRole", deployer)])
    b.identity("prod-deployer", allows=[("s3:PutObject", "*")], tags=PRODUCTION,
               trusts=[role] if trusted else ["ec2.amazonaws.com"])
    b.compute("i-runner", name="gitlab-runner", subnet=net.subnet, private="10.1.1.90", runs_as=role)
    return b


def runner_commanding(action):
    """A runner whose role is granted `action` on every resource, beside a production instance."""
    b = EstateBuilder()
    net = b.private_network()
    role = b.identity("ci-build", allows=[(action, "*")])
    b.compute("i-runner", name="gitlab-runner", subnet=net.subnet, private="10.1.1.90", runs_as=role)
    b.compute("i-orders", name="orders-api", subnet=net.subnet, private="10.1.1.91", tags=PRODUCTION)
    return b


CASES = [
    Case("it can assume a production role that trusts it", runner_assuming_production_role,
         fires={"i-runner": "high"}),
    Case("the production role's trust does not admit it", lambda: runner_assuming_production_role(trusted=False)),
    Case("it can run commands on a production instance", lambda: runner_commanding("ssm:SendCommand"),
         fires={"i-runner": "high"}),
    Case("it can only describe instances", lambda: runner_commanding("ec2:DescribeInstances")),
]


def hosted_in_production(tags=PRODUCTION):
    """A role GitLab pipelines of acme/app's main branch can become, that may run commands on a production
    instance when it is one."""
    b = EstateBuilder()
    net = b.private_network()
    b.federated_role("deploy", issuer="gitlab.com", allows=[("ssm:SendCommand", "*")],
                     equals=["project_path:acme/app:ref_type:branch:ref:main"])
    b.compute("i-orders", name="orders-api", subnet=net.subnet, private="10.1.1.91", tags=tags)
    return b


CASES += [
    Case("a federated role that can run commands on a production instance", hosted_in_production,
         fires={"arn:aws:iam::111122223333:role/deploy": "high"}),
    Case("a federated role beside an instance that is not production", lambda: hosted_in_production(tags={})),
]
