"""`guardrails scan gcp`: the GCP provider's command. Light at import: the CLI imports this module
at every start; the Google libraries (seconds to import) are imported when the command runs."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from guardrails import commands as common
from guardrails.commands import (ALLOW_GAPS_OPT, CONFIG_OPT, FAIL_ON_OPT, FORMAT_OPT, OUTPUT_OPT, QUIET_OPT,
                                 TIMEOUT_OPT, WORKERS_OPT, FailOn, Format, task_options)
from guardrails.errors import UserError

SCHEDULER_OPT, SNAPSHOT_DIR_OPT, CONCURRENCY_OPT = task_options("project", "Projects")


def snapshot_paths(path: Path, projects: list[str]) -> list[Path]:
    """Where each project's snapshot is saved: the path itself for one project, else the project
    id before the suffix (estate.json.gz -> estate.my-project.json.gz)."""
    if len(projects) == 1:
        return [path]
    suffixes = "".join(path.suffixes)
    stem = path.name[: len(path.name) - len(suffixes)] if suffixes else path.name
    return [path.with_name(f"{stem}.{project}{suffixes}") for project in projects]


def scan_gcp(
    project: Optional[List[str]] = typer.Option(None, "--project", "-p", help="Project id to scan; repeat for several."),
    organization: Optional[List[str]] = typer.Option(None, "--organization", help="Scan every active project of this "
                                                                                 "organization (its number)."),
    folder: Optional[List[str]] = typer.Option(None, "--folder", help="Scan every active project beneath this folder "
                                                                      "(its number)."),
    save_snapshot: Optional[Path] = typer.Option(None, "--save-snapshot", help="Also save what was collected (gzip "
                                                                                 "when the name ends in .gz; one file "
                                                                                 "per project when several)."),
    timeout: Optional[float] = TIMEOUT_OPT,
    call_timeout: Optional[float] = typer.Option(None, "--call-timeout", min=0.1, metavar="SECONDS",
                                                 help="Longest wait for one Google Cloud reply (default: 30)."),
    scheduler: Optional[str] = SCHEDULER_OPT, snapshot_dir: Optional[str] = SNAPSHOT_DIR_OPT,
    concurrency: int = CONCURRENCY_OPT,
    config_path: Optional[Path] = CONFIG_OPT, fmt: Format = FORMAT_OPT, output: Optional[Path] = OUTPUT_OPT,
    fail_on: FailOn = FAIL_ON_OPT, quiet: bool = QUIET_OPT, workers: int = WORKERS_OPT,
    allow_gaps: bool = ALLOW_GAPS_OPT,
) -> None:
    """Scan live Google Cloud projects (read-only). Credentials: GOOGLE_OAUTH_ACCESS_TOKEN, else
    Application Default Credentials. CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE, _CLOUDRESOURCEMANAGER
    and _IAM are honoured."""
    from guardrails.errors import CollectionError

    projects = list(dict.fromkeys(project or []))
    parents = [f"organizations/{o}" for o in organization or []] + [f"folders/{f}" for f in folder or []]
    if not projects and not parents:
        raise UserError("nothing to scan: pass --project, --organization or --folder")
    config = common.load_config(config_path)
    common.check_files({"--output": output, "--save-snapshot": save_snapshot}, {}, config)
    started = common.started()
    from . import collect

    try:
        creds = collect.credentials()
    except Exception as exc:  # noqa: BLE001 - google.auth's own errors: no credentials found
        raise UserError(f"no Google Cloud credentials: {str(exc).splitlines()[0]}") from None
    if scheduler and not snapshot_dir:
        raise UserError("--scheduler needs --snapshot-dir: a folder or URL (s3://bucket/prefix) every worker can "
                        "write to and this machine can read")
    with common.progress("Collecting Google Cloud", quiet) as progress:
        if snapshot_dir:
            from guardrails import engine

            engine.check_store(snapshot_dir)  # before any collection: a store that refuses is one line
            snaps = collect.collect_as_tasks(projects, creds, snapshot_dir, scheduler=scheduler,
                                             bounds=engine.Bounds(concurrency=concurrency, per_group=1),
                                             progress=progress, call_timeout=call_timeout or 30.0, parents=parents,
                                             timeout=timeout)
        else:
            snaps = collect.collect(projects, creds, progress=progress, call_timeout=call_timeout or 30.0,
                                    parents=parents, timeout=timeout)
    if not snaps:
        raise CollectionError("nothing could be collected: no active project found beneath "
                              + ", ".join(parents))
    if all(_nothing_read(s) for s in snaps):
        first = (snaps[0]["gaps"] or [{"error": "no reply"}])[0]
        raise CollectionError(f"nothing could be collected: {first.get('what', '')}: {first['error']}")
    common.no_more_collections()
    unsaved = None
    if save_snapshot:
        from guardrails import snapshot

        try:
            for snap, path in zip(snaps, snapshot_paths(save_snapshot, [s["scope"] for s in snaps])):
                snapshot.save(snap, path)
        except UserError as exc:
            unsaved = exc
            common.say_error(f"{exc}; scanning what was collected all the same")
    common.scan_and_finish(snaps, config, fmt, output, quiet, fail_on, workers, started, allow_gaps, failed=unsaved)


def _nothing_read(snap: dict) -> bool:
    """Every call failed: the project is not there, or the credentials open nothing."""
    return (not any(snap["compute"].values()) and not snap["iam_policies"]
            and not (snap.get("iam") or {}).get("serviceAccounts") and bool(snap["gaps"]))


def register(app: typer.Typer, scan_app: typer.Typer) -> None:
    scan_app.command("gcp")(scan_gcp)
