"""Failing closed: what the scan did not see is reported as unknown, never as "no", and the exit
code counts it. The estate is the demo's, collected once from moto with the real collector; each
test takes away what a denied or throttled call would have left out, recorded as the collector
records a failed call, and scans the rest through the real pipeline."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardrails import pipeline
from guardrails.commands import EXIT_CLEAN, EXIT_FINDINGS, EXIT_INCOMPLETE, FailOn, exit_code
from guardrails.config import Config
from guardrails.reports import render
from test_reports_support import SARIF_SCHEMA

REPO = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((REPO / "guardrails" / "schemas" / "findings-v1.schema.json").read_text())
GUARDRAILS = [str(Path(sys.executable).with_name("guardrails"))]
PRODUCTION_ACCOUNT = "210987654321"
CONFIG = Config(production_accounts=frozenset({PRODUCTION_ACCOUNT}))


@pytest.fixture(scope="module")
def estate() -> dict:
    """The demo estate's snapshot, as `scan aws` collects it."""
    import boto3
    from moto import mock_aws

    from guardrails.providers.aws import commands
    from guardrails.providers.aws.demo_estate import MANAGED_POLICIES, REGION, build_demo_estate
    from guardrails.providers.aws.emulator import managed_policies_limited_to

    with commands._demo_environment(), managed_policies_limited_to(MANAGED_POLICIES), mock_aws():
        build_demo_estate(boto3.Session(region_name=REGION))
        snap = commands.collect_aws(boto3.Session(region_name=REGION), [REGION], CONFIG)
    assert snap["gaps"] == []
    return snap


@pytest.fixture(scope="module")
def full(estate) -> dict:
    return scan(estate)


def scan(snap: dict) -> dict:
    return pipeline.scan_snapshots([copy.deepcopy(snap)], CONFIG)


def without(snap: dict, where: tuple[str, ...], error: str = "AccessDenied: not authorized") -> dict:
    """The snapshot as the collector leaves it when the call for one list fails: the list's key
    absent, and a gap naming it."""
    snap = copy.deepcopy(snap)
    if where[0] == "iam":
        del snap["iam"][where[1]]
        gap = {"provider": "aws", "scope": snap["scope"], "region": None, "what": f"iam.{where[1]}", "error": error}
    else:
        region, name = where[1], where[2]
        del snap["regions"][region][name]
        gap = {"provider": "aws", "scope": snap["scope"], "region": region, "what": name, "error": error}
    snap["gaps"] = [*snap.get("gaps", []), gap]
    return snap


def lists_of(snap: dict) -> list[tuple[str, ...]]:
    found = [("regions", region, name) for region, data in snap["regions"].items() for name in data]
    return sorted(found + [("iam", name) for name in snap["iam"]])


def keyed(document: dict) -> dict[tuple[str, str], dict]:
    return {(f["check_id"], f["resource"]["id"]): f for f in document["findings"]}


def by_name(document: dict, check_id: str, name: str) -> dict:
    return next(f for f in document["findings"] if f["check_id"] == check_id and f["resource"]["name"] == name)


# --- the property: taking one list away never turns a finding into silence -------------------

@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_list_not_collected_never_turns_a_finding_into_silence(estate, full, data):
    where = data.draw(st.sampled_from(lists_of(estate)), label="list not collected")
    document = scan(without(estate, where))
    jsonschema.validate(document, SCHEMA)
    after = keyed(document)
    seen_nodes = {item["id"] for item in document["inventory"]}
    for key, finding in keyed(full).items():
        if key in after:
            continue
        # Silence only where the node itself was not collected: nothing can be said of it, and
        # the gap fails the gate below.
        assert finding["resource"]["id"] not in seen_nodes, (where, key)
    for finding in document["findings"]:
        if finding["confidence"] == "unknown":
            assert finding["unknowns"], finding
    before_exposed = {item["id"]: item["exposed"] for item in full["inventory"]}
    for item in document["inventory"]:
        if before_exposed.get(item["id"]) is True:
            assert item["exposed"] in (True, "unknown"), (where, item)
    assert document["coverage"]["complete"] is False
    assert exit_code(document, FailOn.high) != EXIT_CLEAN
    assert exit_code(document, FailOn.never) == EXIT_INCOMPLETE
    assert exit_code(document, FailOn.never, allow_gaps=True) == EXIT_CLEAN


# --- the examples ------------------------------------------------------------------------------

def test_security_groups_throttled_keep_the_exposure_and_the_attack_path_as_unknown(estate, full):
    region = next(iter(estate["regions"]))
    document = scan(without(estate, ("regions", region, "security_groups"),
                            "Throttling: Rate exceeded (reached max retries: 9)"))
    for check_id in ("ci-internet-exposed", "ci-internet-to-admin-path"):
        before = by_name(full, check_id, "jenkins-legacy")
        after = by_name(document, check_id, "jenkins-legacy")
        assert before["confidence"] == "confirmed"
        assert after["confidence"] == "unknown" and after["severity"] == "critical"
        assert any("not collected" in u for u in after["unknowns"]), after["unknowns"]
    exposed = by_name(document, "ci-internet-exposed", "jenkins-legacy")
    assert "security group" in exposed["message"] and "taken to admit the internet" in exposed["message"]
    # The firewall check cannot read a rule: unknown, naming the list that was not collected.
    firewall = by_name(document, "ci-firewall-allows-internet", "jenkins-legacy")
    assert firewall["confidence"] == "unknown"
    assert any(u.startswith(f"security_groups in {region} not collected (Throttling") for u in firewall["unknowns"])
    inventory = {item["name"]: item for item in document["inventory"]}
    assert inventory["jenkins-legacy"]["exposed"] == "unknown"
    assert all(item["exposed"] is not False or full_item["exposed"] is False
               for item, full_item in zip(document["inventory"], full["inventory"]))
    assert document["summary"]["unknown"] == sum(1 for f in document["findings"] if f["confidence"] == "unknown")
    assert exit_code(document, FailOn.high) == EXIT_FINDINGS


def test_instances_denied_leave_nothing_to_report_and_the_gate_fails(estate):
    region = next(iter(estate["regions"]))
    document = scan(without(estate, ("regions", region, "instances"), "UnauthorizedOperation: DescribeInstances"))
    assert not [f for f in document["findings"] if f["resource"]["id"].startswith("i-")]
    assert exit_code(document, FailOn.never) == EXIT_INCOMPLETE
    assert exit_code(document, FailOn.never, allow_gaps=True) == EXIT_CLEAN
    # Findings at or above --fail-on exit 1 before gaps exit 4.
    if any(f["severity"] in ("critical", "high") for f in document["findings"]):
        assert exit_code(document, FailOn.high) == EXIT_FINDINGS


def test_a_role_not_collected_makes_its_power_unknown_not_absent(estate, full):
    document = scan(without(estate, ("iam", "roles")))
    admin = by_name(document, "ci-admin-identity", "jenkins-legacy")
    assert admin["confidence"] == "unknown" and admin["severity"] == "critical"
    assert any("iam.roles not collected" in u for u in admin["unknowns"])
    assert "iam.roles" in admin["message"]
    path = by_name(document, "ci-internet-to-admin-path", "jenkins-legacy")
    assert path["confidence"] == "unknown" and path["evidence"]["path"][0]["id"] == "internet"


def test_load_balancers_not_collected_make_the_fronted_jenkins_possibly_exposed(estate, full):
    region = next(iter(estate["regions"]))
    assert by_name(full, "ci-internet-exposed", "jenkins")["confidence"] == "confirmed"
    document = scan(without(estate, ("regions", region, "load_balancers")))
    finding = by_name(document, "ci-internet-exposed", "jenkins")
    assert finding["confidence"] == "unknown"
    assert "load balancers of" in finding["message"] and "not collected" in finding["message"]


def test_a_complete_scan_is_confirmed_and_exits_on_findings_only(full):
    assert full["coverage"]["complete"] is True and full["summary"]["unknown"] == 0
    assert {f["confidence"] for f in full["findings"]} == {"confirmed"}
    assert all(f["unknowns"] == [] for f in full["findings"])
    assert exit_code(full, FailOn.high) == EXIT_FINDINGS
    assert exit_code(full, FailOn.never) == EXIT_CLEAN


def test_a_route_table_whose_routes_are_known_only_after_apply_is_not_read_as_private():
    from guardrails.providers.terraform import load_terraform

    (snap,) = load_terraform(REPO / "terraform-fixtures" / "public-jenkins" / "plan.json")
    full = pipeline.scan_snapshots([copy.deepcopy(snap)])
    assert by_name(full, "ci-internet-exposed", "jenkins-controller")["confidence"] == "confirmed"
    (region,) = snap["regions"].values()
    for table in region["route_tables"]:
        if any(route.get("GatewayId", "").startswith("aws_internet_gateway.") for route in table.get("Routes", [])):
            table["Routes"] = [r for r in table["Routes"] if r.get("GatewayId") == "local"]
            table["_unknown"] = ["Routes"]
            snap.setdefault("gaps", []).append({"provider": "terraform", "scope": "plan.json", "region": None,
                                                "what": f"{table['RouteTableId']}.route",
                                                "error": "inline routes known only after apply"})
    document = pipeline.scan_snapshots([snap])
    exposed = by_name(document, "ci-internet-exposed", "jenkins-controller")
    assert exposed["confidence"] == "unknown"
    assert any("known only after apply" in u for u in exposed["unknowns"])
    segment = by_name(document, "ci-internet-gateway-segment", "jenkins-controller")
    assert segment["confidence"] == "unknown" and "known only after apply" in segment["message"]
    assert exit_code(document, FailOn.never) == EXIT_INCOMPLETE


def test_a_document_without_the_new_fields_still_validates_and_reads_as_complete_by_its_gaps(full):
    from guardrails.reports.view import incomplete

    old = copy.deepcopy(full)
    for finding in old["findings"]:
        del finding["confidence"], finding["unknowns"]
    del old["coverage"]["complete"], old["summary"]["unknown"]
    for item in old["inventory"]:
        item["exposed"] = bool(item["exposed"])
    jsonschema.validate(old, SCHEMA)
    assert not incomplete(old)
    old["coverage"]["gaps"] = [{"provider": "aws", "what": "instances", "error": "AccessDenied"}]
    assert incomplete(old) and exit_code(old, FailOn.never) == EXIT_INCOMPLETE
    broken = copy.deepcopy(full)
    broken["inventory"][0]["exposed"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCHEMA)


# --- every output format says what was not seen -------------------------------------------------

@pytest.fixture(scope="module")
def blind(estate) -> dict:
    region = next(iter(estate["regions"]))
    snap = without(estate, ("regions", region, "security_groups"), "Throttling: Rate exceeded")
    snap["notes"] = ["the default VPC's main route table is taken to route 0.0.0.0/0 to its gateway"]
    return scan(snap)


def table_text(document: dict) -> str:
    from rich.console import Console

    from guardrails.reports.table import print_table

    console = Console(record=True, width=2000, color_system=None)
    print_table(document, console)
    return console.export_text()


@pytest.mark.parametrize("fmt", ["json", "sarif", "markdown", "html", "table"])
def test_every_gap_and_note_appears_in_every_format(blind, fmt):
    text = table_text(blind) if fmt == "table" else render(blind, fmt)
    if fmt == "markdown":
        text = text.replace("\\", "")  # Markdown escapes the estate's underscores and brackets
    elif fmt == "html":
        import html

        text = html.unescape(text)
    for gap in blind["coverage"]["gaps"]:
        assert gap["what"] in text and gap["error"] in text, (fmt, gap)
    for note in blind["coverage"]["notes"]:
        assert note in text, fmt
    if fmt in ("markdown", "html", "table"):
        assert "INCOMPLETE" in text and "unknown" in text.lower()


@pytest.mark.parametrize("fmt", ["markdown", "html", "table"])
def test_summaries_lead_with_incomplete(blind, full, fmt):
    text = table_text(blind) if fmt == "table" else render(blind, fmt)
    lead = text[:text.index("Executive summary")] if fmt != "table" else text.splitlines()[0]
    assert "INCOMPLETE" in lead and "security_groups" in lead.replace("\\", "")
    clean = table_text(full) if fmt == "table" else render(full, fmt)
    assert "INCOMPLETE" not in clean


def test_sarif_of_an_incomplete_scan_is_not_successful_and_lists_the_gaps(blind, full):
    log = json.loads(render(blind, "sarif"))
    invocation = log["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    texts = [n["message"]["text"] for n in invocation["toolExecutionNotifications"]]
    assert any("security_groups" in t and "Throttling" in t for t in texts)
    unknown = [r for r in log["runs"][0]["results"] if r["properties"].get("confidence") == "unknown"]
    assert unknown and all(r["properties"]["unknowns"] for r in unknown)
    assert json.loads(render(full, "sarif"))["runs"][0]["invocations"][0]["executionSuccessful"] is True
    schema = json.loads(SARIF_SCHEMA.read_text())
    jsonschema.validators.validator_for(schema)(schema).validate(log)


# --- the command line ---------------------------------------------------------------------------

def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(GUARDRAILS + list(args), capture_output=True, text=True, timeout=300)


def test_scan_snapshot_exits_4_on_gaps_unless_allowed_and_1_on_findings_first(estate, tmp_path):
    region = next(iter(estate["regions"]))
    blind = tmp_path / "blind.json"
    blind.write_text(json.dumps(without(estate, ("regions", region, "instances"))))
    seen = run_cli("scan", "snapshot", str(blind), "--format", "json", "--fail-on", "never")
    assert seen.returncode == EXIT_INCOMPLETE, seen.stderr[-2000:]
    assert json.loads(seen.stdout)["coverage"]["complete"] is False
    allowed = run_cli("scan", "snapshot", str(blind), "--format", "json", "--fail-on", "never", "--allow-gaps")
    assert allowed.returncode == EXIT_CLEAN, allowed.stderr[-2000:]
    throttled = tmp_path / "throttled.json"
    throttled.write_text(json.dumps(without(estate, ("regions", region, "security_groups"))))
    failing = run_cli("scan", "snapshot", str(throttled), "--format", "json", "--allow-gaps")
    assert failing.returncode == EXIT_FINDINGS, failing.stderr[-2000:]
    table = run_cli("scan", "snapshot", str(blind), "--fail-on", "never")
    assert table.returncode == EXIT_INCOMPLETE and table.stdout.lstrip().startswith("INCOMPLETE")


@pytest.mark.parametrize("command", [["scan", "aws"], ["scan", "terraform"], ["scan", "snapshot"]])
def test_every_scan_command_offers_allow_gaps(command):
    shown = run_cli(*command, "--help")
    assert shown.returncode == 0 and "--allow-gaps" in shown.stdout
