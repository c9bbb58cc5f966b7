"""Make strings taken from the estate inert in every output format.

Names, tags, ids, messages and `via` texts come from whoever controls the cloud account or the
Terraform code. A report must show them, never obey them: no terminal escape sequence, no markup,
no table cell or diagram edge they could open or close.
"""

from __future__ import annotations

import re

# ESC-introduced sequences: CSI (colours, cursor moves), OSC (titles, hyperlinks; ended by BEL or
# ST), and the two-byte forms. Removed whole so that no fragment like "[31m" is left behind.
_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[ -/]*[0-~]?"
    r"|\x9b[0-?]*[ -/]*[@-~]"
)
# C0 and C1 controls except tab and newline, DEL, and the Unicode bidirectional overrides that
# reorder how text is displayed without changing what it is.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_WHITESPACE_RUN = re.compile(r"\s+")


def clean(value: object) -> str:
    """The text of an estate value with escape sequences and control characters removed."""
    text = "" if value is None else str(value)
    return _CONTROL.sub("", _ANSI.sub("", text))


def one_line(value: object) -> str:
    """clean(), with every run of whitespace (newlines included) collapsed to one space."""
    return _WHITESPACE_RUN.sub(" ", clean(value)).strip()


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 1)] + "\u2026"


# Markdown: backslash-escape every ASCII punctuation character that can start inline syntax
# (emphasis, code, links, images, raw HTML, entities, autolinks, table pipes). CommonMark renders
# "\x" as a literal x for any ASCII punctuation x.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]()<>|~&#!{}])")


def md_text(value: object) -> str:
    """Inline Markdown text showing the value literally, on one line."""
    return _MD_SPECIAL.sub(r"\\\1", one_line(value))


def md_cell(value: object) -> str:
    """A GFM table cell: md_text already escapes `|`, which is what keeps the column count."""
    return md_text(value) or " "


def md_code(value: object, in_table: bool = False) -> str:
    """An inline code span holding the value literally (ids, addresses, ports)."""
    text = one_line(value)
    if not text:
        return ""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    if text.startswith("`") or text.endswith("`"):
        text = f" {text} "
    if in_table:
        # GFM splits table rows on `|` before it parses code spans; `\|` is the documented way
        # to keep a pipe inside a code span in a table cell.
        text = text.replace("|", "\\|")
    return f"{fence}{text}{fence}"


# Mermaid: a label is written as a quoted string, and every character that is not plainly safe is
# written as a Mermaid entity code (#<decimal>;), so quotes, brackets, pipes, `-->`, `%%`, backticks
# (which would close the Markdown fence) and HTML cannot reach the diagram parser.
_MERMAID_SAFE = re.compile(r"[\w ./:,=@+-]")


def mermaid_label(value: object) -> str:
    text = one_line(value)
    return "".join(ch if _MERMAID_SAFE.fullmatch(ch) and ch != "#" else f"#{ord(ch)};" for ch in text)


_CODE_SPAN = re.compile(r"`([^`]+)`")


def md_inline_code(value: object) -> str:
    """Prose whose `backticked` words become code spans and everything else literal text."""
    text = one_line(value)
    parts = _CODE_SPAN.split(text)
    return "".join(md_code(part) if index % 2 else md_text(part) for index, part in enumerate(parts))


def html_inline_code(value: object) -> str:
    """Prose for HTML whose `backticked` words become <code> and everything else escaped text."""
    from markupsafe import Markup, escape

    parts = _CODE_SPAN.split(one_line(value))
    return Markup("".join(f"<code>{escape(part)}</code>" if index % 2 else str(escape(part))
                          for index, part in enumerate(parts)))
