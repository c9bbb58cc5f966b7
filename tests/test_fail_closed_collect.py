"""`guardrails scan aws` on a bad day: the real CLI against a moto server behind a fault-injecting
proxy on loopback (tests/fault_proxy.py). Every failed call must become a coverage gap naming the
API and the region while the collection goes on; nothing collected exits 3; time stays bounded."""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import boto3
import jsonschema
import pytest

from aws_builders import ANYWHERE, AwsBuilder, allow, policy_document, tcp
from fault_proxy import FaultProxy, Rule

REGION = "eu-west-1"
SCHEMA = json.loads((Path(__file__).parents[1] / "guardrails" / "schemas" / "findings-v1.schema.json").read_text())
GUARDRAILS = str(Path(sys.executable).with_name("guardrails"))
# Every region key DescribeX'd through EC2 (docs/snapshot-format.md).
EC2_KEYS = {"vpcs", "subnets", "route_tables", "internet_gateways", "egress_only_internet_gateways", "nat_gateways",
            "network_acls", "security_groups", "managed_prefix_lists", "network_interfaces", "instances",
            "vpc_peering_connections", "transit_gateway_attachments", "transit_gateway_route_tables"}


@dataclass
class Scan:
    returncode: int
    stdout: str
    stderr: str
    document: dict | None
    snapshot: dict | None

    def gaps(self) -> dict[tuple[str | None, str], str]:
        """(region, what) -> error, from the findings document's coverage."""
        return {(gap["region"], gap["what"]): gap["error"] for gap in self.document["coverage"]["gaps"]}

    def assert_completed(self) -> None:
        """The scan ran to its end: no crash, a valid findings document, the snapshot saved."""
        assert "Traceback" not in self.stderr and "internal error" not in self.stderr, self.stderr
        assert self.returncode not in (2, 3), (self.returncode, self.stderr)
        assert self.document is not None and self.snapshot is not None, self.stderr
        jsonschema.validate(self.document, SCHEMA)
        for gap in self.document["coverage"]["gaps"]:
            assert gap["provider"] == "aws" and gap["scope"] == "123456789012", gap
            assert "\n" not in gap["error"]


@pytest.fixture
def estate(lean_moto_server) -> str:
    """A public Jenkins with an over-powered role, and a load balancer, built straight into moto."""
    b = AwsBuilder(boto3.Session(region_name=REGION), endpoint_url=lean_moto_server)
    vpc = b.vpc("10.0.0.0/16", name="ci", igw=True)
    public = b.public_subnet(vpc, "10.0.1.0/24")
    other = b.public_subnet(vpc, "10.0.2.0/24")
    sg = b.security_group(vpc, "jenkins", ingress=[tcp(8080, ANYWHERE)])
    role = b.role("jenkins", inline_policies={"deploy": policy_document(allow("iam:PutRolePolicy"))})
    b.instance("jenkins", subnet=public, security_groups=[sg], public_ip=True, instance_profile=role)
    b.load_balancer("web", subnets=[public, other], security_groups=[sg])
    return lean_moto_server


@pytest.fixture
def proxy(estate):
    proxy = FaultProxy(estate).start()
    yield proxy
    proxy.stop()


def run_cli(args: list[str], endpoint: str, **env: str) -> subprocess.CompletedProcess:
    environment = dict(os.environ, AWS_ENDPOINT_URL=endpoint, **env)
    return subprocess.run([GUARDRAILS, *args], capture_output=True, text=True, env=environment, timeout=300)


def scan(proxy: FaultProxy, tmp_path: Path, *args: str, quiet: bool = True) -> Scan:
    """`scan aws` through the proxy, the findings as JSON on stdout and the snapshot saved."""
    saved = tmp_path / "estate.json.gz"
    result = run_cli(["scan", "aws", "--region", REGION, "--format", "json", "--fail-on", "never",
                      "--save-snapshot", str(saved), *(["--quiet"] if quiet else []), *args], proxy.url)
    document = json.loads(result.stdout) if result.stdout.strip() else None
    snapshot = json.loads(gzip.decompress(saved.read_bytes())) if saved.exists() else None
    return Scan(result.returncode, result.stdout, result.stderr, document, snapshot)


def closed_port() -> int:
    with socket.socket() as probe:  # bound, never listening: connections are refused
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_denied_instances_are_a_gap_and_the_rest_is_collected(proxy, tmp_path):
    proxy.rules = [Rule("deny", "ec2", "DescribeInstances")]
    result = scan(proxy, tmp_path, quiet=False)
    result.assert_completed()

    gaps = result.gaps()
    assert gaps[(REGION, "instances")].startswith("ec2:DescribeInstances: UnauthorizedOperation: ")
    assert gaps[(REGION, "images")].startswith("not collected")
    region = result.snapshot["regions"][REGION]
    assert "instances" not in region
    assert {"vpcs", "security_groups", "network_interfaces", "load_balancers"} <= set(region)
    assert result.snapshot["iam"]["roles"]
    assert proxy.seen[("ec2", "DescribeInstances")] == 1  # a refusal is not retried
    # progress goes to stderr while the JSON, parsed above, has stdout to itself
    assert "Collecting AWS: identifying the account" in result.stderr


def test_all_of_ec2_denied_leaves_a_gap_per_resource_type(proxy, tmp_path):
    proxy.rules = [Rule("deny", "ec2")]
    result = scan(proxy, tmp_path)
    result.assert_completed()

    gaps = result.gaps()
    for key in EC2_KEYS:
        assert gaps[(REGION, key)].startswith("ec2:Describe"), key
        assert "UnauthorizedOperation" in gaps[(REGION, key)], key
    region = result.snapshot["regions"][REGION]
    assert not EC2_KEYS & set(region)
    assert {"auto_scaling_groups", "load_balancers", "classic_load_balancers", "codebuild_projects"} <= set(region)
    assert result.snapshot["iam"]["roles"]


def test_throttled_security_groups_are_a_gap_after_bounded_retries(proxy, tmp_path):
    proxy.rules = [Rule("throttle", "ec2", "DescribeSecurityGroups")]
    result = scan(proxy, tmp_path)
    result.assert_completed()

    assert result.gaps()[(REGION, "security_groups")] == (
        "ec2:DescribeSecurityGroups: RequestLimitExceeded: Request limit exceeded.")
    assert proxy.seen[("ec2", "DescribeSecurityGroups")] == 3  # botocore's standard mode: 3 tries in all
    region = result.snapshot["regions"][REGION]
    assert "security_groups" not in region and region["instances"]


HTML_PAGE_FAULTS = {  # (service, operation): the gaps it must leave
    ("ec2", "DescribeSecurityGroups"): [(REGION, "security_groups")],
    ("iam", "GetAccountAuthorizationDetails"): [(None, "iam.roles"), (None, "iam.users"), (None, "iam.policies")],
    ("elasticloadbalancing", "DescribeLoadBalancers"): [(REGION, "load_balancers"), (REGION, "classic_load_balancers")],
    ("autoscaling", "DescribeAutoScalingGroups"): [(REGION, "auto_scaling_groups")],
}


def test_html_error_pages_from_ec2_iam_elb_and_autoscaling_are_gaps(proxy, tmp_path):
    proxy.rules = [Rule("html500", service, operation) for service, operation in HTML_PAGE_FAULTS]
    result = scan(proxy, tmp_path)
    result.assert_completed()

    gaps = result.gaps()
    for (service, operation), keys in HTML_PAGE_FAULTS.items():
        for key in keys:
            assert f":{operation}: ResponseParserError: " in gaps[key], gaps[key]
            assert len(gaps[key]) <= 400  # the page is not copied whole into every report
    assert {"iam:GetAccountAuthorizationDetails", "elbv2:DescribeLoadBalancers", "elb:DescribeLoadBalancers"} <= {
        error.split(": ", 1)[0] for error in gaps.values()}
    assert result.snapshot["regions"][REGION]["vpcs"] and result.snapshot["iam"]["instance_profiles"] is not None


def test_an_error_page_that_parses_as_xml_is_a_gap_naming_the_status(proxy, tmp_path):
    proxy.rules = [Rule("xhtml500", "ec2", "DescribeInstances")]
    result = scan(proxy, tmp_path)
    result.assert_completed()

    assert result.gaps()[(REGION, "instances")] == "ec2:DescribeInstances: HTTP 500: Internal Server Error"
    assert proxy.seen[("ec2", "DescribeInstances")] == 3  # a 500 is retried, within the bound


def test_an_html_error_page_from_sts_exits_3_with_one_line(proxy, tmp_path):
    proxy.rules = [Rule("html500", "sts")]
    result = scan(proxy, tmp_path)
    assert result.returncode == 3, result.stderr
    assert result.stderr.startswith("guardrails: error: nothing could be collected: cannot identify the AWS "
                                    "account: sts:GetCallerIdentity: ResponseParserError")
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.document is None and result.snapshot is None


def test_a_service_that_never_answers_is_a_gap_and_not_asked_again(proxy, tmp_path):
    proxy.rules = [Rule("hang", "ec2")]
    result = scan(proxy, tmp_path, "--call-timeout", "1")
    result.assert_completed()

    gaps = result.gaps()
    assert gaps[(REGION, "vpcs")].startswith("ec2:DescribeVpcs: ReadTimeoutError: ")
    for key in EC2_KEYS - {"vpcs"}:
        assert gaps[(REGION, key)].startswith("not collected: ec2 in eu-west-1 did not answer (ReadTimeoutError"), key
    assert set(proxy.seen) & {("ec2", "DescribeSubnets"), ("ec2", "DescribeInstances")} == set()
    assert proxy.seen[("ec2", "DescribeVpcs")] == 3
    region = result.snapshot["regions"][REGION]
    assert region["load_balancers"] and result.snapshot["iam"]["roles"]


def test_when_the_collection_times_out_what_was_collected_is_scanned(proxy, tmp_path):
    proxy.rules = [Rule("hang", "ec2", "DescribeInstances")]
    result = scan(proxy, tmp_path, "--timeout", "6")
    result.assert_completed()

    gaps = result.gaps()
    timed_out = "not collected: collection timed out after 6 s"
    assert gaps[(REGION, "instances")] == timed_out
    for key in ("auto_scaling_groups", "load_balancers", "codebuild_projects", "transit_gateway_route_tables"):
        assert gaps[(REGION, key)] == timed_out, key
    region = result.snapshot["regions"][REGION]
    assert region["vpcs"] and region["security_groups"] and result.snapshot["iam"]["roles"]
    assert proxy.seen[("ec2", "DescribeInstances")] == 1  # no retry was sent past the deadline


def test_an_endpoint_that_never_answers_at_all_exits_3(proxy, tmp_path):
    proxy.rules = [Rule("hang")]
    result = scan(proxy, tmp_path, "--timeout", "2")
    assert result.returncode == 3, result.stderr
    assert result.stderr.startswith("guardrails: error: nothing could be collected: cannot identify the AWS account")
    assert len(result.stderr.strip().splitlines()) == 1


def test_all_regions_against_an_unreachable_endpoint_exits_3_promptly(tmp_path):
    started = time.monotonic()
    result = run_cli(["scan", "aws", "--all-regions", "--quiet"], f"http://127.0.0.1:{closed_port()}")
    elapsed = time.monotonic() - started
    assert result.returncode == 3, (result.stdout, result.stderr)
    assert result.stderr.startswith("guardrails: error: nothing could be collected: cannot identify the AWS "
                                    "account: sts:GetCallerIdentity: EndpointConnectionError")
    assert len(result.stderr.strip().splitlines()) == 1
    assert elapsed < 60  # a sanity bound, far above the few seconds it takes


def test_no_region_configured_is_a_usage_error(tmp_path):
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("AWS_DEFAULT_REGION", "AWS_REGION")}
    result = subprocess.run([GUARDRAILS, "scan", "aws", "--quiet"], capture_output=True, text=True,
                            env=dict(environment, AWS_ENDPOINT_URL=f"http://127.0.0.1:{closed_port()}"), timeout=300)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().startswith("guardrails: error: no region: pass --region")
    assert len(result.stderr.strip().splitlines()) == 1


def test_progress_lines_are_spaced_out(capsys):
    from guardrails.commands import ProgressLines

    progress = ProgressLines("Collecting AWS", interval=3600)
    for message in ("identifying the account", "eu-west-1: vpcs", "eu-west-1: subnets"):
        progress(message)
    captured = capsys.readouterr()
    assert captured.err == "Collecting AWS: identifying the account\n"  # the first at once, then one an hour
    assert captured.out == ""
