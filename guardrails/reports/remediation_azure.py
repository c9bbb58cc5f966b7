"""Exact changes for Azure findings: az commands with the finding's real subscription, resource
group, network security group and rule, network interface and role assignment, the portal page of
each, and the change at an azurerm_* resource's Terraform address when the finding comes from a plan.

Read from the finding's evidence only (the texts the Azure provider writes: "NSG rule NAME
(priority N): allow tcp/22 from Internet", "ROLE at subscription S (role assignment NAME)"),
never run; every value goes through shlex.quote.
"""

from __future__ import annotations

import re
import shlex

from .remediation import Change, _path, _strings, _unique

_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_IN_GROUP = rf"^/subscriptions/(?P<sub>{_GUID})/resourceGroups/(?P<group>[-\w.()]+)/providers/"
_NSG = re.compile(_IN_GROUP + r"Microsoft\.Network/networkSecurityGroups/(?P<name>[-\w.]+)$", re.I)
_NIC = re.compile(_IN_GROUP + r"Microsoft\.Network/networkInterfaces/(?P<name>[-\w.]+)$", re.I)
_VM = re.compile(_IN_GROUP + r"Microsoft\.Compute/virtualMachines/(?P<name>[-\w.]+)$", re.I)
_NSG_RULE = re.compile(r"^(?P<nsg>[-\w.]+) rule (?P<rule>[-\w.]+) \(priority \d+\): allow (?P<what>\S+) "
                       r"from (?P<sources>.+)$")
_ASSIGNMENT = re.compile(rf"^(?P<role>.+?) at (?:subscription (?P<sub>{_GUID})|resource group (?P<group>[-\w.()]+)|"
                         rf"(?P<scope>/subscriptions/\S+)) \(role assignment (?P<name>{_GUID}|[\w.\[\]\"-]+)\)")
_INTERNET = ("internet", "*", "any", "0.0.0.0/0", "::/0")
PORTAL = "https://portal.azure.com/#resource"


def _q(value: str) -> str:
    return shlex.quote(value)


def _internet(source: str) -> bool:
    return source.strip().lower() in _INTERNET


def _rule_texts(finding: dict) -> list[str]:
    texts = [t for t in _strings((finding.get("evidence") or {}).get("details")) if " rule " in t]
    texts += [part.strip() for step in _path(finding) for part in str(step.get("via") or "").split(";")]
    return _unique(t for t in texts if t)


def _nsg_ids(finding: dict) -> dict[str, re.Match]:
    """The network security groups of the evidence by name (lower case, as Azure compares them)."""
    ids = [str(s.get("id")) for s in _path(finding) if s.get("kind") == "firewall"]
    details = (finding.get("evidence") or {}).get("details") or {}
    if isinstance(details, dict):
        ids += [str(f) for f in details.get("firewalls") or []]
    return {m["name"].lower(): m for m in (_NSG.match(i) for i in ids) if m}


def nsg_rule_changes(finding: dict, wanted, why: str) -> list[Change]:
    """Delete each NSG rule of the evidence whose sources `wanted` picks."""
    groups = _nsg_ids(finding)
    changes, seen = [], set()
    for text in _rule_texts(finding):
        match = _NSG_RULE.match(text)
        nsg = groups.get(match["nsg"].lower()) if match else None
        if not nsg or (nsg["name"], match["rule"]) in seen:
            continue
        if not any(wanted(s) for s in match["sources"].split(",")):
            continue
        seen.add((nsg["name"], match["rule"]))
        changes.append(Change(
            resource=f"network security group {nsg['name']} (resource group {nsg['group']})", what=f"{text} ({why})",
            commands=(f"az network nsg rule delete --subscription {_q(nsg['sub'])} --resource-group {_q(nsg['group'])} "
                      f"--nsg-name {_q(nsg['name'])} --name {_q(match['rule'])}",),
            console=f"{PORTAL}{nsg.group(0)}/overview > Inbound security rules > {match['rule']} > Delete",
            notes=(f"where people must still reach the service, narrow it instead: az network nsg rule update "
                   f"--subscription {nsg['sub']} --resource-group {nsg['group']} --nsg-name {nsg['name']} --name "
                   f"{match['rule']} --source-address-prefixes YOUR-OFFICE-OR-VPN-RANGE",)
            if any(_internet(s) for s in match["sources"].split(",")) else ()))
    return changes


def _internet_rules(finding: dict) -> list[Change]:
    return nsg_rule_changes(finding, _internet, "admits every internet address")


def _public_address_changes(finding: dict) -> list[Change]:
    """Take the public IP address off each interface that holds one."""
    details = (finding.get("evidence") or {}).get("details") or {}
    changes = []
    for iface in details.get("interfaces") or [] if isinstance(details, dict) else []:
        nic = _NIC.match(str(iface.get("id") or "")) if isinstance(iface, dict) else None
        if not nic or not iface.get("public"):
            continue
        where = f"--subscription {_q(nic['sub'])} --resource-group {_q(nic['group'])} --nic-name {_q(nic['name'])}"
        changes.append(Change(
            resource=f"network interface {nic['name']} (resource group {nic['group']})",
            what=f"public IP address {', '.join(map(str, iface['public']))}",
            commands=(f"config=$(az network nic ip-config list {where} --query {_q('[?publicIPAddress].name | [0]')} "
                      "--output tsv)",
                      f"az network nic ip-config update {where} --name \"$config\" --remove publicIpAddress"),
            console=f"{PORTAL}{nic.group(0)}/ipConfigurations > the IP configuration > Public IP address: "
                    "Disassociate",
            notes=("publish the service through an Application Gateway or load balancer instead; the public IP "
                   "address resource stays (and is billed) until deleted",)))
    return changes


def _assignment_texts(finding: dict) -> list[str]:
    details = (finding.get("evidence") or {}).get("details") or {}
    if not isinstance(details, dict):
        return []
    hops = [h for h in details.get("hops") or [] if isinstance(h, dict)]
    if hops:
        return [str(hops[0].get("via") or "")]
    texts = [str(details.get("grant") or "")]
    texts += [g for e in details.get("escalations") or [] if isinstance(e, dict) for g in e.get("grants") or []]
    texts += [str(t.get("via")) for t in details.get("targets") or [] if isinstance(t, dict)]
    return [t for t in texts if t]


def _assignments(finding: dict) -> list[tuple[re.Match, str]]:
    """Each role assignment the evidence names, with the id of the scope it is made at."""
    account = str((finding.get("resource") or {}).get("account") or "")
    found = []
    for text in _assignment_texts(finding):
        match = _ASSIGNMENT.match(text)
        if not match:
            continue
        if match["scope"]:
            scope = match["scope"]
        elif match["sub"]:
            scope = f"/subscriptions/{match['sub']}"
        elif re.fullmatch(_GUID, account):
            scope = f"/subscriptions/{account}/resourceGroups/{match['group']}"
        else:
            continue
        found.append((match, scope))
    return found


def _assignment_changes(finding: dict) -> list[Change]:
    changes = []
    for match, scope in _assignments(finding):
        if not re.fullmatch(_GUID, match["name"]):
            continue  # a Terraform address: the change is made in the code
        assignment = f"{scope}/providers/Microsoft.Authorization/roleAssignments/{match['name']}"
        changes.append(Change(
            resource=scope, what=f"role assignment {match['name']}: {match['role']}",
            commands=(f"az role assignment delete --ids {_q(assignment)}",),
            console=f"{PORTAL}{scope}/users > Role assignments > {match['role']} > Remove",
            notes=("assign the narrowest built-in role the builds need, at the resource group or resource they "
                   "touch",)))
    return changes


def _user_data_changes(finding: dict) -> list[Change]:
    vm = _VM.match(str((finding.get("resource") or {}).get("id", "")))
    if not vm:
        return []
    details = (finding.get("evidence") or {}).get("details") or {}
    lines = ", ".join(f"line {s.get('line')} ({s.get('kind')})" for s in details.get("secrets") or []
                      if isinstance(s, dict)) or "the secret's lines"
    where = f"--subscription {_q(vm['sub'])} --resource-group {_q(vm['group'])} --name {_q(vm['name'])}"
    return [Change(
        resource=f"virtual machine {vm['name']} (resource group {vm['group']})", what=f"user data: {lines}",
        commands=(f"az vm update {where} --user-data user-data.txt",),
        console=f"{PORTAL}{vm.group(0)}/overview > Settings > Configuration > User data: delete {lines}",
        notes=("rotate the secret first: removing it from user data does not un-leak it",
               f"user-data.txt is the current user data (az vm show {where} --user-data --query userData --output "
               f"tsv, base64-decoded) without {lines}; read the secret at boot from Key Vault with the VM's "
               "managed identity instead"))]


CHANGES = {
    "ci-internet-exposed": _internet_rules,
    "ci-firewall-allows-internet": _internet_rules,
    "ci-not-behind-load-balancer": _public_address_changes,
    # The provider's internet gateway serves only interfaces with an address of their own.
    "ci-internet-gateway-segment": _public_address_changes,
    "ci-internet-to-admin-path": lambda f: _internet_rules(f) + _assignment_changes(f),
    "ci-admin-identity": _assignment_changes,
    "ci-privilege-escalation": _assignment_changes,
    "ci-production-access": _assignment_changes,
    "ci-reaches-production": lambda f: nsg_rule_changes(f, lambda s: not _internet(s), "admits the CI node into "
                                                                                       "production"),
    "ci-secret-in-user-data": _user_data_changes,
}


def changes(finding: dict) -> list[Change]:
    """The exact changes of a finding on a live Azure subscription."""
    make = CHANGES.get(str(finding.get("check_id")))
    return make(finding) if make else []


# --- Terraform ------------------------------------------------------------------------------

_TF_ADDRESS = re.compile(r"^(module\.[\w-]+(\[[^\]]*\])?\.)*azurerm_[a-z0-9_]+\.[\w-]+(\[[^\]]*\])?$")


def terraform_changes(finding: dict, address: str) -> list[str]:
    """The change at each azurerm_* address the finding names: which attribute, from what to what."""
    check = str(finding.get("check_id"))
    firewalls = {str(s.get("name")).lower(): str(s.get("id")) for s in _path(finding)
                 if s.get("kind") == "firewall" and _TF_ADDRESS.match(str(s.get("id")))}
    rules = []
    for text in _rule_texts(finding):
        match = _NSG_RULE.match(text)
        if match and any(_internet(s) for s in match["sources"].split(",")):
            owner = firewalls.get(match["nsg"].lower(), f"the azurerm_network_security_group {match['nsg']}")
            rules.append(f'{owner}: security_rule "{match["rule"]}": source_address_prefix "{match["sources"]}" -> '
                         "the allow-listed ranges (or remove the rule)")
    rules = _unique(iter(rules))
    assignments = _unique(f"{m['name']}: remove ({m['role']} at {scope}); assign the narrowest role the builds need"
                          if _TF_ADDRESS.match(m["name"]) else
                          f"the azurerm_role_assignment of {m['role']} at {scope} (assignment {m['name']}): remove"
                          for m, scope in _assignments(finding))
    if check in ("ci-internet-exposed", "ci-firewall-allows-internet"):
        return rules or [f"{address}: network_interface_ids: an interface whose NSG admits no internet source"]
    if check == "ci-not-behind-load-balancer":
        return [f"the azurerm_network_interface of {address}: ip_configuration.public_ip_address_id -> null (publish "
                "it through an azurerm_application_gateway or azurerm_lb instead)"]
    if check == "ci-internet-gateway-segment":
        return [f"the azurerm_subnet of {address}: an azurerm_route_table (azurerm_subnet_route_table_association) "
                "whose 0.0.0.0/0 route has next_hop_type VirtualAppliance (a firewall), or a NAT gateway, instead of "
                "the system route to Internet"]
    if check in ("ci-admin-identity", "ci-privilege-escalation", "ci-production-access"):
        return assignments
    if check == "ci-internet-to-admin-path":
        return rules + assignments
    if check == "ci-secret-in-user-data":
        return [f"{address}: user_data / custom_data: remove the secret; read it at boot from an "
                "azurerm_key_vault_secret with the VM's managed identity"]
    return []
