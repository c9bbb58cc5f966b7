"""Read-only views of a findings document shared by the renderers.

Every renderer takes the document as the producer wrote it (possibly a saved JSON file from an
older or newer version 1 producer), so these helpers tolerate missing optional keys.
"""

from __future__ import annotations

from collections.abc import Iterable

from guardrails.severity import SEVERITIES, SEVERITY_RANK

ATTACK_PATH_CHECK = "ci-internet-to-admin-path"


def severity_rank(severity: str) -> int:
    return SEVERITY_RANK.get(severity, len(SEVERITIES))


def findings(document: dict) -> list[dict]:
    return list(document.get("findings") or [])


def is_suppressed(finding: dict) -> bool:
    return finding.get("status") == "suppressed"


def open_findings(document: dict) -> list[dict]:
    return [f for f in findings(document) if not is_suppressed(f)]


def suppressed_findings(document: dict) -> list[dict]:
    return [f for f in findings(document) if is_suppressed(f)]


def count_by_severity(items: Iterable[dict]) -> dict[str, int]:
    counts = dict.fromkeys(SEVERITIES, 0)
    for finding in items:
        counts[finding.get("severity", "info")] = counts.get(finding.get("severity", "info"), 0) + 1
    return counts


def by_resource(items: Iterable[dict]) -> list[tuple[dict, list[dict]]]:
    """Findings grouped per resource (CI node): nodes on an attack path first, then worst group
    first, in document order inside."""
    groups: dict[str, tuple[dict, list[dict]]] = {}
    for finding in items:
        resource = finding.get("resource") or {}
        key = str(resource.get("id", ""))
        groups.setdefault(key, (resource, []))[1].append(finding)

    def order(item: tuple[dict, list[dict]]) -> tuple:
        resource, group = item
        worst = min(severity_rank(f.get("severity", "info")) for f in group)
        everything_suppressed = all(is_suppressed(f) for f in group)
        no_attack_path = not any(f.get("check_id") == ATTACK_PATH_CHECK and not is_suppressed(f) for f in group)
        return (everything_suppressed, no_attack_path, worst, str(resource.get("id", "")))

    return sorted(groups.values(), key=order)


def flatten_details(value: object, prefix: str = "") -> list[tuple[str, str]]:
    """A finding's details as (dotted key, one-line value) pairs, for reading rather than parsing:
    lists of plain values joined by commas, nested records numbered."""
    from .text import one_line

    if isinstance(value, dict):
        out: list[tuple[str, str]] = []
        for key, item in value.items():
            out.extend(flatten_details(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list):
        if all(not isinstance(item, (dict, list)) for item in value):
            return [(prefix, ", ".join(one_line(item) for item in value))] if value else []
        out = []
        for index, item in enumerate(value, 1):
            out.extend(flatten_details(item, f"{prefix}[{index}]"))
        return out
    if value is None or value == "":
        return []
    return [(prefix, one_line(value))]


def attack_paths(document: dict) -> list[dict]:
    """The findings an assessor leads with: open internet-to-admin paths, then other open
    critical findings, each only when it carries an evidence path to draw."""
    candidates = [f for f in open_findings(document) if (f.get("evidence") or {}).get("path")]
    leading = [f for f in candidates if f.get("check_id") == ATTACK_PATH_CHECK]
    critical = [f for f in candidates if f.get("check_id") != ATTACK_PATH_CHECK and f.get("severity") == "critical"]
    return leading + critical


def inventory(document: dict) -> list[dict]:
    """The CI inventory. The producer adds it as the top-level `inventory` list; a document
    without it still names every CI node that has a finding, without the classification reason."""
    listed = document.get("inventory")
    if isinstance(listed, list):
        return [item for item in listed if isinstance(item, dict)]
    seen: dict[str, dict] = {}
    for finding in findings(document):
        resource = finding.get("resource") or {}
        if resource.get("ci_role") and resource.get("id") not in seen:
            seen[resource["id"]] = {**resource, "reason": None, "production": None}
    return sorted(seen.values(), key=lambda r: str(r.get("id")))


def ci_identities(document: dict) -> list[dict]:
    """The CI identities (federated roles, CI users) and why each is one, with each federation's
    trust statement and the subject the remediation proposes to pin; empty for a document written
    before they were listed."""
    listed = document.get("ci_identities")
    return [item for item in listed if isinstance(item, dict)] if isinstance(listed, list) else []


def is_identity(resource: dict) -> bool:
    """A finding's resource that is a CI identity (a role, service account or user), not a node."""
    return resource.get("kind") == "identity"


def subjects(resources: Iterable[dict]) -> str:
    """What findings are on, nodes and identities counted apart: '2 CI servers/runners, 3 CI
    identities' (a part that counts none is left out; 'nothing' when both are)."""
    resources = list(resources)
    identities = sum(1 for r in resources if is_identity(r))
    nodes = len(resources) - identities
    parts = [f"{nodes} CI {'server/runner' if nodes == 1 else 'servers/runners'}" if nodes else "",
             f"{identities} CI {'identity' if identities == 1 else 'identities'}" if identities else ""]
    return ", ".join(p for p in parts if p) or "nothing"


def gaps(document: dict) -> list[dict]:
    return list((document.get("coverage") or {}).get("gaps") or [])


def notes(document: dict) -> list[str]:
    """What the scan assumed where its source was silent (Terraform defaults, say), and what it says
    about its configuration (those notes start with "Configuration")."""
    return [str(note) for note in (document.get("coverage") or {}).get("notes") or []]


def incomplete(document: dict) -> bool:
    """Whether something the checks read was not seen. Every gap counts: the collectors read
    nothing that no check rests on. A document written before `coverage.complete` existed says it
    by its gaps."""
    coverage = document.get("coverage") or {}
    if "complete" in coverage:
        return not coverage["complete"]
    return bool(coverage.get("gaps"))


def is_unknown(finding: dict) -> bool:
    """A finding whose verdict rests on something not collected or known only after apply."""
    return finding.get("confidence") == "unknown"


def not_seen(document: dict, limit: int = 5) -> str:
    """What was not collected, in one line for a banner: the first gaps' `what`, and how many more."""
    # Whole lists first (`security_groups`, `iam.roles`): the gaps naming one resource each are
    # mostly what a list not collected left unresolved.
    missing = sorted(gaps(document), key=lambda g: " " in str(g.get("what")))
    names = list(dict.fromkeys(
        str(g.get("what")) + (f" ({g.get('region')})" if g.get("region") else "") for g in missing))
    text = ", ".join(names[:limit])
    return text + (f" and {len(names) - limit} more" if len(names) > limit else "")


def sources(document: dict) -> list[dict]:
    return list((document.get("scan") or {}).get("sources") or [])


def summary(document: dict) -> dict:
    return document.get("summary") or {}


def stride_groups(numbered: list[dict]) -> list[dict]:
    """The open findings under each STRIDE category their check evidences, in STRIDE's order."""
    from .threat_model import STRIDE

    groups = {category: [] for category in STRIDE}
    for entry in numbered:
        finding = entry["finding"]
        if is_suppressed(finding):
            continue
        for category in (finding.get("references") or {}).get("stride") or []:
            groups.setdefault(category, []).append(entry)
    for entries in groups.values():
        entries.sort(key=lambda e: severity_rank(e["finding"].get("severity", "info")))
    return [{"category": c, "name": STRIDE.get(c, c.replace("_", " ").capitalize()), "entries": e}
            for c, e in groups.items()]


def report_context(document: dict) -> dict:
    """What the Markdown and HTML remediation reports show, in the order they show it. Every
    finding gets a positional anchor (never derived from estate text) and its remediation steps."""
    from .remediation import steps_for

    numbered = []
    for index, finding in enumerate(findings(document)):
        numbered.append({"finding": finding, "anchor": f"finding-{index + 1}", "steps": steps_for(finding)})
    by_identity = {id(entry["finding"]): entry for entry in numbered}
    nodes = []
    for index, (resource, group) in enumerate(by_resource(f["finding"] for f in numbered)):
        nodes.append({
            "resource": resource,
            "anchor": f"node-{index + 1}",
            "entries": [by_identity[id(f)] for f in group],
            "counts": count_by_severity(f for f in group if not is_suppressed(f)),
            "suppressed": sum(1 for f in group if is_suppressed(f)),
        })
    node_anchor = {id(entry["finding"]): node["anchor"] for node in nodes for entry in node["entries"]}
    for entry in numbered:
        entry["node_anchor"] = node_anchor[id(entry["finding"])]
    paths = [by_identity[id(f)] for f in attack_paths(document)]
    scan = document.get("scan") or {}
    return {
        "document": document,
        "tool": document.get("tool") or {},
        "scan": scan,
        "severities": SEVERITIES,
        "open_counts": count_by_severity(open_findings(document)),
        "suppressed_counts": count_by_severity(suppressed_findings(document)),
        "open_total": len(open_findings(document)),
        "suppressed_total": len(suppressed_findings(document)),
        "summary": summary(document),
        "sources": sources(document),
        "inventory": inventory(document),
        "inventory_listed": isinstance(document.get("inventory"), list),
        "ci_identities": ci_identities(document),
        "gaps": gaps(document),
        "notes": notes(document),
        "incomplete": incomplete(document),
        "not_seen": not_seen(document),
        "unknown_total": sum(1 for f in open_findings(document) if is_unknown(f)),
        "attack_paths": paths,
        "stride_groups": stride_groups(numbered),
        "findings": numbered,
        "nodes": nodes,
        "subjects": subjects(node["resource"] for node in nodes),
    }
