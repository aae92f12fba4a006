"""The self-contained HTML report: one file, no script, no external resource, no date.

Guarantees:

1. Everything the page shows is inline (CSS in a ``<style>``, charts as ``<svg>``); a
   Content-Security-Policy meta forbids loading anything else, so the page works offline.
2. Rendering is a pure function of the report context: the same run gives the same bytes.
3. Every value from the run is HTML-escaped (Jinja2 autoescape); only the generated SVG charts
   are inserted as markup.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape


def _seconds(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    sign = "+" if signed and value > 0 else ""
    return f"{sign}{value:.2f}s"


def _duration(seconds: float) -> str:
    from reports.context import duration

    return duration(seconds)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")


@functools.cache
def environment() -> Environment:
    """The one environment (its compiled templates are kept: a gate renders twice)."""
    env = Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["seconds"] = _seconds
    env.filters["duration"] = _duration
    env.filters["slug"] = _slug
    return env


def render_html(context: dict[str, Any]) -> str:
    """The page for a context built by ``reports.context.build_context``."""
    template = environment().get_template("report.html.j2")
    return template.render(**context)
