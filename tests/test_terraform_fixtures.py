"""Every scenario under terraform-fixtures/ produces exactly the findings its expected.json lists."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from guardrails.providers.terraform import load_terraform

FIXTURES = Path(__file__).resolve().parents[1] / "terraform-fixtures"
INPUT_NAMES = ("plan.json", "state.json", "terraform.tfstate")


def _scenarios() -> list[Path]:
    return sorted(d for d in FIXTURES.iterdir() if d.is_dir() and (d / "expected.json").is_file())


def _input_of(folder: Path) -> Path:
    found = [folder / n for n in INPUT_NAMES if (folder / n).is_file()]
    assert len(found) == 1, f"{folder.name}: expected exactly one of {INPUT_NAMES}"
    return found[0]


def test_there_are_enough_scenarios():
    assert len(_scenarios()) >= 15


@pytest.mark.parametrize("folder", _scenarios(), ids=lambda p: p.name)
def test_scenario_findings_match_expected(folder):
    from guardrails.pipeline import scan_snapshots

    document = scan_snapshots(load_terraform(_input_of(folder)))
    got = {(f["check_id"], f["resource"]["id"]) for f in document["findings"]}
    expected = {(f["check_id"], f["resource"]) for f in json.loads((folder / "expected.json").read_text())["findings"]}
    assert got == expected, f"missing {sorted(expected - got)}, unexpected {sorted(got - expected)}"


@pytest.mark.parametrize("folder", _scenarios(), ids=lambda p: p.name)
def test_scenario_elements_point_at_their_hcl(folder):
    (snapshot,) = load_terraform(_input_of(folder))
    # An AWS part keeps its elements per region and in its IAM lists, a GCP part per compute list.
    if snapshot["provider"] == "aws":
        lists = [elements for region in snapshot["regions"].values() for elements in region.values()]
        lists += list((snapshot.get("iam") or {}).values())
    else:
        lists = list(snapshot["compute"].values())
    located = [el for elements in lists for el in elements if "_source_location" in el]
    assert located, "no element was located in the scenario's .tf files"
    for el in located:
        loc = el["_source_location"]
        text = (folder / loc["uri"]).read_text().splitlines()
        kind, rest = el["_address"].rsplit(".", 2)[-2], el["_address"].rsplit(".", 1)[-1]
        header = text[loc["start_line"] - 1]
        assert header.startswith(("resource", "data")) and f'"{kind}"' in header, (el["_address"], header)
        assert f'"{rest.split("[")[0]}"' in header
        assert text[loc["end_line"] - 1].rstrip() == "}"


def test_module_resources_are_located_in_the_module_source():
    folder = FIXTURES / "module-count-runners"
    (snapshot,) = load_terraform(folder / "plan.json")
    (region,) = snapshot["regions"].values()
    runner = next(i for i in region["instances"] if i["InstanceId"] == "module.runners[1].aws_instance.this")
    assert runner["_source_location"]["uri"] == (folder / "modules/runner/main.tf").as_posix()
    assert runner["SubnetId"] == "aws_subnet.private"
    assert [g["GroupId"] for g in runner["SecurityGroups"]] == ["aws_security_group.runner"]


def test_cli_scan_terraform_exits_1_on_findings():
    plan = FIXTURES / "public-jenkins" / "plan.json"
    env = dict(os.environ, NO_COLOR="1")
    script = Path(sys.executable).parent / "guardrails"
    command = [str(script)] if script.exists() else [shutil.which("guardrails") or "guardrails"]
    result = subprocess.run(command + ["scan", "terraform", str(plan), "--format", "json"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 1, result.stderr[-2000:]
    document = json.loads(result.stdout)
    assert ("ci-internet-exposed", "aws_instance.jenkins") in {
        (f["check_id"], f["resource"]["id"]) for f in document["findings"]}
