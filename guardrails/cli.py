"""The `guardrails` command line. Heavy modules (cloud SDKs, networkx) are imported inside commands."""

from __future__ import annotations

import enum
import io
import json
import os
import sys
from pathlib import Path
from typing import List, Optional

import typer

from guardrails import __version__
from guardrails.commands import (ALLOW_GAPS_OPT, CONFIG_OPT, FAIL_ON_OPT, FORMAT_OPT, OUTPUT_OPT, QUIET_OPT,
                                 VERBOSE_OPT, WORKERS_OPT, FailOn, Format, exit_now, write)
from guardrails.errors import GuardrailsError, UserError
from guardrails.provider import register_commands
from guardrails.severity import SEVERITIES

DiffFormat = enum.Enum("DiffFormat", {"text": "text", "json": "json"}, type=str)

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Find where a cloud estate leaves its CI/CD pipeline open: exposed CI servers, "
                       "unsegmented runners, over-powered build identities.")
scan_app = typer.Typer(no_args_is_help=True, help="Scan an estate: a live cloud account, a Terraform plan or state, "
                                                  "or saved snapshots.")
app.add_typer(scan_app, name="scan")

audit_app = typer.Typer(no_args_is_help=True, help="Scan (any source, as `scan` does), record the run in the history "
                                                   "database and show what changed since the previous run of the same "
                                                   "scope: new, fixed, reopened, still open, suppressed, coverage.")
app.add_typer(audit_app, name="audit")

register_commands(app, scan_app)


@scan_app.command("snapshot")
def scan_snapshot(
    files: List[Path] = typer.Argument(..., help="Snapshot files; several are merged into one estate."),
    config_path: Optional[Path] = CONFIG_OPT, fmt: Format = FORMAT_OPT, output: Optional[Path] = OUTPUT_OPT,
    fail_on: FailOn = FAIL_ON_OPT, quiet: bool = QUIET_OPT, workers: int = WORKERS_OPT,
    allow_gaps: bool = ALLOW_GAPS_OPT, verbose: bool = VERBOSE_OPT,
) -> None:
    """Scan saved snapshots, with no cloud access."""
    from guardrails import commands as common
    from guardrails import snapshot

    config = common.load_config(config_path)
    common.check_files({"--output": output}, {"snapshot": files}, config)
    started = common.started()
    common.no_more_collections()
    snapshots = [snapshot.load(f, project=True) for f in files]
    sources = [{"provider": "snapshot", "scope": f"{s.get('scope', '')} ({f})",
                "regions": sorted(s.get("regions") or {})} for f, s in zip(files, snapshots)]
    common.scan_and_finish(snapshots, config, fmt, output, quiet, fail_on, workers, started, allow_gaps,
                           sources=sources, consume=True, verbose=verbose)


@app.command("checks")
def list_checks() -> None:
    """List the check catalogue: id, severity (and when a finding's differs), title, and the threat
    model each check evidences (STRIDE, OWASP Top 10 CI/CD risks, CIS and NIST references); then, per
    provider, how each check applies to its estates or why it does not."""
    from rich.console import Console
    from rich.table import Table

    from guardrails.registry import all_checks
    from guardrails.reports.table import print_catalogue

    console = Console()
    print_catalogue(all_checks(), console)
    from guardrails.provider import check_notes

    known = {chk.id for chk in all_checks()}
    for provider, notes in check_notes().items():
        console.print(f"\n[bold]{provider}[/bold]: how the checks apply")
        notes_table = Table(box=None, show_header=False)
        notes_table.add_column("check")
        notes_table.add_column("note", overflow="fold")
        for check_id in sorted(notes, key=lambda c: (c not in known, c)):
            notes_table.add_row(check_id, notes[check_id])
        console.print(notes_table)


# The format a report file's name asks for, when --format does not say.
SUFFIX_FORMATS = {".html": Format.html, ".htm": Format.html, ".md": Format.markdown, ".markdown": Format.markdown,
                  ".sarif": Format.sarif, ".json": Format.json, ".txt": Format.table}


def report_format(fmt: Optional[Format], output: Optional[Path]) -> Format:
    """The format asked for, else the one the output file's suffix names (report.sarif.json is
    SARIF), else the table on the terminal."""
    if fmt is not None:
        return fmt
    if output is None:
        return Format.table
    name = output.name.lower()
    if name.endswith(".sarif.json"):
        return Format.sarif
    inferred = SUFFIX_FORMATS.get(output.suffix.lower())
    if inferred is None:
        raise UserError(f"{output}: cannot tell the format from the name; pass --format "
                        f"({', '.join(f.value for f in Format)})")
    return inferred


@app.command("report")
def report(
    findings: Path = typer.Argument(..., help="A findings document written by `guardrails scan --format json`."),
    fmt: Optional[Format] = typer.Option(None, "--format", "-f",
                                         help="Output format (default: from the output file's suffix, .html .md "
                                              ".sarif .json .txt; the table when there is no output file)."),
    output: Optional[Path] = OUTPUT_OPT, verbose: bool = VERBOSE_OPT,
    history_db: Optional[str] = typer.Option(None, "--history-db", metavar="PATH|URL",
                                             help="HTML: add the trend of open findings by severity over the audits "
                                                  "recorded in this history database (as `audit --db`)."),
    scope: Optional[str] = typer.Option(None, "--scope", help="The audits' scope for the trend (default: the "
                                                              "scope an audit of the document's sources records)."),
) -> None:
    """Render a saved findings document as HTML, Markdown, SARIF, JSON or the table."""
    from guardrails.commands import check_files

    chosen = report_format(fmt, output)
    if output is None and chosen == Format.html and sys.stdout.isatty():
        raise UserError("an HTML report is not for the terminal: pass -o report.html (or pipe it to a file)")
    if (history_db or scope) and chosen != Format.html:
        raise UserError("--history-db and --scope add the trend chart of the HTML report: pass --format html "
                        "or -o report.html")
    if scope and not history_db:
        raise UserError("--scope names the audits of a history database: pass --history-db too")
    check_files({"--output": output}, {"findings document": findings})
    document = load_document(findings)
    if history_db:
        from guardrails.diff import scope_of
        from guardrails.history import open_store
        from guardrails.reports import render_html

        store = open_store(history_db)
        try:
            trend = store.severity_trend(scope or scope_of((document.get("scan") or {}).get("sources") or []))
        finally:
            store.close()
        if not trend["runs"]:
            raise UserError(f"--history-db: no audit of scope {trend['scope']!r} is recorded there"
                            + ("" if scope else " (name the audits' scope with --scope)"))
        text = render_html(document, trend)
        if output is None:
            sys.stdout.write(text)
        else:
            write(output, text)
        return
    if chosen == Format.table:
        from rich.console import Console

        from guardrails.reports.table import print_table

        if output is None:
            print_table(document, Console(), verbose=verbose)
        else:
            console = Console(record=True, width=100, color_system=None, file=io.StringIO())
            print_table(document, console, verbose=verbose)
            write(output, console.export_text())
        return
    from guardrails.reports import render

    text = render(document, chosen.value)
    if output is None:
        sys.stdout.write(text)
    else:
        write(output, text)


class GraphFormat(str, enum.Enum):
    graphml = "graphml"
    json = "json"
    dot = "dot"
    cypher = "cypher"


@app.command("graph")
def graph(
    source: Path = typer.Argument(..., help="A snapshot (--save-snapshot) or a findings document (--format json)."),
    fmt: GraphFormat = typer.Option(GraphFormat.graphml, "--format", "-f",
                                    help="graphml (Gephi, yEd, networkx), json (node-link), dot (Graphviz) or "
                                         "cypher (Neo4j)."),
    output: Optional[Path] = OUTPUT_OPT,
    paths: bool = typer.Option(False, "--paths", help="Only the nodes and hops of the findings' evidence paths "
                                                      "(always so for a findings document, which holds no more)."),
    config_path: Optional[Path] = CONFIG_OPT,
) -> None:
    """Write the estate graph (or its attack paths) for Gephi, yEd, Graphviz or a Neo4j import, with each
    node's kind, CI role, production and exposure as attributes."""
    from guardrails import export
    from guardrails.commands import check_files, load_config

    config = load_config(config_path)
    check_files({"--output": output}, {"snapshot or findings document": source}, config)
    document = _findings_document_or_none(source)
    if document is not None:
        exported = export.paths_graph(document.get("findings") or [], document.get("inventory"))
    else:
        from guardrails import pipeline, snapshot

        snap = snapshot.load(source, project=True)
        estate = pipeline.analyse(pipeline.normalize([snap]), config, pipeline.collection_time([snap]))
        findings = pipeline.run_checks(estate) if paths else None
        exported = export.estate_graph(estate, findings, paths_only=paths)
    text = export.render(exported, fmt.value)
    if output is None:
        sys.stdout.write(text)
    else:
        write(output, text)


def _findings_document_or_none(path: Path) -> Optional[dict]:
    """The findings document at `path`, or None when the file is something else (a snapshot)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from None
    if head[:2] == b"\x1f\x8b" or b'"schema_version"' not in head:
        return None
    return load_document(path)


@app.command("inventory")
def inventory(
    findings: Path = typer.Argument(..., help="A findings document written by `guardrails scan --format json`."),
    ci: bool = typer.Option(True, "--ci/--nodes-only",
                            help="With the CI nodes, list the CI identities (federated roles, CI users) and why "
                                 "each is one (default); --nodes-only lists the CI nodes alone."),
) -> None:
    """Show the CI nodes and CI identities a scan found and why each was classified."""
    from rich.console import Console
    from rich.table import Table

    from guardrails.reports.table import prose, safe

    document = load_document(findings)
    console = Console()
    table = Table(box=None, header_style="bold", title="CI nodes" if ci else None, title_justify="left")
    for column in ("node", "role", "why", "exposed", "production", "where"):
        table.add_column(column)
    for item in document.get("inventory") or []:
        where = "/".join(safe(p) for p in (item.get("provider"), item.get("account"), item.get("region")) if p)
        table.add_row(f"{safe(item.get('name'))} ({safe(item.get('id'))})", safe(item.get("ci_role")),
                      prose(item.get("reason")),
                      "unknown" if item.get("exposed") == "unknown" else "yes" if item.get("exposed") else "no",
                      "yes" if item.get("production") else "no", where)
    console.print(table)
    if not ci:
        return
    identities = Table(box=None, header_style="bold", title="CI identities", title_justify="left")
    for column in ("identity", "type", "why", "who can become it", "power", "keys", "where"):
        identities.add_column(column)
    for item in document.get("ci_identities") or []:
        where = "/".join(safe(p) for p in (item.get("provider"), item.get("account")) if p)
        who = "; ".join(f"{safe(f.get('platform'))}: {safe(f.get('who'))} (pin sub to {safe(f.get('pin'))})"
                        if f.get("level") not in ("pinned", "none") else f"{safe(f.get('platform'))}: {safe(f.get('who'))}"
                        for f in item.get("federations") or [])
        identities.add_row(f"{safe(item.get('name'))} ({safe(item.get('id'))})", safe(item.get("identity_type")),
                           prose("; ".join(str(r) for r in item.get("reasons") or [])), prose(who) or "-",
                           safe(item.get("power") or "not evaluated")
                           + (f" (through {safe(item['power_via'])})" if item.get("power_via") else ""),
                           str(item.get("active_keys") or 0), where)
    console.print(identities)


def load_document(path: Path) -> dict:
    import jsonschema

    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not a findings document (invalid JSON: {exc})") from None
    except RecursionError:  # the parser recurses once per level: a nesting bomb
        raise UserError(f"{path}: not a findings document (JSON nested too deeply to read)") from None
    schema = json.loads((Path(__file__).parent / "schemas" / "findings-v1.schema.json").read_text())
    try:
        jsonschema.validate(document, schema)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "top level"
        raise UserError(f"{path}: not a findings document ({where}: {exc.message[:200]})") from None
    return document


RegressionLevel = enum.Enum("RegressionLevel", {name: name for name in SEVERITIES}, type=str)


@audit_app.callback()
def audit_options(
    ctx: typer.Context,
    db: Optional[str] = typer.Option(None, "--db", metavar="PATH|URL",
                                     help="History database: an SQLite file, or postgresql://user@host/db (default: "
                                          "history.sqlite in the user's data directory)."),
    scope: Optional[str] = typer.Option(None, "--scope", help="Name of the audited scope, whose previous run the "
                                                              "changes are measured from (default: the providers and "
                                                              "scopes (accounts, organization) scanned)."),
    fail_on_new: Optional[RegressionLevel] = typer.Option(
        None, "--fail-on-new", help="Exit 1 only for a new or reopened open finding at or above this severity (a gate "
                                    "that blocks regressions); replaces --fail-on."),
    diff_output: Optional[Path] = typer.Option(None, "--diff-output", help="Write the changes as JSON to this file."),
    notify_webhook: Optional[str] = typer.Option(
        None, "--notify-webhook", metavar="URL", help="POST the summary as JSON ({\"text\": ...}, as Slack takes it) "
                                                     "when something is new; a failed post is reported, not fatal."),
) -> None:
    """The history options; the source to scan and its options follow (`guardrails audit --db history.sqlite aws
    --organization`)."""
    from guardrails import audit

    if "--help" in ctx.args or ctx.resilient_parsing:
        return
    if notify_webhook is not None and not notify_webhook.startswith(("http://", "https://")):
        raise UserError("--notify-webhook: give an http:// or https:// URL")
    if diff_output is not None:
        from guardrails.commands import check_files

        check_files({"--diff-output": diff_output}, {})
    request = audit.AuditRequest(db=db, scope=scope, fail_on_new=fail_on_new.value if fail_on_new else None,
                                 diff_output=diff_output, webhook=notify_webhook)
    request.start(ctx.invoked_subcommand or "scan")
    audit.ACTIVE = request


@app.command("diff")
def diff_documents(
    old: Path = typer.Argument(..., help="The earlier findings document."),
    new: Path = typer.Argument(..., help="The later findings document of the same scope."),
    fmt: DiffFormat = typer.Option(DiffFormat.text, "--format", "-f", help="text or json."),
    output: Optional[Path] = OUTPUT_OPT,
    fail_on_new: Optional[RegressionLevel] = typer.Option(None, "--fail-on-new",
                                                          help="Exit 1 when a new finding is at or above this severity."),
) -> None:
    """What changed between two findings documents: new, fixed, still open, suppressed, expired
    suppressions, coverage. (Ages and reopened findings need `guardrails audit`'s history.)"""
    from guardrails import diff as diffs
    from guardrails.commands import check_files

    check_files({"--output": output}, {"findings document": [old, new]})
    result = diffs.compare_documents(load_document(old), load_document(new))
    text = json.dumps(result, indent=2) + "\n" if fmt == "json" else diffs.render_text(result)
    if output is None:
        sys.stdout.write(text)
    else:
        write(output, text)
    if fail_on_new is not None and diffs.has_regression(result, fail_on_new.value):
        raise typer.Exit(1)


@app.command("history")
def history(
    db: Optional[str] = typer.Option(None, "--db", metavar="PATH|URL", help="History database (as for `audit`)."),
    scope: Optional[str] = typer.Option(None, "--scope", help="Only this scope; its trends are shown too "
                                                              "(default: the scope of the latest run)."),
    limit: int = typer.Option(10, "--limit", "-n", min=1, help="How many runs to show."),
) -> None:
    """The latest audits, and the open findings per check and per account over them."""
    from rich.console import Console

    from guardrails.history import open_store
    from guardrails.reports.history import print_history

    store = open_store(db)
    print_history(store, scope, limit, Console())


@app.callback(invoke_without_command=True)
def _root(version: bool = typer.Option(False, "--version", help="Show the version and exit.")) -> None:
    if version:
        typer.echo(f"pipeline-guardrails {__version__}")
        raise typer.Exit(0)


# The audit's sources are the scan commands themselves: whatever a provider adds to `scan` is
# auditable too.
audit_app.registered_commands.extend(scan_app.registered_commands)


def main() -> None:
    try:
        code = app(standalone_mode=False)
        exit_now(code if isinstance(code, int) else 0)
    except GuardrailsError as exc:
        print(f"guardrails: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        exit_now(exc.exit_code)
    except typer.Abort:
        print("guardrails: aborted", file=sys.stderr)
        sys.exit(130)
    except RecursionError:
        if os.environ.get("GUARDRAILS_DEBUG"):
            raise
        # Every reader refuses input nested past what its parser takes; what is left is a value
        # deep enough to parse but not to walk (a nesting bomb inside a snapshot, say): bad input.
        print("guardrails: error: input nested too deeply to read (a JSON or TOML value about a thousand "
              "levels deep)", file=sys.stderr)
        sys.exit(UserError.exit_code)
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
