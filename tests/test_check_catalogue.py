"""Every check is whole: its metadata in its @check decorator, a remediation guide of its id, a row in
docs/checks.md, and cases where it fires and where it stays silent. A check without one of them, or
one of them without a check, fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from check_cases import cases_by_check

from guardrails.registry import all_checks
from guardrails.reports.remediation import GUIDES, CheckGuide
from guardrails.severity import Severity

ROOT = Path(__file__).resolve().parents[1]
CHECKS = all_checks()
IDS = [chk.id for chk in CHECKS]
STRIDE = {"spoofing", "tampering", "repudiation", "information_disclosure", "denial_of_service",
          "elevation_of_privilege"}
OWASP_CICD = {f"CICD-SEC-{n}" for n in range(1, 11)}
# A catalogue row: | `check-id` | severity | meaning |
DOC_ROW = re.compile(r"^\| `(?P<id>[a-z0-9-]+)` \| (?P<severity>[^|\n]+) \| (?P<meaning>.+) \|$", re.M)
DOC_ROWS = {m["id"]: m for m in DOC_ROW.finditer((ROOT / "docs" / "checks.md").read_text(encoding="utf-8"))}
CASES = cases_by_check()
GUIDE_DEFAULTS = CheckGuide("", "")


def test_ids_are_unique_stable_slugs():
    assert len(IDS) == len(set(IDS))
    assert all(re.fullmatch(r"ci(-[a-z0-9]+)+", check_id) for check_id in IDS), IDS


@pytest.mark.parametrize("chk", CHECKS, ids=IDS)
def test_metadata_is_complete(chk):
    assert chk.title and chk.remediation and isinstance(chk.severity, Severity)
    assert chk.stride and set(chk.stride) <= STRIDE, chk.stride
    assert chk.owasp_cicd and set(chk.owasp_cicd) <= OWASP_CICD, chk.owasp_cicd
    # CIS and NIST where a benchmark names the control; in one form, so reports can group by them
    assert all(re.fullmatch(r"(AWS|GCP|Azure) Foundations v\d+\.\d+\.\d+ \d+(\.\d+)*", ref) for ref in chk.cis), chk.cis
    assert chk.nist and all(re.fullmatch(r"SP 800-53 [A-Z]{2}-\d+(\(\d+\))?", ref) for ref in chk.nist), chk.nist


@pytest.mark.parametrize("chk", CHECKS, ids=IDS)
def test_has_a_remediation_guide(chk):
    guide = GUIDES.get(chk.id)
    assert guide is not None, f"add a CheckGuide for {chk.id} to guardrails/reports/remediation.py"
    assert guide.summary and guide.terraform
    # the exact changes of a finding: its resource, the rule or statement, and the commands to fix it
    assert guide.changes is not GUIDE_DEFAULTS.changes, f"give the CheckGuide of {chk.id} its `changes`"


@pytest.mark.parametrize("chk", CHECKS, ids=IDS)
def test_has_a_documentation_row_naming_its_severity(chk):
    row = DOC_ROWS.get(chk.id)
    assert row is not None, f"add the meaning of {chk.id} to docs/checks.md"
    assert chk.severity.value in row["severity"], (chk.severity.value, row["severity"])


@pytest.mark.parametrize("chk", CHECKS, ids=IDS)
def test_has_cases_where_it_fires_and_where_it_stays_silent(chk):
    cases = CASES.get(chk.id)
    assert cases, f"add tests/check_cases/{chk.id}.py"
    assert any(case.fires for case in cases), f"{chk.id} has no case where it fires"
    assert any(not case.fires for case in cases), f"{chk.id} has no case where it stays silent"


def test_guides_rows_and_cases_are_of_registered_checks():
    assert set(GUIDES) <= set(IDS)
    assert set(DOC_ROWS) <= set(IDS)
    assert set(CASES) <= set(IDS)


@pytest.mark.parametrize("chk", CHECKS, ids=IDS)
def test_a_severity_that_varies_is_said_where_the_catalogue_is_listed(chk):
    """`guardrails checks` says when a finding's severity differs from the default: every check
    whose documented severity names another one carries that note, and no other does."""
    others = {s.value for s in Severity} - {chk.severity.value}
    varies = any(re.search(rf"\b{other}\b", DOC_ROWS[chk.id]["severity"]) for other in others)
    assert bool(chk.severity_note) == varies, (chk.id, DOC_ROWS[chk.id]["severity"], chk.severity_note)
