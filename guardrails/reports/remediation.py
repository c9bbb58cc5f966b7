"""Concrete remediation per finding: the exact change, named by the resource and the rule, route
or policy statement that causes the finding, and how to make it: (a) AWS CLI commands with the
finding's real ids, (b) the Terraform change at the resource's address when the source is a plan,
(c) the console path. Each check's guide is the entry of its id in GUIDES, so a new check adds one
entry and its findings get the same treatment.

Everything here is read from the finding (its resource, evidence path and details), never from the
graph, and nothing is ever run: the report shows commands for a person to read, check and run.
Every value placed in a command goes through shlex.quote; commands are made only for resources
that exist in a live account (a Terraform address is fixed in the code, not with the CLI).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from .text import one_line

_LIVE_AWS_ID = re.compile(r"^(arn:aws[a-z-]*:|[a-z]+-[0-9a-f]{8,17}$)")
_SECURITY_GROUP = re.compile(r"^sg-[0-9a-f]{8,17}$")
_ROUTE_TABLE = re.compile(r"^rtb-[0-9a-f]{8,17}$")
_INSTANCE = re.compile(r"^i-[0-9a-f]{8,17}$")
_ROLE_ARN = re.compile(r"^arn:(?P<partition>aws[a-z-]*):iam::(?P<account>\d{12}):role/(?:.*/)?(?P<name>[\w+=,.@-]+)$")
_POLICY_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(aws|\d{12}):policy/[\w+=,.@/-]+$")


@dataclass(frozen=True)
class Change:
    """One exact change that removes (part of) a finding's cause."""

    resource: str  # the id (or Terraform address) of what to change
    what: str  # the rule, route, statement or setting to change, as the evidence words it
    commands: tuple[str, ...] = ()  # AWS CLI, one `aws ...` call each: read, checked and run by a person
    terraform: str = ""  # the change at the resource's address, when the finding comes from a plan
    console: str = ""  # where the same change is made in the cloud's console
    notes: tuple[str, ...] = ()  # what to do around it (rotate a secret, admit the right ranges instead)


@dataclass(frozen=True)
class CheckGuide:
    """How to fix a check's findings: what it means, a Terraform pattern, and the exact changes of
    one finding (`changes`), with `cli` as the older, command-only form."""

    summary: str
    terraform: str
    cli: Callable[[dict], list[str]] = field(default=lambda finding: [])
    changes: Callable[[dict], list[Change]] = field(default=lambda finding: [])


def _q(value: str) -> str:
    return shlex.quote(value)


def is_live_aws(finding: dict) -> bool:
    resource = finding.get("resource") or {}
    return resource.get("provider") == "aws" and bool(_LIVE_AWS_ID.match(str(resource.get("id", ""))))


def _path(finding: dict) -> list[dict]:
    return [step for step in (finding.get("evidence") or {}).get("path") or [] if isinstance(step, dict)]


def every_step(finding: dict) -> list[dict]:
    """The steps of the evidence path and of every other path the details hold (an exposure may
    come in by several routes, each of which a remediation closes)."""
    details = (finding.get("evidence") or {}).get("details")
    paths = details.get("paths") or [] if isinstance(details, dict) else []
    more = [s for p in paths if isinstance(p, dict) for s in p.get("steps") or [] if isinstance(s, dict)]
    return [*_path(finding), *more]


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _unique(items: Iterator[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _security_groups(finding: dict) -> list[str]:
    on_path = (str(s["id"]) for s in _path(finding) if s.get("kind") == "firewall")
    in_details = _strings((finding.get("evidence") or {}).get("details"))
    return _unique(g for g in [*on_path, *in_details] if _SECURITY_GROUP.match(g))


def _route_tables(finding: dict) -> list[str]:
    on_path = (str(s["id"]) for s in _path(finding) if s.get("kind") == "route_table")
    in_details = _strings((finding.get("evidence") or {}).get("details"))
    return _unique(r for r in [*on_path, *in_details] if _ROUTE_TABLE.match(r))


def _roles(finding: dict) -> list[tuple[str, str]]:
    """(account, role name) of the identity steps of the evidence path, the node's own first."""
    return list(dict.fromkeys((match["account"], match["name"]) for match in _role_arns(finding)))


def _role_arns(finding: dict) -> list[re.Match]:
    return [match for step in _path(finding)
            if step.get("kind") == "identity" and (match := _ROLE_ARN.match(str(step.get("id", ""))))]


def _policies(finding: dict) -> list[str]:
    return _unique(p for p in _strings((finding.get("evidence") or {}).get("details")) if _POLICY_ARN.match(p))


def _instance_id(finding: dict) -> str | None:
    resource_id = str((finding.get("resource") or {}).get("id", ""))
    return resource_id if _INSTANCE.match(resource_id) else None


def _revoke_internet_ingress(finding: dict) -> list[str]:
    commands = []
    for group in _security_groups(finding):
        query = 'SecurityGroupRules[?!IsEgress && (CidrIpv4==`"0.0.0.0/0"` || CidrIpv6==`"::/0"`)].SecurityGroupRuleId'
        commands.append(
            f"rules=$(aws ec2 describe-security-group-rules --filters Name=group-id,Values={_q(group)}"
            f" --query {_q(query)} --output text)\n"
            f"aws ec2 revoke-security-group-ingress --group-id {_q(group)} --security-group-rule-ids $rules"
        )
    return commands


def _remove_public_address(finding: dict) -> list[str]:
    instance = _instance_id(finding)
    if not instance:
        return []
    query = "Reservations[].Instances[].NetworkInterfaces[].NetworkInterfaceId"
    return [
        f"for eni in $(aws ec2 describe-instances --instance-ids {_q(instance)} --query {_q(query)} --output text); do\n"
        "  aws ec2 modify-network-interface-attribute --network-interface-id \"$eni\" --no-associate-public-ip-address\n"
        "done\n"
        "# an Elastic IP stays until released: aws ec2 disassociate-address --association-id <eipassoc-id>"
    ]


def _route_through_nat(finding: dict) -> list[str]:
    return [
        f"aws ec2 replace-route --route-table-id {_q(table)} --destination-cidr-block 0.0.0.0/0"
        ' --nat-gateway-id "$NAT_GATEWAY_ID"'
        for table in _route_tables(finding)
    ]


def _review_role(finding: dict) -> list[str]:
    commands = []
    roles = _roles(finding)
    if roles:
        account, role = roles[0]
        for policy in _policies(finding):
            commands.append(f"aws iam detach-role-policy --role-name {_q(role)} --policy-arn {_q(policy)}")
        commands.append(f"aws iam list-role-policies --role-name {_q(role)}")
        commands.append(f"aws iam list-attached-role-policies --role-name {_q(role)}")
        partition = _role_arns(finding)[0]["partition"]  # GovCloud and China have their own
        boundary = f"arn:{partition}:iam::{account}:policy/ci-permissions-boundary"
        commands.append(
            f"aws iam put-role-permissions-boundary --role-name {_q(role)} --permissions-boundary {_q(boundary)}"
        )
    return commands


def _tighten_trust(finding: dict) -> list[str]:
    roles = _roles(finding)
    commands = []
    for account, role in roles[1:]:
        commands.append(f"aws iam get-role --role-name {_q(role)} --query Role.AssumeRolePolicyDocument  # in account {account}")
        commands.append(
            f"aws iam update-assume-role-policy --role-name {_q(role)} --policy-document file://trust-policy.json"
        )
    return commands


def _imds_v2(finding: dict) -> list[str]:
    instance = _instance_id(finding)
    if not instance:
        return []
    return [
        f"aws ec2 modify-instance-metadata-options --instance-id {_q(instance)}"
        " --http-tokens required --http-put-response-hop-limit 1 --http-endpoint enabled"
    ]


def _clear_user_data(finding: dict) -> list[str]:
    instance = _instance_id(finding)
    if not instance:
        return []
    return [
        "# rotate the exposed secret first: removing it from user data does not un-leak it",
        f"aws ec2 stop-instances --instance-ids {_q(instance)}\n"
        f"aws ec2 wait instance-stopped --instance-ids {_q(instance)}\n"
        f"aws ec2 modify-instance-attribute --instance-id {_q(instance)} --attribute userData"
        " --value file://user-data-without-secrets.b64\n"
        f"aws ec2 start-instances --instance-ids {_q(instance)}",
    ]


def _limit_lifetime(finding: dict) -> list[str]:
    details = (finding.get("evidence") or {}).get("details") or {}
    group = details.get("autoscaling_group") if isinstance(details, dict) else None
    if isinstance(group, str) and group:
        return [
            f"aws autoscaling update-auto-scaling-group --auto-scaling-group-name {_q(group)}"
            " --max-instance-lifetime 604800"
        ]
    return []


def _exposure_fix(finding: dict) -> list[str]:
    return _revoke_internet_ingress(finding) + _remove_public_address(finding)


# --- exact changes, read from the finding's evidence ------------------------------------------

# A firewall rule as the evidence words it (guardrails.rules.Rule.describe, with an AWS ref):
# "sg-0abc ingress rule 2: allow tcp/22 from 0.0.0.0/0, ::/0".
_RULE_TEXT = re.compile(
    r"^(?P<group>sg-[0-9a-f]{8,17}) (?P<direction>ingress|egress)(?: rule \d+)?: allow "
    r"(?P<proto>all traffic|tcp|udp|icmp|icmpv6)(?:/(?P<ports>[0-9,-]+))? (?:from|to) (?P<peers>.+)$")
_CIDR = re.compile(r"^[0-9a-fA-F:.]+/\d{1,3}$")
_INTERNET = ("0.0.0.0/0", "::/0")
# A route as the evidence words it: "route 0.0.0.0/0 -> igw-0abc in rtb-0def (explicit association)".
_ROUTE_TEXT = re.compile(r"route (?P<destination>[0-9a-fA-F:.]+/\d{1,3}) -> (?P<target>igw-[0-9a-f]{8,17}) in "
                         r"(?P<table>rtb-[0-9a-f]{8,17})")
# A policy statement as the evidence words it: "inline policy deploy: allow sts:AssumeRole on arn:...".
_INLINE_GRANT = re.compile(r"inline policy (?P<policy>[\w+=,.@-]{1,128})(?: statement (?P<sid>\S+))?: allow "
                           r"(?P<action>\S+) on (?P<resource>[^;)\s]+)")
_CONSOLE_DIRECTION = {"ingress": "Inbound", "egress": "Outbound"}
_PROTOCOL_NUMBER = {"all traffic": "-1", "tcp": "tcp", "udp": "udp", "icmp": "icmp", "icmpv6": "icmpv6"}


AWS_CONSOLE = "https://console.aws.amazon.com"


def _region_query(finding: dict) -> str:
    region = str((finding.get("resource") or {}).get("region") or "")
    return f"?region={region}" if re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region) else ""


def _ec2_console(finding: dict, fragment: str) -> str:
    """The EC2 console's page of one resource, in the finding's region (`fragment` is the page's
    anchor, e.g. SecurityGroup:groupId=sg-0abc)."""
    return f"{AWS_CONSOLE}/ec2/home{_region_query(finding)}#{fragment}"


def _vpc_console(finding: dict, fragment: str) -> str:
    return f"{AWS_CONSOLE}/vpcconsole/home{_region_query(finding)}#{fragment}"


def _iam_console(kind: str, name: str) -> str:
    """The IAM console's page of a role or user (IAM is global: no region)."""
    return f"{AWS_CONSOLE}/iam/home#/{kind}/details/{name}"


def _rule_texts(finding: dict) -> list[str]:
    """Every firewall rule the finding's evidence names: its details' rules, and each path step's
    `via` (several joined by "; ")."""
    details = (finding.get("evidence") or {}).get("details")
    texts = []
    if isinstance(details, dict):
        texts.extend(r for r in details.get("rules") or [] if isinstance(r, str))
        for node in details.get("production_nodes") or []:
            if isinstance(node, dict):
                texts.extend(r for r in node.get("rules") or [] if isinstance(r, str))
    for step in _path(finding):
        texts.extend(part.strip() for part in str(step.get("via") or "").split(";"))
    return _unique(t for t in texts if t)


def _permissions(proto: str, ports: str | None, peers: list[str]) -> list[dict]:
    """The EC2 IpPermissions that name exactly these peers on these ports."""
    ranges: list[tuple[int, int] | None] = [None]
    if ports:
        ranges = []
        for part in ports.split(","):
            low, _, high = part.partition("-")
            ranges.append((int(low), int(high or low)))
    out = []
    for span in ranges:
        permission: dict = {"IpProtocol": _PROTOCOL_NUMBER[proto]}
        if span is not None:
            permission.update(FromPort=span[0], ToPort=span[1])
        elif proto in ("icmp", "icmpv6"):
            permission.update(FromPort=-1, ToPort=-1)
        v4 = [{"CidrIp": p} for p in peers if _CIDR.match(p) and ":" not in p]
        v6 = [{"CidrIpv6": p} for p in peers if _CIDR.match(p) and ":" in p]
        groups = [{"GroupId": p} for p in peers if _SECURITY_GROUP.match(p)]
        if v4:
            permission["IpRanges"] = v4
        if v6:
            permission["Ipv6Ranges"] = v6
        if groups:
            permission["UserIdGroupPairs"] = groups
        out.append(permission)
    return out


def _revoke_rules(finding: dict, peer_wanted: Callable[[str], bool], why: str) -> list[Change]:
    """Revoke, on each security group, exactly the rules of the evidence whose peers `peer_wanted`
    picks (the internet, a CI group), and nothing else."""
    import json

    changes = []
    for text in _rule_texts(finding):
        match = _RULE_TEXT.match(text)
        if not match:
            continue
        peers = [p.strip().split(" ")[0] for p in match["peers"].split(",")]
        peers = [p for p in peers if (_CIDR.match(p) or _SECURITY_GROUP.match(p)) and peer_wanted(p)]
        if not peers:
            continue
        group, direction = match["group"], match["direction"]
        permissions = json.dumps(_permissions(match["proto"], match["ports"], peers), separators=(",", ":"))
        verb = "revoke-security-group-ingress" if direction == "ingress" else "revoke-security-group-egress"
        changes.append(Change(
            resource=group, what=f"{text} ({why})",
            commands=(f"aws ec2 {verb} --group-id {_q(group)} --ip-permissions {_q(permissions)}",),
            console=f"{_ec2_console(finding, f'SecurityGroup:groupId={group}')} > {_CONSOLE_DIRECTION[direction]} rules > Edit "
                    f"{_CONSOLE_DIRECTION[direction].lower()} rules: delete the rule {match['proto']}{'/' + match['ports'] if match['ports'] else ''} "
                    f"from {', '.join(peers)}",
        ))
    return changes


def _internet(peer: str) -> bool:
    return peer in _INTERNET


def _internet_rule_changes(finding: dict) -> list[Change]:
    changes = _revoke_rules(finding, _internet, "admits every internet address")
    if changes:
        changes[-1] = Change(**{**changes[-1].__dict__, "notes": (
            "where people must still reach the service, admit only their ranges or the load balancer's group "
            "instead, e.g. aws ec2 authorize-security-group-ingress --group-id SG --protocol tcp --port PORT "
            "--cidr YOUR-OFFICE-OR-VPN-RANGE",)})
    return changes


def _route_changes(finding: dict) -> list[Change]:
    changes = []
    seen = set()
    for text in [*_rule_texts(finding), *_strings((finding.get("evidence") or {}).get("details"))]:
        for match in _ROUTE_TEXT.finditer(text):
            key = (match["table"], match["destination"])
            if key in seen:
                continue
            seen.add(key)
            option = "--destination-ipv6-cidr-block" if ":" in match["destination"] else "--destination-cidr-block"
            changes.append(Change(
                resource=match["table"], what=f"route {match['destination']} -> {match['target']} in {match['table']}",
                commands=(f"aws ec2 delete-route --route-table-id {_q(match['table'])} {option} "
                          f"{_q(match['destination'])}",),
                console=f"{_vpc_console(finding, 'RouteTableDetails:RouteTableId=' + match['table'])} > Routes > Edit routes: remove "
                        f"{match['destination']} -> {match['target']}",
                notes=("for outbound access, route it through a NAT gateway instead: aws ec2 create-route "
                       f"--route-table-id {match['table']} {option} {match['destination']} --nat-gateway-id NAT-ID",),
            ))
    return changes


def _role_name(arn: object) -> str | None:
    match = _ROLE_ARN.match(str(arn or ""))
    return match["name"] if match else None


def _inline_policy_changes(role: str | None, texts: list[str], why: str) -> list[Change]:
    """Delete the inline policies of `role` whose statements the texts name."""
    if not role:
        return []
    changes, seen = [], set()
    for text in texts:
        for match in _INLINE_GRANT.finditer(text):
            if match["policy"] in seen:
                continue
            seen.add(match["policy"])
            statement = f"allow {match['action']} on {match['resource']}"
            changes.append(Change(
                resource=f"role {role}", what=f"inline policy {match['policy']}: {statement} ({why})",
                commands=(f"aws iam delete-role-policy --role-name {_q(role)} --policy-name {_q(match['policy'])}",),
                console=f"{_iam_console('roles', role)} > Permissions > {match['policy']} > Remove",
                notes=(f"this deletes the whole inline policy {match['policy']}; to keep its other statements, put it "
                       f"back without \"{statement}\": aws iam get-role-policy --role-name {role} --policy-name "
                       f"{match['policy']}, then aws iam put-role-policy with the edited document",),
            ))
    return changes


_TRUST_ADMITS = re.compile(r"trust policy admits (?P<principal>arn:aws[a-z-]*:iam::\d{12}:(?:role|user)/[\w+=,.@/-]+)")


def _admin_chain_changes(finding: dict) -> list[Change]:
    """Break the first hop of the chain from the node's identity to the administrator: the next
    role's trust policy stops naming the node's role (in one account that alone lets it in), and
    the node's own statement that lets it assume that role goes."""
    steps = [s for s in _path(finding) if s.get("kind") == "identity"]
    if len(steps) < 2:
        return []
    target, via = _role_name(steps[1].get("id")), str(steps[1].get("via") or "")
    changes = []
    principal = _TRUST_ADMITS.search(via)
    if target and principal:
        document = f"{target}-trust.json"
        changes.append(Change(
            resource=f"role {target}", what=f"trust policy statement admitting {principal['principal']}",
            commands=(f"aws iam update-assume-role-policy --role-name {_q(target)} --policy-document "
                      f"file://{_q(document)}",),
            console=f"{_iam_console('roles', target)} > Trust relationships > Edit trust policy: remove "
                    f"{principal['principal']} from the principals",
            notes=(f"{document} is the current trust policy (aws iam get-role --role-name {target} --query "
                   f"Role.AssumeRolePolicyDocument) without {principal['principal']} among its principals",)))
    changes += _inline_policy_changes(_role_name(steps[0].get("id")), [via],
                                      f"lets it assume {steps[1].get('name') or steps[1].get('id')}, which holds "
                                      "administrator power")
    return changes


def _escalation_changes(finding: dict) -> list[Change]:
    details = (finding.get("evidence") or {}).get("details") or {}
    if not isinstance(details, dict):
        return []
    texts = [g for e in details.get("escalations") or [] if isinstance(e, dict) for g in e.get("grants") or []]
    identity = details.get("escalating_identity")
    hops = [h for h in details.get("hops") or [] if isinstance(h, dict)]
    if not texts and hops:
        # A chain to an administrator: the first step is the CI identity's own grant, the one to take out.
        first = hops[0]
        texts = [p.get("statement") for p in first.get("proofs") or [] if isinstance(p, dict) and p.get("statement")]
        texts = texts or [first.get("via")]
        identity = first.get("from")
    return _inline_policy_changes(_role_name(identity), [str(t) for t in texts],
                                  "one of the permissions that together let it make itself administrator")


def _production_access_changes(finding: dict) -> list[Change]:
    details = (finding.get("evidence") or {}).get("details") or {}
    if not isinstance(details, dict):
        return []
    texts = [str(t.get("via")) for t in details.get("targets") or [] if isinstance(t, dict)]
    return _inline_policy_changes(_role_name(details.get("identity")), texts, "lets it act on production")


def _production_reach_changes(finding: dict) -> list[Change]:
    # A rule admitting the CI node's group, or an address range holding it: the evidence names only
    # rules that admit this node, so every one of its peers is one to take out.
    return _revoke_rules(finding, lambda peer: not _internet(peer),
                         "admits the CI node into production")


def _imds_changes(finding: dict) -> list[Change]:
    instance = _instance_id(finding)
    if not instance:
        return []
    details = (finding.get("evidence") or {}).get("details") or {}
    tokens = details.get("http_tokens") if isinstance(details, dict) else None
    hops = details.get("hop_limit") if isinstance(details, dict) else None
    return [Change(
        resource=instance,
        what=f"instance metadata options: HttpTokens {tokens or 'unknown'} -> required"
             + (", hop limit 1" if hops == 1 else f", hop limit {hops or 'unknown'} -> 1"),
        commands=(f"aws ec2 modify-instance-metadata-options --instance-id {_q(instance)}"
                  " --http-tokens required --http-put-response-hop-limit 1 --http-endpoint enabled",),
        console=f"{_ec2_console(finding, 'InstanceDetails:instanceId=' + instance)} > Actions > Instance settings > Modify instance metadata "
                "options: IMDSv2 Required, hop limit 1",
    )]


def _user_data_changes(finding: dict) -> list[Change]:
    instance = _instance_id(finding)
    if not instance:
        return []
    details = (finding.get("evidence") or {}).get("details") or {}
    secrets = [s for s in details.get("secrets") or [] if isinstance(s, dict)] if isinstance(details, dict) else []
    lines = ", ".join(f"line {s.get('line')} ({s.get('kind')})" for s in secrets) or "the secret's lines"
    quoted = _q(instance)
    return [Change(
        resource=instance, what=f"user data: {lines}",
        commands=(f"aws ec2 stop-instances --instance-ids {quoted}",
                  f"aws ec2 wait instance-stopped --instance-ids {quoted}",
                  f"aws ec2 modify-instance-attribute --instance-id {quoted} --attribute userData "
                  "--value file://user-data.b64",
                  f"aws ec2 start-instances --instance-ids {quoted}"),
        console=f"{_ec2_console(finding, 'InstanceDetails:instanceId=' + instance)} > Instance state > Stop; then Actions > Instance settings > "
                f"Edit user data: delete {lines}; then Instance state > Start",
        notes=("rotate the secret first: removing it from user data does not un-leak it",
               f"user-data.b64 is the current user data (aws ec2 describe-instance-attribute --instance-id {instance} "
               f"--attribute userData, base64-decoded) without {lines}, base64-encoded again (base64 -w0); read the "
               "secret at boot instead, e.g. from SSM Parameter Store"),
    )]


def _public_address_changes(finding: dict) -> list[Change]:
    """Take each public address off the interface that holds it: an ephemeral one by turning off
    the interface's public IPv4, an Elastic IP by disassociating it."""
    details = (finding.get("evidence") or {}).get("details") or {}
    interfaces = [i for i in details.get("interfaces") or [] if isinstance(i, dict)] if isinstance(details, dict) else []
    changes = []
    for iface in interfaces:
        eni = str(iface.get("id") or "")
        if not re.match(r"^eni-[0-9a-f]{8,17}$", eni):
            continue
        for address in iface.get("public") or []:
            if iface.get("public_kind") == "static":
                changes.append(Change(
                    resource=eni, what=f"Elastic IP {address}",
                    commands=(f"aws ec2 describe-addresses --public-ips {_q(str(address))} --query "
                              "'Addresses[0].AssociationId' --output text",),
                    console=f"{_ec2_console(finding, f'Addresses:search={address}')} > {address} > Actions > Disassociate Elastic IP address",
                    notes=("then aws ec2 disassociate-address --association-id with the id it prints, and release "
                           "the address if nothing else needs it",)))
            else:
                changes.append(Change(
                    resource=eni, what=f"public IPv4 address {address} (assigned at launch)",
                    commands=(f"aws ec2 modify-network-interface-attribute --network-interface-id {_q(eni)}"
                              " --no-associate-public-ip-address",),
                    console=f"{_ec2_console(finding, 'NetworkInterface:networkInterfaceId=' + eni)} > Actions > Change IP addresses / Manage IP "
                            "addresses: turn off Auto-assign public IP"))
        for address in iface.get("ipv6") or []:
            changes.append(Change(
                resource=eni, what=f"IPv6 address {address}",
                commands=(f"aws ec2 unassign-ipv6-addresses --network-interface-id {_q(eni)} --ipv6-addresses "
                          f"{_q(str(address))}",),
                console=f"{_ec2_console(finding, 'NetworkInterface:networkInterfaceId=' + eni)} > Actions > Manage IP addresses: remove {address}"))
    return changes


def _lifetime_changes(finding: dict) -> list[Change]:
    commands = _limit_lifetime(finding)
    if not commands:
        return []
    group = ((finding.get("evidence") or {}).get("details") or {}).get("autoscaling_group")
    return [Change(resource=str(group), what="maximum instance lifetime: none -> 7 days", commands=tuple(commands),
                   console=f"{_ec2_console(finding, f'AutoScalingGroupDetails:id={group};view=details')} > Details > Edit: Maximum instance "
                           "lifetime 604800 seconds")]


def _exposure_changes(finding: dict) -> list[Change]:
    return _internet_rule_changes(finding)


def _path_changes(finding: dict) -> list[Change]:
    return _internet_rule_changes(finding) + _admin_chain_changes(finding)



_TF_ADDRESS = re.compile(
    r"^(module\.[A-Za-z_][\w-]*(\[[^\]]*\])?\.)*(?P<type>[a-z][a-z0-9]*_[a-z0-9_]+)\.[A-Za-z_][\w-]*(\[[^\]]*\])?$")


def is_terraform_address(text: str, type_prefix: str = "") -> bool:
    """Whether `text` is a Terraform resource address, of a type starting with `type_prefix`
    (`google_`, `azurerm_`: one cloud's resources)."""
    match = _TF_ADDRESS.match(text)
    return match is not None and match["type"].startswith(type_prefix)


def terraform_address(finding: dict) -> str | None:
    """The finding's resource address when it comes from a Terraform plan or state."""
    resource = finding.get("resource") or {}
    address = str(resource.get("address") or resource.get("id") or "")
    return address if is_terraform_address(address) else None


def _addresses(finding: dict, kind: str) -> list[str]:
    return _unique(str(s.get("id")) for s in _path(finding) if s.get("kind") == kind and is_terraform_address(str(s.get("id"))))


def terraform_changes(finding: dict) -> list[str]:
    """The change at each Terraform address the finding names: which attribute, from what to what."""
    address = terraform_address(finding)
    if address is None:
        return []
    check = str(finding.get("check_id"))
    details = (finding.get("evidence") or {}).get("details") or {}
    details = details if isinstance(details, dict) else {}
    firewalls = [f'{sg}: ingress cidr_blocks / ipv6_cidr_blocks ["0.0.0.0/0", "::/0"] -> the load balancer\'s '
                 "security group (source_security_group_id) or the allow-listed ranges" for sg in _addresses(finding, "firewall")]
    if check == "ci-imds-v1":
        return [f'{address}: metadata_options.http_tokens "{details.get("http_tokens") or "optional"}" -> "required", '
                f'metadata_options.http_put_response_hop_limit {details.get("hop_limit") or "unset"} -> 1']
    if check == "ci-secret-in-user-data":
        lines = ", ".join(f"line {s.get('line')} ({s.get('kind')})" for s in details.get("secrets") or [] if isinstance(s, dict))
        lines = lines or one_line(details.get("where")) or "the secret"
        return [f"{address}: user_data: remove {lines}; pass the name of an aws_ssm_parameter "
                "holding it and read it at boot"]
    if check in ("ci-not-behind-load-balancer", "ci-internet-exposed", "ci-internet-to-admin-path"):
        changes = [*firewalls, f"{address}: associate_public_ip_address true -> false (publish the service through "
                               "an aws_lb with an allow-listed security group)"]
        if check == "ci-internet-to-admin-path":
            changes += [f"{role}: remove the statements that grant administrator power or let it assume a role that "
                        "holds it" for role in _addresses(finding, "identity")[:1]]
        return changes
    if check == "ci-firewall-allows-internet":
        return firewalls or [f"{address}: vpc_security_group_ids: no group that admits 0.0.0.0/0 or ::/0"]
    if check == "ci-internet-gateway-segment":
        tables = _addresses(finding, "route_table") or [str(details.get("route_table") or "the subnet's route table")]
        return [f'{table}: route {{ cidr_block = "0.0.0.0/0", gateway_id = <internet gateway> }} -> '
                "nat_gateway_id = aws_nat_gateway.<name>.id" for table in tables]
    if check in ("ci-admin-identity", "ci-privilege-escalation", "ci-production-access"):
        roles = _addresses(finding, "identity") or [f"the role of {address}"]
        return [f"{roles[0]}: remove the statements the evidence names (and set permissions_boundary to a "
                "boundary that denies iam:* and sts:AssumeRole into production)"]
    if check == "ci-long-lived-runner":
        return [f"{address}: replace with an aws_autoscaling_group of the runner's launch template, "
                "max_instance_lifetime = 604800"]
    if check == "ci-reaches-production":
        return [f"the production security group's ingress: source_security_group_id / cidr_blocks naming {address}'s "
                "group or network -> only the production load balancer's group"]
    return [f"{address}: {summary_for(check, str(finding.get('title') or check))}"]



_TF_PRIVATE_BEHIND_LB = """\
resource "aws_instance" "ci" {
  subnet_id                   = aws_subnet.private.id   # no 0.0.0.0/0 route to an internet gateway
  associate_public_ip_address = false
  vpc_security_group_ids      = [aws_security_group.ci.id]
}

resource "aws_security_group_rule" "ci_from_lb" {
  type                     = "ingress"
  security_group_id        = aws_security_group.ci.id
  source_security_group_id = aws_security_group.lb.id   # only the load balancer, never 0.0.0.0/0
  protocol                 = "tcp"
  from_port                = 8080
  to_port                  = 8080
}
"""

_TF_NO_INTERNET_RULE = """\
resource "aws_security_group_rule" "ci_https" {
  type              = "ingress"
  security_group_id = aws_security_group.ci.id
  protocol          = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_blocks       = var.office_and_vpn_cidrs   # never ["0.0.0.0/0"] or ipv6 ["::/0"]
}
"""

_TF_NAT_SEGMENT = """\
resource "aws_route_table" "ci_private" {
  vpc_id = aws_vpc.main.id
  route {
    cidr_block     = "0.0.0.0/0"
    nat_gateway_id = aws_nat_gateway.main.id   # outbound only; no gateway_id = aws_internet_gateway...
  }
}

resource "aws_route_table_association" "ci" {
  subnet_id      = aws_subnet.ci.id
  route_table_id = aws_route_table.ci_private.id
}
"""

_TF_SEGMENTATION = """\
resource "aws_security_group_rule" "prod_app_ingress" {
  type                     = "ingress"
  security_group_id        = aws_security_group.prod_app.id
  source_security_group_id = aws_security_group.prod_lb.id   # not the CI or runner group, not the VPC CIDR
  protocol                 = "tcp"
  from_port                = 443
  to_port                  = 443
}
# and keep CI in its own VPC without peering or transit gateway routes into production
"""

_TF_LEAST_PRIVILEGE = """\
resource "aws_iam_role_policy" "ci_build" {
  role = aws_iam_role.ci.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["s3:GetObject", "s3:PutObject"]          # what the builds need, no "*" or "iam:*"
      Resource = ["${aws_s3_bucket.artifacts.arn}/*"]
    }]
  })
}

resource "aws_iam_role" "ci" {
  name                 = "ci-build"
  assume_role_policy   = data.aws_iam_policy_document.ec2_trust.json
  permissions_boundary = aws_iam_policy.ci_permissions_boundary.arn   # denies iam:* and sts:AssumeRole into production
}
"""

_TF_PROD_TRUST = """\
data "aws_iam_policy_document" "prod_deploy_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.release_pipeline.arn]   # the release identity only, not every CI runner
    }
    condition {
      test     = "StringEquals"
      variable = "aws:PrincipalTag/pipeline"
      values   = ["release"]
    }
  }
}
"""

_TF_IMDS_V2 = """\
resource "aws_instance" "ci" {
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"   # IMDSv2 only
    http_put_response_hop_limit = 1            # build containers cannot reach the host's credentials
  }
}
"""

_TF_NO_SECRET_USER_DATA = """\
resource "aws_instance" "ci" {
  # user data is readable by anyone with ec2:DescribeInstanceAttribute and from the instance itself:
  # fetch the secret at boot instead
  user_data = templatefile("${path.module}/bootstrap.sh", {
    token_parameter = aws_ssm_parameter.runner_token.name   # read with aws ssm get-parameter --with-decryption
  })
}
"""

_TF_EPHEMERAL_RUNNERS = """\
resource "aws_autoscaling_group" "runners" {
  min_size              = 0
  max_size              = 10
  max_instance_lifetime = 604800   # 7 days; ephemeral runners ideally live for one job
  vpc_zone_identifier   = [aws_subnet.private.id]
  launch_template {
    id      = aws_launch_template.runner.id
    version = "$Latest"
  }
}
"""

_TF_PINNED_FEDERATION = """\
data "aws_iam_policy_document" "deploy_trust" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.github.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"                       # not StringLike with "repo:*" or "repo:acme/*"
      variable = "token.actions.githubusercontent.com:sub"
      values   = ["repo:acme/infra:ref:refs/heads/main"]   # or "repo:acme/infra:environment:production"
    }
  }
}
"""

_TF_NO_STORED_KEY = """\
# Remove the long-lived key and let the pipeline federate instead (see ci-federation-unscoped)
# resource "aws_iam_access_key" "ci" { user = aws_iam_user.ci.name }   <- delete
resource "aws_iam_role" "ci_deploy" {
  name               = "ci-deploy"
  assume_role_policy = data.aws_iam_policy_document.deploy_trust.json   # pinned to one repository and branch
}
"""


def _deactivate_keys(finding: dict) -> list[str]:
    resource = finding.get("resource") or {}
    match = re.match(r"^arn:aws[a-z-]*:iam::\d{12}:user/(?:.*/)?([\w+=,.@-]+)$", str(resource.get("id", "")))
    if not match:
        return []
    return [f"aws iam list-access-keys --user-name {_q(match.group(1))}",
            f"aws iam update-access-key --user-name {_q(match.group(1))} --access-key-id <KEY-ID> --status Inactive"]


def _pin_trust(finding: dict) -> list[str]:
    return [f"aws iam get-role --role-name {_q(name)} --query Role.AssumeRolePolicyDocument"
            for _, name in _roles(finding)[:1]]


def _pin_trust_changes(finding: dict) -> list[Change]:
    """The federated trust statement's `sub` condition, pinned to what the finding says to pin."""
    role = _role_name((finding.get("resource") or {}).get("id"))
    details = (finding.get("evidence") or {}).get("details") or {}
    if not role or not isinstance(details, dict):
        return []
    pin, issuer = one_line(details.get("pin")), one_line(details.get("issuer_url") or details.get("issuer"))
    document = f"{role}-trust.json"
    return [Change(
        resource=f"role {role}", what=f"trust statement {one_line(details.get('statement'))}: sub -> {pin}",
        commands=(f"aws iam update-assume-role-policy --role-name {_q(role)} --policy-document file://{_q(document)}",),
        console=f"{_iam_console('roles', role)} > Trust relationships > Edit trust policy: a StringEquals condition "
                f"on {issuer}:sub naming {pin}",
        notes=(f"{document} is the current trust policy (aws iam get-role --role-name {role} --query "
               f"Role.AssumeRolePolicyDocument) with that condition on {issuer}:sub",))]


def _deactivate_key_changes(finding: dict) -> list[Change]:
    """Deactivate each active long-lived key the finding names, by its id."""
    match = re.match(r"^arn:aws[a-z-]*:iam::\d{12}:user/(?:.*/)?([\w+=,.@-]+)$",
                     str((finding.get("resource") or {}).get("id", "")))
    details = (finding.get("evidence") or {}).get("details") or {}
    if not match or not isinstance(details, dict):
        return []
    user = match.group(1)
    changes = []
    for key in details.get("keys") or []:
        key_id = str(key.get("key") if isinstance(key, dict) else key)
        if not re.fullmatch(r"A[KS]IA[A-Z0-9]{12,20}", key_id):
            continue
        changes.append(Change(
            resource=f"user {user}", what=f"access key {key_id}",
            commands=(f"aws iam update-access-key --user-name {_q(user)} --access-key-id {_q(key_id)} --status Inactive",),
            console=f"{_iam_console('users', user)} > Security credentials > Access keys > {key_id} > Actions > Deactivate",
            notes=(f"once the pipeline federates instead, delete it: aws iam delete-access-key --user-name {user} "
                   f"--access-key-id {key_id}",)))
    return changes


GUIDES: dict[str, CheckGuide] = {
    "ci-internet-exposed": CheckGuide(
        "Traffic from any internet address can reach the CI node on at least one port today, directly or through an internet-facing load balancer.",
        _TF_PRIVATE_BEHIND_LB,
        _exposure_fix,
        _exposure_changes,
    ),
    "ci-firewall-allows-internet": CheckGuide(
        "A firewall attached to the CI node admits ingress from any internet address: the node is one change away from exposure.",
        _TF_NO_INTERNET_RULE,
        _revoke_internet_ingress,
        _internet_rule_changes,
    ),
    "ci-internet-gateway-segment": CheckGuide(
        "The CI node's network segment routes straight to the internet, with no NAT or inspecting firewall between.",
        _TF_NAT_SEGMENT,
        _route_through_nat,
        _route_changes,
    ),
    "ci-not-behind-load-balancer": CheckGuide(
        "A CI server has its own public address instead of being reached only through a load balancer.",
        _TF_PRIVATE_BEHIND_LB,
        _remove_public_address,
        _public_address_changes,
    ),
    "ci-reaches-production": CheckGuide(
        "The CI node can open a connection to a production node through shared or joined networks and an admitting firewall rule.",
        _TF_SEGMENTATION,
        changes=_production_reach_changes,
    ),
    "ci-admin-identity": CheckGuide(
        "The identity the CI node runs as holds administrator power over the account, project or subscription.",
        _TF_LEAST_PRIVILEGE,
        _review_role,
        _admin_chain_changes,
    ),
    "ci-privilege-escalation": CheckGuide(
        "The CI node's identity is not administrator but holds permissions that let it make itself one.",
        _TF_LEAST_PRIVILEGE,
        _review_role,
        _escalation_changes,
    ),
    "ci-production-access": CheckGuide(
        "The CI node's identity can act on production: assume a production role or write to production resources.",
        _TF_PROD_TRUST,
        _tighten_trust,
        _production_access_changes,
    ),
    "ci-internet-to-admin-path": CheckGuide(
        "One path joins the internet to administrator or production power through the CI node and its identity.",
        _TF_PRIVATE_BEHIND_LB + "\n" + _TF_LEAST_PRIVILEGE,
        lambda finding: _exposure_fix(finding) + _review_role(finding),
        _path_changes,
    ),
    "ci-federation-unscoped": CheckGuide(
        "A CI platform's tokens can become the identity without its trust pinning which repository and branch: "
        "anyone who can run a pipeline there (or another repository or branch) gets its power.",
        _TF_PINNED_FEDERATION,
        _pin_trust,
        _pin_trust_changes,
    ),
    "ci-stored-credential": CheckGuide(
        "A CI identity holds a long-lived key stored in the CI system: whoever reads it acts as the pipeline, "
        "from anywhere, until it is rotated.",
        _TF_NO_STORED_KEY,
        _deactivate_keys,
        _deactivate_key_changes,
    ),
    "ci-imds-v1": CheckGuide(
        "The instance metadata service accepts IMDSv1, or a runner's hop limit lets build containers reach the host's credentials.",
        _TF_IMDS_V2,
        _imds_v2,
        _imds_changes,
    ),
    "ci-secret-in-user-data": CheckGuide(
        "The node's launch data holds a secret, readable from the instance and by anyone allowed to describe it.",
        _TF_NO_SECRET_USER_DATA,
        _clear_user_data,
        _user_data_changes,
    ),
    "ci-long-lived-runner": CheckGuide(
        "A runner has been running longer than the configured limit or was not made by an autoscaling fleet: persistent runners keep footholds between builds.",
        _TF_EPHEMERAL_RUNNERS,
        _limit_lifetime,
        _lifetime_changes,
    ),
}


@dataclass(frozen=True)
class Steps:
    """The remediation of one finding: its check's text, the Terraform pattern and the change at
    each address when it comes from a plan, and for a live AWS resource the exact changes with
    their commands (`commands` is every command of them, in order)."""

    text: str
    terraform: str | None
    commands: list[str]
    changes: list[Change] = field(default_factory=list)
    terraform_changes: list[str] = field(default_factory=list)


def steps_for(finding: dict) -> Steps:
    """The remediation of one finding: its own text, the exact changes, and the Terraform and AWS
    CLI that apply."""
    guide = GUIDES.get(str(finding.get("check_id")))
    provider = (finding.get("resource") or {}).get("provider")
    if guide and provider in ("gcp", "azure"):
        return _other_cloud_steps(finding, provider)
    aws = provider == "aws"
    terraform = guide.terraform if guide and aws else None
    changes: list[Change] = []
    commands: list[str] = []
    if guide and is_live_aws(finding):
        changes = guide.changes(finding)
        commands = [c for change in changes for c in change.commands]
        # Checks whose evidence names what to change get their exact changes; the older
        # command-only form stands where it names something more (a policy attached by ARN, say).
        commands += [c for c in guide.cli(finding) if c not in commands and (not changes or _adds(c))]
    return Steps(str(finding.get("remediation", "")), terraform, commands, changes,
                 terraform_changes(finding) if guide and aws else [])


def _other_cloud_steps(finding: dict, provider: str) -> Steps:
    """Google Cloud's and Azure's: the exact changes (gcloud / az) of a live resource, or the change
    at its google_* / azurerm_* address when the finding comes from a plan."""
    from . import remediation_azure, remediation_gcp

    module = remediation_gcp if provider == "gcp" else remediation_azure
    address = terraform_address(finding)
    text = str(finding.get("remediation", ""))
    if address is not None:
        return Steps(text, None, [], [], module.terraform_changes(finding, address))
    changes = module.changes(finding)
    return Steps(text, None, [c for change in changes for c in change.commands], changes)


def _adds(command: str) -> bool:
    """A command of the older form worth keeping beside exact changes: one that changes something
    named in the finding (not a listing, not a placeholder to fill in)."""
    return (command.startswith(("aws iam detach-role-policy", "aws iam update-assume-role-policy"))
            and "$" not in command)


def cli_name(commands) -> str:
    """The command-line tool the commands are for, named as its cloud names it."""
    first = re.sub(r"^[a-z_]+=\$\(", "", next(iter(commands), "")).split(" ", 1)[0]
    return {"gcloud": "gcloud CLI", "az": "Azure CLI"}.get(first, "AWS CLI")


def summary_for(check_id: str, fallback: str) -> str:
    guide = GUIDES.get(check_id)
    return guide.summary if guide else fallback
