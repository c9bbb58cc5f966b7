"""IAM condition blocks, evaluated where the values of their keys are known. Pure: no I/O.

    evaluate(condition, context) -> True | False | None

`context` maps a lower-cased condition key to its values in the request (a tuple of strings); a
key it does not hold is unknown, and so is every condition that rests on it: the answer is None,
and the caller keeps the grant as possible, never as certain. The keys known for a CI identity's
session are the request time (`aws:CurrentTime`, `aws:EpochTime`), the principal
(`aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:PrincipalType`), `aws:SecureTransport` (the
SDKs call AWS over HTTPS), the principal's own tags (`aws:PrincipalTag/KEY`) where they were
collected and, per question, `iam:PassedToService` and the tags of the resource asked about
(`aws:ResourceTag/KEY`, `iam:ResourceTag/KEY`, `ec2:ResourceTag/KEY`) where they were collected.
A tag set that was collected makes every tag key it lacks known to be absent.

Never known: `aws:SourceIp`, `aws:SourceVpc` and `aws:SourceVpce`. The address AWS sees for a CI
node's session depends on the endpoint it calls (the node's public or NAT address on a public
endpoint, its private address through a VPC endpoint, where only then a VPC and endpoint are
present), which the scan does not know; a grant conditioned on them stays possible.

Semantics, as IAM evaluates them: every operator of a block must hold, every key of an operator
must hold, and a key holds when its value matches any of the operator's values (for a negated
operator such as StringNotEquals: none of them). `...IfExists` and `ForAnyValue:`/`ForAllValues:`
are read as IAM reads them; a key known to be absent fails a plain operator and passes an
`IfExists` one. An operator this module does not know makes the answer unknown.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Mapping

from .iam_patterns import compile_pattern, matches

Context = Mapping[str, tuple[str, ...]]



def evaluate(condition: object, context: Context, absent: frozenset[str] = frozenset()) -> bool | None:
    """Whether the condition block holds for the request `context`; None when it rests on a key
    whose value is not known, or on an operator that is not known."""
    if not condition:
        return True
    if not isinstance(condition, dict):
        return None
    answer: bool | None = True
    for operator, block in condition.items():
        if not isinstance(block, dict):
            return None
        for key, values in block.items():
            held = _key_holds(str(operator), str(key).lower(), values, context, absent)
            if held is False:
                return False
            if held is None:
                answer = None
    return answer


def _values(values: object) -> tuple[str, ...] | None:
    if isinstance(values, (str, int, float, bool)):
        values = [values]
    if not isinstance(values, list):
        return None
    out = []
    for value in values:
        if isinstance(value, bool):
            out.append("true" if value else "false")
        elif isinstance(value, (str, int, float)):
            out.append(str(value))
        else:
            return None
    return tuple(out)


def _key_holds(operator: str, key: str, values: object, context: Context, absent: frozenset[str]) -> bool | None:
    wanted = _values(values)
    if wanted is None:
        return None
    qualifier, _, base = operator.rpartition(":")
    qualifier = qualifier.lower()
    base_lower = base.lower()
    if_exists = base_lower.endswith("ifexists")
    if if_exists:
        base_lower = base_lower.removesuffix("ifexists")
    if base_lower == "null":
        if key in context:
            present = True
        elif key in absent:
            present = False
        else:
            return None
        return any((value.lower() == "true") != present for value in wanted)
    compare = _COMPARISONS.get(base_lower)
    if compare is None:
        return None
    if key not in context:
        if key in absent:
            if qualifier == "forallvalues":
                return True
            return if_exists
        return None
    have = context[key]
    negated = base_lower in _NEGATED
    try:
        results = [_matches_any(compare, value, wanted) for value in have]
    except ValueError:
        return None  # a date, number or address IAM could not read either: unknown
    if negated:
        results = [not r for r in results]
    if qualifier == "forallvalues":
        return all(results)
    return any(results) if results else False


def _matches_any(compare, value: str, wanted: tuple[str, ...]) -> bool:
    return any(compare(value, w) for w in wanted)


def _string_like(value: str, pattern: str) -> bool:
    return matches(compile_pattern(pattern), value)


def _arn_like(value: str, pattern: str) -> bool:
    return matches(compile_pattern(pattern, arn=True), value)


def _date(text: str) -> dt.datetime:
    text = text.strip()
    if text.isdigit():
        return dt.datetime.fromtimestamp(int(text), dt.timezone.utc)
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _number(text: str) -> float:
    return float(text)


def _in_network(value: str, network: str) -> bool:
    return ipaddress.ip_address(value) in ipaddress.ip_network(network, strict=False)


_COMPARISONS = {
    "stringequals": lambda v, w: v == w,
    "stringnotequals": lambda v, w: v == w,
    "stringequalsignorecase": lambda v, w: v.lower() == w.lower(),
    "stringnotequalsignorecase": lambda v, w: v.lower() == w.lower(),
    "stringlike": _string_like,
    "stringnotlike": _string_like,
    "arnequals": _arn_like,
    "arnlike": _arn_like,
    "arnnotequals": _arn_like,
    "arnnotlike": _arn_like,
    "dateequals": lambda v, w: _date(v) == _date(w),
    "datenotequals": lambda v, w: _date(v) == _date(w),
    "datelessthan": lambda v, w: _date(v) < _date(w),
    "datelessthanequals": lambda v, w: _date(v) <= _date(w),
    "dategreaterthan": lambda v, w: _date(v) > _date(w),
    "dategreaterthanequals": lambda v, w: _date(v) >= _date(w),
    "numericequals": lambda v, w: _number(v) == _number(w),
    "numericnotequals": lambda v, w: _number(v) == _number(w),
    "numericlessthan": lambda v, w: _number(v) < _number(w),
    "numericlessthanequals": lambda v, w: _number(v) <= _number(w),
    "numericgreaterthan": lambda v, w: _number(v) > _number(w),
    "numericgreaterthanequals": lambda v, w: _number(v) >= _number(w),
    "bool": lambda v, w: v.lower() == w.lower(),
    "ipaddress": _in_network,
    "notipaddress": _in_network,
}
_NEGATED = {"stringnotequals", "stringnotequalsignorecase", "stringnotlike", "arnnotequals", "arnnotlike",
            "datenotequals", "numericnotequals", "notipaddress"}


RESOURCE_TAG_PREFIXES = ("aws:resourcetag/", "iam:resourcetag/", "ec2:resourcetag/")
PRINCIPAL_TAG_PREFIXES = ("aws:principaltag/",)
UNDECIDED_SOURCE_KEYS = ("aws:sourceip", "aws:sourcevpc", "aws:sourcevpce")


def tag_context(tags: Mapping[str, str], prefixes: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """The condition keys `prefix + tag key` of a collected tag set, with the tag's value."""
    return {prefix + str(key).lower(): (str(value),) for key, value in tags.items() for prefix in prefixes}


def absent_tag_keys(condition: object, context: Context, prefixes: tuple[str, ...]) -> frozenset[str]:
    """The tag keys under `prefixes` that `condition` names and a collected tag set (in `context`)
    does not hold: known to be absent from the request."""
    if not isinstance(condition, dict):
        return frozenset()
    return frozenset(
        key for block in condition.values() if isinstance(block, dict)
        for key in (str(k).lower() for k in block)
        if key.startswith(prefixes) and key not in context
    )


def undecided_keys(condition: object, context: Context) -> list[str]:
    """The keys `condition` names whose value is not in `context`, in the order named."""
    if not isinstance(condition, dict):
        return []
    names = []
    for block in condition.values():
        if isinstance(block, dict):
            for key in block:
                if str(key).lower() not in context and key not in names:
                    names.append(str(key))
    return names


def session_context(principal_arn: str, account: str, principal_type: str, now: dt.datetime,
                    principal_tags: Mapping[str, str] | None = None) -> dict[str, tuple[str, ...]]:
    """The keys whose values are known for a CI identity's session at `now`. `principal_tags`:
    the identity's own tags where they were collected (None: not known)."""
    now = now.astimezone(dt.timezone.utc)
    known = tag_context(principal_tags, PRINCIPAL_TAG_PREFIXES) if principal_tags else {}
    return known | {
        "aws:currenttime": (now.strftime("%Y-%m-%dT%H:%M:%SZ"),),
        "aws:epochtime": (str(int(now.timestamp())),),
        "aws:principalarn": (principal_arn,),
        "aws:principalaccount": (account,),
        "aws:principaltype": (principal_type,),
        "aws:securetransport": ("true",),
    }
