"""Azure estates in Resource Manager's own JSON, for the fake ARM server and for snapshots.

`AzureEstate` builds resources as ARM returns them (ids, nested `properties`, sub-resource
references) and lays them out by the URL paths the client libraries ask for. Each scenario of
`SCENARIOS` is one rule of spec/CHECKS.md for Azure, with the findings the spec says it has.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

SUB = "11111111-1111-1111-1111-111111111111"
PROD_SUB = "22222222-2222-2222-2222-222222222222"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"

BUILT_IN = {
    CONTRIBUTOR: ("Contributor", [{"actions": ["*"], "notActions": ["Microsoft.Authorization/*/Delete",
                                                                     "Microsoft.Authorization/*/Write",
                                                                     "Microsoft.Authorization/elevateAccess/Action"],
                                   "dataActions": [], "notDataActions": []}]),
    READER: ("Reader", [{"actions": ["*/read"], "notActions": [], "dataActions": [], "notDataActions": []}]),
    OWNER: ("Owner", [{"actions": ["*"], "notActions": [], "dataActions": [], "notDataActions": []}]),
}


def rule(name: str, priority: int, access: str = "Allow", port: str = "*", source: str = "*",
         protocol: str = "Tcp", direction: str = "Inbound") -> dict:
    return {"name": name, "properties": {"priority": priority, "access": access, "protocol": protocol,
                                         "direction": direction, "sourceAddressPrefix": source,
                                         "sourcePortRange": "*", "destinationAddressPrefix": "*",
                                         "destinationPortRange": port}}


@dataclass
class AzureEstate:
    """Resources of one or more subscriptions, in ARM JSON."""

    lists: dict[str, dict[str, list[dict]]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    tags: dict[str, dict] = field(default_factory=dict)
    vm_user_data: dict[str, str] = field(default_factory=dict)
    power: dict[str, str] = field(default_factory=dict)

    def _add(self, sub: str, name: str, item: dict) -> dict:
        self.lists.setdefault(sub, {}).setdefault(name, []).append(item)
        return item

    def subscription(self, sub: str, name: str, tags: dict | None = None) -> None:
        self.names[sub] = name
        self.tags[sub] = tags or {}
        self.lists.setdefault(sub, {})

    @staticmethod
    def rid(sub: str, group: str, kind: str, name: str) -> str:
        return f"/subscriptions/{sub}/resourceGroups/{group}/providers/{kind}/{name}"

    def group(self, sub: str, name: str, tags: dict | None = None) -> str:
        gid = f"/subscriptions/{sub}/resourceGroups/{name}"
        self._add(sub, "resource_groups", {"id": gid, "name": name, "location": "westeurope", "tags": tags or {},
                                           "properties": {"provisioningState": "Succeeded"}})
        return gid

    def nsg(self, sub: str, group: str, name: str, rules: list[dict]) -> str:
        nid = self.rid(sub, group, "Microsoft.Network/networkSecurityGroups", name)
        for r in rules:
            r["id"] = f"{nid}/securityRules/{r['name']}"
        self._add(sub, "network_security_groups", {
            "id": nid, "name": name, "location": "westeurope", "type": "Microsoft.Network/networkSecurityGroups",
            "properties": {"securityRules": rules, "defaultSecurityRules": _default_rules(nid)}})
        return nid

    def route_table(self, sub: str, group: str, name: str, routes: list[tuple[str, str, str | None]]) -> str:
        tid = self.rid(sub, group, "Microsoft.Network/routeTables", name)
        self._add(sub, "route_tables", {"id": tid, "name": name, "location": "westeurope", "properties": {"routes": [
            {"id": f"{tid}/routes/r{n}", "name": f"r{n}",
             "properties": {"addressPrefix": prefix, "nextHopType": hop,
                            **({"nextHopIpAddress": ip} if ip else {})}}
            for n, (prefix, hop, ip) in enumerate(routes)]}})
        return tid

    def vnet(self, sub: str, group: str, name: str, prefix: str,
             subnets: list[tuple[str, str, str | None, str | None]], tags: dict | None = None) -> str:
        """subnets: (name, prefix, NSG id or None, route table id or None)"""
        vid = self.rid(sub, group, "Microsoft.Network/virtualNetworks", name)
        self._add(sub, "virtual_networks", {
            "id": vid, "name": name, "location": "westeurope", "tags": tags or {},
            "properties": {"addressSpace": {"addressPrefixes": [prefix]}, "virtualNetworkPeerings": [],
                           "subnets": [{"id": f"{vid}/subnets/{s}", "name": s, "properties": {
                               "addressPrefix": p, **({"networkSecurityGroup": {"id": nsg}} if nsg else {}),
                               **({"routeTable": {"id": rt}} if rt else {})}} for s, p, nsg, rt in subnets]}})
        return vid

    def peer(self, a: str, b: str) -> None:
        """Peer two VNets, both sides connected."""
        for here, there in ((a, b), (b, a)):
            vnet = self._find(here)
            vnet["properties"]["virtualNetworkPeerings"].append({
                "id": f"{here}/virtualNetworkPeerings/to-{there.rsplit('/', 1)[-1]}",
                "name": f"to-{there.rsplit('/', 1)[-1]}",
                "properties": {"remoteVirtualNetwork": {"id": there}, "peeringState": "Connected",
                               "allowVirtualNetworkAccess": True}})

    def subnet(self, vnet: str, name: str) -> str:
        return f"{vnet}/subnets/{name}"

    @staticmethod
    def vnet_of(subnet: str) -> str:
        return subnet.rsplit("/subnets/", 1)[0]

    def _find(self, rid: str) -> dict:
        for lists in self.lists.values():
            for items in lists.values():
                for item in items:
                    if item["id"] == rid:
                        return item
        raise KeyError(rid)

    def public_ip(self, sub: str, group: str, name: str, address: str, sku: str = "Standard") -> str:
        pid = self.rid(sub, group, "Microsoft.Network/publicIPAddresses", name)
        self._add(sub, "public_ip_addresses", {
            "id": pid, "name": name, "location": "westeurope", "sku": {"name": sku},
            "properties": {"ipAddress": address,
                           "publicIPAllocationMethod": "Static" if sku == "Standard" else "Dynamic"}})
        return pid

    def nic(self, sub: str, group: str, name: str, subnet: str, private: str, *, public_ip: str | None = None,
            nsg: str | None = None, pools: list[str] = (), nat_rules: list[str] = ()) -> str:
        nid = self.rid(sub, group, "Microsoft.Network/networkInterfaces", name)
        config = {"id": f"{nid}/ipConfigurations/ipconfig1", "name": "ipconfig1", "properties": {
            "privateIPAddress": private, "subnet": {"id": subnet}, "primary": True,
            **({"publicIPAddress": {"id": public_ip}} if public_ip else {}),
            "loadBalancerBackendAddressPools": [{"id": p} for p in pools],
            "loadBalancerInboundNatRules": [{"id": r} for r in nat_rules]}}
        self._add(sub, "network_interfaces", {"id": nid, "name": name, "location": "westeurope", "properties": {
            "ipConfigurations": [config], **({"networkSecurityGroup": {"id": nsg}} if nsg else {})}})
        return nid

    def vm(self, sub: str, group: str, name: str, nic: str, *, tags: dict | None = None,
           image: tuple[str, str, str] = ("Canonical", "ubuntu-24_04-lts", "server"),
           identity: str | None = None, principal: str | None = None, user_data: str | None = None,
           power: str = "running") -> str:
        vid = self.rid(sub, group, "Microsoft.Compute/virtualMachines", name)
        self.power[vid] = power
        vm = {"id": vid, "name": name, "location": "westeurope", "tags": tags or {},
              "type": "Microsoft.Compute/virtualMachines",
              "properties": {"vmId": name, "timeCreated": "2026-01-01T00:00:00Z",
                             "hardwareProfile": {"vmSize": "Standard_D2s_v5"},
                             "storageProfile": {"imageReference": {"publisher": image[0], "offer": image[1],
                                                                   "sku": image[2], "version": "latest"}},
                             "osProfile": {"computerName": name, "adminUsername": "azureuser"},
                             "networkProfile": {"networkInterfaces": [{"id": nic, "properties": {"primary": True}}]}}}
        if identity == "system":
            vm["identity"] = {"type": "SystemAssigned", "principalId": principal, "tenantId": "t"}
        elif identity:
            vm["identity"] = {"type": "UserAssigned",
                              "userAssignedIdentities": {identity: {"principalId": principal, "clientId": "c"}}}
        self._add(sub, "virtual_machines", vm)
        if user_data:
            self.vm_user_data[vid] = base64.b64encode(user_data.encode()).decode()
        return vid

    def scale_set(self, sub: str, group: str, name: str, subnet: str, count: int, *, tags: dict | None = None,
                  principal: str | None = None) -> list[str]:
        """A scale set of `count` VMs with a system-assigned identity: the ids of its VMs."""
        sid = self.rid(sub, group, "Microsoft.Compute/virtualMachineScaleSets", name)
        scale_set = {"id": sid, "name": name, "location": "westeurope", "tags": tags or {},
                     "sku": {"name": "Standard_D2s_v5", "capacity": count}, "properties": {"virtualMachineProfile": {
                         "storageProfile": {"imageReference": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts",
                                                               "sku": "server", "version": "latest"}}}}}
        if principal:
            scale_set["identity"] = {"type": "SystemAssigned", "principalId": principal}
        self._add(sub, "virtual_machine_scale_sets", scale_set)
        members = []
        for n in range(count):
            vid = f"{sid}/virtualMachines/{n}"
            nic = f"{vid}/networkInterfaces/nic"
            self._add(sub, "scale_set_nics", {"id": nic, "name": "nic", "properties": {"ipConfigurations": [{
                "id": f"{nic}/ipConfigurations/ipconfig1", "name": "ipconfig1",
                "properties": {"privateIPAddress": f"10.10.2.{4 + n}", "subnet": {"id": subnet}}}]}})
            self._add(sub, "scale_set_vms", {"id": vid, "name": f"{name}_{n}", "instanceId": str(n),
                                             "location": "westeurope", "properties": {
                "networkProfile": {"networkInterfaces": [{"id": nic}]}}})
            members.append(vid)
        return members

    def load_balancer(self, sub: str, group: str, name: str, public_ip: str, *,
                      rules: list[tuple[str, int, int]] = (), nat_rules: list[tuple[str, int, int]] = (),
                      sku: str = "Standard") -> tuple[str, str, dict[str, str]]:
        """A public load balancer with one pool: (id, pool id, NAT rule ids by name)."""
        lid = self.rid(sub, group, "Microsoft.Network/loadBalancers", name)
        front = {"id": f"{lid}/frontendIPConfigurations/front", "name": "front",
                 "properties": {"publicIPAddress": {"id": public_ip}}}
        pool = f"{lid}/backendAddressPools/pool"
        nats = {n: f"{lid}/inboundNatRules/{n}" for n, _, _ in nat_rules}
        self._add(sub, "load_balancers", {"id": lid, "name": name, "location": "westeurope", "sku": {"name": sku},
                                          "properties": {
            "frontendIPConfigurations": [front],
            "backendAddressPools": [{"id": pool, "name": "pool", "properties": {}}],
            "loadBalancingRules": [{"id": f"{lid}/loadBalancingRules/{n}", "name": n, "properties": {
                "frontendIPConfiguration": {"id": front["id"]}, "backendAddressPool": {"id": pool},
                "protocol": "Tcp", "frontendPort": fp, "backendPort": bp}} for n, fp, bp in rules],
            "inboundNatRules": [{"id": nats[n], "name": n, "properties": {
                "frontendIPConfiguration": {"id": front["id"]}, "protocol": "Tcp", "frontendPort": fp,
                "backendPort": bp}} for n, fp, bp in nat_rules]}})
        return lid, pool, nats

    def role_definition(self, sub: str, guid: str, name: str, permissions: list[dict], custom: bool = True) -> str:
        did = f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{guid}"
        self._add(sub, "role_definitions", {"id": did, "name": guid, "type": "Microsoft.Authorization/roleDefinitions",
                                            "properties": {"roleName": name,
                                                           "type": "CustomRole" if custom else "BuiltInRole",
                                                           "permissions": permissions,
                                                           "assignableScopes": [f"/subscriptions/{sub}"]}})
        return did

    def assign(self, sub: str, principal: str, role_guid: str, scope: str | None = None) -> None:
        if role_guid in BUILT_IN and not any(d["name"] == role_guid for d in self.lists[sub].get("role_definitions", [])):
            name, permissions = BUILT_IN[role_guid]
            self.role_definition(sub, role_guid, name, permissions, custom=False)
        n = len(self.lists[sub].get("role_assignments", []))
        scope = scope or f"/subscriptions/{sub}"
        self._add(sub, "role_assignments", {
            "id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/a{n:07d}-0000-0000-0000-000000000000",
            "name": f"a{n:07d}", "type": "Microsoft.Authorization/roleAssignments",
            "properties": {"principalId": principal, "principalType": "ServicePrincipal", "scope": scope,
                           "roleDefinitionId": f"/subscriptions/{sub}/providers/Microsoft.Authorization/"
                                               f"roleDefinitions/{role_guid}"}})

    def user_identity(self, sub: str, group: str, name: str, principal: str,
                      credentials: list[tuple[str, str, str | dict]] = ()) -> str:
        """A user-assigned managed identity and its federated credentials: (name, issuer, subject),
        or (name, issuer, claimsMatchingExpression) for a flexible one."""
        uid = self.rid(sub, group, "Microsoft.ManagedIdentity/userAssignedIdentities", name)
        self._add(sub, "user_assigned_identities", {
            "id": uid, "name": name, "location": "westeurope", "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
            "properties": {"principalId": principal, "clientId": f"client-{principal}", "tenantId": "t"}})
        for credential, issuer, subject in credentials:
            matching = {"subject": subject} if isinstance(subject, str) else {"claimsMatchingExpression": subject}
            self._add(sub, "federated_identity_credentials", {
                "id": f"{uid}/federatedIdentityCredentials/{credential}", "name": credential,
                "type": "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
                "properties": {"issuer": issuer, "audiences": ["api://AzureADTokenExchange"], **matching}})
        return uid

    # -- as the fake server serves it, and as a snapshot ---------------------------------------------

    def paths(self) -> dict[str, object]:
        """Replies by the URL path the client libraries request."""
        out: dict[str, object] = {"/subscriptions": [{"id": f"/subscriptions/{s}", "subscriptionId": s,
                                                      "displayName": self.names.get(s, s), "state": "Enabled"}
                                                     for s in self.lists]}
        kinds = {"virtual_networks": "Microsoft.Network/virtualNetworks",
                 "network_security_groups": "Microsoft.Network/networkSecurityGroups",
                 "route_tables": "Microsoft.Network/routeTables",
                 "public_ip_addresses": "Microsoft.Network/publicIPAddresses",
                 "network_interfaces": "Microsoft.Network/networkInterfaces",
                 "load_balancers": "Microsoft.Network/loadBalancers",
                 "application_gateways": "Microsoft.Network/applicationGateways",
                 "nat_gateways": "Microsoft.Network/natGateways",
                 "virtual_machines": "Microsoft.Compute/virtualMachines",
                 "virtual_machine_scale_sets": "Microsoft.Compute/virtualMachineScaleSets",
                 "role_assignments": "Microsoft.Authorization/roleAssignments",
                 "role_definitions": "Microsoft.Authorization/roleDefinitions",
                 "user_assigned_identities": "Microsoft.ManagedIdentity/userAssignedIdentities"}
        for sub, lists in self.lists.items():
            out[f"/subscriptions/{sub}"] = {"id": f"/subscriptions/{sub}", "subscriptionId": sub,
                                            "displayName": self.names.get(sub, sub), "state": "Enabled",
                                            "tags": self.tags.get(sub, {})}
            out[f"/subscriptions/{sub}/resourcegroups"] = list(lists.get("resource_groups", []))
            for name, kind in kinds.items():
                out[f"/subscriptions/{sub}/providers/{kind}"] = list(lists.get(name, []))
            out[f"/subscriptions/{sub}/providers/Microsoft.Compute/virtualMachines?statusOnly=true"] = [
                {"id": vm["id"], "name": vm["name"], "properties": {"instanceView": self._view(vm["id"])}}
                for vm in lists.get("virtual_machines", [])]
            for vm in lists.get("virtual_machines", []):
                full = dict(vm, properties=dict(vm["properties"]))
                if vm["id"] in self.vm_user_data:
                    full["properties"]["userData"] = self.vm_user_data[vm["id"]]
                out[vm["id"]] = full
            for definition in lists.get("role_definitions", []):
                out[definition["id"]] = definition
            for identity in lists.get("user_assigned_identities", []):
                # The stable API version shows a flexible credential without its expression; the
                # credential itself, read with the preview version, shows it.
                mine = [c for c in lists.get("federated_identity_credentials", [])
                        if c["id"].startswith(identity["id"] + "/")]
                out[f"{identity['id']}/federatedIdentityCredentials"] = [
                    dict(c, properties={k: v for k, v in c["properties"].items() if k != "claimsMatchingExpression"})
                    for c in mine]
                out.update({c["id"]: c for c in mine})
            for scale_set in lists.get("virtual_machine_scale_sets", []):
                prefix = f"{scale_set['id']}/"
                out[f"{prefix}virtualMachines"] = [v for v in lists.get("scale_set_vms", []) if v["id"].startswith(prefix)]
                out[f"{prefix}networkInterfaces"] = [n for n in lists.get("scale_set_nics", [])
                                                     if n["id"].startswith(prefix)]
        return out

    def _view(self, vm: str) -> dict:
        return {"statuses": [{"code": "ProvisioningState/succeeded"},
                             {"code": f"PowerState/{self.power.get(vm, 'running')}"}]}

    def snapshot(self) -> dict:
        """The snapshot a live collection of this estate gives."""
        subs = {}
        for sub, lists in self.lists.items():
            part = {k: [dict(x) for x in v] for k, v in lists.items() if k != "scale_set_nics"}
            if lists.get("scale_set_nics"):
                part["network_interfaces"] = part.get("network_interfaces", []) + [dict(n) for n in lists["scale_set_nics"]]
            if lists.get("virtual_machine_scale_sets"):
                part.setdefault("scale_set_vms", [])
            part["subscription"] = [{"id": f"/subscriptions/{sub}", "subscriptionId": sub,
                                     "displayName": self.names.get(sub, sub), "tags": self.tags.get(sub, {})}]
            for vm in part.get("virtual_machines", []):
                vm["properties"] = dict(vm["properties"], instanceView=self._view(vm["id"]))
                if vm["id"] in self.vm_user_data:
                    vm["properties"] = dict(vm["properties"], userData=self.vm_user_data[vm["id"]])
            subs[sub] = part
        return {"format": "pipeline-guardrails-snapshot", "version": 1, "provider": "azure", "source": "azure",
                "scope": ",".join(self.lists), "collected_at": "2026-12-01T00:00:00Z", "gaps": [],
                "subscriptions": subs}


def _default_rules(nsg: str) -> list[dict]:
    out = []
    for name, priority, direction, access, source, dest in (
            ("AllowVnetInBound", 65000, "Inbound", "Allow", "VirtualNetwork", "VirtualNetwork"),
            ("AllowAzureLoadBalancerInBound", 65001, "Inbound", "Allow", "AzureLoadBalancer", "*"),
            ("DenyAllInBound", 65500, "Inbound", "Deny", "*", "*"),
            ("AllowVnetOutBound", 65000, "Outbound", "Allow", "VirtualNetwork", "VirtualNetwork"),
            ("AllowInternetOutBound", 65001, "Outbound", "Allow", "*", "Internet"),
            ("DenyAllOutBound", 65500, "Outbound", "Deny", "*", "*")):
        out.append({"id": f"{nsg}/defaultSecurityRules/{name}", "name": name, "properties": {
            "priority": priority, "direction": direction, "access": access, "protocol": "*",
            "sourceAddressPrefix": source, "sourcePortRange": "*", "destinationAddressPrefix": dest,
            "destinationPortRange": "*"}})
    return out


# -- the scenarios -----------------------------------------------------------------------------------

G = "ci"


def _base(est, subnet_nsg: str | None = None, route_table: str | None = None) -> str:
    est.subscription(SUB, "ci-platform")
    est.group(SUB, G)
    vid = est.vnet(SUB, G, "ci-vnet", "10.10.0.0/16", [("agents", "10.10.1.0/24", subnet_nsg, route_table)])
    return est.subnet(vid, "agents")


def subnet_allows_nic_denies(est=None) -> tuple[AzureEstate, set]:
    est = est or AzureEstate()
    est.subscription(SUB, "ci-platform")
    open_nsg = est.nsg(SUB, G, "subnet-open", [rule("jenkins-from-internet", 100, port="8080", source="Internet")])
    closed = est.nsg(SUB, G, "nic-closed", [rule("deny-jenkins", 100, "Deny", port="8080", source="*")])
    subnet = _base(est, subnet_nsg=open_nsg)
    pip = est.public_ip(SUB, G, "jenkins-pip", "20.1.1.1")
    vm = est.vm(SUB, G, "jenkins", est.nic(SUB, G, "jenkins-nic", subnet, "10.10.1.4", public_ip=pip, nsg=closed))
    return est, {("ci-firewall-allows-internet", vm), ("ci-internet-gateway-segment", vm),
                 ("ci-not-behind-load-balancer", vm)}


def basic_public_ip_no_nsg(est=None) -> tuple[AzureEstate, set]:
    est = est or AzureEstate()
    subnet = _base(est)
    pip = est.public_ip(SUB, G, "jenkins-pip", "20.1.1.2", sku="Basic")
    vm = est.vm(SUB, G, "jenkins", est.nic(SUB, G, "jenkins-nic", subnet, "10.10.1.4", public_ip=pip))
    return est, {("ci-internet-exposed", vm), ("ci-internet-gateway-segment", vm), ("ci-not-behind-load-balancer", vm)}


def standard_public_ip_no_nsg(est=None) -> tuple[AzureEstate, set]:
    est = est or AzureEstate()
    subnet = _base(est)
    pip = est.public_ip(SUB, G, "jenkins-pip", "20.1.1.3", sku="Standard")
    vm = est.vm(SUB, G, "jenkins", est.nic(SUB, G, "jenkins-nic", subnet, "10.10.1.4", public_ip=pip))
    return est, {("ci-internet-gateway-segment", vm), ("ci-not-behind-load-balancer", vm)}


def jenkins_behind_public_lb(est=None) -> tuple[AzureEstate, set]:
    est = est or AzureEstate()
    nsg = est.nsg(SUB, G, "jenkins-nsg", [rule("https-from-internet", 100, port="8080", source="Internet")])
    subnet = _base(est)
    pip = est.public_ip(SUB, G, "lb-pip", "20.1.1.4")
    _, pool, _ = est.load_balancer(SUB, G, "jenkins-lb", pip, rules=[("https", 443, 8080)])
    vm = est.vm(SUB, G, "jenkins", est.nic(SUB, G, "jenkins-nic", subnet, "10.10.1.4", nsg=nsg, pools=[pool]))
    return est, {("ci-internet-exposed", vm), ("ci-firewall-allows-internet", vm)}


def nat_rule_to_agent(est=None) -> tuple[AzureEstate, set]:
    est = est or AzureEstate()
    nsg = est.nsg(SUB, G, "agent-nsg", [rule("ssh", 100, port="22", source="*")])
    subnet = _base(est)
    pip = est.public_ip(SUB, G, "lb-pip", "20.1.1.5")
    _, _, nats = est.load_balancer(SUB, G, "agents-lb", pip, nat_rules=[("ssh-agent-1", 50022, 22)])
    vm = est.vm(SUB, G, "azdo-agent-1", est.nic(SUB, G, "agent-nic", subnet, "10.10.1.5", nsg=nsg,
                                                 nat_rules=[nats["ssh-agent-1"]]))
    return est, {("ci-internet-exposed", vm), ("ci-firewall-allows-internet", vm), ("ci-long-lived-runner", vm)}


def contributor_identity(est=None) -> tuple[AzureEstate, set]:
    est = est or AzureEstate()
    subnet = _base(est)
    vm = est.vm(SUB, G, "github-runner-1", est.nic(SUB, G, "runner-nic", subnet, "10.10.1.6"),
                identity="system", principal="p-runner")
    est.assign(SUB, "p-runner", CONTRIBUTOR)
    return est, {("ci-admin-identity", vm), ("ci-long-lived-runner", vm)}


def custom_role_assignments_write(est=None) -> tuple[AzureEstate, set]:
    est = est or AzureEstate()
    subnet = _base(est)
    uid = f"/subscriptions/{SUB}/resourceGroups/{G}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/deployer"
    vm = est.vm(SUB, G, "gitlab-runner-1", est.nic(SUB, G, "runner-nic", subnet, "10.10.1.7"),
                identity=uid, principal="p-deployer")
    role = "33333333-3333-3333-3333-333333333333"
    est.role_definition(SUB, role, "deployer", [{"actions": ["Microsoft.Compute/*", "Microsoft.Authorization/*"],
                                                  "notActions": ["Microsoft.Authorization/locks/*"],
                                                  "dataActions": [], "notDataActions": []}])
    est.assign(SUB, "p-deployer", role, scope=f"/subscriptions/{SUB}/resourceGroups/{G}")
    return est, {("ci-privilege-escalation", vm), ("ci-long-lived-runner", vm)}


def secret_in_user_data(est=None) -> tuple[AzureEstate, set]:
    est = est or AzureEstate()
    subnet = _base(est)
    vm = est.vm(SUB, G, "gitlab-runner-2", est.nic(SUB, G, "runner-nic", subnet, "10.10.1.8"),
                user_data="#!/bin/sh\ngitlab-runner register --token glrt-AbCdEfGhIjKlMnOpQrSt1234\n")
    return est, {("ci-secret-in-user-data", vm), ("ci-long-lived-runner", vm)}


def agents_reach_production_over_peering(est=None) -> tuple[AzureEstate, set]:
    est = est or AzureEstate()
    subnet = _base(est)
    est.group(SUB, "prod", tags={"environment": "production"})
    db_nsg = est.nsg(SUB, "prod", "db-nsg", [rule("postgres-from-ci", 100, port="5432", source="10.10.0.0/16")])
    prod_vnet = est.vnet(SUB, "prod", "prod-vnet", "10.20.0.0/16", [("db", "10.20.1.0/24", db_nsg, None)])
    est.peer(est.vnet_of(subnet), prod_vnet)
    est.vm(SUB, "prod", "orders-db", est.nic(SUB, "prod", "db-nic", est.subnet(prod_vnet, "db"), "10.20.1.4"),
           tags={"env": "prod"})
    vm = est.vm(SUB, G, "azdo-agent-2", est.nic(SUB, G, "agent-nic", subnet, "10.10.1.9"))
    return est, {("ci-reaches-production", vm), ("ci-long-lived-runner", vm)}


def agents_reach_a_vm_of_a_production_resource_group(est=None) -> tuple[AzureEstate, set]:
    """The database VM carries no tag of its own: its resource group's tag makes it production."""
    est = est or AzureEstate()
    subnet = _base(est)
    est.group(SUB, "orders-prod", tags={"Environment": "Production"})
    db_nsg = est.nsg(SUB, "orders-prod", "db-nsg", [rule("postgres-from-ci", 100, port="5432", source="10.10.0.0/16")])
    prod_vnet = est.vnet(SUB, "orders-prod", "orders-vnet", "10.20.0.0/16", [("db", "10.20.1.0/24", db_nsg, None)])
    est.peer(est.vnet_of(subnet), prod_vnet)
    est.vm(SUB, "orders-prod", "orders-db", est.nic(SUB, "orders-prod", "db-nic", est.subnet(prod_vnet, "db"),
                                                    "10.20.1.4"))
    vm = est.vm(SUB, G, "azdo-agent-3", est.nic(SUB, G, "agent-nic", subnet, "10.10.1.9"))
    return est, {("ci-reaches-production", vm), ("ci-long-lived-runner", vm)}


def route_to_appliance(est=None) -> tuple[AzureEstate, set]:
    est = est or AzureEstate()
    est.subscription(SUB, "ci-platform")
    table = est.route_table(SUB, G, "to-firewall", [("0.0.0.0/0", "VirtualAppliance", "10.10.0.4")])
    nsg = est.nsg(SUB, G, "jenkins-nsg", [rule("jenkins", 100, port="8080", source="Internet")])
    subnet = _base(est, route_table=table)
    pip = est.public_ip(SUB, G, "jenkins-pip", "20.1.1.9")
    vm = est.vm(SUB, G, "jenkins", est.nic(SUB, G, "jenkins-nic", subnet, "10.10.1.4", public_ip=pip, nsg=nsg))
    return est, {("ci-firewall-allows-internet", vm), ("ci-not-behind-load-balancer", vm)}


def jenkins_behind_public_lb_with_appliance_route(est=None) -> tuple[AzureEstate, set]:
    """The backend subnet sends 0.0.0.0/0 to a firewall appliance: answers to the load balancer's
    clients go to the appliance (asymmetric routing). Whether it passes them is not known: the path
    is taken to work, said as an assumption, never dropped silently."""
    est = est or AzureEstate()
    est.subscription(SUB, "ci-platform")
    table = est.route_table(SUB, G, "to-firewall", [("0.0.0.0/0", "VirtualAppliance", "10.10.0.4")])
    nsg = est.nsg(SUB, G, "jenkins-nsg", [rule("https-from-internet", 100, port="8080", source="Internet")])
    subnet = _base(est, route_table=table)
    pip = est.public_ip(SUB, G, "lb-pip", "20.1.1.11")
    _, pool, _ = est.load_balancer(SUB, G, "jenkins-lb", pip, rules=[("https", 443, 8080)])
    vm = est.vm(SUB, G, "jenkins", est.nic(SUB, G, "jenkins-nic", subnet, "10.10.1.4", nsg=nsg, pools=[pool]))
    return est, {("ci-internet-exposed", vm), ("ci-firewall-allows-internet", vm)}


def deny_to_a_service_tag_refuses_nothing_to_the_vm(est=None) -> tuple[AzureEstate, set]:
    """A deny rule whose destination is the Storage service tag: the VM's address is not in it, so
    the rule after it admits the internet to Jenkins (and a rule allowing the internet to Sql
    admits nothing to the VM)."""
    est = est or AzureEstate()
    deny = rule("deny-to-storage", 100, "Deny", port="*", source="*", protocol="*")
    deny["properties"]["destinationAddressPrefix"] = "Storage"
    to_sql = rule("ssh-to-sql", 110, port="22", source="Internet")
    to_sql["properties"]["destinationAddressPrefix"] = "Sql"
    nsg = est.nsg(SUB, G, "jenkins-nsg", [deny, to_sql, rule("jenkins", 200, port="8080", source="Internet")])
    subnet = _base(est)
    pip = est.public_ip(SUB, G, "jenkins-pip", "20.1.1.12")
    vm = est.vm(SUB, G, "jenkins", est.nic(SUB, G, "jenkins-nic", subnet, "10.10.1.4", public_ip=pip, nsg=nsg))
    return est, {("ci-internet-exposed", vm), ("ci-firewall-allows-internet", vm), ("ci-internet-gateway-segment", vm),
                 ("ci-not-behind-load-balancer", vm)}


def public_web_not_ci(est=None) -> tuple[AzureEstate, set]:
    est = est or AzureEstate()
    nsg = est.nsg(SUB, G, "web-nsg", [rule("https", 100, port="443", source="Internet")])
    subnet = _base(est)
    pip = est.public_ip(SUB, G, "web-pip", "20.1.1.10")
    est.vm(SUB, G, "shop-frontend", est.nic(SUB, G, "web-nic", subnet, "10.10.1.10", public_ip=pip, nsg=nsg),
           identity="system", principal="p-web")
    est.assign(SUB, "p-web", OWNER)
    return est, set()


def runner_fleet_in_a_scale_set(est=None) -> tuple[AzureEstate, set]:
    est = est or AzureEstate()
    subnet = _base(est)
    members = est.scale_set(SUB, G, "github-runners", subnet, 3, principal="p-fleet")
    est.assign(SUB, "p-fleet", OWNER)
    return est, {("ci-admin-identity", vm) for vm in members}


GITHUB = "https://token.actions.githubusercontent.com"
AZURE_DEVOPS = "https://vstoken.dev.azure.com/f0e1d2c3-0000-4000-8000-000000000001"


def federated_github_deployer(est=None) -> tuple[AzureEstate, set]:
    """GitHub Actions on one branch deploys as a Contributor identity: a CI identity with
    administrator power, its trust pinned (a classic credential's subject is exact). Beside it an
    AKS workload federated into an Owner identity is no pipeline's."""
    est = est or AzureEstate()
    est.subscription(SUB, "ci-platform")
    est.group(SUB, G)
    deployer = est.user_identity(SUB, G, "gh-deployer", "p-gh",
                                 [("main", GITHUB, "repo:acme/infra:ref:refs/heads/main")])
    est.assign(SUB, "p-gh", CONTRIBUTOR)
    est.user_identity(SUB, G, "aks-workload", "p-aks", [
        ("pods", "https://westeurope.oic.prod-aks.azure.com/tenant/cluster/", "system:serviceaccount:default:app")])
    est.assign(SUB, "p-aks", OWNER)
    return est, {("ci-admin-identity", deployer)}


def federated_azure_devops_deployer(est=None) -> tuple[AzureEstate, set]:
    """An Azure DevOps service connection's identity can write role assignments on its resource
    group and holds Contributor on a production one."""
    est = est or AzureEstate()
    est.subscription(SUB, "ci-platform")
    est.group(SUB, G)
    est.group(SUB, "prod", tags={"environment": "production"})
    uid = est.user_identity(SUB, G, "azdo-deployer", "p-azdo", [("prod-deploy", AZURE_DEVOPS, "sc://acme/platform/prod")])
    role = "44444444-4444-4444-4444-444444444444"
    est.role_definition(SUB, role, "assigner", [{"actions": ["Microsoft.Authorization/roleAssignments/write"],
                                                  "notActions": [], "dataActions": [], "notDataActions": []}])
    est.assign(SUB, "p-azdo", role, scope=f"/subscriptions/{SUB}/resourceGroups/{G}")
    est.assign(SUB, "p-azdo", CONTRIBUTOR, scope=f"/subscriptions/{SUB}/resourceGroups/prod")
    # A service connection whose tokens Entra ID signs (Azure DevOps's own application in the
    # subject) is a pipeline's; another service's Entra-signed token is not.
    entra = "https://login.microsoftonline.com/72f988bf-0000-4000-8000-2d7cd011db47/v2.0"
    moved = est.user_identity(SUB, G, "azdo-moved", "p-moved", [("moved", entra, (
        "/eid1/c/pub/t/v4j5cvGGr0GRqy180BHbRw/a/rISbSSETf0KqFyZ8ppdXmA/sc/41bf5486-0000-4b7a-a7e3-a735c767e3b3/"
        "e6b77a5f-0000-4955-8f36-22456ad98b3b"))])
    est.assign(SUB, "p-moved", CONTRIBUTOR)
    est.user_identity(SUB, G, "bot", "p-bot", [("bot", entra, "/eid1/c/pub/t/v4j5cvGGr0GRqy180BHbRw/a/9ExAW52n_ky4ZiS_jhpJIQ/bot")])
    est.assign(SUB, "p-bot", OWNER)
    return est, {("ci-privilege-escalation", uid), ("ci-production-access", uid), ("ci-admin-identity", moved)}


SCENARIOS = {f.__name__: f for f in (runner_fleet_in_a_scale_set, federated_github_deployer,
    federated_azure_devops_deployer, agents_reach_a_vm_of_a_production_resource_group,
    jenkins_behind_public_lb_with_appliance_route, deny_to_a_service_tag_refuses_nothing_to_the_vm,
    subnet_allows_nic_denies, basic_public_ip_no_nsg, standard_public_ip_no_nsg, jenkins_behind_public_lb,
    nat_rule_to_agent, contributor_identity, custom_role_assignments_write, secret_in_user_data,
    agents_reach_production_over_peering, route_to_appliance, public_web_not_ci)}
