"""How each check of the catalogue applies to Google Cloud, or why it does not (`guardrails checks`)."""

from __future__ import annotations

CHECK_NOTES = {
    "ci-internet-exposed": "applies: an access config with a NAT IP, a route to the default internet gateway that "
                           "applies to the instance (untagged or one of its network tags), and the VPC firewall rules "
                           "that apply to it (target tags, target service accounts) in priority order, deny first at "
                           "equal priority, implied deny at 65535; or an external forwarding rule whose backend "
                           "service or target pool holds its instance group, the firewall admitting Google's front "
                           "ends (35.191.0.0/16, 130.211.0.0/22) for proxies, the clients for pass-through.",
    "ci-firewall-allows-internet": "applies: the VPC firewall rules that apply to the instance, on their own. "
                                   "Network and hierarchical firewall policies are not evaluated: where a project "
                                   "has network firewall policies, that is a coverage gap.",
    "ci-internet-gateway-segment": "applies: the instance has an external IP and the network's route to the default "
                                   "internet gateway applies to it (Cloud NAT alone is not one).",
    "ci-not-behind-load-balancer": "applies: a CI server with an access config holding a NAT IP (ephemeral or "
                                   "reserved).",
    "ci-reaches-production": "applies: same network (Shared VPC included: service projects' instances in the host's "
                             "subnets), or networks joined by an active peering, and the production instance's "
                             "firewall rules admitting the CI instance by range, source tag or source service "
                             "account on some port.",
    "ci-admin-identity": ("applies: roles/owner or roles/editor bound to the VM's service account on the project, a "
                          "folder or the organization above it (the default compute service account holds editor "
                          "by default), itself or through service accounts it can impersonate (Token Creator), "
                          "when the VM's access scopes include cloud-platform: its token is limited to the APIs its "
                          "scopes open, so a VM with narrower scopes holds only that part; a binding under an IAM "
                          "condition is possible power, reported as unknown."),
    "ci-privilege-escalation": "applies: setIamPolicy on the project, a folder or the organization (Project IAM "
                               "Admin, Security Admin, custom roles), or actAs, key creation or setIamPolicy on a "
                               "service account that is administrator or escalating.",
    "ci-production-access": "applies: any role above viewer on a production project (labels env/environment/stage/"
                            "tier, a project id with the word prod, or the configuration), bound on the project or "
                            "on a folder or organization above it.",
    "ci-internet-to-admin-path": "applies: as for every provider, joining the exposure and identity findings above.",
    "ci-imds-v1": "does not apply: the GCE metadata server answers only requests carrying the Metadata-Flavor: Google "
                  "header, and its header-less legacy endpoints (v0.1, v1beta1) were turned off in 2020; an instance "
                  "has no setting that reopens them.",
    "ci-secret-in-user-data": "applies: every metadata item of the instance (startup-script, user-data and custom "
                              "keys; public ssh-keys and GCE's own bookkeeping left out).",
    "ci-long-lived-runner": "applies: a runner VM older than the limit, or not created by a managed instance group.",
    "ci-federation-unscoped": ("applies: a workload identity pool's OIDC provider with a CI platform's issuer, its "
                               "attribute condition (CEL: ==, !=, in, startsWith, &&, ||, ! over assertion.*, "
                               "attribute.* and google.subject) and the principal or principalSet that "
                               "roles/iam.workloadIdentityUser or Token Creator on a service account names, read "
                               "together, for issuers the configuration adds ([[ci.issuers]]) as for the platform "
                               "they name; assertion.repository_owner_id pins one owner, named by its id "
                               "(repository_owner_id 123), as in a customised AWS subject; any other condition is "
                               "unknown, never scoped."),
    "ci-stored-credential": ("applies: active user-managed keys of a service account that is a CI identity (IAM "
                             "keys.list), with their age; their last use is in Policy Analyzer and is not collected."),
}
