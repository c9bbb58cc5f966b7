"""The remediation report as one self-contained HTML file.

Self-contained means it loads nothing: no CDN, fonts or images, inline CSS and script only, and a
Content-Security-Policy that forbids any fetch, so an estate string that slipped past escaping still
could not call out. Without JavaScript everything stays visible; the script only adds the severity
filter and opens every section before printing.
"""

from __future__ import annotations

import json
import re

from jinja2 import ChainableUndefined, Environment, PackageLoader, select_autoescape

from markupsafe import Markup, escape

from .paths import svg
from .threat_model import owasp_name, stride_name
from .remediation import cli_name
from .trend import trend_svg
from .text import clean, html_inline_code, one_line
from .view import flatten_details

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)
# Large reports open with the per-node sections collapsed; small ones show everything.
OPEN_SECTIONS_UP_TO = 60


def _details_json(details: object) -> str:
    return clean(json.dumps(details, indent=2, ensure_ascii=False, sort_keys=True))


def id_breaks(value: object) -> Markup:
    """An id (an ARN, a Terraform address) that may wrap only between its parts: after each colon or
    slash, where a <wbr> says so, never inside a part."""
    parts = re.split(r"(?<=[:/])", one_line(value))
    return Markup("<wbr>".join(str(escape(part)) for part in parts))


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("guardrails.reports", "templates"),
        autoescape=select_autoescape(["html", "html.j2"], default_for_string=True, default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=ChainableUndefined,
    )
    env.filters.update(text=one_line, clean=clean, details_json=_details_json, svg=svg, flatten_details=flatten_details,
                       inline_code=html_inline_code, stride_name=stride_name,
                       owasp_name=owasp_name, id_breaks=id_breaks, trend_svg=trend_svg, cli_name=cli_name)
    return env


_ENV = _environment()


def render_html(document: dict, trend: dict | None = None) -> str:
    """The report; with `trend` (HistoryStore.severity_trend of the document's scope) it opens with
    the chart of open findings by severity over the recorded audits."""
    from .view import report_context

    context = report_context(document)
    return _ENV.get_template("report.html.j2").render(
        csp=CONTENT_SECURITY_POLICY,
        open_sections=len(context["findings"]) <= OPEN_SECTIONS_UP_TO,
        trend=trend,
        **context,
    )
