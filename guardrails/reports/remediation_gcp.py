"""Exact changes for Google Cloud findings: gcloud commands with the finding's real project, zone,
instance, firewall rule and IAM binding, the console page of each, and the change at a
google_* resource's Terraform address when the finding comes from a plan.

Read from the finding's evidence only (the texts the GCP provider writes: "firewall rule NAME
(priority N): allow tcp/22 from 0.0.0.0/0", "binding ROLE on projects/P to serviceAccount:E"),
never run; every value goes through shlex.quote.
"""

from __future__ import annotations

import json
import re

from .remediation import Change, _path, _q, _strings, _unique, every_step, is_terraform_address

_INSTANCE = re.compile(r"^projects/(?P<project>[a-z][-a-z0-9]{4,28}[a-z0-9])/zones/(?P<zone>[a-z]+-[a-z]+\d+-[a-z])/"
                       r"instances/(?P<name>[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)$")
_NIC = re.compile(_INSTANCE.pattern[:-1] + r"/(?P<nic>nic\d+)$")
_FIREWALL_RULE = re.compile(r"firewall rule (?P<rule>[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?) \(priority \d+\): allow "
                            r"(?P<what>\S+) from (?P<sources>.+?)(?: to targets .*)?$")
_BINDING = re.compile(r"binding (?P<role>(?:roles|projects/[^/ ]+/roles|organizations/\d+/roles)/[\w.]+) on "
                      r"(?P<target>projects/[a-z][-a-z0-9]*(?:/serviceAccounts/[^ ]+)?|folders/\d+|organizations/\d+) "
                      r"to (?P<member>(?:serviceAccount|user|group|domain|principal\w*):[^\s:;),]+)")
# A load balancer's forwarding rule as its path step names it: "projects/P/global/forwardingRules/NAME"
# or "projects/P/regions/R/forwardingRules/NAME", and its `via`: "forwarding rule NAME 34.1.2.3:443 ->
# PROXY -> backend service S -> instance group G port 8080" (or "-> target pool T").
_FORWARDING_RULE = re.compile(r"^projects/(?P<project>[a-z][-a-z0-9]{4,28}[a-z0-9])/(?:global|regions/(?P<region>[a-z]+-[a-z]+\d+))/"
                              r"forwardingRules/(?P<name>[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)$")
_BACKEND = re.compile(r"backend service (?P<service>[a-z][-a-z0-9]*) -> instance group (?P<group>[a-z][-a-z0-9]*)")
_INTERNET = ("0.0.0.0/0", "::/0")
CONSOLE = "https://console.cloud.google.com"


def _instance(finding: dict) -> re.Match | None:
    return _INSTANCE.match(str((finding.get("resource") or {}).get("id", "")))


def _project(finding: dict) -> str | None:
    instance = _instance(finding)
    if instance:
        return instance["project"]
    account = str((finding.get("resource") or {}).get("account") or "")
    return account if re.fullmatch(r"[a-z][-a-z0-9]{4,28}[a-z0-9]", account) else None


def _rule_texts(finding: dict) -> list[str]:
    texts = [t for t in _strings((finding.get("evidence") or {}).get("details")) if "firewall rule " in t]
    texts += [part.strip() for step in _path(finding) for part in str(step.get("via") or "").split(";")]
    return _unique(t.split(": ", 1)[1] if t.startswith("admits the load balancer: ") else t for t in texts if t)


def firewall_changes(finding: dict, wanted, why: str) -> list[Change]:
    """Disable each firewall rule of the evidence whose sources `wanted` picks: a disabled rule is
    kept (with its history) but admits nothing, and turning it back on is one flag."""
    project = _project(finding)
    if not project:
        return []
    changes, seen = [], set()
    for text in _rule_texts(finding):
        match = _FIREWALL_RULE.search(text)
        if not match or match["rule"] in seen:
            continue
        sources = [s.strip() for s in match["sources"].split(",")]
        if not any(wanted(s) for s in sources):
            continue
        seen.add(match["rule"])
        rule = match["rule"]
        changes.append(Change(
            resource=f"firewall rule {rule} (project {project})", what=f"{text} ({why})",
            commands=(f"gcloud compute firewall-rules update {_q(rule)} --disabled --project={_q(project)}",),
            console=f"{CONSOLE}/networking/firewalls/details/{rule}?project={project} > Edit > Enforcement: Disabled",
            notes=(f"where people must still reach the service, admit only their ranges instead: gcloud compute "
                   f"firewall-rules update {rule} --source-ranges=YOUR-OFFICE-OR-VPN-RANGE --project={project}, "
                   "then --no-disabled",) if any(s in _INTERNET for s in sources) else ()))
    return changes


def _internet_rules(finding: dict) -> list[Change]:
    return firewall_changes(finding, lambda source: source in _INTERNET, "admits every internet address")


def _production_rules(finding: dict) -> list[Change]:
    return firewall_changes(finding, lambda source: source not in _INTERNET, "admits the CI node into production")


def _external_address_changes(finding: dict) -> list[Change]:
    """Delete each external IPv4 access config of the instance's interfaces."""
    details = (finding.get("evidence") or {}).get("details") or {}
    changes = []
    for iface in details.get("interfaces") or [] if isinstance(details, dict) else []:
        nic = _NIC.match(str(iface.get("id") or "")) if isinstance(iface, dict) else None
        if not nic or not iface.get("public"):
            continue
        name, zone, project, index = nic["name"], nic["zone"], nic["project"], nic["nic"][3:]
        where = f"--zone={_q(zone)} --project={_q(project)}"
        query = f"value(networkInterfaces[{index}].accessConfigs[0].name)"
        changes.append(Change(
            resource=f"instance {name} (zone {zone}, project {project})",
            what=f"external IPv4 {', '.join(map(str, iface['public']))} on {nic['nic']}",
            commands=(f"config=$(gcloud compute instances describe {_q(name)} {where} --format={_q(query)})",
                      f"gcloud compute instances delete-access-config {_q(name)} {where} "
                      f"--network-interface={_q(nic['nic'])} --access-config-name=\"$config\""),
            console=f"{CONSOLE}/compute/instancesDetail/zones/{zone}/instances/{name}?project={project} > Edit > "
                    f"Network interfaces > {nic['nic']} > External IPv4 address: None",
            notes=("publish the service through a load balancer whose firewall rule admits only Google's front "
                   "ends (35.191.0.0/16, 130.211.0.0/22)",)))
    return changes


def _load_balancer_changes(finding: dict) -> list[Change]:
    """Delete each external forwarding rule the internet reaches the node through: the load
    balancer's frontend, so nothing listens for the internet on its address any more. What the
    backend firewall admits (Google's front ends) is not the internet and stays."""
    instance = _instance(finding)
    changes, seen = [], set()
    for step in every_step(finding):
        rule = _FORWARDING_RULE.match(str(step.get("id") or "")) if step.get("kind") == "load_balancer" else None
        if not rule or rule.group(0) in seen:
            continue
        seen.add(rule.group(0))
        name, project, region = rule["name"], rule["project"], rule["region"]
        scope = f"--region={_q(region)}" if region else "--global"
        via = str(step.get("via") or "")
        what = via.split("; ", 1)[-1] if "forwarding rule " in via else f"forwarding rule {name}"
        notes = ["this takes the load balancer's frontend off the internet; publish the CI service behind "
                 "Identity-Aware Proxy or on an internal load balancer instead"]
        backend = _BACKEND.search(via)
        if backend and instance:
            where = f"--instance-group-zone={instance['zone']}"  # an unmanaged group is in its instances' zone
            notes.append(f"to keep the load balancer for its other backends, take the instance group out of the "
                         f"backend service instead: gcloud compute backend-services remove-backend {backend['service']} "
                         f"--instance-group={backend['group']} {where} {scope} --project={project} (a regional "
                         "managed instance group: --instance-group-region)")
        changes.append(Change(
            resource=f"forwarding rule {name} (project {project})", what=f"{what} (open to every internet address)",
            commands=(f"gcloud compute forwarding-rules delete {_q(name)} {scope} --project={_q(project)}",),
            console=f"{CONSOLE}/net-services/loadbalancing/list/loadBalancers?project={project} > the load balancer "
                    f"of {name} > Edit > Frontend configuration: delete {name}",
            notes=tuple(notes)))
    return changes


def _binding_texts(finding: dict) -> list[str]:
    details = (finding.get("evidence") or {}).get("details") or {}
    if not isinstance(details, dict):
        return []
    hops = [h for h in details.get("hops") or [] if isinstance(h, dict)]
    if hops:  # a chain: the CI identity's own first step is the grant to take out
        return [str(hops[0].get("via") or "")]
    texts = [str(details.get("grant") or "")]
    texts += [g for e in details.get("escalations") or [] if isinstance(e, dict) for g in e.get("grants") or []]
    texts += [str(t.get("via")) for t in details.get("targets") or [] if isinstance(t, dict)]
    # a path from a federation: the grant that gives the identity its power is the step into the project
    texts += [str(s.get("via")) for s in _path(finding) if s.get("kind") == "account" and s.get("via")]
    return [t for t in texts if t]


def _binding_changes(finding: dict) -> list[Change]:
    changes, seen = [], set()
    for text in _binding_texts(finding):
        for match in _BINDING.finditer(text):
            key = (match["role"], match["target"], match["member"])
            if key in seen:
                continue
            seen.add(key)
            role, target, member = key
            flags = f"--member={_q(member)} --role={_q(role)}"
            kind, _, rest = target.partition("/")
            if "/serviceAccounts/" in target:
                project, account = rest.split("/serviceAccounts/", 1)
                command = f"gcloud iam service-accounts remove-iam-policy-binding {_q(account)} {flags} --project={_q(project)}"
                console = f"{CONSOLE}/iam-admin/serviceaccounts?project={project} > {account} > Permissions"
            elif kind == "projects":
                command = f"gcloud projects remove-iam-policy-binding {_q(rest)} {flags}"
                console = f"{CONSOLE}/iam-admin/iam?project={rest}"
            elif kind == "folders":
                command = f"gcloud resource-manager folders remove-iam-policy-binding {_q(rest)} {flags}"
                console = f"{CONSOLE}/iam-admin/iam?folder={rest}"
            else:
                command = f"gcloud organizations remove-iam-policy-binding {_q(rest)} {flags}"
                console = f"{CONSOLE}/iam-admin/iam?organizationId={rest}"
            changes.append(Change(
                resource=target, what=f"IAM binding {role} to {member}", commands=(command,),
                console=f"{console} > {member.split(':', 1)[1]} > Edit principal: remove the role {role}",
                notes=("grant the narrowest predefined roles the builds need instead, on the resources they "
                       "touch, not the project",)))
    return changes


def _metadata_changes(finding: dict) -> list[Change]:
    instance = _instance(finding)
    if not instance:
        return []
    details = (finding.get("evidence") or {}).get("details") or {}
    lines = ", ".join(f"line {s.get('line')} ({s.get('kind')})" for s in details.get("secrets") or []
                      if isinstance(s, dict)) or "the secret's lines"
    name, zone, project = instance["name"], instance["zone"], instance["project"]
    return [Change(
        resource=f"instance {name} (zone {zone}, project {project})", what=f"instance metadata: {lines}",
        commands=(f"gcloud compute instances describe {_q(name)} --zone={_q(zone)} --project={_q(project)} "
                  "--format='json(metadata.items)'",),
        console=f"{CONSOLE}/compute/instancesDetail/zones/{zone}/instances/{name}?project={project} > Edit > "
                f"Metadata: delete {lines}",
        notes=("rotate the secret first: removing it from the metadata does not un-leak it",
               f"then write the item back without the secret: gcloud compute instances add-metadata {name} "
               f"--zone={zone} --project={project} --metadata-from-file=KEY=FILE (KEY is the item the describe "
               "shows holding it); read the secret at boot from Secret Manager instead"))]


_SERVICE_ACCOUNT = re.compile(r"^[a-z][-a-z0-9]{4,29}@(?P<project>[a-z][-a-z0-9]{4,28}[a-z0-9])\.iam\.gserviceaccount\.com$")
_FEDERATED_GRANT = re.compile(r"(?P<role>roles/iam\.\w+) on (?P<account>\S+@\S+) to (?P<member>principal(?:Set)?://\S+)$")
_EXACT_PIN = re.compile(r"^[^<>\s*']+$")


def _federated_grants(finding: dict) -> list[tuple[str, str, str]]:
    """(service account, role, member) of each grant the evidence names a federation's tokens by:
    the provider's `statement` (its bindings) or the path's step into the identity."""
    details = (finding.get("evidence") or {}).get("details") or {}
    account = str((finding.get("resource") or {}).get("id") or "")
    found = []
    try:
        statement = json.loads(details.get("statement") or "{}") if isinstance(details, dict) else {}
    except (TypeError, ValueError):
        statement = {}
    for binding in statement.get("bindings") or [] if isinstance(statement, dict) else []:
        if isinstance(binding, dict) and binding.get("member") and binding.get("role"):
            found.append((account, str(binding["role"]), str(binding["member"])))
    for step in _path(finding):
        if step.get("kind") == "identity":
            match = _FEDERATED_GRANT.search(str(step.get("via") or "").split(": {", 1)[0])
            if match:
                found.append((match["account"], match["role"], match["member"]))
    return list(dict.fromkeys(found))


def _federation_changes(finding: dict) -> list[Change]:
    """Take the federation's broad principal off the service account: its tokens no longer become
    it. The pinned principal (google.subject is the token's sub) is granted back in its place."""
    details = (finding.get("evidence") or {}).get("details") or {}
    pin = str(details.get("pin") or "") if isinstance(details, dict) else ""
    changes = []
    for account, role, member in _federated_grants(finding):
        sa = _SERVICE_ACCOUNT.match(account)
        if not sa or role not in ("roles/iam.workloadIdentityUser", "roles/iam.serviceAccountTokenCreator"):
            continue
        project = sa["project"]
        pool = re.match(r"^principal(?:Set)?://iam\.googleapis\.com/(?P<pool>projects/\d+/locations/global/"
                        r"workloadIdentityPools/[-a-z0-9]+)/", member)
        notes = ["every pipeline that federates through this grant loses the identity until its own subject is "
                 "granted back"]
        if pool and _EXACT_PIN.match(pin):
            notes.append(f"grant it back to the one subject that deploys: gcloud iam service-accounts "
                         f"add-iam-policy-binding {account} --member=principal://iam.googleapis.com/{pool['pool']}/"
                         f"subject/{pin} --role={role} --project={project} (the provider maps google.subject to the "
                         "token's sub)")
        else:
            notes.append(f"grant it back to the one repository and branch that deploys: --member=principal://"
                         f"iam.googleapis.com/{pool['pool'] if pool else 'POOL'}/subject/{pin or 'SUBJECT'}, with "
                         "the repository and branch filled in")
        changes.append(Change(
            resource=account, what=f"IAM binding {role} to {member} (every token the federation admits)",
            commands=(f"gcloud iam service-accounts remove-iam-policy-binding {_q(account)} --member={_q(member)} "
                      f"--role={_q(role)} --project={_q(project)}",),
            console=f"{CONSOLE}/iam-admin/serviceaccounts?project={project} > {account} > Permissions > {member}: "
                    f"remove the role {role}",
            notes=tuple(notes)))
    return changes


def _key_changes(finding: dict) -> list[Change]:
    """Disable each active user-managed key of the service account, found by the start of its id
    (all the scan keeps of it)."""
    account = str((finding.get("resource") or {}).get("id") or "")
    sa = _SERVICE_ACCOUNT.match(account)
    details = (finding.get("evidence") or {}).get("details") or {}
    if not sa or not isinstance(details, dict):
        return []
    changes = []
    for key in details.get("keys") or []:
        shown = re.match(r"^(?P<start>[0-9a-f]{4,})\*+$", str(key.get("key") if isinstance(key, dict) else key))
        if not shown:
            continue
        where = f"--iam-account={_q(account)} --project={_q(sa['project'])}"
        changes.append(Change(
            resource=account, what=f"service account key {shown.group(0)[:12]}… ({key.get('age_days')} days old)",
            commands=(f"key=$(gcloud iam service-accounts keys list {where} --managed-by=user "
                      f"--filter={_q('name~/keys/' + shown['start'])} --format={_q('value(name.basename())')})",
                      f"gcloud iam service-accounts keys disable \"$key\" {where}"),
            console=f"{CONSOLE}/iam-admin/serviceaccounts?project={sa['project']} > {account} > Keys > the key "
                    f"starting {shown['start']}: disable",
            notes=("once the pipeline federates instead, delete it: gcloud iam service-accounts keys delete with the "
                   "same key and account",)))
    return changes


CHANGES = {
    "ci-internet-exposed": lambda f: _internet_rules(f) + _load_balancer_changes(f),
    "ci-firewall-allows-internet": _internet_rules,
    "ci-not-behind-load-balancer": _external_address_changes,
    # The provider's internet gateway serves only interfaces with an address of their own.
    "ci-internet-gateway-segment": _external_address_changes,
    "ci-internet-to-admin-path": lambda f: (_internet_rules(f) + _load_balancer_changes(f) + _federation_changes(f)
                                            + _binding_changes(f)),
    "ci-federation-unscoped": _federation_changes,
    "ci-stored-credential": _key_changes,
    "ci-admin-identity": _binding_changes,
    "ci-privilege-escalation": _binding_changes,
    "ci-production-access": _binding_changes,
    "ci-reaches-production": _production_rules,
    "ci-secret-in-user-data": _metadata_changes,
}


def changes(finding: dict) -> list[Change]:
    """The exact changes of a finding on a live Google Cloud project."""
    make = CHANGES.get(str(finding.get("check_id")))
    return make(finding) if make else []


# --- Terraform ------------------------------------------------------------------------------


def _is_address(text: str) -> bool:
    return is_terraform_address(text, "google_")


def terraform_changes(finding: dict, address: str) -> list[str]:
    """The change at each google_* address the finding names: which attribute, from what to what."""
    check = str(finding.get("check_id"))
    matches = [m for t in _rule_texts(finding) if (m := _FIREWALL_RULE.search(t))]
    rules = [m["rule"] for m in matches]
    # only the rules that admit the internet: one admitting Google's front ends is the load balancer's
    open_rules = [m["rule"] for m in matches if any(s.strip() in _INTERNET for s in m["sources"].split(","))]
    firewalls = [f'google_compute_firewall with name "{rule}": source_ranges ["0.0.0.0/0"] -> the allow-listed '
                 "ranges (or disabled = true)" for rule in _unique(iter(open_rules))]
    forwarding = [f"{rule}: removed (the load balancer's frontend on the internet); or the instance group out of "
                  "its google_compute_backend_service's backends" for rule in _unique(
                      str(s.get("id")) for s in every_step(finding)
                      if s.get("kind") == "load_balancer" and _is_address(str(s.get("id"))))]
    if check == "ci-internet-exposed":
        found = firewalls + forwarding
        return found or [f"{address}: tags: none that an internet-facing google_compute_firewall targets"]
    if check == "ci-firewall-allows-internet":
        return firewalls or [f"{address}: tags: none that an internet-facing google_compute_firewall targets"]
    if check == "ci-not-behind-load-balancer":
        return [f"{address}: network_interface.access_config {{}} -> removed (no external IPv4); publish it through a "
                "google_compute_backend_service behind a load balancer"]
    if check == "ci-internet-gateway-segment":
        return [f"{address}: tags / network: not on a network whose google_compute_route sends 0.0.0.0/0 to "
                "default-internet-gateway; egress through a google_compute_router_nat instead"]
    if check in ("ci-admin-identity", "ci-privilege-escalation", "ci-production-access", "ci-internet-to-admin-path"):
        bindings = [f"google_*_iam_member / google_*_iam_binding granting {m['role']} on {m['target']} to {m['member']}: "
                    "remove it (grant the narrowest role the builds need)"
                    for t in _binding_texts(finding) for m in _BINDING.finditer(t)]
        if check == "ci-internet-to-admin-path":
            return firewalls + forwarding + _unique(iter(bindings))
        return _unique(iter(bindings))
    if check == "ci-secret-in-user-data":
        return [f"{address}: metadata / metadata_startup_script: remove the secret; read it at boot from a "
                "google_secret_manager_secret_version"]
    if check == "ci-reaches-production":
        return [f'google_compute_firewall with name "{rule}": source_tags / source_ranges naming the CI node -> only '
                "the production load balancer's ranges" for rule in _unique(iter(rules))]
    return []
