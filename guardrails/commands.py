"""What every scan command shares, whichever provider adds it: options, progress, output and the
exit code. Kept light (typer alone at import): the CLI imports it at every start."""

from __future__ import annotations

import datetime as dt
import enum
import gc
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, NoReturn, Optional

import typer

from guardrails.errors import UserError
from guardrails.reports import OutputFormat as Format
from guardrails.severity import SEVERITIES, SEVERITY_RANK


FailOn = enum.Enum("FailOn", {name: name for name in (*SEVERITIES, "never")}, type=str)
FailOn.__doc__ = "The lowest severity of an open finding that fails the scan, or never."

FORMAT_OPT = typer.Option(Format.table, "--format", "-f", help="Output format; the table is shown on the terminal "
                                                                "unless another format goes to standard output.")
OUTPUT_OPT = typer.Option(None, "--output", "-o", help="Write the chosen format to this file.")
FAIL_ON_OPT = typer.Option(FailOn.high, "--fail-on", help="Exit 1 when an open finding is at or above this severity.")
CONFIG_OPT = typer.Option(None, "--config", "-c", help="Configuration file (default: ./guardrails.toml, or "
                                                        "[tool.guardrails] in ./pyproject.toml).")
ALLOW_GAPS_OPT = typer.Option(False, "--allow-gaps", help="Exit 0 (not 4) when the scan has coverage gaps and "
                                                          "no finding at or above --fail-on: accept an incomplete view.")
QUIET_OPT = typer.Option(False, "--quiet", "-q", help="Do not show the table, nor progress lines when standard "
                                                      "error is not a terminal.")
VERBOSE_OPT = typer.Option(False, "--verbose", "-v", help="Show every finding's message whole, with its evidence "
                                                          "path and details, in the table.")
SAVE_SNAPSHOT_OPT = typer.Option(None, "--save-snapshot", help="Also save what was collected "
                                                                 "(gzip when the name ends in .gz).")
TIMEOUT_OPT = typer.Option(None, "--timeout", min=0.1, metavar="SECONDS",
                           help="Stop collecting after this long: what was collected is scanned, "
                                "the rest is reported as coverage gaps (default: no limit).")
def task_options(unit: str, units: str):
    """The --scheduler, --snapshot-dir and --concurrency options of a scan that collects each `unit`
    (a project, a subscription) as a task of the collection engine."""
    return (
        typer.Option(None, "--scheduler", metavar="tcp://HOST:8786",
                     help=f"Collect each {unit} as a task on this Dask scheduler's workers (needs --snapshot-dir)."),
        typer.Option(None, "--snapshot-dir", metavar="PATH|URL",
                     help=f"Collect each {unit} as a task (a pool of threads here, or --scheduler's workers) that "
                          "writes its snapshot here: a folder or an fsspec URL (s3://bucket/prefix with s3fs "
                          "installed)."),
        typer.Option(8, "--concurrency", min=1, help=f"{units} collected at once, with --snapshot-dir."),
    )


WORKERS_OPT = typer.Option(0, "--workers", "-w", min=0, metavar="N",
                           help="Processes that scan a large estate (20,000 instances or more), each a part of its "
                                "networks; 0 (the default) for one per usable CPU, 1 for this process alone. The "
                                "findings are the same.")


def stderr_console():
    from rich.console import Console

    return Console(stderr=True)


PROGRESS_INTERVAL = 5.0  # seconds between two progress lines when standard error is not a terminal


class ProgressLines:
    """Progress as plain lines on stderr, for logs (a CI job's): the first message at once, then
    at most one every PROGRESS_INTERVAL seconds, the latest at that moment."""

    def __init__(self, label: str, interval: float = PROGRESS_INTERVAL):
        self.label = label
        self.interval = interval
        self.last_shown: float | None = None

    def __call__(self, message: str) -> None:
        now = time.monotonic()
        if self.last_shown is not None and now - self.last_shown < self.interval:
            return
        self.last_shown = now
        try:
            sys.stderr.write(f"{self.label}: {message}\n")
            sys.stderr.flush()
        except (OSError, ValueError):  # a closed stream: progress is not worth failing the scan for
            pass


@contextmanager
def progress(label: str, quiet: bool = False) -> Iterator:
    """Progress while collecting, always on stderr (a report may be going to stdout): a live
    status line when stderr is a terminal, otherwise periodic lines (none when quiet)."""
    if not sys.stderr.isatty():
        yield (lambda _message: None) if quiet else ProgressLines(label)
        return
    console = stderr_console()
    with console.status(label) as status:
        yield lambda message: status.update(f"{label}: {message}")


# Exit codes of the scan commands (README, "Exit codes").
EXIT_CLEAN = 0  # no open finding at or above --fail-on, and every check saw what it reads
EXIT_FINDINGS = 1  # an open finding at or above --fail-on, confirmed or unknown
EXIT_INCOMPLETE = 4  # none of those, but coverage gaps: what a check reads was not seen


def exit_code(document: dict, fail_on: FailOn, allow_gaps: bool = False) -> int:
    """1 for an open finding at or above `fail_on` (a finding marked unknown counts: it may be
    true), else 4 when the view is incomplete (coverage gaps) unless `allow_gaps`, else 0."""
    if fail_on != FailOn.never:
        threshold = SEVERITY_RANK[fail_on.value]
        if any(f["status"] == "open" and SEVERITY_RANK[f["severity"]] <= threshold for f in document["findings"]):
            return EXIT_FINDINGS
    from guardrails.reports.view import incomplete

    if not allow_gaps and incomplete(document):
        return EXIT_INCOMPLETE
    return EXIT_CLEAN


def emit(document: dict, fmt: Format, output: Optional[Path], quiet: bool, verbose: bool = False,
         trend: Optional[dict] = None) -> None:
    """Write the document in `fmt` (to `output`, else stdout) and, unless quiet, show the table;
    `trend` (an audit's history) goes into the HTML report."""
    from guardrails.reports import render, render_html

    to_stdout = fmt != Format.table and output is None
    if fmt != Format.table:
        text = render_html(document, trend) if fmt == Format.html else render(document, fmt.value)
        if output is None:
            sys.stdout.write(text)
        else:
            write(output, text)
    elif output is not None:
        write(output, render(document, "json"))
    if not quiet and not to_stdout:
        from rich.console import Console

        from guardrails.reports.table import print_table

        print_table(document, Console(), verbose=verbose)
        if output is not None:
            Console(stderr=True).print(f"{fmt.value if fmt != Format.table else 'json'} written to {output}",
                                       markup=False, highlight=False)


def write(path: Path, text: str) -> None:
    """Write a report file whole or not at all (files.py)."""
    from guardrails.files import write_text

    write_text(path, text)


def check_files(outputs: dict[str, Optional[Path]], inputs: dict[str, object], config=None) -> None:
    """Before any work starts: refuse an output that is an input or another output, or that cannot
    be written (files.check_outputs). `outputs` and `inputs` map how the command line names them
    to a path (or, for inputs, a list of paths); the configuration file read is an input too."""
    from guardrails.files import check_outputs

    read: list[tuple[str, Optional[Path]]] = []
    for label, given in inputs.items():
        for path in given if isinstance(given, (list, tuple)) else [given]:
            read.append((label, path))
    if config is not None and getattr(config, "path", None):
        read.append(("configuration file", Path(config.path)))
    check_outputs(outputs.items(), read)


# What a scan command holds until the process exits: the analysed estate and the findings document.
# Freeing them object by object takes a large scan longer than writing its report, and the
# operating system takes the memory back at once when the process ends (exit_now).
KEPT: list = []


def exit_now(code: int) -> NoReturn:
    if KEPT:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a closed pipe or stream has nothing left to write
                pass
        os._exit(code)
    sys.exit(code)


def no_more_collections() -> None:
    """From here on the command only builds, analyses and reports the estate, then exits: the cyclic
    garbage collector would walk millions of live objects (a collection right after a pause walks
    everything allocated during it) to free nothing, so it stays off for the rest of the process."""
    gc.disable()


def workers(given: int) -> int:
    from guardrails.shards import usable_cpus

    return given or usable_cpus()


def load_config(path: Optional[Path]):
    from guardrails import config
    from guardrails.registry import all_checks

    loaded = config.load(path)
    if loaded.suppressions:
        config.check_suppressed_checks(loaded, {chk.id for chk in all_checks()})
    return loaded


def started() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def say_error(message: str) -> None:
    """One line on stderr, as the command line reports an error that ends a command."""
    print(f"guardrails: error: {message}", file=sys.stderr, flush=True)


def scan_and_finish(snapshots: list[dict], config, fmt: Format, output: Optional[Path], quiet: bool,
                    fail_on: FailOn, workers_given: int, started_at: dt.datetime, allow_gaps: bool = False,
                    failed: Optional[UserError] = None, verbose: bool = False,
                    audit_scope: Optional[str] = None, **scan) -> NoReturn:
    """Scan the snapshots, write and show the result, and end the command with its exit code:
    that of `failed` when something the command was asked for already failed (and was said).

    Under `guardrails audit` the run is also recorded in the history database, and what changed
    since the previous run of its scope (`audit_scope`, by default the snapshots' providers and
    scopes) is shown instead of the table (audit.py)."""
    from guardrails import audit, pipeline

    request = audit.ACTIVE
    if request is not None:
        from guardrails.diff import scope_of

        audit_scope = audit_scope or scope_of(pipeline.sources_of(snapshots))
        scan["scan_id"] = request.run_id
    document = pipeline.scan_snapshots(snapshots, config, started_at=started_at, retain=KEPT,
                                       workers=workers(workers_given), **scan)
    KEPT.append(document)
    code = failed.exit_code if failed is not None else exit_code(document, fail_on, allow_gaps)
    if request is None:
        emit(document, fmt, output, quiet, verbose)
        raise typer.Exit(code)
    if fmt != Format.html:
        emit(document, fmt, output, True, verbose)
        diff = audit.finish(request, document, config, audit_scope, quiet,
                            to_stdout=fmt != Format.table and output is None)
    else:  # the HTML report shows the trend that includes this run: it is written once the run is recorded
        try:
            diff = audit.finish(request, document, config, audit_scope, quiet, to_stdout=output is None)
        except UserError:
            emit(document, fmt, output, True, verbose)  # the report stands without its history
            raise
        emit(document, fmt, output, True, verbose, trend=audit.severity_trend(request, audit_scope))
    if failed is None and request.fail_on_new is not None:
        code = regression_exit_code(document, diff, request.fail_on_new, allow_gaps)
    raise typer.Exit(code)


def regression_exit_code(document: dict, diff: dict, fail_on_new: str, allow_gaps: bool) -> int:
    """--fail-on-new: 1 for a new or reopened open finding at or above that severity (what was
    already open does not fail the gate), else 4 for an incomplete view unless `allow_gaps`, else 0."""
    from guardrails.diff import has_regression
    from guardrails.reports.view import incomplete

    if has_regression(diff, fail_on_new):
        return EXIT_FINDINGS
    if not allow_gaps and incomplete(document):
        return EXIT_INCOMPLETE
    return EXIT_CLEAN
