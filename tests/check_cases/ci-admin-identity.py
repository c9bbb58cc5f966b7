"""ci-admin-identity: the identity the CI node runs as holds administrator power, itself or by
assuming another."""

from check_cases import Case
from estate_builder import EstateBuilder

READ_ONLY = [("s3:GetObject", "*")]


def runner_as(*allows, chain_to=None, trusted=True):
    """A runner running as a role granted `allows`; with `chain_to`, the role may also assume a
    second role granted `chain_to`, whose trust admits the first only when `trusted`."""
    b = EstateBuilder()
    net = b.private_network()
    grants = list(allows)
    if chain_to is not None:
        grants.append(("sts:AssumeRole", f"arn:aws:iam::{b.account}:role/deployer"))
    role = b.identity("ci-build", allows=grants)
    if chain_to is not None:
        b.identity("deployer", allows=chain_to, trusts=[role] if trusted else ["ec2.amazonaws.com"])
    b.compute("i-runner", name="gitlab-runner", subnet=net.subnet, private="10.1.1.70", runs_as=role)
    return b


CASES = [
    Case("every action on every resource", lambda: runner_as(("*", "*")), fires={"i-runner": "critical"}),
    Case("every IAM action on every resource", lambda: runner_as(("iam:*", "*")), fires={"i-runner": "critical"}),
    Case("read access only", lambda: runner_as(*READ_ONLY)),
    Case("a role it can assume is administrator", lambda: runner_as(*READ_ONLY, chain_to=[("*", "*")]),
         fires={"i-runner": "critical"}),
    Case("the administrator role's trust does not admit it",
         lambda: runner_as(*READ_ONLY, chain_to=[("*", "*")], trusted=False)),
]


def hosted(*allows, **trust):
    """A role a GitHub Actions workflow of acme/infra's main branch can become."""
    b = EstateBuilder()
    b.federated_role("deploy", allows=list(allows), equals=["repo:acme/infra:ref:refs/heads/main"], **trust)
    return b


HOSTED = "arn:aws:iam::111122223333:role/deploy"
CASES += [
    Case("a federated role that is administrator", lambda: hosted(("*", "*")), fires={HOSTED: "critical"}),
    Case("a federated role with read access only", lambda: hosted(*READ_ONLY)),
    Case("a CI user that is administrator", lambda: _user(("*", "*")),
         fires={"arn:aws:iam::111122223333:user/ci-deployer": "critical"}),
]


def _user(*allows):
    b = EstateBuilder()
    b.user("ci-deployer", allows=list(allows))
    return b


def hosted_assuming(trusted=True):
    """A role a pinned GitHub Actions workflow can become, allowed to assume an administrator role
    whose trust admits it only when `trusted`."""
    b = EstateBuilder()
    admin = f"arn:aws:iam::{b.account}:role/admin"
    deploy = b.federated_role("deploy", allows=[("sts:AssumeRole", admin)], equals=["repo:acme/infra:ref:refs/heads/main"])
    b.identity("admin", allows=[("*", "*")], trusts=[deploy] if trusted else ["ec2.amazonaws.com"])
    return b


CASES += [
    Case("a federated role that can assume an administrator role", hosted_assuming, fires={HOSTED: "critical"}),
    Case("a federated role whose administrator role's trust does not admit it", lambda: hosted_assuming(trusted=False)),
]


def runner_with_managed(policy_arn: str, region: str):
    """A runner whose role has one AWS-managed policy attached, named by ARN alone (a plan's
    attachment): its document comes from the catalogue, in the policy's partition."""
    partition = policy_arn.split(":")[1]
    b = EstateBuilder(region=region, partition=partition)
    net = b.private_network()
    role = b.identity("ci-build", managed=[policy_arn])
    b.compute("i-runner", name="gitlab-runner", subnet=net.subnet, private="10.1.1.70", runs_as=role)
    return b


CASES += [
    Case("GovCloud: AdministratorAccess attached by ARN",
         lambda: runner_with_managed("arn:aws-us-gov:iam::aws:policy/AdministratorAccess", "us-gov-west-1"),
         fires={"i-runner": "critical"}),
    Case("China: AdministratorAccess attached by ARN",
         lambda: runner_with_managed("arn:aws-cn:iam::aws:policy/AdministratorAccess", "cn-north-1"),
         fires={"i-runner": "critical"}),
    Case("GovCloud: ReadOnlyAccess attached by ARN",
         lambda: runner_with_managed("arn:aws-us-gov:iam::aws:policy/ReadOnlyAccess", "us-gov-west-1")),
]
