"""Render a run folder's two reports (see the package docstring for the guarantees)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shadow.common import UsageError, staged_file


def render_run(
    run_dir: Path, html: Path | None = None, md: Path | None = None, show_text: bool = False
) -> None:
    """Write the Markdown and HTML reports (default ``run_dir/report.md`` and ``report.html``)."""
    from reports.context import build_context
    from reports.data import load_run
    from reports.html import render_html
    from reports.markdown import render_markdown

    data = load_run(run_dir, show_text=False)
    if show_text:
        if not data.manifest.get("keep_raw"):
            raise UsageError(
                f"--show-text: {run_dir} was replayed without --keep-raw, so it holds no "
                "message text; replay with --keep-raw to show texts"
            )
        data = load_run(run_dir, show_text=True)
    context = build_context(data)
    context["title"] = title(data.manifest)
    for target, render in (
        (md or run_dir / "report.md", render_markdown),
        (html or run_dir / "report.html", render_html),
    ):
        with staged_file(target) as staging:  # whole or not at all, even on Ctrl-C
            staging.write_text(render(context), encoding="utf-8")


def title(manifest: dict[str, Any]) -> str:
    """The inputs, as the run recorded them."""
    names = []
    for item in manifest.get("inputs") or []:
        if isinstance(item, dict):
            names.append(
                f"scenario:{item['scenario']}" if "scenario" in item else str(item.get("path"))
            )
    return ", ".join(names) or "run"
