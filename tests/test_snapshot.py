"""Snapshots: saving and loading them, and scanning them with `guardrails scan snapshot`."""

from __future__ import annotations

import gzip
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from guardrails import pipeline, snapshot
from guardrails.errors import UserError

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _load_generator():
    spec = importlib.util.spec_from_file_location("guardrails_bench_generate", BENCH / "generate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


generator = _load_generator()


def guardrails(*args: str) -> subprocess.CompletedProcess:
    """The installed command line, as a user runs it."""
    return subprocess.run([str(Path(sys.executable).with_name("guardrails")), *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def small_estate() -> dict:
    return generator.generate(60, seed=3)


@pytest.mark.parametrize("name", ["estate.json", "estate.json.gz"])
def test_save_then_load_gives_back_the_same_snapshot(tmp_path, small_estate, name):
    path = tmp_path / name
    snapshot.save(small_estate, path)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    assert snapshot.load(path) == small_estate


def test_a_gzip_snapshot_is_recognised_by_its_content_not_its_name(tmp_path, small_estate):
    path = tmp_path / "estate.json"
    path.write_bytes(gzip.compress(json.dumps(small_estate).encode()))
    assert snapshot.load(path) == small_estate


def test_a_snapshot_from_a_newer_format_version_is_refused_with_a_clear_message(tmp_path, small_estate):
    path = tmp_path / "future.json"
    snapshot.save({**small_estate, "version": snapshot.VERSION + 1}, path)
    with pytest.raises(UserError, match=r"version 2 is newer .*upgrade pipeline-guardrails"):
        snapshot.load(path)


def test_scanning_two_accounts_merges_them_into_one_estate(tmp_path):
    first = generator.generate(60, seed=1, account_id="111111111111")
    second = generator.generate(80, seed=2, account_id="222222222222", region="us-east-1")
    snapshot.save(first, tmp_path / "a.json")
    snapshot.save(second, tmp_path / "b.json.gz")
    alone = [pipeline.scan_snapshots([s]) for s in (first, second)]

    result = guardrails("scan", "snapshot", str(tmp_path / "a.json"), str(tmp_path / "b.json.gz"),
                        "--format", "json", "--output", str(tmp_path / "merged.json"), "--fail-on", "never", "--quiet")

    assert result.returncode == 0, result.stderr
    merged = json.loads((tmp_path / "merged.json").read_text())
    assert merged["summary"]["resources"] == sum(d["summary"]["resources"] for d in alone)
    assert merged["summary"]["ci_nodes"] == sum(d["summary"]["ci_nodes"] for d in alone)
    assert {(f["check_id"], f["resource"]["id"]) for f in merged["findings"]} == {
        (f["check_id"], f["resource"]["id"]) for d in alone for f in d["findings"]}
    assert {f["resource"]["account"] for f in merged["findings"]} == {"111111111111", "222222222222"}
    assert [s["regions"] for s in merged["scan"]["sources"]] == [["eu-west-1"], ["us-east-1"]]


def test_scanning_the_same_snapshot_twice_gives_the_same_document(tmp_path, small_estate):
    # Without launch times no message depends on the minute the scan runs in (runner ages).
    estate = json.loads(json.dumps(small_estate))
    for instance in estate["regions"]["eu-west-1"]["instances"]:
        instance.pop("LaunchTime")
    snapshot.save(estate, tmp_path / "estate.json")
    documents = []
    for n in range(2):
        out = tmp_path / f"run{n}.json"
        result = guardrails("scan", "snapshot", str(tmp_path / "estate.json"), "--format", "json", "--output", str(out),
                            "--fail-on", "never", "--quiet")
        assert result.returncode == 0, result.stderr
        documents.append(json.loads(out.read_text()))
    for document in documents:
        for key in ("id", "started_at", "finished_at"):
            document["scan"].pop(key)
    assert documents[0]["findings"]
    assert json.dumps(documents[0]) == json.dumps(documents[1])


@pytest.mark.parametrize("content, expected", [
    (None, "cannot read snapshot"),
    (b'{"format": "pipeline-guardrails-snapshot", "version": 1, "regions": {"eu-west-1": {"vpcs": [',
     "not a snapshot (invalid JSON"),
    (b'{"Reservations": []}', "not a pipeline-guardrails snapshot"),
    (b'[1, 2, 3]', "not a pipeline-guardrails snapshot"),
    (b"\x1f\x8b\x08\x00garbage", "damaged gzip snapshot"),
], ids=["missing", "truncated", "other-json", "json-array", "broken-gzip"])
def test_an_unreadable_snapshot_is_one_line_on_stderr_and_exit_2(tmp_path, content, expected):
    path = tmp_path / "input.json"
    if content is not None:
        path.write_bytes(content)

    result = guardrails("scan", "snapshot", str(path), "--format", "json")

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("guardrails: error: ") and str(path) in lines[0] and expected in lines[0]
    assert result.stdout == ""


def test_a_truncated_gzip_snapshot_is_refused(tmp_path, small_estate):
    path = tmp_path / "estate.json.gz"
    snapshot.save(small_estate, path)
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(UserError, match="damaged gzip snapshot"):
        snapshot.load(path)


SNAPSHOT_HEAD = {"format": "pipeline-guardrails-snapshot", "version": 1, "provider": "aws", "scope": "111122223333"}


@pytest.mark.parametrize(
    ("regions", "expected"),
    [
        ({"eu-west-1": {"vpcs": "vpc-1"}}, "regions.eu-west-1.vpcs must be a list of API reply items"),
        ({"eu-west-1": {"instances": [{"State": {"Name": "running"}}]}}, "instances[0] has no InstanceId"),
        ({"eu-west-1": {"security_groups": [{"GroupId": "sg-1", "IpPermissions": [
            {"IpProtocol": "tcp", "FromPort": "eighty", "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}]}},
         "does not have the shape of AWS API replies"),
    ],
)
def test_a_snapshot_with_replies_of_the_wrong_shape_is_refused(tmp_path, regions, expected):
    path = tmp_path / "odd.json"
    path.write_text(json.dumps({**SNAPSHOT_HEAD, "regions": regions}))
    result = guardrails("scan", "snapshot", str(path))
    assert result.returncode == 2
    assert expected in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
