"""GCP workload identity federation read as the cloud reads it: attribute conditions (CEL) and the
binding's principal, into who can become the service account (guardrails/federation.py levels)."""

from __future__ import annotations

import pytest

from guardrails.federation import assess, platform_of
from guardrails.providers.gcp.federation import CelError, trust_clauses, disjunction, parse_condition, principal_tests

POOL = "principalSet://iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/ci"
MAPPING = {"google.subject": "assertion.sub", "attribute.repository": "assertion.repository",
           "attribute.owner": "assertion.repository_owner", "attribute.actor": "assertion.actor",
           "attribute.joined": "assertion.repository + assertion.ref"}
GITHUB, GITLAB = "token.actions.githubusercontent.com", "gitlab.com"

# (issuer, attribute condition, binding member suffix, expected level, whether the level is unknown)
CASES = [
    (GITHUB, None, "/*", "any_owner", False),
    (GITHUB, "assertion.aud == 'https://iam.googleapis.com/x'", "/*", "any_owner", False),
    (GITHUB, "assertion.ref == 'refs/heads/main'", "/*", "any_owner", False),
    (GITHUB, "assertion.repository_owner == 'acme'", "/*", "any_repository", False),
    (GITHUB, "'acme' == assertion.repository_owner", "/*", "any_repository", False),
    (GITHUB, "attribute.owner == 'acme'", "/*", "any_repository", False),
    (GITHUB, "assertion.repository.startsWith('acme/')", "/*", "any_repository", False),
    (GITHUB, "assertion.repository_owner in ['acme', 'acme-labs']", "/*", "any_repository", False),
    (GITHUB, "assertion.repository == 'acme/infra'", "/*", "any_branch", False),
    (GITHUB, None, "/attribute.repository/acme/infra", "any_branch", False),
    (GITHUB, "assertion.repository_owner == 'acme'", "/attribute.repository/acme/infra", "any_branch", False),
    (GITHUB, "assertion.repository == 'acme/infra' && assertion.ref == 'refs/heads/main'", "/*", "pinned", False),
    (GITHUB, "assertion.ref == 'refs/heads/main'", "/attribute.repository/acme/infra", "pinned", False),
    (GITHUB, "assertion.repository == 'acme/infra' && assertion.ref.startsWith('refs/tags/')", "/*",
     "any_branch", False),
    (GITHUB, "(assertion.repository == 'acme/infra' && assertion.ref == 'refs/heads/main') || "
             "assertion.repository_owner == 'acme'", "/*", "any_repository", False),
    (GITHUB, "assertion.repository == 'acme/infra' && assertion.environment == 'production'", "/*", "pinned", False),
    (GITHUB, "assertion.repository_owner != 'evil'", "/*", "any_owner", False),
    (GITHUB, "!(assertion.repository_owner != 'acme')", "/*", "any_repository", False),
    (GITHUB, "assertion.repository_owner == 'acme' && assertion.repository_owner == 'other'", "/*", "none", False),
    (GITHUB, "false", "/*", "none", False),
    (GITHUB, None, "/attribute.owner/acme", "any_repository", False),
    ("token.actions.githubusercontent.com", None, "", "pinned", False),  # principal://.../subject/...
    (GITHUB, "assertion.workflow == 'deploy'", "/*", "any_owner", True),
    (GITHUB, "assertion.repository_owner == 'acme' && assertion.actor == 'bot'", "/*", "any_repository", True),
    (GITHUB, None, "/attribute.joined/acme/infrarefs/heads/main", "any_owner", True),
    (GITHUB, "assertion.repository.matches('^acme/')", "/*", "any_owner", True),
    (GITLAB, "assertion.namespace_path == 'acme'", "/*", "any_repository", False),
    (GITLAB, "assertion.project_path == 'acme/app' && assertion.ref_type == 'branch' && assertion.ref == 'main'",
     "/*", "pinned", False),
    (GITLAB, "assertion.project_path == 'acme/app'", "/*", "any_branch", False),
    ("app.terraform.io", "assertion.terraform_organization_name == 'acme'", "/*", "any_repository", False),
    ("app.terraform.io", "assertion.terraform_organization_name == 'acme' && "
                         "assertion.terraform_workspace_name == 'prod' && assertion.terraform_run_phase == 'apply'",
     "/*", "pinned", False),
]


@pytest.mark.parametrize("issuer, condition, member, level, unknown", CASES)
def test_an_attribute_condition_and_a_binding_give_the_level_the_cloud_would(issuer, condition, member, level, unknown):
    platform = platform_of(issuer)
    if member:
        pool, tests = principal_tests(POOL + member)
    else:
        pool, tests = principal_tests(POOL.replace("principalSet", "principal") + "/subject/repo:acme/infra:ref:"
                                      "refs/heads/main")
    assert pool.endswith("/workloadIdentityPools/ci")
    ways = disjunction(parse_condition(condition)) if condition else [[]]
    trust = [c for way in ways for c in trust_clauses(way + tests, platform.platform, MAPPING, condition or "")]
    found = assess(platform, trust)
    assert (found.level, bool(found.unknown)) == (level, unknown), found


@pytest.mark.parametrize("text", ["assertion.repository ==", "assertion.repository == 'a' &&", "(a == 'b'",
                                  "assertion.ref == 'x' ; drop"])
def test_a_condition_that_does_not_parse_is_refused(text):
    with pytest.raises(CelError):
        parse_condition(text)
