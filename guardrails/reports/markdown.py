"""The remediation report as Markdown (GitHub-flavoured, with Mermaid diagrams)."""

from __future__ import annotations

import json
import re

from jinja2 import Environment, PackageLoader, ChainableUndefined

from .paths import mermaid
from .text import clean, md_cell, md_code, md_inline_code, md_text, one_line
from .view import flatten_details


def fenced(body: str, info: str = "") -> str:
    """A fenced code block that no content can close: the fence is longer than any backtick run."""
    body = clean(body).rstrip("\n")
    longest = max((len(run) for run in re.findall(r"`{3,}", body)), default=2)
    fence = "`" * (longest + 1)
    return f"{fence}{info}\n{body}\n{fence}"


def details_json(details: object) -> str:
    return json.dumps(details, indent=2, ensure_ascii=False, sort_keys=True)


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("guardrails.reports", "templates"),
        autoescape=False,  # Markdown: every estate value goes through an md_* filter instead
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=ChainableUndefined,
    )
    env.filters.update(md=md_text, cell=md_cell, code=md_code, one_line=one_line, fenced=fenced,
                       details_json=details_json, mermaid=mermaid,
                       flatten_details=flatten_details, md_inline_code=md_inline_code)
    from .remediation import cli_name

    env.filters["cli_name"] = cli_name
    env.filters["tcode"] = lambda value: md_code(value, in_table=True)
    return env


_ENV = _environment()


def render_markdown(document: dict) -> str:
    from .view import report_context

    text = _ENV.get_template("report.md.j2").render(**report_context(document))
    return re.sub(r"\n{3,}", "\n\n", text)
