"""GCP workload identity federation read as the cloud reads it: attribute conditions (CEL) and the
binding's principal, into who can become the service account (guardrails/federation.py levels)."""

from __future__ import annotations

import json

import pytest

from guardrails.federation import assess, platform_of, resolve_claims
from guardrails.providers.gcp.federation import CelError, trust_clauses, disjunction, parse_condition, principal_tests

POOL = "principalSet://iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/ci"
MAPPING = {"google.subject": "assertion.sub", "attribute.repository": "assertion.repository",
           "attribute.owner": "assertion.repository_owner", "attribute.actor": "assertion.actor",
           "attribute.joined": "assertion.repository + assertion.ref",
           "attribute.owner_id": "assertion.repository_owner_id"}
GITHUB, GITLAB = "token.actions.githubusercontent.com", "gitlab.com"
# Issuers the configuration adds: a self-managed GitLab and a GitHub Enterprise Server.
OWN_GITLAB, OWN_GITHUB = "gitlab.acme.internal", "github.acme.internal/_services/token"
CONFIGURED = {f"https://{OWN_GITLAB}": "gitlab", f"https://{OWN_GITHUB}/": "github"}

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
    # GitHub's rename-proof owner pin names one owner, by id: any repository of it, never any owner.
    (GITHUB, "assertion.repository_owner_id == '123'", "/*", "any_repository", False),
    (GITHUB, "'123' == assertion.repository_owner_id", "/*", "any_repository", False),
    (GITHUB, None, "/attribute.owner_id/123", "any_repository", False),
    (GITHUB, "assertion.repository_owner_id in ['123', '456']", "/*", "any_repository", False),
    (GITHUB, "assertion.repository_owner_id == '123' && assertion.ref == 'refs/heads/main'", "/*",
     "any_repository", False),
    (GITHUB, "assertion.repository_owner_id == '123' && assertion.repository_owner == 'acme'", "/*",
     "any_repository", False),
    (GITHUB, "assertion.repository_owner_id == '123' && assertion.repository == 'acme/infra'", "/*",
     "any_branch", False),
    (GITHUB, "assertion.repository_owner_id == '123'", "/attribute.repository/acme/infra", "any_branch", False),
    (GITHUB, "assertion.repository_owner_id == '123' && assertion.repository == 'acme/infra' && "
             "assertion.ref == 'refs/heads/main'", "/*", "pinned", False),
    (GITHUB, "assertion.repository_owner_id != '666'", "/*", "any_owner", False),
    (GITHUB, "assertion.repository_owner_id == '123' || assertion.ref == 'refs/heads/main'", "/*", "any_owner", False),
    # Issuers the configuration adds are read by every claim their platform's subject carries.
    (OWN_GITLAB, None, "/*", "any_owner", False),
    (OWN_GITLAB, "assertion.namespace_path == 'acme'", "/*", "any_repository", False),
    (OWN_GITLAB, "assertion.project_path == 'acme/app'", "/*", "any_branch", False),
    (OWN_GITLAB, "assertion.project_path == 'acme/app' && assertion.ref_type == 'branch' && "
                 "assertion.ref == 'main'", "/*", "pinned", False),
    (OWN_GITLAB, "assertion.namespace_path == 'acme' && assertion.pipeline_source == 'push'", "/*",
     "any_repository", True),
    (OWN_GITHUB, "assertion.repository_owner == 'acme'", "/*", "any_repository", False),
    (OWN_GITHUB, "assertion.repository_owner_id == '42'", "/*", "any_repository", False),
    (OWN_GITHUB, "assertion.repository == 'acme/infra' && assertion.environment == 'production'", "/*",
     "pinned", False),
    (OWN_GITHUB, None, "/attribute.repository/acme/infra", "any_branch", False),
]


def judge(issuer: str, condition: str | None, member: str):
    """The level, as a scan reaches it: the provider reads the condition and the binding with the
    platform it knows by itself (none, for an issuer only the configuration names); the analysis
    places the claims in the subject of the platform the configuration adds, and judges it."""
    known = platform_of(issuer)
    if member:
        pool, tests = principal_tests(POOL + member)
    else:
        pool, tests = principal_tests(POOL.replace("principalSet", "principal") + "/subject/repo:acme/infra:ref:"
                                      "refs/heads/main")
    assert pool.endswith("/workloadIdentityPools/ci")
    ways = disjunction(parse_condition(condition)) if condition else [[]]
    trust = [c for way in ways
             for c in trust_clauses(way + tests, known.platform if known else None, MAPPING, condition or "")]
    platform = platform_of(issuer, CONFIGURED)
    return assess(platform, resolve_claims(platform.platform, trust))


@pytest.mark.parametrize("issuer, condition, member, level, unknown", CASES)
def test_an_attribute_condition_and_a_binding_give_the_level_the_cloud_would(issuer, condition, member, level, unknown):
    found = judge(issuer, condition, member)
    assert (found.level, bool(found.unknown)) == (level, unknown), found


def test_an_owner_pinned_by_id_is_named_by_its_id_as_in_a_customised_aws_subject():
    found = judge(GITHUB, "assertion.repository_owner_id == '123'", "/*")
    assert found.owner == "repository_owner_id 123"
    assert found.who == "any workflow of any repository under repository_owner_id 123"
    # An AWS trust on GitHub's customised subject names the same owner the same way.
    aws = assess(platform_of(GITHUB), [{"effect": "allow", "conditions": [
        {"operator": "like", "values": ["repository_owner_id:123:*"]}]}])
    assert (aws.level, aws.owner) == ("any_repository", "repository_owner_id 123")
    # The sub to pin names no owner id as if it were a name: the owner is a placeholder to fill in.
    assert found.pin == aws.pin == "repo:<owner: repository_owner_id 123>/<repository>:ref:refs/heads/main"
    # Beside a repository named by name, the name decides: the same owner, or no token at all.
    named = judge(GITHUB, "assertion.repository_owner_id == '123' && assertion.repository == 'acme/infra'", "/*")
    assert (named.owner, named.repository) == ("acme", "infra")


def test_a_configured_issuers_claims_wait_for_the_configuration():
    # The provider alone does not know the issuer: its trust stays on the claims...
    ways = disjunction(parse_condition("assertion.namespace_path == 'acme'"))
    trust = trust_clauses(ways[0], None, MAPPING, "")
    assert trust[0]["conditions"][0]["claim"] == "namespace_path"
    # ...which the analysis places once the configuration says the issuer is a GitLab's; unconfigured,
    # it is no platform's and nothing reads it.
    assert platform_of(OWN_GITLAB) is None
    gitlab = platform_of(OWN_GITLAB, CONFIGURED)
    assert gitlab.configured and resolve_claims(gitlab.platform, trust)[0]["conditions"] == [
        {"operator": "like", "values": ["project_path:acme/*:ref_type:*:ref:*"], "negated": False}]


@pytest.mark.parametrize("text", ["assertion.repository ==", "assertion.repository == 'a' &&", "(a == 'b'",
                                  "assertion.ref == 'x' ; drop"])
def test_a_condition_that_does_not_parse_is_refused(text):
    with pytest.raises(CelError):
        parse_condition(text)


def test_a_plan_trusting_a_configured_gitlab_and_an_owner_id_names_one_owner_each(tmp_path):
    """Through a whole scan: a plan's pools, one of a self-managed GitLab the configuration names,
    one of GitHub pinned to an owner's id, each on a service account of its own."""
    from gcp_fake import GcpEstate

    from guardrails.config import Config
    from guardrails.pipeline import scan_snapshots
    from guardrails.providers.terraform import load_terraform

    e = GcpEstate()
    e.network()
    accounts = {}
    for name, issuer, condition in (
            ("gitlab-deployer", f"https://{OWN_GITLAB}", "assertion.namespace_path == 'acme'"),
            ("github-deployer", f"https://{GITHUB}", "assertion.repository_owner_id == '123'")):
        accounts[name] = e.service_account(name)
        e.grant("roles/viewer", accounts[name])
        pool = e.workload_pool(name, issuer, condition=condition)
        e.federate(accounts[name], f"principalSet://iam.googleapis.com/{pool}/*")
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(e.as_plan()))
    document = scan_snapshots(load_terraform(path), Config(ci_issuers=((f"https://{OWN_GITLAB}", "gitlab"),)))
    unscoped = {f["resource"]["name"]: f for f in document["findings"] if f["check_id"] == "ci-federation-unscoped"}
    assert set(unscoped) == set(accounts.values())
    for name, owner in (("gitlab-deployer", "any pipeline of any project under acme"),
                        ("github-deployer", "any workflow of any repository under repository_owner_id 123")):
        finding = unscoped[accounts[name]]
        assert (finding["confidence"], finding["severity"]) == ("confirmed", "high"), finding["message"]
        assert owner in finding["message"]
