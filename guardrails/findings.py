"""Findings and the findings document (spec/findings-v1.schema.json), the source of every report."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Iterable, Iterator

from guardrails import __version__
from guardrails.analysis.estate import Estate, ci_label
from guardrails.analysis.reachability import step
from guardrails.provider import remediation_texts
from guardrails.registry import Check, Result, all_checks
from guardrails.severity import SEVERITIES, SEVERITY_RANK



def fingerprint(check_id: str, resource_id: str) -> str:
    """The same check on the same resource gives the same id in every run."""
    return hashlib.sha256(f"{check_id}\x00{resource_id}".encode()).hexdigest()[:20]


def run_checks(estate: Estate, checks: Iterable[Check] | None = None) -> list[dict]:
    findings = []
    today = estate.now.date()
    for chk in checks or all_checks():
        seen = set()
        for result in chk.run(estate):
            if result.resource in seen:
                continue  # one finding per check and CI node
            seen.add(result.resource)
            findings.append(_finding(estate, chk, result, today))
        if chk.needs and estate.coverage is not None and estate.graph.gaps:
            for result in undecided(estate, chk, seen):
                findings.append(_finding(estate, chk, result, today))
    return sort_findings(findings)


def undecided(estate: Estate, chk: Check, reported: set[str]) -> Iterator[Result]:
    """The CI nodes a check is silent on while something its verdict rests on was not seen: each
    is reported as unknown, naming what is missing, for silence there would read as "no"."""
    # Where nothing is production, a check about reaching production has its answer, unless what
    # tells production apart was not seen.
    no_production = not (estate.production or estate.config.production_accounts)
    for node, verdict in estate.ci_nodes():
        if node.id in reported:
            continue
        if "production" in chk.needs and no_production and not estate.coverage.unknowns(node, ("production",)):
            continue
        unseen = estate.coverage.unknowns(node, chk.needs)
        if not unseen:
            continue
        more = f" (+{len(unseen) - 3} more)" if len(unseen) > 3 else ""
        yield Result(node.id, f"Unknown whether {ci_label(node, verdict)} fails \"{chk.title}\": what it rests on was "
                              f"not seen: {'; '.join(unseen[:3])}{more}.",
                     path=(step(node, "not decided: " + unseen[0]),), details={"undecided": True},
                     unknowns=tuple(unseen))


def sort_findings(findings: list[dict]) -> list[dict]:
    return sorted(findings, key=lambda f: (SEVERITY_RANK[f["severity"]], f["check_id"], f["resource"]["id"]))


def _finding(estate: Estate, chk: Check, result: Result, today: dt.date) -> dict:
    node = estate.graph.node(result.resource)
    verdict = estate.ci.get(node.id)
    resource = {"id": node.id, "kind": node.kind, "name": node.name, "provider": node.get("provider"),
                "account": node.get("account"), "region": node.get("region"),
                "ci_role": verdict.role if verdict else None}
    if node.get("address"):
        resource["address"] = node.get("address")
    if node.get("source_location"):
        resource["source_location"] = node.get("source_location")
    finding = {
        "id": fingerprint(chk.id, node.id),
        "check_id": chk.id,
        "title": chk.title,
        "severity": (result.severity or chk.severity).value,
        "resource": resource,
        "message": result.message,
        "evidence": {"path": [s.as_dict() for s in result.path], "ports": list(result.ports),
                     "details": result.details},
        # in the words of the node's cloud where its provider has them (NSGs, not security groups)
        "remediation": remediation_texts(resource["provider"]).get(chk.id, chk.remediation),
        "references": {"stride": list(chk.stride), "owasp_cicd": list(chk.owasp_cicd), "cis": list(chk.cis),
                       "nist": list(chk.nist)},
        "status": "open",
        "suppression": None,
        "confidence": "unknown" if result.unknowns else "confirmed",
        "unknowns": list(result.unknowns),
    }
    for suppression in estate.config.suppressions:
        if suppression.applies(chk.id, node.id, today):
            finding["status"] = "suppressed"
            finding["suppression"] = {"reason": suppression.reason, "expires": suppression.expires}
            break
    return finding


def inventory(estate: Estate) -> list[dict]:
    """The CI nodes and why each was classified, for reports. `exposed` is true, false, or
    "unknown" when the internet may reach the node through a layer that was not seen."""
    out = []
    for node, verdict in estate.ci_nodes():
        out.append({"id": node.id, "name": node.name, "kind": node.kind, "provider": node.get("provider"),
                    "account": node.get("account"), "region": node.get("region"), "ci_role": verdict.role,
                    "reason": verdict.reason, "production": node.id in estate.production,
                    "exposed": estate.exposed(node.id),
                    "identities": [i.id for i, _ in estate.identities_of(node.id)]})
    return out


def ci_identity_inventory(estate: Estate) -> list[dict]:
    """The CI identities and why each is one, with the trust of each federation, for reports and
    `guardrails inventory --ci`."""
    out = []
    for identity_id, verdict in sorted(estate.ci_identities.items()):
        node = estate.graph.node(identity_id)
        # The identity graph's answer: what it holds or reaches, as the identity checks judge it.
        power = estate.identities.power(identity_id) if estate.identities is not None else None
        out.append({
            "id": identity_id, "name": node.name, "provider": node.get("provider"), "account": node.get("account"),
            "identity_type": node.get("identity_type"), "reasons": list(verdict.reasons),
            "nodes": list(verdict.nodes),
            "power": power.level if power else None,
            "power_via": estate.graph.node(power.holder).name if power and power.chain else None,
            "active_keys": sum(1 for k in node.get("access_keys") or [] if k.get("status") == "active"),
            "federations": [{
                "issuer": f.issuer, "url": f.url, "platform": f.platform, "level": f.assessment.level,
                "who": f.assessment.who, "admits": list(f.assessment.subjects), "pin": f.assessment.pin,
                "example": f.assessment.example, "statement": f.statement, "unknown": list(f.assessment.unknown),
            } for f in verdict.federations],
        })
    return out


def build_document(estate: Estate, findings: list[dict], sources: list[dict], started_at: dt.datetime,
                   finished_at: dt.datetime, scan_id: str | None = None) -> dict:
    return assemble([document_parts(estate, findings)], sources, started_at, finished_at, scan_id)


def document_parts(estate: Estate, findings: list[dict]) -> dict:
    """What the findings document takes from one analysed estate, or from one shard of an estate
    split between processes (shards.py), in plain JSON values."""
    graph = estate.graph
    return {"findings": findings, "resources": graph.count() - 1, "resources_by_kind": graph.counts_by_kind(),
            "ci_nodes": len(estate.ci), "gaps": graph.gaps, "notes": graph.notes, "inventory": inventory(estate),
            "ci_identities": ci_identity_inventory(estate)}


def assemble(parts: list[dict], sources: list[dict], started_at: dt.datetime, finished_at: dt.datetime,
             scan_id: str | None = None) -> dict:
    """The findings document of the estate whose parts these are. Each CI node and each resource
    count is in one part; gaps and notes may be in several, and are told once."""
    if len(parts) == 1:
        findings, inventory_ = parts[0]["findings"], parts[0]["inventory"]
    else:
        findings = sort_findings([f for part in parts for f in part["findings"]])
        inventory_ = sorted((item for part in parts for item in part["inventory"]), key=lambda item: item["id"])
    # Every shard builds every identity: each CI identity is told once.
    identities: dict[str, dict] = {}
    for item in (item for part in parts for item in part.get("ci_identities") or ()):
        known = identities.setdefault(item["id"], item)
        if known is not item:  # a CI node's identity, seen by the shards of its nodes
            known["nodes"] = sorted({*known["nodes"], *item["nodes"]})
            known["reasons"] = list(dict.fromkeys([*known["reasons"], *item["reasons"]]))
    by_severity = {s: 0 for s in SEVERITIES}
    for f in findings:
        if f["status"] == "open":
            by_severity[f["severity"]] += 1
    by_kind: dict[str, int] = {}
    for part in parts:
        for kind, count in part["resources_by_kind"].items():
            by_kind[kind] = by_kind.get(kind, 0) + count
    gaps = sorted((dict(g) for part in parts for g in part["gaps"]),
                  key=lambda g: (g.get("provider") or "", g.get("scope") or "", g.get("region") or "", g["what"], g["error"]))
    return {
        "schema_version": "1",
        "tool": {"name": "pipeline-guardrails", "version": __version__},
        "scan": {"id": scan_id or str(uuid.uuid4()), "started_at": _iso(started_at), "finished_at": _iso(finished_at),
                 "sources": sources},
        "summary": {"by_severity": by_severity, "resources": sum(part["resources"] for part in parts),
                    "ci_nodes": sum(part["ci_nodes"] for part in parts),
                    "suppressed": sum(1 for f in findings if f["status"] == "suppressed"),
                    "unknown": sum(1 for f in findings if f["status"] == "open" and f.get("confidence") == "unknown")},
        "findings": findings,
        "coverage": {"resources_by_kind": {kind: n for kind, n in sorted(by_kind.items()) if n}, "gaps": _unique(gaps),
                     "notes": sorted({note for part in parts for note in part["notes"]}),
                     # Every gap is on something a check reads: the collector reads nothing else.
                     "complete": not gaps},
        "inventory": inventory_,
        "ci_identities": [identities[key] for key in sorted(identities)],
    }


def add_notes(document: dict, notes: list[str]) -> None:
    """Add notes about the scan itself (not about one part of the estate) to the document's."""
    if notes:
        coverage = document["coverage"]
        coverage["notes"] = sorted(set(coverage.get("notes") or []) | set(notes))


def _unique(items: list[dict]) -> list[dict]:
    seen, out = set(), []
    for item in items:
        key = tuple(sorted((k, str(v)) for k, v in item.items()))
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
