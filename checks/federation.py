"""Pipelines that run elsewhere: federated trusts that do not pin which pipelines, and stored keys."""

from __future__ import annotations

import datetime as dt
from typing import Iterator

from guardrails.analysis.ci_identities import describe_statement
from guardrails.analysis.estate import Estate
from guardrails.analysis.reachability import step
from guardrails.federation import LEVELS, LEVEL_WORDS
from guardrails.registry import Result, Severity, check
from guardrails.schema import unknown_text

from .privilege import ci_identity_label, ci_identity_power, power_words

LEVEL_SEVERITY = {"any_owner": Severity.CRITICAL, "any_repository": Severity.HIGH, "any_branch": Severity.MEDIUM}


@check(
    id="ci-federation-unscoped",
    title="CI platform tokens can become the identity without the trust pinning which pipelines",
    severity=Severity.CRITICAL,
    severity_note="high when any repository of one owner, medium when any branch of one repository",
    stride=("spoofing", "elevation_of_privilege"),
    owasp_cicd=("CICD-SEC-2", "CICD-SEC-5"),
    nist=("SP 800-53 IA-2", "SP 800-53 AC-3"),
    remediation="Add a condition on the issuer's `sub` claim that names the one repository (or project, "
                "workspace, pipeline) and the branch or environment that deploys, with StringEquals where "
                "possible: for GitHub Actions `repo:OWNER/REPO:ref:refs/heads/main` or "
                "`repo:OWNER/REPO:environment:production`. An `aud` condition alone restricts nothing.",
)
def federation_unscoped(estate: Estate) -> Iterator[Result]:
    """Who can present a token the trust admits is wider than the pipeline that deploys."""
    for identity, verdict in estate.hosted_ci_identities():
        if not verdict.federations:
            continue
        widest = min(verdict.federations, key=lambda f: LEVELS.index(f.assessment.level))
        level = widest.assessment
        if level.level == "pinned":
            continue
        power = ci_identity_power(estate, identity.id)
        unseen = estate.identities.unknowns(identity.id) if power is None and estate.identities else ()
        if level.level == "any_branch" and power is None and not unseen:
            continue  # any branch of the right repository, on an identity without power that matters
        severity = LEVEL_SEVERITY.get(level.level)
        unknowns: tuple[str, ...] = tuple(level.unknown)
        if level.level == "unknown":
            severity, unknowns = Severity.CRITICAL, unknowns or (level.who,)
        power_text = "; it {} {} ({})".format("may hold" if power.unknowns else "holds", *power_words(power)) if power else ""
        if level.level == "any_branch" and power is None:
            # What the identity holds was not all seen: it may hold power that matters.
            power_text = f"; whether it holds administrator, escalation or production power is unknown: {unseen[0]}"
            unknowns += tuple(unseen)
        statement = describe_statement(widest.statement, 400)
        admits = ("any sub (no condition on it)" if level.subjects in ((), ("*",))
                  else "sub " + ", ".join(level.subjects))
        if level.level == "unknown":
            message = (f"Unknown who can become {ci_identity_label(identity, verdict, how=False)}: {level.who}. Until the trust "
                       f"is known, any {widest.platform} pipeline may{power_text}.")
        else:
            message = (f"{ci_identity_label(identity, verdict, how=False)} can be assumed by {level.who} "
                       f"({LEVEL_WORDS[level.level]}: the trust admits {admits}"
                       + (f", e.g. {level.example}" if level.example else "") + f"){power_text}. "
                       f"Pin the sub condition to {level.pin}.")
        path = (step(estate.graph.node(widest.issuer), f"{widest.platform}: {level.who}"),
                step(identity, f"{widest.via}: {statement}"))
        yield Result(identity.id, message, path=path, severity=severity, unknowns=unknowns,
                     details={"issuer": widest.issuer, "issuer_url": widest.url, "platform": widest.platform,
                              "level": level.level, "admits": list(level.subjects), "example": level.example,
                              "pin": level.pin, "statement": widest.statement,
                              "federations": [{"issuer": f.issuer, "level": f.assessment.level,
                                               "who": f.assessment.who} for f in verdict.federations]})


def _age_days(when: str | None, now: dt.datetime) -> float | None:
    if not when:
        return None
    try:
        moment = dt.datetime.fromisoformat(when.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return (now - moment).total_seconds() / 86400


def mask(key_id: str) -> str:
    """A key's id as evidence shows it: its first 4 characters."""
    return key_id[:4] + "*" * max(len(key_id) - 4, 4)


@check(
    id="ci-stored-credential",
    title="CI identity holds a long-lived secret key",
    severity=Severity.HIGH,
    severity_note="medium when the key is within the rotation limit and the identity holds no admin, escalation "
                  "or production power",
    stride=("spoofing", "information_disclosure"),
    owasp_cicd=("CICD-SEC-6", "CICD-SEC-2"),
    cis=("AWS Foundations v3.0.0 1.14",),
    nist=("SP 800-53 IA-5(1)",),
    remediation="Replace the stored key with federation (an OIDC trust pinned to the pipeline's repository and "
                "branch); until then rotate it within the rotation limit, deactivate keys that are not used, and "
                "keep the identity's power to what the pipeline deploys.",
)
def stored_credential(estate: Estate) -> Iterator[Result]:
    """A key stored in a CI system is the pipeline as a user with stored credentials."""
    limit = estate.config.key_max_age_days
    for identity, verdict in estate.hosted_ci_identities():
        keys = [k for k in identity.get("access_keys") or [] if k.get("status") == "active"]
        unseen = (identity.get("unknown") or {}).get("access_keys")
        if not keys and unseen:
            power = ci_identity_power(estate, identity.id)
            why = f"its keys were {unknown_text(unseen)}"
            yield Result(identity.id, f"Unknown whether {ci_identity_label(identity, verdict)} holds a long-lived key: "
                                      f"{why}.", path=(step(identity, "not decided: " + why),),
                         severity=Severity.HIGH if power else Severity.MEDIUM, unknowns=(why,),
                         details={"identity": identity.id, "undecided": True})
            continue
        if not keys:
            continue
        power = ci_identity_power(estate, identity.id)
        described, old = [], False
        for key in keys:
            age = _age_days(key.get("created"), estate.now)
            used = _age_days(key.get("last_used"), estate.now)
            old = old or age is None or age > limit
            described.append({
                "key": mask(str(key.get("id") or "")), "kind": key.get("kind") or "access key",
                "age_days": None if age is None else int(age), "created": key.get("created"),
                "last_used": key.get("last_used"), "last_used_service": key.get("last_used_service"),
                "usage_known": key.get("usage_known", True)})
        words = []
        for item in described:
            age = "age unknown" if item["age_days"] is None else f"{item['age_days']} days old"
            last = ("last use not collected" if not item["usage_known"] and not item["last_used"]
                    else "never used" if not item["last_used"]
                    else f"last used {item['last_used'][:10]}" + (f" with {item['last_used_service']}"
                                                                  if item["last_used_service"] else ""))
            words.append(f"{item['kind']} {item['key']} ({age}, {last})")
        high = old or power is not None
        why = []
        if old:
            why.append(f"older than the {int(limit)}-day rotation limit")
        if power:
            why.append("the identity {} {} ({})".format("may hold" if power.unknowns else "holds", *power_words(power)))
        yield Result(identity.id, f"{ci_identity_label(identity, verdict)} has {len(keys)} active long-lived "
                                  f"key(s): {'; '.join(words)}" + (f": {' and '.join(why)}" if why else "") + ".",
                     path=(step(identity, "; ".join(verdict.reasons[:2])),),
                     severity=Severity.HIGH if high else Severity.MEDIUM,
                     details={"identity": identity.id, "keys": described, "rotation_limit_days": limit,
                              "power": power_words(power)[0] if power else None})
