"""ci-federation-unscoped: a CI platform's tokens can become the identity without the trust pinning
which pipelines (any owner, any repository of one owner, any branch on a powerful identity)."""

from check_cases import Case
from estate_builder import EstateBuilder

from guardrails.config import parse

ROLE = "arn:aws:iam::111122223333:role/deploy"
ADMIN = [("*", "*")]
DEPLOY = [("s3:PutObject", "arn:aws:s3:::site/*")]


def hosted(allows=DEPLOY, issuer="token.actions.githubusercontent.com", **trust):
    b = EstateBuilder()
    b.federated_role("deploy", issuer=issuer, allows=allows, **trust)
    return b


def with_eks_issuer():
    b = EstateBuilder()
    b.federated_role("cluster-reader", issuer="oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF0123", allows=ADMIN)
    return b


CASES = [
    Case("GitHub with no condition on the subject", lambda: hosted(), fires={ROLE: "critical"}),
    Case("GitHub repo:*", lambda: hosted(like=["repo:*"]), fires={ROLE: "critical"}),
    Case("GitHub any owner's main branch", lambda: hosted(like=["repo:*/*:ref:refs/heads/main"]),
         fires={ROLE: "critical"}),
    Case("GitHub owner prefix anyone can register", lambda: hosted(like=["repo:acme*/*"]), fires={ROLE: "critical"}),
    Case("GitHub any repository of acme", lambda: hosted(like=["repo:acme/*"]), fires={ROLE: "high"}),
    Case("GitHub any branch of acme/infra, deploy role without power that matters",
         lambda: hosted(like=["repo:acme/infra:*"])),
    Case("GitHub any branch of acme/infra on an administrator", lambda: hosted(ADMIN, like=["repo:acme/infra:*"]),
         fires={ROLE: "medium"}),
    Case("GitHub pull requests of acme/infra on an administrator",
         lambda: hosted(ADMIN, equals=["repo:acme/infra:pull_request"]), fires={ROLE: "medium"}),
    Case("GitHub pinned to the main branch of acme/infra, on an administrator",
         lambda: hosted(ADMIN, equals=["repo:acme/infra:ref:refs/heads/main"])),
    Case("a deny pins the owner of repo:*", lambda: hosted(like=["repo:*"], deny_unless_like=["repo:acme/*"]),
         fires={ROLE: "high"}),
    Case("a deny pins the repository and branch of repo:*",
         lambda: hosted(like=["repo:*"], deny_unless_like=["repo:acme/infra:ref:refs/heads/main"])),
    Case("GitLab any project", lambda: hosted(issuer="gitlab.com", like=["project_path:*"]), fires={ROLE: "critical"}),
    Case("Terraform Cloud any workspace of acme", lambda: hosted(issuer="app.terraform.io",
                                                                  like=["organization:acme:*"]),
         fires={ROLE: "high"}),
    Case("CircleCI: the issuer names the organization", lambda: hosted(issuer="oidc.circleci.com/org/0f1e2d"),
         fires={ROLE: "high"}),
    Case("CircleCI pinned to one project", lambda: hosted(issuer="oidc.circleci.com/org/0f1e2d",
                                                          like=["org/0f1e2d/project/77aa/user/*"])),
    Case("an EKS cluster's issuer with no condition is no CI platform", with_eks_issuer),
    Case("a self-managed GitLab the configuration adds", lambda: hosted(issuer="gitlab.acme.internal"),
         fires={ROLE: "critical"},
         config=parse({"ci": {"issuers": [{"url": "https://gitlab.acme.internal", "platform": "gitlab"}]}})),
    Case("the trust is known only after apply", lambda: hosted(unknown="trust policy known only after apply"),
         fires={ROLE: "critical"}),
    Case("a condition that could not be evaluated beside repo:* is no pin",
         lambda: hosted(like=["repo:*"], unevaluated=["condition on 'x:y'"]), fires={ROLE: "critical"}),
    Case("a condition that could not be evaluated can only narrow a pinned trust",
         lambda: hosted(equals=["repo:acme/infra:ref:refs/heads/main"], unevaluated=["condition on 'x:y'"])),
]
