"""SARIF 2.1.0 for code-scanning upload (GitHub, GitLab).

Locations. GitHub shows a result only when it has at least one location with a physicalLocation,
and uses that artifact's uri (relative to the repository root) and region to place and track the
alert. So:
- a finding from a Terraform source points at the resource's .tf file and lines when the resource
  carries `source_location`, else at the plan or state file it came from, and names the resource
  address as a logicalLocation;
- a finding about a live cloud resource has no file. It gets a stable pseudo-path
  `<provider>/<account>/<region>/<resource id>` under the uriBaseId ESTATE (declared in
  originalUriBaseIds without a uri: SARIF's way to say the root is not a location on disk), plus a
  logicalLocation with the resource id. The path does not change between scans, so the alert keeps
  its identity, and it reads as where the resource lives. partialFingerprints carry the finding's
  own fingerprint so that tracking does not depend on line contents either.
"""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath, PureWindowsPath
from urllib.parse import quote

from guardrails.config import CONFIGURATION_NOTE

from .remediation import steps_for, summary_for
from .text import one_line
from .threat_model import sarif_relationships, sarif_taxonomies
from .view import SEVERITIES, findings, gaps, incomplete, is_unknown, not_seen, notes, severity_rank, sources

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
ESTATE_BASE = "ESTATE"
FINGERPRINT_KEY = "guardrailsFindingId/v1"

_TERRAFORM_ADDRESS = re.compile(
    r"^(module\.[A-Za-z_][\w-]*(\[[^\]]*\])?\.)*(data\.)?[a-z][a-z0-9]*_[a-z0-9_]+\.[A-Za-z_][\w-]*(\[[^\]]*\])?$"
)


def render_sarif(document: dict, base_dir: Path | None = None) -> str:
    """The SARIF log of a findings document; file paths are made relative to base_dir (the
    repository root the upload is for; the current directory when not given)."""
    base = (base_dir or Path.cwd()).resolve()
    items = findings(document)
    tool_version = str((document.get("tool") or {}).get("version", ""))
    rules, rule_index, taxonomies = _rules(items)
    driver = {"name": "pipeline-guardrails", "version": tool_version, "rules": rules}
    if taxonomies:
        driver["supportedTaxonomies"] = [{"name": t["name"], "index": i} for i, t in enumerate(taxonomies)]
    run = {
        "tool": {"driver": driver},
        "originalUriBaseIds": {
            ESTATE_BASE: {
                "description": {"text": "Cloud resources, as <provider>/<account>/<region>/<resource id>; not files."}
            }
        },
        "invocations": [_invocation(document)],
        "results": [_result(f, rule_index, document, base) for f in items],
    }
    if taxonomies:
        # The threat models each rule evidences: STRIDE, OWASP CI/CD, CIS and NIST, as taxa that
        # every rule's relationships point at.
        run["taxonomies"] = taxonomies
    log = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


def _rules(items: list[dict]) -> tuple[list[dict], dict[str, int], list[dict]]:
    by_check: dict[str, list[dict]] = {}
    for finding in items:
        by_check.setdefault(str(finding.get("check_id")), []).append(finding)
    taxonomies, where = sarif_taxonomies([group[0].get("references") or {} for group in by_check.values()])
    rules = []
    for check_id in sorted(by_check):
        group = by_check[check_id]
        first = group[0]
        # A check's severity can differ per finding (server or runner, exposed or not); the rule
        # carries the worst, and each result its own level.
        worst = min((f.get("severity", "info") for f in group), key=severity_rank)
        title = one_line(first.get("title")) or check_id
        references = first.get("references") or {}
        tags = ["security", "ci-cd", *references.get("stride", []), *references.get("owasp_cicd", [])]
        steps = steps_for(first)
        help_text = one_line(first.get("remediation"))
        help_markdown = help_text
        if steps.terraform:
            help_markdown += f"\n\nTerraform:\n\n```hcl\n{steps.terraform}```\n"
        rule = {
            "id": check_id,
            "name": "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", check_id) if part),
            "shortDescription": {"text": title},
            "fullDescription": {"text": summary_for(check_id, title)},
            "help": {"text": help_text, "markdown": help_markdown},
            "defaultConfiguration": {"level": LEVEL.get(worst, "note")},
            "properties": {
                "security-severity": SECURITY_SEVERITY.get(worst, "0.0"),
                "tags": list(dict.fromkeys(tags)),
                "precision": "high",
            },
        }
        relationships = sarif_relationships(references, where, taxonomies)
        if relationships:
            rule["relationships"] = relationships
        rules.append(rule)
    return rules, {rule["id"]: index for index, rule in enumerate(rules)}, taxonomies


def _result(finding: dict, rule_index: dict[str, int], document: dict, base: Path) -> dict:
    check_id = str(finding.get("check_id"))
    severity = finding.get("severity", "info")
    result = {
        "ruleId": check_id,
        "ruleIndex": rule_index[check_id],
        "level": LEVEL.get(severity, "note"),
        "message": {"text": one_line(finding.get("message")) or one_line(finding.get("title"))},
        "partialFingerprints": {FINGERPRINT_KEY: str(finding.get("id"))},
        "properties": {"severity": severity, "tags": [severity]},
    }
    if is_unknown(finding):
        # Possible, not confirmed: what it rests on was not seen. The message names it too.
        unknowns = [one_line(u) for u in finding.get("unknowns") or []]
        result["message"]["text"] = f"[unknown] {result['message']['text']}"
        result["properties"].update(confidence="unknown", unknowns=unknowns, tags=[severity, "unknown"])
    steps = steps_for(finding)
    if steps.changes or steps.terraform_changes:
        # The exact change, for a reader of the alert: never run by anything.
        result["properties"]["remediation"] = {
            "changes": [{"resource": c.resource, "what": c.what, "commands": list(c.commands), "console": c.console}
                        for c in steps.changes],
            "terraform": steps.terraform_changes}
    result.update(_locations(finding, document, base))
    if finding.get("status") == "suppressed":
        suppression = finding.get("suppression") or {}
        entry = {"kind": "external", "status": "accepted"}
        if suppression.get("reason"):
            entry["justification"] = one_line(suppression["reason"])
        result["suppressions"] = [entry]
    return result


def _locations(finding: dict, document: dict, base: Path) -> dict:
    resource = finding.get("resource") or {}
    resource_id = one_line(resource.get("id"))
    logical = {"fullyQualifiedName": resource_id, "name": one_line(resource.get("name")) or resource_id, "kind": "resource"}
    plan = _terraform_scope(resource, document)
    if plan is None:
        location = {
            "physicalLocation": {"artifactLocation": {"uri": _estate_uri(resource), "uriBaseId": ESTATE_BASE}},
            "logicalLocations": [logical],
        }
        return {"locations": [location]}
    plan_location = {"physicalLocation": {"artifactLocation": {"uri": _file_uri(plan, base)}}, "logicalLocations": [logical]}
    source = resource.get("source_location")
    if isinstance(source, dict) and source.get("uri"):
        region = {}
        if isinstance(source.get("start_line"), int) and source["start_line"] >= 1:
            region["startLine"] = source["start_line"]
            if isinstance(source.get("end_line"), int) and source["end_line"] >= source["start_line"]:
                region["endLine"] = source["end_line"]
        physical = {"artifactLocation": {"uri": _file_uri(str(source["uri"]), base)}}
        if region:
            physical["region"] = region
        related = dict(plan_location, id=1, message={"text": "resource in the Terraform plan"})
        return {"locations": [{"physicalLocation": physical, "logicalLocations": [logical]}], "relatedLocations": [related]}
    return {"locations": [plan_location]}


def _terraform_scope(resource: dict, document: dict) -> str | None:
    """The plan or state file a finding's resource came from, or None for a cloud resource."""
    plans = [one_line(s.get("scope")) for s in sources(document) if s.get("provider") == "terraform"]
    if not plans:
        return None
    source = resource.get("source_location")
    from_terraform = isinstance(source, dict) or bool(_TERRAFORM_ADDRESS.match(str(resource.get("id", ""))))
    if not from_terraform:
        return None
    if isinstance(source, dict) and source.get("uri"):
        # The .tf files sit beside (or below) the plan of their root module.
        source_dir = _posix(str(source["uri"]))
        beside = [p for p in plans if _is_within(source_dir, str(PurePosixPath(_posix(p)).parent))]
        if beside:
            return max(beside, key=len)
    if len(plans) == 1:
        return plans[0]
    # Several plans and nothing tells which one holds the resource: name the first rather than
    # guess a file-specific line, the logical location still names the exact address.
    return plans[0]


def _posix(path: str) -> str:
    return PureWindowsPath(path).as_posix() if "\\" in path else path


def _is_within(path: str, directory: str) -> bool:
    return directory in ("", ".") or path == directory or path.startswith(directory.rstrip("/") + "/")


def _file_uri(path: str, base: Path) -> str:
    posix = _posix(one_line(path))
    candidate = Path(posix)
    if candidate.is_absolute():
        try:
            posix = candidate.resolve().relative_to(base).as_posix()
        except ValueError:
            return candidate.as_uri()
    posix = str(PurePosixPath(posix))
    while posix.startswith("./"):
        posix = posix[2:]
    return quote(posix, safe="/:@!$&'()*+,;=-._~")


def _estate_uri(resource: dict) -> str:
    parts = [
        one_line(resource.get("provider")) or "unknown",
        one_line(resource.get("account")) or "unknown-account",
        one_line(resource.get("region")) or "global",
        one_line(resource.get("id")) or "unknown-resource",
    ]
    # Each part is one path segment: ARNs keep their colons (allowed in a segment that is not the
    # first) but their slashes are encoded so the depth stays fixed.
    return "/".join(quote(part, safe=":@!$&'()*+,;=-._~") for part in parts)


def _invocation(document: dict) -> dict:
    """The run's invocation: not successful when the view is incomplete (coverage gaps), each gap
    a warning and each assumption a note, so a SARIF consumer never reads a blind scan as clean."""
    notifications = []
    for gap in gaps(document):
        where = "/".join(one_line(gap.get(k)) for k in ("provider", "scope", "region") if gap.get(k))
        notifications.append({
            "level": "warning",
            "message": {"text": f"Not collected: {one_line(gap.get('what'))} in {where}: {one_line(gap.get('error'))}"},
            "descriptor": {"id": "coverage-gap"},
        })
    for note in notes(document):
        configured = note.startswith(CONFIGURATION_NOTE)
        notifications.append({"level": "note",
                              "message": {"text": one_line(note) if configured else f"Assumed: {one_line(note)}"},
                              "descriptor": {"id": "configuration" if configured else "assumption"}})
    scan = document.get("scan") or {}
    invocation = {"executionSuccessful": not incomplete(document), "toolExecutionNotifications": notifications}
    if incomplete(document):
        invocation["exitCodeDescription"] = f"incomplete: not collected: {one_line(not_seen(document))}"
    if scan.get("started_at"):
        invocation["startTimeUtc"] = scan["started_at"]
    if scan.get("finished_at"):
        invocation["endTimeUtc"] = scan["finished_at"]
    return invocation


__all__ = ["render_sarif", "SECURITY_SEVERITY", "LEVEL", "SEVERITIES"]
