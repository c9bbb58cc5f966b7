"""The Azure provider's words for what it could not collect, in the facets of coverage analysis
(guardrails/analysis/coverage.py FACETS): normalization adds them to the graph's gap vocabulary."""

from __future__ import annotations

# The snapshot's lists (docs/snapshot-format.md, "Azure"), as a collector names them in a gap when
# it could not read them, and the facets each one holds.
GAP_LISTS: dict[str, tuple[str, ...]] = {
    "subscription": ("production",),
    "resource_groups": ("production",),
    "virtual_networks": ("routes", "acls", "joins", "production"),
    "network_security_groups": ("firewalls", "acls"),
    "route_tables": ("routes", "joins"),
    "public_ip_addresses": ("interfaces",),
    "network_interfaces": ("interfaces", "firewalls"),
    "load_balancers": ("load_balancers",),
    "application_gateways": ("load_balancers",),
    "nat_gateways": (),  # outbound only: no check asks where a node's own flows leave (docs/checks.md)
    "virtual_machines": ("compute", "production"),
    "virtual_machine_statuses": (),  # a VM whose state is unknown is taken to run
    "virtual_machine_scale_sets": ("compute",),
    "scale_set_vms": ("compute",),
    "role_definitions": ("identity",),
    "role_assignments": ("identity",),
    "user_assigned_identities": ("identity",),
    "federated_identity_credentials": ("identity",),
}

# A gap naming one resource: the facet by the words of what it names, first match.
GAP_WORDS = (("federated identity credential", "identity"), ("user data", "launch_data"), ("userdata", "launch_data"), ("custom data", "launch_data"),
             ("network security group", "firewalls"), ("network interface", "interfaces"),
             ("subnet", "routes"), ("route", "routes"), ("role", "identity"), ("identity", "identity"))
