"""What changed between two scans of one scope: new, fixed, reopened, still open (with age),
suppressed and expired suppressions, and the coverage that changed.

One pure function, `compare`, decides every category, from what was known before (the previous
findings document, or the history database's life of each finding) and the new findings document.
`guardrails diff OLD.json NEW.json` and `guardrails audit` both go through it, so that the two say
the same thing about the same pair of scans.

A finding that is absent from the new scan is "fixed" only when the new scan saw its account
whole: where the account has coverage gaps (it could not be read at all, or a list was refused),
its absence proves nothing, and it is reported as "unseen" and kept open.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from guardrails.severity import SEVERITY_RANK

CATEGORIES = ("new", "reopened", "fixed", "still_open", "suppressed", "expired_suppressions", "unseen")
# Changes a gate that blocks regressions looks at (--fail-on-new).
REGRESSIONS = ("new", "reopened")
DIFF_KIND = "pipeline-guardrails-diff"


@dataclass(frozen=True)
class Prior:
    """What was known of one finding before the new scan. `status` is open, suppressed or fixed
    (fixed only from history); `first_seen` is None when unknown (a plain findings document)."""

    status: str
    brief: dict
    first_seen: dt.datetime | None = None
    reopened_count: int = 0


@dataclass
class Changes:
    """The findings of each category (briefs, see `brief`) and the coverage that changed."""

    categories: dict[str, list[dict]] = field(default_factory=lambda: {name: [] for name in CATEGORIES})
    gaps_appeared: list[dict] = field(default_factory=list)
    gaps_cleared: list[dict] = field(default_factory=list)

    def count(self, name: str) -> int:
        return len(self.categories[name])

    def regressions(self) -> list[dict]:
        return [item for name in REGRESSIONS for item in self.categories[name]]


def brief(finding: dict) -> dict:
    """The part of a finding a diff shows and the history keeps."""
    resource = finding.get("resource") or {}
    return {"id": finding["id"], "check_id": finding["check_id"], "severity": finding["severity"],
            "confidence": finding.get("confidence", "confirmed"), "title": finding.get("title", ""),
            "message": finding.get("message", ""),
            "resource": {"id": resource.get("id"), "name": resource.get("name"), "account": resource.get("account"),
                         "provider": resource.get("provider")},
            "suppression": finding.get("suppression")}


def gap_key(gap: Mapping) -> tuple:
    """A gap is the same gap in two runs when it is about the same thing in the same place,
    whatever the error's words were."""
    return (gap.get("provider") or "", str(gap.get("scope") or ""), gap.get("region") or "", gap.get("what") or "")


def accounts_with_gaps(gaps: Iterable[Mapping]) -> set[str]:
    return {str(gap.get("scope")) for gap in gaps if gap.get("scope")}


def compare(previous: Mapping[str, Prior], current: list[dict], previous_gaps: list[dict], current_gaps: list[dict],
            now: dt.datetime) -> Changes:
    """Classify every finding of `current` (a findings document's list) and every finding known
    before that it no longer holds."""
    changes = Changes()
    seen = set()
    for finding in current:
        seen.add(finding["id"])
        item = brief(finding)
        prior = previous.get(finding["id"])
        if prior is not None and prior.first_seen is not None:
            item["first_seen"] = _iso(prior.first_seen)
            item["age_days"] = max(0, (now - prior.first_seen).days)
        if finding["status"] == "suppressed":
            changes.categories["suppressed"].append(item)
        elif prior is None:
            changes.categories["new"].append(item)
        elif prior.status == "fixed":
            item["reopened_count"] = prior.reopened_count + 1
            changes.categories["reopened"].append(item)
        elif prior.status == "suppressed":
            # Suppressed before, open now: the suppression expired or was withdrawn.
            item["was_suppressed"] = prior.brief.get("suppression")
            changes.categories["expired_suppressions"].append(item)
        else:
            changes.categories["still_open"].append(item)
    blind = accounts_with_gaps(current_gaps)
    for fingerprint, prior in previous.items():
        if fingerprint in seen or prior.status == "fixed":
            continue
        item = dict(prior.brief)
        if prior.first_seen is not None:
            item["first_seen"] = _iso(prior.first_seen)
        account = (item.get("resource") or {}).get("account")
        if account is not None and str(account) in blind:
            changes.categories["unseen"].append(item)
        else:
            changes.categories["fixed"].append(item)
    for name in CATEGORIES:
        changes.categories[name].sort(key=lambda i: (SEVERITY_RANK.get(i["severity"], 9), i["check_id"],
                                                     str(i["resource"].get("id"))))
    before = {gap_key(g): g for g in previous_gaps}
    after = {gap_key(g): g for g in current_gaps}
    changes.gaps_appeared = [dict(after[key]) for key in sorted(after.keys() - before.keys())]
    changes.gaps_cleared = [dict(before[key]) for key in sorted(before.keys() - after.keys())]
    return changes


def document(changes: Changes, scope: str, previous_run: dict | None, current_run: dict,
             previous_complete: bool | None, current_complete: bool) -> dict:
    """The diff as a JSON document: what `--diff-output` and `guardrails diff --format json` write."""
    summary = {name: changes.count(name) for name in CATEGORIES}
    summary["coverage_changes"] = len(changes.gaps_appeared) + len(changes.gaps_cleared)
    return {"kind": DIFF_KIND, "version": 1, "scope": scope, "previous_run": previous_run, "current_run": current_run,
            "summary": summary, **changes.categories,
            "coverage": {"appeared": changes.gaps_appeared, "cleared": changes.gaps_cleared,
                         "complete_before": previous_complete, "complete_now": current_complete}}


def priors_of(findings_document: dict) -> dict[str, Prior]:
    """What a findings document says of each of its findings, as the "before" of a diff."""
    return {f["id"]: Prior(status=f["status"], brief=brief(f)) for f in findings_document.get("findings") or []}


def compare_documents(old: dict, new: dict) -> dict:
    """The diff document of two findings documents of one scope (`guardrails diff`). Ages and
    reopened findings need the history database; here a finding open in both is "still open"."""
    now = _moment(new["scan"]["started_at"])
    changes = compare(priors_of(old), new.get("findings") or [], old["coverage"].get("gaps") or [],
                      new["coverage"].get("gaps") or [], now)
    return document(changes, scope_of(new.get("scan", {}).get("sources") or []), run_of(old), run_of(new),
                    coverage_complete(old), coverage_complete(new))


def coverage_complete(findings_document: dict) -> bool:
    """Whether the scan saw everything (older documents have no `complete`: no gaps)."""
    coverage = findings_document.get("coverage") or {}
    return bool(coverage.get("complete", not coverage.get("gaps")))


def run_of(findings_document: dict) -> dict:
    scan = findings_document.get("scan") or {}
    return {"id": scan.get("id"), "started_at": scan.get("started_at")}


def scope_of(sources: Iterable[Mapping]) -> str:
    """The scope of a scan as its sources name it: provider and scope of each, sorted."""
    return " + ".join(sorted({f"{s.get('provider')}:{s.get('scope')}" for s in sources})) or "unnamed"


def has_regression(diff: dict, threshold: str) -> bool:
    """A new or reopened open finding at or above `threshold`."""
    limit = SEVERITY_RANK[threshold]
    return any(SEVERITY_RANK[item["severity"]] <= limit for name in REGRESSIONS for item in diff[name])


LABELS = {"new": "NEW", "reopened": "REOPENED", "fixed": "FIXED", "expired_suppressions": "EXPIRED",
          "unseen": "UNSEEN", "still_open": "OPEN", "suppressed": "SUPPRESSED"}
SUMMARY_WORDS = {"new": "new", "reopened": "reopened", "fixed": "fixed", "still_open": "still open",
                 "suppressed": "suppressed", "expired_suppressions": "expired suppressions",
                 "unseen": "not seen (coverage)"}


def summary_line(diff: dict) -> str:
    counts = diff["summary"]
    parts = [f"{counts[name]} {SUMMARY_WORDS[name]}" for name in
             ("new", "fixed", "reopened", "still_open", "suppressed", "expired_suppressions", "unseen")]
    coverage = diff["coverage"]
    if coverage["appeared"] or coverage["cleared"]:
        parts.append(f"coverage: {len(coverage['appeared'])} gaps appeared, {len(coverage['cleared'])} cleared")
    else:
        parts.append("coverage: unchanged")
    return ", ".join(parts)


def render_text(diff: dict, limit: int = 50) -> str:
    """The diff as plain text: a heading, the counts, one line per changed finding (still open and
    suppressed ones too, with their age), then the coverage that changed."""
    previous = diff.get("previous_run")
    lines = [f"Changes in {diff['scope']} since "
             + (f"the run of {previous.get('started_at')} ({previous.get('id')})" if previous else
                "nothing: the first run of this scope"),
             summary_line(diff)]
    for name in ("new", "reopened", "expired_suppressions", "fixed", "unseen", "still_open", "suppressed"):
        items = diff[name]
        for item in items[:limit]:
            lines.append(_item_line(LABELS[name], item))
        if len(items) > limit:
            lines.append(f"{LABELS[name]:<10} ... and {len(items) - limit} more")
    for word, gaps in (("GAP+", diff["coverage"]["appeared"]), ("GAP-", diff["coverage"]["cleared"])):
        for gap in gaps[:limit]:
            where = "/".join(str(p) for p in (gap.get("provider"), gap.get("scope"), gap.get("region")) if p)
            lines.append(f"{word:<10} {where}: {gap.get('what')}: {' '.join(str(gap.get('error', '')).split())[:200]}")
    return "\n".join(lines) + "\n"


def _item_line(label: str, item: dict) -> str:
    resource = item["resource"]
    where = f" in {resource['account']}" if resource.get("account") else ""
    age = f" (open {item['age_days']} days)" if label == "OPEN" and "age_days" in item else ""
    unknown = " [unknown]" if item.get("confidence") == "unknown" else ""
    name = " ".join(str(resource.get("name") or resource.get("id")).split())[:120]
    return f"{label:<10} {item['severity']:<8} {item['check_id']:<30} {name} ({resource.get('id')}){where}{age}{unknown}"


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _moment(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
