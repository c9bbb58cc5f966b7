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


_BOX_WIDTH = 170
_BOX_HEIGHT = 58
_GAP = 120
_MARGIN = 10
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


def svg(finding: dict, uid: str = "0", max_label: int = 24) -> Markup:
    """An inline SVG drawing one box per step (kind and name) and an arrow per hop labelled with
    its `via`. Full texts are in <title> tooltips; the boxes show them shortened."""
    steps = path_steps(finding)
    if not steps:
        return Markup("")
    marker = "arrow-" + "".join(ch for ch in uid if ch.isascii() and (ch.isalnum() or ch == "-"))
    width = _MARGIN * 2 + len(steps) * _BOX_WIDTH + (len(steps) - 1) * _GAP
    height = _MARGIN * 2 + _BOX_HEIGHT + 34
    top = _MARGIN + 30
    parts = [
        f'<svg class="attack-path" role="img" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" aria-label="{escape(_describe(steps))}">',
        f'<defs><marker id="{marker}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8"'
        ' orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#444"/></marker></defs>',
    ]
    for index, step in enumerate(steps):
        x = _MARGIN + index * (_BOX_WIDTH + _GAP)
        kind = one_line(step.get("kind"))
        name = _label(step)
        fill = _KIND_COLOURS.get(kind, "#f1f3f4")
        parts.append(
            f'<g class="step"><title>{escape(kind)}: {escape(name)}\n{escape(one_line(step.get("id")))}</title>'
            f'<rect x="{x}" y="{top}" width="{_BOX_WIDTH}" height="{_BOX_HEIGHT}" rx="6" fill="{fill}" stroke="#555"/>'
            f'<text x="{x + _BOX_WIDTH / 2}" y="{top + 22}" text-anchor="middle" class="kind">{escape(kind)}</text>'
            f'<text x="{x + _BOX_WIDTH / 2}" y="{top + 42}" text-anchor="middle" class="name">'
            f"{escape(shorten(name, max_label))}</text></g>"
        )
        if index:
            start = x - _GAP
            y = top + _BOX_HEIGHT / 2
            via = one_line(step.get("via"))
            parts.append(
                f'<g class="hop"><title>{escape(via)}</title>'
                f'<line x1="{start}" y1="{y}" x2="{x - 2}" y2="{y}" stroke="#444" stroke-width="1.5"'
                f' marker-end="url(#{marker})"/>'
                f'<text x="{start + _GAP / 2}" y="{top - 8}" text-anchor="middle" class="via">'
                f"{escape(shorten(via, 20))}</text></g>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def _describe(steps: list[dict]) -> str:
    return "Attack path: " + " to ".join(f"{one_line(s.get('kind'))} {_label(s)}" for s in steps)
