"""Shared by the report tests (no tests here): the sample documents and a document of any size."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from guardrails.severity import SEVERITIES

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "findings"
FINDINGS_SCHEMA = REPO_ROOT / "guardrails" / "schemas" / "findings-v1.schema.json"
# The official schema, kept in the repository (fixtures/sarif/SOURCE.md says where from and its licence).
SARIF_SCHEMA = REPO_ROOT / "tests" / "fixtures" / "sarif" / "sarif-schema-2.1.0.json"


def load(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def large_document(count: int) -> dict:
    """The sample's findings repeated over `count` distinct resources, sorted like a producer's."""
    sample = load("sample")
    findings = []
    for index in range(count):
        finding = copy.deepcopy(sample["findings"][index % len(sample["findings"])])
        resource = finding["resource"]
        resource["id"] = f"i-{index:017x}"
        resource["name"] = f"runner-{index:04d}"
        resource.pop("source_location", None)
        finding["id"] = f"gr1-large-{index:06d}"
        findings.append(finding)
    findings.sort(key=lambda f: (SEVERITIES.index(f["severity"]), f["check_id"], f["resource"]["id"]))
    document = copy.deepcopy(sample)
    document["findings"] = findings
    document["summary"]["by_severity"] = {s: sum(f["severity"] == s for f in findings) for s in SEVERITIES}
    document["summary"]["ci_nodes"] = count
    document.pop("inventory")
    return document
