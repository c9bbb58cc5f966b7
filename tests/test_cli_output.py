"""What the CLI writes: every format from a real scan, and progress only on a terminal."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from test_reports_support import SARIF_SCHEMA

ROOT = Path(__file__).resolve().parents[1]
PLAN = ROOT / "terraform-fixtures" / "public-jenkins" / "plan.json"
# The installed console script, as users run it (a source checkout on sys.path would shadow the
# installed package, which alone holds guardrails.providers and guardrails.checks).
GUARDRAILS = [str(Path(sys.executable).with_name("guardrails"))]


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([*GUARDRAILS, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_scan_terraform_as_sarif_validates_and_points_at_the_hcl():
    result = run("scan", "terraform", str(PLAN.relative_to(ROOT)), "--format", "sarif")
    assert result.returncode == 1, result.stderr
    sarif = json.loads(result.stdout)
    jsonschema.validate(sarif, json.loads(SARIF_SCHEMA.read_text()))
    results = sarif["runs"][0]["results"]
    assert results and all(r["partialFingerprints"] for r in results)
    uris = {loc["physicalLocation"]["artifactLocation"]["uri"] for r in results for loc in r["locations"]}
    assert uris == {"terraform-fixtures/public-jenkins/main.tf"}


@pytest.mark.parametrize("fmt, marker", [("markdown", "# "), ("html", "<!DOCTYPE html>"), ("json", '"schema_version"')])
def test_scan_writes_each_format_to_stdout_without_the_table(fmt, marker):
    result = run("scan", "terraform", str(PLAN), "--format", fmt, "--fail-on", "never")
    assert result.returncode == 0, result.stderr
    assert marker in result.stdout
    assert "open findings:" not in result.stdout  # the table's summary is not mixed into a machine format


def test_output_file_and_table_together(tmp_path):
    out = tmp_path / "report.html"
    result = run("scan", "terraform", str(PLAN), "--format", "html", "--output", str(out))
    assert result.returncode == 1
    assert out.read_text().lstrip().startswith("<!DOCTYPE html>")
    assert "open findings" in result.stdout and "written to" in result.stderr


def _run_on_a_terminal(*args: str) -> tuple[int, str]:
    """Run with stdout and stderr on a pseudo-terminal; return the exit code and what it showed."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen([*GUARDRAILS, *args], stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal,
                               env=dict(os.environ, COLUMNS="160"), cwd=ROOT)
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    return process.wait(timeout=300), b"".join(chunks).decode("utf-8", "replace")


def test_progress_is_shown_on_a_terminal(tmp_path):
    # Without a terminal progress comes as periodic lines: see test_fail_closed_collect.
    code, shown = _run_on_a_terminal("demo", "--output", str(tmp_path / "demo.json"))
    assert code == 0
    assert "Scanning the demo estate" in shown


def test_table_states_what_was_assumed():
    plan = ROOT / "terraform-fixtures" / "runner-behind-nat" / "plan.json"
    result = subprocess.run([*GUARDRAILS, "scan", "terraform", str(plan)], capture_output=True, text=True,
                            timeout=120, env=dict(os.environ, COLUMNS="300"))
    assert "Assumed where the source is silent:" in result.stdout
    assert "main route table of aws_vpc.main" in result.stdout
