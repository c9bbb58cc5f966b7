"""`guardrails scan azure`. Light at import: the CLI imports this module at every start; the Azure
libraries are imported when the command runs."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import List, Optional

import typer

from guardrails import commands as common
from guardrails.commands import (ALLOW_GAPS_OPT, CONFIG_OPT, FAIL_ON_OPT, FORMAT_OPT, OUTPUT_OPT, QUIET_OPT,
                                 SAVE_SNAPSHOT_OPT, TIMEOUT_OPT, WORKERS_OPT, FailOn, Format, task_options)
from guardrails.errors import UserError

TOKEN_ENV = "GUARDRAILS_AZURE_ACCESS_TOKEN"
ENDPOINT_ENV = "GUARDRAILS_AZURE_ARM_ENDPOINT"


class StaticToken:
    """A bearer token given as is (`az account get-access-token --query accessToken -o tsv`)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs):
        from azure.core.credentials import AccessToken

        # Its real expiry is inside the token; an hour from now keeps the pipeline from asking again.
        return AccessToken(self.token, int(dt.datetime.now(dt.timezone.utc).timestamp()) + 3600)


SCHEDULER_OPT, SNAPSHOT_DIR_OPT, CONCURRENCY_OPT = task_options("subscription", "Subscriptions")


def credential():
    """GUARDRAILS_AZURE_ACCESS_TOKEN when set, else DefaultAzureCredential (environment, managed
    identity, Azure CLI...)."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if token:
        return StaticToken(token)
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


def endpoint() -> str:
    from .collect import DEFAULT_ENDPOINT

    value = os.environ.get(ENDPOINT_ENV, "").strip().rstrip("/") or DEFAULT_ENDPOINT
    if not value.startswith("https://"):
        raise UserError(f"{ENDPOINT_ENV} must be an https:// URL (Azure sends bearer tokens only over TLS): {value!r}")
    return value


def user_data_wanted(config):
    """Which VMs' user data to fetch: one call per VM, so only for CI nodes."""
    from guardrails.analysis.classify import classify_ci

    from .normalize import image_name, tags_of

    def wanted(vm: dict) -> bool:
        return classify_ci(vm.get("id", ""), vm.get("name", ""), tags_of(vm), image=image_name(vm), config=config) is not None
    return wanted


def scan_azure(
    subscription: Optional[List[str]] = typer.Option(None, "--subscription", "-s",
                                                     help="Subscription id to scan; repeat for several."),
    all_subscriptions: bool = typer.Option(False, "--all-subscriptions",
                                           help="Scan every subscription the credential can read."),
    management_group: Optional[str] = typer.Option(None, "--management-group",
                                                   help="Scan every subscription under this management group."),
    save_snapshot: Optional[Path] = SAVE_SNAPSHOT_OPT, timeout: Optional[float] = TIMEOUT_OPT,
    call_timeout: Optional[float] = typer.Option(None, "--call-timeout", min=0.1, metavar="SECONDS",
                                                 help="Longest wait for one Azure reply (default: 20; connections: "
                                                      "5 at most). Each call is tried 4 times at most."),
    scheduler: Optional[str] = SCHEDULER_OPT, snapshot_dir: Optional[str] = SNAPSHOT_DIR_OPT,
    concurrency: int = CONCURRENCY_OPT,
    config_path: Optional[Path] = CONFIG_OPT, fmt: Format = FORMAT_OPT, output: Optional[Path] = OUTPUT_OPT,
    fail_on: FailOn = FAIL_ON_OPT, quiet: bool = QUIET_OPT, workers: int = WORKERS_OPT,
    allow_gaps: bool = ALLOW_GAPS_OPT,
) -> None:
    """Scan live Azure subscriptions (read-only). GUARDRAILS_AZURE_ARM_ENDPOINT and
    GUARDRAILS_AZURE_ACCESS_TOKEN are honoured; TLS trust as REQUESTS_CA_BUNDLE says."""
    from guardrails import snapshot
    from guardrails.errors import CollectionError

    from . import collect

    chosen = sum(bool(x) for x in (subscription, all_subscriptions, management_group))
    if chosen != 1:
        raise UserError("choose what to scan: --subscription ID (repeatable), --all-subscriptions or "
                        "--management-group ID (one of them)")
    config = common.load_config(config_path)
    common.check_files({"--output": output, "--save-snapshot": save_snapshot}, {}, config)
    started = common.started()
    base_url = endpoint()
    options = {"read_timeout": call_timeout, "connection_timeout": min(5.0, call_timeout)} if call_timeout else {}
    if scheduler and not snapshot_dir:
        raise UserError("--scheduler needs --snapshot-dir: a folder or URL (s3://bucket/prefix) every worker can "
                        "write to and this machine can read")
    wanted = list(dict.fromkeys(subscription or [])) or None
    with common.progress("Collecting Azure", quiet) as progress:
        try:
            if snapshot_dir:
                from guardrails import engine

                engine.check_store(snapshot_dir)  # before any collection: a store that refuses is one line
                snap = collect.collect_as_tasks(credential(), wanted, snapshot_dir, config=config,
                                                management_group=management_group, endpoint=base_url,
                                                scheduler=scheduler,
                                                bounds=engine.Bounds(concurrency=concurrency, per_group=1),
                                                progress=progress, timeout=timeout, client_options=options)
            else:
                snap = collect.collect(credential(), wanted, management_group=management_group, endpoint=base_url,
                                       progress=progress, wants_user_data=user_data_wanted(config), timeout=timeout,
                                       client_options=options)
        except collect.CollectionError as exc:
            raise CollectionError(f"nothing could be collected: {exc}") from None
    common.no_more_collections()
    unsaved = None
    if save_snapshot:
        try:
            snapshot.save(snap, save_snapshot)
        except UserError as exc:
            unsaved = exc
            common.say_error(f"{exc}; scanning what was collected all the same")
    common.scan_and_finish([snap], config, fmt, output, quiet, fail_on, workers, started, allow_gaps,
                           failed=unsaved)


def register(app: typer.Typer, scan_app: typer.Typer) -> None:
    scan_app.command("azure")(scan_azure)
