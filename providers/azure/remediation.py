"""Each check's remediation in Azure's words (a finding on an Azure resource carries it instead of
the catalogue's): NSGs, public IPs, user-defined routes, managed identities and role assignments."""

from __future__ import annotations

REMEDIATION = {
    "ci-internet-exposed": "Take the public IP off the VM's network interface and publish the CI service only "
                           "through an application gateway with authentication, Azure Bastion or a VPN gateway; "
                           "delete the public load balancer's rules and inbound NAT rules that forward to it, and "
                           "close every NSG rule (on the NIC and on its subnet) that admits Internet, *, Any or "
                           "0.0.0.0/0. An interface with no NSG at either level gets one.",
    "ci-firewall-allows-internet": "Replace NSG rules whose source is Internet, *, Any or 0.0.0.0/0 with the "
                                   "AzureLoadBalancer or GatewayManager service tags, the application gateway's "
                                   "subnet, or the specific ranges that need access; a CI VM should never be one "
                                   "public IP away from exposure.",
    "ci-internet-gateway-segment": "Take the public IP off the VM and send its subnet's outbound traffic through a "
                                   "NAT gateway, or a user-defined route (UDR) for 0.0.0.0/0 to Azure Firewall or "
                                   "another virtual appliance, instead of the system route to the Internet.",
    "ci-not-behind-load-balancer": "Disassociate the public IP address from the VM's network interface (and delete "
                                   "it) and reach the VM only through a load balancer, an application gateway or "
                                   "Azure Bastion; an Azure Policy that denies public IPs on network interfaces "
                                   "keeps new ones from appearing.",
    "ci-reaches-production": "Segment build agents from production: give them a virtual network of their own without "
                             "VNet peering to production, and give production network interfaces and subnets NSGs "
                             "that deny the agents' ranges (the default rule AllowVnetInBound admits peered "
                             "networks); deploy through a controlled release pipeline instead.",
    "ci-admin-identity": "Give the VM's managed identity (or the federated identity) only the roles its jobs need, "
                         "at the resource groups or resources they touch; remove its Owner, Contributor and User "
                         "Access Administrator role assignments at subscription or management group scope.",
    "ci-privilege-escalation": "Remove the role assignments that let the managed identity write role assignments or "
                               "role definitions (Microsoft.Authorization/roleAssignments/write, roleDefinitions/write: "
                               "Owner, User Access Administrator, custom roles with Microsoft.Authorization/*), or "
                               "add a condition that keeps it from granting more power.",
    "ci-production-access": "Deploy to production only from a dedicated, protected pipeline: remove this identity's "
                            "write roles on production subscriptions and resource groups, and deploy through a "
                            "service connection whose identity only the release pipeline, with approvals, can use.",
    "ci-internet-to-admin-path": "Break the path at both ends: take the CI VM off the internet (no public IP, no "
                                 "public load balancer rule to it, NSGs that admit no Internet source) and take "
                                 "administrator, escalation and production roles away from its managed identity.",
    "ci-secret-in-user-data": "Remove the secret from the VM's user data or custom data and rotate it now; read it "
                              "at boot from Key Vault with the VM's managed identity, and register agents with "
                              "short-lived tokens.",
    "ci-long-lived-runner": "Run builds on ephemeral agents: a virtual machine scale set (Azure DevOps scale set "
                            "agents, or runners that delete their VM after each job) that replaces its instances "
                            "within a day, so footholds do not persist.",
    "ci-federation-unscoped": "Give the federated identity credential a subject naming one repository and branch or "
                              "environment (repo:OWNER/REPO:ref:refs/heads/main, repo:OWNER/REPO:environment:production) "
                              "or one Azure DevOps service connection, never a flexible expression that matches more.",
    "ci-stored-credential": "Replace the stored client secret or certificate with a federated identity credential "
                            "pinned to the pipeline's repository and branch; until then rotate it within the rotation "
                            "limit and remove the credentials that are not used.",
}
