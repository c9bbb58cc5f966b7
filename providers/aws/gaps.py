"""The AWS provider's words for what it could not collect, in the facets of coverage analysis
(guardrails/analysis/coverage.py FACETS): normalization adds them to the graph's gap vocabulary."""

from __future__ import annotations

# The snapshot's lists (docs/snapshot-format.md), as a collector names them in a gap when it could
# not read them, and the facets each one holds.
GAP_LISTS: dict[str, tuple[str, ...]] = {
    "account_aliases": ("production",),
    "vpcs": ("joins", "production"),
    "subnets": ("routes", "acls", "joins", "production"),
    "route_tables": ("routes", "joins"),
    # Gateways are known by their id in the routes that name them; what these lists add (their
    # attachments) changes no verdict, so their gaps count in the exit code alone.
    "internet_gateways": (),
    "egress_only_internet_gateways": (),
    "nat_gateways": (),
    "network_acls": ("acls",),
    "security_groups": ("firewalls",),
    "managed_prefix_lists": ("firewalls",),
    "network_interfaces": ("interfaces",),  # read only for instances replied without theirs
    "instances": ("compute", "production"),
    "images": ("compute",),
    "auto_scaling_groups": ("compute",),
    "codebuild_projects": ("compute",),
    "load_balancers": ("load_balancers",),
    "listeners": ("load_balancers",),
    "listener_rules": ("load_balancers",),
    "target_groups": ("load_balancers",),
    "classic_load_balancers": ("load_balancers",),
    "vpc_peering_connections": ("joins",),
    "transit_gateway_attachments": ("joins",),
    "transit_gateway_route_tables": ("joins",),
    # What runs as a role: identity evaluation names what an unread list leaves unknown, for the
    # identities allowed to take such resources over, so these count in the exit code alone.
    "ssm_managed_instances": (),
    "lambda_functions": (),
    "cloudformation_stacks": (),
    "glue_dev_endpoints": (),
    "sagemaker_notebook_instances": (),
    "ecs_task_definitions": (),
    "launch_templates": (),
    "iam.roles": ("identity",),
    "iam.users": (),  # no node runs as a user
    "iam.groups": (),  # only users hold what their groups hold
    "iam.oidc_providers": (),  # issuers of hosted pipelines' tokens: no node's facet
    "iam.access_keys": (),
    "iam.policies": ("identity",),
    "iam.instance_profiles": ("profiles",),  # only nodes launched with an instance profile
}

# A gap naming one resource ("security group of i-0abc", "instances/i-0abc/UserData", a policy
# that could not be read): the facet by the words of what it names, first match.
GAP_WORDS = (("userdata", "launch_data"), ("user data", "launch_data"), ("user_data", "launch_data"),
                 ("security group", "firewalls"), ("prefix list", "firewalls"), ("network acl", "acls"),
                 ("subnet", "routes"), ("route", "routes"), ("instance profile", "identity"),
                 ("role", "identity"), ("polic", "identity"), ("iam", "identity"))
