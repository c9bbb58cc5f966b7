"""Collecting every account of an AWS organization: the accounts listed through AWS Organizations
(from the management account or a delegated administrator), a role assumed in each (default
OrganizationAccountAccessRole, with an external id where its trust asks for one), and the service
control policies that apply to each account (root, organizational units, the account), which cut
what any identity of that account can do.

The work is tasks (guardrails/engine.py): per account one "global" task (identity, aliases, IAM,
and the enabled regions when every region is asked for) and one task per region, run on a local
pool or a Dask cluster, each writing its part to the snapshot directory. The parts of an account
are merged back into one snapshot part per account. An account whose role cannot be assumed, or
whose tasks fail after their retries, becomes coverage gaps for that account; the others go on.
"""

from __future__ import annotations

import datetime as _dt
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from guardrails import engine
from guardrails.errors import CollectionError, UserError

from . import collect as aws
from .arns import partition_of  # role ARNs in the accounts of a caller are built in its partition

DEFAULT_ROLE = "OrganizationAccountAccessRole"
SESSION_NAME = "pipeline-guardrails"
SCP = "SERVICE_CONTROL_POLICY"


@dataclass(frozen=True)
class Member:
    id: str
    name: str
    status: str
    tags: dict | None = None  # the account's tags in AWS Organizations; None when unreadable


@dataclass
class Organization:
    """What the management account says of the organization."""

    id: str
    management_account: str
    members: list[Member]
    caller_account: str
    gaps: list[dict] = field(default_factory=list)
    partition: str = "aws"  # the caller's partition: aws, aws-us-gov or aws-cn
    names: dict[str, str] = field(default_factory=dict)  # every listed account's name, by id


def _organizations(session):
    return aws.make_client(session, "organizations", session.region_name or "us-east-1")


def describe(session, only: list[str] | None) -> Organization:
    """The organization and its active member accounts (those of `only` when given); an account
    of `only` that is not an active member is a gap. CollectionError when the accounts cannot be
    listed: nothing of the organization can be collected then."""
    try:
        identity = aws.make_client(session, "sts", session.region_name or "us-east-1").get_caller_identity()
        caller = identity["Account"]
        organizations = _organizations(session)
        described = organizations.describe_organization()["Organization"]
        accounts = aws.all_items(organizations, "list_accounts", "Accounts")
    except aws.CLOUD_ERRORS as error:
        raise CollectionError(f"cannot list the organization's accounts: {aws.error_text(error)}") from None
    members = [Member(a["Id"], a.get("Name") or a["Id"], a.get("Status") or "ACTIVE") for a in accounts]
    org = Organization(described["Id"], described.get("MasterAccountId") or "", [], caller,
                       partition=partition_of(identity.get("Arn") or ""), names={m.id: m.name for m in members})
    wanted = set(only) if only else None
    for member in sorted(members, key=lambda m: m.id):
        if wanted is not None and member.id not in wanted:
            continue
        if member.status != "ACTIVE":
            org.gaps.append(_gap(member.id, None, "account", f"not collected: the account is {member.status.lower()}"))
            continue
        org.members.append(member)
    org.members = [_with_tags(organizations, member, org.gaps) for member in org.members]
    for missing in sorted((wanted or set()) - {m.id for m in members}):
        org.gaps.append(_gap(missing, None, "account", f"not collected: not an account of organization {org.id}"))
    return org


def _with_tags(organizations, member: Member, gaps: list[dict]) -> Member:
    """The member with its tags in AWS Organizations (where accounts are commonly marked as
    production); a gap when they cannot be read, since then whether it is production may be unknown."""
    try:
        tags = aws.all_items(organizations, "list_tags_for_resource", "Tags", ResourceId=member.id)
    except aws.CLOUD_ERRORS as error:
        gaps.append(_gap(member.id, None, "organizations.account_tags", f"organizations: {aws.error_text(error)}"))
        return member
    return Member(member.id, member.name, member.status,
                  {t["Key"]: t.get("Value") or "" for t in tags if isinstance(t, dict) and t.get("Key")})


def service_control_policies_enabled(session) -> bool:
    """Whether service control policies are in force in the organization: the policy type is
    enabled in its root. Where it is not, no SCP applies to any account (AWS detaches them all
    when the type is disabled). CloudError subclasses propagate to the caller."""
    roots = _organizations(session).list_roots().get("Roots") or []
    return any(t.get("Type") == SCP and t.get("Status") == "ENABLED"
               for root in roots for t in root.get("PolicyTypes") or [])


def service_control_policies(session, accounts: list[str]) -> tuple[dict[str, list[dict]], list[dict]]:
    """For each account, the SCPs that apply to it, level by level from the root down to the
    account: [{"target": id, "type": ROOT|ORGANIZATIONAL_UNIT|ACCOUNT, "policies": [{"id", "name",
    "aws_managed", "document"}]}]. An action is allowed only where every level allows it and none
    denies it. An account whose policies cannot be read gets a gap instead (its power is then
    judged without them, as if no SCP applied: the widest it can be)."""
    organizations = _organizations(session)
    parents: dict[str, tuple[str, str] | None] = {}
    attached: dict[str, list[dict]] = {}
    documents: dict[str, dict] = {}

    def parent_of(child: str) -> tuple[str, str] | None:
        if child not in parents:
            found = organizations.list_parents(ChildId=child).get("Parents") or []
            parents[child] = (found[0]["Id"], found[0]["Type"]) if found else None
        return parents[child]

    def policies_of(target: str) -> list[dict]:
        if target not in attached:
            summaries = aws.all_items(organizations, "list_policies_for_target", "Policies", TargetId=target,
                                      Filter=SCP)
            out = []
            for summary in summaries:
                if summary["Id"] not in documents:
                    policy = organizations.describe_policy(PolicyId=summary["Id"])["Policy"]
                    documents[summary["Id"]] = aws.policy_document(policy.get("Content") or "{}")
                out.append({"id": summary["Id"], "name": summary.get("Name"), "arn": summary.get("Arn"),
                            "aws_managed": bool(summary.get("AwsManaged")), "document": documents[summary["Id"]]})
            attached[target] = out
        return attached[target]

    result: dict[str, list[dict]] = {}
    gaps: list[dict] = []
    try:
        enabled = service_control_policies_enabled(session)
    except aws.CLOUD_ERRORS as error:
        return {}, [_gap(account, None, "organizations.service_control_policies",
                         f"organizations: whether service control policies are enabled: {aws.error_text(error)}")
                    for account in accounts]
    if not enabled:
        return {account: [] for account in accounts}, []
    for account in accounts:
        try:
            levels = [{"target": account, "type": "ACCOUNT", "policies": policies_of(account)}]
            node = parent_of(account)
            while node is not None:
                target, kind = node
                levels.append({"target": target, "type": kind, "policies": policies_of(target)})
                node = parent_of(target) if kind != "ROOT" else None
        except aws.CLOUD_ERRORS as error:
            gaps.append(_gap(account, None, "organizations.service_control_policies",
                             f"organizations: {aws.error_text(error)}"))
            continue
        result[account] = levels[::-1]
    return result, gaps


def _gap(account: str, region: str | None, what: str, error: str) -> dict:
    return {"provider": "aws", "scope": account, "region": region, "what": what, "error": error}


# --- the tasks, run on workers -----------------------------------------------------------------

_SESSIONS: dict[tuple, tuple[Any, float]] = {}
_SESSIONS_LOCK = threading.Lock()
_MODELS: list[Any] = []  # the process's one botocore loader, once made


def _new_session(**kwargs):
    """A boto3 session reading AWS's service models through the process's one loader: each new
    session would otherwise parse them again (about a second of CPU per account), and they are the
    same files for every account."""
    import boto3
    import botocore.loaders
    import botocore.session

    with _SESSIONS_LOCK:
        if not _MODELS:
            _MODELS.append(botocore.loaders.create_loader())
    core = botocore.session.Session()
    core.register_component("data_loader", _MODELS[0])
    return boto3.Session(botocore_session=core, **kwargs)
CREDENTIALS_KEPT = 15 * 60  # reuse assumed credentials while they have this long to live


def account_session(profile: str | None, role_arn: str | None, external_id: str | None, region: str):
    """A session in the account: the worker's own credentials, or the role assumed with them.
    Assumed credentials are reused by the worker's tasks of the same account while they last."""
    base = _new_session(profile_name=profile, region_name=region)
    if role_arn is None:
        return base
    key = (profile, role_arn, external_id)
    with _SESSIONS_LOCK:
        kept = _SESSIONS.get(key)
        if kept is not None and kept[1] - time.time() > CREDENTIALS_KEPT:
            return kept[0]
    # AssumeRole changes nothing in any account, but it is no read: this client alone may call it.
    sts = base.client("sts", region_name=region, config=aws.client_config())
    request = {"RoleArn": role_arn, "RoleSessionName": SESSION_NAME}
    if external_id:
        request["ExternalId"] = external_id
    credentials = sts.assume_role(**request)["Credentials"]
    session = _new_session(aws_access_key_id=credentials["AccessKeyId"],
                           aws_secret_access_key=credentials["SecretAccessKey"],
                           aws_session_token=credentials["SessionToken"], region_name=region)
    expires = credentials["Expiration"]
    expires = expires.timestamp() if isinstance(expires, _dt.datetime) else time.time() + 3600
    with _SESSIONS_LOCK:
        _SESSIONS[key] = (session, expires)
    return session


def collect_part(spec: dict) -> dict:
    """One task: collect one part of one account ("global", or one region) and write it to the
    snapshot directory. Returns where it was written and, for a global part asked for every
    region, the regions enabled in the account. Raises when nothing could be collected, so that
    the engine tries again."""
    from .commands import user_data_wanted

    part, account = spec["part"], spec["account"]
    region = spec["home_region"] if part == "global" else part
    try:
        session = account_session(spec.get("profile"), spec.get("role_arn"), spec.get("external_id"), region)
    except aws.CLOUD_ERRORS as error:
        raise CollectionError(f"cannot assume {spec.get('role_arn')}: {aws.error_text(error)}") from None
    listed: list[str] = []
    regions = [region] if part != "global" else spec.get("regions")
    try:
        snap = aws.collect(session, regions, wants_user_data=user_data_wanted(spec["config"]),
                           timeout=spec.get("timeout"), call_timeout=spec.get("call_timeout") or aws.CALL_TIMEOUT,
                           parts=("global",) if part == "global" else ("regions",), listed_regions=listed)
    except aws.CollectionError as error:
        raise CollectionError(str(error)) from None
    if snap.get("scope") != account:
        raise CollectionError(f"the credentials for account {account} are those of account {snap.get('scope')}")
    path = engine.join(spec["snapshot_dir"], account, f"{part}.json.gz")
    engine.write_part(path, snap)
    return {"path": path, "regions": listed if part == "global" and spec.get("regions") is None else None}


# --- the driver -------------------------------------------------------------------------------


@dataclass
class Request:
    """What `scan aws --organization` (or --scheduler / --snapshot-dir) asked for."""

    profile: str | None
    home_region: str
    regions: list[str] | None  # None: every region enabled in each account
    role_name: str = DEFAULT_ROLE
    external_id: str | None = None
    accounts: list[str] | None = None
    organization: bool = True
    scheduler: str | None = None
    snapshot_dir: str = ""
    bounds: engine.Bounds = field(default_factory=engine.Bounds)
    timeout: float | None = None
    call_timeout: float | None = None


def role_arn(partition: str, account: str, role_name: str) -> str:
    """The ARN of the role assumed in `account`, in the caller's partition."""
    return f"arn:{partition}:iam::{account}:role/{role_name}"


def collect_accounts(session, request: Request, config, progress: Callable[[str], None]) -> tuple[list[dict], str]:
    """Collect the organization's accounts (or the caller's own account alone when not
    --organization) as tasks; one snapshot part per account, and the scope's name."""
    if request.organization:
        progress("listing the organization's accounts")
        org = describe(session, request.accounts)
        members = [m.id for m in org.members]
        progress(f"reading the service control policies of {len(members)} accounts")
        policies, gaps = service_control_policies(session, members)
        gaps = org.gaps + gaps
        scope = f"aws-organization:{org.id}" + (f"[{','.join(sorted(request.accounts))}]" if request.accounts else "")
        caller, partition = org.caller_account, org.partition
    else:
        try:
            identity = aws.make_client(session, "sts", request.home_region).get_caller_identity()
        except aws.CLOUD_ERRORS as error:
            raise CollectionError(f"nothing could be collected: cannot identify the AWS account: "
                                  f"{aws.error_text(error)}") from None
        caller, partition = identity["Account"], partition_of(identity.get("Arn") or "")
        org, members, policies, gaps, scope = None, [caller], {}, [], f"aws:{caller}"

    def spec(account: str, part: str) -> dict:
        role = None if account == caller else role_arn(partition, account, request.role_name)
        return {"account": account, "part": part, "profile": request.profile, "role_arn": role,
                "external_id": request.external_id, "home_region": request.home_region, "regions": request.regions,
                "config": config, "timeout": request.timeout, "call_timeout": request.call_timeout,
                "snapshot_dir": request.snapshot_dir}

    def task(account: str, part: str) -> engine.Task:
        return engine.Task(f"{account}-{part}", account, collect_part, (spec(account, part),))

    first = [task(account, "global") for account in members]
    if request.regions is not None:
        first += [task(account, region) for account in members for region in request.regions]

    def follow_up(outcome: engine.Outcome) -> list[engine.Task]:
        result = outcome.result or {}
        if result.get("regions"):
            return [task(outcome.task.group, region) for region in result["regions"]]
        return []

    outcomes = engine.run_tasks(first, follow_up, scheduler=request.scheduler, bounds=request.bounds,
                                progress=progress)
    snapshots = merge(outcomes, members, policies, gaps, org)
    return snapshots, scope


def merge(outcomes: list[engine.Outcome], members: list[str], policies: dict[str, list[dict]], gaps: list[dict],
          org: Organization | None) -> list[dict]:
    """One snapshot part per account from its tasks' parts, with the gaps of what failed."""
    parts: dict[str, list[dict]] = {}
    failed: dict[str, list[engine.Outcome]] = {}
    for outcome in outcomes:
        if outcome.error is None:
            parts.setdefault(outcome.task.group, []).append(engine.read_part(outcome.result["path"]))
        else:
            failed.setdefault(outcome.task.group, []).append(outcome)
    snapshots = []
    for account in members:
        own = sorted(parts.get(account, []), key=lambda p: 0 if p.get("iam") else 1)
        account_gaps = [g for g in gaps if g.get("scope") == account]
        for outcome in failed.get(account, []):
            part = outcome.task.args[0]["part"]
            if part == "global":
                account_gaps.append(_gap(account, None, "account" if not own else "iam",
                                         f"not collected: {outcome.error}"))
            else:
                account_gaps.append(_gap(account, part, "region", f"not collected: {outcome.error}"))
        if not own:
            merged = _empty_part(account, account_gaps)
            if org is not None:
                merged["account"]["organization"] = _organization_of(org, account, policies)
            snapshots.append(merged)
            continue
        merged = dict(own[0])
        merged["regions"] = {}
        merged["gaps"] = []
        for part in own:
            merged["regions"].update(part.get("regions") or {})
            merged["gaps"].extend(part.get("gaps") or [])
            merged["collected_at"] = max(merged.get("collected_at") or "", part.get("collected_at") or "")
        merged["gaps"].extend(account_gaps)
        if org is not None:
            merged["account"] = {**merged.get("account", {}), "organization": _organization_of(org, account, policies)}
        snapshots.append(merged)
    for gap in gaps:  # accounts named by --accounts that are not members
        if gap.get("scope") not in members:
            snapshots.append(_empty_part(gap["scope"], [gap]))
    return snapshots


def _organization_of(org: Organization, account: str, policies: dict[str, list[dict]]) -> dict:
    """What the organization says of one account: its name and tags there (tags None when they
    could not be read) and the service control policies that bound it (None when unreadable)."""
    member = next((m for m in org.members if m.id == account), None)
    # SCPs never bound the management account itself.
    bounding = [] if account == org.management_account else policies.get(account)
    return {"id": org.id, "management_account": org.management_account, "name": org.names.get(account),
            "tags": member.tags if member is not None else None, "service_control_policies": bounding}


def _empty_part(account: str, gaps: list[dict]) -> dict:
    from guardrails import __version__
    from guardrails.snapshot import FORMAT, VERSION

    return {"format": FORMAT, "version": VERSION, "tool_version": __version__,
            "collected_at": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "provider": "aws",
            "source": "aws", "scope": account, "account": {"id": account}, "regions": {}, "iam": {}, "gaps": gaps}


def require_options(request: Request) -> None:
    if request.scheduler and not request.snapshot_dir:
        raise UserError("--scheduler needs --snapshot-dir: a folder or URL (s3://bucket/prefix) every worker can "
                        "write to and this machine can read")
