"""Which OIDC tokens a role's trust policy lets become the role, told as neutral trust clauses.

A role trusts an OIDC issuer through a statement allowing `sts:AssumeRoleWithWebIdentity` to a
`Federated` principal, the ARN of an IAM OIDC provider (`arn:aws:iam::123456789012:oidc-provider/
token.actions.githubusercontent.com`). Its conditions are translated as IAM evaluates them for a
token of that issuer (guardrails/schema.py `TrustClause`, evaluated by guardrails/federation.py):

- `<issuer>:sub` conditions become subject conditions: `StringEquals`/`StringLike` and their
  `IgnoreCase`, `Not` and `IfExists` forms, several values ORed; a token always carries `sub`, so
  `IfExists` and the `ForAnyValue:`/`ForAllValues:` qualifiers change nothing for it, and
  `Null: false` always holds.
- `<issuer>:aud` (and `oaud`, `azp`) name the audience, which whoever asks for the token chooses:
  they never restrict who, and are left out (the statement is kept for evidence).
- A key of another issuer is absent from this issuer's tokens: as IAM does, a positive operator on
  it fails (the statement never applies), a negated one, an `IfExists` or a `ForAllValues:` holds.
- Any other key or operator cannot be evaluated here: the clause is kept with it named in
  `unknown` (and the role gets a coverage gap), never read as pinning the subject.
- `Deny` statements that apply to the issuer's tokens become deny clauses.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from .iam_patterns import compile_pattern, contains

OIDC_PROVIDER_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):oidc-provider/(.+)$")
_WEB_IDENTITY = compile_pattern("sts:assumerolewithwebidentity")
_AUDIENCE_CLAIMS = ("aud", "oaud", "azp")
_STRING_OPERATORS = {
    "stringequals": ("equals", False, False), "stringnotequals": ("equals", True, False),
    "stringequalsignorecase": ("equals", False, True), "stringnotequalsignorecase": ("equals", True, True),
    "stringlike": ("like", False, False), "stringnotlike": ("like", True, False),
}
# Operators IAM knows that cannot apply to a string claim such as `sub`.
_OTHER_OPERATORS = ("numeric", "date", "bool", "binaryequals", "ipaddress", "notipaddress", "arn", "null")


class TrustDocumentError(ValueError):
    """A trust policy that cannot be read as IAM would read it."""


@dataclass
class Federation:
    """One OIDC provider a trust policy names, with the clauses that decide its tokens."""

    provider_arn: str
    url: str
    clauses: list[dict] = field(default_factory=list)
    statements: list[dict] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def oidc_url(provider_arn: str) -> str | None:
    """The issuer URL (no scheme) an OIDC provider ARN names."""
    match = OIDC_PROVIDER_ARN.match(provider_arn)
    return match.group(2) if match else None


def _document(trust) -> dict:
    if isinstance(trust, str):
        try:
            trust = json.loads(trust)
        except json.JSONDecodeError as exc:
            raise TrustDocumentError(f"not JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(trust, dict):
        raise TrustDocumentError("not a policy document (an object with a Statement)")
    statements = trust.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not all(isinstance(s, dict) for s in statements):
        raise TrustDocumentError("its Statement is not a statement or a list of statements")
    return {"Statement": statements}


def _strings(value) -> list[str]:
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    return [v if isinstance(v, str) else json.dumps(v) if not isinstance(v, bool) else str(v).lower() for v in values]


def _applies_to_web_identity(statement: dict) -> bool:
    if "NotAction" in statement:
        return not any(contains(compile_pattern(a, fold_case=True), _WEB_IDENTITY)
                       for a in _strings(statement["NotAction"]))
    return any(contains(compile_pattern(a, fold_case=True), _WEB_IDENTITY) for a in _strings(statement.get("Action")))


def _principals(block) -> tuple[bool, list[str]]:
    """(everyone, the Federated principals) of a Principal or NotPrincipal block."""
    if block == "*":
        return True, []
    if not isinstance(block, dict):
        return False, []
    everyone = "*" in _strings(block.get("AWS")) or "*" in _strings(block.get("Federated"))
    return everyone, [p for p in _strings(block.get("Federated")) if p != "*"]


def federated_providers(trust) -> list[str]:
    """The OIDC provider ARNs a trust policy names as Federated principals (raises
    TrustDocumentError when it cannot be read)."""
    found = []
    for statement in _document(trust)["Statement"]:
        for key in ("Principal", "NotPrincipal"):
            _, federated = _principals(statement.get(key))
            found.extend(p for p in federated if OIDC_PROVIDER_ARN.match(p))
    return list(dict.fromkeys(found))


def _statement_applies(statement: dict, provider_arn: str, account_providers: list[str]) -> bool:
    if not _applies_to_web_identity(statement):
        return False
    if "NotPrincipal" in statement:
        everyone, federated = _principals(statement["NotPrincipal"])
        return not everyone and provider_arn not in federated
    everyone, federated = _principals(statement.get("Principal"))
    if everyone:  # any OIDC provider of the role's account
        return provider_arn in account_providers
    return provider_arn in federated


def _condition(operator: str, key: str, values: list[str], url: str, other_urls: list[str]) -> tuple[str, object]:
    """One condition for this issuer's tokens: ("sub", SubjectCondition), ("holds", None),
    ("fails", None) or ("unknown", why)."""
    qualifier, _, base = operator.rpartition(":")
    lowered = base.lower()
    if_exists = lowered.endswith("ifexists")
    if if_exists:
        lowered = lowered[: -len("ifexists")]
    qualifier = qualifier.lower()
    if qualifier not in ("", "foranyvalue", "forallvalues"):
        return "unknown", f"unknown condition operator {operator!r}"
    known = lowered in _STRING_OPERATORS or lowered.startswith(_OTHER_OPERATORS)
    if not known:
        return "unknown", f"unknown condition operator {operator!r}"
    key_lower = key.lower()
    issuer, _, claim = key_lower.rpartition(":")
    if issuer == url.lower():
        if claim in _AUDIENCE_CLAIMS:
            return "holds", None  # the audience is the token holder's choice
        if claim != "sub":
            return "unknown", f"condition on claim {key!r}, which this scanner cannot evaluate"
        if lowered == "null":
            return ("holds" if all(v.lower() == "false" for v in values) else "fails"), None
        if lowered not in _STRING_OPERATORS:
            return "unknown", f"condition operator {operator!r} on {key!r}, a string"
        kind, negated, ignore_case = _STRING_OPERATORS[lowered]
        return "sub", {"operator": kind, "negated": negated, "ignore_case": ignore_case, "values": values}
    if issuer in (u.lower() for u in other_urls):
        # The key of another issuer: absent from this issuer's tokens.
        negated = lowered.startswith(("stringnot", "numericnot", "datenot", "arnnot", "notipaddress"))
        if lowered == "null":
            return ("holds" if all(v.lower() == "true" for v in values) else "fails"), None
        return ("holds" if if_exists or negated or qualifier == "forallvalues" else "fails"), None
    return "unknown", f"condition on {key!r}, which this scanner cannot evaluate for a web identity token"


def federations(trust, account_providers: list[str] | None = None) -> list[Federation]:
    """For each OIDC provider the trust names (and, for statements naming everyone, each of the
    account's OIDC providers), the clauses deciding which of its tokens may become the role.
    Raises TrustDocumentError when the document cannot be read."""
    document = _document(trust)
    named = federated_providers(document)
    providers = list(dict.fromkeys(named + list(account_providers or [])))
    urls = {arn: oidc_url(arn) or arn for arn in providers}
    out = []
    for arn in providers:
        fed = Federation(arn, urls[arn])
        others = [u for a, u in urls.items() if a != arn]
        for statement in document["Statement"]:
            effect = statement.get("Effect")
            if effect not in ("Allow", "Deny"):
                raise TrustDocumentError(f"a statement has Effect {effect!r}")
            if not _statement_applies(statement, arn, account_providers or named):
                continue
            clause = _clause(statement, fed.url, others)
            if clause is None:
                continue
            fed.clauses.append(clause)
            fed.statements.append(statement)
            fed.unknown.extend(clause["unknown"])
        if any(c["effect"] == "allow" for c in fed.clauses) or arn in named:
            out.append(fed)
    return out


def _clause(statement: dict, url: str, others: list[str]) -> dict | None:
    """The statement as a TrustClause for tokens of `url`, or None when it never applies to them."""
    conditions, unknown = [], []
    block = statement.get("Condition") or {}
    if not isinstance(block, dict):
        raise TrustDocumentError("a statement's Condition is not an object")
    for operator, keys in block.items():
        if not isinstance(keys, dict):
            raise TrustDocumentError(f"condition {operator!r} is not an object of keys")
        for key, values in keys.items():
            verdict, what = _condition(str(operator), str(key), _strings(values), url, others)
            if verdict == "fails":
                return None
            if verdict == "sub":
                conditions.append(what)
            elif verdict == "unknown":
                unknown.append(what)
    return {"effect": statement["Effect"].lower(), "conditions": conditions, "unknown": unknown,
            "statement": json.dumps(statement, separators=(",", ":"), sort_keys=True)}


def mentioned_providers(text: str) -> list[str]:
    """OIDC provider ARNs written anywhere in a trust policy that cannot be read: enough to know
    that a CI platform may be trusted, not how."""
    return list(dict.fromkeys(re.findall(r"arn:aws[a-z-]*:iam::\d{12}:oidc-provider/[^\"'\s,\]}]+", text)))
