"""Values a plan knows only after apply: filled from the configuration where it states them, and
otherwise unknown, which a verdict assumes and says, never reads as "no"."""

from __future__ import annotations

import json
from pathlib import Path

from guardrails.pipeline import scan_snapshots
from guardrails.providers.terraform import load_terraform


def _ref(*targets: str) -> dict:
    """A reference expression as Terraform >= 1.0.1 writes it: each step, longest first."""
    out = []
    for t in targets:
        out += [f"{t}.id", t] if not t.startswith(("var.", "local.")) else [t]
    return {"references": out}


def _const(value) -> dict:
    return {"constant_value": value}


class Plan:
    """A `terraform show -json` plan document, written resource by resource."""

    def __init__(self, version: str = "1.9.5"):
        self.doc = {
            "format_version": "1.2" if version >= "1.5" else "0.1", "terraform_version": version,
            "planned_values": {"root_module": {}}, "resource_changes": [],
            "configuration": {"provider_config": {"aws": {"name": "aws", "expressions": {"region": _const("eu-west-1")}}},
                              "root_module": {"resources": []}},
        }

    def add(self, type_: str, name: str, after: dict, unknown: dict | None = None, expressions: dict | None = None,
            module: str = "") -> "Plan":
        address = f"{module + '.' if module else ''}{type_}.{name}"
        change = {"address": address, "mode": "managed", "type": type_, "name": name,
                  "change": {"actions": ["create"], "before": None, "after": after,
                             "after_unknown": dict({"id": True, "arn": True}, **(unknown or {}))}}
        if module:
            change["module_address"] = module
        self.doc["resource_changes"].append(change)
        config = self.doc["configuration"]["root_module"]
        if module:
            call = config.setdefault("module_calls", {}).setdefault(module.split(".", 1)[1], {
                "source": "./modules/x", "expressions": {}, "module": {"resources": []}})
            config = call["module"]
        config["resources"].append({"address": f"{type_}.{name}", "mode": "managed", "type": type_, "name": name,
                                    "expressions": expressions or {}})
        return self

    def module_input(self, module: str, name: str, expression: dict) -> "Plan":
        self.doc["configuration"]["root_module"]["module_calls"][module]["expressions"][name] = expression
        return self

    def load(self, tmp_path: Path) -> dict:
        path = tmp_path / "plan.json"
        path.write_text(json.dumps(self.doc))
        (snapshot,) = load_terraform(path)
        return snapshot


def _network(plan: Plan, igw: bool = True, routes: dict | None = None, route_unknown: bool = True) -> Plan:
    """A VPC with one subnet whose own route table holds `routes` (the configuration of its
    inline `route`), its `route` set wholly unknown in the plan."""
    plan.add("aws_vpc", "main", {"cidr_block": "10.9.0.0/16"}, expressions={"cidr_block": _const("10.9.0.0/16")})
    plan.add("aws_subnet", "public", {"cidr_block": "10.9.1.0/24", "map_public_ip_on_launch": True},
             {"vpc_id": True}, {"vpc_id": _ref("aws_vpc.main"), "cidr_block": _const("10.9.1.0/24"),
                                "map_public_ip_on_launch": _const(True)})
    if igw:
        plan.add("aws_internet_gateway", "main", {}, {"vpc_id": True}, {"vpc_id": _ref("aws_vpc.main")})
    expressions = {"vpc_id": _ref("aws_vpc.main")}
    if routes is not None:
        expressions["route"] = routes
    plan.add("aws_route_table", "public", {}, {"vpc_id": True, "route": route_unknown}, expressions)
    plan.add("aws_route_table_association", "public", {}, {"subnet_id": True, "route_table_id": True},
             {"subnet_id": _ref("aws_subnet.public"), "route_table_id": _ref("aws_route_table.public")})
    return plan


def _jenkins(plan: Plan, ingress: dict | None = None, ingress_after=None) -> Plan:
    """A Jenkins controller with a public IP in the subnet of `_network`, behind one security group."""
    sg_after = {"name": "jenkins", "egress": []}
    sg_unknown: dict = {"vpc_id": True}
    if ingress_after is None:
        sg_unknown["ingress"] = True
    else:
        sg_after["ingress"] = ingress_after
    expressions = {"vpc_id": _ref("aws_vpc.main"), "name": _const("jenkins")}
    if ingress is not None:
        expressions["ingress"] = ingress
    plan.add("aws_security_group", "jenkins", sg_after, sg_unknown, expressions)
    plan.add("aws_instance", "jenkins",
             {"ami": "ami-0d64bb532e0502c46", "instance_type": "t3.large", "associate_public_ip_address": True,
              "tags": {"Name": "jenkins-controller"}, "metadata_options": [{"http_tokens": "required"}]},
             {"subnet_id": True, "vpc_security_group_ids": True, "public_ip": True},
             {"subnet_id": _ref("aws_subnet.public"), "vpc_security_group_ids": _ref("aws_security_group.jenkins"),
              "associate_public_ip_address": _const(True)})
    return plan


OPEN_8080 = {"from_port": 8080, "to_port": 8080, "protocol": "tcp", "cidr_blocks": ["0.0.0.0/0"],
             "ipv6_cidr_blocks": [], "prefix_list_ids": [], "security_groups": [], "self": False, "description": ""}
IGW_ROUTE = _ref("aws_internet_gateway.main")


def _region(snapshot: dict) -> dict:
    (region,) = snapshot["regions"].values()
    return region


def _element(snapshot: dict, key: str, address: str) -> dict:
    return next(el for el in _region(snapshot)[key] if el["_address"] == address)


def _findings(snapshot: dict, resource: str = "aws_instance.jenkins") -> dict[str, dict]:
    document = scan_snapshots([snapshot])
    return {f["check_id"]: f for f in document["findings"] if f["resource"]["id"] == resource}


def _public_route(table: dict) -> dict:
    return next(r for r in table["Routes"] if r.get("GatewayId") not in ("local", None) or r.get("_unknown"))


# ---- filled from the configuration ------------------------------------------------------------

def test_unknown_inline_ingress_set_is_filled_from_constant_configuration(tmp_path):
    plan = _jenkins(_network(Plan(), routes={"references": ["aws_internet_gateway.main.id"]}),
                    ingress=_const([OPEN_8080]))
    snapshot = plan.load(tmp_path)
    sg = _element(snapshot, "security_groups", "aws_security_group.jenkins")
    assert sg["IpPermissions"] == [{"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080,
                                    "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [],
                                    "PrefixListIds": [], "UserIdGroupPairs": []}]
    assert "IpPermissions" not in sg.get("_unknown", [])
    found = _findings(snapshot)
    assert "tcp/8080" in found["ci-firewall-allows-internet"]["message"]
    assert "0.0.0.0/0" in found["ci-firewall-allows-internet"]["message"]


def test_unknown_inline_ingress_blocks_are_filled_leaf_by_leaf(tmp_path):
    """Each block with its own expressions: constants as written, a source group through its reference."""
    plan = _network(Plan(), routes=IGW_ROUTE)
    plan.add("aws_security_group", "lb", {"name": "lb"}, {"vpc_id": True, "ingress": True},
             {"vpc_id": _ref("aws_vpc.main")})
    _jenkins(plan, ingress=[
        {"from_port": _const(8080), "to_port": _const(8080), "protocol": _const("tcp"),
         "cidr_blocks": _const(["0.0.0.0/0"])},
        {"from_port": _const(443), "to_port": _const(443), "protocol": _const("tcp"),
         "security_groups": _ref("aws_security_group.lb")},
    ])
    snapshot = plan.load(tmp_path)
    sg = _element(snapshot, "security_groups", "aws_security_group.jenkins")
    by_port = {p["FromPort"]: p for p in sg["IpPermissions"]}
    assert by_port[8080]["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}]
    assert by_port[443]["UserIdGroupPairs"] == [{"GroupId": "aws_security_group.lb"}]
    assert not sg.get("_unknown")
    assert "ci-internet-exposed" in _findings(snapshot)


def test_reference_inside_an_inline_route_block_is_resolved_through_a_module_input(tmp_path):
    """`gateway_id = var.igw_id` in a module, given `aws_internet_gateway.main.id` by its call."""
    plan = Plan()
    plan.add("aws_vpc", "main", {"cidr_block": "10.9.0.0/16"}, expressions={"cidr_block": _const("10.9.0.0/16")})
    plan.add("aws_internet_gateway", "main", {}, {"vpc_id": True}, {"vpc_id": _ref("aws_vpc.main")})
    plan.add("aws_route_table", "public", {}, {"vpc_id": True, "route": True},
             {"vpc_id": _ref("var.vpc_id"),
              "route": [{"cidr_block": _const("0.0.0.0/0"), "gateway_id": _ref("var.igw_id")},
                        {"ipv6_cidr_block": _const("::/0"), "gateway_id": _ref("var.igw_id")}]},
             module="module.net")
    plan.module_input("net", "igw_id", _ref("aws_internet_gateway.main"))
    plan.module_input("net", "vpc_id", _ref("aws_vpc.main"))
    snapshot = plan.load(tmp_path)
    table = _element(snapshot, "route_tables", "module.net.aws_route_table.public")
    assert table["VpcId"] == "aws_vpc.main"
    routes = [r for r in table["Routes"] if r.get("GatewayId") != "local"]
    assert routes == [
        {"State": "active", "Origin": "CreateRoute", "DestinationCidrBlock": "0.0.0.0/0",
         "GatewayId": "aws_internet_gateway.main"},
        {"State": "active", "Origin": "CreateRoute", "DestinationIpv6CidrBlock": "::/0",
         "GatewayId": "aws_internet_gateway.main"},
    ]
    assert not table.get("_unknown") and not snapshot["gaps"]


def test_route_set_named_by_one_expression_routes_to_its_gateway(tmp_path):
    """Terraform >= 1.1 writes one expression for all inline routes: the gateway is known, the
    destination is not, and the verdict assumes the internet and says so."""
    snapshot = _jenkins(_network(Plan(), routes=IGW_ROUTE), ingress_after=[OPEN_8080]).load(tmp_path)
    table = _element(snapshot, "route_tables", "aws_route_table.public")
    route = _public_route(table)
    assert route["GatewayId"] == "aws_internet_gateway.main"
    assert set(route["_unknown"]) == {"DestinationCidrBlock", "DestinationIpv6CidrBlock"}
    assert any(g["what"] == "aws_route_table.public.route" for g in snapshot["gaps"])
    found = _findings(snapshot)
    for check in ("ci-internet-exposed", "ci-internet-gateway-segment"):
        assert "Assumed:" in found[check]["message"], check
        assert "aws_internet_gateway.main" in found[check]["message"]
    assert found["ci-internet-exposed"]["evidence"]["details"]["assumptions"]


def test_route_set_to_a_nat_gateway_is_no_internet_route(tmp_path):
    """A route set that names only a NAT gateway cannot reach an internet gateway: no assumption."""
    plan = _network(Plan(), routes=_ref("aws_nat_gateway.main"))
    plan.add("aws_nat_gateway", "main", {"connectivity_type": "public"}, {"subnet_id": True},
             {"subnet_id": _ref("aws_subnet.public")})
    snapshot = _jenkins(plan, ingress_after=[OPEN_8080]).load(tmp_path)
    route = _public_route(_element(snapshot, "route_tables", "aws_route_table.public"))
    assert route["NatGatewayId"] == "aws_nat_gateway.main"
    found = _findings(snapshot)
    assert "ci-internet-exposed" not in found and "ci-internet-gateway-segment" not in found
    assert "ci-firewall-allows-internet" in found


# ---- what stays unknown -----------------------------------------------------------------------

def test_untraceable_route_set_gives_an_assumed_verdict_not_silence(tmp_path):
    snapshot = _jenkins(_network(Plan(), routes={"references": ["local.gateway"]}),
                        ingress_after=[OPEN_8080]).load(tmp_path)
    table = _element(snapshot, "route_tables", "aws_route_table.public")
    assert table["_unknown"] == ["Routes"]
    found = _findings(snapshot)
    exposed = found["ci-internet-exposed"]
    assert "Assumed: the routes of aws_route_table.public are known only after apply" in exposed["message"]
    assert exposed["evidence"]["details"]["assumptions"]
    assert found["ci-internet-gateway-segment"]["evidence"]["details"]["assumptions"]


def test_unknown_routes_without_any_internet_gateway_stay_private(tmp_path):
    """Unknown routes can only use a gateway the network has: with none, no exposure is assumed."""
    snapshot = _jenkins(_network(Plan(), igw=False, routes={"references": ["local.gateway"]}),
                        ingress_after=[OPEN_8080]).load(tmp_path)
    assert _element(snapshot, "route_tables", "aws_route_table.public")["_unknown"] == ["Routes"]
    found = _findings(snapshot)
    assert "ci-internet-exposed" not in found and "ci-internet-gateway-segment" not in found


def test_terraform_0_12_plan_without_inline_blocks_in_configuration_stays_unknown(tmp_path):
    """Before 1.1 Terraform left inline blocks out of the configuration: their absence says nothing."""
    snapshot = _jenkins(_network(Plan("0.12.31"), routes=None)).load(tmp_path)
    table = _element(snapshot, "route_tables", "aws_route_table.public")
    assert table["_unknown"] == ["Routes"]
    sg = _element(snapshot, "security_groups", "aws_security_group.jenkins")
    assert "IpPermissions" in sg["_unknown"]
    assert any("leaves inline blocks out" in g["error"] for g in snapshot["gaps"])
    # The route is assumed, and said to be: the exposure itself then hangs on the unknown rules.
    assert "Assumed:" in _findings(snapshot)["ci-internet-gateway-segment"]["message"]


def test_terraform_1_9_plan_without_inline_blocks_has_none(tmp_path):
    """From 1.1 on, a configuration without inline blocks has none: nothing unknown, no assumption."""
    snapshot = _jenkins(_network(Plan("1.9.5"), routes=None)).load(tmp_path)
    table = _element(snapshot, "route_tables", "aws_route_table.public")
    assert "_unknown" not in table
    assert [r["GatewayId"] for r in table["Routes"]] == ["local"]
    sg = _element(snapshot, "security_groups", "aws_security_group.jenkins")
    assert sg["IpPermissions"] == [] and "_unknown" not in sg
    assert "ci-internet-gateway-segment" not in _findings(snapshot)


def test_dynamic_blocks_in_the_source_leave_the_set_unknown(tmp_path):
    """The plan's configuration never holds `dynamic` blocks: when the .tf beside the plan writes
    one, a configuration without inline blocks does not mean there are none."""
    (tmp_path / "main.tf").write_text(
        'resource "aws_security_group" "jenkins" {\n'
        '  name   = "jenkins"\n'
        '  vpc_id = aws_vpc.main.id\n'
        '  dynamic "ingress" {\n'
        '    for_each = var.open_ports\n'
        '    content {\n'
        '      from_port   = ingress.value\n'
        '      to_port     = ingress.value\n'
        '      protocol    = "tcp"\n'
        '      cidr_blocks = ["0.0.0.0/0"]\n'
        '    }\n'
        '  }\n'
        '}\n')
    snapshot = _jenkins(_network(Plan("1.9.5"), routes=IGW_ROUTE)).load(tmp_path)
    sg = _element(snapshot, "security_groups", "aws_security_group.jenkins")
    assert sg["IpPermissions"] == [] and sg["_unknown"] == ["IpPermissions"]
    assert any("dynamic block" in g["error"] for g in snapshot["gaps"] if g["what"] == "aws_security_group.jenkins.ingress")
