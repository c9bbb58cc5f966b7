"""Which tokens a federated identity credential lets become a user-assigned managed identity, told
as neutral trust clauses (guardrails/schema.py `TrustClause`, judged by guardrails/federation.py).

Microsoft Entra ID exchanges a token for the identity when its issuer and one audience match a
credential of the identity and its subject matches the credential's:

- A classic credential names one `subject`, compared exactly (no wildcards, case as written): one
  allow clause with an `equals` condition. Several credentials of one issuer are several clauses,
  any of which admits.
- A flexible credential (preview: `claimsMatchingExpression`, language version 1) matches claims
  by an expression: `claims['sub'] matches 'repo:acme/app:ref:refs/heads/*'`, conditions joined by
  ` and `, each `claims['<claim>'] <operator> '<value>'` with the operators `matches` (`*`
  standing for any run of characters; a `?` is read as a wildcard too, which can only widen what is
  taken to be admitted) and `eq` (exact). A condition on `sub` becomes a subject
  condition; one on another claim (`job_workflow_ref`) restricts something other than who, which
  this scan does not evaluate: the clause names it in `unknown`. An expression that does not parse
  this way, or a language version other than 1, leaves the whole trust unknown (a coverage gap,
  never read as pinned).
- The audience is the token holder's choice (a GitHub workflow asks for any audience): it never
  restricts who, and is kept on the issuer for evidence only.
"""

from __future__ import annotations

import json
import re

_CONDITION = re.compile(r"claims\['(?P<claim>[A-Za-z0-9_.:-]+)'\]\s+(?P<operator>matches|eq)\s+'(?P<value>[^']*)'")
_AND = re.compile(r"\s+and\s+")
OPERATORS = {"matches": "like", "eq": "equals"}


class ExpressionError(ValueError):
    """A claims matching expression that cannot be read as Entra ID reads it."""


def expression_clause(expression: dict) -> dict:
    """The allow clause of a flexible credential's `claimsMatchingExpression`; ExpressionError when
    it cannot be read."""
    if not isinstance(expression, dict) or not isinstance(expression.get("value"), str):
        raise ExpressionError("claimsMatchingExpression has no value")
    version = expression.get("languageVersion", 1)
    if str(version) != "1":
        raise ExpressionError(f"language version {version!r} is not one this scanner knows")
    text = expression["value"].strip()
    conditions, unknown = [], []
    for part in _AND.split(text) if text else []:
        match = _CONDITION.fullmatch(part.strip())
        if match is None:
            raise ExpressionError(f"cannot read {part.strip()!r} (expected claims['<claim>'] matches|eq '<value>')")
        claim, operator, value = match["claim"], match["operator"], match["value"]
        if claim == "sub":
            conditions.append({"operator": OPERATORS[operator], "values": [value]})
        else:
            unknown.append(f"condition on claim {claim!r} ({part.strip()}), which this scanner does not evaluate")
    if not conditions and not unknown:
        raise ExpressionError("the expression is empty")
    return {"effect": "allow", "conditions": conditions, "unknown": unknown,
            "statement": json.dumps({"claimsMatchingExpression": expression}, separators=(",", ":"), sort_keys=True)}


def credential_clause(credential: dict) -> dict:
    """The allow clause of one federated identity credential (its `properties`); ExpressionError
    when what it admits cannot be read."""
    subject = credential.get("subject")
    if isinstance(subject, str) and subject:
        return {"effect": "allow", "conditions": [{"operator": "equals", "values": [subject]}], "unknown": [],
                "statement": json.dumps({"issuer": credential.get("issuer"), "subject": subject},
                                        separators=(",", ":"), sort_keys=True)}
    if credential.get("claimsMatchingExpression") is not None:
        return expression_clause(credential["claimsMatchingExpression"])
    raise ExpressionError("the credential has neither a subject nor a claims matching expression")
