"""A scan split between processes makes the document one process makes.

Each test scans an estate both ways and compares the documents whole (but for the scan's id and
times). The split is forced on estates far below the size at which the CLI splits (min_instances=0);
everything else is the CLI's own path: the provider's placement, forked shards, the trade of
production instances, the assembly. The estates come from the benchmark generator (networks joined
by peering, codebuild projects in networks, production instances that CI roles can act on across
the whole account), edited where a test needs a case the generator does not make.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import pytest
from bench_modules import generator
from guardrails.providers.aws import partition as aws_partition, replies as aws_replies

from guardrails import pipeline, shards, snapshot
from guardrails.config import Config
from guardrails.errors import UserError
from guardrails.findings import assemble

NOW = dt.datetime(2026, 11, 2, tzinfo=dt.timezone.utc)

needs_fork = pytest.mark.skipif(not shards.forking_platform(),
                                reason="a scan is split only where processes fork (Linux)")


@pytest.fixture(autouse=True)
def no_other_thread():
    """A scan is split only by a process that runs no other thread (shards.can_split). Threads
    that earlier tests of this worker left behind (a local server's request handlers finishing,
    a feeder draining a pipe) are waited for; one that outlives the wait is named, so that a test
    never fails, or passes unsplit, for a reason it does not state."""
    deadline = time.monotonic() + 30
    for thread in threading.enumerate():
        if thread is not threading.current_thread():
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
    others = [thread.name for thread in threading.enumerate() if thread is not threading.current_thread()]
    if others:
        pytest.fail(f"other threads still run in this test process, so no scan can be split: {', '.join(others)}")


def _plain(document: dict) -> dict:
    document = orjson.loads(orjson.dumps(document))  # tuples and lists alike, as the JSON report has them
    document.pop("scan")
    return document


def one_process(snapshots: list[dict], config: Config | None = None) -> dict:
    return _plain(pipeline.scan_snapshots(copy.deepcopy(snapshots), config, now=NOW, workers=1))


def split(snapshots: list[dict], workers: int, config: Config | None = None, *, copied: bool = True,
          consume: bool = False) -> dict:
    snapshots = copy.deepcopy(snapshots) if copied else snapshots
    parts = shards.split_scan(snapshots, config or Config(), NOW, workers, min_instances=0, consume=consume)
    assert parts is not None, "the estate was not split"
    assert len(parts) == workers
    moment = dt.datetime.now(dt.timezone.utc)
    return _plain(assemble(parts, pipeline.sources_of(snapshots), moment, moment))


@pytest.fixture(scope="module")
def estate() -> dict:
    return generator.generate(3000, seed=3)


@needs_fork
@pytest.mark.parametrize("instances,seed,workers", [(3000, 0, 2), (3000, 3, 3), (2500, 5, 2)])
def test_a_split_scan_makes_the_document_one_process_makes(instances, seed, workers):
    snap = generator.generate(instances, seed=seed)
    expected = one_process([snap])
    assert split([snap], workers) == expected
    # The cases where a shard needs what another built are in these estates:
    findings = expected["findings"]
    assert any("other production compute node" in f["message"] for f in findings)  # production traded
    assert any(f["check_id"] == "ci-reaches-production" for f in findings)
    assert any(i["id"].startswith("arn:aws:codebuild") for i in expected["inventory"])  # built by every shard


@needs_fork
def test_two_accounts_in_two_snapshots(estate):
    other = generator.generate(900, seed=4, account_id="222222222222")
    assert split([estate, other], 2) == one_process([estate, other])


@needs_fork
def test_instances_read_again_from_the_snapshot_file(tmp_path, monkeypatch, estate):
    path = tmp_path / "estate.json"
    snapshot.save(estate, path)
    monkeypatch.setitem(aws_replies.DECODED_FIRST, "instances", 100)  # the rest deferred, as in a large file
    loaded = snapshot.load(path, project=True)
    instances = loaded["regions"]["eu-west-1"]["instances"]
    assert sum(type(i) is snapshot.Deferred for i in instances) == len(instances) - 100
    assert split([loaded], 2, copied=False) == one_process([estate])


def test_a_snapshot_changed_under_the_scan_is_told(tmp_path, monkeypatch, estate):
    path = tmp_path / "estate.json"
    snapshot.save(estate, path)
    monkeypatch.setitem(aws_replies.DECODED_FIRST, "instances", 0)
    loaded = snapshot.load(path, project=True)
    with open(path, "r+b") as fh:  # rewritten in place, as an editor or a second save would
        fh.truncate(path.stat().st_size // 2)
    with pytest.raises(UserError, match="changed while it was being scanned"):
        pipeline.normalize([loaded])


def test_a_gzip_snapshot_keeps_its_deferred_elements_in_memory(tmp_path, monkeypatch, estate):
    path = tmp_path / "estate.json.gz"
    snapshot.save(estate, path)
    monkeypatch.setitem(aws_replies.DECODED_FIRST, "instances", 0)
    loaded = snapshot.load(path, project=True)
    path.unlink()  # nothing is read from the file again
    assert _plain(pipeline.scan_snapshots([loaded], now=NOW)) == one_process([estate])


def _one_transit_gateway(snap: dict) -> dict:
    snap = copy.deepcopy(snap)
    region = snap["regions"]["eu-west-1"]
    region["transit_gateway_attachments"] = [
        {"TransitGatewayAttachmentId": f"tgw-attach-{n:04d}", "TransitGatewayId": "tgw-0000000000000001",
         "ResourceType": "vpc", "ResourceId": vpc["VpcId"], "State": "available"}
        for n, vpc in enumerate(region["vpcs"])]
    return snap


def test_networks_joined_by_one_transit_gateway_are_not_split(estate):
    assert aws_partition.plan([estate], 2) is not None
    assert aws_partition.plan([_one_transit_gateway(estate)], 2) is None


def _instances_by_network(snap: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for inst in snap["regions"]["eu-west-1"]["instances"]:
        out.setdefault(inst["VpcId"], []).append(inst)
    return out


def _two_shards_apart(estate: dict) -> tuple[dict, list[dict], list[dict]]:
    """A copy of the estate, and the instances of two networks that a split puts in different shards."""
    snap = copy.deepcopy(estate)
    plan = aws_partition.plan([snap], 2)
    by_network = _instances_by_network(snap)
    first, second = next((a, b) for a in by_network.values() for b in by_network.values()
                         if _shard_of(plan, snap, a[0]["InstanceId"]) != _shard_of(plan, snap, b[0]["InstanceId"]))
    return snap, first, second


def _built_together_and_alike(snap: dict, one: dict, other: dict) -> None:
    """The two instances are built by one shard, and the split scan makes one process' document."""
    plan = aws_partition.plan([snap], 2)
    assert _shard_of(plan, snap, one["InstanceId"]) == _shard_of(plan, snap, other["InstanceId"])
    assert split([snap], 2) == one_process([snap])


def _shard_of(plan, snap: dict, instance_id: str) -> int:
    instances = snap["regions"]["eu-west-1"]["instances"]
    placed = plan.instance_shards[(0, "eu-west-1")]
    return next(placed[n] for n, inst in enumerate(instances) if inst["InstanceId"] == instance_id)


@needs_fork
def test_instances_sharing_an_address_a_load_balancer_targets_are_built_together(estate):
    """Normalization gives a targeted address to the last instance holding it, in file order: the
    shard building the target must build every holder, or it would pick another."""
    snap, first, second = _two_shards_apart(estate)
    target, twin = first[0], second[0]
    address = target["PrivateIpAddress"]
    twin["PrivateIpAddress"] = address
    twin["NetworkInterfaces"][0]["PrivateIpAddress"] = address
    twin["NetworkInterfaces"][0]["PrivateIpAddresses"][0]["PrivateIpAddress"] = address
    region = snap["regions"]["eu-west-1"]
    group = next(tg for tg in region["target_groups"] if tg.get("Targets"))
    group["TargetType"] = "ip"
    group["Targets"] = [{"Target": {"Id": address, "Port": 8080}}]
    _built_together_and_alike(snap, target, twin)


@needs_fork
def test_an_instance_with_interfaces_in_two_networks_joins_them(estate):
    snap, first, second = _two_shards_apart(estate)
    bridge = first[0]
    extra = copy.deepcopy(second[0]["NetworkInterfaces"][0])
    extra["NetworkInterfaceId"] = "eni-0bridge000000000"
    extra["PrivateIpAddress"] = extra["PrivateIpAddresses"][0]["PrivateIpAddress"] = "10.254.0.9"
    bridge["NetworkInterfaces"].append(extra)
    _built_together_and_alike(snap, bridge, second[0])


@needs_fork
def test_an_instance_replied_without_interfaces_is_placed_by_the_interface_list(estate):
    snap, first, second = _two_shards_apart(estate)
    lone = first[0]
    interface = copy.deepcopy(second[0]["NetworkInterfaces"][0])
    interface.update(NetworkInterfaceId="eni-0elsewhere0000000", Attachment={"InstanceId": lone["InstanceId"]})
    interface["PrivateIpAddress"] = interface["PrivateIpAddresses"][0]["PrivateIpAddress"] = "10.254.0.10"
    lone["NetworkInterfaces"] = []
    del lone["VpcId"], lone["SubnetId"]
    snap["regions"]["eu-west-1"]["network_interfaces"] = [
        i for i in snap["regions"]["eu-west-1"]["network_interfaces"]
        if (i.get("Attachment") or {}).get("InstanceId") != lone["InstanceId"]] + [interface]
    _built_together_and_alike(snap, lone, second[0])


@needs_fork
def test_a_shard_s_error_reaches_the_user_as_one_line(tmp_path, monkeypatch, estate):
    snap = copy.deepcopy(estate)
    del snap["regions"]["eu-west-1"]["instances"][-1]["InstanceId"]  # found when its shard decodes it
    path = tmp_path / "estate.json"
    snapshot.save(snap, path)
    monkeypatch.setitem(aws_replies.DECODED_FIRST, "instances", 0)
    loaded = snapshot.load(path, project=True)
    position = len(snap["regions"]["eu-west-1"]["instances"]) - 1  # in the file, not in its shard's share
    with pytest.raises(UserError, match=rf"instances\[{position}\] has no InstanceId"):
        shards.split_scan([loaded], Config(), NOW, 2, min_instances=0)


class _KillingSuppression:
    """Kills the process it is asked in, unless that is the test's own: a shard killed as the
    kernel's out-of-memory killer would."""

    reason, expires = "test", None

    def __init__(self) -> None:
        self.parent = os.getpid()

    def applies(self, check_id: str, resource_id: str, today) -> bool:
        if os.getpid() != self.parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return False


@needs_fork
def test_a_killed_shard_is_told_and_the_others_are_stopped(estate):
    config = dataclasses.replace(Config(), suppressions=(_KillingSuppression(),))
    before = _children()
    with pytest.raises(UserError, match=r"scan shard 1 ended without its result \(killed by signal SIGKILL"):
        shards.split_scan(copy.deepcopy([estate]), config, NOW, 3, min_instances=0)
    assert _children() == before  # every shard was reaped


def _children() -> set[str]:
    return {pid for task in Path("/proc/self/task").iterdir() for pid in (task / "children").read_text().split()}


def test_a_small_estate_is_scanned_in_one_process(estate):
    assert shards.split_scan(copy.deepcopy([estate]), Config(), NOW, 2) is None  # below MIN_INSTANCES
    assert shards.split_scan(copy.deepcopy([estate]), Config(), NOW, 1, min_instances=0) is None


@pytest.fixture(scope="module")
def large_snapshot(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("large") / "estate.json"
    snapshot.save(generator.generate(shards.MIN_INSTANCES + 500, seed=1), path)
    return path


@needs_fork
def test_the_command_splits_a_large_estate_to_the_same_report(large_snapshot, tmp_path):
    reports = {}
    for workers in ("1", "2"):
        out = tmp_path / f"findings-{workers}.json"
        proc = subprocess.run([str(Path(sys.executable).with_name("guardrails")), "scan", "snapshot",
                               str(large_snapshot), "--workers", workers, "-f", "json", "-o", str(out), "-q",
                               "--fail-on", "never"], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        reports[workers] = _plain(orjson.loads(out.read_bytes()))
    assert reports["2"] == reports["1"]
    assert reports["1"]["summary"]["resources"] == generator.resource_count(shards.MIN_INSTANCES + 500)


def test_no_more_shards_than_groups_of_joined_networks(estate):
    # Six networks, peered two by two in the first four: four groups.
    plan = aws_partition.plan([estate], 8)
    assert plan.shards == 4
    assert sorted(set(plan.instance_shards[(0, "eu-west-1")])) == [0, 1, 2, 3]


@needs_fork
def test_an_address_targeted_on_an_interface_from_the_interface_list_joins_its_holders(estate):
    """The instance replied without interfaces holds a targeted address only through the region's
    interface list; the CI server in another shard holds it too."""
    snap, first, second = _two_shards_apart(estate)
    region = snap["regions"]["eu-west-1"]
    server = next(i for i in first if any("jenkins" in t["Value"] for t in i["Tags"]))
    lone = next(i for i in second if not any(w in str(i["Tags"]) for w in ("jenkins", "runner")))
    address = server["PrivateIpAddress"]
    interface = copy.deepcopy(lone["NetworkInterfaces"][0])
    interface["PrivateIpAddresses"].append({"Primary": False, "PrivateIpAddress": address})
    interface["Attachment"]["InstanceId"] = lone["InstanceId"]
    region["network_interfaces"] = [i for i in region["network_interfaces"]
                                    if i["NetworkInterfaceId"] != interface["NetworkInterfaceId"]] + [interface]
    lone["NetworkInterfaces"] = []
    balancer = next(lb for lb in region["load_balancers"]
                    if lb["VpcId"] == lone["VpcId"] and lb["Scheme"] == "internet-facing")
    listener = next(li for li in region["listeners"] if li["LoadBalancerArn"] == balancer["LoadBalancerArn"])
    group = next(tg for tg in region["target_groups"]
                 if tg["TargetGroupArn"] == listener["DefaultActions"][0]["TargetGroupArn"])
    group.update(TargetType="ip", Targets=[{"Target": {"Id": address, "Port": 8080}}])
    firewall = next(sg for sg in region["security_groups"] if sg["GroupId"] == server["SecurityGroups"][0]["GroupId"])
    firewall["IpPermissions"].append({"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080,
                                      "UserIdGroupPairs": [{"GroupId": g} for g in balancer["SecurityGroups"]]})
    _built_together_and_alike(snap, server, lone)


@needs_fork
def test_one_snapshot_given_twice(estate):
    twice = copy.deepcopy(estate)
    assert split([twice, twice], 2, copied=False, consume=True) == one_process([estate, estate])


def test_an_instance_replied_twice_is_built_by_one_shard(estate):
    moved = copy.deepcopy(estate)
    plan = aws_partition.plan([moved], 2)
    by_network = list(_instances_by_network(moved).values())
    instance = by_network[0][0]
    other = next(group[0] for group in by_network
                 if _shard_of(plan, moved, group[0]["InstanceId"]) != _shard_of(plan, moved, instance["InstanceId"]))
    again = copy.deepcopy(moved)  # the same instance, replied in another network by a second snapshot
    twin = next(i for i in again["regions"]["eu-west-1"]["instances"] if i["InstanceId"] == instance["InstanceId"])
    twin.update(VpcId=other["VpcId"], SubnetId=other["SubnetId"], NetworkInterfaces=copy.deepcopy(other["NetworkInterfaces"]))
    plan = aws_partition.plan([moved, again], 2)
    shards_of = {plan.instance_shards[(n, "eu-west-1")][i] for n, snap in enumerate((moved, again))
                 for i, inst in enumerate(snap["regions"]["eu-west-1"]["instances"])
                 if inst["InstanceId"] == instance["InstanceId"]}
    assert len(shards_of) == 1


@needs_fork
def test_a_split_scan_leaves_the_snapshots_it_does_not_consume_as_they_were(estate):
    given = copy.deepcopy(estate)
    parts = shards.split_scan([given], Config(), NOW, 2, min_instances=0)
    assert parts is not None
    assert given == estate


@needs_fork
def test_a_reply_of_the_wrong_shape_is_told_in_one_line_by_a_split_scan(estate):
    snap = copy.deepcopy(estate)
    group = next(tg for tg in snap["regions"]["eu-west-1"]["target_groups"] if tg.get("Targets"))
    group.update(TargetType="ip", Targets=["10.0.0.5"])  # read when instances are placed
    with pytest.raises(UserError, match="does not have the shape of AWS API replies"):
        shards.split_scan([snap], Config(), NOW, 2, min_instances=0)


@needs_fork
def test_an_instance_a_route_names_stays_a_compute_node(estate):
    """A route naming an instance (not its interface) makes a gateway node of it before the
    instance is built; the instance is still classified, checked and counted as compute."""
    snap = copy.deepcopy(estate)
    region = snap["regions"]["eu-west-1"]
    plan = aws_partition.plan([snap], 2)
    server = next(i for i in region["instances"] if any("jenkins" in t["Value"] for t in i["Tags"])
                  and _shard_of(plan, snap, i["InstanceId"]) == 1)  # the first shard counts all it built
    table = next(rt for rt in region["route_tables"] if rt["VpcId"] != server["VpcId"])
    table["Routes"].append({"DestinationCidrBlock": "10.200.0.0/16", "InstanceId": server["InstanceId"],
                            "State": "active"})
    document = one_process([snap])
    assert server["InstanceId"] in {item["id"] for item in document["inventory"]}
    assert document["coverage"]["resources_by_kind"] == one_process([estate])["coverage"]["resources_by_kind"]
    assert split([snap], 2) == document


@needs_fork
def test_an_address_targeted_in_one_network_is_not_an_instance_elsewhere_holding_it(estate):
    """Networks not joined to each other often use the same ranges: a target group's address is an
    instance of its own network, even when an instance listed after it elsewhere holds it too."""
    snap, first, second = _two_shards_apart(estate)
    region = snap["regions"]["eu-west-1"]
    order = {inst["InstanceId"]: n for n, inst in enumerate(region["instances"])}
    target, other = sorted((first[0], second[0]), key=lambda inst: order[inst["InstanceId"]])
    address = target["PrivateIpAddress"]
    other["PrivateIpAddress"] = other["NetworkInterfaces"][0]["PrivateIpAddress"] = address
    other["NetworkInterfaces"][0]["PrivateIpAddresses"][0]["PrivateIpAddress"] = address
    balancer = next(lb for lb in region["load_balancers"] if lb["VpcId"] == target["VpcId"])
    listener = next(li for li in region["listeners"] if li["LoadBalancerArn"] == balancer["LoadBalancerArn"])
    group = next(tg for tg in region["target_groups"]
                 if tg["TargetGroupArn"] == listener["DefaultActions"][0]["TargetGroupArn"])
    assert group["VpcId"] == target["VpcId"]
    group.update(TargetType="ip", Targets=[{"Target": {"Id": address, "Port": 8080}}])
    graph = pipeline.normalize([copy.deepcopy(snap)])
    assert {node.id for node, _ in graph.out(balancer["LoadBalancerArn"], "forwards")} == {target["InstanceId"]}
    assert split([snap], 2) == one_process([snap])


def test_an_address_targeted_in_a_peered_network_is_its_instance(estate):
    snap = copy.deepcopy(estate)
    region = snap["regions"]["eu-west-1"]
    peering = region["vpc_peering_connections"][0]
    here, there = peering["RequesterVpcInfo"]["VpcId"], peering["AccepterVpcInfo"]["VpcId"]
    held = _instances_by_network(snap)[there][0]
    balancer = next(lb for lb in region["load_balancers"] if lb["VpcId"] == here)
    listener = next(li for li in region["listeners"] if li["LoadBalancerArn"] == balancer["LoadBalancerArn"])
    group = next(tg for tg in region["target_groups"]
                 if tg["TargetGroupArn"] == listener["DefaultActions"][0]["TargetGroupArn"])
    group.update(TargetType="ip", Targets=[{"Target": {"Id": held["PrivateIpAddress"], "Port": 8080}}])
    graph = pipeline.normalize([snap])
    assert {node.id for node, _ in graph.out(balancer["LoadBalancerArn"], "forwards")} == {held["InstanceId"]}


@needs_fork
def test_a_take_over_of_an_instance_another_shard_builds_is_found():
    """A runner's role that may run commands on one instance, built by another shard, running as an
    administrator: the shards trade the instances that run as an identity, so the split scan finds
    the chain the one process finds."""
    snap = generator.generate(1500, seed=3)
    plan = aws_partition.plan([snap], 2)
    instances = snap["regions"]["eu-west-1"]["instances"]
    profile_of = {i["InstanceId"]: (i.get("IamInstanceProfile") or {}).get("Arn", "") for i in instances}
    admins = [r for r in snap["iam"]["roles"]
              if any(p["PolicyName"] == "AdministratorAccess" for p in r.get("AttachedManagedPolicies") or ())]
    admin_profiles = {p["Arn"] for r in admins for p in r.get("InstanceProfileList") or ()}
    runner_roles = [r for r in snap["iam"]["roles"] if r["RoleName"].endswith("-ci-runner")]
    role, target = next(
        (role, i) for role in runner_roles for i in instances if profile_of[i["InstanceId"]] in admin_profiles
        and {_shard_of(plan, snap, r["InstanceId"]) for r in instances
             if profile_of[r["InstanceId"]].endswith("/" + role["RoleName"])} == {1 - _shard_of(plan, snap, i["InstanceId"])})
    arn = f"arn:aws:ec2:eu-west-1:{role['Arn'].split(':')[4]}:instance/{target['InstanceId']}"
    role["RolePolicyList"] = [{"PolicyName": "ops", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ssm:SendCommand", "Resource": arn}]}}]

    expected = one_process([snap])
    through = [f for f in expected["findings"] if f["check_id"] == "ci-privilege-escalation"
               and any(s["id"] == target["InstanceId"] for s in f["evidence"]["path"])]
    assert through, "the estate has no chain through the instance"
    assert split([snap], 2) == expected
