"""Exact changes for Azure findings: az commands with the finding's real subscription, resource
group, network security group and rule, network interface and role assignment, the portal page of
each, and the change at an azurerm_* resource's Terraform address when the finding comes from a plan.

Read from the finding's evidence only (the texts the Azure provider writes: "NSG rule NAME
(priority N): allow tcp/22 from Internet", "ROLE at subscription S (role assignment NAME)"),
never run; every value goes through shlex.quote.
"""

from __future__ import annotations

import re

from .remediation import Change, _path, _q, _strings, _unique, every_step, is_terraform_address

_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_IN_GROUP = rf"^/subscriptions/(?P<sub>{_GUID})/resourceGroups/(?P<group>[-\w.()]+)/providers/"
_NSG = re.compile(_IN_GROUP + r"Microsoft\.Network/networkSecurityGroups/(?P<name>[-\w.]+)$", re.I)
_NIC = re.compile(_IN_GROUP + r"Microsoft\.Network/networkInterfaces/(?P<name>[-\w.]+)$", re.I)
_VM = re.compile(_IN_GROUP + r"Microsoft\.Compute/virtualMachines/(?P<name>[-\w.]+)$", re.I)
_FRONT_DOOR = re.compile(_IN_GROUP + r"Microsoft\.Network/(?P<kind>loadBalancers|applicationGateways)/(?P<name>[-\w.]+)$",
                         re.I)
# How a load balancer's path step names the rule that forwards (providers/azure/normalize.py):
# "load-balancing rule https (public frontend port 443 -> backend port 8080)", "inbound NAT rule
# ssh-1 (...)", an application gateway's "listener L rule R -> pool P".
_FORWARDING = re.compile(r"(?:(?P<kind>load-balancing rule|inbound NAT rule) (?P<rule>[-\w.]+) \(public frontend|"
                         r"listener [-\w.]+ rule (?P<gateway_rule>[-\w.]+) -> pool)")
_NO_NSG = re.compile(_NIC.pattern[:-1] + r"/noNetworkSecurityGroup$", re.I)
_PEERED_ROUTE = re.compile(r"route (?P<prefix>[0-9a-fA-F:.]+/\d{1,3}) -> (?:\S+/virtualNetworkPeerings/[-\w.]+|"
                           r"(?:module\.\S+\.)?azurerm_virtual_network_peering\.[-\w\[\]\"]+) in (?P<vnet>\S+)/systemRoutes")
_NSG_RULE = re.compile(r"^(?P<nsg>[-\w.]+) rule (?P<rule>[-\w.]+) \(priority \d+\): allow (?P<what>\S+) "
                       r"from (?P<sources>.+)$")
_ASSIGNMENT = re.compile(rf"^(?P<role>.+?) at (?:subscription (?P<sub>{_GUID})|resource group (?P<group>[-\w.()]+)|"
                         rf"(?P<scope>/subscriptions/\S+)) \(role assignment (?P<name>{_GUID}|[\w.\[\]\"-]+)\)")
_INTERNET = ("internet", "*", "any", "0.0.0.0/0", "::/0")
PORTAL = "https://portal.azure.com/#resource"


def _internet(source: str) -> bool:
    return source.strip().lower() in _INTERNET


def _rule_texts(finding: dict) -> list[str]:
    texts = [t for t in _strings((finding.get("evidence") or {}).get("details")) if " rule " in t]
    texts += [part.strip() for step in _path(finding) for part in str(step.get("via") or "").split(";")]
    # behind a load balancer: "admits the internet (client addresses preserved): NSG rule ..."
    return _unique(t.split(": ", 1)[1] if t.startswith("admits the ") else t for t in texts if t)


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


_LB_COMMAND = {"load-balancing rule": ("network lb rule delete", "--lb-name", "Load balancing rules"),
               "inbound NAT rule": ("network lb inbound-nat-rule delete", "--lb-name", "Inbound NAT rules"),
               "gateway rule": ("network application-gateway rule delete", "--gateway-name", "Rules")}


def _load_balancer_changes(finding: dict) -> list[Change]:
    """Delete each public load balancer rule (load-balancing or inbound NAT) or application gateway
    routing rule the internet reaches the node through: the listener on the public frontend goes,
    and with it the path. The backend's NSG rule admitting the internet (the client's address is
    preserved) is named in a note: narrowing it is the way to keep the service for some."""
    changes, seen = [], set()
    admits = [t.split(": ", 1)[1] for s in every_step(finding) for t in str(s.get("via") or "").split("; ")
              if t.startswith("admits the internet")]
    for step in every_step(finding):
        door = _FRONT_DOOR.match(str(step.get("id") or "")) if step.get("kind") == "load_balancer" else None
        if not door:
            continue
        for match in _FORWARDING.finditer(str(step.get("via") or "")):
            kind = match["kind"] or "gateway rule"
            rule = match["rule"] or match["gateway_rule"]
            if (door.group(0), kind, rule) in seen:
                continue
            seen.add((door.group(0), kind, rule))
            command, owner, blade = _LB_COMMAND[kind]
            what = "routing rule" if kind == "gateway rule" else kind
            notes = ["this takes the listener off the public frontend for every backend it serves; publish the "
                     "CI service behind a VPN gateway, Azure Bastion or an application gateway with "
                     "authentication instead"]
            notes += [f"to keep it for some clients, narrow the backend's NSG rule instead (the client's address "
                      f"reaches the backend): {text}, its source -> YOUR-OFFICE-OR-VPN-RANGE" for text in admits]
            changes.append(Change(
                resource=f"{'load balancer' if door['kind'].lower() == 'loadbalancers' else 'application gateway'} "
                         f"{door['name']} (resource group {door['group']})",
                what=f"{what} {rule} (open to every internet address)",
                commands=(f"az {command} --subscription {_q(door['sub'])} --resource-group {_q(door['group'])} "
                          f"{owner} {_q(door['name'])} --name {_q(rule)}",),
                console=f"{PORTAL}{door.group(0)}/overview > {blade} > {rule} > Delete",
                notes=tuple(notes)))
    return changes


def _peered_prefixes(steps: list[dict], index: int) -> list[str]:
    """The address ranges of the peered network the flow comes from, for the firewall at `index`:
    the subnet before it is reached by a route there and the answer's route back (in that order),
    and the way back, in the destination's network, is a route to the CI node's network."""
    subnet = next((s for s in reversed(steps[:index]) if s.get("kind") == "subnet"), None)
    routes = list(_PEERED_ROUTE.finditer(str((subnet or {}).get("via") or "")))
    if not routes:
        return []
    source = routes[0]["vnet"].lower()  # the first route is the one there, in the CI node's network
    return _unique(m["prefix"] for m in routes if m["vnet"].lower() != source)


def _missing_nsg_changes(finding: dict, deny_peers: bool) -> list[Change]:
    """Give each interface the evidence shows with no NSG one: a new NSG's default rules deny
    inbound from the internet; for a flow from a peered network (which AllowVnetInBound admits)
    it gets a rule denying that network's ranges, first."""
    steps = every_step(finding)
    changes, seen = [], set()
    for index, step in enumerate(steps):
        nic = _NO_NSG.match(str(step.get("id") or "")) if step.get("kind") == "firewall" else None
        if not nic or nic.group(0) in seen:
            continue
        seen.add(nic.group(0))
        nic_id = nic.group(0).rsplit("/", 1)[0]
        peers = _peered_prefixes(steps, index) if deny_peers else []
        if deny_peers and not peers:
            continue  # same network: no range of the evidence tells the CI node apart
        sub, group, name = nic["sub"], nic["group"], nic["name"]
        nsg = f"{name}-nsg"
        where = f"--subscription {_q(sub)} --resource-group {_q(group)}"
        commands = [f"location=$(az network nic show --ids {_q(nic_id)} --query location --output tsv)",
                    f"az network nsg create {where} --name {_q(nsg)} --location \"$location\""]
        if peers:
            commands.append(f"az network nsg rule create {where} --nsg-name {_q(nsg)} --name deny-peered-ci "
                            f"--priority 100 --direction Inbound --access Deny --protocol '*' "
                            f"--source-address-prefixes {' '.join(_q(p) for p in peers)} --destination-port-ranges '*'")
        commands.append(f"az network nic update {where} --name {_q(name)} --network-security-group {_q(nsg)}")
        denies = f"denying {', '.join(peers)} (the peered CI network) first" if peers else \
            "whose default rules deny inbound from the internet"
        changes.append(Change(
            resource=f"network interface {name} (resource group {group})",
            what=f"no network security group: every flow passes ({step.get('via')})",
            commands=tuple(commands),
            console=f"{PORTAL}{nic_id}/overview > Settings > Network security group: Edit > a new NSG {nsg}, {denies}",
            notes=("a new NSG admits only its virtual network and Azure's load balancer probes: add the rules the "
                   "interface's own traffic needs before associating it",
                   "to cover every interface of the subnet at once, associate the NSG with the subnet instead: "
                   "az network vnet subnet update --network-security-group (an NSG on both levels must allow a flow)")))
    return changes


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
    # a path from a federation: the assignment that gives the identity its power is the step into the scope
    texts += [str(s.get("via")) for s in _path(finding) if s.get("kind") == "account" and s.get("via")]
    return list(dict.fromkeys(t for t in texts if t))


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


_USER_IDENTITY = re.compile(_IN_GROUP + r"Microsoft\.ManagedIdentity/userAssignedIdentities/(?P<name>[-\w.]+)$", re.I)
_CREDENTIAL = re.compile(r"^federated identity credential (?P<name>[-\w.]+): ")


def _federation_changes(finding: dict) -> list[Change]:
    """Delete the federated identity credential that admits more than one repository and branch:
    the platform's tokens no longer become the identity. A credential naming the one subject that
    deploys is created in its place (a classic credential's subject is matched exactly)."""
    identity = _USER_IDENTITY.match(str((finding.get("resource") or {}).get("id") or ""))
    details = (finding.get("evidence") or {}).get("details") or {}
    if not identity or not isinstance(details, dict):
        return []
    pin, issuer = str(details.get("pin") or ""), str(details.get("issuer") or "")
    changes = []
    for step in _path(finding):
        credential = _CREDENTIAL.match(str(step.get("via") or "")) if step.get("kind") == "identity" else None
        if not credential:
            continue
        where = (f"--subscription {_q(identity['sub'])} --resource-group {_q(identity['group'])} "
                 f"--identity-name {_q(identity['name'])}")
        subject = pin if re.fullmatch(r"[^<>\s*]+", pin) else "the one repository and branch that deploys"
        changes.append(Change(
            resource=f"managed identity {identity['name']} (resource group {identity['group']})",
            what=f"federated identity credential {credential['name']} (admits {details.get('level')})",
            commands=(f"az identity federated-credential delete {where} --name {_q(credential['name'])} --yes",),
            console=f"{PORTAL}{identity.group(0)}/overview > Settings > Federated credentials > {credential['name']} > "
                    "Delete",
            notes=(f"then create one for {subject}: az identity federated-credential create {where} --name "
                   f"{credential['name']} --issuer {issuer} --subject '{pin}' --audiences api://AzureADTokenExchange"
                   if subject == pin else
                   f"then create one whose subject names {subject}, e.g. {pin}, with the same issuer ({issuer})",)))
    return changes


CHANGES = {
    "ci-internet-exposed": lambda f: _internet_rules(f) + _load_balancer_changes(f) + _missing_nsg_changes(f, False),
    "ci-firewall-allows-internet": lambda f: _internet_rules(f) + _missing_nsg_changes(f, False),
    "ci-not-behind-load-balancer": _public_address_changes,
    # The provider's internet gateway serves only interfaces with an address of their own.
    "ci-internet-gateway-segment": _public_address_changes,
    "ci-internet-to-admin-path": lambda f: (_internet_rules(f) + _load_balancer_changes(f) + _missing_nsg_changes(f, False)
                                            + _federation_changes(f) + _assignment_changes(f)),
    "ci-federation-unscoped": _federation_changes,
    "ci-admin-identity": _assignment_changes,
    "ci-privilege-escalation": _assignment_changes,
    "ci-production-access": _assignment_changes,
    "ci-reaches-production": lambda f: (nsg_rule_changes(f, lambda s: not _internet(s), "admits the CI node into "
                                                                                        "production")
                                        + _missing_nsg_changes(f, True)),
    "ci-secret-in-user-data": _user_data_changes,
}


def changes(finding: dict) -> list[Change]:
    """The exact changes of a finding on a live Azure subscription."""
    make = CHANGES.get(str(finding.get("check_id")))
    return make(finding) if make else []


# --- Terraform ------------------------------------------------------------------------------


def _is_address(text: str) -> bool:
    return is_terraform_address(text, "azurerm_")


def terraform_changes(finding: dict, address: str) -> list[str]:
    """The change at each azurerm_* address the finding names: which attribute, from what to what."""
    check = str(finding.get("check_id"))
    firewalls = {str(s.get("name")).lower(): str(s.get("id")) for s in _path(finding)
                 if s.get("kind") == "firewall" and _is_address(str(s.get("id")))}
    rules = []
    for text in _rule_texts(finding):
        match = _NSG_RULE.match(text)
        if match and any(_internet(s) for s in match["sources"].split(",")):
            owner = firewalls.get(match["nsg"].lower(), f"the azurerm_network_security_group {match['nsg']}")
            rules.append(f'{owner}: security_rule "{match["rule"]}": source_address_prefix "{match["sources"]}" -> '
                         "the allow-listed ranges (or remove the rule)")
    rules = _unique(iter(rules))
    assignments = _unique(f"{m['name']}: remove ({m['role']} at {scope}); assign the narrowest role the builds need"
                          if _is_address(m["name"]) else
                          f"the azurerm_role_assignment of {m['role']} at {scope} (assignment {m['name']}): remove"
                          for m, scope in _assignments(finding))
    doors = _terraform_load_balancer_changes(finding)
    if check in ("ci-internet-exposed", "ci-firewall-allows-internet"):
        found = rules + (doors if check == "ci-internet-exposed" else []) + _terraform_missing_nsgs(finding, False)
        return found or [f"{address}: network_interface_ids: an interface whose NSG admits no internet source"]
    if check == "ci-reaches-production":
        admitting = []
        for text in _rule_texts(finding):
            match = _NSG_RULE.match(text)
            if match and not any(_internet(s) for s in match["sources"].split(",")):
                owner = firewalls.get(match["nsg"].lower(), f"the azurerm_network_security_group {match['nsg']}")
                admitting.append(f'{owner}: security_rule "{match["rule"]}": source_address_prefix '
                                 f'"{match["sources"]}" -> not the CI network (or remove the rule)')
        return _unique(iter(admitting)) + _terraform_missing_nsgs(finding, True)
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
        return rules + doors + _terraform_missing_nsgs(finding, False) + assignments
    if check == "ci-secret-in-user-data":
        return [f"{address}: user_data / custom_data: remove the secret; read it at boot from an "
                "azurerm_key_vault_secret with the VM's managed identity"]
    return []


def _terraform_load_balancer_changes(finding: dict) -> list[str]:
    """The rule of each azurerm_lb / azurerm_application_gateway the internet comes in through."""
    found = []
    for step in every_step(finding):
        address = str(step.get("id") or "")
        if step.get("kind") != "load_balancer" or not _is_address(address):
            continue
        for match in _FORWARDING.finditer(str(step.get("via") or "")):
            if match["kind"] == "load-balancing rule":
                found.append(f'the azurerm_lb_rule "{match["rule"]}" of {address}: removed (the listener on the public '
                             "frontend)")
            elif match["kind"]:
                found.append(f'the azurerm_lb_nat_rule "{match["rule"]}" of {address}: removed')
            else:
                found.append(f'{address}: request_routing_rule "{match["gateway_rule"]}": removed, or its listener '
                             "on a private frontend")
    return _unique(iter(found))


def _terraform_missing_nsgs(finding: dict, deny_peers: bool) -> list[str]:
    """An NSG for each azurerm_network_interface the evidence shows with none."""
    steps = every_step(finding)
    found = []
    for index, step in enumerate(steps):
        nic = str(step.get("id") or "").removesuffix("/noNetworkSecurityGroup")
        if step.get("kind") != "firewall" or nic == step.get("id") or not _is_address(nic):
            continue
        peers = _peered_prefixes(steps, index) if deny_peers else []
        if deny_peers and not peers:
            continue
        rule = (f' with a security_rule denying inbound from {", ".join(peers)} (the peered CI network) at priority 100'
                if peers else " (its default rules deny inbound from the internet)")
        found.append(f"{nic}: no NSG -> an azurerm_network_security_group{rule}, associated by an "
                     "azurerm_network_interface_security_group_association")
    return _unique(iter(found))
