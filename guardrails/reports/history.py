"""`guardrails history`: the latest audits and the trend of open findings per check and per account."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from guardrails.reports.table import safe


def _when(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


def print_history(store, scope: str | None, limit: int, console: Console) -> None:
    runs = store.runs(scope, limit)
    if not runs:
        console.print("No audit recorded" + (f" for scope {scope}" if scope else "") + ".", markup=False)
        return
    table = Table(title="Runs", box=None, header_style="bold", title_justify="left")
    for column in ("started", "scope", "run", "status", "open", "new", "fixed", "reopened", "gaps", "by"):
        table.add_column(column)
    for run in runs:
        summary, changes = run.get("summary") or {}, run.get("changes") or {}
        status = run["status"] if run["status"] == "complete" else "did not finish"
        open_count = sum((summary.get("by_severity") or {}).values()) if summary else None
        table.add_row(_when(run["started_at"]), safe(run["scope"]), run["id"][:8], status,
                      "-" if open_count is None else str(open_count),
                      *(str(changes.get(key, "-")) for key in ("new", "fixed", "reopened")),
                      "-" if run.get("gaps") is None else str(len(run["gaps"])), safe(run.get("actor") or "-"))
    console.print(table)
    scope = scope or next((run["scope"] for run in runs if run["status"] == "complete"), None)
    if scope is None:
        return
    for by, title in (("check", "Open findings per check"), ("account", "Open findings per account")):
        latest, counts = store.trends(scope, by, limit)
        if not latest:
            continue
        trend = Table(title=f"{title} in {scope}, oldest run first", box=None, header_style="bold",
                      title_justify="left")
        trend.add_column(by)
        for run in latest:
            trend.add_column(_when(run["started_at"]), justify="right")
        trend.add_column("change", justify="right")
        for key, values in counts.items():
            change = values[-1] - values[0]
            trend.add_row(safe(key), *(str(v) for v in values), f"{change:+d}" if len(values) > 1 else "")
        if not counts:
            trend.add_row("(none open)", *("0" for _ in latest), "")
        console.print(trend)
