"""Renderers of the findings document. Each reads only the document (a dict), never the graph,
so `guardrails report` can render any format later from a saved JSON document."""

from __future__ import annotations

import enum
from collections.abc import Callable

import orjson


class OutputFormat(str, enum.Enum):
    JSON = "json"
    SARIF = "sarif"
    MARKDOWN = "markdown"
    HTML = "html"


def render_json(document: dict) -> str:
    """Indented JSON in the producer's order, byte for byte what json.dumps(indent=2,
    ensure_ascii=False) writes; orjson does it in C, where json's indenting encoder is pure Python."""
    return orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE).decode()


# The other formats' modules (jinja2 among them) are imported when one is asked for: a scan
# writing JSON does not wait for them.
def render_sarif(document: dict) -> str:
    from .sarif import render_sarif

    return render_sarif(document)


def render_markdown(document: dict) -> str:
    from .markdown import render_markdown

    return render_markdown(document)


def render_html(document: dict) -> str:
    from .html import render_html

    return render_html(document)


RENDERERS: dict[str, Callable[[dict], str]] = {
    OutputFormat.JSON.value: render_json,
    OutputFormat.SARIF.value: render_sarif,
    OutputFormat.MARKDOWN.value: render_markdown,
    OutputFormat.HTML.value: render_html,
}


def render(document: dict, fmt: str) -> str:
    """The document in the named format; ValueError names the known formats otherwise."""
    key = fmt.value if isinstance(fmt, OutputFormat) else str(fmt).lower()
    try:
        renderer = RENDERERS[key]
    except KeyError:
        raise ValueError(f"unknown report format {fmt!r}; choose one of: {', '.join(RENDERERS)}") from None
    return renderer(document)


__all__ = ["OutputFormat", "RENDERERS", "render", "render_json", "render_sarif", "render_markdown", "render_html"]
