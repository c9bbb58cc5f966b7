"""Snapshots: saving and loading them, and scanning them with `guardrails scan snapshot`."""

from __future__ import annotations

import copy
import gzip
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import orjson
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


# The line layout: one JSON document, one element per line (docs/snapshot-format.md, "Layout").

@pytest.fixture
def streaming_only(monkeypatch):
    """Makes the whole-file parse fail, to show that a file was read line by line."""
    def refuse(path, raw):
        raise AssertionError(f"{path} was parsed whole")
    monkeypatch.setattr(snapshot, "_parse_whole", refuse)


def test_a_saved_snapshot_is_one_json_document_with_one_element_per_line(tmp_path, small_estate):
    path = tmp_path / "estate.json"
    snapshot.save(small_estate, path)

    with path.open() as fh:
        document = json.load(fh)
    assert document.pop("layout") == "lines"
    assert document == small_estate
    lines = path.read_bytes().split(b"\n")
    assert lines[0].startswith(b'{"layout":"lines",') and lines[1:4] == [b'"regions":{', b'"eu-west-1":{', b'"vpcs":[']
    element_lines = {line.rstrip(b",") for line in lines}
    for lists in [*small_estate["regions"].values(), small_estate["iam"]]:
        for items in lists.values():
            assert all(orjson.dumps(item) in element_lines for item in items)


@pytest.mark.parametrize("name", ["estate.json", "estate.json.gz"])
def test_a_saved_snapshot_is_read_back_line_by_line(tmp_path, small_estate, streaming_only, name):
    snapshot.save(small_estate, tmp_path / name)
    assert snapshot.load(tmp_path / name) == small_estate


@pytest.mark.parametrize("write", [
    lambda estate: orjson.dumps(estate),
    lambda estate: json.dumps(estate, indent=2).encode(),
    lambda estate: gzip.compress(orjson.dumps(estate)),
    # Starts like the line layout but is not: read whole, not guessed at.
    lambda estate: orjson.dumps({"layout": "lines", **estate}),
    lambda estate: b'{"layout":"lines",\n' + orjson.dumps(estate)[1:],
], ids=["one-line", "pretty", "one-line-gz", "marked-one-line", "marked-header-line"])
def test_a_snapshot_written_otherwise_still_loads(tmp_path, small_estate, write):
    path = tmp_path / "estate.json"
    path.write_bytes(write(small_estate))
    assert snapshot.load(path) == small_estate


def test_a_line_layout_snapshot_edited_by_hand_is_read_whole(tmp_path, small_estate):
    path = tmp_path / "estate.json"
    snapshot.save(small_estate, path)
    content = path.read_bytes()
    # Still valid JSON, but the last VPC now shares its line with the closing bracket.
    edited = content.replace(b"\n],\n\"subnets\"", b"],\n\"subnets\"", 1)
    assert edited != content
    path.write_bytes(edited)
    assert snapshot.load(path) == small_estate


def _cut_in_an_element(content: bytes) -> bytes:
    middle = content.index(b'"instances":[\n') + 20
    return content[:middle]


def _cut_between_lines(content: bytes) -> bytes:
    return content[:content.rindex(b"]\n") + 2]  # the closing lines of iam and of the document gone


@pytest.mark.parametrize("cut", [_cut_in_an_element, _cut_between_lines], ids=["in-an-element", "between-lines"])
@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_a_truncated_line_layout_snapshot_is_one_line_on_stderr_and_exit_2(tmp_path, small_estate, cut, compress):
    path = tmp_path / "estate.json"
    snapshot.save(small_estate, path)
    content = cut(path.read_bytes())
    path.write_bytes(gzip.compress(content) if compress else content)

    result = guardrails("scan", "snapshot", str(path), "--format", "json")

    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"guardrails: error: {path}: not a snapshot (invalid JSON")


AWKWARD = "a\nb },\n ], \"],\" {\"x\":[\n é ✓ 🚀 \u2028 \u0000 \\"


@pytest.mark.parametrize("regions, iam", [
    ({"eu-west-1": {"vpcs": [{"VpcId": "vpc-1", "Tags": [{"Key": AWKWARD, "Value": "],"}, {"Key": "},", "Value": "\n"}]},
                              {"VpcId": AWKWARD, "CidrBlock": "10.0.0.0/16"}]}},
     {"roles": [{"Arn": "arn:aws:iam::111122223333:role/ci", "Description": AWKWARD}]}),
    ({}, {}),
    ({"eu-west-1": {"vpcs": [], "subnets": [{"SubnetId": "subnet-1"}], "instances": []}, "us-east-1": {}},
     {"roles": [], "users": []}),
], ids=["awkward-strings", "empty-regions-and-iam", "empty-lists-and-region"])
def test_awkward_contents_and_empty_lists_are_read_back_line_by_line(tmp_path, streaming_only, regions, iam):
    estate = {**SNAPSHOT_HEAD, "regions": regions, "iam": iam}
    path = tmp_path / "estate.json"
    snapshot.save(estate, path)
    assert snapshot.load(path) == estate
    with path.open(encoding="utf-8") as fh:
        document = json.load(fh)
    assert document.pop("layout") == "lines" and document == estate


def test_a_snapshot_with_neither_regions_nor_iam_round_trips(tmp_path):
    snapshot.save(SNAPSHOT_HEAD, tmp_path / "head.json")
    assert snapshot.load(tmp_path / "head.json") == SNAPSHOT_HEAD


@pytest.mark.parametrize("write", [snapshot.save, lambda estate, path: path.write_bytes(orjson.dumps(estate))],
                         ids=["line-layout", "one-line"])
def test_a_snapshot_can_be_scanned_from_a_pipe(tmp_path, small_estate, write):
    write(small_estate, tmp_path / "estate.json")
    result = subprocess.run([str(Path(sys.executable).with_name("guardrails")), "scan", "snapshot", "/dev/stdin",
                             "--format", "json", "--fail-on", "never", "--quiet"],
                            input=(tmp_path / "estate.json").read_bytes(), capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["summary"]["resources"] > 0


def test_a_damaged_line_layout_snapshot_from_a_pipe_is_one_line_on_stderr_and_exit_2(tmp_path, small_estate):
    snapshot.save(small_estate, tmp_path / "estate.json")
    result = subprocess.run([str(Path(sys.executable).with_name("guardrails")), "scan", "snapshot", "/dev/stdin"],
                            input=(tmp_path / "estate.json").read_bytes()[:-100], capture_output=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.decode().startswith("guardrails: error: /dev/stdin: cannot read snapshot (it breaks its line")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_consumed_snapshot_gives_the_same_estate_and_findings(small_estate):
    kept, taken = copy.deepcopy(small_estate), copy.deepcopy(small_estate)
    graph = pipeline.normalize([kept])
    consumed = pipeline.normalize([taken], consume=True)
    assert sorted(consumed._g.nodes(data=True)) == sorted(graph._g.nodes(data=True))
    assert sorted(consumed._g.edges(keys=True, data=True), key=repr) == sorted(graph._g.edges(keys=True, data=True),
                                                                               key=repr)
    assert kept == small_estate  # without consume the snapshot is left as it was
    assert all(not region["instances"] for region in taken["regions"].values())  # with it, the bulk is gone
    moment = pipeline.collection_time([small_estate])
    given = [copy.deepcopy(small_estate)]
    document = pipeline.scan_snapshots(given, now=moment, consume=True)
    assert given == []
    expected = pipeline.scan_snapshots([copy.deepcopy(small_estate)], now=moment)
    assert document["findings"] == expected["findings"]
    assert len(document["findings"]) > 0
