"""Each check's remediation in Google Cloud's words (a finding on a GCP resource carries it instead
of the catalogue's): VPC firewall rules, external IPs, Cloud NAT, service accounts and IAM roles."""

from __future__ import annotations

REMEDIATION = {
    "ci-internet-exposed": "Remove the instance's external IP (its access config) and publish the CI service only "
                           "through Identity-Aware Proxy, an internal load balancer, or an external load balancer "
                           "with authentication; delete the forwarding rule that serves it to the internet, and "
                           "disable or narrow every VPC firewall rule that admits 0.0.0.0/0 or ::/0 to it. Outbound "
                           "access goes through Cloud NAT.",
    "ci-firewall-allows-internet": "Replace VPC firewall rules whose source ranges hold 0.0.0.0/0 or ::/0 with "
                                   "Google's front-end ranges (35.191.0.0/16, 130.211.0.0/22) for a load balancer, "
                                   "Identity-Aware Proxy's range (35.235.240.0/20) for administration, or the "
                                   "specific ranges that need access; a CI instance should never be one external IP "
                                   "away from exposure.",
    "ci-internet-gateway-segment": "Take the external IP off the instance and give it outbound access through Cloud "
                                   "NAT on a Cloud Router, so the route to the default internet gateway carries no "
                                   "connection from the internet to it; or give that route network tags the CI "
                                   "instance does not carry.",
    "ci-not-behind-load-balancer": "Remove the instance's external IP (delete its access config; release a reserved "
                                   "static address it no longer needs) and reach it only through a load balancer or "
                                   "Identity-Aware Proxy; the organization policy constraints/compute.vmExternalIpAccess "
                                   "keeps new ones from appearing.",
    "ci-reaches-production": "Segment build runners from production: give them a VPC network of their own without "
                             "VPC Network Peering to production or a Shared VPC subnet shared with it, and remove the "
                             "production VPC firewall rules that admit the runners' network tags, service account "
                             "or ranges; deploy through a controlled deployment service (Cloud Deploy) instead.",
    "ci-admin-identity": "Give the instance's service account only the predefined roles its jobs need, on the "
                         "resources they touch; remove roles/owner and roles/editor bindings on the project, folder "
                         "or organization, and Token Creator on service accounts that hold them; do not run CI as the "
                         "default compute service account.",
    "ci-privilege-escalation": "Remove the IAM roles that let the service account change IAM policies "
                               "(setIamPolicy: Project IAM Admin, Security Admin) or act as, mint tokens for or create "
                               "keys of more powerful service accounts (iam.serviceAccounts.actAs, getAccessToken, "
                               "keys.create), or grant them on resources that cannot lead to more power.",
    "ci-production-access": "Deploy to production only from a dedicated, protected pipeline: remove this service "
                            "account's roles on production projects and on the folders above them, and let a "
                            "deployment service account in the production project, which only the release pipeline "
                            "may impersonate, make the changes.",
    "ci-internet-to-admin-path": "Break the path at both ends: take the CI instance off the internet (no external IP; "
                                 "Identity-Aware Proxy or an authenticated load balancer) and take administrator, "
                                 "escalation and production roles away from its service account and from every "
                                 "service account it can impersonate.",
    "ci-secret-in-user-data": "Remove the secret from the instance's metadata (startup-script, user-data or custom "
                              "keys) and rotate it now; read it at boot from Secret Manager with the instance's "
                              "service account, and register runners with short-lived tokens.",
    "ci-long-lived-runner": "Run builds on ephemeral runners: a managed instance group that replaces its instances "
                            "after each job or within a day (scaling to zero, or a maximum run duration), so "
                            "footholds do not persist.",
    "ci-federation-unscoped": "Give the workload identity pool provider an attribute condition naming the one "
                              "repository and the branch or environment that deploys (for GitHub Actions "
                              "assertion.sub == 'repo:OWNER/REPO:ref:refs/heads/main'), and grant "
                              "roles/iam.workloadIdentityUser to that principal only, not to the pool's "
                              "principalSet/*.",
    "ci-stored-credential": "Replace the service account key with Workload Identity Federation pinned to the "
                            "pipeline's repository and branch; until then disable the keys that are not used, "
                            "rotate the rest within the rotation limit, and enforce the organization policy "
                            "constraints/iam.disableServiceAccountKeyCreation.",
}
