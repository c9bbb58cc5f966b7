"""Hosted CI platforms as token issuers: who a federated trust lets become an identity.

A hosted pipeline (GitHub Actions, GitLab, Terraform Cloud, CircleCI, Bitbucket Pipelines, Buildkite,
Azure DevOps) reaches a cloud by exchanging an OIDC token for a cloud identity. The token's issuer
says which platform signed it, and its subject (`sub`) says which pipeline: `repo:acme/app:ref:
refs/heads/main`. A provider tells, in the neutral records of guardrails/schema.py (`TrustClause`,
`SubjectCondition`), which subjects its trust admits or refuses; this module knows the platforms
and their subject grammar, and answers in plain words who can become the identity:

- `any_owner`: anyone who can run a pipeline on the platform (no condition on the subject, or one
  whose owner part may be anything: `repo:*`, `repo:*/*:ref:refs/heads/main`, `repo:acme*/*`: an
  owner pattern with a wildcard admits names anyone can register);
- `any_repository`: any repository or project of one owner (`repo:acme/*`), or of the owner an
  issuer URL already names (CircleCI, Bitbucket, Azure DevOps, a GitHub enterprise);
- `any_branch`: one repository, but any branch, pull request or environment (`repo:acme/app:*`,
  `repo:acme/app:pull_request`); Terraform Cloud's analogue is any run phase (speculative plans of
  pull requests run the plan phase), Buildkite's any ref;
- `pinned`: one repository and one branch or environment, or, on platforms whose subject names no
  branch (CircleCI, Bitbucket, Azure DevOps), one project;
- `none`: the trust admits no token of the issuer; `unknown`: the trust could not be read or rests
  on a condition that could not be evaluated.

The levels are decided the way the cloud decides: by asking whether the trust admits a concrete
subject of each kind, built from the trust's own patterns (so a `Deny` that pins the owner cuts
what an `Allow` on `repo:*` admits), never by reading patterns alone.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Mapping

from guardrails.wildcards import FILLER, Alphabet, Wildcard

# -- the platforms ------------------------------------------------------------------------------

# A region is a pattern of subjects: `*` any run of characters, `?` any one, `%` a run of
# characters that crosses no `/`, `:`, `{` or `}` (one name in a subject), `+` one such character,
# `&` a run that crosses no `:` (a field such as a ref, `refs/heads/main`). PROBE
# stands for a name nobody uses: the owner, repository or branch an outsider would choose.
PROBE = "zq9probe"


@dataclass(frozen=True)
class Platform:
    """A CI platform's issuer and subject grammar (spec/CHECKS.md, "Who is a CI identity")."""

    key: str
    title: str
    issuer: str  # regex over the issuer URL without scheme; group `owner` when the URL names the owner
    subject: str  # regex over a subject: groups `owner` (absent when the URL names it), `repository`, `ref`
    owner_region: str | None  # subjects of an outsider's owner; None when the issuer URL names the owner
    repository_region: str  # subjects of a new repository of `{owner}`
    ref_regions: tuple[str, ...]  # subjects of any branch of `{owner}/{repository}`; () when the subject names none
    pin: str  # the subject to pin, from {owner} and {repository}
    any_owner: str  # who can become the identity, in plain words
    any_repository: str
    any_branch: str
    pinned: str = "{subjects}"  # a pinned trust: who can become it is the subjects it names
    # The subjects that are this platform's tokens, when its issuer also signs others' (Microsoft
    # Entra ID signs Azure DevOps's and other services'): a trust admitting none of them is not a
    # pipeline's. None: every subject of the issuer is the platform's.
    domain: str | None = None
    owner_word: str = "owner"
    repository_word: str = "repository"
    # For trusts written on the token's other claims rather than on its subject (a GCP workload
    # identity provider's attribute condition): the subject as parts (`claim_subject`, each
    # `{part}` any text when no claim fixes it), and each claim's part with its value's place
    # (`{}`) in it. `sub` is the subject itself.
    claim_subject: str = ""
    claims: tuple[tuple[str, str, str], ...] = ()
    # Claims that name an owner by its id rather than its name (GitHub's `repository_owner_id`, which
    # survives a rename): placed in the subject as a name nobody can register (`repository_owner_id
    # 123`), and left out where a claim beside it names the same part by name (same owner, or no
    # token at all: never a wider trust than the name's).
    id_claims: tuple[str, ...] = ()


# Azure DevOps's application id (499b84ac-1321-427f-aa17-267ca6975798) as Entra ID writes it in the
# subjects of the tokens it issues for Azure DevOps service connections.
AZURE_DEVOPS_APP_KEY = "rISbSSETf0KqFyZ8ppdXmA"
PLATFORMS: dict[str, Platform] = {p.key: p for p in (
    Platform(
        key="github", title="GitHub Actions",
        issuer=r"token\.actions\.githubusercontent\.com(?:/(?P<owner>[^/]+))?",
        subject=r"repo:(?P<owner>[^/:]+)/(?P<repository>[^:]+):(?P<ref>.+)",
        owner_region=f"repo:%{PROBE}%/+%:+*",
        repository_region=f"repo:{{owner}}/%{PROBE}%:+*",
        ref_regions=(f"repo:{{owner}}/{{repository}}:*{PROBE}*", "repo:{owner}/{repository}:pull_request"),
        pin="repo:{owner}/{repository}:ref:refs/heads/main",
        any_owner="any workflow in any repository on GitHub",
        any_repository="any workflow of any repository under {owner}",
        any_branch="any branch, pull request or environment of {owner}/{repository}",
        owner_word="organization",
        claim_subject="repo:{repository}:{context}",
        claims=(("repository_owner", "repository", "{}/*"), ("repository", "repository", "{}"),
                ("repository_owner_id", "repository", "repository_owner_id {}/*"),
                ("ref", "context", "ref:{}"), ("environment", "context", "environment:{}")),
        id_claims=("repository_owner_id",)),
    Platform(
        key="gitlab", title="GitLab",
        issuer=r"gitlab\.com",
        subject=r"project_path:(?P<owner>[^/:]+)/(?P<repository>[^:]+):(?P<ref>.+)",
        owner_region=f"project_path:%{PROBE}%/+&:+*",
        repository_region=f"project_path:{{owner}}/&{PROBE}%:+*",
        ref_regions=(f"project_path:{{owner}}/{{repository}}:*{PROBE}*",),
        pin="project_path:{owner}/{repository}:ref_type:branch:ref:main",
        any_owner="any pipeline of any project on GitLab",
        any_repository="any pipeline of any project under {owner}",
        any_branch="any branch or tag of {owner}/{repository}",
        owner_word="group", repository_word="project",
        claim_subject="project_path:{project}:ref_type:{ref_type}:ref:{ref}",
        claims=(("namespace_path", "project", "{}/*"), ("project_path", "project", "{}"),
                ("ref_type", "ref_type", "{}"), ("ref", "ref", "{}"))),
    Platform(
        key="terraform_cloud", title="Terraform Cloud",
        issuer=r"app\.terraform\.io",
        subject=r"organization:(?P<owner>[^:]+):project:(?P<project>[^:]+):workspace:(?P<repository>[^:]+):"
                r"run_phase:(?P<ref>.+)",
        owner_region=f"organization:%{PROBE}%:project:+&:workspace:+%:run_phase:+%",
        repository_region=f"organization:{{owner}}:project:+&:workspace:%{PROBE}%:run_phase:+%",
        ref_regions=(f"organization:{{owner}}:project:+&:workspace:{{repository}}:run_phase:%{PROBE}%",
                     "organization:{owner}:project:+&:workspace:{repository}:run_phase:plan"),
        pin="organization:{owner}:project:{project}:workspace:{repository}:run_phase:apply",
        any_owner="any run of any workspace of any organization on Terraform Cloud",
        any_repository="any run of any workspace of organization {owner}",
        any_branch="any run of workspace {repository} of {owner}, plans of pull requests included",
        owner_word="organization", repository_word="workspace",
        claim_subject="organization:{organization}:project:{project}:workspace:{workspace}:run_phase:{phase}",
        claims=(("terraform_organization_name", "organization", "{}"), ("terraform_project_name", "project", "{}"),
                ("terraform_workspace_name", "workspace", "{}"), ("terraform_run_phase", "phase", "{}"))),
    Platform(
        key="buildkite", title="Buildkite",
        issuer=r"agent\.buildkite\.com",
        subject=r"organization:(?P<owner>[^:]+):pipeline:(?P<repository>[^:]+):ref:(?P<ref>[^:]+)(?::.*)?",
        owner_region=f"organization:%{PROBE}%:pipeline:+%:ref:+&:commit:+&:step:+&",
        repository_region=f"organization:{{owner}}:pipeline:%{PROBE}%:ref:+&:commit:+&:step:+&",
        ref_regions=(f"organization:{{owner}}:pipeline:{{repository}}:ref:&{PROBE}&:commit:+&:step:+&",),
        pin="organization:{owner}:pipeline:{repository}:ref:refs/heads/main:*",
        any_owner="any pipeline of any organization on Buildkite",
        any_repository="any pipeline of organization {owner}",
        any_branch="any branch of pipeline {owner}/{repository}",
        owner_word="organization", repository_word="pipeline",
        claim_subject="organization:{organization}:pipeline:{pipeline}:{rest}",
        claims=(("organization_slug", "organization", "{}"), ("pipeline_slug", "pipeline", "{}"))),
    Platform(
        key="circleci", title="CircleCI",
        issuer=r"oidc\.circleci\.com/org/(?P<owner>[^/]+)",
        subject=r"org/(?P<org>[^/]+)/project/(?P<repository>[^/]+)(?:/.*)?",
        owner_region=None,
        repository_region=f"org/+%/project/%{PROBE}%/user/+%",
        ref_regions=(),
        pin="org/{owner}/project/{repository}/user/*",
        any_owner="any project of any organization on CircleCI",
        any_repository="any project of CircleCI organization {owner}",
        any_branch="any branch of CircleCI project {repository}",
        owner_word="organization", repository_word="project"),
    Platform(
        key="bitbucket", title="Bitbucket Pipelines",
        issuer=r"api\.bitbucket\.org/2\.0/workspaces/(?P<owner>[^/]+)/pipelines-config/identity/oidc",
        subject=r"(?P<repository>\{[^}]*\})(?P<ref>(?:\{[^}]*\})?):.*",
        owner_region=None,
        repository_region="{%" + PROBE + "%}&:+&",
        ref_regions=(),
        pin="{repository}*",
        any_owner="any pipeline of any workspace on Bitbucket",
        any_repository="any pipeline of any repository of Bitbucket workspace {owner}",
        any_branch="any step of repository {repository}",
        owner_word="workspace"),
    Platform(
        key="azure_devops", title="Azure DevOps",
        issuer=r"vstoken\.dev\.azure\.com/(?P<owner>[^/]+)",
        subject=r"sc://(?P<org>[^/]+)/(?P<repository>[^/]+/[^/]+)",
        owner_region=None,
        repository_region=f"sc://+%/%{PROBE}%/+&",
        ref_regions=(),
        pin="sc://{org}/{repository}",
        any_owner="any pipeline of any organization on Azure DevOps",
        any_repository="any service connection of any project of Azure DevOps organization {owner}",
        any_branch="any pipeline using service connection {repository}",
        owner_word="organization", repository_word="service connection"),
    # Azure DevOps's first issuer, which names no organization: service connections made before the
    # organization's own issuer (above) came, and trusts still written for it. The subject's first
    # part is the organization's name, which the trust must pin.
    Platform(
        key="azure_devops_app", title="Azure DevOps",
        issuer=r"app\.vstoken\.visualstudio\.com",
        subject=r"sc://(?P<owner>[^/]+)/(?P<repository>[^/]+/[^/]+)",
        owner_region=f"sc://%{PROBE}%/+%/+&",
        repository_region=f"sc://{{owner}}/%{PROBE}%/+&",
        ref_regions=(),
        pin="sc://{owner}/{repository}",
        any_owner="any service connection of any organization on Azure DevOps",
        any_repository="any service connection of Azure DevOps organization {owner}",
        any_branch="any pipeline using service connection {repository}",
        owner_word="organization", repository_word="service connection"),
    # Azure DevOps's service connections made or moved since 2025: Microsoft Entra ID signs their tokens,
    # as it signs other services': only subjects under Azure DevOps's application id are the platform's.
    Platform(
        key="azure_devops_entra", title="Azure DevOps",
        issuer=r"login\.microsoftonline\.com/(?P<tenant>[^/]+)/v2\.0",
        subject=rf"/eid1/c/pub/t/(?P<tenant_key>[^/]+)/a/{AZURE_DEVOPS_APP_KEY}/sc/(?P<owner>[^/]+)/(?P<repository>[^/]+)",
        owner_region=f"/eid1/c/pub/t/+%/a/{AZURE_DEVOPS_APP_KEY}/sc/%{PROBE}%/+%",
        repository_region=f"/eid1/c/pub/t/+%/a/{AZURE_DEVOPS_APP_KEY}/sc/{{owner}}/%{PROBE}%",
        ref_regions=(),
        domain=f"/eid1/c/pub/t/+%/a/{AZURE_DEVOPS_APP_KEY}/sc/+%/+%",
        pin=f"/eid1/c/pub/t/<tenant>/a/{AZURE_DEVOPS_APP_KEY}/sc/{{owner}}/{{repository}}",
        any_owner="any service connection of any Azure DevOps organization",
        any_repository="any service connection of Azure DevOps organization {owner}",
        any_branch="any pipeline using service connection {repository}",
        owner_word="organization", repository_word="service connection"),
)}

LEVELS = ("any_owner", "any_repository", "any_branch", "pinned", "none", "unknown")
LEVEL_WORDS = {"any_owner": "any owner", "any_repository": "any repository of one owner",
               "any_branch": "any branch", "pinned": "pinned", "none": "no token", "unknown": "unknown"}


@dataclass(frozen=True)
class IssuerPlatform:
    """The CI platform of an issuer, and the owner its URL names (a CircleCI organization, a
    Bitbucket workspace, an Azure DevOps organization, a GitHub enterprise), if any."""

    platform: Platform
    url_owner: str | None
    configured: bool = False  # the configuration names the issuer (a self-managed GitLab, say)


def issuer_url(text: str) -> str:
    """An issuer URL as clouds compare them: no scheme, no trailing slash, host in lower case."""
    text = text.strip()
    text = re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", "", text).rstrip("/")
    host, slash, path = text.partition("/")
    return host.lower() + slash + path


@lru_cache(maxsize=4096)
def _issuer_match(url: str) -> tuple[str, str | None] | None:
    for platform in PLATFORMS.values():
        match = re.fullmatch(platform.issuer, url)
        if match:
            return platform.key, match.groupdict().get("owner")
    return None


def platform_of(url: str, configured: Mapping[str, str] | None = None) -> IssuerPlatform | None:
    """The CI platform whose tokens an issuer signs, or None when it is no CI platform's.
    `configured` maps issuer URLs the configuration adds (self-managed GitLab, GitHub Enterprise
    Server) to the platform whose subject grammar their tokens follow."""
    url = issuer_url(url)
    for added, key in (configured or {}).items():
        if issuer_url(added) == url:
            return IssuerPlatform(PLATFORMS[key], None, configured=True)
    found = _issuer_match(url)
    if found is None:
        return None
    return IssuerPlatform(PLATFORMS[found[0]], found[1])


# Claims that never say who presents the token: the audience is the holder's to choose, and the
# cloud checks it itself.
AUDIENCE_CLAIMS = ("aud",)


# Most ways a trust written on claims may hold that are judged; past that, the rest are left out.
MAX_CLAUSES = 64


def claim_condition(platform: Platform | None, tests: Mapping[str, tuple[str, bool]],
                    negated: bool = False) -> dict | None:
    """Conditions on a token's claims that hold together (`tests`: claim -> (value, whether it is a
    `*` pattern)) as the one SubjectCondition that admits the same subjects, or None when the
    platform's subject does not carry one of the claims (a trust resting on it cannot be evaluated
    here; with no platform known, only the subject is). Claim values (owner, repository, ref and
    workspace names) hold no `*` or `?`, so a value is its own pattern. Claims are joined into one
    pattern, never ANDed as patterns of their own: `repo:*:ref:refs/heads/main` alone would also
    admit `repo:acme/app:x:ref:refs/heads/main`, which no platform issues."""
    if set(tests) == {"sub"}:
        value, like = tests["sub"]
        return {"operator": "like" if like else "equals", "values": [value], "negated": negated}
    claims = {claim: (part, template) for claim, part, template in (platform.claims if platform else ())}
    if not set(tests) <= set(claims):
        return None
    parts: dict[str, str] = {}
    for claim, (value, _) in tests.items():
        part, template = claims[claim]
        if part in parts:
            return None  # two claims fixing one part: the caller keeps them apart
        parts[part] = template.replace("{}", value)
    pattern = re.sub(r"\{(\w+)\}", lambda m: parts.get(m.group(1), "*"), platform.claim_subject)
    return {"operator": "like", "values": [pattern], "negated": negated}


def claim_part(platform: Platform | None, claim: str) -> str | None:
    """The part of the subject a claim fixes (`sub`: all of it), or None when it fixes none."""
    if claim == "sub":
        return "sub"
    return next((part for name, part, _ in (platform.claims if platform else ()) if name == claim), None)


def resolve_claims(platform: Platform | None, trust: Iterable[Mapping]) -> list[Mapping]:
    """The trust with its conditions on claims (SubjectCondition `claim`: a trust written on the
    token's claims, such as a GCP attribute condition) placed in the subject as `platform`'s tokens
    carry them; clauses written on the subject stay as they are. Each choice of the values a
    claim's condition lists becomes an allow clause of its own, its claims joined into one subject
    pattern (claims fixing one part kept apart); a condition on a claim the platform's subject does
    not carry cannot be evaluated: the clause names it in `unknown`, never reads it as pinning."""
    out: list[Mapping] = []
    for clause in trust:
        conditions = clause.get("conditions") or ()
        if not any(c.get("claim") for c in conditions):
            out.append(clause)
            continue
        unknown, positive, negated = list(clause.get("unknown") or ()), [], []
        for condition in conditions:
            claim = condition.get("claim") or "sub"
            if claim_part(platform, claim) is None:
                unknown.append(f"condition on {condition.get('about') or claim}, which the "
                               f"{platform.title if platform else 'issuer'}'s subject does not carry")
                continue
            like = condition.get("operator") == "like"
            tests = [(claim, value, like) for value in condition.get("values") or ()]
            if not condition.get("negated"):
                positive.append(tests)
                continue
            found = [claim_condition(platform, {claim: (value, like)}, negated=True) for _, value, like in tests]
            if found:
                negated.append({**found[0], "values": [v for f in found for v in f["values"]],
                                "operator": "like" if any(f["operator"] == "like" for f in found) else "equals"})
        for choice in itertools.islice(itertools.product(*positive), MAX_CLAUSES):
            named = {claim_part(platform, claim) for claim, _, _ in choice
                     if not (platform and claim in platform.id_claims)}
            joined: dict[str, tuple[str, bool]] = {}
            apart: list[dict | None] = []
            parts: set[str] = set()
            for claim, value, like in choice:
                part = claim_part(platform, claim)
                if platform and claim in platform.id_claims and part in named:
                    continue  # the same owner, named by name beside it (see Platform.id_claims)
                if part == "sub" or part in parts:  # the subject itself, or a part another claim fixed
                    apart.append(claim_condition(platform, {claim: (value, like)}))
                    continue
                joined[claim] = (value, like)
                parts.add(part)
            found = ([claim_condition(platform, joined)] if joined else []) + apart
            out.append({"effect": clause.get("effect") or "allow", "conditions": [f for f in found if f] + negated,
                        "unknown": list(unknown), "statement": clause.get("statement") or ""})
    return out


# -- subject patterns ---------------------------------------------------------------------------

_ANY, _ONE, _SEG, _SEG_ONE, _FIELD = "\x00*", "\x00?", "\x00%", "\x00+", "\x00&"
_STARS = (_ANY, _SEG, _FIELD)
_SEPARATORS = frozenset("/:{}")
# Policy patterns know `*` and `?`; regions also the wildcards that stay inside a name or a field.
SUBJECTS = Alphabet({_ANY: Wildcard(many=True), _ONE: Wildcard(many=False),
                     _SEG: Wildcard(many=True, excludes=_SEPARATORS),
                     _SEG_ONE: Wildcard(many=False, excludes=_SEPARATORS),
                     _FIELD: Wildcard(many=True, excludes=frozenset(":"))})
_FILL = FILLER  # a character any wildcard stood for in a witness


@lru_cache(maxsize=65536)
def _tokens(text: str, region: bool) -> tuple[str, ...]:
    """A pattern's tokens: policy patterns know `*` and `?`; regions also `%`, `+` and `&`."""
    wild = {"*": _ANY, "?": _ONE}
    if region:
        wild.update({"%": _SEG, "+": _SEG_ONE, "&": _FIELD})
    out: list[str] = []
    for char in text:
        token = wild.get(char, char)
        if token in _STARS and out and out[-1] == token:
            continue
        out.append(token)
    return tuple(out)


# A subject of every pattern given (tokens), or None; asked again and again for the same patterns.
_witness = lru_cache(maxsize=65536)(SUBJECTS.witness)


@lru_cache(maxsize=65536)
def _regex(value: str, like: bool, ignore_case: bool) -> re.Pattern[str]:
    if not like:
        return re.compile(re.escape(value), re.IGNORECASE if ignore_case else 0)
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in value)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _value_matches(value: str, subject: str, like: bool, ignore_case: bool) -> bool:
    if like and ("*" in value or "?" in value):
        return _regex(value, like, ignore_case).fullmatch(subject) is not None
    return value.lower() == subject.lower() if ignore_case else value == subject


def condition_holds(condition: Mapping, subject: str) -> bool:
    """Whether a SubjectCondition holds for a concrete subject (values ORed; negated: none matches)."""
    like = condition.get("operator") == "like"
    ignore_case = bool(condition.get("ignore_case"))
    hit = any(_value_matches(v, subject, like, ignore_case) for v in condition.get("values") or ())
    return not hit if condition.get("negated") else hit


@dataclass(frozen=True)
class Admission:
    """Whether a trust admits one subject, and what that rests on that could not be evaluated."""

    admitted: bool
    unknown: tuple[str, ...] = ()
    clause: Mapping | None = None  # the allow clause that admits it


def admits(trust: Iterable[Mapping], subject: str) -> Admission:
    """Whether the trust's clauses let a token with this subject become the identity, as the cloud
    decides: some allow clause holds and no deny clause does. A clause resting on a condition that
    could not be evaluated is taken to hold when it allows (the doubt falls towards reporting) and
    not to when it denies; either way the answer says it is unknown."""
    allowed, unknown = None, []
    for clause in trust:
        if not all(condition_holds(c, subject) for c in clause.get("conditions") or ()):
            continue
        if clause.get("effect") == "deny":
            if clause.get("unknown"):
                unknown.extend(clause["unknown"])
                continue
            return Admission(False)
        if allowed is None or (allowed.get("unknown") and not clause.get("unknown")):
            allowed = clause
    if allowed is None:
        return Admission(False)
    return Admission(True, tuple(dict.fromkeys([*(allowed.get("unknown") or ()), *unknown])), allowed)


def subject_patterns(trust: Iterable[Mapping]) -> list[tuple[str, bool]]:
    """The subject values the trust's clauses name (allowing or refusing), each with whether it is
    a pattern (`like`) or an exact value, and `*` for an allow clause with no positive condition on
    the subject: the places to look for subjects it admits."""
    found: list[tuple[str, bool]] = []
    for clause in trust:
        positive = False
        for condition in clause.get("conditions") or ():
            like = condition.get("operator") == "like"
            found.extend((value, like) for value in condition.get("values") or ())
            positive = positive or not condition.get("negated")
        if clause.get("effect") != "deny" and not positive:
            found.append(("*", True))
    return list(dict.fromkeys(found))


def admitted_patterns(trust: Iterable[Mapping]) -> list[str]:
    """The subject patterns the allow clauses admit (positive values; `*` for a clause with none)."""
    found: list[str] = []
    for clause in trust:
        if clause.get("effect") == "deny":
            continue
        values = [v for c in clause.get("conditions") or () if not c.get("negated") for v in c.get("values") or ()]
        found.extend(values or ["*"])
    return list(dict.fromkeys(found))


# -- the level ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Assessment:
    """Who can become an identity through one issuer's tokens."""

    level: str  # one of LEVELS
    who: str  # in plain words
    owner: str | None = None
    repository: str | None = None
    example: str | None = None  # a subject an outsider (or another branch) could present, admitted
    pin: str | None = None  # the subject to pin instead
    subjects: tuple[str, ...] = ()  # the subject patterns the trust admits
    unknown: tuple[str, ...] = ()

    @property
    def words(self) -> str:
        return LEVEL_WORDS[self.level]


def _fields(platform: Platform, subject: str) -> dict[str, str]:
    match = re.fullmatch(platform.subject, subject, re.DOTALL)
    return {k: v for k, v in match.groupdict().items() if v is not None} if match else {}


def _fixed(value: str | None) -> str | None:
    return value if value and _FILL not in value else None


Group = tuple[tuple[str, ...], ...]  # patterns, as tokens, that one subject must match together


def _value_tokens(value: str, like: bool) -> tuple[str, ...]:
    return _tokens(value, False) if like else tuple(value)  # an exact value's `*` is a plain character


def _groups(trust: list[Mapping]) -> list[Group]:
    """The patterns to build subjects from: each value the trust names, and for an allow clause
    with several conditions on the subject, one value of each together (they are ANDed)."""
    groups: list[Group] = [(_value_tokens(value, like),) for value, like in subject_patterns(trust)]
    for clause in trust:
        if clause.get("effect") == "deny":
            continue
        positive = [[_value_tokens(v, c.get("operator") == "like") for v in c.get("values") or ()]
                    for c in clause.get("conditions") or () if not c.get("negated")]
        if len(positive) > 1:
            groups.extend(itertools.islice(itertools.product(*positive), 16))
    return list(dict.fromkeys(groups))


def _probe(trust: list[Mapping], groups: list[Group], region: str | None) -> tuple[str, Admission] | None:
    """A subject of `region` (any subject when None) that the trust admits, built from one group of
    its patterns, or None."""
    region_tokens = (_tokens(region, True),) if region else ()
    for group in groups:
        text = _witness(*group, *region_tokens)
        if text is None:
            continue
        subject = text.replace(_FILL, "x")
        admission = admits(trust, subject)
        if admission.admitted:
            return subject, admission
    return None


def _known_parts(platform: Platform, groups: list[Group],
                 url_owner: str | None) -> list[tuple[str, str | None, dict]]:
    """The owners and repositories the patterns name literally, each with the subject's other fields."""
    shape = platform.repository_region.replace("{owner}", "+%").replace(PROBE, "+")
    shape_tokens = _tokens(shape, True)
    seen: dict[tuple[str, str | None], dict] = {}
    for group in groups:
        text = _witness(*group, shape_tokens)
        if text is None:
            continue
        parts = _fields(platform, text)
        owner = _fixed(parts.get("owner")) or url_owner
        if owner is None:
            continue
        key = (owner, _fixed(parts.get("repository")))
        seen.setdefault(key, parts)
    return [(owner, repository, parts) for (owner, repository), parts in seen.items()]


def assess(issuer: IssuerPlatform, trust: list[Mapping], unknown: str | None = None) -> Assessment:
    """The level of a trust for one CI issuer (see the module docstring)."""
    found = _assess(issuer, trust, unknown)
    if issuer.platform.key != "github" or unknown or found.level == "unknown":
        return found
    custom = _custom_templates(issuer, trust)
    if custom is not None and (LEVELS.index(custom.level) < LEVELS.index(found.level)
                               or (custom.level == "unknown" and found.level in ("pinned", "none"))):
        return custom
    return found


def _assess(issuer: IssuerPlatform, trust: list[Mapping], unknown: str | None = None) -> Assessment:
    platform, url_owner = issuer.platform, issuer.url_owner
    patterns = admitted_patterns(trust)
    if unknown:
        return Assessment("unknown", f"unknown ({unknown})", subjects=tuple(patterns), unknown=(unknown,),
                          owner=url_owner)
    allowing = [c for c in trust if c.get("effect") != "deny"]
    if not allowing:
        return Assessment("none", "no token of the issuer", subjects=tuple(patterns))
    every = _groups(trust)
    fmt = {"owner": url_owner or "<owner>", "repository": "<repository>", "project": "<project>",
           "org": "<organization>"}

    def done(level: str, found: tuple[str, Admission] | None, owner=None, repository=None, parts=None) -> Assessment:
        values = {**fmt, **{k: v for k, v in (parts or {}).items() if _fixed(v)}}
        values.update({k: v for k, v in (("owner", owner), ("repository", repository)) if v})
        who = getattr(platform, level).format(**values, subjects=", ".join(patterns))
        pin = platform.pin.format(**_pin_values(platform, values))
        example = found[0].replace(PROBE, "outsider") if found else None
        return Assessment(level, who, owner, repository, example, pin, tuple(patterns),
                          found[1].unknown if found else ())

    if platform.owner_region is not None:
        found = _probe(trust, every, platform.owner_region)
        if found:  # an issuer URL naming the owner (a GitHub enterprise) keeps outsiders out
            return done("any_repository", found, url_owner) if url_owner else done("any_owner", found)
    parts_known = _known_parts(platform, every, url_owner)
    owners = list(dict.fromkeys(owner for owner, _, _ in parts_known)) or ([url_owner] if url_owner else [])
    for owner in owners:
        region = platform.repository_region.replace("{owner}", _region_literal(owner))
        found = _probe(trust, every, region)
        if found:
            return done("any_repository", found, owner)
    for owner, repository, parts in parts_known:
        if repository is None:
            continue
        for template in platform.ref_regions:
            region = template.replace("{owner}", _region_literal(owner)).replace("{repository}",
                                                                                 _region_literal(repository))
            found = _probe(trust, every, region)
            if found:
                return done("any_branch", found, owner, repository, parts)
    # Nothing of a kind an outsider or another branch could present is admitted: what is, is pinned.
    found = _probe(trust, every, platform.domain)
    if found:
        parts = _fields(platform, found[0])
        owner = parts.get("owner") or url_owner
        return done("pinned", found, owner, parts.get("repository"), parts)
    if any(c.get("unknown") for c in allowing):
        return Assessment("unknown", "unknown: the trust rests on conditions that could not be evaluated",
                          subjects=tuple(patterns), unknown=tuple(u for c in allowing for u in c.get("unknown") or ()))
    return Assessment("none", "no token of the issuer", subjects=tuple(patterns))


# -- GitHub's customised subjects ----------------------------------------------------------------
#
# A GitHub repository or organization may choose the claims its tokens' `sub` is made of
# (include_claim_keys): `repository_owner_id:1234:environment:prod`, `repo:acme/app:context:prod`.
# Whoever owns a repository chooses its template, so an outsider can present any sequence of these
# claims with the values of their own repository: a pattern is judged by the claims it pins.

# Claims whose value names the owner and the repository (OWNER/REPO, or OWNER/REPO/path@ref).
_REPOSITORY_CLAIMS = frozenset({"repo", "repository", "workflow_ref"})
# Claims whose value names the owner (or the enterprise of the owner) only.
_OWNER_CLAIMS = frozenset({"repository_owner", "repository_owner_id", "enterprise", "enterprise_id"})
# Claims whose value names the branch, tag or environment the workflow runs for.
_BRANCH_CLAIMS = frozenset({"ref", "environment", "job_workflow_ref"})
_OTHER_CLAIMS = frozenset({"context", "ref_type", "ref_protected", "actor", "actor_id", "event_name", "workflow",
                           "head_ref", "base_ref", "sha", "job_workflow_sha", "repository_visibility",
                           "runner_environment", "workflow_sha", "repository_id"})
_CLAIMS = _REPOSITORY_CLAIMS | _OWNER_CLAIMS | _BRANCH_CLAIMS | _OTHER_CLAIMS
_BARE_CONTEXTS = frozenset({"pull_request"})  # a context with no value


def _parse_template(value: str) -> tuple[list[tuple[str, str]], bool] | None:
    """A customised subject pattern as (claim, value) pairs, and whether it ends open (a trailing
    `*` admits any further claims); None when it is not made of GitHub's claims."""
    parts = value.split(":")
    pairs: list[tuple[str, str]] = []
    i = 0
    while i < len(parts):
        key = parts[i]
        if key == "*" and i == len(parts) - 1:
            return pairs, True
        if key in _BARE_CONTEXTS:
            pairs.append((key, ""))
            i += 1
            continue
        if key not in _CLAIMS or i + 1 >= len(parts):
            return None
        pairs.append((key, parts[i + 1]))
        i += 2
    return pairs, False


def _fixed_text(text: str, like: bool) -> bool:
    return bool(text) and not (like and ("*" in text or "?" in text))


def _outsider(text: str, like: bool) -> str:
    return text.replace("*", PROBE).replace("?", "x") if like else text


def _custom_templates(issuer: IssuerPlatform, trust: list[Mapping]) -> Assessment | None:
    """The widest level the trust's customised-subject patterns admit (see above), or None when it
    has none. A pattern of claims GitHub does not make is unknown: never read as pinned."""
    platform, url_owner = issuer.platform, issuer.url_owner
    patterns = admitted_patterns(trust)
    widest: Assessment | None = None
    # Deny values too: `repository_owner_id:1234:*` in a deny of what it does not match names the
    # owner the allow is left with. Each candidate counts only if the whole trust admits it.
    for value, like in subject_patterns(trust):
        if value.startswith("repo:") or value == "*":
            continue  # the platform's default grammar, judged by the probes above
        parsed = _parse_template(value)
        if parsed is None and value not in patterns:
            continue
        if parsed is None:
            level = Assessment("unknown", f"unknown: sub pattern {value} is not made of GitHub's claims, so who can "
                                          "present a matching token is not known", subjects=tuple(patterns),
                               unknown=(f"unrecognised sub pattern {value}",))
        else:
            level = _template_level(platform, url_owner, value, like, *parsed, trust, tuple(patterns))
        if level is None:
            continue
        if widest is None or LEVELS.index(level.level) < LEVELS.index(widest.level) or (
                level.level == "unknown" and widest.level in ("pinned", "none")):
            widest = level
    return widest


def _template_level(platform: Platform, url_owner: str | None, value: str, like: bool,
                    pairs: list[tuple[str, str]], open_end: bool, trust: list[Mapping],
                    patterns: tuple[str, ...]) -> Assessment | None:
    owner = repository = None
    owner_named = repository_named = branch_named = False
    for key, text in pairs:
        head = text.split("@", 1)[0].split("/")
        if key in _REPOSITORY_CLAIMS and _fixed_text(head[0], like):
            owner_named, owner = True, owner or head[0]
            if len(head) > 1 and _fixed_text(head[1], like):
                repository_named, repository = True, repository or head[1]
        elif key in _OWNER_CLAIMS and _fixed_text(text, like):
            owner_named, owner = True, owner or f"{key} {text}"
        elif key == "repository_id" and _fixed_text(text, like):
            owner_named = repository_named = True
            owner, repository = owner or f"the owner of repository id {text}", repository or f"id {text}"
        elif key in _BRANCH_CLAIMS and _fixed_text(text, like):
            branch_named = True
    if url_owner and not owner_named:
        owner_named, owner = True, url_owner  # a GitHub enterprise's issuer URL keeps outsiders out
    # The subject an outsider (or another branch) would present: their values where the pattern has wildcards.
    example = ":".join(f"{k}:{_outsider(t, like)}" if t or k not in _BARE_CONTEXTS else k for k, t in pairs)
    if open_end:
        example += ":context:" + PROBE
    admission = admits(trust, example)
    if not admission.admitted:
        return None  # the trust's other conditions keep this subject out
    values = {"owner": owner or "<owner>", "repository": repository or "<repository>"}
    if not owner_named:
        if any(k == "job_workflow_ref" and _fixed_text(t, like) for k, t in pairs):
            why = (f"sub pattern {value} pins the reusable workflow (job_workflow_ref), not the repository that "
                   "calls it: whether other owners' repositories can call that workflow is not known")
            return Assessment("unknown", f"unknown: {why}", subjects=patterns, unknown=(why,),
                              example=example.replace(PROBE, "outsider"))
        level = "any_owner"
    elif not repository_named:
        level = "any_repository"
    elif not branch_named:
        level = "any_branch"
    else:
        level = "pinned"
    who = getattr(platform, level).format(**values, subjects=", ".join(patterns))
    return Assessment(level, who + f" (the sub pattern {value} matches a customised subject template)", owner,
                      repository, example.replace(PROBE, "outsider"),
                      platform.pin.format(**_pin_values(platform, values)), patterns, admission.unknown)


def _pin_values(platform, values: dict) -> dict:
    """The values a pinned subject is written with: a part known only by an id claim
    (`repository_owner_id 123`) is no text a subject carries, so the pin names it as a placeholder."""
    marks = tuple(f"{claim} " for claim in platform.id_claims)
    if not marks:
        return values
    return {key: f"<{key}: {value}>" if isinstance(value, str) and value.startswith(marks) else value
            for key, value in values.items()}


def _region_literal(text: str) -> str:
    # Region wildcards are `*?%+`; an owner or repository name never holds them.
    return re.sub(r"[*?%+&]", "x", text)


@dataclass(frozen=True)
class FederationVerdict:
    """One issuer's federation into a CI identity: the issuer, its platform and the level."""

    issuer: str  # the issuer node's id
    url: str
    platform: str  # the platform's title
    assessment: Assessment
    statement: str = ""
    via: str = ""
