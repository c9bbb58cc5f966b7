"""Azure: collection through the Azure SDK for Python (collect.py, read-only), the snapshot's shape
(validate.py), normalization into the estate graph (normalize.py) and managed identities' power
(identity.py). Heavy modules are imported when used, not here: the CLI imports this package to
register its commands, and the Azure libraries load only when an Azure scan runs."""

from __future__ import annotations

from typing import Any, Callable, Mapping


class AzureProvider:
    """The Azure side of the provider seam (guardrails/provider.py)."""

    name = "azure"

    def validate(self, snapshot: dict, where: str) -> None:
        from .validate import validate

        validate(snapshot, where)

    def decoders(self) -> Mapping[str, Callable[[bytes], object]]:
        return {}

    def normalize(self, snapshots: list[dict], graph: Any, consume: bool) -> Callable[[], None]:
        from .normalize import normalize

        return normalize(snapshots, graph)

    def identity_power(self, graph: Any, production: Mapping[str, str], config: Any):
        from .identity import AzureIdentities

        return AzureIdentities(graph, production, config)

    @property
    def partitioner(self):
        return None

    @property
    def remediation_texts(self) -> Mapping[str, str]:
        """Each check's remediation in Azure's words, which its findings carry."""
        from .remediation import REMEDIATION

        return REMEDIATION

    # How each check of the catalogue reads an Azure estate (docs/checks.md, "Azure").
    check_notes = {
        "ci-internet-exposed": "a public IP on the NIC (its subnet still routing 0.0.0.0/0 to the Internet), or a "
                               "public load balancer's load-balancing or inbound NAT rule to its backend pool (behind "
                               "a 0.0.0.0/0 route to an appliance, answers take that route: assumed to pass, and "
                               "said); the subnet's and the NIC's NSG must both allow, first match by priority with "
                               "the default rules; no NSG allows, except behind a Standard-SKU public IP or load "
                               "balancer",
        "ci-firewall-allows-internet": "each NSG, on the NIC and on its subnet, judged on its own with its default "
                                       "rules; source *, Internet, Any or 0.0.0.0/0 is the internet; a rule whose "
                                       "destination is another service tag (Storage, AzureLoadBalancer...) applies "
                                       "to no VM",
        "ci-internet-gateway-segment": "the NIC has a public IP and its subnet has no user route sending 0.0.0.0/0 to "
                                       "a virtual appliance or to None; a NAT gateway carries outbound flows only, "
                                       "so no verdict rests on one",
        "ci-not-behind-load-balancer": "a public IP on a CI server's NIC",
        "ci-reaches-production": "same VNet, or VNets peered with both peerings connected; the production NSGs "
                                 "admit the CI node's address; a VM is production by its tags or its resource "
                                 "group's or subscription's",
        "ci-admin-identity": "the VM's system- or user-assigned managed identity, or a user-assigned identity a CI "
                             "platform can become through a federated credential, holds Owner, Contributor or User "
                             "Access Administrator (or a role allowing every action) at subscription or management "
                             "group scope",
        "ci-privilege-escalation": "Microsoft.Authorization/roleAssignments/write or roleDefinitions/write through "
                                   "any role at any scope, wildcards and NotActions applied",
        "ci-production-access": "a role with a write action at a production subscription, a management group above "
                                "one, or a production resource group",
        "ci-internet-to-admin-path": "as for every cloud: an exposed node whose identity is admin, can escalate or "
                                     "can change production",
        "ci-imds-v1": "does not apply: Azure's Instance Metadata Service has no token-less version to turn off "
                      "(every request needs the Metadata: true header)",
        "ci-secret-in-user-data": "userData (read for CI VMs with $expand=userData) and, from Terraform plans, "
                                  "customData; Resource Manager never returns a live VM's customData",
        "ci-long-lived-runner": "a runner VM that is in no scale set, or was created (timeCreated) longer ago than "
                                "the limit",
        "ci-stored-credential": "does not apply: application (service principal) secrets and certificates live in "
                                "Microsoft Graph app registrations, outside Resource Manager, which this scan does "
                                "not read; a managed identity has no secret of its own",
        "ci-federation-unscoped": "federated identity credentials of user-assigned managed identities: a classic "
                                  "credential's subject is matched exactly, so it always pins one subject; a flexible "
                                  "one (claimsMatchingExpression, preview) matches by pattern and is judged like an "
                                  "AWS StringLike; an expression that cannot be read is unknown, never pinned",
    }


PROVIDER = AzureProvider()


def register_commands(app: Any, scan_app: Any) -> None:
    from .commands import register

    register(app, scan_app)
