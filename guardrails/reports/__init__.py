"""Renderers of the findings document. Each reads only the document (a dict), never the graph,
so `guardrails report` can render any format later from a saved JSON document."""

from __future__ import annotations

import enum
from collections.abc import Callable


class OutputFormat(str, enum.Enum):
    """Every output format, the one list the CLI's --format offers and the renderers serve. The table
    is the terminal's (reports.table draws it); each other format is a text rendered from the document."""

    table = "table"
    json = "json"
    sarif = "sarif"
    markdown = "markdown"
    html = "html"


def render_json(document: dict) -> str:
    """Indented JSON in the producer's order, byte for byte what json.dumps(indent=2,
    ensure_ascii=False) writes; orjson does it in C, where json's indenting encoder is pure Python."""
    import orjson  # here, so that the CLI's start (which reads OutputFormat) does not load it

    return orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE).decode()


# The other formats' modules (jinja2 among them) are imported when one is asked for: a scan
# writing JSON does not wait for them.
def render_sarif(document: dict) -> str:
    from .sarif import render_sarif

    return render_sarif(document)


def render_markdown(document: dict) -> str:
    from .markdown import render_markdown

    return render_markdown(document)


def render_html(document: dict, trend: dict | None = None) -> str:
    from .html import render_html

    return render_html(document, trend)


# Every format but the terminal's table, which is drawn on a console rather than returned as text.
RENDERERS: dict[str, Callable[[dict], str]] = {
    OutputFormat.json.value: render_json,
    OutputFormat.sarif.value: render_sarif,
    OutputFormat.markdown.value: render_markdown,
    OutputFormat.html.value: render_html,
}


def render(document: dict, fmt: str | OutputFormat) -> str:
    """The document in the named text format; ValueError names the known formats otherwise."""
    key = fmt.value if isinstance(fmt, OutputFormat) else str(fmt).lower()
    try:
        renderer = RENDERERS[key]
    except KeyError:
        raise ValueError(f"unknown report format {fmt!r}; choose one of: {', '.join(RENDERERS)}") from None
    return renderer(document)


__all__ = ["OutputFormat", "RENDERERS", "render", "render_json", "render_sarif", "render_markdown", "render_html"]
