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

DEFAULT_ROLE = "OrganizationAccountAccessRole"
SESSION_NAME = "pipeline-guardrails"
SCP = "SERVICE_CONTROL_POLICY"


@dataclass(frozen=True)
class Member:
    id: str
    name: str
    status: str


@dataclass
class Organization:
    """What the management account says of the organization."""

    id: str
    management_account: str
    members: list[Member]
    caller_account: str
    gaps: list[dict] = field(default_factory=list)


def _organizations(session):
    return aws.make_client(session, "organizations", session.region_name or "us-east-1")


def describe(session, only: list[str] | None) -> Organization:
    """The organization and its active member accounts (those of `only` when given); an account
    of `only` that is not an active member is a gap. CollectionError when the accounts cannot be
    listed: nothing of the organization can be collected then."""
    try:
        caller = aws.make_client(session, "sts", session.region_name or "us-east-1").get_caller_identity()["Account"]
        organizations = _organizations(session)
        described = organizations.describe_organization()["Organization"]
        accounts = aws.all_items(organizations, "list_accounts", "Accounts")
    except aws.CLOUD_ERRORS as error:
        raise CollectionError(f"cannot list the organization's accounts: {aws.error_text(error)}") from None
    members = [Member(a["Id"], a.get("Name") or a["Id"], a.get("Status") or "ACTIVE") for a in accounts]
    org = Organization(described["Id"], described.get("MasterAccountId") or "", [], caller)
    wanted = set(only) if only else None
    for member in sorted(members, key=lambda m: m.id):
        if wanted is not None and member.id not in wanted:
            continue
        if member.status != "ACTIVE":
            org.gaps.append(_gap(member.id, None, "account", f"not collected: the account is {member.status.lower()}"))
            continue
        org.members.append(member)
    for missing in sorted((wanted or set()) - {m.id for m in members}):
        org.gaps.append(_gap(missing, None, "account", f"not collected: not an account of organization {org.id}"))
    return org


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
CREDENTIALS_KEPT = 15 * 60  # reuse assumed credentials while they have this long to live


def account_session(profile: str | None, role_arn: str | None, external_id: str | None, region: str):
    """A session in the account: the worker's own credentials, or the role assumed with them.
    Assumed credentials are reused by the worker's tasks of the same account while they last."""
    import boto3

    base = boto3.Session(profile_name=profile, region_name=region)
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
    session = boto3.Session(aws_access_key_id=credentials["AccessKeyId"],
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
        caller = org.caller_account
    else:
        try:
            caller = aws.make_client(session, "sts", request.home_region).get_caller_identity()["Account"]
        except aws.CLOUD_ERRORS as error:
            raise CollectionError(f"nothing could be collected: cannot identify the AWS account: "
                                  f"{aws.error_text(error)}") from None
        org, members, policies, gaps, scope = None, [caller], {}, [], f"aws:{caller}"
    partition = "aws"

    def spec(account: str, part: str) -> dict:
        role = None if account == caller else f"arn:{partition}:iam::{account}:role/{request.role_name}"
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
            snapshots.append(_empty_part(account, account_gaps))
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
            # SCPs never bound the management account itself.
            bounding = [] if account == org.management_account else policies.get(account)
            merged["account"] = {**merged.get("account", {}), "organization": {
                "id": org.id, "management_account": org.management_account,
                "service_control_policies": bounding}}
        snapshots.append(merged)
    for gap in gaps:  # accounts named by --accounts that are not members
        if gap.get("scope") not in members:
            snapshots.append(_empty_part(gap["scope"], [gap]))
    return snapshots


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
