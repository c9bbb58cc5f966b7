"""The terminal view shown after a scan: findings per CI node, then a summary line and the
coverage gaps. Estate strings are cleaned of control characters and escaped for rich markup, so a
tag value cannot colour, move or rewrite the terminal."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from guardrails.config import CONFIGURATION_NOTE

from .text import one_line, shorten
from .view import (
    ATTACK_PATH_CHECK,
    SEVERITIES,
    attack_paths,
    by_resource,
    ci_identities,
    count_by_severity,
    gaps,
    incomplete,
    is_suppressed,
    is_unknown,
    not_seen,
    notes,
    open_findings,
    suppressed_findings,
    summary,
)

SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}
# The terminal shows the worst of a large result and says what it leaves out: every finding is in
# the written report, and rendering thousands of tables kept a user of a 100,000-resource estate
# waiting three times as long as the scan, for more lines than anyone reads.
MAX_ATTACK_PATHS = 25
MAX_RESOURCES = 50


# Estate texts are shortened here, whatever their length in the estate (a name can be 100 KB):
# names, ids and other labels to a line, prose (messages, notes, reasons) to a few. The written
# report keeps every text whole.
MAX_LABEL = 120
MAX_PROSE = 600


def safe(value: object, limit: int = MAX_LABEL) -> str:
    """An estate value ready to be placed in rich markup: one line, no controls, no tags, and no
    longer than `limit` characters (an ellipsis says it was cut)."""
    return escape(shorten(one_line(value), limit))


def prose(value: object) -> str:
    """safe(), for a sentence that names estate values rather than for one value."""
    return safe(value, MAX_PROSE)


def _severity(severity: str) -> str:
    style = SEVERITY_STYLE.get(severity, "")
    label = safe(severity.upper())
    return f"[{style}]{label}[/]" if style else label


def _print_attack_paths(document: dict, console: Console) -> None:
    leading = [f for f in attack_paths(document) if f.get("check_id") == ATTACK_PATH_CHECK]
    if not leading:
        return
    console.print(f"[bold red]Attack paths ({len(leading)})[/]", highlight=False)
    for finding in leading[:MAX_ATTACK_PATHS]:
        steps = (finding.get("evidence") or {}).get("path") or []
        chain = " [dim]->[/] ".join(
            safe(step.get("name") or step.get("id")) if step.get("kind") == "internet"
            else f"[dim]{safe(step.get('kind'))}[/] {safe(step.get('name') or step.get('id'))}" for step in steps)
        console.print(f"  [bold red]CRITICAL[/] {chain}", highlight=False)
        console.print(f"    [dim]{prose(finding.get('message'))}[/]", highlight=False)
    _print_left_out(console, len(leading) - MAX_ATTACK_PATHS, "attack path", "attack paths")
    console.print()


def _print_left_out(console: Console, count: int, one: str, many: str) -> None:
    if count > 0:
        console.print(f"  [dim]... and {count} more {one if count == 1 else many}, not shown here: the report "
                      f"written with -o FILE (--format json, sarif, markdown or html) holds every finding[/]",
                      highlight=False)


def _print_incomplete(document: dict, console: Console) -> None:
    if incomplete(document):
        console.print(f"[bold yellow]INCOMPLETE[/]: not everything the checks read was seen (not collected: "
                      f"{safe(not_seen(document))}); findings marked unknown may hold, and what was not seen "
                      "may hide more. See the coverage gaps below.", highlight=False)
        console.print()


def print_table(document: dict, console: Console) -> None:
    _print_incomplete(document, console)
    _print_attack_paths(document, console)
    groups = by_resource(document.get("findings") or [])
    for resource, group in groups[:MAX_RESOURCES]:
        role = resource.get("ci_role") or resource.get("kind")
        where = ", ".join(safe(part) for part in (resource.get("provider"), resource.get("account"), resource.get("region")) if part)
        table = Table(
            title=f"[bold]{safe(resource.get('name'))}[/] ({safe(role)}) [dim]{safe(resource.get('id'))} {where}[/]",
            title_justify="left",
            box=box.SIMPLE_HEAD,
            expand=True,
            highlight=False,
        )
        table.add_column("Severity", no_wrap=True)
        table.add_column("Check", no_wrap=True)
        table.add_column("Finding", ratio=4, overflow="fold")
        table.add_column("Ports", no_wrap=True)
        for finding in group:
            ports = "\n".join(safe(port) for port in (finding.get("evidence") or {}).get("ports") or [])
            message = prose(finding.get("message"))
            if is_suppressed(finding):
                reason = prose((finding.get("suppression") or {}).get("reason")) or "no reason given"
                table.add_row(safe(finding.get("severity", "").upper()), safe(finding.get("check_id")),
                              f"{message} [italic](suppressed: {reason})[/]", ports, style="dim")
            else:
                if is_unknown(finding):
                    message = f"[bold yellow]UNKNOWN[/] {message}"
                table.add_row(_severity(finding.get("severity", "")), safe(finding.get("check_id")), message, ports)
        console.print(table, highlight=False)
    _print_left_out(console, len(groups) - MAX_RESOURCES, "resource with findings", "resources with findings")
    if len(groups) > MAX_RESOURCES:
        console.print()
    _print_ci_identities(document, console)
    _print_summary(document, console)


def _print_ci_identities(document: dict, console: Console) -> None:
    """The CI identities that run on no node: who can become each, its trust and the sub to pin."""
    listed = ci_identities(document)
    if not listed:
        return
    console.print(f"[bold]CI identities ({len(listed)})[/]", highlight=False)
    for item in listed[:MAX_RESOURCES]:
        console.print(f"  {safe(item.get('name'))} [dim]{safe(item.get('id'))}[/]: "
                      f"{prose('; '.join(str(r) for r in item.get('reasons') or []))}", highlight=False)
        for federation in item.get("federations") or []:
            console.print(f"    [dim]trust:[/] {safe(federation.get('statement'))}", highlight=False)
            if federation.get("level") not in ("pinned", "none"):
                console.print(f"    [dim]pin sub to:[/] {safe(federation.get('pin'))}", highlight=False)
    _print_left_out(console, len(listed) - MAX_RESOURCES, "CI identity", "CI identities")
    console.print()


def _print_summary(document: dict, console: Console) -> None:
    counts = count_by_severity(open_findings(document))
    parts = [f"[{SEVERITY_STYLE[s]}]{counts[s]} {s}[/]" for s in SEVERITIES if counts[s]]
    suppressed = len(suppressed_findings(document))
    facts = summary(document)
    total = sum(counts.values())
    line = f"[bold]{total} open finding{'s' if total != 1 else ''}[/]"
    if parts:
        line += ": " + ", ".join(parts)
    unknown = sum(1 for f in open_findings(document) if is_unknown(f))
    if unknown:
        line += f" [yellow]({unknown} of them unknown: not seen, may hold)[/]"
    if suppressed:
        line += f" [dim]({suppressed} suppressed)[/]"
    missing = gaps(document)
    line += (
        f"; {safe(facts.get('resources', '?'))} resources scanned, {safe(facts.get('ci_nodes', '?'))} CI nodes,"
        f" {len(missing)} coverage gap{'s' if len(missing) != 1 else ''}"
    )
    if incomplete(document):
        line = "[bold yellow]INCOMPLETE[/]: " + line
    console.print(line, highlight=False)
    said = notes(document)
    about_configuration = [note for note in said if note.startswith(CONFIGURATION_NOTE)]
    assumed = [note for note in said if not note.startswith(CONFIGURATION_NOTE)]
    for note in about_configuration:
        console.print(f"[yellow]![/] {prose(note)}", highlight=False)
    if assumed:
        console.print("[dim]Assumed where the source is silent:[/]", highlight=False)
        for note in assumed:
            console.print(f"  [dim]- {prose(note)}[/]", highlight=False)
    if missing:
        console.print("[yellow]Coverage gaps[/] (not collected; findings may be incomplete):", highlight=False)
        for gap in missing:
            where = "/".join(safe(gap.get(key)) for key in ("provider", "scope", "region") if gap.get(key))
            console.print(f"  [yellow]-[/] {where}: {safe(gap.get('what'))}: [dim]{prose(gap.get('error'))}[/]", highlight=False)
