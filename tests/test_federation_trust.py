"""Trust policies in the shapes real projects publish, each with the level IAM's own evaluation of
its conditions gives: who, of the platform's users, can present a token the trust admits.

Each row is an AWS trust policy document and an OIDC provider; the row runs through the AWS
translation of the trust (providers/aws/federation.py) and the neutral judgement of the subjects
(guardrails/federation.py), exactly as a scan does."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from guardrails.federation import assess, platform_of
from guardrails.providers.aws.federation import TrustDocumentError, federations

ACCOUNT = "123456789012"
GITHUB = "token.actions.githubusercontent.com"
GITLAB = "gitlab.com"
TFC = "app.terraform.io"
CIRCLECI = "oidc.circleci.com/org/6a1e2f34-0000-4b5c-9d8e-1234567890ab"
BITBUCKET = "api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc"
BUILDKITE = "agent.buildkite.com"
AZURE_DEVOPS = "vstoken.dev.azure.com/f6a8c4a2-0000-4d4d-9e9e-0123456789ab"
AZURE_DEVOPS_APP = "app.vstoken.visualstudio.com"
ENTRA = "login.microsoftonline.com/72f988bf-0000-4000-8000-2d7cd011db47/v2.0"
ENTRA_DEVOPS = "/eid1/c/pub/t/v4j5cvGGr0GRqy180BHbRw/a/rISbSSETf0KqFyZ8ppdXmA/sc/"
GITHUB_ENTERPRISE = "token.actions.githubusercontent.com/acme-corp"


def provider(url: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:oidc-provider/{url}"


def statement(url: str, condition: dict | None = None, effect: str = "Allow",
              action: str | list = "sts:AssumeRoleWithWebIdentity") -> dict:
    out = {"Effect": effect, "Principal": {"Federated": provider(url)}, "Action": action}
    if condition is not None:
        out["Condition"] = condition
    return out


def trust(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def on(url: str, operator: str, claim: str, values) -> dict:
    return {operator: {f"{url}:{claim}": values}}


def both(*conditions: dict) -> dict:
    merged: dict = {}
    for condition in conditions:
        for operator, keys in condition.items():
            merged.setdefault(operator, {}).update(keys)
    return merged


AUD = on(GITHUB, "StringEquals", "aud", "sts.amazonaws.com")


@dataclass(frozen=True)
class Row:
    name: str
    document: dict | str
    url: str
    level: str
    owner: str | None = None
    unknown: bool = False


ROWS = [
    # -- GitHub Actions: the shapes of the AWS and GitHub guides, and of the mistakes found in public code
    Row("only an aud condition", trust(statement(GITHUB, AUD)), GITHUB, "any_owner"),
    Row("no condition at all", trust(statement(GITHUB)), GITHUB, "any_owner"),
    Row("repo:* with StringLike", trust(statement(GITHUB, both(AUD, on(GITHUB, "StringLike", "sub", "repo:*")))),
        GITHUB, "any_owner"),
    Row("any owner's main branch", trust(statement(GITHUB, on(GITHUB, "StringLike", "sub",
                                                               "repo:*/*:ref:refs/heads/main"))), GITHUB, "any_owner"),
    Row("StringEquals on repo:* compares literally: only the subject 'repo:*', which no token carries",
        trust(statement(GITHUB, on(GITHUB, "StringEquals", "sub", "repo:*"))), GITHUB, "pinned"),
    Row("an owner prefix anyone can register", trust(statement(GITHUB, on(GITHUB, "StringLike", "sub", "repo:acme*"))),
        GITHUB, "any_owner"),
    Row("any repository of acme", trust(statement(GITHUB, both(AUD, on(GITHUB, "StringLike", "sub", "repo:acme/*")))),
        GITHUB, "any_repository", "acme"),
    Row("any repository of acme, ForAnyValue", trust(statement(GITHUB, on(GITHUB, "ForAnyValue:StringLike", "sub",
                                                                          ["repo:acme/*"]))),
        GITHUB, "any_repository", "acme"),
    Row("any branch of acme/infra", trust(statement(GITHUB, on(GITHUB, "StringLike", "sub", "repo:acme/infra:*"))),
        GITHUB, "any_branch", "acme"),
    Row("pull requests of acme/infra", trust(statement(GITHUB, on(GITHUB, "StringEquals", "sub",
                                                                  "repo:acme/infra:pull_request"))),
        GITHUB, "any_branch", "acme"),
    Row("any branch by a wildcard ref", trust(statement(GITHUB, on(GITHUB, "StringLike", "sub",
                                                                   "repo:acme/infra:ref:refs/heads/*"))),
        GITHUB, "any_branch", "acme"),
    Row("the main branch of acme/infra", trust(statement(GITHUB, both(AUD, on(GITHUB, "StringEquals", "sub",
                                                                              "repo:acme/infra:ref:refs/heads/main")))),
        GITHUB, "pinned", "acme"),
    Row("an environment of acme/infra, StringLike without wildcard",
        trust(statement(GITHUB, on(GITHUB, "StringLike", "sub", "repo:acme/infra:environment:production"))),
        GITHUB, "pinned", "acme"),
    Row("two pinned values ORed", trust(statement(GITHUB, on(GITHUB, "StringEquals", "sub",
                                                             ["repo:acme/infra:ref:refs/heads/main",
                                                              "repo:acme/infra:environment:production"]))),
        GITHUB, "pinned", "acme"),
    Row("a pinned value ORed with repo:*", trust(statement(GITHUB, on(GITHUB, "StringLike", "sub",
                                                                      ["repo:acme/infra:ref:refs/heads/main", "repo:*"]))),
        GITHUB, "any_owner"),
    Row("a second statement without a sub condition", trust(
        statement(GITHUB, on(GITHUB, "StringEquals", "sub", "repo:acme/infra:ref:refs/heads/main")),
        statement(GITHUB, AUD)), GITHUB, "any_owner"),
    Row("IfExists on sub: every token has one, so it still pins",
        trust(statement(GITHUB, on(GITHUB, "StringEqualsIfExists", "sub", "repo:acme/infra:ref:refs/heads/main"))),
        GITHUB, "pinned", "acme"),
    Row("StringNotLike alone admits everyone else", trust(statement(GITHUB, on(GITHUB, "StringNotLike", "sub",
                                                                              "repo:evil/*"))), GITHUB, "any_owner"),
    Row("two keys ANDed: owner and environment", trust(statement(GITHUB, {
        "StringLike": {f"{GITHUB}:sub": ["repo:acme/*", "repo:*:environment:production"]}})),
        GITHUB, "any_owner"),  # one key's values are ORed: repo:*:environment:production admits anyone
    Row("two operators ANDed on sub: owner and environment", trust(statement(GITHUB, both(
        on(GITHUB, "StringLike", "sub", "repo:acme/*"),
        {"ForAllValues:StringLike": {f"{GITHUB}:sub": "repo:*:environment:production"}}))),
        GITHUB, "any_repository", "acme"),
    Row("a Deny that pins the owner", trust(
        statement(GITHUB, on(GITHUB, "StringLike", "sub", "repo:*")),
        statement(GITHUB, on(GITHUB, "StringNotLike", "sub", "repo:acme/*"), effect="Deny")),
        GITHUB, "any_repository", "acme"),
    Row("a Deny that pins repository and branch", trust(
        statement(GITHUB, on(GITHUB, "StringLike", "sub", "repo:*")),
        statement(GITHUB, on(GITHUB, "StringNotEquals", "sub", "repo:acme/infra:ref:refs/heads/main"), effect="Deny")),
        GITHUB, "pinned"),
    Row("a Deny of pull requests only", trust(
        statement(GITHUB, on(GITHUB, "StringLike", "sub", "repo:acme/infra:*")),
        statement(GITHUB, on(GITHUB, "StringLike", "sub", "*:pull_request"), effect="Deny")),
        GITHUB, "any_branch", "acme"),
    Row("a Deny of every token", trust(statement(GITHUB), statement(GITHUB, effect="Deny")), GITHUB, "none"),
    Row("the actions as a wildcard", trust(statement(GITHUB, action="sts:AssumeRoleWith*")), GITHUB, "any_owner"),
    Row("the trust as a JSON string", json.dumps(trust(statement(GITHUB, AUD))), GITHUB, "any_owner"),
    Row("a condition on a claim IAM evaluates but this scanner cannot", trust(statement(GITHUB, both(
        on(GITHUB, "StringEquals", "sub", "repo:acme/infra:ref:refs/heads/main"),
        on(GITHUB, "StringEquals", "actor", "octocat")))), GITHUB, "pinned", "acme", unknown=True),  # ANDed, it can only narrow the pin
    Row("an unknown operator beside repo:*", trust(statement(GITHUB, both(
        on(GITHUB, "StringLike", "sub", "repo:*"), {"StringLikeish": {f"{GITHUB}:sub": "repo:acme/*"}}))),
        GITHUB, "any_owner", unknown=True),
    Row("a GitHub enterprise issuer names the enterprise", trust(statement(GITHUB_ENTERPRISE)),
        GITHUB_ENTERPRISE, "any_repository", "acme-corp"),
    # -- GitLab
    Row("GitLab with no sub", trust(statement(GITLAB, on(GITLAB, "StringEquals", "aud", "https://gitlab.com"))),
        GITLAB, "any_owner"),
    Row("GitLab project_path:*", trust(statement(GITLAB, on(GITLAB, "StringLike", "sub", "project_path:*"))),
        GITLAB, "any_owner"),
    Row("GitLab any project of a group", trust(statement(GITLAB, on(GITLAB, "StringLike", "sub",
                                                                    "project_path:acme/*"))),
        GITLAB, "any_repository", "acme"),
    Row("GitLab any branch of a project", trust(statement(GITLAB, on(GITLAB, "StringLike", "sub",
                                                                     "project_path:acme/infra:*"))),
        GITLAB, "any_branch", "acme"),
    Row("GitLab the main branch", trust(statement(GITLAB, on(GITLAB, "StringEquals", "sub",
                                                             "project_path:acme/infra:ref_type:branch:ref:main"))),
        GITLAB, "pinned", "acme"),
    # -- Terraform Cloud
    Row("Terraform Cloud any organization", trust(statement(TFC, on(TFC, "StringLike", "sub", "organization:*"))),
        TFC, "any_owner"),
    Row("Terraform Cloud any workspace of acme", trust(statement(TFC, on(TFC, "StringLike", "sub",
                                                                         "organization:acme:*"))),
        TFC, "any_repository", "acme"),
    Row("Terraform Cloud one workspace, any run phase", trust(statement(TFC, on(
        TFC, "StringLike", "sub", "organization:acme:project:*:workspace:prod:run_phase:*"))),
        TFC, "any_branch", "acme"),
    Row("Terraform Cloud one workspace, apply only", trust(statement(TFC, on(
        TFC, "StringLike", "sub", "organization:acme:project:Default Project:workspace:prod:run_phase:apply"))),
        TFC, "pinned", "acme"),
    # -- Buildkite
    Row("Buildkite no sub", trust(statement(BUILDKITE)), BUILDKITE, "any_owner"),
    Row("Buildkite any pipeline of acme", trust(statement(BUILDKITE, on(BUILDKITE, "StringLike", "sub",
                                                                        "organization:acme:*"))),
        BUILDKITE, "any_repository", "acme"),
    Row("Buildkite one pipeline, main", trust(statement(BUILDKITE, on(
        BUILDKITE, "StringLike", "sub", "organization:acme:pipeline:deploy:ref:refs/heads/main:*"))),
        BUILDKITE, "pinned", "acme"),
    # -- issuers that name the owner
    Row("CircleCI no sub: the organization is in the issuer", trust(statement(CIRCLECI)), CIRCLECI, "any_repository",
        "6a1e2f34-0000-4b5c-9d8e-1234567890ab"),
    Row("CircleCI one project", trust(statement(CIRCLECI, on(
        CIRCLECI, "StringLike", "sub", "org/6a1e2f34-0000-4b5c-9d8e-1234567890ab/project/0b9c/user/*"))),
        CIRCLECI, "pinned", "6a1e2f34-0000-4b5c-9d8e-1234567890ab"),
    Row("Bitbucket no sub: the workspace is in the issuer", trust(statement(BITBUCKET)), BITBUCKET, "any_repository",
        "acme"),
    Row("Bitbucket one repository", trust(statement(BITBUCKET, on(BITBUCKET, "StringLike", "sub",
                                                                  "{1a2b3c4d-0000-4e5f-8a9b-0123456789ab}*"))),
        BITBUCKET, "pinned", "acme"),
    # -- GitHub's customised subject templates (include_claim_keys): judged by the claims they pin
    Row("custom template: any owner id", trust(statement(GITHUB, on(GITHUB, "StringLike", "sub",
                                                                    "repository_owner_id:*"))), GITHUB, "any_owner"),
    Row("custom template: only the context", trust(statement(GITHUB, on(GITHUB, "StringEquals", "sub",
                                                                        "context:prod"))), GITHUB, "any_owner"),
    Row("custom template: one owner id, any repository",
        trust(statement(GITHUB, on(GITHUB, "StringLike", "sub", "repository_owner_id:1234:*"))),
        GITHUB, "any_repository", "repository_owner_id 1234"),
    Row("custom template: one owner, any environment of any repository",
        trust(statement(GITHUB, on(GITHUB, "StringLike", "sub", "repository_owner:acme:environment:*"))),
        GITHUB, "any_repository", "repository_owner acme"),
    Row("custom template: one repository id, any branch",
        trust(statement(GITHUB, on(GITHUB, "StringLike", "sub", "repository_owner_id:1234:repository_id:99:*"))),
        GITHUB, "any_branch", "repository_owner_id 1234"),
    Row("custom template: one repository id and environment",
        trust(statement(GITHUB, on(GITHUB, "StringEquals", "sub",
                                   "repository_owner_id:1234:repository_id:99:environment:prod"))),
        GITHUB, "pinned"),
    Row("custom template: a reusable workflow whose callers are not pinned",
        trust(statement(GITHUB, on(GITHUB, "StringEquals", "sub",
                                   "job_workflow_ref:acme/infra/.github/workflows/deploy.yml@refs/heads/main"))),
        GITHUB, "unknown", unknown=True),
    Row("custom template: claims GitHub does not make are unknown, never pinned",
        trust(statement(GITHUB, on(GITHUB, "StringLike", "sub", "team:platform:*"))), GITHUB, "unknown",
        unknown=True),
    Row("custom template: a deny pinning the owner keeps outsiders out",
        trust(statement(GITHUB, on(GITHUB, "StringLike", "sub", "repository_owner_id:*")),
              statement(GITHUB, on(GITHUB, "StringNotLike", "sub", "repository_owner_id:1234:*"), effect="Deny")),
        GITHUB, "any_repository", "repository_owner_id 1234"),
    Row("Azure DevOps no sub", trust(statement(AZURE_DEVOPS)), AZURE_DEVOPS, "any_repository",
        "f6a8c4a2-0000-4d4d-9e9e-0123456789ab"),
    Row("Azure DevOps one service connection", trust(statement(AZURE_DEVOPS, on(
        AZURE_DEVOPS, "StringEquals", "sub", "sc://acme/infra/aws-deploy"))),
        AZURE_DEVOPS, "pinned", "f6a8c4a2-0000-4d4d-9e9e-0123456789ab"),
    # Azure DevOps's first issuer names no organization: the subject's must be pinned.
    Row("Azure DevOps app issuer, any organization", trust(statement(AZURE_DEVOPS_APP, on(
        AZURE_DEVOPS_APP, "StringLike", "sub", "sc://*"))), AZURE_DEVOPS_APP, "any_owner"),
    Row("Azure DevOps app issuer, one organization's connections", trust(statement(AZURE_DEVOPS_APP, on(
        AZURE_DEVOPS_APP, "StringLike", "sub", "sc://acme/*"))), AZURE_DEVOPS_APP, "any_repository", "acme"),
    Row("Azure DevOps app issuer, one service connection", trust(statement(AZURE_DEVOPS_APP, on(
        AZURE_DEVOPS_APP, "StringEquals", "sub", "sc://acme/infra/aws-deploy"))), AZURE_DEVOPS_APP, "pinned", "acme"),
    # Entra ID signs Azure DevOps's tokens and other services': only subjects under Azure DevOps's
    # application id are a pipeline's.
    Row("Azure DevOps through Entra ID, one service connection", trust(statement(ENTRA, on(
        ENTRA, "StringEquals", "sub", ENTRA_DEVOPS + "41bf5486-0000-4b7a-a7e3-a735c767e3b3/e6b77a5f-0000-4955-8f36-22456ad98b3b"))),
        ENTRA, "pinned", "41bf5486-0000-4b7a-a7e3-a735c767e3b3"),
    Row("Azure DevOps through Entra ID, any organization", trust(statement(ENTRA, on(
        ENTRA, "StringLike", "sub", ENTRA_DEVOPS + "*"))), ENTRA, "any_owner"),
    Row("Entra ID tokens of another service (a bot's) are no pipeline's", trust(statement(ENTRA, on(
        ENTRA, "StringEquals", "sub", "/eid1/c/pub/t/v4j5cvGGr0GRqy180BHbRw/a/9ExAW52n_ky4ZiS_jhpJIQ/bot-1"))),
        ENTRA, "none"),
]


def judge(row: Row):
    found = {f.provider_arn: f for f in federations(row.document, [provider(row.url)])}
    federation = found[provider(row.url)]
    return assess(platform_of(row.url), federation.clauses), federation


def test_the_table_is_as_wide_as_real_projects_publish():
    assert len(ROWS) >= 30
    assert {r.url for r in ROWS} >= {GITHUB, GITLAB, TFC, BUILDKITE, CIRCLECI, BITBUCKET, AZURE_DEVOPS}
    assert {r.level for r in ROWS} >= {"any_owner", "any_repository", "any_branch", "pinned", "none"}


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_level_of_a_published_trust(row: Row):
    assessment, federation = judge(row)
    assert assessment.level == row.level, assessment
    if row.owner is not None:
        assert assessment.owner == row.owner
    assert bool(assessment.unknown) == row.unknown, assessment.unknown
    if row.level in ("any_owner", "any_repository", "any_branch"):
        # What it admits is named, with a subject an outsider could present and the one to pin.
        assert assessment.example and assessment.pin and assessment.who


def test_a_condition_on_another_claim_is_named_as_not_evaluated():
    row = next(r for r in ROWS if "cannot" in r.name)
    _, federation = judge(row)
    assert any("actor" in u for u in federation.unknown)


def test_a_statement_for_another_issuer_does_not_apply():
    document = trust(statement(GITLAB), statement(GITHUB, on(GITHUB, "StringEquals", "sub",
                                                             "repo:acme/infra:ref:refs/heads/main")))
    found = {f.url: f for f in federations(document, [provider(GITHUB), provider(GITLAB)])}
    assert assess(platform_of(GITHUB), found[GITHUB].clauses).level == "pinned"
    assert assess(platform_of(GITLAB), found[GITLAB].clauses).level == "any_owner"


def test_a_condition_keyed_on_another_issuer_is_absent_from_these_tokens():
    document = trust({"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
                      "Principal": {"Federated": [provider(GITHUB), provider(GITLAB)]},
                      "Condition": {"StringLike": {f"{GITLAB}:sub": "project_path:acme/infra:*"}}})
    found = {f.url: f for f in federations(document, [provider(GITHUB), provider(GITLAB)])}
    # A GitHub token carries no gitlab.com:sub: StringLike on an absent key fails, IAM refuses it.
    assert assess(platform_of(GITHUB), found[GITHUB].clauses).level == "none"
    assert assess(platform_of(GITLAB), found[GITLAB].clauses).level == "any_branch"


@pytest.mark.parametrize("document", ["{not json", {"Statement": "nope"}, [1, 2], {"Statement": [{"Effect": "Maybe"}]}])
def test_a_trust_that_cannot_be_read_raises_one_error(document):
    with pytest.raises(TrustDocumentError):
        federations(document, [provider(GITHUB)])
