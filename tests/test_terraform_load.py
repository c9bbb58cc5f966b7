"""Reading Terraform input: format detection, bad input, and the real samples in ../shared."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from guardrails.errors import UserError
from guardrails.providers.terraform import TerraformInputError, load_terraform
from guardrails.providers.terraform.hcl import block_end
from guardrails.providers.terraform.load import MAX_MB_ENV, read_document



def _write(tmp_path: Path, name: str, content) -> Path:
    p = tmp_path / name
    p.write_text(content if isinstance(content, str) else json.dumps(content))
    return p


def _region(snapshot: dict) -> dict:
    (region,) = snapshot["regions"].values()
    return region


def _by(items: list[dict], key: str) -> dict:
    return {i[key]: i for i in items}


MINIMAL_PLAN = {
    "format_version": "1.2",
    "terraform_version": "1.9.5",
    "planned_values": {"root_module": {}},
    "resource_changes": [{
        "address": "aws_vpc.main", "mode": "managed", "type": "aws_vpc", "name": "main",
        "change": {"actions": ["create"], "before": None,
                   "after": {"cidr_block": "10.0.0.0/16", "tags": {"Name": "main"}},
                   "after_unknown": {"id": True, "arn": True}},
    }],
    "configuration": {"root_module": {"resources": [{
        "address": "aws_vpc.main", "mode": "managed", "type": "aws_vpc", "name": "main",
        "expressions": {"cidr_block": {"constant_value": "10.0.0.0/16"}}}]}},
}


@pytest.mark.parametrize("version", ["0.1", "0.2", "1.0", "1.1", "1.2"])
def test_plan_format_versions_are_read(tmp_path, version):
    doc = dict(MINIMAL_PLAN, format_version=version)
    (snap,) = load_terraform(_write(tmp_path, "plan.json", doc))
    assert snap["source"] == "terraform" and snap["provider"] == "aws"
    (vpc,) = _region(snap)["vpcs"]
    assert vpc["VpcId"] == "aws_vpc.main" and vpc["CidrBlock"] == "10.0.0.0/16"
    assert vpc["_address"] == "aws_vpc.main" and vpc["_source"].endswith("plan.json")


def test_state_json_and_raw_state_are_detected(tmp_path):
    state = {"format_version": "1.0", "terraform_version": "1.9.5", "values": {"root_module": {"resources": [{
        "address": "aws_vpc.main", "mode": "managed", "type": "aws_vpc", "name": "main",
        "values": {"id": "vpc-1", "cidr_block": "10.1.0.0/16"}}]}}}
    raw = {"version": 4, "terraform_version": "1.9.5", "serial": 1, "lineage": "x", "outputs": {}, "resources": [{
        "mode": "managed", "type": "aws_vpc", "name": "main", "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
        "instances": [{"schema_version": 1, "attributes": {"id": "vpc-2", "cidr_block": "10.2.0.0/16"}}]}]}
    assert read_document(_write(tmp_path, "state.json", state)).kind == "state"
    assert read_document(_write(tmp_path, "terraform.tfstate", raw)).kind == "tfstate"
    (snap,) = load_terraform(tmp_path / "terraform.tfstate")
    assert _region(snap)["vpcs"][0]["CidrBlock"] == "10.2.0.0/16"


def test_deleted_resources_are_not_part_of_the_estate(tmp_path):
    doc = json.loads(json.dumps(MINIMAL_PLAN))
    gone = json.loads(json.dumps(doc["resource_changes"][0]))
    gone.update(address="aws_vpc.old", name="old")
    gone["change"] = {"actions": ["delete"], "before": {"id": "vpc-9"}, "after": None}
    replaced = json.loads(json.dumps(doc["resource_changes"][0]))
    replaced.update(address="aws_vpc.swapped", name="swapped")
    replaced["change"]["actions"] = ["delete", "create"]
    doc["resource_changes"] += [gone, replaced]
    (snap,) = load_terraform(_write(tmp_path, "plan.json", doc))
    assert {v["VpcId"] for v in _region(snap)["vpcs"]} == {"aws_vpc.main", "aws_vpc.swapped"}


@pytest.mark.parametrize("content, message", [
    ('{"format_version": "1.2", "resource_changes": [', "truncated"),
    ("", "truncated or empty"),
    ("[1, 2, 3]", "top-level JSON list"),
    ('"plan"', "top-level JSON str"),
    ('{"hello": "world"}', "not a Terraform plan or state"),
    ('{"format_version": "2.0", "resource_changes": []}', "format_version '2.0' is not supported"),
    ('{"version": 3, "resources": [], "lineage": "x"}', "raw state version 3"),
    ('{"format_version": "1.2", "resource_changes": [}', "invalid JSON"),
])
def test_bad_input_gives_one_line_error(tmp_path, content, message):
    path = _write(tmp_path, "plan.json", content)
    with pytest.raises(TerraformInputError) as info:
        load_terraform(path)
    text = str(info.value)
    assert message in text and "\n" not in text and str(path) in text
    assert isinstance(info.value, UserError)


def test_directory_with_one_candidate_is_read(tmp_path):
    _write(tmp_path, "plan.json", MINIMAL_PLAN)
    _write(tmp_path, "expected.json", {"findings": []})
    (tmp_path / "main.tf").write_text('resource "aws_vpc" "main" {\n  cidr_block = "10.0.0.0/16"\n}\n')
    (snap,) = load_terraform(tmp_path)
    (vpc,) = _region(snap)["vpcs"]
    assert vpc["_source_location"] == {"uri": (tmp_path / "main.tf").as_posix(), "start_line": 1, "end_line": 3}


def test_directory_with_none_or_several_candidates_is_refused(tmp_path):
    with pytest.raises(TerraformInputError, match="no plan or state JSON found"):
        load_terraform(tmp_path)
    _write(tmp_path, "a.json", MINIMAL_PLAN)
    _write(tmp_path, "b.json", MINIMAL_PLAN)
    with pytest.raises(TerraformInputError, match=r"several plan/state files found \(a.json, b.json\)"):
        load_terraform(tmp_path)


def test_missing_path_is_refused(tmp_path):
    with pytest.raises(TerraformInputError, match="no such file"):
        load_terraform(tmp_path / "nope.json")


def test_big_file_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.delenv(MAX_MB_ENV, raising=False)
    big = tmp_path / "plan.json"
    with big.open("wb") as f:
        f.write(b"{")  # not valid JSON: reading it would fail differently
    os.truncate(big, 200 * 1024 * 1024)  # sparse: no 200 MB of real writes
    with pytest.raises(TerraformInputError) as info:
        load_terraform(big)
    assert "above the 150 MB limit" in str(info.value) and MAX_MB_ENV in str(info.value)
    monkeypatch.setenv(MAX_MB_ENV, "0.0001")
    small = _write(tmp_path, "small.json", MINIMAL_PLAN)
    with pytest.raises(TerraformInputError, match="above the 0 MB limit"):
        load_terraform(small)
    monkeypatch.setenv(MAX_MB_ENV, "lots")
    with pytest.raises(TerraformInputError, match="not a number"):
        load_terraform(small)


def test_block_end_skips_strings_heredocs_and_comments():
    text = (
        'resource "aws_instance" "x" {\n'
        '  user_data = <<-EOF\n    echo "}"\n    }\n  EOF\n'
        '  tags = { Name = "a}b${var.x}" } # }\n'
        '  /* } */ // }\n'
        '}\n'
        'resource "aws_vpc" "y" {}\n'
    )
    end = block_end(text, text.index("{"))
    assert text.count("\n", 0, end) + 1 == 8


# ---- the real samples, read in place -------------------------------------------------------

def _samples(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".json", ".tfstate"))



def test_every_sample_loads(samples_dir):
    files = _samples(samples_dir)
    assert len(files) >= 10
    for path in files:
        parts = load_terraform(path)
        # One part per cloud the file holds resources of: sample 10's state also holds an azurerm
        # resource group, the Azure samples give only an Azure part, sample 09 only a GCP part.
        assert parts and {part["provider"] for part in parts} <= {"aws", "azure", "gcp"}
        for snap in parts:
            assert snap["source"] == "terraform"
            if snap["provider"] == "gcp":
                assert all(el["_address"] for elements in snap["compute"].values() for el in elements if "_address" in el)
                continue
            assert snap["scope"] == str(path)
            scopes = snap["regions"] if snap["provider"] == "aws" else snap["subscriptions"]
            # A subscription's own record stands for the plan, as the AWS part's account does.
            for scope in scopes.values():
                for kind, elements in scope.items():
                    for el in elements if kind != "subscription" else ():
                        assert el["_source"] == str(path) and el["_address"]


def test_sample_01_instances_link_to_subnet_sg_and_profile(samples_dir):
    (snap,) = load_terraform(samples_dir / "01_checkov_aws_vpc_sg_ec2_iam_tf0.12" / "tfplan.json")
    region = _region(snap)
    instances = _by(region["instances"], "InstanceId")
    for address in ("aws_instance.web_host", "aws_instance.db_app"):
        inst = instances[address]
        assert inst["SubnetId"] == "aws_subnet.web_subnet"
        assert inst["VpcId"] == "aws_vpc.web_vpc"
        assert [g["GroupId"] for g in inst["SecurityGroups"]] == ["aws_security_group.web-node"]
    # The profile is given by its (known) name and found by value.
    assert instances["aws_instance.db_app"]["IamInstanceProfile"] == {"Arn": "aws_iam_instance_profile.ec2profile"}
    # The clear-text user data of web_host holds an access key; db_app's interpolates unknown values.
    import base64
    assert "AKIA" in base64.b64decode(instances["aws_instance.web_host"]["UserData"]).decode()
    assert "UserData" in instances["aws_instance.db_app"]["_unknown"]
    tables = _by(region["route_tables"], "RouteTableId")
    rtb = tables["aws_route_table.web_rtb"]
    assert {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "aws_internet_gateway.web_igw"}.items() <= \
        next(r for r in rtb["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0").items()
    assert {a["SubnetId"] for a in rtb["Associations"]} == {"aws_subnet.web_subnet", "aws_subnet.web_subnet2"}
    profiles = _by(snap["iam"]["instance_profiles"], "Arn")
    assert profiles["aws_iam_instance_profile.ec2profile"]["Roles"][0]["Arn"] == "aws_iam_role.ec2role"


def test_sample_04_root_rules_reach_module_groups_through_outputs(samples_dir):
    (snap,) = load_terraform(samples_dir / "04_tfcompliance_prior_state_sg_rules_iam_alb_tf0.12" / "plan.out.json")
    groups = _by(_region(snap)["security_groups"], "GroupId")
    asg_sg = groups["module.myapp-asg.aws_security_group.sg_asg"]
    pairs = [p for p in asg_sg["IpPermissions"] if p["UserIdGroupPairs"]]
    assert pairs and pairs[0]["FromPort"] == 4000
    assert pairs[0]["UserIdGroupPairs"] == [{"GroupId": "module.alb.aws_security_group.alb"}]
    alb_sg = groups["module.alb.aws_security_group.alb"]
    assert any(p.get("FromPort") == 443 and {"CidrIp": "10.0.0.0/8"} in p["IpRanges"] for p in alb_sg["IpPermissions"])
    assert any(r["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}] for r in alb_sg["IpPermissionsEgress"])
    # The autoscaling group stands for its instances, which the ALB's target group holds.
    region = _region(snap)
    (tg,) = region["target_groups"]
    assert tg["Targets"][0]["Target"]["Id"] == "module.myapp-asg.aws_autoscaling_group.asg"
    (inst,) = [i for i in region["instances"] if i.get("_launched_by")]
    assert inst["IamInstanceProfile"]["Arn"] == "module.myapp-asg.module.iam.aws_iam_instance_profile.profile"


def test_sample_10_raw_state_links_by_id(samples_dir):
    parts = load_terraform(samples_dir / "10_driftctl_raw_state_aws_lb_sg_subnet_igw_tf1.0" / "terraform.tfstate")
    (snap,) = [part for part in parts if part["provider"] == "aws"]
    region = _region(snap)
    (lb,) = region["load_balancers"]
    assert lb["SecurityGroups"] == ["aws_security_group.lb_sg"]
    assert {"SubnetId": "aws_subnet.main-1"} in lb["AvailabilityZones"]
    (listener,) = region["listeners"]
    assert listener["LoadBalancerArn"] == "aws_lb.test"
    assert listener["DefaultActions"][0]["TargetGroupArn"] == "aws_lb_target_group.test"
    # The VPC itself is not in this state: its literal id stays, as an object outside the document.
    assert region["subnets"][0]["VpcId"].startswith("vpc-")


def test_sample_02_for_each_module_groups_and_data_sources(samples_dir):
    (snap,) = load_terraform(samples_dir / "02_checkov_module_for_each_sg_tf1.9" / "tf_plan.json")
    groups = _by(_region(snap)["security_groups"], "GroupId")
    bad = groups['module.sg["bad_example"].aws_security_group.bad']
    assert bad["VpcId"] == "data.aws_vpc.sandbox"
    assert bad["IpPermissions"][0]["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}]


def test_sample_09_google_firewall_and_instance_translate_into_a_gcp_graph(samples_dir):
    from guardrails.normalize import normalize

    folder = samples_dir / "09_tfvalidator_gcp_firewall_instance"
    (snap,) = load_terraform(folder / "tf1_0plan.allcoverage.json")
    assert snap["provider"] == "gcp" and snap["scope"] == "foobar"
    graph = normalize([snap])
    instance = graph.node("google_compute_instance.my-test-instance")
    (iface,) = instance.get("interfaces")
    assert iface["network_tags"] == ["bar", "foo"] and iface["groups"] == ["projects/foobar/global/networks/default/firewall"]
    # The access config's address is assigned at apply: a public address, unknown until then.
    assert instance.get("unknown") == {"public_ipv4": "after_apply"}
    assert "echo hi > /test.txt" in instance.get("launch_data")
    assert instance.get("image_name") == "debian-8-jessie-v20170523"
    # The project, folder and organization bindings of the plan are its IAM policies.
    assert {p["resource"] for p in snap["iam_policies"]} == {"projects/foobar", "folders/my-folder",
                                                              "organizations/123456789"}
    # The firewall of the other plan: a rule's sources, targets and priority as the API holds them.
    (full,) = load_terraform(folder / "full_compute_firewall.tfplan.json")
    rules = {r["name"]: r for r in full["compute"]["firewalls"]}
    assert rules["test-firewall1"]["priority"] == 42 and rules["test-firewall1"]["disabled"] is True
    layer = normalize([full]).node("google_compute_network.default/firewall").get("rules")
    assert not any("test-firewall1" in r.ref for r in layer), "a disabled rule does nothing"
    assert any(r.action == "deny" and "test-firewall2" in r.ref and r.targets for r in layer)
