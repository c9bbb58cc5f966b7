"""The collection engine's local pool: bounds per group and in all, retries, then failure as an
outcome (the Dask side runs the same driver: tests/test_organization.py)."""

from __future__ import annotations

import threading
import time
from collections import Counter

from guardrails import engine

_lock = threading.Lock()
_running: Counter = Counter()
_most: Counter = Counter()
_tries: Counter = Counter()


def _work(group: str, key: str, failures: int) -> str:
    with _lock:
        _tries[key] += 1
        _running[group] += 1
        _running["*"] += 1
        _most[group] = max(_most[group], _running[group])
        _most["*"] = max(_most["*"], _running["*"])
        tries = _tries[key]
    time.sleep(0.02)
    with _lock:
        _running[group] -= 1
        _running["*"] -= 1
    if tries <= failures:
        raise RuntimeError(f"{key} failed on try {tries}")
    return key


def test_bounds_retries_and_follow_ups():
    tasks = [engine.Task(f"{group}{n}", group, _work, (group, f"{group}{n}", 0)) for group in "abcd" for n in range(4)]
    tasks.append(engine.Task("flaky", "e", _work, ("e", "flaky", 2)))  # succeeds on its third try
    tasks.append(engine.Task("broken", "e", _work, ("e", "broken", 99)))

    def follow_up(outcome: engine.Outcome) -> list[engine.Task]:
        if outcome.task.key == "a0":
            return [engine.Task("a0-next", "a", _work, ("a", "a0-next", 0))]
        return []

    outcomes = engine.run_tasks(tasks, follow_up, bounds=engine.Bounds(concurrency=5, per_group=2, retries=2))
    by_key = {o.task.key: o for o in outcomes}
    assert len(outcomes) == len(tasks) + 1 and by_key["a0-next"].result == "a0-next"
    assert by_key["flaky"].result == "flaky" and by_key["flaky"].error is None and _tries["flaky"] == 3
    assert by_key["broken"].result is None and by_key["broken"].error == "RuntimeError: broken failed on try 3"
    assert _tries["broken"] == 3
    assert max(_most[g] for g in "abcde") == 2 and _most["*"] <= 5
    assert _most["*"] > 2  # several groups did run side by side


# --- snapshot parts in S3, through s3fs, against a moto server on loopback ---------------------


def _scan_with_parts_in(snapshot_dir: str) -> "object":
    from typer.testing import CliRunner

    from guardrails.cli import app

    return CliRunner().invoke(app, ["scan", "aws", "--region", "eu-west-1", "--snapshot-dir", snapshot_dir,
                                    "--format", "json", "--fail-on", "never", "--quiet"])


def test_parts_are_written_to_and_read_from_s3_and_a_missing_bucket_is_one_line(lean_moto_server, monkeypatch):
    import gzip
    import json

    import boto3

    from aws_builders import ANYWHERE, AwsBuilder, tcp

    # One endpoint for the scanned account and the store, as with AWS_ENDPOINT_URL on a worker;
    # s3fs reads it (and the credentials) through botocore's own configuration chain.
    monkeypatch.setenv("AWS_ENDPOINT_URL", lean_moto_server)
    b = AwsBuilder(boto3.Session(region_name="eu-west-1"), endpoint_url=lean_moto_server)
    vpc = b.vpc("10.0.0.0/16", name="ci", igw=True)
    subnet = b.public_subnet(vpc, "10.0.1.0/24")
    group = b.security_group(vpc, "jenkins", ingress=[tcp(8080, ANYWHERE)])
    b.instance("jenkins", subnet=subnet, security_groups=[group], public_ip=True)
    s3 = boto3.client("s3", region_name="eu-west-1")
    s3.create_bucket(Bucket="audit-parts", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})

    result = _scan_with_parts_in("s3://audit-parts/nightly")
    assert result.exit_code == 0, result.output
    findings = json.loads(result.stdout)["findings"]
    assert any(f["check_id"] == "ci-internet-exposed" and f["resource"]["name"] == "jenkins" for f in findings)
    account = boto3.client("sts").get_caller_identity()["Account"]
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="audit-parts", Prefix="nightly/")["Contents"]}
    assert {f"nightly/{account}/global.json.gz", f"nightly/{account}/eu-west-1.json.gz",
            f"nightly/account-{account}.json.gz"} <= keys
    merged = json.loads(gzip.decompress(s3.get_object(Bucket="audit-parts",
                                                      Key=f"nightly/account-{account}.json.gz")["Body"].read()))
    assert merged["scope"] == account and "eu-west-1" in merged["regions"]
    # The engine reads back what it wrote, through the same URL.
    assert engine.read_part(f"s3://audit-parts/nightly/{account}/eu-west-1.json.gz")["regions"]["eu-west-1"]

    # A missing bucket stops the command before any collection, with the one line the CLI prints
    # for a UserError (exit code 2), never a traceback.
    from guardrails.errors import UserError

    missing = _scan_with_parts_in("s3://no-such-bucket/nightly")
    assert isinstance(missing.exception, UserError) and missing.exception.exit_code == 2
    assert str(missing.exception) == ("s3://no-such-bucket/nightly/.guardrails-store-check: cannot write snapshot "
                                      "part (FileNotFoundError: The specified bucket does not exist)")
