"""`guardrails scan aws` and `guardrails demo`: the AWS provider's commands. Light at import: the
CLI imports this module at every start; boto3 and moto are imported when a command runs."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional

import typer

from guardrails import commands as common
from guardrails.commands import (ALLOW_GAPS_OPT, CONFIG_OPT, FAIL_ON_OPT, FORMAT_OPT, OUTPUT_OPT, QUIET_OPT,
                                 SAVE_SNAPSHOT_OPT, TIMEOUT_OPT, VERBOSE_OPT, WORKERS_OPT, FailOn, Format)
from guardrails.errors import UserError


def user_data_wanted(config):
    """Which instances' user data to fetch: one call per instance, so only for CI nodes."""
    from guardrails.analysis.classify import classify_ci

    from .normalize import tags_of

    def wanted(instance: dict, context: dict) -> bool:
        tags = tags_of(instance)
        image = (context.get("images") or {}).get(instance.get("ImageId")) or {}
        return classify_ci(instance.get("InstanceId", ""), tags.get("Name", instance.get("InstanceId", "")), tags,
                           image=image.get("Name"),
                           autoscaling_group=context.get("auto_scaling_group"), config=config) is not None
    return wanted


def collect_aws(session, regions: list[str] | None, config, label: str = "Collecting AWS", *, quiet: bool = False,
                timeout: float | None = None, call_timeout: float | None = None) -> dict:
    """Collect with progress on stderr; regions None for every region enabled in the account."""
    from guardrails.errors import CollectionError

    from . import collect

    limits = {"timeout": timeout} | ({"call_timeout": call_timeout} if call_timeout else {})
    with common.progress(label, quiet) as progress:
        try:
            return collect.collect(session, regions, wants_user_data=user_data_wanted(config), progress=progress,
                                   **limits)
        except collect.CollectionError as exc:
            raise CollectionError(f"nothing could be collected: {exc}") from None
        except collect.ConfigurationError as exc:
            raise UserError(str(exc)) from None


def scan_aws(
    profile: Optional[str] = typer.Option(None, "--profile", help="AWS profile (default: the standard credential chain)."),
    region: Optional[List[str]] = typer.Option(None, "--region", "-r", help="Region to scan; repeat for several."),
    all_regions: bool = typer.Option(False, "--all-regions", help="Scan every region enabled in the account."),
    save_snapshot: Optional[Path] = SAVE_SNAPSHOT_OPT, timeout: Optional[float] = TIMEOUT_OPT,
    call_timeout: Optional[float] = typer.Option(None, "--call-timeout", min=0.1, metavar="SECONDS",
                                                 help="Longest wait for one AWS reply (default: 10; connections: 5 "
                                                      "at most). Each call is tried 3 times at most "
                                                      "(AWS_MAX_ATTEMPTS changes it); a service that does not "
                                                      "answer in a region is not asked again there."),
    organization: bool = typer.Option(False, "--organization", help="Scan every account of the AWS organization "
                                                                     "(listed from the management or a delegated "
                                                                     "administrator account), assuming --role-name in "
                                                                     "each."),
    role_name: str = typer.Option("OrganizationAccountAccessRole", "--role-name",
                                  help="The role assumed in each member account (with --organization)."),
    external_id: Optional[str] = typer.Option(None, "--external-id", help="External id the role's trust requires."),
    accounts: Optional[List[str]] = typer.Option(None, "--accounts", metavar="ID[,ID...]",
                                                 help="Only these accounts of the organization (repeat or separate "
                                                      "with commas)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", metavar="tcp://HOST:8786",
                                            help="Run the collection as tasks on this Dask scheduler's workers "
                                                 "(default: a pool of threads in this process)."),
    snapshot_dir: Optional[str] = typer.Option(None, "--snapshot-dir", metavar="PATH|URL",
                                               help="Where each task writes its snapshot part, and each account's "
                                                    "merged snapshot: a folder or an fsspec URL (s3://bucket/prefix "
                                                    "with s3fs installed). Needed with --scheduler."),
    concurrency: int = typer.Option(8, "--concurrency", min=1, help="Collection tasks at once, in all."),
    account_concurrency: int = typer.Option(2, "--account-concurrency", min=1,
                                            help="Collection tasks at once in one account (API limits are per "
                                                 "account)."),
    config_path: Optional[Path] = CONFIG_OPT, fmt: Format = FORMAT_OPT, output: Optional[Path] = OUTPUT_OPT,
    fail_on: FailOn = FAIL_ON_OPT, quiet: bool = QUIET_OPT, workers: int = WORKERS_OPT,
    allow_gaps: bool = ALLOW_GAPS_OPT, verbose: bool = VERBOSE_OPT,
) -> None:
    """Scan a live AWS account, or every account of an organization (read-only). AWS_ENDPOINT_URL is honoured."""
    import boto3
    import botocore.exceptions

    from guardrails import snapshot

    from . import collect

    config = common.load_config(config_path)
    common.check_files({"--output": output, "--save-snapshot": save_snapshot}, {}, config)
    started = common.started()
    try:
        session = boto3.Session(profile_name=profile)
    except botocore.exceptions.ProfileNotFound:
        raise UserError(f"AWS profile {profile!r} not found") from None
    if not all_regions and not region and not session.region_name:
        raise UserError("no region: pass --region or set AWS_REGION/AWS_DEFAULT_REGION or a profile region")
    if all_regions:
        regions = None  # listed by the collector, once it knows the account answers
    else:
        try:
            regions = list(dict.fromkeys(region or [])) or [collect.default_region(session)]
        except collect.ConfigurationError as exc:
            raise UserError(str(exc)) from None
    if organization or scheduler or snapshot_dir:
        if save_snapshot:
            raise UserError("--save-snapshot takes one account: with --organization, --scheduler or --snapshot-dir, "
                            "each account's snapshot is written to --snapshot-dir")
        request = organization_request(profile, session, regions, organization, role_name, external_id, accounts,
                                       scheduler, snapshot_dir, concurrency, account_concurrency, timeout,
                                       call_timeout)
        snapshots, scope = collect_organization(session, request, config, quiet)
        common.no_more_collections()
        common.scan_and_finish(snapshots, config, fmt, output, quiet, fail_on, workers, started, allow_gaps,
                               audit_scope=scope)
    elif accounts or external_id:
        raise UserError("--accounts and --external-id go with --organization")
    snap = collect_aws(session, regions, config, quiet=quiet, timeout=timeout, call_timeout=call_timeout)
    common.no_more_collections()  # not before: boto3 clients leave reference cycles behind
    unsaved = None
    if save_snapshot:
        # Saved before anything else is done with the collection, so that no later failure loses
        # it. If it cannot be saved after all (a full disk, say), what was collected is still
        # scanned and reported, and the command ends with exit code 2 for the missing file.
        try:
            snapshot.save(snap, save_snapshot)
        except UserError as exc:
            unsaved = exc
            common.say_error(f"{exc}; scanning what was collected all the same")
    common.scan_and_finish([snap], config, fmt, output, quiet, fail_on, workers, started, allow_gaps,
                           failed=unsaved, verbose=verbose)


DEMO_EXTRA_MISSING = ("the demo builds its estate in the AWS emulator moto, which is not installed: "
                      "pip install 'pipeline-guardrails[demo]'")


def organization_request(profile, session, regions, organization, role_name, external_id, accounts, scheduler,
                         snapshot_dir, concurrency, account_concurrency, timeout, call_timeout):
    from guardrails.engine import Bounds

    from .organization import Request, require_options

    wanted = sorted({a.strip() for given in accounts or [] for a in given.split(",") if a.strip()}) or None
    for account in wanted or []:
        if not (account.isdigit() and len(account) == 12):
            raise UserError(f"--accounts: {account!r} is not an AWS account id (12 digits)")
    request = Request(profile=profile, home_region=(regions or [None])[0] or session.region_name or "us-east-1",
                      regions=regions, role_name=role_name, external_id=external_id, accounts=wanted,
                      organization=organization, scheduler=scheduler, snapshot_dir=snapshot_dir or "",
                      bounds=Bounds(concurrency=concurrency, per_group=account_concurrency), timeout=timeout,
                      call_timeout=call_timeout)
    require_options(request)
    return request


def collect_organization(session, request, config, quiet: bool) -> tuple[list[dict], str]:
    """Collect as tasks (organization.py); each account's merged snapshot is kept in --snapshot-dir
    when one is given, and the parts go to a temporary folder otherwise."""
    import tempfile

    from guardrails import engine
    from guardrails.errors import CollectionError

    from . import collect, organization

    kept = request.snapshot_dir
    if kept:
        engine.check_store(kept)  # before any collection: a store that refuses is a one-line error
    with tempfile.TemporaryDirectory(prefix="guardrails-parts-") as scratch:
        request.snapshot_dir = kept or scratch
        with common.progress("Collecting AWS accounts", quiet) as progress:
            try:
                snapshots, scope = organization.collect_accounts(session, request, config, progress)
            except collect.ConfigurationError as exc:
                raise UserError(str(exc)) from None
    if not any(snap.get("regions") or snap.get("iam") for snap in snapshots):
        first = next((g["error"] for snap in snapshots for g in snap.get("gaps") or []), "no account")
        raise CollectionError(f"nothing could be collected: {first}")
    if kept:
        for snap in snapshots:
            engine.write_part(engine.join(kept, f"account-{snap['scope']}.json.gz"), snap)
    return snapshots, scope


def demo(
    output: Path = typer.Option(Path("findings.json"), "--output", "-o",
                                help="Where to write the findings document."),
    fmt: Format = typer.Option(Format.json, "--format", "-f", help="Format of the written file."),
    save_snapshot: Optional[Path] = typer.Option(None, "--save-snapshot",
                                                 help="Also save the demo estate as collected, to try "
                                                      "`guardrails scan snapshot` on (gzip when the name ends in .gz)."),
    quiet: bool = QUIET_OPT, verbose: bool = VERBOSE_OPT,
) -> None:
    """Build a realistic demo estate in an in-process AWS emulator (moto) and scan it: no account needed."""
    try:
        import moto  # noqa: F401 - only to know it is there, before anything is written
    except ImportError:
        raise UserError(DEMO_EXTRA_MISSING) from None
    common.check_files({"--output": output, "--save-snapshot": save_snapshot}, {})
    document, snap = demo_scan(quiet)
    from guardrails import snapshot
    from guardrails.reports import render

    if save_snapshot is not None:
        snapshot.save(snap, save_snapshot)
    common.write(output, render(document, fmt.value))
    if not quiet:
        from rich.console import Console

        from guardrails.reports.table import print_table

        print_table(document, Console(), verbose=verbose)
        written = f"{fmt.value} written to {output}"
        if save_snapshot is not None:
            written += f", snapshot saved to {save_snapshot}"
        Console(stderr=True).print(written, markup=False, highlight=False)


def _set_environment(values: dict[str, str | None]) -> None:
    """Set each variable, or remove it where the value is None."""
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@contextmanager
def _demo_environment() -> Iterator[None]:
    """Credentials and settings for the in-process emulator, never a real account; restored after."""
    settings = {"AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo", "AWS_SESSION_TOKEN": "demo",
                "MOTO_IAM_LOAD_MANAGED_POLICIES": "true", "AWS_DEFAULT_REGION": "eu-west-1",
                "AWS_PROFILE": None, "AWS_ENDPOINT_URL": None}
    saved = {key: os.environ.get(key) for key in settings}
    try:
        _set_environment(settings)
        yield
    finally:
        _set_environment(saved)


def demo_document(quiet: bool = False) -> dict:
    """Findings document of the demo estate, scanned with the real AWS collector against moto."""
    return demo_scan(quiet)[0]


def demo_scan(quiet: bool = False) -> tuple[dict, dict]:
    """The demo estate's findings document and the snapshot it was scanned from."""
    with _demo_environment():
        import boto3
        from moto import mock_aws

        from guardrails import pipeline
        from guardrails.config import Config

        from .demo_estate import MANAGED_POLICIES, PRODUCTION_ACCOUNT_ID, REGION, build_demo_estate
        from .emulator import install, managed_policies_limited_to

        install()

        config = Config(production_accounts=frozenset({PRODUCTION_ACCOUNT_ID}))
        started = common.started()
        with managed_policies_limited_to(MANAGED_POLICIES), mock_aws():
            session = boto3.Session(region_name=REGION)
            with common.progress("Building the demo estate", quiet) as progress:
                progress("creating VPCs, instances, load balancers and roles")
                build_demo_estate(session)
            snap = collect_aws(boto3.Session(region_name=REGION), [REGION], config, "Scanning the demo estate",
                               quiet=quiet)
    return pipeline.scan_snapshots([snap], config, started_at=started), snap


def register(app: typer.Typer, scan_app: typer.Typer) -> None:
    scan_app.command("aws")(scan_aws)
    app.command("demo")(demo)
