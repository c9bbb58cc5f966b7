"""Azure Resource Manager vocabulary shared by collection, normalization and the Terraform
translation: id handling, built-in roles, default NSG rules and service tags."""

from __future__ import annotations

# ARM ids are case-insensitive: references between resources are matched on the lower-cased id.


def key(arm_id: object) -> str:
    return arm_id.lower() if isinstance(arm_id, str) else ""


def props(item: dict | None) -> dict:
    """The `properties` of an ARM element ({} when absent)."""
    if item is None:
        return {}
    found = item.get("properties")
    return found if type(found) is dict else {}


def ref(value: object) -> str | None:
    """The id of a sub-resource reference ({"id": ...}), or None."""
    if isinstance(value, dict) and isinstance(value.get("id"), str) and value["id"]:
        return value["id"]
    return None


def parent_of(arm_id: str, levels: int = 2) -> str:
    """The id `levels` segments up: a subnet's VNet, a rule's load balancer."""
    return "/".join(arm_id.split("/")[:-levels])


def subscription_of(arm_id: str) -> str | None:
    parts = arm_id.split("/")
    for n, part in enumerate(parts[:-1]):
        if part.lower() == "subscriptions":
            return parts[n + 1]
    return None


def resource_group_of(arm_id: str) -> str | None:
    """The resource group's own id (/subscriptions/S/resourceGroups/RG), or None."""
    parts = arm_id.split("/")
    for n, part in enumerate(parts[:-1]):
        if part.lower() == "resourcegroups":
            return "/".join(parts[:n + 2])
    return None


def subscription_scope(subscription_id: str) -> str:
    return f"/subscriptions/{subscription_id}"


# Built-in role definitions that are administrator of the scope they are assigned at (CHECKS.md):
# name and the GUID that is the same in every tenant.
ADMIN_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
}
READER_ROLE = "acdd72a7-3385-48ef-bd42-f606fba81ae7"

# The built-in roles' permissions, for an assignment whose definition was not collected (or a plan
# that names a built-in role by name): the published definitions, trimmed to what power reads.
BUILT_IN_ROLES: dict[str, dict] = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": {"roleName": "Owner", "permissions": [{"actions": ["*"]}]},
    "b24988ac-6180-42a0-ab88-20f7382dd24c": {"roleName": "Contributor", "permissions": [{
        "actions": ["*"],
        "notActions": ["Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write",
                       "Microsoft.Authorization/elevateAccess/Action", "Microsoft.Blueprint/blueprintAssignments/write",
                       "Microsoft.Blueprint/blueprintAssignments/delete", "Microsoft.Compute/galleries/share/action",
                       "Microsoft.Purview/consents/write", "Microsoft.Purview/consents/delete",
                       "Microsoft.Resources/deploymentStacks/manageDenySetting/action",
                       "Microsoft.Subscription/cancel/action", "Microsoft.Subscription/enable/action"]}]},
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": {"roleName": "User Access Administrator", "permissions": [{
        "actions": ["*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"]}]},
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": {"roleName": "Reader", "permissions": [{"actions": ["*/read"]}]},
    "f58310d9-a9f6-439a-9e8d-f62e7b41a168": {"roleName": "Role Based Access Control Administrator",
                                             "permissions": [{"actions": [
                                                 "Microsoft.Authorization/roleAssignments/write",
                                                 "Microsoft.Authorization/roleAssignments/delete", "*/read",
                                                 "Microsoft.Support/*"]}]},
    "9980e02c-c2be-4d73-94e8-173b1dc7cf3c": {"roleName": "Virtual Machine Contributor", "permissions": [{
        "actions": ["Microsoft.Compute/virtualMachines/*", "Microsoft.Network/networkInterfaces/*",
                    "Microsoft.Resources/subscriptions/resourceGroups/read", "Microsoft.Authorization/*/read"]}]},
    "4d97b98b-1d4f-4787-a291-c67834d212e7": {"roleName": "Network Contributor", "permissions": [{
        "actions": ["Microsoft.Network/*", "Microsoft.Authorization/*/read",
                    "Microsoft.Resources/subscriptions/resourceGroups/read"]}]},
}
BUILT_IN_BY_NAME = {role["roleName"].lower(): guid for guid, role in BUILT_IN_ROLES.items()}


def role_guid(role_definition_id: object) -> str:
    """The GUID ending a role definition id (the same for a built-in role at every scope)."""
    return role_definition_id.rsplit("/", 1)[-1].lower() if isinstance(role_definition_id, str) else ""


# Default security rules of every NSG (https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview#default-security-rules).
def _default(name: str, priority: int, direction: str, access: str, source: str, destination: str) -> dict:
    return {"name": name, "properties": {"priority": priority, "direction": direction, "access": access,
                                         "protocol": "*", "sourcePortRange": "*", "destinationPortRange": "*",
                                         "sourceAddressPrefix": source, "destinationAddressPrefix": destination}}


DEFAULT_SECURITY_RULES = (
    _default("AllowVnetInBound", 65000, "Inbound", "Allow", "VirtualNetwork", "VirtualNetwork"),
    _default("AllowAzureLoadBalancerInBound", 65001, "Inbound", "Allow", "AzureLoadBalancer", "*"),
    _default("DenyAllInBound", 65500, "Inbound", "Deny", "*", "*"),
    _default("AllowVnetOutBound", 65000, "Outbound", "Allow", "VirtualNetwork", "VirtualNetwork"),
    _default("AllowInternetOutBound", 65001, "Outbound", "Allow", "*", "Internet"),
    _default("DenyAllOutBound", 65500, "Outbound", "Deny", "*", "*"),
)

# Address prefixes of an NSG rule that stand for every internet address.
INTERNET_PREFIXES = frozenset({"*", "internet", "any", "0.0.0.0/0", "::/0"})
# The address health probes come from (the AzureLoadBalancer service tag).
AZURE_LOAD_BALANCER_ADDRESS = "168.63.129.16/32"

# Private address space (RFC 1918, shared RFC 6598, IPv6 unique local): where a VNet's addresses lie.
# Every service tag but VirtualNetwork names public ranges (Azure's services, its load balancer's
# probe address), so none holds a VM's private address.
PRIVATE_PREFIXES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
