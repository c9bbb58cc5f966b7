"""azurerm Terraform plans translated into the Azure provider's snapshot part: the scenario estates
of tests/azure_estates.py as plans give the findings their live collection gives, and the shared
Azure sample plans parse into the graphs their configuration describes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from azure_estates import SCENARIOS
from azure_plans import TerraformAzureEstate
from cloud_commands import check_remediation
from guardrails.analysis.reachability import compute_exposure
from guardrails.normalize import normalize
from guardrails.pipeline import scan_snapshots
from guardrails.providers.terraform import load_terraform

# Read in place beside the clone, as tests/test_terraform_load.py reads them.



def _plan(tmp_path, estate: TerraformAzureEstate) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(estate.plan()))
    return path


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_as_a_plan_has_the_findings_of_its_live_collection(tmp_path, name):
    plan = TerraformAzureEstate()
    estate, expected = SCENARIOS[name](plan)
    snapshots = load_terraform(_plan(tmp_path, estate))
    assert [s["provider"] for s in snapshots] == ["azure"]
    document = scan_snapshots(snapshots)
    assert {(f["check_id"], f["resource"]["id"]) for f in document["findings"]} == expected
    check_remediation(document)  # the change at each azurerm_* address


def test_sample_nsg_nic_public_ip_vm_modules_plan(samples_dir):
    """Terraform 0.12 plan of two modules: a Linux VM (NSG on its NIC admitting tcp/22 from `*`, no
    public IP) and a Windows VM (Basic public IP, NSG admitting tcp/3389 from `*`)."""
    snapshots = load_terraform(samples_dir / "05_tfcompliance_azure_nsg_nic_pip_vm_modules_tf0.12" / "plan.out.json")
    (snapshot,) = snapshots
    assert snapshot["provider"] == "azure" and snapshot["source"] == "terraform"
    graph = normalize(snapshots)
    linux = graph.node("module.linuxservers-fail.azurerm_virtual_machine.vm-linux[0]")
    windows = graph.node("module.windowsservers-pass.azurerm_virtual_machine.vm-windows[0]")
    assert linux.get("image_name") == "Canonical:UbuntuServer:16.04-LTS:latest"
    (linux_nic,) = linux.get("interfaces")
    assert linux_nic["subnet"] == "azurerm_subnet.internal" and not linux_nic["public"]
    assert linux_nic["groups"] == ["module.linuxservers-fail.azurerm_network_security_group.vm"]
    # The rule is a separate azurerm_network_security_rule resource, joined to its NSG by name.
    rules = [r.describe() for r in graph.node(linux_nic["groups"][0]).get("rules")]
    assert "myvm-nsg rule allow_remote_22_in_all (priority 100): allow tcp/22 from *" in rules
    assert any("AllowVnetInBound" in r and "10.0.0.0/16" in r for r in rules)
    (windows_nic,) = windows.get("interfaces")
    assert windows_nic["public"] and windows_nic["public_kind"] == "ephemeral"
    # Its custom data comes from a variable: known only after apply, said as a gap, not read as none.
    assert windows.get("unknown") == {"launch_data": "after_apply"}
    exposure = compute_exposure(graph)
    assert set(exposure) == {windows.id}
    assert exposure[windows.id].labels == ["tcp/3389"]


def test_sample_labelled_nsgs_plan(samples_dir):
    """Terraform 0.13 plan of four NSGs with inline and separate rules (service tags, prefixes,
    port ranges and lists; `*` among a rule's prefixes admits everyone): each admits the internet
    exactly where its rules say."""
    from guardrails.analysis.reachability import layer_of
    from guardrails.rules import admits_internet, format_portmap

    snapshots = load_terraform(samples_dir / "08_regula_azure_nsg_labeled_tf0.13" / "security_group_no_inbound_22_infra.json")
    graph = normalize(snapshots)
    admitted = {fw.name: format_portmap(admits_internet(layer_of([fw]), "ingress", 4).services().ports)
                for fw in graph.nodes("firewall")}
    assert admitted == {"invalidnsg1": ["tcp/0-65535"], "invalidnsg2": ["tcp/22"],
                        "testnsg": ["tcp/18-30", "tcp/34", "tcp/88"], "validnsg1": ["tcp/20"]}
    assert snapshots[0]["gaps"] == []


def test_a_federated_credential_whose_subject_is_known_after_apply_is_unknown_never_pinned(tmp_path):
    from azure_estates import CONTRIBUTOR, G, GITHUB, SUB

    plan = TerraformAzureEstate()
    plan.subscription(SUB, "ci-platform")
    plan.group(SUB, G)
    identity = plan.user_identity(SUB, G, "deployer", "p-deployer")
    plan.assign(SUB, "p-deployer", CONTRIBUTOR)
    repository = plan._add("github_repository", "infra", {"name": "infra"}, unknown=("full_name",))
    plan._add("azurerm_federated_identity_credential", "main", {
        "name": "main", "resource_group_name": G, "issuer": GITHUB, "audience": ["api://AzureADTokenExchange"]},
        {"parent_id": identity, "subject": (repository, "full_name")})
    snapshots = load_terraform(_plan(tmp_path, plan))
    assert any(g["what"].endswith("azurerm_federated_identity_credential.main.subject") for g in snapshots[0]["gaps"])
    document = scan_snapshots(snapshots)
    (finding,) = [f for f in document["findings"] if f["check_id"] == "ci-federation-unscoped"]
    assert finding["resource"]["id"] == identity and finding["confidence"] == "unknown"
    assert ("ci-admin-identity", identity) in {(f["check_id"], f["resource"]["id"]) for f in document["findings"]}
