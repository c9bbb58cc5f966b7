"""The gcloud and az commands of the reports' remediation, checked without a cloud: each parses as a
shell command line, names a command of the synopsis encoded here (from the gcloud and az reference
pages), passes only that command's flags and all it requires, and every id it passes is one the
scan found (in the finding), with no placeholder left for a person to fill in. The console paths
are the clouds' real URL patterns with the same ids.

Neither CLI can reach a cloud here, and installing azure-cli (hundreds of packages) or the gcloud
SDK to parse them would cost the test run more than the rest of it; the synopses below are the
contract instead."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass

from guardrails.reports.remediation import steps_for, summary_for


@dataclass(frozen=True)
class Synopsis:
    positionals: int
    flags: frozenset[str]
    required: frozenset[str]
    switches: frozenset[str] = frozenset()  # flags that take no value
    # flags whose value is not an id of the estate: fixed words, files the person writes, queries
    free: frozenset[str] = frozenset({"--format", "--query", "--output", "--user-data", "--filter"})


def _s(positionals: int, flags: str, required: str, switches: str = "") -> Synopsis:
    return Synopsis(positionals, frozenset(flags.split()), frozenset(required.split()), frozenset(switches.split()))


IAM_BINDING = "--member --role --condition --all"
# gcloud reference: https://cloud.google.com/sdk/gcloud/reference/<group>/<command>
GCLOUD = {
    "compute firewall-rules update": _s(1, "--project --disabled --no-disabled --source-ranges", "--project",
                                        "--disabled --no-disabled"),
    "compute instances describe": _s(1, "--zone --project --format", "--zone --project"),
    "compute instances delete-access-config": _s(1, "--zone --project --network-interface --access-config-name",
                                                 "--zone --project --access-config-name"),
    "projects remove-iam-policy-binding": _s(1, IAM_BINDING, "--member --role"),
    "resource-manager folders remove-iam-policy-binding": _s(1, IAM_BINDING, "--member --role"),
    "organizations remove-iam-policy-binding": _s(1, IAM_BINDING, "--member --role"),
    "iam service-accounts remove-iam-policy-binding": _s(1, IAM_BINDING + " --project", "--member --role"),
    "iam service-accounts keys list": _s(0, "--iam-account --project --managed-by --filter --format", "--iam-account"),
    "iam service-accounts keys disable": _s(1, "--iam-account --project", "--iam-account"),
    # one of --global / --region names where the forwarding rule is
    "compute forwarding-rules delete": _s(1, "--global --region --project --quiet", "--project", "--global --quiet"),
}
# az reference: https://learn.microsoft.com/cli/azure/<group>
AZ = {
    "network nsg rule delete": _s(0, "--subscription --resource-group --nsg-name --name", "--resource-group --nsg-name --name"),
    "network nic ip-config list": _s(0, "--subscription --resource-group --nic-name --query --output",
                                     "--resource-group --nic-name"),
    "network nic ip-config update": _s(0, "--subscription --resource-group --nic-name --name --remove "
                                          "--public-ip-address", "--resource-group --nic-name --name"),
    "role assignment delete": _s(0, "--ids --subscription", "--ids"),
    "vm update": _s(0, "--subscription --resource-group --name --user-data", "--resource-group --name"),
    "network lb rule delete": _s(0, "--subscription --resource-group --lb-name --name", "--resource-group --lb-name --name"),
    "network lb inbound-nat-rule delete": _s(0, "--subscription --resource-group --lb-name --name",
                                             "--resource-group --lb-name --name"),
    "network application-gateway rule delete": _s(0, "--subscription --resource-group --gateway-name --name",
                                                  "--resource-group --gateway-name --name"),
    "network nic show": _s(0, "--ids --subscription --resource-group --name --query --output", ""),
    "network nsg create": _s(0, "--subscription --resource-group --name --location --tags", "--resource-group --name"),
    "network nsg rule create": _s(0, "--subscription --resource-group --nsg-name --name --priority --direction "
                                     "--access --protocol --source-address-prefixes --destination-port-ranges "
                                     "--source-port-ranges --destination-address-prefixes --description",
                                  "--resource-group --nsg-name --name --priority"),
    "identity federated-credential delete": _s(0, "--subscription --resource-group --identity-name --name --yes",
                                               "--resource-group --identity-name --name", "--yes"),
    "network nic update": _s(0, "--subscription --resource-group --name --network-security-group",
                             "--resource-group --name"),
    "network vnet subnet update": _s(0, "--subscription --resource-group --vnet-name --name --network-security-group",
                                     "--resource-group --vnet-name --name"),
}
# What a change creates takes a name of its own, not one of the scan: the flag that names it, by
# command; later commands of the same change may name it.
CREATES = {"network nsg create": "--name", "network nsg rule create": "--name"}
# Flags that take several values, space-separated (az's list arguments).
MANY = {"--source-address-prefixes", "--destination-address-prefixes"}
# Commands that need exactly one of some flags (where a gcloud resource is: global or a region).
ONE_OF = {"compute forwarding-rules delete": {"--global", "--region"}}
ARM_WORDS = {"subscriptions", "resourceGroups", "providers", "Microsoft.Authorization", "roleAssignments",
             "Microsoft.Network", "networkInterfaces"}
FIXED_VALUES = {"--remove": {"publicIpAddress"}, "--managed-by": {"user"}, "--output": {"tsv", "json"}, "--direction": {"Inbound", "Outbound"},
                "--access": {"Deny"}, "--protocol": {"*"}, "--destination-port-ranges": {"*"},
                "--priority": {"100"}}
PLACEHOLDER = re.compile(r"<[^>]*>|\b(?:YOUR|REPLACE|CHANGE)[-_A-Z]*|\bXXX|\.\.\.")
_ASSIGNED = re.compile(r"^(?P<name>[a-z_]+)=\$\((?P<command>.+)\)$", re.S)
CONSOLE = {"gcp": re.compile(r"^https://console\.cloud\.google\.com/(compute/instancesDetail/zones/[a-z0-9-]+/instances/"
                             r"[a-z0-9-]+\?project=[a-z0-9-]+|networking/firewalls/details/[a-z0-9-]+\?project=[a-z0-9-]+|"
                             r"iam-admin/iam\?(project=[a-z0-9-]+|folder=\d+|organizationId=\d+)|"
                             r"iam-admin/serviceaccounts\?project=[a-z0-9-]+|"
                             r"net-services/loadbalancing/list/loadBalancers\?project=[a-z0-9-]+)( > .+)?$"),
           "azure": re.compile(r"^https://portal\.azure\.com/#resource/subscriptions/[0-9a-f-]{36}(/resourceGroups/[-\w.()]+)?"
                               r"(/providers/Microsoft\.(Network|Compute|ManagedIdentity)/[A-Za-z]+/[-\w.]+)?/"
                               r"(overview|users|ipConfigurations)( > .+)?$")}


def _check_command(line: str, known: str, defined: set[str], made: set[str] | None = None) -> str:
    """Check one command line; the shell variable it assigns, if any. `made` holds the names that
    earlier commands of the change created, and gets this one's."""
    assigned, made = None, set() if made is None else made
    match = _ASSIGNED.match(line)
    if match:
        assigned, line = match["name"], match["command"]
    assert not PLACEHOLDER.search(line), line
    words = shlex.split(line)
    tool, table = words[0], {"gcloud": GCLOUD, "az": AZ}[words[0]]
    name = next((n for n in sorted(table, key=len, reverse=True) if words[1:1 + len(n.split())] == n.split()), None)
    assert name, f"not a command of the {tool} synopsis: {line}"
    synopsis = table[name]
    rest = words[1 + len(name.split()):]
    positionals, given = [], {}
    while rest:
        word = rest.pop(0)
        if not word.startswith("--"):
            positionals.append(word)
            continue
        flag, eq, value = word.partition("=")
        assert flag in synopsis.flags, f"{flag} is not an option of {tool} {name}: {line}"
        if flag in synopsis.switches:
            assert not eq, line
            given[flag] = None
            continue
        given[flag] = value if eq else rest.pop(0)
        while flag in MANY and rest and not rest[0].startswith("--"):
            given[flag] += " " + rest.pop(0)
    assert len(positionals) == synopsis.positionals, line
    assert synopsis.required <= set(given), f"{tool} {name} needs {synopsis.required - set(given)}: {line}"
    if name in ONE_OF:
        assert len(ONE_OF[name] & set(given)) == 1, f"{tool} {name} needs one of {ONE_OF[name]}: {line}"
    values = [(None, p) for p in positionals]
    values += [(f, v) for f, value in given.items() for v in (value.split(" ") if f in MANY and value else [value])]
    for flag, value in values:
        if value is None or flag in synopsis.free:
            continue
        if flag is not None and CREATES.get(name) == flag:
            made.add(value)
            continue
        if flag in FIXED_VALUES:
            assert value in FIXED_VALUES[flag], line
        elif value.startswith("$"):
            assert value[1:] in defined, f"{value} is not set by an earlier command: {line}"
        elif flag == "--ids":
            for part in value.strip("/").split("/"):
                assert part in ARM_WORDS or part in known, f"{part} of {value} is not from the scan"
        elif value in made:
            continue
        else:
            # serviceAccount:E and a role are read from the scan's grant, whole
            assert value in known, f"{flag or 'argument'} {value!r} is not an id the scan found: {line}"
    return assigned


# What only AWS calls things: a GCP or Azure finding's guide speaks of its own cloud's (VPC firewall
# rules, external IPs, Cloud NAT, service accounts; NSGs, public IPs, UDRs, managed identities).
AWS_WORDS = re.compile(r"\b((?<!network[ -])security[ -]groups?|instance profiles?|IMDS(v[12])?|Elastic IPs?|Secrets Manager|SSM|"
                       r"Parameter Store|autoscaling groups?|AWS|arn:|sts:|permissions boundar(y|ies)|"
                       r"AdministratorAccess|StringEquals|StringLike|iam:\w|network ACLs?|NACLs?|EC2|ENIs?|igw-?|IGW)\b", re.I)
NOT_IN = {# and Google Cloud has no route tables or NAT gateways: a network's routes, Cloud NAT
          "gcp": re.compile(AWS_WORDS.pattern[:-3] + r"|route tables?|NAT gateways?)\b", re.I),
          # and Azure has no internet gateway or VPC: a system route to the Internet, virtual networks
          "azure": re.compile(AWS_WORDS.pattern[:-3] + r"|internet gateways?|VPCs?)\b", re.I)}


def guide_texts(finding: dict) -> list[str]:
    """Every text of a finding's guide a person reads: its remediation, the check's summary, and each
    change's resource, what, console path, notes and Terraform change (not the evidence it quotes)."""
    steps = steps_for(finding)
    texts = [finding["remediation"], steps.text, summary_for(finding["check_id"], "")]
    texts += [t for c in steps.changes for t in (c.resource, c.console, *c.notes)]
    return texts + list(steps.terraform_changes)


# The findings that name no exact change, and why: there is no one change to make.
NO_SINGLE_CHANGE = {
    "ci-long-lived-runner": "a VM that no scale set or managed instance group made: it is replaced by one, not "
                            "changed (AWS's finding without an autoscaling group names none either)",
}


def check_remediation(document: dict) -> int:
    """Check every gcloud/az command, console path and Terraform change of the document's findings;
    every finding but those of NO_SINGLE_CHANGE (and those left undecided by a coverage gap) has at
    least one change, and no guide speaks of another cloud. The number of commands checked."""
    checked = 0
    for finding in document["findings"]:
        provider = finding["resource"]["provider"]
        for text in guide_texts(finding):
            assert not NOT_IN[provider].search(text), f"{finding['check_id']} on {provider}: {text}"
        known = json.dumps(finding)
        steps = steps_for(finding)
        undecided = (finding["evidence"].get("details") or {}).get("undecided")
        address = finding["resource"].get("address")
        if address:
            assert not steps.changes and not steps.commands
            if finding["check_id"] not in NO_SINGLE_CHANGE and not undecided:
                assert steps.terraform_changes, finding["check_id"]
            for change in steps.terraform_changes:
                assert not PLACEHOLDER.search(change), change
                named = re.findall(r"\b(?:google|azurerm)_[a-z0-9_]+\.[\w-]+", change)
                assert all(a in known for a in named), change
                # a firewall rule to narrow from the internet is one the evidence shows admitting it
                for rule in re.findall(r'google_compute_firewall with name "([\w-]+)": source_ranges \["0\.0\.0\.0/0"\]',
                                       change):
                    assert re.search(rf"firewall rule {rule} \(priority \d+\): allow \S+ from [^;\"]*(0\.0\.0\.0/0|::/0)",
                                     known), change
            continue
        if finding["check_id"] not in NO_SINGLE_CHANGE and not undecided:
            assert steps.changes, f"no change for {finding['check_id']} on {finding['resource']['id']}"
        defined: set[str] = set()
        for change in steps.changes:
            assert CONSOLE[provider].match(change.console), change.console
            made: set[str] = set()
            for command in change.commands:
                variable = _check_command(command, known, defined, made)
                if variable:
                    defined.add(variable)
                checked += 1
        assert steps.commands == [c for change in steps.changes for c in change.commands]
    return checked
