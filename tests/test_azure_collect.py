"""Azure collection with the real client libraries against a fake Resource Manager on loopback
(HTTPS with a test CA, ARM's JSON shapes, nextLink paging, JSON 404 for anything not recorded):
one scenario per Azure rule of spec/CHECKS.md, read-only proven, failures as coverage gaps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from azure_estates import (CONTRIBUTOR, G, GITHUB, READER, SCENARIOS, SUB, AzureEstate, basic_public_ip_no_nsg,
                           contributor_identity, rule, subnet_allows_nic_denies)
from azure_fake import fake_arm
from cloud_commands import check_remediation
from guardrails.pipeline import scan_snapshots



@pytest.fixture(scope="module")
def arm(tmp_path_factory):
    with fake_arm(tmp_path_factory.mktemp("arm")) as fake:
        yield fake


@pytest.fixture
def fake(arm):
    arm.reset()
    return arm


def collect(fake, subscriptions=(SUB,), **kwargs) -> dict:
    from guardrails.providers.azure import collect as azure_collect
    from guardrails.providers.azure.commands import StaticToken

    options = {"connection_verify": fake.ca_path, "retry_total": 0}
    return azure_collect.collect(StaticToken("test-token"), list(subscriptions) if subscriptions else None,
                                 endpoint=fake.endpoint, client_options=options, **kwargs)


def findings(snapshot: dict) -> set[tuple[str, str]]:
    document = scan_snapshots([snapshot])
    return {(f["check_id"], f["resource"]["id"]) for f in document["findings"]}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_collected_live_has_the_findings_the_spec_says(fake, name):
    estate, expected = SCENARIOS[name]()
    fake.load(estate.paths())
    snapshot = collect(fake)
    assert snapshot["gaps"] == []
    assert findings(snapshot) == expected
    assert {method for method, _ in fake.requests} == {"GET"}
    # Each finding's remediation: well-formed az commands with the scan's own ids
    check_remediation(scan_snapshots([snapshot]))


def test_collection_reads_only_and_refuses_anything_else(fake):
    from guardrails.providers.azure.collect import Clients, WriteRefused
    from guardrails.providers.azure.commands import StaticToken

    clients = Clients(StaticToken("t"), SUB, fake.endpoint, {"connection_verify": fake.ca_path, "retry_total": 0})
    with pytest.raises(WriteRefused):
        clients.network.network_security_groups.begin_delete(G, "nsg").result()
    with pytest.raises(WriteRefused):
        clients.authorization.role_assignments.create(
            f"/subscriptions/{SUB}", "a", {"properties": {"roleDefinitionId": "x", "principalId": "p"}})
    assert fake.requests == []  # refused before anything was sent


def test_lists_are_followed_through_next_link(fake):
    estate = AzureEstate()
    estate.subscription(SUB, "ci-platform")
    for n in range(5):
        estate.nsg(SUB, G, f"nsg-{n}", [rule("ssh", 100, port="22")])
    fake.load(estate.paths())
    snapshot = collect(fake)
    names = [n["name"] for n in snapshot["subscriptions"][SUB]["network_security_groups"]]
    assert names == [f"nsg-{n}" for n in range(5)]
    assert any("skiptoken" in path for _, path in fake.requests)


def test_a_denied_list_is_a_gap_and_the_rest_goes_on(fake):
    estate, _ = subnet_allows_nic_denies()
    fake.load(estate.paths())
    fake.fail(f"/subscriptions/{SUB}/providers/Microsoft.Network/networkSecurityGroups", 403, "AuthorizationFailed",
              "The client does not have authorization to perform action 'Microsoft.Network/networkSecurityGroups/read'")
    snapshot = collect(fake)
    (gap,) = snapshot["gaps"]
    assert gap["what"] == "network_security_groups" and gap["error"].startswith("AuthorizationFailed")
    part = snapshot["subscriptions"][SUB]
    assert "network_security_groups" not in part and part["virtual_machines"]
    from guardrails.pipeline import scan_snapshots

    document = scan_snapshots([snapshot])
    assert not document["coverage"]["complete"]
    # The NSG that was not seen is not read as closed: the exposure is reported, marked unknown.
    exposed = [f for f in document["findings"] if f["check_id"] == "ci-internet-exposed"]
    assert exposed and exposed[0]["confidence"] == "unknown"


def test_a_role_definition_outside_the_list_is_read_by_id(fake):
    estate, expected = contributor_identity()
    definitions = estate.lists[SUB]["role_definitions"]
    estate.lists[SUB]["role_definitions"] = []  # listed at the subscription without it
    fake.load(estate.paths())
    fake.load({d["id"]: d for d in definitions})
    snapshot = collect(fake)
    assert [d["name"] for d in snapshot["subscriptions"][SUB]["role_definitions"]] == [CONTRIBUTOR]
    assert findings(snapshot) == expected


def test_every_subscription_the_credential_reads(fake):
    estate, expected = contributor_identity()
    fake.load(estate.paths())
    snapshot = collect(fake, subscriptions=None)
    assert list(snapshot["subscriptions"]) == [SUB]
    assert findings(snapshot) == expected


def test_subscriptions_under_a_management_group(fake):
    estate, expected = contributor_identity()
    fake.load(estate.paths())
    fake.load({"/providers/Microsoft.Management/managementGroups/platform/descendants": [
        {"id": f"/providers/Microsoft.Management/managementGroups/platform/subscriptions/{SUB}",
         "type": "Microsoft.Management/managementGroups/subscriptions", "name": SUB},
        {"id": "/providers/Microsoft.Management/managementGroups/child", "name": "child",
         "type": "Microsoft.Management/managementGroups"}]})
    snapshot = collect(fake, subscriptions=None, management_group="platform")
    assert list(snapshot["subscriptions"]) == [SUB]
    assert snapshot["scope"] == "managementGroups/platform"


def test_subscriptions_collected_as_tasks_give_the_same_snapshot_and_a_failed_task_is_gaps(fake, tmp_path,
                                                                                          monkeypatch):
    """Each subscription as a task of the collection engine's pool (the tasks a Dask cluster runs
    with --scheduler), writing its part; a task whose part cannot be stored, every try, leaves a
    gap for each list of its subscription, and the others are scanned."""
    from typer.testing import CliRunner

    from guardrails.cli import app

    estate, expected = contributor_identity()
    fake.load(estate.paths())
    unstorable = "f" * 300  # longer than a file name may be: its part cannot be written
    fake.load({"/providers/Microsoft.Management/managementGroups/platform/descendants": [
        {"id": f"/providers/Microsoft.Management/managementGroups/platform/subscriptions/{s}",
         "type": "Microsoft.Management/managementGroups/subscriptions", "name": s} for s in (SUB, unstorable)]})
    for name, value in {"REQUESTS_CA_BUNDLE": fake.ca_path, "GUARDRAILS_AZURE_ARM_ENDPOINT": fake.endpoint,
                        "GUARDRAILS_AZURE_ACCESS_TOKEN": "test-token"}.items():  # what each task reads, too
        monkeypatch.setenv(name, value)
    saved = tmp_path / "estate.json"
    result = CliRunner().invoke(app, ["scan", "azure", "--management-group", "platform", "--snapshot-dir",
                                      str(tmp_path / "parts"), "--save-snapshot", str(saved), "--quiet",
                                      "--format", "json", "--output", str(tmp_path / "findings.json")])
    assert result.exit_code in (1, 4) and saved.is_file(), result.output
    snapshot = json.loads(saved.read_text())
    in_process = collect(fake, subscriptions=[SUB])
    assert snapshot["subscriptions"][SUB] == in_process["subscriptions"][SUB]
    assert snapshot["scope"] == "managementGroups/platform"
    assert findings(snapshot) == findings(in_process) == expected
    assert (tmp_path / "parts" / f"{SUB}.json.gz").is_file()
    failed = [g for g in snapshot["gaps"] if g["scope"] == unstorable]
    assert {g["what"] for g in failed} >= {"subscription", "virtual_machines", "role_assignments"}
    assert all(g["error"].startswith("not collected: UserError: ") and "/parts/fff" in g["error"]
               for g in failed), failed[0]["error"]
    assert not [g for g in snapshot["gaps"] if g["scope"] == SUB]


# The installed command, as users run it (`python -m` would import the checkout's sources first).
GUARDRAILS = [str(Path(sys.executable).with_name("guardrails"))]

def _cli(fake, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = dict(os.environ) | {"REQUESTS_CA_BUNDLE": fake.ca_path, "GUARDRAILS_AZURE_ARM_ENDPOINT": fake.endpoint,
                                      "GUARDRAILS_AZURE_ACCESS_TOKEN": "test-token"} | (env or {})
    return subprocess.run([*GUARDRAILS, "scan", "azure", *args], capture_output=True,
                          text=True, env=environment, timeout=120)


def test_scan_azure_command_against_the_fake(fake, tmp_path):
    estate, expected = subnet_allows_nic_denies()
    fake.load(estate.paths())
    result = _cli(fake, "--subscription", SUB, "--format", "json", "--quiet",
                  "--save-snapshot", str(tmp_path / "estate.json.gz"))
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    assert {(f["check_id"], f["resource"]["id"]) for f in document["findings"]} == expected
    assert document["coverage"]["complete"]
    again = subprocess.run([*GUARDRAILS, "scan", "snapshot", str(tmp_path / "estate.json.gz"),
                            "--format", "json", "--quiet"], capture_output=True, text=True, timeout=120)
    assert {(f["check_id"], f["resource"]["id"]) for f in json.loads(again.stdout)["findings"]} == expected


def test_scan_azure_needs_one_scope_and_an_https_endpoint(fake):
    result = _cli(fake)
    assert result.returncode == 2 and "--subscription" in result.stderr
    result = _cli(fake, "--subscription", SUB, env={"GUARDRAILS_AZURE_ARM_ENDPOINT": "http://127.0.0.1:1"})
    assert result.returncode == 2 and "https://" in result.stderr


def test_nothing_collected_exits_3(fake):
    result = _cli(fake, "--subscription", "00000000-0000-0000-0000-00000000dead", "--quiet")
    assert result.returncode == 3, result.stderr
    assert result.stderr.count("\n") == 1


def test_the_cli_imports_no_azure_library_until_an_azure_scan_runs(tmp_path):
    code = ("import sys; from guardrails.cli import main; import guardrails.providers.azure; "
            "print(sorted(m for m in sys.modules if m.startswith('azure')))")
    # Run outside the checkout: `-c` puts the working directory first on sys.path.
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.stdout.strip() == "[]", result.stderr


def _action(path: str) -> str:
    """The Resource Manager action a GET of this path performs (its `.../read` operation)."""
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    lowered = [p.lower() for p in parts]
    if "providers" in lowered:
        at = len(lowered) - 1 - lowered[::-1].index("providers")
        namespace, rest = parts[at + 1], parts[at + 2:]
        types = rest[0::2]
    else:
        namespace, types = "Microsoft.Resources", ["subscriptions"] + (["resourceGroups"] if len(parts) > 2 else [])
    return f"{namespace}/{'/'.join(types)}/read"


READER_DEFINITION = Path(__file__).parent / "fixtures" / "azure" / "reader-role-definition.json"


def test_every_call_is_a_read_action_the_reader_role_allows(fake):
    """Reader is all the collector needs: every request it makes, over an estate with every kind
    it reads (scale sets, user data, role definitions read by id, user-assigned identities and
    their federated credentials, a flexible one read again with the preview API version), is a GET
    of a read action that the Reader role definition, as Resource Manager returns it, allows."""
    from guardrails.providers.azure.identity import allows

    estate, _ = SCENARIOS["runner_fleet_in_a_scale_set"]()
    estate.user_identity(SUB, G, "flexible", "p-flexible", [
        ("branches", GITHUB, {"value": "claims['sub'] matches 'repo:acme/app:*'", "languageVersion": 1})])
    for name in ("secret_in_user_data", "jenkins_behind_public_lb", "custom_role_assignments_write",
                 "federated_github_deployer"):
        other, _ = SCENARIOS[name]()
        for part, lists in other.lists.items():
            for kind, items in lists.items():
                estate.lists.setdefault(part, {}).setdefault(kind, []).extend(items)
        estate.vm_user_data.update(other.vm_user_data)
    fake.load(estate.paths())
    collect(fake, subscriptions=None)
    fake.load({"/providers/Microsoft.Management/managementGroups/platform/descendants": [
        {"id": f"/providers/Microsoft.Management/managementGroups/platform/subscriptions/{SUB}",
         "type": "Microsoft.Management/managementGroups/subscriptions", "name": SUB}]})
    collect(fake, subscriptions=None, management_group="platform")
    reader = json.loads(READER_DEFINITION.read_text())
    assert reader["properties"]["roleName"] == "Reader"
    reader = reader["properties"]["permissions"]
    actions = {_action(path) for method, path in fake.requests if method == "GET"}
    assert {method for method, _ in fake.requests} == {"GET"}
    # Every operation the collector calls (README, "The role it needs", lists the same).
    assert actions == {
        "Microsoft.Authorization/roleAssignments/read", "Microsoft.Authorization/roleDefinitions/read",
        "Microsoft.Compute/virtualMachineScaleSets/networkInterfaces/read",
        "Microsoft.Compute/virtualMachineScaleSets/read", "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/read",
        "Microsoft.Compute/virtualMachines/read",
        "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read",
        "Microsoft.ManagedIdentity/userAssignedIdentities/read",
        "Microsoft.Management/managementGroups/descendants/read",
        "Microsoft.Network/applicationGateways/read", "Microsoft.Network/loadBalancers/read",
        "Microsoft.Network/natGateways/read", "Microsoft.Network/networkInterfaces/read",
        "Microsoft.Network/networkSecurityGroups/read", "Microsoft.Network/publicIPAddresses/read",
        "Microsoft.Network/routeTables/read", "Microsoft.Network/virtualNetworks/read",
        "Microsoft.Resources/subscriptions/read", "Microsoft.Resources/subscriptions/resourceGroups/read"}
    assert [a for a in sorted(actions) if not allows(reader, a)] == []


def test_a_deallocated_vm_is_not_exposed(fake):
    """Whether each VM runs comes from the VM list with instance views (statusOnly=true)."""
    estate, expected = basic_public_ip_no_nsg()
    (vm,) = estate.lists[SUB]["virtual_machines"]
    estate.power[vm["id"]] = "deallocated"
    fake.load(estate.paths())
    snapshot = collect(fake)
    assert ("ci-internet-exposed", vm["id"]) in expected
    assert findings(snapshot) == expected - {("ci-internet-exposed", vm["id"])}


def _flexible(value: str) -> dict:
    return {"value": value, "languageVersion": 1}


def test_flexible_federated_credentials_are_judged_by_their_expression(fake):
    """A flexible credential (claimsMatchingExpression, read with the preview API version when the
    stable one shows no subject) admits subjects by pattern: any owner, one owner's repositories,
    one repository's branches, each judged as CHECKS.md says; an expression that cannot be read is
    unknown, never pinned."""
    estate = AzureEstate()
    estate.subscription(SUB, "ci-platform")
    estate.group(SUB, G)
    ids = {}
    for name, expression, role in (
            ("anyone", "claims['sub'] matches 'repo:*'", CONTRIBUTOR),
            ("acme-repos", "claims['sub'] matches 'repo:acme/*'", READER),
            ("app-branches", "claims['sub'] matches 'repo:acme/app:ref:refs/heads/*'", READER),
            ("tfc-workspaces", "claims['sub'] matches 'organization:acme:project:*:workspace:*:run_phase:*'", READER),
            ("unreadable", "claims['sub'] startswith 'repo:acme/'", READER)):
        issuer = "https://app.terraform.io" if name.startswith("tfc") else GITHUB
        ids[name] = estate.user_identity(SUB, G, name, f"p-{name}", [(name, issuer, _flexible(expression))])
        estate.assign(SUB, f"p-{name}", role)
    fake.load(estate.paths())
    snapshot = collect(fake)
    from guardrails.pipeline import scan_snapshots

    document = scan_snapshots([snapshot])
    unscoped = {f["resource"]["id"]: f for f in document["findings"] if f["check_id"] == "ci-federation-unscoped"}
    assert {name: (unscoped[i]["severity"], unscoped[i]["evidence"]["details"]["level"]) for name, i in ids.items()
            if i in unscoped} == {"anyone": ("critical", "any_owner"), "acme-repos": ("high", "any_repository"),
                                  "tfc-workspaces": ("high", "any_repository"), "unreadable": ("critical", "unknown")}
    assert unscoped[ids["unreadable"]]["confidence"] == "unknown"
    assert {(f["check_id"], f["resource"]["id"]) for f in document["findings"] if f["resource"]["id"] == ids["anyone"]} \
        >= {("ci-admin-identity", ids["anyone"]), ("ci-internet-to-admin-path", ids["anyone"])}
    assert snapshot["gaps"] == []  # everything was read; the expression it could not judge is normalization's gap
    assert any("unreadable" in gap["what"] and "startswith" in gap["error"] for gap in document["coverage"]["gaps"])
    levels = {c["id"]: c["federations"][0]["level"] for c in document["ci_identities"]}
    assert levels[ids["app-branches"]] == "any_branch"
    assert sum("2025-01-31-preview" in path for _, path in fake.requests) == len(ids)
    check_remediation(document)  # the credential to delete, the assignment to remove


def test_a_load_balanced_backend_behind_an_appliance_route_is_reached_on_an_assumption(fake):
    """Azure sends the answers to a load balancer's clients by the backend subnet's 0.0.0.0/0
    route: to a virtual appliance they may or may not pass. The path is kept, and said assumed."""
    estate, _ = SCENARIOS["jenkins_behind_public_lb_with_appliance_route"]()
    fake.load(estate.paths())
    (exposed,) = [f for f in findings_of(collect(fake)) if f["check_id"] == "ci-internet-exposed"]
    assert "asymmetric routing" in exposed["message"] and "virtual appliance" in exposed["message"]
    assert exposed["evidence"]["details"]["assumptions"]


def findings_of(snapshot: dict) -> list[dict]:
    from guardrails.pipeline import scan_snapshots

    return scan_snapshots([snapshot])["findings"]


def _run_az(estate: AzureEstate, command: str, variables: dict[str, str]) -> None:
    """What each az command of the new changes does to the estate's resources (ARM's JSON), as
    Resource Manager would do it: no Azure here, and the rescan then shows what the change did."""
    import re
    import shlex

    assigned = re.match(r"^(?P<name>[a-z_]+)=\$\((?P<command>.+)\)$", command)
    words = shlex.split(assigned["command"] if assigned else command)
    verb, flags, values = [], {}, []
    for word in words[1:]:
        if word.startswith("--"):
            flags[word] = values = []
        elif not flags:
            verb.append(word)
        else:
            values.append(variables.get(word[1:], word) if word.startswith("$") else word)
    one = {flag: got[0] for flag, got in flags.items() if got}
    lists = estate.lists[one.get("--subscription", SUB)]
    def named(kind: str, name: str) -> dict:
        return next(i for i in lists[kind] if i["name"] == name and f"/resourceGroups/{one['--resource-group']}/" in i["id"])
    match " ".join(verb):
        case "network nic show":
            nic = next(n for n in lists["network_interfaces"] if n["id"] == one["--ids"])
            variables[assigned["name"]] = nic["location"]
        case "network lb rule delete" | "network lb inbound-nat-rule delete" as what:
            key = "loadBalancingRules" if what.startswith("network lb rule") else "inboundNatRules"
            lb = named("load_balancers", one["--lb-name"])
            lb["properties"][key] = [r for r in lb["properties"][key] if r["name"] != one["--name"]]
        case "network nsg create":
            estate.nsg(one.get("--subscription", SUB), one["--resource-group"], one["--name"], [])
        case "network nsg rule create":
            sources = flags["--source-address-prefixes"]
            created = rule(one["--name"], int(one["--priority"]), one["--access"], port=one["--destination-port-ranges"],
                           protocol=one["--protocol"], direction=one["--direction"], source=sources[0])
            if len(sources) > 1:
                created["properties"]["sourceAddressPrefixes"] = sources
            nsg = named("network_security_groups", one["--nsg-name"])
            created["id"] = f"{nsg['id']}/securityRules/{created['name']}"
            nsg["properties"]["securityRules"].append(created)
        case "network nic update":
            nsg = named("network_security_groups", one["--network-security-group"])
            named("network_interfaces", one["--name"])["properties"]["networkSecurityGroup"] = {"id": nsg["id"]}
        case other:
            raise AssertionError(f"not a command this test runs: az {other}")


@pytest.mark.parametrize("name, check", [("jenkins_behind_public_lb", "ci-internet-exposed"),
                                         ("nat_rule_to_agent", "ci-internet-exposed"),
                                         ("basic_public_ip_no_nsg", "ci-internet-exposed"),
                                         ("agents_reach_production_over_peering", "ci-reaches-production"),
                                         ("agents_reach_a_vm_of_a_production_resource_group", "ci-reaches-production")])
def test_the_change_through_a_load_balancer_or_past_a_missing_nsg_closes_the_path(name, check):
    """The load balancer's rule to delete, or a new NSG for an interface with none (denying the peered
    CI network where that is the way into production): run on the estate, the finding is gone, and
    nothing else changed but what the change was for."""
    from guardrails.reports.remediation import steps_for

    estate, expected = SCENARIOS[name]()
    before = scan_snapshots([estate.snapshot()])["findings"]
    (finding,) = [f for f in before if f["check_id"] == check]
    steps = steps_for(finding)
    assert steps.commands and all(c.startswith(("az ", "location=$(az ")) for c in steps.commands)
    variables: dict[str, str] = {}
    for command in steps.commands:
        _run_az(estate, command, variables)
    after = {(f["check_id"], f["resource"]["id"]) for f in scan_snapshots([estate.snapshot()])["findings"]}
    assert after == expected - {(check, finding["resource"]["id"])}
