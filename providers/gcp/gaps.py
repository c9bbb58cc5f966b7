"""The GCP provider's words for what it could not collect, in the facets of coverage analysis
(guardrails/analysis/coverage.py FACETS): normalization adds them to the graph's gap vocabulary."""

from __future__ import annotations

# The snapshot's lists, as the collector names them in a gap when it could not read them.
GAP_LISTS: dict[str, tuple[str, ...]] = {
    "project": ("production",),
    "compute.networks": ("joins", "production", "firewalls"),
    "compute.subnetworks": ("routes", "joins", "production"),
    "compute.firewalls": ("firewalls",),
    "compute.networkFirewallPolicies": ("firewalls",),
    "compute.routes": ("routes", "joins"),
    "compute.routers": (),
    "compute.sharedVpc": ("joins",),
    "compute.instances": ("compute", "production"),
    "compute.disks": ("compute",),
    "compute.instanceGroupManagers": ("compute",),
    "compute.instanceTemplates": (),
    "compute.instanceGroups": ("load_balancers",),
    "compute.addresses": (),
    "compute.globalAddresses": (),
    "compute.forwardingRules": ("load_balancers",),
    "compute.globalForwardingRules": ("load_balancers",),
    "compute.backendServices": ("load_balancers",),
    "compute.regionBackendServices": ("load_balancers",),
    "compute.targetPools": ("load_balancers",),
    "compute.urlMaps": ("load_balancers",),
    "compute.targetHttpProxies": ("load_balancers",),
    "compute.targetHttpsProxies": ("load_balancers",),
    "compute.targetTcpProxies": ("load_balancers",),
    "compute.targetSslProxies": ("load_balancers",),
    "iam_policies": ("identity", "production"),
    "iam.serviceAccounts": ("identity",),
    "iam.serviceAccountPolicies": ("identity",),
    "iam.customRoles": ("identity",),
    "iam.roles": ("identity",),
    "iam.serviceAccountKeys": (),  # stored keys: the CI identity's own finding says it is undecided
    "iam.workloadIdentityPools": (),  # issuers of hosted pipelines' tokens: no node's facet
    "iam.workloadIdentityPoolProviders": (),
}

# A gap naming one resource: the facet by the words of what it names, first match.
GAP_WORDS = (("shared vpc", "joins"), ("network firewall polic", "firewalls"), ("firewall", "firewalls"), ("subnet", "routes"),
             ("route", "routes"), ("peering", "joins"), ("service account", "identity"), ("role", "identity"),
             ("iam polic", "identity"),
             ("workload identity", "identity"), ("federation", "identity"), ("load balancer", "load_balancers"), ("backend", "load_balancers"),
             ("instance group", "load_balancers"), ("url map", "load_balancers"), ("metadata", "launch_data"))
