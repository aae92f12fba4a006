"""The Markdown report: the same sections as the HTML page, sized for a pull-request comment.

Guarantees:

1. Same context as the HTML report (so the two never disagree), without charts: tables and
   commands only, each table capped as in the HTML.
2. Every value from the run is escaped for a Markdown table cell (``|``, ``<``, line breaks).
3. A pure function of the context: byte-identical for the same run.
"""

from __future__ import annotations

import functools
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from reports.html import _duration, _seconds


def cell(value: Any) -> str:
    """A value safe inside a Markdown table cell (guarantee 2)."""
    text = "" if value is None else str(value)
    text = text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
    return " ".join(text.split())


@functools.cache
def environment() -> Environment:
    """The one environment (its compiled templates are kept: a gate renders twice)."""
    env = Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=False,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["cell"] = cell
    env.filters["seconds"] = _seconds
    env.filters["duration"] = _duration
    return env


def render_markdown(context: dict[str, Any]) -> str:
    return normalize(environment().get_template("report.md.j2").render(**context))


def normalize(text: str) -> str:
    """At most one blank line in a row, no trailing blanks, one newline at the end."""
    lines: list[str] = []
    for line in text.splitlines():
        if line.strip() or (lines and lines[-1].strip()):
            lines.append(line.rstrip())
    return "\n".join(lines).strip() + "\n"
