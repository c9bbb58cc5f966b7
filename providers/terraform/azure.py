"""Translating azurerm Terraform resources into the Azure provider's snapshot part: Resource
Manager's JSON shapes (nested `properties`, `{"id": ...}` references), ids being resource
addresses, so that one normalizer and one set of checks serve a plan and a live subscription.

What Terraform learns only at apply time and a check depends on is listed in the element's
`_unknown` and reported as a gap, never read as absent. A managed identity's principal id is
always known only after apply: a role assignment names it by reference, which links the
assignment to the VM or user-assigned identity it refers to (`<address>#principal`).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from guardrails.providers.azure.arm import BUILT_IN_BY_NAME

from .links import Linker, get_value
from .load import TfDocument, TfResource

T_RG = ("azurerm_resource_group",)
T_VNET = ("azurerm_virtual_network",)
T_SUBNET = ("azurerm_subnet",)
T_NSG = ("azurerm_network_security_group",)
T_NIC = ("azurerm_network_interface",)
T_PIP = ("azurerm_public_ip",)
T_LB = ("azurerm_lb",)
T_POOL = ("azurerm_lb_backend_address_pool",)
T_NAT_RULE = ("azurerm_lb_nat_rule",)
T_RT = ("azurerm_route_table",)
T_VM = ("azurerm_linux_virtual_machine", "azurerm_windows_virtual_machine", "azurerm_virtual_machine")
T_VMSS = ("azurerm_linux_virtual_machine_scale_set", "azurerm_windows_virtual_machine_scale_set",
          "azurerm_orchestrated_virtual_machine_scale_set", "azurerm_virtual_machine_scale_set")
T_UAI = ("azurerm_user_assigned_identity",)
T_ROLE_DEF = ("azurerm_role_definition",)
T_SUBSCRIPTION = ("azurerm_subscription",)


def _list(value: Any) -> list:
    return value if isinstance(value, list) else [] if value in (None, "") else [value]


def _block(values: dict, name: str) -> dict:
    found = values.get(name)
    if isinstance(found, list):
        found = found[0] if found else {}
    return found if isinstance(found, dict) else {}


def _tags(values: dict) -> dict:
    tags = values.get("tags")
    return {str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else {}


class AzureTranslator:
    """One plan's azurerm resources as the lists of one subscription."""

    def __init__(self, doc: TfDocument, linker: Linker, source: str) -> None:
        self.doc, self.linker, self.source = doc, linker, source
        self.lists: dict[str, list[dict]] = {}
        self.el: dict[str, dict] = {}
        self.gaps: list[dict] = []
        self.notes: list[str] = []
        self.translated: Counter = Counter()
        self.subscription = self._subscription()

    # -- helpers -------------------------------------------------------------------------------------

    def _subscription(self) -> str:
        conf = ((self.doc.configuration or {}).get("provider_config") or {}).get("azurerm") or {}
        given = ((conf.get("expressions") or {}).get("subscription_id") or {}).get("constant_value")
        if isinstance(given, str) and given:
            return given
        for r in self.doc.resources:
            if r.type in ("azurerm_subscription", "azurerm_client_config") and isinstance(r.values.get("subscription_id"), str):
                return r.values["subscription_id"]
        return "terraform"

    def add(self, key: str, res: TfResource, **fields) -> dict:
        el = {"id": res.address, "name": res.values.get("name") or res.name, "location": res.values.get("location"),
              "tags": _tags(res.values), **fields, "_address": res.address, "_source": self.source}
        group = self.resource_group(res)
        if group and res.type not in T_RG:
            el["_resource_group"] = group
        self.lists.setdefault(key, []).append(el)
        self.el[res.address] = el
        self.translated[res.type] += 1
        return el

    def resource_group(self, res: TfResource) -> str | None:
        """The id of the resource group a resource names (`resource_group_name`), as Resource Manager
        spells it, or None when the plan does not tell."""
        if "resource_group_name" not in res.values:
            return None
        target = self.ref(res, ("resource_group_name",), T_RG)
        if target in self.el:
            return self.el[target]["id"]
        value = res.values.get("resource_group_name")
        return f"/subscriptions/{self.subscription}/resourceGroups/{value}" if isinstance(value, str) and value else None

    def unknown(self, el: dict, field: str, res: TfResource, attr: str, why: str) -> None:
        if field not in el.setdefault("_unknown", []):
            el["_unknown"].append(field)
        self.gap(f"{res.address}.{attr}", why)

    def gap(self, what: str, error: str) -> None:
        self.gaps.append({"provider": "terraform", "scope": self.source, "region": None, "what": what, "error": error})

    def refs(self, res: TfResource, path: tuple, types: tuple, el: dict | None = None, field: str = "") -> list[str]:
        """Addresses (or literal ids) an attribute refers to."""
        targets, known = self.linker.link(res, path, types)
        if not known and el is not None:
            self.unknown(el, field, res, ".".join(map(str, path)),
                         "unresolved reference: value known only after apply and not traceable in the configuration")
        return [t.address if isinstance(t, TfResource) else t for t in targets]

    def ref(self, res: TfResource, path: tuple, types: tuple, el: dict | None = None, field: str = "") -> str | None:
        found = self.refs(res, path, types, el, field)
        return found[0] if found else None

    def parent(self, res: TfResource, attr: str, types: tuple) -> dict | None:
        """The element a child resource (a rule, an association) adds itself to; a gap when unresolved."""
        target = self.ref(res, (attr,), types)
        el = self.el.get(target) if isinstance(target, str) else None
        if el is None:
            self.gap(f"{res.address}.{attr}", "unresolved reference: what it attaches to is not in the plan")
        return el

    def props(self, address: str | None) -> dict | None:
        el = self.el.get(address) if address else None
        return el.setdefault("properties", {}) if el is not None else None

    # -- translation ---------------------------------------------------------------------------------

    def translate(self) -> None:
        by_type: dict[str, list[TfResource]] = {}
        for res in self.doc.resources:
            if res.type.startswith("azurerm_") and res.mode == "managed":
                by_type.setdefault(res.type, []).append(res)
        order = (T_RG + T_NSG + T_RT + T_VNET + T_SUBNET + T_PIP + T_LB + T_POOL + T_NAT_RULE + T_NIC + T_UAI
                 + T_ROLE_DEF + T_VM + T_VMSS)
        for kind in order:
            for res in by_type.get(kind, []):
                getattr(self, "_" + kind.removeprefix("azurerm_"), self._vm if kind in T_VM else self._vmss)(res)
        for kind, handler in (("azurerm_network_security_rule", self._nsg_rule), ("azurerm_route", self._route),
                              ("azurerm_subnet_network_security_group_association", self._subnet_nsg),
                              ("azurerm_subnet_route_table_association", self._subnet_route_table),
                              ("azurerm_network_interface_security_group_association", self._nic_nsg),
                              ("azurerm_network_interface_backend_address_pool_association", self._nic_pool),
                              ("azurerm_network_interface_nat_rule_association", self._nic_nat_rule),
                              ("azurerm_lb_rule", self._lb_rule), ("azurerm_virtual_network_peering", self._peering),
                              ("azurerm_role_assignment", self._role_assignment),
                              ("azurerm_federated_identity_credential", self._federated_identity_credential)):
            for res in by_type.get(kind, []):
                handler(res)
                self.translated[res.type] += 1

    def _resource_group(self, res: TfResource) -> None:
        self.add("resource_groups", res)["id"] = f"/subscriptions/{self.subscription}/resourceGroups/{res.values.get('name')}"

    def _network_security_group(self, res: TfResource) -> None:
        rules = [self._rule(block) for block in _list(res.values.get("security_rule"))]
        el = self.add("network_security_groups", res, properties={"securityRules": rules})
        # Without inline rules the attribute is filled at apply from separate rule resources: only
        # inline rules the configuration writes, unknown in the plan, are unknown rules.
        if get_value(res, ("security_rule",))[1] and not rules and self.linker.expression(res, ("security_rule",)):
            self.unknown(el, "securityRules", res, "security_rule", "rules known only after apply")

    @staticmethod
    def _rule(v: dict) -> dict:
        p = {"priority": v.get("priority"), "direction": v.get("direction"), "access": v.get("access"),
             "protocol": v.get("protocol") or "*"}
        for tf, arm in (("destination_port_range", "destinationPortRange"), ("destination_port_ranges", "destinationPortRanges"),
                        ("source_address_prefix", "sourceAddressPrefix"), ("source_address_prefixes", "sourceAddressPrefixes"),
                        ("destination_address_prefix", "destinationAddressPrefix"),
                        ("destination_address_prefixes", "destinationAddressPrefixes")):
            if v.get(tf) not in (None, "", []):
                p[arm] = v[tf]
        return {"name": v.get("name"), "properties": p}

    def _nsg_rule(self, res: TfResource) -> None:
        nsg = self.parent(res, "network_security_group_name", T_NSG)
        if nsg is not None:
            nsg["properties"]["securityRules"].append(self._rule(res.values))

    def _route_table(self, res: TfResource) -> None:
        self.add("route_tables", res, properties={"routes": [self._route_of(b) for b in _list(res.values.get("route"))]})

    @staticmethod
    def _route_of(v: dict) -> dict:
        return {"name": v.get("name"), "properties": {"addressPrefix": v.get("address_prefix"),
                                                      "nextHopType": v.get("next_hop_type"),
                                                      "nextHopIpAddress": v.get("next_hop_in_ip_address")}}

    def _route(self, res: TfResource) -> None:
        table = self.parent(res, "route_table_name", T_RT)
        if table is not None:
            table["properties"]["routes"].append(self._route_of(res.values))

    def _virtual_network(self, res: TfResource) -> None:
        subnets = [{"id": f"{res.address}/subnets/{b.get('name')}", "name": b.get("name"),
                    "properties": {"addressPrefixes": _list(b.get("address_prefixes") or b.get("address_prefix")),
                                   **({"networkSecurityGroup": {"id": self.ref(res, ("subnet", n, "security_group"), T_NSG)}}
                                      if b.get("security_group") else {})}}
                   for n, b in enumerate(_list(res.values.get("subnet")))]
        el = self.add("virtual_networks", res, properties={
            "addressSpace": {"addressPrefixes": _list(res.values.get("address_space"))},
            "subnets": subnets, "virtualNetworkPeerings": []})
        for sub in subnets:
            self.el[sub["id"]] = sub
        if get_value(res, ("address_space",))[1]:
            self.unknown(el, "addressPrefixes", res, "address_space", "address space known only after apply")

    def _subnet(self, res: TfResource) -> None:
        vnet = self.parent(res, "virtual_network_name", T_VNET)
        prefixes = _list(res.values.get("address_prefixes") or res.values.get("address_prefix"))
        subnet = {"id": res.address, "name": res.values.get("name") or res.name, "_address": res.address,
                  "properties": {"addressPrefixes": prefixes}}
        for attr, arm, types in (("network_security_group_id", "networkSecurityGroup", T_NSG),
                                 ("route_table_id", "routeTable", T_RT)):  # azurerm 1.x arguments
            target = self.ref(res, (attr,), types) if res.values.get(attr) or get_value(res, (attr,))[1] else None
            if target:
                subnet["properties"][arm] = {"id": target}
        self.el[res.address] = subnet
        self.translated[res.type] += 1
        if vnet is not None:
            vnet["properties"]["subnets"].append(subnet)

    def _subnet_nsg(self, res: TfResource) -> None:
        subnet = self.props(self.ref(res, ("subnet_id",), T_SUBNET))
        nsg = self.ref(res, ("network_security_group_id",), T_NSG)
        if subnet is None or not nsg:
            self.gap(f"{res.address}", "unresolved reference: the subnet or NSG it associates is not in the plan")
        else:
            subnet["networkSecurityGroup"] = {"id": nsg}

    def _subnet_route_table(self, res: TfResource) -> None:
        subnet = self.props(self.ref(res, ("subnet_id",), T_SUBNET))
        table = self.ref(res, ("route_table_id",), T_RT)
        if subnet is None or not table:
            self.gap(f"{res.address}", "unresolved reference: the subnet or route table it associates is not in the plan")
        else:
            subnet["routeTable"] = {"id": table}

    def _public_ip(self, res: TfResource) -> None:
        address, unknown = get_value(res, ("ip_address",))
        sku = res.values.get("sku") or "Basic"  # the azurerm 3.x default (4.x: Standard, which plans show)
        self.add("public_ip_addresses", res, sku={"name": sku}, properties={
            "ipAddress": address if isinstance(address, str) and address else None,
            "publicIPAllocationMethod": res.values.get("allocation_method") or "Dynamic"})

    def _lb(self, res: TfResource) -> None:
        fronts = []
        for n, b in enumerate(_list(res.values.get("frontend_ip_configuration"))):
            pip = self.ref(res, ("frontend_ip_configuration", n, "public_ip_address_id"), T_PIP)
            subnet = self.ref(res, ("frontend_ip_configuration", n, "subnet_id"), T_SUBNET)
            fronts.append({"id": f"{res.address}/frontendIPConfigurations/{b.get('name')}", "name": b.get("name"),
                           "properties": {**({"publicIPAddress": {"id": pip}} if pip else {}),
                                          **({"subnet": {"id": subnet}} if subnet else {})}})
        self.add("load_balancers", res, sku={"name": res.values.get("sku") or "Basic"},
                 properties={"frontendIPConfigurations": fronts, "backendAddressPools": [],
                             "loadBalancingRules": [], "inboundNatRules": []})

    def _front(self, lb: dict, name: Any) -> dict:
        return {"id": f"{lb['id']}/frontendIPConfigurations/{name}"}

    def _lb_backend_address_pool(self, res: TfResource) -> None:
        lb = self.parent(res, "loadbalancer_id", T_LB)
        pool = {"id": res.address, "name": res.values.get("name"), "properties": {}}
        self.el[res.address] = pool
        self.translated[res.type] += 1
        if lb is not None:
            lb["properties"]["backendAddressPools"].append(pool)

    def _lb_nat_rule(self, res: TfResource) -> None:
        lb = self.parent(res, "loadbalancer_id", T_LB)
        rule = {"id": res.address, "name": res.values.get("name"), "properties": {
            "protocol": res.values.get("protocol"), "frontendPort": res.values.get("frontend_port"),
            "backendPort": res.values.get("backend_port"),
            "frontendIPConfiguration": self._front(lb or {"id": ""}, res.values.get("frontend_ip_configuration_name"))}}
        self.el[res.address] = rule
        self.translated[res.type] += 1
        if lb is not None:
            lb["properties"]["inboundNatRules"].append(rule)

    def _lb_rule(self, res: TfResource) -> None:
        lb = self.parent(res, "loadbalancer_id", T_LB)
        if lb is None:
            return
        pools = self.refs(res, ("backend_address_pool_ids",), T_POOL) or self.refs(res, ("backend_address_pool_id",), T_POOL)
        for n, pool in enumerate(pools or [None]):
            lb["properties"]["loadBalancingRules"].append({"id": f"{res.address}/{n}", "name": res.values.get("name"), "properties": {
                "protocol": res.values.get("protocol"), "frontendPort": res.values.get("frontend_port"),
                "backendPort": res.values.get("backend_port"),
                "frontendIPConfiguration": self._front(lb, res.values.get("frontend_ip_configuration_name")),
                **({"backendAddressPool": {"id": pool}} if pool else {})}})

    def _network_interface(self, res: TfResource) -> None:
        configs = []
        for n, b in enumerate(_list(res.values.get("ip_configuration"))):
            props: dict = {"privateIPAddress": b.get("private_ip_address") or None,
                           "loadBalancerBackendAddressPools": [], "loadBalancerInboundNatRules": []}
            subnet = self.ref(res, ("ip_configuration", n, "subnet_id"), T_SUBNET)
            if subnet:
                props["subnet"] = {"id": subnet}
            pip = self.ref(res, ("ip_configuration", n, "public_ip_address_id"), T_PIP)
            if pip:
                props["publicIPAddress"] = {"id": pip}
            configs.append({"id": f"{res.address}/ipConfigurations/{b.get('name')}", "name": b.get("name"),
                            "properties": props})
        el = self.add("network_interfaces", res, properties={"ipConfigurations": configs})
        nsg = self.ref(res, ("network_security_group_id",), T_NSG) if "network_security_group_id" in res.values else None
        if nsg:  # azurerm 1.x
            el["properties"]["networkSecurityGroup"] = {"id": nsg}

    def _nic_nsg(self, res: TfResource) -> None:
        nic = self.props(self.ref(res, ("network_interface_id",), T_NIC))
        nsg = self.ref(res, ("network_security_group_id",), T_NSG)
        if nic is None or not nsg:
            self.gap(res.address, "unresolved reference: the NIC or NSG it associates is not in the plan")
        else:
            nic["networkSecurityGroup"] = {"id": nsg}

    def _config_of(self, res: TfResource) -> dict | None:
        nic = self.props(self.ref(res, ("network_interface_id",), T_NIC))
        configs = (nic or {}).get("ipConfigurations") or []
        name = res.values.get("ip_configuration_name")
        found = next((c for c in configs if c.get("name") == name), configs[0] if configs else None)
        if found is None:
            self.gap(res.address, "unresolved reference: the NIC it associates is not in the plan")
        return found

    def _nic_pool(self, res: TfResource) -> None:
        config, pool = self._config_of(res), self.ref(res, ("backend_address_pool_id",), T_POOL)
        if config is not None and pool:
            config["properties"]["loadBalancerBackendAddressPools"].append({"id": pool})

    def _nic_nat_rule(self, res: TfResource) -> None:
        config, rule = self._config_of(res), self.ref(res, ("nat_rule_id",), T_NAT_RULE)
        if config is not None and rule:
            config["properties"]["loadBalancerInboundNatRules"].append({"id": rule})

    def _peering(self, res: TfResource) -> None:
        vnet = self.parent(res, "virtual_network_name", T_VNET)
        remote = self.ref(res, ("remote_virtual_network_id",), T_VNET)
        if vnet is not None and remote:
            # Connected when the other side's peering is declared too (normalization pairs them).
            vnet["properties"]["virtualNetworkPeerings"].append({
                "id": res.address, "name": res.values.get("name"),
                "properties": {"remoteVirtualNetwork": {"id": remote}, "peeringState": "Connected"}})

    def _user_assigned_identity(self, res: TfResource) -> None:
        self.add("user_assigned_identities", res, properties={"principalId": f"{res.address}#principal"})

    def _federated_identity_credential(self, res: TfResource) -> None:
        """A credential of a user-assigned identity, named under it as Resource Manager names it
        (`parent_id`; azurerm 4 also says `user_assigned_identity_id`)."""
        identity = self.ref(res, ("user_assigned_identity_id",), T_UAI) if "user_assigned_identity_id" in res.values \
            or get_value(res, ("user_assigned_identity_id",))[1] else None
        identity = identity or self.ref(res, ("parent_id",), T_UAI)
        if identity is None:
            self.gap(res.address, "unresolved reference: the identity it belongs to is not in the plan")
            return
        name = res.values.get("name") or res.name
        credential = {"id": f"{identity}/federatedIdentityCredentials/{name}", "name": name, "_address": res.address,
                      "_source": self.source, "properties": {
                          "issuer": res.values.get("issuer"), "subject": res.values.get("subject"),
                          "audiences": _list(res.values.get("audience"))}}
        for attr in ("issuer", "subject"):
            if get_value(res, (attr,))[1] or not isinstance(res.values.get(attr), str):
                credential.setdefault("_unknown", []).append(attr)
                self.gap(f"{res.address}.{attr}", f"{attr} known only after apply: who can become the identity "
                                                  "is unknown")
        self.lists.setdefault("federated_identity_credentials", []).append(credential)

    def _identity(self, res: TfResource, el: dict) -> None:
        block = _block(res.values, "identity")
        kind = str(block.get("type") or "")
        if not kind:
            return
        identity: dict = {"type": kind}
        if "systemassigned" in kind.lower().replace(" ", "").replace(",", ""):
            identity["principalId"] = f"{res.address}#principal"
        uais = self.refs(res, ("identity", 0, "identity_ids"), T_UAI)
        if uais:
            identity["userAssignedIdentities"] = {u: {"principalId": f"{u}#principal"} for u in uais}
        el["identity"] = identity

    def _image(self, res: TfResource) -> dict:
        ref = _block(res.values, "source_image_reference") or _block(res.values, "storage_image_reference")
        if ref:
            return {k: ref.get(k) for k in ("publisher", "offer", "sku", "version") if ref.get(k)}
        image = res.values.get("source_image_id")
        return {"id": image} if isinstance(image, str) and image else {}

    def _launch_data(self, res: TfResource, el: dict, props: dict) -> None:
        os_profile = _block(res.values, "os_profile")
        for attr, path, field in (("custom_data", ("custom_data",), "customData"), ("user_data", ("user_data",), "userData"),
                                  ("os_profile.custom_data", ("os_profile", 0, "custom_data"), "customData")):
            value, unknown = get_value(res, path)
            if unknown:
                self.unknown(el, field, res, attr, "launch data known only after apply")
            elif isinstance(value, str) and value:
                if field == "customData":
                    props.setdefault("osProfile", {})["customData"] = value
                else:
                    props["userData"] = value
        if os_profile.get("computer_name"):
            props.setdefault("osProfile", {})["computerName"] = os_profile["computer_name"]

    def _vm(self, res: TfResource) -> None:
        nics = self.refs(res, ("network_interface_ids",), T_NIC)
        props: dict = {"storageProfile": {"imageReference": self._image(res)},
                       "networkProfile": {"networkInterfaces": [{"id": n} for n in nics]}}
        el = self.add("virtual_machines", res, properties=props)
        self._launch_data(res, el, props)
        self._identity(res, el)

    def _vmss(self, res: TfResource) -> None:
        """A scale set, and one member standing for its instances (they share everything a check reads)."""
        scale_set = self.add("virtual_machine_scale_sets", res, properties={})
        member = {"id": f"{res.address}/virtualMachines/0", "name": f"{res.values.get('name') or res.name}_0",
                  "location": res.values.get("location"), "tags": _tags(res.values), "_address": res.address,
                  "_source": self.source, **({"_resource_group": scale_set["_resource_group"]}
                                             if scale_set.get("_resource_group") else {})}
        nic_refs = []
        for n, block in enumerate(_list(res.values.get("network_interface"))):
            configs = []
            for m, config in enumerate(_list(block.get("ip_configuration"))):
                path = ("network_interface", n, "ip_configuration", m)
                props: dict = {"loadBalancerBackendAddressPools": [
                    {"id": p} for p in self.refs(res, path + ("load_balancer_backend_address_pool_ids",), T_POOL)],
                    "loadBalancerInboundNatRules": []}
                subnet = self.ref(res, path + ("subnet_id",), T_SUBNET)
                if subnet:
                    props["subnet"] = {"id": subnet}
                if config.get("public_ip_address"):
                    props["publicIPAddress"] = {"id": f"{member['id']}/publicIPAddress"}
                    self.lists.setdefault("public_ip_addresses", []).append({
                        "id": f"{member['id']}/publicIPAddress", "name": f"{member['name']}-pip",
                        "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static"}})
                configs.append({"id": f"{member['id']}/nic{n}/ipConfigurations/{config.get('name')}",
                                "name": config.get("name"), "properties": props})
            nic = {"id": f"{member['id']}/nic{n}", "name": block.get("name") or f"nic{n}",
                   "properties": {"ipConfigurations": configs}}
            nsg = self.ref(res, ("network_interface", n, "network_security_group_id"), T_NSG)
            if nsg:
                nic["properties"]["networkSecurityGroup"] = {"id": nsg}
            self.lists.setdefault("network_interfaces", []).append(nic)
            nic_refs.append({"id": nic["id"]})
        props = {"storageProfile": {"imageReference": self._image(res)},
                 "networkProfile": {"networkInterfaces": nic_refs}}
        member["properties"] = props
        self._launch_data(res, member, props)
        self._identity(res, member)
        if member.get("identity"):
            scale_set["identity"] = member["identity"]
        self.lists.setdefault("scale_set_vms", []).append(member)

    def _role_definition(self, res: TfResource) -> None:
        permissions = [{"actions": _list(b.get("actions")), "notActions": _list(b.get("not_actions")),
                        "dataActions": _list(b.get("data_actions")), "notDataActions": _list(b.get("not_data_actions"))}
                       for b in _list(res.values.get("permissions"))]
        self.add("role_definitions", res, properties={"roleName": res.values.get("name"), "type": "CustomRole",
                                                       "permissions": permissions})

    def _scope(self, res: TfResource) -> str | None:
        targets, known = self.linker.link(res, ("scope",), T_RG + T_SUBSCRIPTION)
        for target in targets:
            if isinstance(target, TfResource):
                if target.type in T_RG:
                    return f"/subscriptions/{self.subscription}/resourceGroups/{target.values.get('name')}"
                if isinstance(target.values.get("id"), str):
                    return target.values["id"]
                return f"/subscriptions/{self.subscription}"
            if isinstance(target, str):
                return target
        for r in self.doc.resources:  # data.azurerm_subscription.current.id, read at plan time
            if r.mode == "data" and r.type == "azurerm_subscription" and isinstance(r.values.get("id"), str):
                return r.values["id"]
        return None

    def _role_assignment(self, res: TfResource) -> None:
        principals = self.refs(res, ("principal_id",), T_VM + T_VMSS + T_UAI)
        scope = self._scope(res)
        name = res.values.get("role_definition_name")
        if isinstance(name, str) and name.lower() in BUILT_IN_BY_NAME:
            role = f"/subscriptions/{self.subscription}/providers/Microsoft.Authorization/roleDefinitions/" \
                   f"{BUILT_IN_BY_NAME[name.lower()]}"
        else:
            role = self.ref(res, ("role_definition_id",), T_ROLE_DEF) or (
                f"(role {name} not in the plan)" if name else None)
        if scope is None or role is None or not principals:
            self.gap(res.address, "role assignment's scope, role or principal known only after apply and not traceable "
                                  "in the configuration")
            return
        for principal in principals:
            principal_id = f"{principal}#principal" if not re.fullmatch(r"[0-9a-fA-F-]{36}", str(principal)) else principal
            self.lists.setdefault("role_assignments", []).append({
                "id": res.address, "name": res.name, "_address": res.address,
                "properties": {"principalId": principal_id, "scope": scope, "roleDefinitionId": role}})

    def snapshot_part(self) -> dict[str, list[dict]]:
        part = {name: items for name, items in self.lists.items()}
        part["subscription"] = [{"id": f"/subscriptions/{self.subscription}", "subscriptionId": self.subscription,
                                 "displayName": self.subscription}]
        return part
