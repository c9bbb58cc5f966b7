"""Azure's rules one by one (spec/CHECKS.md): NSG first-match by priority with default rules and
service tags, role definitions' power with wildcards and NotActions at each scope, the snapshot's
shape, and the catalogue's word on every check for Azure."""

from __future__ import annotations

import pytest

from guardrails.errors import UserError
from guardrails.graph import Node
from guardrails.providers.azure.identity import AzureIdentities, allows
from guardrails.providers.azure.normalize import nsg_rules
from guardrails.rules import Layer, Principal, admits_internet, admits_principal, format_portmap, FIRST_MATCH
from guardrails.netsets import AddressSet

from azure_estates import rule


def _admitted(rules: list[dict], principal: Principal | None = None) -> list[str]:
    nsg = {"id": "nsg", "name": "nsg", "properties": {"securityRules": rules}}
    layer = Layer("nsg", FIRST_MATCH, nsg_rules(nsg, ["10.0.0.0/16"]))
    admission = admits_internet(layer, "ingress", 4) if principal is None else \
        admits_principal(layer, "ingress", principal)
    return format_portmap(admission.services().ports)


@pytest.mark.parametrize("rules, expected", [
    ([], []),  # DenyAllInBound
    ([rule("web", 100, port="443", source="Internet")], ["tcp/443"]),
    ([rule("web", 100, port="443", source="*")], ["tcp/443"]),
    ([rule("web", 100, port="443", source="Any")], ["tcp/443"]),
    ([rule("web", 100, port="443", source="0.0.0.0/0")], ["tcp/443"]),
    ([rule("office", 100, port="22", source="203.0.113.0/24")], []),
    ([rule("deny", 100, "Deny", port="22"), rule("ssh", 200, port="22")], []),  # lower number first
    ([rule("ssh", 100, port="22"), rule("deny", 200, "Deny", port="22")], ["tcp/22"]),
    ([rule("all", 100, port="*", protocol="*")], ["all"]),
    ([rule("storage", 100, port="443", source="Storage")], []),  # another service tag is not the internet
    ([rule("vnet", 100, port="8080", source="VirtualNetwork")], []),
])
def test_nsg_admits_the_internet_as_azure_does(rules, expected):
    assert _admitted(rules) == expected


def test_the_default_rules_admit_the_virtual_network_and_nothing_else():
    inside = Principal(addresses=AddressSet.parse("10.0.1.5/32"))
    outside = Principal(addresses=AddressSet.parse("192.0.2.5/32"))
    assert _admitted([], inside) == ["all"]
    assert _admitted([], outside) == []
    assert _admitted([rule("deny-vnet", 4000, "Deny", port="5432", source="VirtualNetwork")], inside) != ["all"]


def _power(grants: list[dict], production: dict | None = None):
    node = Node("mi", {"kind": "identity", "managed_policies": grants, "account": "s"})
    return AzureIdentities(None, production or {}, None).evaluate(node)


def _grant(name: str, permissions: list[dict] | None, scope: str, guid: str = "custom") -> dict:
    document = None if permissions is None else {"roleName": name, "permissions": permissions, "scope": scope,
                                                  "guid": guid, "subscriptions": ["s"]}
    return {"name": name, "arn": f"{scope}/providers/Microsoft.Authorization/roleAssignments/a1", "document": document}


CONTRIBUTOR = [{"actions": ["*"], "notActions": ["Microsoft.Authorization/*/Write", "Microsoft.Authorization/*/Delete"]}]
OWNER_GUID = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR_GUID = "b24988ac-6180-42a0-ab88-20f7382dd24c"
UAA_GUID = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"


@pytest.mark.parametrize("grant, power", [
    (_grant("Contributor", CONTRIBUTOR, "/subscriptions/s", CONTRIBUTOR_GUID), "admin"),
    (_grant("Owner", [{"actions": ["*"]}], "/providers/Microsoft.Management/managementGroups/root", OWNER_GUID), "admin"),
    (_grant("User Access Administrator", [{"actions": ["*/read", "Microsoft.Authorization/*"]}],
            "/subscriptions/s", UAA_GUID), "admin"),
    # The same roles on a resource group: not administrator of the subscription.
    (_grant("Contributor", CONTRIBUTOR, "/subscriptions/s/resourceGroups/ci", CONTRIBUTOR_GUID), "write"),
    (_grant("Owner", [{"actions": ["*"]}], "/subscriptions/s/resourceGroups/ci", OWNER_GUID), "escalate"),
    (_grant("custom", [{"actions": ["Microsoft.Authorization/roleAssignments/write"]}],
            "/subscriptions/s/resourceGroups/ci"), "escalate"),
    (_grant("custom", [{"actions": ["Microsoft.Authorization/*"]}], "/subscriptions/s/resourceGroups/ci"), "escalate"),
    # NotActions take the wildcard's power away.
    (_grant("custom", [{"actions": ["Microsoft.Authorization/*"], "notActions": ["Microsoft.Authorization/*/write"]}],
            "/subscriptions/s/resourceGroups/ci"), "write"),
    (_grant("Reader", [{"actions": ["*/read"]}], "/subscriptions/s"), "read"),
])
def test_role_power(grant, power):
    assert _power([grant]).power == power


def test_an_unreadable_role_is_unknown_not_none():
    found = _power([_grant("custom", None, "/subscriptions/s")])
    assert found.power == "none" and found.unknown


def test_write_on_a_production_subscription_or_resource_group_is_production_access():
    grant = _grant("Virtual Machine Contributor", [{"actions": ["Microsoft.Compute/virtualMachines/*"]}],
                   "/subscriptions/s/resourceGroups/orders")
    assert not _power([grant]).production
    (access,) = _power([grant], production={"s": "tag env=prod"}).production
    assert access.target == "s"
    grant["document"]["scope_tags"] = {"environment": "production"}
    (access,) = _power([grant]).production
    assert access.target == "/subscriptions/s/resourceGroups/orders"


def test_wildcards_match_as_azure_matches_actions():
    assert allows([{"actions": ["*/read"]}], "Microsoft.Compute/virtualMachines/read")
    assert not allows([{"actions": ["*/read"]}], "Microsoft.Compute/virtualMachines/write")
    assert allows([{"actions": ["microsoft.authorization/*"]}], "Microsoft.Authorization/roleAssignments/write")


def test_a_snapshot_part_of_another_shape_is_refused():
    from guardrails.providers.azure.validate import validate

    with pytest.raises(UserError, match="subscriptions"):
        validate({"subscriptions": []}, "x")
    with pytest.raises(UserError, match="not a list an Azure snapshot holds"):
        validate({"subscriptions": {"s": {"instances": []}}}, "x")
    with pytest.raises(UserError, match=r"virtual_machines\[0\] has no id"):
        validate({"subscriptions": {"s": {"virtual_machines": [{"name": "vm"}]}}}, "x")


def test_every_check_says_how_it_reads_azure():
    from guardrails.provider import check_notes
    from guardrails.registry import all_checks

    notes = check_notes()["azure"]
    assert {chk.id for chk in all_checks()} <= set(notes)


def _exposed_ports(estate) -> dict[str, list[str]]:
    from guardrails.analysis.reachability import compute_exposure
    from guardrails.normalize import normalize

    graph = normalize([estate.snapshot()])
    return {graph.node(n).name: e.labels for n, e in compute_exposure(graph).items()}


def _public_vm(rules: list[dict], *, asg: bool = False):
    from azure_estates import SUB, G, AzureEstate

    est = AzureEstate()
    est.subscription(SUB, "ci-platform")
    nsg = est.nsg(SUB, G, "nsg", rules)
    vid = est.vnet(SUB, G, "vnet", "10.10.0.0/16", [("agents", "10.10.1.0/24", nsg, None)])
    pip = est.public_ip(SUB, G, "pip", "20.1.1.1")
    nic = est.nic(SUB, G, "nic", est.subnet(vid, "agents"), "10.10.1.4", public_ip=pip)
    if asg:
        config = est._find(nic)["properties"]["ipConfigurations"][0]["properties"]
        config["applicationSecurityGroups"] = [{"id": f"/subscriptions/{SUB}/resourceGroups/{G}/providers/"
                                                      "Microsoft.Network/applicationSecurityGroups/jenkins"}]
    est.vm(SUB, G, "jenkins", nic)
    return est


def test_a_rule_for_another_destination_does_not_admit_the_node():
    to_other = rule("to-other", 100, port="8080", source="Internet")
    to_other["properties"]["destinationAddressPrefix"] = "10.10.1.99"
    to_me = rule("to-me", 110, port="443", source="Internet")
    to_me["properties"]["destinationAddressPrefix"] = "10.10.1.0/28"
    assert _exposed_ports(_public_vm([to_other, to_me])) == {"jenkins": ["tcp/443"]}


def test_a_rule_for_an_application_security_group_admits_its_members_only():
    from azure_estates import SUB, G

    asg = f"/subscriptions/{SUB}/resourceGroups/{G}/providers/Microsoft.Network/applicationSecurityGroups/jenkins"
    to_group = rule("to-jenkins", 100, port="8080", source="Internet")
    to_group["properties"]["destinationAddressPrefix"] = None
    to_group["properties"]["destinationApplicationSecurityGroups"] = [{"id": asg}]
    assert _exposed_ports(_public_vm([to_group], asg=True)) == {"jenkins": ["tcp/8080"]}
    assert _exposed_ports(_public_vm([to_group], asg=False)) == {}


def test_an_application_gateway_reaches_its_backends_from_its_own_subnet():
    """An application gateway ends connections in its subnet: the internet reaches a backend when
    the gateway's subnet routes to the Internet and the backend's NSG admits the gateway's subnet."""
    from azure_estates import SUB, G, AzureEstate

    est = AzureEstate()
    est.subscription(SUB, "ci-platform")
    backend_nsg = est.nsg(SUB, G, "jenkins-nsg", [rule("from-gateway", 100, port="8080", source="10.10.9.0/24")])
    vid = est.vnet(SUB, G, "vnet", "10.10.0.0/16", [("agents", "10.10.1.0/24", None, None),
                                                    ("gateway", "10.10.9.0/24", None, None)])
    pip = est.public_ip(SUB, G, "gw-pip", "20.1.1.7")
    vm = est.vm(SUB, G, "jenkins", est.nic(SUB, G, "nic", est.subnet(vid, "agents"), "10.10.1.4", nsg=backend_nsg),
                tags={})
    gw = est.rid(SUB, G, "Microsoft.Network/applicationGateways", "front")
    est._add(SUB, "application_gateways", {"id": gw, "name": "front", "location": "westeurope", "properties": {
        "gatewayIPConfigurations": [{"id": f"{gw}/gatewayIPConfigurations/ip", "name": "ip",
                                     "properties": {"subnet": {"id": est.subnet(vid, "gateway")}}}],
        "frontendIPConfigurations": [{"id": f"{gw}/frontendIPConfigurations/public", "name": "public",
                                      "properties": {"publicIPAddress": {"id": pip}}}],
        "frontendPorts": [{"id": f"{gw}/frontendPorts/https", "name": "https", "properties": {"port": 443}}],
        "httpListeners": [{"id": f"{gw}/httpListeners/https", "name": "https", "properties": {
            "frontendPort": {"id": f"{gw}/frontendPorts/https"}, "protocol": "Https"}}],
        "backendAddressPools": [{"id": f"{gw}/backendAddressPools/jenkins", "name": "jenkins", "properties": {
            "backendAddresses": [{"ipAddress": "10.10.1.4"}]}}],
        "backendHttpSettingsCollection": [{"id": f"{gw}/backendHttpSettingsCollection/s", "name": "s",
                                           "properties": {"port": 8080, "protocol": "Http"}}],
        "requestRoutingRules": [{"id": f"{gw}/requestRoutingRules/r", "name": "r", "properties": {
            "httpListener": {"id": f"{gw}/httpListeners/https"},
            "backendAddressPool": {"id": f"{gw}/backendAddressPools/jenkins"},
            "backendHttpSettings": {"id": f"{gw}/backendHttpSettingsCollection/s"}}}]}})
    assert _exposed_ports(est) == {"jenkins": ["tcp/443"]}
    assert vm.endswith("/jenkins")
    # the remediation takes the gateway's routing rule off its public listener
    from guardrails.pipeline import scan_snapshots
    from guardrails.reports.remediation import steps_for

    (exposed,) = [f for f in scan_snapshots([est.snapshot()])["findings"] if f["check_id"] == "ci-internet-exposed"]
    assert steps_for(exposed).commands == [f"az network application-gateway rule delete --subscription {SUB} "
                                           f"--resource-group {G} --gateway-name front --name r"]


@pytest.mark.parametrize("expression, conditions, unknown", [
    ("claims['sub'] matches 'repo:acme/app:ref:refs/heads/*'",
     [{"operator": "like", "values": ["repo:acme/app:ref:refs/heads/*"]}], 0),
    ("claims['sub'] eq 'repo:acme/app:environment:prod'",
     [{"operator": "equals", "values": ["repo:acme/app:environment:prod"]}], 0),
    # A condition on another claim restricts something other than who: named, not evaluated.
    ("claims['sub'] matches 'repo:acme/*' and claims['job_workflow_ref'] matches 'acme/ci/.github/workflows/*@refs/heads/main'",
     [{"operator": "like", "values": ["repo:acme/*"]}], 1),
])
def test_a_flexible_credential_expression_as_entra_reads_it(expression, conditions, unknown):
    from guardrails.providers.azure.federation import expression_clause

    clause = expression_clause({"value": expression, "languageVersion": 1})
    assert clause["effect"] == "allow" and clause["conditions"] == conditions and len(clause["unknown"]) == unknown


@pytest.mark.parametrize("expression", [
    {"value": "claims['sub'] startswith 'repo:acme/'", "languageVersion": 1},
    {"value": "claims['sub'] matches 'repo:acme/*' or claims['sub'] matches 'repo:evil/*'", "languageVersion": 1},
    {"value": "claims['sub'] matches 'repo:acme/*'", "languageVersion": 2},
    {"value": "", "languageVersion": 1},
])
def test_a_flexible_credential_expression_that_cannot_be_read_is_refused(expression):
    from guardrails.providers.azure.federation import ExpressionError, expression_clause

    with pytest.raises(ExpressionError):
        expression_clause(expression)


def _to(rule_: dict, destination: str) -> dict:
    rule_["properties"]["destinationAddressPrefix"] = destination
    return rule_


def test_a_rule_whose_destination_is_another_service_tag_does_not_apply_to_a_vm():
    """An NSG sees the VM's private address: it is in no service tag but VirtualNetwork (Storage,
    Sql, AzureCloud are Azure's public ranges; AzureLoadBalancer is the probe address), so such a
    rule neither refuses nor admits anything to the VM."""
    deny_storage = _to(rule("deny-to-storage", 100, "Deny", port="*", protocol="*"), "Storage")
    jenkins = rule("jenkins", 200, port="8080", source="Internet")
    assert _exposed_ports(_public_vm([deny_storage, jenkins])) == {"jenkins": ["tcp/8080"]}
    for tag in ("Storage", "Sql", "AzureLoadBalancer", "AzureCloud"):
        allow_tag = _to(rule("ssh-to-tag", 100, port="22", source="Internet"), tag)
        assert _exposed_ports(_public_vm([allow_tag])) == {}, tag
    # VirtualNetwork holds the VM: the rule applies.
    to_vnet = _to(rule("ssh-to-vnet", 100, port="22", source="Internet"), "VirtualNetwork")
    assert _exposed_ports(_public_vm([to_vnet])) == {"jenkins": ["tcp/22"]}
