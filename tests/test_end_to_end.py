"""The whole flow as users run it: the demo, the JSON contract, the CLI against a moto server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from aws_builders import ANYWHERE, AwsBuilder, allow, policy_document, tcp
from guardrails import pipeline
from guardrails.providers.aws.commands import demo_document, user_data_wanted as _user_data_wanted
from guardrails.config import Config
from guardrails.providers.aws.collect import collect

SCHEMA = json.loads((Path(__file__).parents[1] / "guardrails" / "schemas" / "findings-v1.schema.json").read_text())
# The installed console script, as users run it (a source checkout on sys.path would shadow the
# installed package, which alone holds guardrails.providers and guardrails.checks).
GUARDRAILS = [str(Path(sys.executable).with_name("guardrails"))]


@pytest.fixture(scope="module")
def demo() -> dict:
    return demo_document()


def by_node(document: dict) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for finding in document["findings"]:
        out.setdefault(finding["resource"]["name"], set()).add(finding["check_id"])
    return out


def test_demo_estate_findings(demo):
    jsonschema.validate(demo, SCHEMA)
    assert by_node(demo) == {
        "jenkins-legacy": {"ci-internet-to-admin-path", "ci-admin-identity", "ci-internet-exposed",
                           "ci-firewall-allows-internet", "ci-imds-v1", "ci-not-behind-load-balancer",
                           "ci-internet-gateway-segment", "ci-production-access"},
        "jenkins": {"ci-internet-exposed"},
        # The docker-machine autoscaler policy allows ec2:TerminateInstances on *, the database included.
        "gitlab-runner-1": {"ci-privilege-escalation", "ci-reaches-production", "ci-secret-in-user-data",
                            "ci-imds-v1", "ci-production-access"},
        "gitlab-runner-2": {"ci-privilege-escalation", "ci-reaches-production", "ci-production-access"},
    }
    inventory = {item["name"]: item for item in demo["inventory"]}
    assert "www" not in inventory and "orders-db" not in inventory
    assert inventory["jenkins-legacy"]["ci_role"] == "server" and "jenkins" in inventory["jenkins-legacy"]["reason"]
    assert inventory["gitlab-runner-1"]["ci_role"] == "runner"
    assert demo["coverage"]["gaps"] == []


def test_demo_attack_path_runs_from_the_internet_to_the_account(demo):
    finding = next(f for f in demo["findings"] if f["check_id"] == "ci-internet-to-admin-path")
    assert finding["severity"] == "critical" and finding["resource"]["name"] == "jenkins-legacy"
    kinds = [step["kind"] for step in finding["evidence"]["path"]]
    assert kinds == ["internet", "gateway", "subnet", "firewall", "compute", "identity", "identity", "account"]
    names = [step["name"] for step in finding["evidence"]["path"]]
    assert names[-3:-1] == ["jenkins-legacy", "deploy-admin"]
    assert all(step.get("via") for step in finding["evidence"]["path"][1:])
    assert set(finding["evidence"]["ports"]) == {"tcp/22", "tcp/8080"}


def test_demo_never_prints_the_runner_token(demo):
    from guardrails.providers.aws.demo_estate import RUNNER_TOKEN

    assert RUNNER_TOKEN not in json.dumps(demo)
    secret = next(f for f in demo["findings"] if f["check_id"] == "ci-secret-in-user-data")
    assert "GitLab runner token" in secret["message"] and "glrt*" in secret["message"]


def test_findings_are_sorted_and_fingerprinted(demo):
    order = ["critical", "high", "medium", "low", "info"]
    keys = [(order.index(f["severity"]), f["check_id"], f["resource"]["id"]) for f in demo["findings"]]
    assert keys == sorted(keys)
    assert len({f["id"] for f in demo["findings"]}) == len(demo["findings"])


def small_estate(b: AwsBuilder) -> None:
    vpc = b.vpc("10.0.0.0/16", name="ci", igw=True)
    public = b.public_subnet(vpc, "10.0.1.0/24")
    sg = b.security_group(vpc, "jenkins", ingress=[tcp(8080, ANYWHERE)])
    role = b.role("jenkins", inline_policies={"deploy": policy_document(allow("iam:PutRolePolicy"))})
    b.instance("jenkins", subnet=public, security_groups=[sg], public_ip=True, imds="required",
               instance_profile=role)


def strip_run(document: dict) -> dict:
    document = json.loads(json.dumps(document))
    for key in ("id", "started_at", "finished_at"):
        document["scan"].pop(key)
    return document


def test_two_scans_of_the_same_estate_are_identical(aws, builder_session, collector_session):
    small_estate(AwsBuilder(builder_session))
    documents = [pipeline.scan_snapshots([collect(collector_session, ["eu-west-1"],
                                                  wants_user_data=_user_data_wanted(Config()))])
                 for _ in range(2)]
    assert documents[0]["scan"]["id"] != documents[1]["scan"]["id"]
    first, second = (json.dumps(strip_run(d), indent=2) for d in documents)
    assert first == second
    assert {f["check_id"] for f in documents[0]["findings"]} >= {"ci-internet-exposed", "ci-privilege-escalation"}


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*GUARDRAILS, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def test_scan_aws_against_a_moto_server(moto_server, tmp_path):
    import boto3

    small_estate(AwsBuilder(boto3.Session(region_name="eu-west-1"), endpoint_url=moto_server))
    env = dict(os.environ, AWS_ENDPOINT_URL=moto_server)
    out, snap = tmp_path / "findings.json", tmp_path / "estate.json.gz"
    result = run_cli("scan", "aws", "--region", "eu-west-1", "--format", "json", "--output", str(out),
                     "--save-snapshot", str(snap), env=env)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "Collecting AWS: identifying the account" in result.stderr  # progress lines without a terminal
    assert "Collecting AWS" not in result.stdout  # never where a report may go
    document = json.loads(out.read_text())
    jsonschema.validate(document, SCHEMA)
    assert document["scan"]["sources"][0]["provider"] == "aws"
    assert {f["check_id"] for f in document["findings"]} >= {"ci-internet-exposed", "ci-not-behind-load-balancer"}
    assert "jenkins" in result.stdout  # the table is shown as well

    again = run_cli("scan", "snapshot", str(snap), "--format", "json", "--fail-on", "never")
    assert again.returncode == 0, again.stderr
    replayed = json.loads(again.stdout)
    assert [f["id"] for f in replayed["findings"]] == [f["id"] for f in document["findings"]]


def test_nothing_collected_exits_3(tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}", AWS_MAX_ATTEMPTS="1",
               AWS_RETRY_MODE="standard")
    result = run_cli("scan", "aws", "--region", "eu-west-1", "--quiet", env=env)
    assert result.returncode == 3, (result.stdout, result.stderr)
    assert result.stderr.strip().startswith("guardrails: error: nothing could be collected")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args, message", [
    (["scan", "aws", "--no-such-option"], "No such option"),
    (["scan", "aws", "--fail-on", "sometimes"], "Invalid value"),
    (["report", "missing.json"], "cannot read"),
    (["scan", "snapshot", "missing.json"], "cannot read snapshot"),
    (["scan", "aws", "--profile", "nobody-has-this-profile"], "not found"),
])
def test_bad_usage_exits_2_with_one_line(args, message, tmp_path):
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_report_renders_a_saved_document(demo, tmp_path):
    saved = tmp_path / "findings.json"
    saved.write_text(json.dumps(demo))
    for fmt in ("markdown", "html", "sarif"):
        result = run_cli("report", str(saved), "--format", fmt, "--output", str(tmp_path / f"report.{fmt}"))
        assert result.returncode == 0, result.stderr
        assert (tmp_path / f"report.{fmt}").stat().st_size > 1000
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": "1"}')
    result = run_cli("report", str(bad))
    assert result.returncode == 2 and "not a findings document" in result.stderr


def test_checks_lists_the_catalogue():
    result = run_cli("checks")
    assert result.returncode == 0
    for check_id in ("ci-internet-exposed", "ci-internet-to-admin-path", "ci-long-lived-runner"):
        assert check_id in result.stdout


def test_demo_html_report_in_a_browser(demo, tmp_path):
    from test_reports_browser import check_html_in_browser

    check_html_in_browser(demo, tmp_path)


def test_inventory_says_why_each_node_is_ci(demo, tmp_path):
    saved = tmp_path / "findings.json"
    saved.write_text(json.dumps(demo))
    result = subprocess.run([*GUARDRAILS, "inventory", str(saved)], capture_output=True, text=True, timeout=120,
                            env=dict(os.environ, COLUMNS="200"))
    assert result.returncode == 0, result.stderr
    assert "jenkins-legacy" in result.stdout and "contains CI product word 'jenkins'" in result.stdout
    assert "tag ci-role=runner" in result.stdout
