"""A scan decodes a snapshot's instances and network interfaces through the fields it reads
(providers/aws/replies.py). These tests hold that projection to what the whole scan really reads."""

from __future__ import annotations

import copy
import datetime as dt
import importlib.util
import sys
import typing
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
from moto import mock_aws

from guardrails import pipeline, snapshot
from guardrails.errors import UserError
from guardrails.providers.aws.demo_estate import MANAGED_POLICIES, build_demo_estate
from guardrails.providers.aws.emulator import managed_policies_limited_to
from guardrails.providers.aws import collect as aws_collect, replies as aws_replies
from guardrails.providers.terraform import load_terraform

ROOT = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 11, 2, tzinfo=dt.timezone.utc)


def _bench_generator():
    spec = importlib.util.spec_from_file_location("guardrails_bench_generate", ROOT / "bench" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _collected_demo_estate() -> dict:
    with managed_policies_limited_to(MANAGED_POLICIES), mock_aws():
        session = boto3.Session(region_name="eu-west-1")
        build_demo_estate(session)
        return aws_collect.collect(session, ["eu-west-1"], wants_user_data=lambda instance, context: True)


def _terraform_estates() -> list[dict]:
    out = []
    for folder in sorted((ROOT / "terraform-fixtures").iterdir()):
        for name in ("plan.json", "state.json"):
            if (folder / name).exists():
                out.extend(load_terraform(folder / name))
    return out


@pytest.fixture(scope="module")
def estates() -> dict[str, dict]:
    generator = _bench_generator()
    found = {f"bench seed {seed}": generator.generate(80, seed=seed) for seed in (1, 2, 3)}
    found["demo estate collected from moto"] = _collected_demo_estate()
    for n, estate in enumerate(_terraform_estates()):
        found[f"terraform {n}"] = estate
    return found


def _without_instance_interfaces(estate: dict) -> dict:
    """The estate as if DescribeInstances had replied without each instance's interfaces, so that
    normalization falls back to the network_interfaces list."""
    estate = copy.deepcopy(estate)
    for region in estate.get("regions", {}).values():
        for instance in region.get("instances") or []:
            instance.pop("NetworkInterfaces", None)
    return estate


def _document(snap: dict) -> dict:
    document = pipeline.scan_snapshots([snap], now=NOW, started_at=NOW, consume=True)
    del document["scan"]["id"], document["scan"]["finished_at"]  # new in every run
    return document


def test_a_projected_snapshot_scans_exactly_as_the_whole_one(tmp_path, estates):
    compared = 0
    for name, estate in estates.items():
        for variant in (estate, _without_instance_interfaces(estate)):
            path = tmp_path / "estate.json"
            snapshot.save(variant, path)
            whole, projected = snapshot.load(path), snapshot.load(path, project=True)
            assert orjson.dumps(_document(projected)) == orjson.dumps(_document(whole)), name
            compared += 1
    assert compared >= 10


def test_projection_keeps_only_the_declared_fields(tmp_path, estates):
    estate = estates["demo estate collected from moto"]
    path = tmp_path / "estate.json"
    snapshot.save(estate, path)
    region = snapshot.load(path, project=True)["regions"]["eu-west-1"]
    whole = snapshot.load(path)["regions"]["eu-west-1"]
    assert len(region["instances"]) == len(whole["instances"]) > 0
    for kept, full in zip(region["instances"], whole["instances"]):
        assert set(kept) < set(full)  # the reply has fields the scan never reads
        assert set(kept) <= set(typing.get_type_hints(aws_replies.Instance))
        assert kept["InstanceId"] == full["InstanceId"] and kept["Tags"] == full["Tags"]


def test_an_element_of_another_shape_is_read_whole(tmp_path):
    odd = {"InstanceId": "i-1", "State": ["running"], "Extra": 1}  # a list where the API has an object
    estate = {"format": snapshot.FORMAT, "version": 1, "provider": "aws", "regions": {"r": {"instances": [odd]}}}
    path = tmp_path / "estate.json"
    snapshot.save(estate, path)
    assert snapshot.load(path, project=True)["regions"]["r"]["instances"] == [odd]


# -- what a scan reads ---------------------------------------------------------------------------


class _Recorder(dict):
    """A reply element that notes every field read of it, as `<list>.<field>[].<field>` paths."""

    def __init__(self, data: dict, path: str, seen: set[str]):
        super().__init__({key: _record(value, f"{path}.{key}", seen) for key, value in data.items()})
        self._path, self._seen = path, seen

    def _read(self, key: object) -> None:
        self._seen.add(f"{self._path}.{key}")

    def __getitem__(self, key):
        self._read(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self._read(key)
        return super().get(key, default)

    def __contains__(self, key):
        self._read(key)
        return super().__contains__(key)

    def _all(self) -> None:
        self._seen.add(f"{self._path}.*")

    def __iter__(self):
        self._all()
        return super().__iter__()

    def keys(self):
        self._all()
        return super().keys()

    def items(self):
        self._all()
        return super().items()

    def values(self):
        self._all()
        return super().values()


def _record(value: Any, path: str, seen: set[str]) -> Any:
    if isinstance(value, dict):
        return _Recorder(value, path, seen)
    if isinstance(value, list):
        return [_record(item, f"{path}[]", seen) for item in value]
    return value


def _declared(shape: Any, steps: list[str]) -> bool:
    """Whether a path of field reads stays within the projected shape (or within a field kept whole)."""
    if shape is Any:
        return True
    origin = typing.get_origin(shape)
    if origin is typing.Union:
        return any(_declared(arm, steps) for arm in typing.get_args(shape) if arm is not type(None))
    if not steps:
        return True
    step, rest = steps[0], steps[1:]
    if origin is list:
        return step == "[]" and _declared(typing.get_args(shape)[0], rest)
    if typing.is_typeddict(shape):
        fields = typing.get_type_hints(shape)
        return step in fields and _declared(fields[step], rest)
    return False


def _steps(path: str) -> list[str]:
    return [step for part in path.split(".") for step in (part.split("[]")[0], *["[]"] * part.count("[]")) if step]


def test_every_field_a_scan_reads_of_a_projected_list_is_declared(estates):
    seen: set[str] = set()
    for estate in estates.values():
        for variant in (copy.deepcopy(estate), _without_instance_interfaces(estate)):
            for region in variant.get("regions", {}).values():
                for key in aws_replies.PROJECTED:
                    if key in region:
                        region[key] = [_record(item, key, seen) for item in region[key]]
            pipeline.scan_snapshots([variant], now=NOW, consume=True)
    # The recording saw the reads that matter, through both ways to an instance's interfaces.
    assert {"instances.InstanceId", "instances.NetworkInterfaces[].Groups[].GroupId", "instances.Tags",
            "network_interfaces.Attachment.InstanceId", "network_interfaces.Groups[].GroupId"} <= seen
    undeclared = sorted(path for path in seen
                        if not _declared(aws_replies.PROJECTED[path.split(".")[0]], _steps(path.split(".", 1)[1])))
    assert undeclared == []


def test_a_deferred_list_is_still_checked_as_json_while_reading(tmp_path, estates):
    path = tmp_path / "estate.json"
    snapshot.save(estates["bench seed 1"], path)
    lines = path.read_bytes().split(b"\n")
    at = next(n for n, line in enumerate(lines) if line == b'"network_interfaces":[') + 1
    lines[at] = lines[at].replace(b'"NetworkInterfaceId":', b'"NetworkInterfaceId"', 1)
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(UserError, match="invalid JSON"):
        snapshot.load(path, project=True)


def test_a_deferred_element_is_decoded_through_its_projection(tmp_path, estates):
    path = tmp_path / "estate.json"
    snapshot.save(estates["demo estate collected from moto"], path)
    whole = snapshot.load(path)["regions"]["eu-west-1"]["network_interfaces"]
    deferred = snapshot.load(path, project=True)["regions"]["eu-west-1"]["network_interfaces"]
    assert len(deferred) == len(whole) > 0
    assert all(isinstance(item, snapshot.Deferred) for item in deferred)
    for item, full in zip(deferred, whole):
        kept = snapshot.decoded(item)
        assert set(kept) < set(full) and kept["NetworkInterfaceId"] == full["NetworkInterfaceId"]
