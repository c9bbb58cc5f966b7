"""The `guardrails` command line. Heavy modules (cloud SDKs, networkx) are imported inside commands."""

from __future__ import annotations

import datetime as dt
import enum
import gc
import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, NoReturn, Optional

import typer

from guardrails import __version__
from guardrails.errors import GuardrailsError, UserError

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Find where a cloud estate leaves its CI/CD pipeline open: exposed CI servers, "
                       "unsegmented runners, over-powered build identities.")
scan_app = typer.Typer(no_args_is_help=True, help="Scan an estate: a live AWS account, a Terraform plan or state, "
                                                  "or saved snapshots.")
app.add_typer(scan_app, name="scan")

SEVERITY_ORDER = ["critical", "high", "medium", "low", "info"]


class Format(str, enum.Enum):
    table = "table"
    json = "json"
    sarif = "sarif"
    markdown = "markdown"
    html = "html"


class FailOn(str, enum.Enum):
    critical = "critical"
    high = "high"
    medium = "medium"
    low = "low"
    info = "info"
    never = "never"


FORMAT_OPT = typer.Option(Format.table, "--format", "-f", help="Output format; the table is shown on the terminal "
                                                                "unless another format goes to standard output.")
OUTPUT_OPT = typer.Option(None, "--output", "-o", help="Write the chosen format to this file.")
FAIL_ON_OPT = typer.Option(FailOn.high, "--fail-on", help="Exit 1 when an open finding is at or above this severity.")
CONFIG_OPT = typer.Option(None, "--config", "-c", help="Configuration file (default: ./guardrails.toml, or "
                                                        "[tool.guardrails] in ./pyproject.toml).")
QUIET_OPT = typer.Option(False, "--quiet", "-q", help="Do not show the table.")
WORKERS_OPT = typer.Option(0, "--workers", "-w", min=0, metavar="N",
                           help="Processes that scan a large estate (20,000 instances or more), each a part of its "
                                "networks; 0 (the default) for one per usable CPU, 1 for this process alone. The "
                                "findings are the same.")


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


@contextmanager
def _progress(label: str) -> Iterator:
    """A live status line on stderr while collecting, only when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield lambda _message: None
        return
    console = _stderr_console()
    with console.status(label) as status:
        yield lambda message: status.update(f"{label}: {message}")


def _exit_code(document: dict, fail_on: FailOn) -> int:
    if fail_on == FailOn.never:
        return 0
    threshold = SEVERITY_ORDER.index(fail_on.value)
    return 1 if any(f["status"] == "open" and SEVERITY_ORDER.index(f["severity"]) <= threshold
                    for f in document["findings"]) else 0


def _emit(document: dict, fmt: Format, output: Optional[Path], quiet: bool) -> None:
    from guardrails.reports import render

    to_stdout = fmt != Format.table and output is None
    if fmt != Format.table:
        text = render(document, fmt.value)
        if output is None:
            sys.stdout.write(text)
        else:
            _write(output, text)
    elif output is not None:
        _write(output, render(document, "json"))
    if not quiet and not to_stdout:
        from rich.console import Console

        from guardrails.reports.table import print_table

        print_table(document, Console())
        if output is not None:
            Console(stderr=True).print(f"{fmt.value if fmt != Format.table else 'json'} written to {output}",
                                       markup=False, highlight=False)


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{path}: cannot write ({exc.strerror})") from None


# What a scan command holds until the process exits: the analysed estate and the findings document.
# Freeing them object by object takes a large scan longer than writing its report, and the
# operating system takes the memory back at once when the process ends (main: _exit).
_KEPT: list = []


def _exit(code: int) -> NoReturn:
    if _KEPT:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a closed pipe or stream has nothing left to write
                pass
        os._exit(code)
    sys.exit(code)


def _no_more_collections() -> None:
    """From here on the command only builds, analyses and reports the estate, then exits: the cyclic
    garbage collector would walk millions of live objects (a collection right after a pause walks
    everything allocated during it) to free nothing, so it stays off for the rest of the process."""
    gc.disable()


def _workers(given: int) -> int:
    from guardrails.shards import usable_cpus

    return given or usable_cpus()


def _finish(document: dict, fmt: Format, output: Optional[Path], quiet: bool, fail_on: FailOn) -> None:
    _KEPT.append(document)
    _emit(document, fmt, output, quiet)
    raise typer.Exit(_exit_code(document, fail_on))


def _load_config(path: Optional[Path]):
    from guardrails import config

    return config.load(path)


def _user_data_wanted(config):
    from guardrails.analysis.classify import classify_ci
    from guardrails.providers.aws import tags_of

    def wanted(instance: dict, context: dict) -> bool:
        tags = tags_of(instance)
        image = (context.get("images") or {}).get(instance.get("ImageId")) or {}
        return classify_ci(instance.get("InstanceId", ""), tags.get("Name", instance.get("InstanceId", "")), tags,
                           image=image.get("Name"),
                           autoscaling_group=context.get("auto_scaling_group"), config=config) is not None
    return wanted


def collect_aws(session, regions: list[str], config, label: str = "Collecting AWS") -> dict:
    from guardrails.errors import CollectionError
    from guardrails.providers import aws_collect

    with _progress(label) as progress:
        try:
            return aws_collect.collect(session, regions, wants_user_data=_user_data_wanted(config), progress=progress)
        except aws_collect.CollectionError as exc:
            raise CollectionError(f"nothing could be collected: {exc}") from None


@scan_app.command("aws")
def scan_aws(
    profile: Optional[str] = typer.Option(None, "--profile", help="AWS profile (default: the standard credential chain)."),
    region: Optional[List[str]] = typer.Option(None, "--region", "-r", help="Region to scan; repeat for several."),
    all_regions: bool = typer.Option(False, "--all-regions", help="Scan every region enabled in the account."),
    save_snapshot: Optional[Path] = typer.Option(None, "--save-snapshot", help="Also save what was collected "
                                                                                 "(gzip when the name ends in .gz)."),
    config_path: Optional[Path] = CONFIG_OPT, fmt: Format = FORMAT_OPT, output: Optional[Path] = OUTPUT_OPT,
    fail_on: FailOn = FAIL_ON_OPT, quiet: bool = QUIET_OPT, workers: int = WORKERS_OPT,
) -> None:
    """Scan a live AWS account (read-only). AWS_ENDPOINT_URL is honoured."""
    import boto3
    import botocore.exceptions

    from guardrails import pipeline, snapshot
    from guardrails.errors import CollectionError
    from guardrails.providers import aws_collect

    config = _load_config(config_path)
    started = dt.datetime.now(dt.timezone.utc)
    try:
        session = boto3.Session(profile_name=profile)
    except botocore.exceptions.ProfileNotFound:
        raise UserError(f"AWS profile {profile!r} not found") from None
    try:
        if all_regions:
            regions = aws_collect.list_regions(session)
        else:
            regions = list(dict.fromkeys(region or [])) or [aws_collect.default_region(session)]
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise CollectionError(f"nothing could be collected: {exc}") from None
    snap = collect_aws(session, regions, config)
    _no_more_collections()  # not before: boto3 clients leave reference cycles behind
    if save_snapshot:
        snapshot.save(snap, save_snapshot)
    document = pipeline.scan_snapshots([snap], config, started_at=started, retain=_KEPT, workers=_workers(workers))
    _finish(document, fmt, output, quiet, fail_on)


@scan_app.command("terraform")
def scan_terraform(
    path: Path = typer.Argument(..., help="A `terraform show -json` plan or state, a raw .tfstate, or a directory "
                                          "holding one."),
    config_path: Optional[Path] = CONFIG_OPT, fmt: Format = FORMAT_OPT, output: Optional[Path] = OUTPUT_OPT,
    fail_on: FailOn = FAIL_ON_OPT, quiet: bool = QUIET_OPT, workers: int = WORKERS_OPT,
) -> None:
    """Scan a Terraform plan or state before (or after) it is applied."""
    from guardrails import pipeline
    from guardrails.providers import terraform

    config = _load_config(config_path)
    started = dt.datetime.now(dt.timezone.utc)
    _no_more_collections()
    snapshots = terraform.load_terraform(path)  # bad input raises a UserError naming the file
    document = pipeline.scan_snapshots(snapshots, config, started_at=started, retain=_KEPT,
                                       workers=_workers(workers))
    _finish(document, fmt, output, quiet, fail_on)


@scan_app.command("snapshot")
def scan_snapshot(
    files: List[Path] = typer.Argument(..., help="Snapshot files; several are merged into one estate."),
    config_path: Optional[Path] = CONFIG_OPT, fmt: Format = FORMAT_OPT, output: Optional[Path] = OUTPUT_OPT,
    fail_on: FailOn = FAIL_ON_OPT, quiet: bool = QUIET_OPT, workers: int = WORKERS_OPT,
) -> None:
    """Scan saved snapshots, with no cloud access."""
    from guardrails import pipeline, snapshot

    config = _load_config(config_path)
    started = dt.datetime.now(dt.timezone.utc)
    _no_more_collections()
    snapshots = [snapshot.load(f, project=True) for f in files]
    sources = [{"provider": "snapshot", "scope": f"{s.get('scope', '')} ({f})",
                "regions": sorted(s.get("regions") or {})} for f, s in zip(files, snapshots)]
    document = pipeline.scan_snapshots(snapshots, config, sources=sources, started_at=started, consume=True,
                                       retain=_KEPT, workers=_workers(workers))
    _finish(document, fmt, output, quiet, fail_on)


@app.command("demo")
def demo(
    output: Path = typer.Option(Path("guardrails-demo-findings.json"), "--output", "-o",
                                help="Where to write the findings document."),
    fmt: Format = typer.Option(Format.json, "--format", "-f", help="Format of the written file."),
    quiet: bool = QUIET_OPT,
) -> None:
    """Build a realistic demo estate in an in-process AWS emulator (moto) and scan it: no account needed."""
    document = demo_document()
    from guardrails.reports import render

    _write(output, render(document, fmt.value))
    if not quiet:
        from rich.console import Console

        from guardrails.reports.table import print_table

        print_table(document, Console())
        Console(stderr=True).print(f"{fmt.value} written to {output}", markup=False, highlight=False)


@contextmanager
def _demo_environment() -> Iterator[None]:
    """Credentials and settings for the in-process emulator, never a real account; restored after."""
    settings = {"AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo", "AWS_SESSION_TOKEN": "demo",
                "MOTO_IAM_LOAD_MANAGED_POLICIES": "true", "AWS_DEFAULT_REGION": "eu-west-1",
                "AWS_PROFILE": None, "AWS_ENDPOINT_URL": None}
    saved = {key: os.environ.get(key) for key in settings}
    try:
        for key, value in settings.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def demo_document() -> dict:
    """Findings document of the demo estate, scanned with the real AWS collector against moto."""
    with _demo_environment():
        import boto3
        from moto import mock_aws

        from guardrails import pipeline
        from guardrails.config import Config
        from guardrails.demo_estate import PRODUCTION_ACCOUNT_ID, REGION, build_demo_estate

        config = Config(production_accounts=frozenset({PRODUCTION_ACCOUNT_ID}))
        started = dt.datetime.now(dt.timezone.utc)
        with mock_aws():
            session = boto3.Session(region_name=REGION)
            with _progress("Building the demo estate") as progress:
                progress("creating VPCs, instances, load balancers and roles")
                build_demo_estate(session)
            snap = collect_aws(boto3.Session(region_name=REGION), [REGION], config, "Scanning the demo estate")
    return pipeline.scan_snapshots([snap], config, started_at=started)


@app.command("checks")
def list_checks() -> None:
    """List the check catalogue: id, severity, title."""
    from rich.console import Console
    from rich.table import Table

    from guardrails.registry import all_checks

    table = Table(box=None, header_style="bold")
    for column in ("check", "severity", "title"):
        table.add_column(column)
    for chk in all_checks():
        table.add_row(chk.id, chk.severity.value, chk.title)
    Console().print(table)


@app.command("report")
def report(
    findings: Path = typer.Argument(..., help="A findings document written by `guardrails scan --format json`."),
    fmt: Format = typer.Option(Format.html, "--format", "-f"),
    output: Optional[Path] = OUTPUT_OPT,
) -> None:
    """Render a saved findings document as SARIF, Markdown, HTML, JSON or the table."""
    document = load_document(findings)
    if fmt == Format.table:
        from rich.console import Console

        from guardrails.reports.table import print_table

        print_table(document, Console())
        return
    from guardrails.reports import render

    text = render(document, fmt.value)
    if output is None:
        sys.stdout.write(text)
    else:
        _write(output, text)


@app.command("inventory")
def inventory(
    findings: Path = typer.Argument(..., help="A findings document written by `guardrails scan --format json`."),
) -> None:
    """Show the CI nodes a scan found and why each was classified as a server or a runner."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from guardrails.reports.text import one_line

    document = load_document(findings)
    table = Table(box=None, header_style="bold")
    for column in ("node", "role", "why", "exposed", "production", "where"):
        table.add_column(column)
    for item in document.get("inventory") or []:
        where = "/".join(one_line(p) for p in (item.get("provider"), item.get("account"), item.get("region")) if p)
        table.add_row(escape(one_line(f"{item.get('name')} ({item.get('id')})")), escape(one_line(item.get("ci_role"))),
                      escape(one_line(item.get("reason"))), "yes" if item.get("exposed") else "no",
                      "yes" if item.get("production") else "no", escape(where))
    Console().print(table)


def load_document(path: Path) -> dict:
    import jsonschema

    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not a findings document (invalid JSON: {exc})") from None
    schema = json.loads((Path(__file__).parent / "schemas" / "findings-v1.schema.json").read_text())
    try:
        jsonschema.validate(document, schema)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "top level"
        raise UserError(f"{path}: not a findings document ({where}: {exc.message[:200]})") from None
    return document


@app.callback(invoke_without_command=True)
def _root(version: bool = typer.Option(False, "--version", help="Show the version and exit.")) -> None:
    if version:
        typer.echo(f"pipeline-guardrails {__version__}")
        raise typer.Exit(0)


def main() -> None:
    try:
        code = app(standalone_mode=False)
        _exit(code if isinstance(code, int) else 0)
    except GuardrailsError as exc:
        print(f"guardrails: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        _exit(exc.exit_code)
    except typer.Abort:
        print("guardrails: aborted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence against a traceback
        if callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()  # a usage error from the command-line parser: its own one-line message
            sys.exit(exc.exit_code)
        if os.environ.get("GUARDRAILS_DEBUG"):
            raise
        print(f"guardrails: internal error: {type(exc).__name__}: {exc} (set GUARDRAILS_DEBUG=1 for details)",
              file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
