"""The trend of open findings by severity over the audits of a scope, drawn as an inline SVG line
chart for the HTML report.

The input is what HistoryStore.severity_trend reads from the history database (the report never
opens the database itself): {"scope": S, "runs": [{"id", "started_at", "complete", "by_severity"}],
oldest run first}. Drawn here, not by a charting library, so the report loads nothing and every
label goes through the same escaping as the rest of it.
"""

from __future__ import annotations

import math

from markupsafe import Markup, escape

from guardrails.severity import SEVERITIES

# The viewBox: the page scales it to its column, so the chart always fits the width.
WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 34, 52
COLOURS = {"critical": "#a50e0e", "high": "#d93025", "medium": "#b06000", "low": "#1967d2", "info": "#5f6368"}
# At most this many dates under the x axis; between them, runs are still drawn (and have a tooltip).
MOST_X_LABELS = 8


def nice_ceiling(value: int) -> int:
    """The top of the y axis: the smallest of 1, 2, 5 x 10^n at or above `value` (at least 1)."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def _x(index: int, count: int) -> float:
    width = WIDTH - LEFT - RIGHT
    return LEFT + (width / 2 if count == 1 else width * index / (count - 1))


def _y(value: int, top: int) -> float:
    return TOP + (HEIGHT - TOP - BOTTOM) * (1 - value / top)


def _day(moment: str | None) -> str:
    return (moment or "")[:10]


def _when(moment: str | None) -> str:
    return (moment or "?")[:16].replace("T", " ")


def series(trend: dict) -> dict[str, list[int]]:
    """Per severity, the open findings of each run, oldest run first."""
    return {severity: [run["by_severity"].get(severity, 0) for run in trend["runs"]] for severity in SEVERITIES}


def trend_svg(trend: dict) -> Markup:
    """The line chart: one line per severity, a point per run with its counts as a tooltip, a run
    whose coverage was incomplete drawn with a hollow point (its counts may be short)."""
    runs = trend["runs"]
    lines = series(trend)
    top = nice_ceiling(max((v for values in lines.values() for v in values), default=0))
    bottom_y = HEIGHT - BOTTOM
    out = [f'<svg class="trend" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
           f'aria-labelledby="trend-title" data-y-max="{top}" data-plot-top="{TOP}" data-plot-bottom="{bottom_y}">',
           f'<title id="trend-title">Open findings by severity over {len(runs)} audit'
           f'{"s" if len(runs) != 1 else ""} of {escape(trend.get("scope") or "")}</title>']
    # y grid and labels: 0, half and the top (integers only)
    for value in sorted({0, top // 2, top}):
        y = _y(value, top)
        out.append(f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}"/>')
        out.append(f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{value}</text>')
    # x labels: evenly spaced counting back from the latest run, which always has one; the day, or
    # the day and time when some day saw more than one run
    every = max(1, math.ceil(len(runs) / MOST_X_LABELS))
    days = [_day(run.get("started_at")) for run in runs]
    label = _day if len(set(days)) == len(days) else (lambda moment: _when(moment)[5:])
    for index, run in enumerate(runs):
        if (len(runs) - 1 - index) % every:
            continue
        x = _x(index, len(runs))
        anchor = "start" if len(runs) > 1 and index == 0 else "end" if len(runs) > 1 and index == len(runs) - 1 \
            else "middle"
        out.append(f'<text class="axis" x="{x:.1f}" y="{bottom_y + 18}" text-anchor="{anchor}">'
                   f'{escape(label(run.get("started_at")))}</text>')
    out.append(f'<line class="axis-line" x1="{LEFT}" y1="{bottom_y}" x2="{WIDTH - RIGHT}" y2="{bottom_y}"/>')
    # legend, along the top
    for position, severity in enumerate(SEVERITIES):
        x = LEFT + position * 110
        out.append(f'<line x1="{x}" y1="12" x2="{x + 18}" y2="12" stroke="{COLOURS[severity]}" stroke-width="3"/>'
                   f'<text class="legend" x="{x + 24}" y="16">{severity} ({lines[severity][-1] if runs else 0})</text>')
    for severity in SEVERITIES:
        values = lines[severity]
        points = " ".join(f"{_x(i, len(runs)):.1f},{_y(v, top):.1f}" for i, v in enumerate(values))
        out.append(f'<g class="series" data-severity="{severity}" data-counts="{",".join(map(str, values))}">')
        out.append(f'<polyline points="{points}" fill="none" stroke="{COLOURS[severity]}" stroke-width="2"/>')
        for index, (run, value) in enumerate(zip(runs, values)):
            fill = COLOURS[severity] if run.get("complete", True) else "#fff"
            note = "" if run.get("complete", True) else ", coverage incomplete"
            out.append(f'<circle cx="{_x(index, len(runs)):.1f}" cy="{_y(value, top):.1f}" r="3.5" fill="{fill}" '
                       f'stroke="{COLOURS[severity]}"><title>{value} {severity} open, '
                       f'{escape(_when(run.get("started_at")))} (run {escape(str(run.get("id"))[:8])}{note})'
                       f'</title></circle>')
        out.append("</g>")
    out.append("</svg>")
    return Markup("".join(out))
