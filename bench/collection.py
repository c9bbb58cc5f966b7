"""Collection throughput on Dask: an AWS organization of several accounts in a moto server on
loopback, collected by `guardrails scan aws --organization --scheduler` on a distributed
LocalCluster of 1, 2 and 4 worker processes (one thread each), one run per cluster size.

    python bench/collection.py [--accounts 8] [--regions 2] [--instances 10] [--workers 1,2,4]

Reports account-regions collected per second and each cluster size's ratio to one worker. The
emulator answers every account from one process, so on a small machine it, not the workers, sets
the ceiling: the ratios say how well tasks spread, not what AWS itself would allow (its limits are
per account, which is what --account-concurrency bounds).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ENVIRONMENT = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "eu-west-1",
               "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
               "AWS_EC2_METADATA_DISABLED": "true"}
UBUNTU_AMI = "ami-785db401"  # in moto's small built-in image list


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_moto(images: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               env={**os.environ, "MOTO_AMIS_PATH": images}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
            return process, url
        except OSError:
            time.sleep(0.1)
    raise SystemExit("moto server did not start")


def build(accounts: int, regions: list[str], instances: int) -> None:
    """An organization of `accounts` members, each with a VPC, a subnet, a security group and
    `instances` runners in every region, and a role."""
    import boto3

    management = boto3.Session(region_name=regions[0])
    organizations = management.client("organizations")
    organizations.create_organization(FeatureSet="ALL")
    for n in range(accounts - 1):
        account = organizations.create_account(AccountName=f"a{n}", Email=f"a{n}@example.com")
        member = account["CreateAccountStatus"]["AccountId"]
        credentials = management.client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{member}:role/OrganizationAccountAccessRole", RoleSessionName="bench")["Credentials"]
        session = boto3.Session(aws_access_key_id=credentials["AccessKeyId"],
                                aws_secret_access_key=credentials["SecretAccessKey"],
                                aws_session_token=credentials["SessionToken"])
        session.client("iam", region_name=regions[0]).create_role(
            RoleName="runner", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
        for region in regions:
            ec2 = session.client("ec2", region_name=region)
            vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
            subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
            group = ec2.create_security_group(VpcId=vpc, GroupName="runner", Description="runner")["GroupId"]
            ec2.run_instances(ImageId=UBUNTU_AMI, MinCount=instances, MaxCount=instances, SubnetId=subnet,
                              SecurityGroupIds=[group], TagSpecifications=[{"ResourceType": "instance", "Tags": [
                                  {"Key": "Name", "Value": "gitlab-runner"}]}])


def collect(scheduler: str, regions: list[str], parts: Path) -> float:
    command = [str(Path(sys.executable).with_name("guardrails")), "scan", "aws", "--organization", "--scheduler",
               scheduler, "--snapshot-dir", str(parts), "--concurrency", "64", "--account-concurrency", "4",
               "--format", "json", "--output", str(parts / "findings.json"), "--quiet", "--allow-gaps"]
    for region in regions:
        command += ["--region", region]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode not in (0, 1):
        raise SystemExit(f"collection failed ({result.returncode}): {result.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=8)
    parser.add_argument("--regions", type=int, default=2)
    parser.add_argument("--instances", type=int, default=10, help="instances per account and region")
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args()
    os.environ.update(ENVIRONMENT)
    from distributed import LocalCluster

    import moto.ec2.models.amis

    regions = ["eu-west-1", "us-east-1", "us-west-2", "eu-central-1"][: args.regions]
    with tempfile.TemporaryDirectory(prefix="guardrails-bench-") as work:
        images = Path(work) / "amis.json"
        images.write_text(json.dumps(moto.ec2.models.amis.AMIS, default=str))
        server, url = start_moto(str(images))
        os.environ["AWS_ENDPOINT_URL"] = url
        try:
            build(args.accounts, regions, args.instances)
            units = args.accounts * len(regions)
            print(f"{args.accounts} accounts x {len(regions)} regions = {units} account-regions "
                  f"({args.instances} instances each), one run per cluster size")
            print(f"{'workers':>7} {'seconds':>8} {'account-regions/s':>18} {'vs 1 worker':>12}")
            baseline = None
            for count in (int(w) for w in args.workers.split(",")):
                with LocalCluster(n_workers=count, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
                    parts = Path(work) / f"parts-{count}"
                    parts.mkdir()
                    seconds = collect(cluster.scheduler_address, regions, parts)
                rate = units / seconds
                baseline = baseline or rate
                print(f"{count:>7} {seconds:>8.1f} {rate:>18.2f} {rate / baseline:>11.2f}x")
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
