"""The terminal view shown after a scan, read top to bottom in one screen: a summary first, the
attack paths, the findings of each CI node (the node named once, in its header), what was assumed
and not collected, and a one-line verdict last, where the eye lands when the command ends.

The layout is lines and indents, not boxes: it reads the same at 80 columns, in a wide terminal,
piped into a file or a CI log (rich draws no colour when the output is not a terminal). Long
texts are shortened; --verbose shows every message whole with its evidence. Estate strings are
cleaned of control characters and escaped for rich markup, so a tag value cannot colour, move or
rewrite the terminal."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from guardrails.config import CONFIGURATION_NOTE

from .text import one_line, shorten
from .view import (
    ATTACK_PATH_CHECK,
    SEVERITIES,
    attack_paths,
    by_resource,
    ci_identities,
    count_by_severity,
    flatten_details,
    gaps,
    incomplete,
    inventory,
    is_suppressed,
    is_unknown,
    not_seen,
    notes,
    open_findings,
    subjects,
    summary,
    suppressed_findings,
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
# A finding's message in the default view: about two lines at 120 columns, three at 80. The
# check id and the node already say what it is about; --verbose shows it whole.
MAX_BRIEF = 200
# Where a finding's message starts under its severity and check id.
MESSAGE_INDENT = 4
PATH_INDENT = 4


def safe(value: object, limit: int = MAX_LABEL) -> str:
    """An estate value ready to be placed in rich markup: one line, no controls, no tags, and no
    longer than `limit` characters (an ellipsis says it was cut)."""
    return escape(shorten(one_line(value), limit))


def prose(value: object) -> str:
    """safe(), for a sentence that names estate values rather than for one value."""
    return safe(value, MAX_PROSE)


def plural(count: int, one: str, many: str | None = None) -> str:
    """'1 CI node', '2 CI nodes': the count with the word in the number it needs."""
    return f"{count} {one if count == 1 else (many or one + 's')}"


def _severity(severity: str) -> str:
    style = SEVERITY_STYLE.get(severity, "")
    label = safe(severity.upper())
    return f"[{style}]{label}[/]" if style else label


def _subject_prefixes(resource: dict) -> list[str]:
    """How a message may begin by naming its own node: 'CI server jenkins (i-0abc)', 'jenkins (i-0abc)',
    'jenkins'. Longest first, so the whole name goes."""
    name, node_id, role = one_line(resource.get("name")), one_line(resource.get("id")), resource.get("ci_role")
    named = f"{name} ({node_id})" if name and node_id and name != node_id else (name or node_id)
    prefixes = [f"CI {role} {named}", named] if role else [named]
    if name and name != named:
        prefixes.append(name)
    return [p for p in prefixes if p]


def without_subject(message: str, resource: dict) -> str:
    """The message without the node it is about, when it opens with it: under the node's header
    the name would only repeat. A message that does not open with the node is kept whole."""
    text = one_line(message)
    for prefix in _subject_prefixes(resource):
        if text.startswith(prefix + " ") and len(text) > len(prefix) + 1:
            # The rest reads as the predicate of the header above it: "runs as ...", "is reachable ...".
            return text[len(prefix) + 1:]
    return text


def _step_label(step: dict) -> str:
    name = safe(step.get("name") or step.get("id"))
    if step.get("kind") == "internet":
        return name
    return f"[dim]{safe(step.get('kind'))}[/] {name}"


def _wrapped(tokens: list[str], width: int, first: str, indent: int, joiner: str) -> list[str]:
    """Markup tokens packed onto lines no wider than `width`, breaking only between tokens: the
    first line after `first`, the next ones indented by `indent` and opened by `joiner`."""
    lines: list[str] = []
    current, used = first, Text.from_markup(first).cell_len
    for index, token in enumerate(tokens):
        glue = "" if index == 0 else f" {joiner} "
        size = Text.from_markup(glue + token).cell_len
        if index and used + size > width:
            lines.append(current)
            current = " " * indent + f"{joiner} {token}"
            used = Text.from_markup(current).cell_len
        else:
            current += glue + token
            used += size
    lines.append(current)
    return lines


def _print_attack_paths(document: dict, console: Console, verbose: bool) -> None:
    leading = [f for f in attack_paths(document) if f.get("check_id") == ATTACK_PATH_CHECK]
    if not leading:
        return
    console.print(f"[bold red]Attack {'path' if len(leading) == 1 else 'paths'} ({len(leading)})[/]", highlight=False)
    for finding in leading[:MAX_ATTACK_PATHS]:
        resource = finding.get("resource") or {}
        steps = [s for s in (finding.get("evidence") or {}).get("path") or [] if isinstance(s, dict)]
        _print_indented(console, f"[bold red]CRITICAL[/] [bold]{safe(resource.get('name') or resource.get('id'))}[/]"
                                 f" [dim]{safe(resource.get('id'))}[/]", 2, hanging=4)
        for line in _wrapped([_step_label(s) for s in steps], console.width, " " * PATH_INDENT, PATH_INDENT + 2,
                             "[dim]->[/]"):
            console.print(line, highlight=False, soft_wrap=True)
        if verbose:
            _print_steps(steps, console)
        message = without_subject(str(finding.get("message") or ""), resource)
        _print_indented(console, f"[dim]{_message(message, verbose)}[/]", PATH_INDENT)
    _print_left_out(console, len(leading) - MAX_ATTACK_PATHS, "attack path", "attack paths")
    console.print()


def _print_steps(steps: list[dict], console: Console) -> None:
    """Each step of an evidence path on its own line, with what lets it through."""
    for number, step in enumerate(steps, 1):
        via = f": [dim]{prose(step.get('via'))}[/]" if step.get("via") else ""
        _print_indented(console, f"{number}. {_step_label(step)}{via}", PATH_INDENT + 2, hanging=3)


def _print_indented(console: Console, markup: str, indent: int, hanging: int = 0) -> None:
    """Markup wrapped at word boundaries, every line `indent` columns in (continuation lines
    `hanging` more), never back at column 0, and no trailing spaces."""
    text = Text.from_markup(markup)
    lines = text.wrap(console, max(console.width - indent - hanging, 20))
    for number, line in enumerate(lines):
        line.rstrip()
        pad = indent if number == 0 else indent + hanging
        console.print(Text(" " * pad) + line, highlight=False, soft_wrap=True)


def _message(message: str, verbose: bool) -> str:
    return prose(message) if verbose else safe(message, MAX_BRIEF)


def references_line(chk) -> str:
    """A check's threat-model references in one line: STRIDE, OWASP CI/CD, CIS, NIST."""
    parts = [f"STRIDE: {', '.join(s.replace('_', ' ') for s in chk.stride)}",
             f"OWASP CI/CD: {', '.join(chk.owasp_cicd)}"]
    for label, refs in (("CIS", getattr(chk, "cis", ())), ("NIST", getattr(chk, "nist", ()))):
        if refs:
            parts.append(f"{label}: {', '.join(refs)}")
    return "; ".join(parts)


def _print_left_out(console: Console, count: int, one: str, many: str) -> None:
    if count > 0:
        _print_indented(console, f"[dim]... and {count} more {one if count == 1 else many}, not shown here: the "
                                 "report written with -o FILE (--format json, sarif, markdown or html) holds every "
                                 "finding[/]", 2, hanging=4)


def _print_incomplete(document: dict, console: Console) -> None:
    if incomplete(document):
        _print_indented(console, f"[bold yellow]INCOMPLETE[/]: not everything the checks read was seen (not "
                                 f"collected: {safe(not_seen(document))}); findings marked unknown may hold, and what "
                                 "was not seen may hide more. See the coverage gaps below.", 0, hanging=2)


def _exposed_counts(document: dict) -> tuple[int, int]:
    """CI nodes the internet reaches, and those it may reach through a layer that was not seen."""
    listed = inventory(document)
    exposed = sum(1 for item in listed if item.get("exposed") is True)
    maybe = sum(1 for item in listed if item.get("exposed") == "unknown")
    if not isinstance(document.get("inventory"), list) or any("exposed" not in item for item in listed):
        # An older document, without the inventory or its exposure: the exposure findings say it.
        exposed = len({(f.get("resource") or {}).get("id") for f in open_findings(document)
                       if f.get("check_id") == "ci-internet-exposed" and not is_unknown(f)})
    return exposed, maybe


def _counts_line(document: dict) -> str:
    counts = count_by_severity(open_findings(document))
    total = sum(counts.values())
    line = f"[bold]{plural(total, 'open finding')}[/]"
    parts = [f"[{SEVERITY_STYLE[s]}]{counts[s]} {s}[/]" for s in SEVERITIES if counts[s]]
    if parts:
        line += ": " + ", ".join(parts)
    unknown = sum(1 for f in open_findings(document) if is_unknown(f))
    if unknown:
        line += f" [yellow]({unknown} of them unknown: not seen, may hold)[/]"
    suppressed = len(suppressed_findings(document))
    if suppressed:
        line += f" [dim]({suppressed} suppressed)[/]"
    return line


def _print_summary(document: dict, console: Console) -> None:
    """The head of the view: what was found, on what, and how much of the estate was seen."""
    facts = summary(document)
    _print_indented(console, _counts_line(document), 0, hanging=2)
    ci_nodes = facts.get("ci_nodes")
    exposed, maybe = _exposed_counts(document)
    estate = (f"{plural(int(facts['resources']), 'resource')} scanned" if isinstance(facts.get("resources"), int)
              else "? resources scanned")
    estate += f", {plural(int(ci_nodes), 'CI node')}" if isinstance(ci_nodes, int) else ", ? CI nodes"
    estate += f" ({exposed} exposed to the internet" + (f", {maybe} possibly" if maybe else "") + ")"
    identities = len(ci_identities(document))
    if identities:
        estate += f", {plural(identities, 'CI identity', 'CI identities')}"
    missing = gaps(document)
    if missing:
        coverage = f"[yellow]coverage incomplete[/] ({plural(len(missing), 'gap')}, listed below)"
    else:
        coverage = "coverage complete"
    _print_indented(console, f"{estate}; {coverage}", 0, hanging=2)
    console.print()


def _print_findings(document: dict, console: Console, verbose: bool) -> None:
    groups = by_resource(document.get("findings") or [])
    if groups:
        console.print(f"[bold]Findings on {subjects(resource for resource, _ in groups)}[/]", highlight=False)
    for resource, group in groups[:MAX_RESOURCES]:
        role = resource.get("ci_role") or resource.get("kind")
        where = " ".join(safe(part) for part in (resource.get("provider"), resource.get("account"),
                                                 resource.get("region")) if part)
        _print_indented(console, f"[bold]{safe(resource.get('name') or resource.get('id'))}[/] ({safe(role)})"
                                 f" [dim]{safe(resource.get('id'))} {where}[/]", 0, hanging=4)
        for finding in group:
            _print_finding(finding, resource, console, verbose)
        console.print()
    _print_left_out(console, len(groups) - MAX_RESOURCES, "resource with findings", "resources with findings")
    if len(groups) > MAX_RESOURCES:
        console.print()


def _print_finding(finding: dict, resource: dict, console: Console, verbose: bool) -> None:
    evidence = finding.get("evidence") or {}
    ports = ", ".join(safe(port) for port in evidence.get("ports") or [])
    severity = str(finding.get("severity", ""))
    # Severities padded to one width, so that the check ids line up.
    label = safe(severity.upper()).ljust(len("CRITICAL"))
    style = SEVERITY_STYLE.get(severity, "")
    shown = f"[{style}]{label}[/]" if style and not is_suppressed(finding) else label
    head = f"  {shown} {safe(finding.get('check_id'))}"
    if ports:
        head += f" [dim]{ports}[/]"
    message = _message(without_subject(str(finding.get("message") or ""), resource), verbose)
    if is_suppressed(finding):
        reason = prose((finding.get("suppression") or {}).get("reason")) or "no reason given"
        _print_indented(console, f"[dim]{head.strip()} (suppressed)[/]", 2, hanging=9)
        _print_indented(console, f"[dim]{message} [italic](suppressed: {reason})[/][/]", MESSAGE_INDENT)
        return
    _print_indented(console, head.strip(), 2, hanging=9)
    if is_unknown(finding):
        message = f"[bold yellow]UNKNOWN[/] {message}"
    _print_indented(console, message, MESSAGE_INDENT)
    if verbose:
        steps = [s for s in evidence.get("path") or [] if isinstance(s, dict)]
        if steps:
            _print_steps(steps, console)
        for key, value in flatten_details(evidence.get("details")):
            _print_indented(console, f"[dim]{safe(key)}:[/] {prose(value)}", MESSAGE_INDENT + 2, hanging=2)


def _print_ci_identities(document: dict, console: Console) -> None:
    """The CI identities that run on no node, kept short: who can become each, its trust and the
    sub to pin."""
    listed = ci_identities(document)
    if not listed:
        return
    console.print(f"[bold]CI identities ({len(listed)})[/]", highlight=False)
    for item in listed[:MAX_RESOURCES]:
        _print_indented(console, f"{safe(item.get('name'))} [dim]{safe(item.get('id'))}[/]: "
                                 f"{prose('; '.join(str(r) for r in item.get('reasons') or []))}", 2, hanging=4)
        for federation in item.get("federations") or []:
            _print_indented(console, f"[dim]trust:[/] {safe(federation.get('statement'))}", 4, hanging=2)
            if federation.get("level") not in ("pinned", "none"):
                _print_indented(console, f"[dim]pin sub to:[/] {safe(federation.get('pin'))}", 4, hanging=2)
    _print_left_out(console, len(listed) - MAX_RESOURCES, "CI identity", "CI identities")
    console.print()


def _print_notes(document: dict, console: Console) -> None:
    said = notes(document)
    about_configuration = [note for note in said if note.startswith(CONFIGURATION_NOTE)]
    assumed = [note for note in said if not note.startswith(CONFIGURATION_NOTE)]
    for note in about_configuration:
        _print_indented(console, f"[yellow]![/] {prose(note)}", 0, hanging=2)
    if assumed:
        console.print("[dim]Assumed where the source is silent:[/]", highlight=False)
        for note in assumed:
            _print_indented(console, f"[dim]- {prose(note)}[/]", 2, hanging=2)
    missing = gaps(document)
    if missing:
        console.print("[yellow]Coverage gaps[/] (not collected; findings may be incomplete):", highlight=False)
        for gap in missing:
            where = "/".join(safe(gap.get(key)) for key in ("provider", "scope", "region") if gap.get(key))
            _print_indented(console, f"[yellow]-[/] {where}: {safe(gap.get('what'))}: [dim]{prose(gap.get('error'))}[/]", 2,
                            hanging=2)
    if said or missing:
        console.print()


def verdict(document: dict) -> str:
    """One line that says what the result means, in rich markup."""
    counts = count_by_severity(open_findings(document))
    total = sum(counts.values())
    paths = sum(1 for f in open_findings(document) if f.get("check_id") == ATTACK_PATH_CHECK)
    worst = next((s for s in SEVERITIES if counts[s]), None)
    blind = incomplete(document)
    if paths:
        nodes = len({(f.get("resource") or {}).get("id") for f in open_findings(document)
                     if f.get("check_id") == ATTACK_PATH_CHECK})
        text = (f"[bold red]Verdict: the internet reaches administrator or production power through "
                f"{plural(nodes, 'CI node')}[/]; close the {'attack path' if paths == 1 else 'attack paths'} "
                f"first ({plural(total, 'open finding')} in all)")
    elif worst in ("critical", "high"):
        text = (f"[{SEVERITY_STYLE[worst]}]Verdict: {plural(total, 'open finding')}, the worst {worst}[/]; "
                "no path from the internet to administrator power")
    elif total:
        text = f"Verdict: {plural(total, 'open finding')}, the worst {worst}; nothing critical or high"
    else:
        text = "[green]Verdict: no open findings[/]"
    if blind:
        text += f"; [bold yellow]INCOMPLETE[/]: {plural(len(gaps(document)), 'coverage gap')} may hide more"
    return text + "."


def print_table(document: dict, console: Console, verbose: bool = False) -> None:
    """The whole terminal view of a findings document (see the module's docstring)."""
    _print_incomplete(document, console)
    _print_summary(document, console)
    _print_attack_paths(document, console, verbose)
    _print_findings(document, console, verbose)
    _print_ci_identities(document, console)
    _print_notes(document, console)
    _print_indented(console, verdict(document), 0)
    if not verbose and open_findings(document):
        _print_indented(console, "[dim]--verbose shows every message whole with its evidence; -o report.html "
                                 "writes the report with remediation.[/]", 0)



def print_catalogue(checks: list, console: Console) -> None:
    """`guardrails checks`: each check's id and severity on one line (with when a finding's severity
    differs from it), its title and its threat-model references indented below."""
    for chk in checks:
        severity = chk.severity.value
        style = SEVERITY_STYLE.get(severity, "")
        line = f"[bold]{escape(chk.id)}[/] [{style}]{severity}[/]"
        if chk.severity_note:
            line += f" [yellow]({escape(chk.severity_note)})[/]"
        _print_indented(console, line, 0, hanging=4)
        _print_indented(console, escape(chk.title), 4)
        _print_indented(console, f"[dim]{escape(references_line(chk))}[/]", 4, hanging=2)
