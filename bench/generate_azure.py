"""Synthetic Azure subscriptions as snapshots, for the benchmark (bench/run.py --azure).

The estate mirrors bench/generate.py's AWS one in Resource Manager's shapes: VNets of about 250
VMs, each with a web, an app, a data and a CI subnet (NSGs on the subnets and on the NICs, a route
table sending the data subnet's internet traffic to an appliance), a public load balancer in front
of the web tier, 5% CI VMs (a Jenkins with a public IP, runner fleets in scale sets, their managed
identities holding roles), 30% production VMs, VNets peered in pairs. Resources are estate graph
nodes, as for AWS: VNets, subnets, route tables, gateways, NSGs, VMs, load balancers, identities.
"""

from __future__ import annotations

import random

SUBSCRIPTION = "33333333-3333-3333-3333-333333333333"
VMS_PER_VNET = 250
CI_SHARE = 0.05
RUNNERS_PER_SCALE_SET = 20
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
TIERS = ("web", "app", "data")


def _rid(group: str, kind: str, name: str) -> str:
    return f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/{kind}/{name}"


def _rule(name: str, priority: int, port: str, source: str, access: str = "Allow") -> dict:
    return {"name": name, "properties": {"priority": priority, "access": access, "protocol": "Tcp",
                                         "direction": "Inbound", "sourceAddressPrefix": source,
                                         "sourcePortRange": "*", "destinationAddressPrefix": "*",
                                         "destinationPortRange": port}}


def vnet_count(resources: int) -> int:
    """VNets of an estate of about `resources` graph nodes: each VNet makes about 280 (its VMs, NSGs,
    subnets, route tables, load balancer, identities, peering gateway)."""
    return max(1, round(resources / 281))


class _Builder:
    def __init__(self, vnets: int, seed: int) -> None:
        self.rng = random.Random(f"{seed}:azure")
        self.vnets = vnets
        self.lists: dict[str, list[dict]] = {k: [] for k in (
            "resource_groups", "virtual_networks", "network_security_groups", "route_tables", "public_ip_addresses",
            "network_interfaces", "load_balancers", "application_gateways", "nat_gateways", "virtual_machines",
            "virtual_machine_scale_sets", "scale_set_vms", "role_definitions", "role_assignments")}
        self.principals = 0

    def nsg(self, group: str, name: str, rules: list[dict]) -> str:
        nid = _rid(group, "Microsoft.Network/networkSecurityGroups", name)
        self.lists["network_security_groups"].append({"id": nid, "name": name, "location": "westeurope",
                                                      "properties": {"securityRules": rules}})
        return nid

    def nic(self, group: str, name: str, subnet: str, address: str, nsg: str | None, **extra) -> str:
        nid = _rid(group, "Microsoft.Network/networkInterfaces", name)
        config = {"id": f"{nid}/ipConfigurations/ipconfig1", "name": "ipconfig1",
                  "properties": {"privateIPAddress": address, "subnet": {"id": subnet}, **extra}}
        self.lists["network_interfaces"].append({"id": nid, "name": name, "location": "westeurope", "properties": {
            "ipConfigurations": [config], **({"networkSecurityGroup": {"id": nsg}} if nsg else {})}})
        return nid

    def vm(self, group: str, name: str, nic: str, tags: dict, image: tuple[str, str, str],
           identity: dict | None = None, key: str = "virtual_machines", **extra) -> dict:
        vm = {"id": _rid(group, "Microsoft.Compute/virtualMachines", name) if key == "virtual_machines" else extra.pop("id"),
              "name": name, "location": "westeurope", "tags": tags,
              "properties": {"timeCreated": "2026-11-01T00:00:00Z",
                             "storageProfile": {"imageReference": {"publisher": image[0], "offer": image[1],
                                                                   "sku": image[2], "version": "latest"}},
                             "networkProfile": {"networkInterfaces": [{"id": nic}]}, **extra}}
        if identity:
            vm["identity"] = identity
        self.lists[key].append(vm)
        return vm

    def system_identity(self, role: str, scope: str) -> dict:
        self.principals += 1
        principal = f"00000000-0000-0000-0000-{self.principals:012d}"
        self.lists["role_assignments"].append({
            "id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{principal}",
            "name": principal, "properties": {"principalId": principal, "scope": scope,
                                              "roleDefinitionId": f"/subscriptions/{SUBSCRIPTION}/providers/"
                                                                  f"Microsoft.Authorization/roleDefinitions/{role}"}})
        return {"type": "SystemAssigned", "principalId": principal}

    def build(self) -> dict:
        for role, name, actions, not_actions in ((CONTRIBUTOR, "Contributor", ["*"], ["Microsoft.Authorization/*/Write"]),
                                                 (READER, "Reader", ["*/read"], [])):
            self.lists["role_definitions"].append({
                "id": f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/{role}",
                "name": role, "properties": {"roleName": name, "type": "BuiltInRole",
                                             "permissions": [{"actions": actions, "notActions": not_actions}]}})
        for index in range(self.vnets):
            self.vnet(index)
        for left in range(0, self.vnets - 1, 3):  # pairs of peered VNets, as the AWS estate's VPCs
            self.peer(left, left + 1)
        return {"format": "pipeline-guardrails-snapshot", "version": 1, "provider": "azure", "source": "azure",
                "scope": SUBSCRIPTION, "collected_at": "2026-12-01T00:00:00Z", "gaps": [],
                "subscriptions": {SUBSCRIPTION: {"subscription": [{"id": f"/subscriptions/{SUBSCRIPTION}",
                                                                   "subscriptionId": SUBSCRIPTION,
                                                                   "displayName": "bench"}], **self.lists}}}

    def vnet(self, index: int) -> None:
        group = f"rg-{index:04d}"
        production = index % 10 < 3
        env = {"environment": "production"} if production else {"environment": "staging"}
        self.lists["resource_groups"].append({"id": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}",
                                              "name": group, "location": "westeurope", "tags": env})
        base = f"10.{index // 250}.{(index % 250)}"
        prefix = f"10.{(index // 64) % 256}.{(index % 64) * 4}.0/22"
        octets = prefix.split(".")
        first = f"{octets[0]}.{octets[1]}.{int(octets[2])}"
        nets = [f"{octets[0]}.{octets[1]}.{int(octets[2]) + n}" for n in range(4)]
        vid = _rid(group, "Microsoft.Network/virtualNetworks", f"vnet-{index:04d}")
        subnet_nsgs = {tier: self.nsg(group, f"{tier}-subnet-{index:04d}", [
            _rule("https-in", 100, "443", "Internet" if tier == "web" else "VirtualNetwork")]) for tier in TIERS}
        subnet_nsgs["ci"] = self.nsg(group, f"ci-subnet-{index:04d}", [_rule("jenkins-in", 100, "8080", "Internet")])
        nic_nsgs = {tier: self.nsg(group, f"{tier}-nic-{index:04d}", [
            _rule("app", 100, "443", "VirtualNetwork"),
            _rule("lb", 110, "443", "Internet" if tier == "web" else "10.0.0.0/8")]) for tier in TIERS}
        nic_nsgs["ci"] = self.nsg(group, f"ci-nic-{index:04d}", [_rule("jenkins", 100, "8080", "*"),
                                                                 _rule("ssh", 110, "22", "10.0.0.0/8")])
        table = _rid(group, "Microsoft.Network/routeTables", f"to-firewall-{index:04d}")
        self.lists["route_tables"].append({"id": table, "name": f"to-firewall-{index:04d}", "location": "westeurope",
                                           "properties": {"routes": [{"name": "default", "properties": {
                                               "addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance",
                                               "nextHopIpAddress": f"{first}.4"}}]}})
        subnets = []
        for n, tier in enumerate((*TIERS, "ci")):
            subnets.append({"id": f"{vid}/subnets/{tier}", "name": tier, "properties": {
                "addressPrefix": f"{nets[n]}.0/24", "networkSecurityGroup": {"id": subnet_nsgs[tier]},
                **({"routeTable": {"id": table}} if tier == "data" else {})}})
        self.lists["virtual_networks"].append({"id": vid, "name": f"vnet-{index:04d}", "location": "westeurope",
                                               "tags": env, "properties": {
            "addressSpace": {"addressPrefixes": [prefix]}, "subnets": subnets, "virtualNetworkPeerings": []}})
        # the web tier's public load balancer
        pip = _rid(group, "Microsoft.Network/publicIPAddresses", f"lb-{index:04d}")
        lb = _rid(group, "Microsoft.Network/loadBalancers", f"web-{index:04d}")
        pool = f"{lb}/backendAddressPools/web"
        self.lists["public_ip_addresses"].append({"id": pip, "name": f"lb-{index:04d}", "sku": {"name": "Standard"},
                                                  "properties": {"ipAddress": f"20.{index // 250}.{index % 250}.1",
                                                                 "publicIPAllocationMethod": "Static"}})
        self.lists["load_balancers"].append({"id": lb, "name": f"web-{index:04d}", "location": "westeurope",
                                             "sku": {"name": "Standard"}, "properties": {
            "frontendIPConfigurations": [{"id": f"{lb}/frontendIPConfigurations/front", "name": "front",
                                          "properties": {"publicIPAddress": {"id": pip}}}],
            "backendAddressPools": [{"id": pool, "name": "web"}],
            "loadBalancingRules": [{"id": f"{lb}/loadBalancingRules/https", "name": "https", "properties": {
                "frontendIPConfiguration": {"id": f"{lb}/frontendIPConfigurations/front"},
                "backendAddressPool": {"id": pool}, "protocol": "Tcp", "frontendPort": 443, "backendPort": 443}}],
            "inboundNatRules": []}})
        ci = round(VMS_PER_VNET * CI_SHARE)
        rest = VMS_PER_VNET - ci
        for n in range(rest):
            tier = TIERS[n % 3]
            name = f"{tier}-{index:04d}-{n:03d}"
            address = f"{nets[TIERS.index(tier)]}.{4 + n // 3}"
            nic = self.nic(group, f"{name}-nic", f"{vid}/subnets/{tier}", address, nic_nsgs[tier],
                           **({"loadBalancerBackendAddressPools": [{"id": pool}]} if tier == "web" else {}))
            self.vm(group, name, nic, {**env, "tier": tier}, ("Canonical", "ubuntu-24_04-lts", "server"))
        # CI: one Jenkins with a public IP, runners in scale sets with a Contributor identity on the group
        jpip = _rid(group, "Microsoft.Network/publicIPAddresses", f"jenkins-{index:04d}")
        self.lists["public_ip_addresses"].append({"id": jpip, "name": f"jenkins-{index:04d}", "sku": {"name": "Standard"},
                                                  "properties": {"ipAddress": f"20.{index // 250}.{index % 250}.2",
                                                                 "publicIPAllocationMethod": "Static"}})
        nic = self.nic(group, f"jenkins-{index:04d}-nic", f"{vid}/subnets/ci", f"{nets[3]}.4", nic_nsgs["ci"],
                       publicIPAddress={"id": jpip})
        self.vm(group, f"jenkins-{index:04d}", nic, {"team": "platform"}, ("jenkins", "jenkins", "lts"),
                self.system_identity(READER, f"/subscriptions/{SUBSCRIPTION}"))
        runners = ci - 1
        scale_set_count = max(1, -(-runners // RUNNERS_PER_SCALE_SET))
        for s in range(scale_set_count):
            name = f"gitlab-runners-{index:04d}-{s}"
            scale_set = _rid(group, "Microsoft.Compute/virtualMachineScaleSets", name)
            identity = self.system_identity(CONTRIBUTOR, f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}")
            self.lists["virtual_machine_scale_sets"].append({"id": scale_set, "name": name, "location": "westeurope",
                                                             "identity": identity, "properties": {}})
            for m in range(min(RUNNERS_PER_SCALE_SET, runners - s * RUNNERS_PER_SCALE_SET)):
                member = f"{scale_set}/virtualMachines/{m}"
                address = f"{nets[3]}.{10 + s * RUNNERS_PER_SCALE_SET + m}"
                nic_id = f"{member}/networkInterfaces/nic"
                self.lists["network_interfaces"].append({"id": nic_id, "name": "nic", "properties": {
                    "networkSecurityGroup": {"id": nic_nsgs["ci"]},
                    "ipConfigurations": [{"id": f"{nic_id}/ipConfigurations/ipconfig1", "name": "ipconfig1",
                                          "properties": {"privateIPAddress": address,
                                                         "subnet": {"id": f"{vid}/subnets/ci"}}}]}})
                self.vm(group, f"{name}_{m}", nic_id, {}, ("Canonical", "ubuntu-24_04-lts", "server"),
                        key="scale_set_vms", id=member)

    def peer(self, left: int, right: int) -> None:
        vnets = self.lists["virtual_networks"]
        a, b = vnets[left], vnets[right]
        for here, there in ((a, b), (b, a)):
            here["properties"]["virtualNetworkPeerings"].append({
                "id": f"{here['id']}/virtualNetworkPeerings/to-{there['name']}", "name": f"to-{there['name']}",
                "properties": {"remoteVirtualNetwork": {"id": there["id"]}, "peeringState": "Connected"}})


def azure_vms(resources: int) -> int:
    """VMs of the estate generate_azure(resources) makes."""
    return vnet_count(resources) * VMS_PER_VNET


def generate_azure(resources: int, seed: int = 0) -> dict:
    """A snapshot of one synthetic subscription of about `resources` estate graph nodes."""
    return _Builder(vnet_count(resources), seed).build()
