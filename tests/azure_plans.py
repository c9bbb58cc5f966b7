"""The Azure scenario estates of tests/azure_estates.py as Terraform plans (`terraform show -json`
format 1.2, azurerm 3.x attribute names): `TerraformAzureEstate` has the builder's methods and
writes azurerm resources instead of ARM JSON, so one scenario function gives both sources.

References between resources are what a real plan holds: ids unknown until apply in
`resource_changes[].change.after_unknown`, and `configuration` expressions naming the resource.
"""

from __future__ import annotations

import base64
from typing import Any

from azure_estates import BUILT_IN


def _ref(address: str, attr: str = "id") -> dict:
    return {"references": [f"{address}.{attr}", address]}


class TerraformAzureEstate:
    """The scenario builder's methods, writing a Terraform plan of azurerm resources."""

    def __init__(self) -> None:
        self.resources: list[dict] = []  # address, type, name, values, unknown, expressions
        self.subscription_id: str | None = None
        self.groups: dict[str, str] = {}
        self.principals: dict[str, str] = {}  # principal name -> address holding the identity
        self.roles: dict[str, str] = {}
        self.subnets: dict[str, str] = {}
        self.vnets: dict[str, str] = {}
        self.names: dict[str, str] = {}

    def _add(self, kind: str, name: str, values: dict, refs: dict | None = None, unknown: tuple = ("id",)) -> str:
        """A resource whose `refs` ({attr: address, or nested {block: [{attr: address}]}}) are known
        only after apply, as references are."""
        address = f"{kind}.{name}"
        expressions: dict[str, Any] = {k: {"constant_value": v} for k, v in values.items()
                                       if not isinstance(v, (dict, list))}
        after_unknown: dict[str, Any] = {u: True for u in unknown}
        for attr, target in (refs or {}).items():
            if isinstance(target, list) and target and isinstance(target[0], dict):  # nested blocks
                expressions[attr] = [{k: _ref(*v) if isinstance(v, tuple) else {"constant_value": v}
                                      for k, v in block.items()} for block in target]
                values[attr] = [{k: None if isinstance(v, tuple) else v for k, v in block.items()} for block in target]
                after_unknown[attr] = [{k: True for k, v in block.items() if isinstance(v, tuple)} for block in target]
            elif isinstance(target, list):
                expressions[attr] = {"references": [r for t in target for r in (f"{t}.id", t)]}
                values[attr] = [None] * len(target)
                after_unknown[attr] = [True] * len(target)
            else:
                expressions[attr] = _ref(*target) if isinstance(target, tuple) else _ref(target)
                values[attr] = None
                after_unknown[attr] = True
        self.resources.append({"address": address, "type": kind, "name": name, "values": values,
                               "unknown": after_unknown, "expressions": expressions})
        return address

    # -- the builder's methods ------------------------------------------------------------------------

    def subscription(self, sub: str, name: str, tags: dict | None = None) -> None:
        self.subscription_id = sub

    def group(self, sub: str, name: str, tags: dict | None = None) -> str:
        if name not in self.groups:
            self.groups[name] = self._add("azurerm_resource_group", name, {"name": name, "location": "westeurope",
                                                                          "tags": tags or {}})
        return self.groups[name]

    def _rg(self, group: str) -> dict:
        return {"resource_group_name": group, "location": "westeurope"}

    def nsg(self, sub: str, group: str, name: str, rules: list[dict]) -> str:
        address = self._add("azurerm_network_security_group", name, {"name": name, **self._rg(group)},
                            unknown=("id", "security_rule"))
        for n, rule in enumerate(rules):
            p = rule["properties"]
            self._add("azurerm_network_security_rule", f"{name}_{n}", {
                "name": rule["name"], "priority": p["priority"], "direction": p["direction"], "access": p["access"],
                "protocol": p["protocol"], "source_port_range": "*", "destination_port_range": p["destinationPortRange"],
                "source_address_prefix": p["sourceAddressPrefix"],
                "destination_address_prefix": p.get("destinationAddressPrefix") or "*",
                "resource_group_name": group}, {"network_security_group_name": (address, "name")})
        return address

    def route_table(self, sub: str, group: str, name: str, routes: list[tuple[str, str, str | None]]) -> str:
        return self._add("azurerm_route_table", name, {"name": name, **self._rg(group), "route": [
            {"name": f"r{n}", "address_prefix": prefix, "next_hop_type": hop, "next_hop_in_ip_address": ip}
            for n, (prefix, hop, ip) in enumerate(routes)]})

    def vnet(self, sub: str, group: str, name: str, prefix: str,
             subnets: list[tuple[str, str, str | None, str | None]], tags: dict | None = None) -> str:
        address = self._add("azurerm_virtual_network", name, {"name": name, "address_space": [prefix],
                                                              **self._rg(group), "tags": tags or {}})
        for subnet, subnet_prefix, nsg, table in subnets:
            sid = self._add("azurerm_subnet", f"{name}_{subnet}", {"name": subnet, "address_prefixes": [subnet_prefix],
                                                                   "resource_group_name": group},
                            {"virtual_network_name": (address, "name")})
            self.subnets[f"{address}/{subnet}"] = sid
            self.vnets[sid] = address
            if nsg:
                self._add("azurerm_subnet_network_security_group_association", f"{name}_{subnet}", {},
                          {"subnet_id": sid, "network_security_group_id": nsg})
            if table:
                self._add("azurerm_subnet_route_table_association", f"{name}_{subnet}", {},
                          {"subnet_id": sid, "route_table_id": table})
        return address

    def subnet(self, vnet: str, name: str) -> str:
        return self.subnets[f"{vnet}/{name}"]

    def vnet_of(self, subnet: str) -> str:
        return self.vnets[subnet]

    def peer(self, a: str, b: str) -> None:
        for here, there in ((a, b), (b, a)):
            self._add("azurerm_virtual_network_peering", f"{here.split('.')[-1]}_to_{there.split('.')[-1]}",
                      {"name": f"to-{there.split('.')[-1]}", "resource_group_name": "x"},
                      {"virtual_network_name": (here, "name"), "remote_virtual_network_id": there})

    def public_ip(self, sub: str, group: str, name: str, address: str, sku: str = "Standard") -> str:
        return self._add("azurerm_public_ip", name, {"name": name, **self._rg(group), "sku": sku,
                                                     "allocation_method": "Static" if sku == "Standard" else "Dynamic"},
                         unknown=("id", "ip_address"))

    def nic(self, sub: str, group: str, name: str, subnet: str, private: str, *, public_ip: str | None = None,
            nsg: str | None = None, pools: list[str] = (), nat_rules: list[str] = ()) -> str:
        config: dict[str, Any] = {"name": "ipconfig1", "private_ip_address_allocation": "Static",
                                  "private_ip_address": private, "subnet_id": (subnet, "id")}
        if public_ip:
            config["public_ip_address_id"] = (public_ip, "id")
        address = self._add("azurerm_network_interface", name, {"name": name, **self._rg(group)},
                            {"ip_configuration": [config]})
        if nsg:
            self._add("azurerm_network_interface_security_group_association", name, {},
                      {"network_interface_id": address, "network_security_group_id": nsg})
        for n, pool in enumerate(pools):
            self._add("azurerm_network_interface_backend_address_pool_association", f"{name}_{n}",
                      {"ip_configuration_name": "ipconfig1"}, {"network_interface_id": address,
                                                                "backend_address_pool_id": pool})
        for n, rule in enumerate(nat_rules):
            self._add("azurerm_network_interface_nat_rule_association", f"{name}_{n}",
                      {"ip_configuration_name": "ipconfig1"}, {"network_interface_id": address, "nat_rule_id": rule})
        return address

    def vm(self, sub: str, group: str, name: str, nic: str, *, tags: dict | None = None,
           image: tuple[str, str, str] = ("Canonical", "ubuntu-24_04-lts", "server"),
           identity: str | None = None, principal: str | None = None, user_data: str | None = None) -> str:
        kind = "azurerm_linux_virtual_machine"
        address = f"{kind}.{name.replace('-', '_')}"
        values: dict[str, Any] = {"name": name, **self._rg(group), "size": "Standard_D2s_v5",
                                  "admin_username": "azureuser", "tags": tags or {},
                                  "source_image_reference": [{"publisher": image[0], "offer": image[1],
                                                              "sku": image[2], "version": "latest"}]}
        refs: dict[str, Any] = {"network_interface_ids": [nic]}
        if user_data:
            values["custom_data"] = base64.b64encode(user_data.encode()).decode()
        if identity == "system":
            values["identity"] = [{"type": "SystemAssigned"}]
            self.principals[principal] = address
        elif identity:
            uai = self._add("azurerm_user_assigned_identity", identity.rsplit("/", 1)[-1],
                            {"name": identity.rsplit("/", 1)[-1], **self._rg(group)}, unknown=("id", "principal_id"))
            refs["identity"] = [{"type": "UserAssigned", "identity_ids": (uai, "id")}]
            self.principals[principal] = uai
        return self._add(kind, name.replace("-", "_"), values, refs)

    def scale_set(self, sub: str, group: str, name: str, subnet: str, count: int, *, tags: dict | None = None,
                  principal: str | None = None) -> list[str]:
        """A scale set; Terraform declares it once, so its plan stands for its VMs by one member."""
        kind = "azurerm_linux_virtual_machine_scale_set"
        key = name.replace("-", "_")
        address = f"{kind}.{key}"
        values = {"name": name, **self._rg(group), "sku": "Standard_D2s_v5", "instances": count,
                  "admin_username": "azureuser", "tags": tags or {},
                  "source_image_reference": [{"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server",
                                              "version": "latest"}],
                  "identity": [{"type": "SystemAssigned"}] if principal else [],
                  "network_interface": [{"name": "nic", "primary": True, "ip_configuration": [
                      {"name": "ipconfig1", "primary": True, "subnet_id": None,
                       "load_balancer_backend_address_pool_ids": []}]}]}
        self.resources.append({
            "address": address, "type": kind, "name": key, "values": values,
            "unknown": {"id": True, "network_interface": [{"ip_configuration": [{"subnet_id": True}]}]},
            "expressions": {"name": {"constant_value": name}, "network_interface": [{"ip_configuration": [
                {"subnet_id": _ref(subnet)}]}]}})
        if principal:
            self.principals[principal] = address
        return [f"{address}/virtualMachines/0"]

    def load_balancer(self, sub: str, group: str, name: str, public_ip: str, *,
                      rules: list[tuple[str, int, int]] = (), nat_rules: list[tuple[str, int, int]] = (),
                      sku: str = "Standard") -> tuple[str, str, dict[str, str]]:
        lb = self._add("azurerm_lb", name, {"name": name, **self._rg(group), "sku": sku},
                       {"frontend_ip_configuration": [{"name": "front", "public_ip_address_id": (public_ip, "id")}]})
        pool = self._add("azurerm_lb_backend_address_pool", name, {"name": "pool"}, {"loadbalancer_id": lb})
        for rule, front_port, back_port in rules:
            self._add("azurerm_lb_rule", rule, {"name": rule, "protocol": "Tcp", "frontend_port": front_port,
                                                "backend_port": back_port, "frontend_ip_configuration_name": "front"},
                      {"loadbalancer_id": lb, "backend_address_pool_ids": [pool]})
        nats = {}
        for rule, front_port, back_port in nat_rules:
            nats[rule] = self._add("azurerm_lb_nat_rule", rule.replace("-", "_"), {
                "name": rule, "protocol": "Tcp", "frontend_port": front_port, "backend_port": back_port,
                "frontend_ip_configuration_name": "front", "resource_group_name": group}, {"loadbalancer_id": lb})
        return lb, pool, nats

    def role_definition(self, sub: str, guid: str, name: str, permissions: list[dict], custom: bool = True) -> str:
        self.roles[guid] = self._add("azurerm_role_definition", name, {
            "name": name, "scope": f"/subscriptions/{sub}",
            "permissions": [{"actions": p["actions"], "not_actions": p.get("notActions", []),
                             "data_actions": [], "not_data_actions": []} for p in permissions]})
        return self.roles[guid]

    def assign(self, sub: str, principal: str, role_guid: str, scope: str | None = None) -> None:
        holder = self.principals[principal]
        attr = "principal_id" if holder.startswith("azurerm_user_assigned_identity.") else "identity[0].principal_id"
        refs: dict[str, Any] = {"principal_id": (holder, attr)}
        values: dict[str, Any] = {}
        if role_guid in BUILT_IN:
            values["role_definition_name"] = BUILT_IN[role_guid][0]
        else:
            refs["role_definition_id"] = (self.roles[role_guid], "role_definition_resource_id")
        if scope and "/resourceGroups/" in scope:
            refs["scope"] = self.groups[scope.rsplit("/", 1)[-1]]
        else:
            values["scope"] = scope or f"/subscriptions/{sub}"
        self._add("azurerm_role_assignment", f"{principal.replace('-', '_')}_{len(self.resources)}", values, refs)

    def user_identity(self, sub: str, group: str, name: str, principal: str,
                      credentials: list[tuple[str, str, str]] = ()) -> str:
        uai = self._add("azurerm_user_assigned_identity", name.replace("-", "_"), {"name": name, **self._rg(group)},
                        unknown=("id", "principal_id", "client_id"))
        self.principals[principal] = uai
        for credential, issuer, subject in credentials:
            if not isinstance(subject, str):
                raise ValueError("azurerm_federated_identity_credential has no claims matching expression")
            self._add("azurerm_federated_identity_credential", credential.replace("-", "_"), {
                "name": credential, "resource_group_name": group, "issuer": issuer, "subject": subject,
                "audience": ["api://AzureADTokenExchange"]}, {"parent_id": uai})
        return uai

    # -- the plan -------------------------------------------------------------------------------------

    def plan(self) -> dict:
        changes, config = [], []
        for r in self.resources:
            changes.append({"address": r["address"], "mode": "managed", "type": r["type"], "name": r["name"],
                            "provider_name": "registry.terraform.io/hashicorp/azurerm",
                            "change": {"actions": ["create"], "before": None, "after": r["values"],
                                       "after_unknown": r["unknown"], "before_sensitive": False,
                                       "after_sensitive": {}}})
            config.append({"address": r["address"], "mode": "managed", "type": r["type"], "name": r["name"],
                           "provider_config_key": "azurerm", "expressions": r["expressions"], "schema_version": 0})
        provider = {"azurerm": {"name": "azurerm", "full_name": "registry.terraform.io/hashicorp/azurerm",
                                "expressions": {"subscription_id": {"constant_value": self.subscription_id}}}}
        return {"format_version": "1.2", "terraform_version": "1.9.5",
                "planned_values": {"root_module": {"resources": []}},
                "resource_changes": changes,
                "configuration": {"provider_config": provider, "root_module": {"resources": config}}}
