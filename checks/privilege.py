"""The pipeline is a user with stored credentials: what its identity can do."""

from __future__ import annotations

from typing import Iterator

from guardrails.analysis.ci_identities import CiIdentity, describe_statement
from guardrails.analysis.estate import Estate, ci_label as describe
from guardrails.federation import LEVELS
from guardrails.identity_facts import PowerAnswer
from guardrails.analysis.reachability import Exposure, Step, step
from guardrails.graph import INTERNET, Node
from guardrails.registry import Result, Severity, check


_PHRASES = {
    "assume": "can assume {target}",
    "pass_to_service": "can pass {target} to a service it launches ({actions})",
    "credentials": "can create credentials of {target} ({actions})",
    "trust_update": "can rewrite the trust policy of {target} ({actions}) and assume it",
    "take_over": "can take over {target} ({actions})",
    "runs_as": "runs as {target}",
}


def chain_words(estate: Estate, chain) -> str:
    """The chain in words: "can take over web-1 (ssm:SendCommand), which runs as web-admin"."""
    parts = []
    for hop in chain:
        target = estate.graph.node(hop.target).name if estate.graph.has(hop.target) else hop.target
        actions = " + ".join(dict.fromkeys(p.action for p in hop.proofs)) or hop.method
        parts.append(_PHRASES.get(hop.method, "reaches {target}").format(target=target, actions=actions))
    return ", which ".join(parts)


def chain_details(chain) -> list[dict]:
    """The chain as data: each hop with its method and the permissions (statement, resource) it rests on."""
    return [{"from": h.source, "to": h.target, "method": h.method, "via": h.via, "confidence": h.confidence,
             "proofs": [{"action": p.action, "resource": p.resource, "statement": p.statement,
                         **({"condition": p.condition} if p.condition else {})} for p in h.proofs]}
            for h in chain]


def _identity_steps(estate: Estate, node: Node, identity: Node, edge: dict, answer: PowerAnswer | None) -> list[Step]:
    steps = [step(identity, edge.get("via", "runs as"))]
    for hop in answer.chain if answer else ():
        steps.append(step(estate.graph.node(hop.target), hop.via))
    return steps


def _target_step(estate: Estate, identity: Node, via: str) -> Step:
    account = identity.get("account")
    if account and estate.graph.has(account):
        return step(estate.graph.node(account), via)
    return Step(account or "account", "account", account or "account", via)


def ci_identity_label(identity: Node, verdict: CiIdentity, how: bool = True) -> str:
    """How a finding names a CI identity: its type, name, and (`how`) which pipelines become it."""
    kind = (identity.get("identity_type") or "identity").replace("_", " ")  # a service account, a managed identity
    label = f"CI {kind} {identity.name}" + (f" ({identity.id})" if identity.name != identity.id else "")
    if how and verdict.federations:
        platforms = sorted({f.platform for f in verdict.federations})
        label += f", which {' and '.join(platforms)} pipelines can become,"
    return label


# What each level of the identity graph's answer is called in a finding.
POWER_WORDS = {"admin": "administrator", "escalate": "privilege escalation", "production": "production access"}


def _ci_identity_steps(estate: Estate, identity: Node, verdict: CiIdentity, answer: PowerAnswer | None) -> list[Step]:
    """The evidence path of a CI identity: the issuer its pipelines come from (the widest one),
    the identity, and each hop of the answer's chain (resources taken over, roles passed or assumed)."""
    steps = []
    if verdict.federations:
        widest = min(verdict.federations, key=lambda f: LEVELS.index(f.assessment.level))
        steps.append(step(estate.graph.node(widest.issuer), f"{widest.platform}: {widest.assessment.who}"))
    steps.append(step(identity, "; ".join(verdict.reasons[:2])))
    steps.extend(_chain_steps(estate, answer))
    return steps


def _chain_steps(estate: Estate, answer: PowerAnswer | None) -> list[Step]:
    return [step(estate.graph.node(hop.target), hop.via) for hop in (answer.chain if answer else ())]


def ci_identity_power(estate: Estate, identity_id: str) -> PowerAnswer | None:
    """The strongest power a CI identity holds or reaches along the identity graph (administrator,
    escalation or production, the shortest chain to it), or None when it reaches none of them."""
    if estate.identities is None or not estate.graph.has(identity_id):
        return None
    for level in ("admin", "escalate", "production"):
        answer = estate.identities.reach(identity_id, level)
        if answer is not None:
            return answer
    return None


def power_words(answer: PowerAnswer) -> tuple[str, str]:
    """(the power in words, what proves it) of an answer of the identity graph."""
    if answer.level == "production" and answer.production:
        return POWER_WORDS[answer.level], answer.production[0].via
    return POWER_WORDS[answer.level], answer.proof or POWER_WORDS[answer.level]


def _lead(estate: Estate, answer: PowerAnswer, assumes: str = ", which can assume {holder},") -> str:
    """How the principal comes to the holder of the power, in words ("" when it holds it itself)."""
    if not answer.chain:
        return ""
    if all(h.method == "assume" for h in answer.chain):
        return assumes.format(holder=estate.graph.node(answer.holder).name)
    return ", which " + chain_words(estate, answer.chain) + ","


def _reach(estate: Estate, node: Node, level: str):
    """(identity, edge, answer) for the first identity of the node that holds `level`."""
    for identity, edge in estate.identities_of(node.id):
        answer = estate.identities.reach(identity.id, level) if estate.identities else None
        if answer is not None:
            return identity, edge, answer
    return None


def _admin_of(estate: Estate, node: Node):
    return _reach(estate, node, "admin")


@check(
    id="ci-admin-identity",
    title="CI node runs as an administrator",
    severity=Severity.CRITICAL,
    stride=("elevation_of_privilege",),
    owasp_cicd=("CICD-SEC-2", "CICD-SEC-5"),
    cis=("AWS Foundations v3.0.0 1.16",),
    nist=("SP 800-53 AC-6",),
    remediation="Give the CI role only the permissions its jobs need (deploy roles scoped to their services), remove "
                "AdministratorAccess / `*` grants and role chains to administrator roles, and add a permissions "
                "boundary that denies IAM changes.",
    needs=("identity",),
)
def admin_identity(estate: Estate) -> Iterator[Result]:
    """Whoever lands on the node holds administrator power over the account."""
    for node, verdict in estate.ci_nodes():
        found = _admin_of(estate, node)
        if not found:
            continue
        identity, edge, answer = found
        holder = estate.graph.node(answer.holder)
        how = answer.proof or "administrator"
        chain_text = (" through " + " -> ".join(estate.graph.node(h.target).name for h in answer.chain)
                      if answer.chain else "")
        steps = [step(node, "")] + _identity_steps(estate, node, identity, edge, answer)
        steps.append(_target_step(estate, holder, how))
        yield Result(node.id, f"{describe(node, verdict)} runs as {identity.name}{chain_text}, which "
                              + ("may hold" if answer.unknowns else "holds") + f" administrator power ({how}).",
                     path=tuple(steps), details={"identity": identity.id, "admin_identity": holder.id, "grant": how,
                                                 "chain": [h.target for h in answer.chain],
                                                 "hops": chain_details(answer.chain)},
                     unknowns=answer.unknowns)
    for identity, verdict in estate.hosted_ci_identities():
        answer = estate.identities.reach(identity.id, "admin") if estate.identities else None
        if answer is None:
            continue
        holder = estate.graph.node(answer.holder)
        how = answer.proof or "administrator"
        chain_text = (" through " + " -> ".join(estate.graph.node(h.target).name for h in answer.chain)
                      if answer.chain else "")
        steps = _ci_identity_steps(estate, identity, verdict, answer)
        steps.append(_target_step(estate, holder, how))
        yield Result(identity.id, f"{ci_identity_label(identity, verdict)} "
                                  + ("may hold" if answer.unknowns else "holds") + f" administrator power{chain_text} "
                                  f"({how}).",
                     path=tuple(steps), details={"identity": identity.id, "admin_identity": holder.id, "grant": how,
                                                 "chain": [h.target for h in answer.chain],
                                                 "hops": chain_details(answer.chain),
                                                 "ci_reasons": list(verdict.reasons)},
                     unknowns=answer.unknowns)


@check(
    id="ci-privilege-escalation",
    title="CI node's identity can make itself administrator",
    severity=Severity.HIGH,
    stride=("elevation_of_privilege",),
    owasp_cicd=("CICD-SEC-2", "CICD-SEC-5"),
    nist=("SP 800-53 AC-6",),
    remediation="Remove the IAM permissions that let the role change policies, credentials or trust (iam:Put*, "
                "iam:Attach*, iam:CreatePolicyVersion, iam:PassRole with compute-creating actions...), or scope "
                "them to resources that cannot grant more power, and add a permissions boundary.",
)
def privilege_escalation(estate: Estate) -> Iterator[Result]:
    """Not administrator, but one API call (or a chain of them) away from it."""
    for node, verdict in estate.ci_nodes():
        if _admin_of(estate, node):
            continue  # reported as ci-admin-identity
        found = _reach(estate, node, "escalate")
        if found:
            identity, edge, answer = found
            yield _escalation_result(estate, node, verdict, identity, edge, answer)
            continue
        # Neither administrator nor escalating on what was seen: said so only when all was seen.
        unseen = estate.coverage.unknowns(node, ("identity",))
        for identity, _ in estate.identities_of(node.id):
            if estate.identities is not None:
                unseen += [u for u in estate.identities.unknowns(identity.id) if u not in unseen]
        if unseen:
            yield Result(node.id, f"Unknown whether {describe(node, verdict)} can escalate to administrator: what its "
                                  f"identity holds was not all seen: {'; '.join(unseen[:3])}.",
                         path=(step(node, "not decided: " + unseen[0]),), details={"undecided": True},
                         unknowns=tuple(unseen))

    for identity, verdict in estate.hosted_ci_identities():
        if estate.identities is None or estate.identities.reach(identity.id, "admin"):
            continue  # reported as ci-admin-identity
        answer = estate.identities.reach(identity.id, "escalate")
        if answer is None:
            unseen = estate.identities.unknowns(identity.id)
            if unseen:
                yield Result(identity.id, f"Unknown whether {ci_identity_label(identity, verdict)} can escalate to "
                                          f"administrator: {'; '.join(unseen[:3])}.",
                             path=(step(identity, "not decided: " + unseen[0]),), details={"undecided": True},
                             unknowns=tuple(unseen))
            continue
        yield _hosted_escalation_result(estate, identity, verdict, answer)


def _hosted_escalation_result(estate: Estate, identity: Node, verdict: CiIdentity, answer: PowerAnswer) -> Result:
    holder = estate.graph.node(answer.holder)
    steps = _ci_identity_steps(estate, identity, verdict, answer)
    maybe = "may" if answer.unknowns else "can"
    details = {"identity": identity.id, "escalating_identity": holder.id, "hops": chain_details(answer.chain)}
    if answer.escalations:
        escalations = answer.escalations
        sets = [f"{e.name} ({', '.join(e.permissions)})" for e in escalations]
        grants = sorted({proof for e in escalations for proof in e.proofs})
        steps.append(_target_step(estate, holder, "; ".join(grants[:3])))
        message = (f"{ci_identity_label(identity, verdict)}{_lead(estate, answer)} {maybe} escalate to administrator "
                   f"through {'; '.join(sets[:3])}" + (f" (+{len(sets) - 3} more)" if len(sets) > 3 else "") + ".")
        details["escalations"] = [{"name": e.name, "permissions": list(e.permissions), "grants": list(e.proofs)}
                                  for e in escalations]
    else:  # an administrator reached by passing a role, taking over a resource or creating credentials
        steps.append(_target_step(estate, holder, answer.proof))
        message = (f"{ci_identity_label(identity, verdict)} {chain_words(estate, answer.chain)}, which holds "
                   f"administrator power ({answer.proof})" + (": possible, not certain" if answer.unknowns else "")
                   + ".")
        details["admin_identity"] = holder.id
    return Result(identity.id, message, path=tuple(steps), details=details, unknowns=answer.unknowns)


def _escalation_result(estate: Estate, node: Node, verdict, identity: Node, edge: dict, answer: PowerAnswer) -> Result:
    holder = estate.graph.node(answer.holder)
    steps = [step(node, "")] + _identity_steps(estate, node, identity, edge, answer)
    maybe = "may" if answer.unknowns else "can"
    details = {"identity": identity.id, "escalating_identity": holder.id, "hops": chain_details(answer.chain)}
    if answer.escalations:
        escalations = answer.escalations
        sets = [f"{e.name} ({', '.join(e.permissions)})" for e in escalations]
        grants = sorted({proof for e in escalations for proof in e.proofs})
        steps.append(_target_step(estate, holder, "; ".join(grants[:3])))
        assume_only = all(h.method == "assume" for h in answer.chain)
        if assume_only:
            lead = f" which can assume {holder.name}" if answer.chain else ""
        else:
            lead = ", which " + chain_words(estate, answer.chain)
        message = (f"{describe(node, verdict)} runs as {identity.name}{lead}, which {maybe} escalate to "
                   f"administrator through {'; '.join(sets[:3])}" + (f" (+{len(sets) - 3} more)" if len(sets) > 3 else "")
                   + ".")
        details["escalations"] = [{"name": e.name, "permissions": list(e.permissions), "grants": list(e.proofs)}
                                  for e in escalations]
    else:  # an administrator reached by passing a role, taking over a resource or creating credentials
        steps.append(_target_step(estate, holder, answer.proof))
        message = (f"{describe(node, verdict)} runs as {identity.name}, which {chain_words(estate, answer.chain)}, "
                   f"which holds administrator power ({answer.proof})"
                   + (": possible, not certain" if answer.unknowns else "") + ".")
        details["admin_identity"] = holder.id
    return Result(node.id, message, path=tuple(steps), details=details, unknowns=answer.unknowns)


def _production_of(estate: Estate, node: Node):
    return _reach(estate, node, "production")


@check(
    id="ci-production-access",
    title="CI node's identity can act on production",
    severity=Severity.HIGH,
    stride=("tampering", "elevation_of_privilege"),
    owasp_cicd=("CICD-SEC-2", "CICD-SEC-5"),
    nist=("SP 800-53 AC-5", "SP 800-53 AC-6"),
    remediation="Deploy to production only from a dedicated, protected pipeline: remove sts:AssumeRole into "
                "production roles and write access to production resources from this CI identity, or require "
                "approval (and an external ID or session tags) in the production roles' trust policies.",
    needs=("identity", "production"),
)
def production_access(estate: Estate) -> Iterator[Result]:
    """A build on this node can change production."""
    for node, verdict in estate.ci_nodes():
        found = _production_of(estate, node)
        if not found:
            continue
        identity, edge, answer = found
        accesses = answer.production
        steps = [step(node, "")] + _identity_steps(estate, node, identity, edge, answer)
        first = accesses[0]
        target = estate.graph.node(first.target) if estate.graph.has(first.target) else None
        steps.append(step(target, first.via) if target else Step(first.target, "account", first.target, first.via))
        lead = (", which " + chain_words(estate, answer.chain)
                if any(h.method != "assume" for h in answer.chain) else "")
        yield Result(node.id, f"{describe(node, verdict)} runs as {identity.name}{lead}, which "
                              + ("may" if all(a.confidence != "confirmed" for a in accesses) else "can")
                              + " act on production: "
                              + "; ".join(a.via for a in accesses[:3]) + (f" (+{len(accesses) - 3} more)" if len(accesses) > 3 else "") + ".",
                     path=tuple(steps),
                     details={"identity": identity.id, "targets": [{"target": a.target, "via": a.via} for a in accesses],
                              "hops": chain_details(answer.chain)},
                     unknowns=answer.unknowns)
    for identity, verdict in estate.hosted_ci_identities():
        answer = estate.identities.reach(identity.id, "production") if estate.identities else None
        if answer is None:
            continue
        accesses = answer.production
        steps = _ci_identity_steps(estate, identity, verdict, answer)
        first = accesses[0]
        target = estate.graph.node(first.target) if estate.graph.has(first.target) else None
        steps.append(step(target, first.via) if target else Step(first.target, "account", first.target, first.via))
        lead = _lead(estate, answer, "")
        certain = [a for a in accesses if a.confidence == "confirmed"]
        accesses = certain + [a for a in accesses if a.confidence != "confirmed"]
        yield Result(identity.id, f"{ci_identity_label(identity, verdict)}{lead} "
                                  + ("can" if certain else "may") + " act on production: "
                                  + "; ".join(a.via for a in accesses[:3])
                                  + (f" (+{len(accesses) - 3} more)" if len(accesses) > 3 else "") + ".",
                     path=tuple(steps),
                     details={"identity": identity.id, "targets": [{"target": a.target, "via": a.via} for a in accesses],
                              "hops": chain_details(answer.chain)},
                     unknowns=tuple(answer.unknowns) + (() if certain else tuple(a.via for a in accesses)))


@check(
    id="ci-internet-to-admin-path",
    title="Internet to CI node to administrator: attack path",
    severity=Severity.CRITICAL,
    stride=("spoofing", "elevation_of_privilege"),
    owasp_cicd=("CICD-SEC-7", "CICD-SEC-2", "CICD-SEC-5"),
    cis=("AWS Foundations v3.0.0 1.16", "AWS Foundations v3.0.0 5.2"),
    nist=("SP 800-53 SC-7", "SP 800-53 AC-6"),
    remediation="Break the path at both ends: take the CI node off the internet (private subnet, load balancer with "
                "authentication or VPN) and take administrator, escalation and production power away from its "
                "identity and from every role it can assume.",
)
def internet_to_admin_path(estate: Estate) -> Iterator[Result]:
    """An attacker on the internet reaches the node and inherits power over the account."""
    for node, verdict in estate.ci_nodes():
        paths, unknowns = estate.exposure_paths(node.id)
        if not paths:
            continue
        ports = Exposure(node.id, paths).labels
        labels = ports or ["ports that are unknown"]
        answer = None
        for level, kind in (("admin", "administrator"), ("escalate", "privilege escalation"),
                            ("production", "production access")):
            found = _reach(estate, node, level)
            if found:
                identity, edge, answer = found
                break
        if answer is None:
            unseen = estate.coverage.unknowns(node, ("identity",))
            if unseen:  # reachable, and what its identity can do was not seen
                yield Result(node.id, f"{describe(node, verdict)} is reachable from the internet on "
                                      f"{', '.join(labels)}; whether its identity holds administrator, escalation "
                                      f"or production power is unknown: {'; '.join(unseen[:3])}.",
                             path=tuple(paths[0].steps), ports=tuple(ports), details={"power": "unknown"},
                             unknowns=(*unknowns, *unseen))
            continue
        holder = estate.graph.node(answer.holder)
        accesses = answer.production
        end_via = accesses[0].via if kind == "production access" else answer.proof or "administrator"
        path = (Exposure(node.id, paths).direct() or paths)[0]
        steps = list(path.steps) + _identity_steps(estate, node, identity, edge, answer)
        if kind == "production access" and estate.graph.has(accesses[0].target):
            steps.append(step(estate.graph.node(accesses[0].target), end_via))
        else:
            steps.append(_target_step(estate, holder, end_via))
        yield Result(node.id, f"{describe(node, verdict)} is reachable from the internet on {', '.join(labels)} "
                              f"and runs as {identity.name}"
                              + ((f", which can assume {holder.name}" if all(h.method == "assume" for h in answer.chain)
                                  else f", which {chain_words(estate, answer.chain)}") if answer.chain else "")
                              + f": an attacker who gets in holds {kind} ({end_via}).",
                     path=tuple(steps), ports=tuple(ports),
                     details={"identity": identity.id, "power": kind, "power_holder": holder.id,
                              "hops": chain_details(answer.chain)},
                     unknowns=(*unknowns, *answer.unknowns))
    yield from _federated_paths(estate)


def _federated_paths(estate: Estate) -> Iterator[Result]:
    """The first step of a hosted pipeline's path: anyone who can run a pipeline on a platform whose
    tokens any owner's pipelines can present becomes the identity, and its power."""
    internet = estate.graph.node(INTERNET)
    for identity, verdict in estate.hosted_ci_identities():
        open_ = [f for f in verdict.federations if f.assessment.level == "any_owner"]
        undecided = [f for f in verdict.federations if f.assessment.level == "unknown"]
        federation = (open_ or undecided or [None])[0]
        if federation is None:
            continue
        answer = ci_identity_power(estate, identity.id)
        if answer is None:
            continue
        kind, end_via = power_words(answer)
        level = federation.assessment
        steps = [step(internet, f"anyone can run a pipeline on {federation.platform}"),
                 step(estate.graph.node(federation.issuer),
                      f"{level.who}" + (f", e.g. a token with sub {level.example}" if level.example else "")),
                 step(identity, f"{federation.via}: {describe_statement(federation.statement, 300)}")]
        steps.extend(_chain_steps(estate, answer))
        holder = estate.graph.node(answer.holder)
        target = answer.production[0].target if answer.level == "production" else None
        if target is not None and estate.graph.has(target):
            steps.append(step(estate.graph.node(target), end_via))
        else:
            steps.append(_target_step(estate, holder, end_via))
        who = level.who if level.level == "any_owner" else f"possibly anyone ({level.who})"
        unknowns = tuple(level.unknown) if level.level == "unknown" or level.unknown else ()
        yield Result(identity.id, f"{ci_identity_label(identity, verdict, how=False)} can be assumed by {who}"
                                  + _lead(estate, answer)
                                  + f" and holds {kind} ({end_via}): anyone who can run a pipeline on "
                                  f"{federation.platform} holds it. Pin the trust's sub to {level.pin}.",
                     path=tuple(steps),
                     details={"identity": identity.id, "power": kind, "power_holder": holder.id,
                              "issuer": federation.issuer, "level": level.level, "pin": level.pin,
                              "hops": chain_details(answer.chain)},
                     unknowns=tuple(dict.fromkeys((*unknowns, *answer.unknowns))))
