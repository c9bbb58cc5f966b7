"""Pictures of an evidence path, left to right: Mermaid for Markdown, inline SVG for HTML.

Both are generated here rather than by a diagram library so that the HTML report needs nothing
from the network and every label goes through the same escaping.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from .text import mermaid_label, one_line, shorten


def path_steps(finding: dict) -> list[dict]:
    return [step for step in (finding.get("evidence") or {}).get("path") or [] if isinstance(step, dict)]


def _label(step: dict) -> str:
    name = one_line(step.get("name")) or one_line(step.get("id"))
    return name


def mermaid(finding: dict) -> str:
    """A `flowchart LR` block body (without the fence) for the finding's evidence path."""
    steps = path_steps(finding)
    lines = ["flowchart LR"]
    for index, step in enumerate(steps):
        kind = mermaid_label(step.get("kind"))
        name = mermaid_label(_label(step))
        lines.append(f'  n{index}["{kind}: {name}"]')
    for index in range(1, len(steps)):
        via = one_line(steps[index].get("via"))
        arrow = f' -->|"{mermaid_label(shorten(via, 80))}"| ' if via else " --> "
        lines.append(f"  n{index - 1}{arrow}n{index}")
    return "\n".join(lines)


# The path is drawn top to bottom, one box per step and the hop's label beside its arrow, in a
# fixed-width viewBox that the page scales to its column: however many steps, the whole path fits
# the width (a left-to-right chain of 8 steps needed 2,200 px and hid the administrator end behind a
# scrollbar). Labels are shortened to fit; the full texts are in <title> tooltips and in the step
# list under the drawing.
_VIEW_WIDTH = 720
_BOX_WIDTH = 300
_BOX_HEIGHT = 46
_GAP = 34
_MARGIN = 8
_LABEL_X = _MARGIN + _BOX_WIDTH + 18
_LABEL_CHARS = 56  # what fits between the label's start and the viewBox's right edge at 11 px
_KIND_COLOURS = {
    "internet": "#fde2e1",
    "gateway": "#fff1cc",
    "route_table": "#fff1cc",
    "subnet": "#e8f0fe",
    "network": "#e8f0fe",
    "firewall": "#ffe8cc",
    "load_balancer": "#e6f4ea",
    "compute": "#e6f4ea",
    "identity": "#f3e8fd",
    "account": "#fce8f3",
}


def svg(finding: dict, uid: str = "0", max_label: int = 34) -> Markup:
    """An inline SVG drawing one box per step (kind and name), top to bottom, and an arrow per hop
    labelled with its `via`. Full texts are in <title> tooltips; the drawing shows them shortened."""
    steps = path_steps(finding)
    if not steps:
        return Markup("")
    marker = "arrow-" + "".join(ch for ch in uid if ch.isascii() and (ch.isalnum() or ch == "-"))
    height = _MARGIN * 2 + len(steps) * _BOX_HEIGHT + (len(steps) - 1) * _GAP
    parts = [
        f'<svg class="attack-path" role="img" viewBox="0 0 {_VIEW_WIDTH} {height}" width="{_VIEW_WIDTH}"'
        f' height="{height}" preserveAspectRatio="xMinYMin meet" aria-label="{escape(_describe(steps))}">',
        f'<defs><marker id="{marker}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8"'
        ' orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#444"/></marker></defs>',
    ]
    centre = _MARGIN + _BOX_WIDTH / 2
    for index, step in enumerate(steps):
        y = _MARGIN + index * (_BOX_HEIGHT + _GAP)
        kind = one_line(step.get("kind"))
        name = _label(step)
        fill = _KIND_COLOURS.get(kind, "#f1f3f4")
        if index:
            top = y - _GAP
            via = one_line(step.get("via"))
            parts.append(
                f'<g class="hop"><title>{escape(via)}</title>'
                f'<line x1="{centre}" y1="{top}" x2="{centre}" y2="{y - 2}" stroke="#444" stroke-width="1.5"'
                f' marker-end="url(#{marker})"/>'
                f'<text x="{_LABEL_X - 12}" y="{top + _GAP / 2 + 4}" class="via">'
                f"{escape(shorten(via, _LABEL_CHARS))}</text></g>"
            )
        parts.append(
            f'<g class="step"><title>{escape(kind)}: {escape(name)}\n{escape(one_line(step.get("id")))}</title>'
            f'<rect x="{_MARGIN}" y="{y}" width="{_BOX_WIDTH}" height="{_BOX_HEIGHT}" rx="6" fill="{fill}" stroke="#555"/>'
            f'<text x="{_MARGIN + 10}" y="{y + 18}" class="kind">{escape(kind)}</text>'
            f'<text x="{_MARGIN + 10}" y="{y + 36}" class="name">{escape(shorten(name, max_label))}</text>'
            f'<text x="{_LABEL_X - 12}" y="{y + _BOX_HEIGHT / 2 + 4}" class="step-id">'
            f"{escape(shorten(one_line(step.get('id')), _LABEL_CHARS))}</text></g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _describe(steps: list[dict]) -> str:
    return "Attack path: " + " to ".join(f"{one_line(s.get('kind'))} {_label(s)}" for s in steps)
