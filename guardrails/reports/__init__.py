"""Renderers of the findings document. Each reads only the document (a dict), never the graph,
so `guardrails report` can render any format later from a saved JSON document."""

from __future__ import annotations

import enum
import json
from collections.abc import Callable

from .html import render_html
from .markdown import render_markdown
from .sarif import render_sarif


class OutputFormat(str, enum.Enum):
    JSON = "json"
    SARIF = "sarif"
    MARKDOWN = "markdown"
    HTML = "html"


def render_json(document: dict) -> str:
    # The producer already sorted the document; keep its order byte for byte.
    return json.dumps(document, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


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
