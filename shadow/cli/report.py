"""``shadow report``: re-render a run folder's reports."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer

from shadow.cli.output import err, out
from shadow.common import UsageError


def report(
    run_dir: Annotated[Path, typer.Argument(help="A run folder written by shadow replay.")],
    html: Annotated[
        Path | None, typer.Option("--html", help="HTML output (default RUN_DIR/report.html).")
    ] = None,
    md: Annotated[
        Path | None, typer.Option("--md", help="Markdown output (default RUN_DIR/report.md).")
    ] = None,
    show_text: Annotated[
        bool,
        typer.Option("--show-text", help="Show message texts and raw ids (needs --keep-raw)."),
    ] = False,
) -> None:
    """(Re)render the approvers' reports of a run: report.md and a self-contained report.html.

    Example: shadow report build/shadow/capture --html /tmp/report.html
    """
    from reports import render_run, run_reference

    if not run_dir.is_dir():
        raise UsageError(f"{run_dir}: no such run folder")
    html_file = html or run_dir / "report.html"
    md_file = md or run_dir / "report.md"
    # a transient spinner on a terminal (rendering a large run takes seconds); nothing in logs
    showing: contextlib.AbstractContextManager[object] = (
        err.status("rendering reports...") if err.is_terminal else contextlib.nullcontext()
    )
    with showing:
        render_run(
            run_dir, html=html_file, md=md_file, show_text=show_text, run_ref=run_reference(run_dir)
        )
    out.print(f"wrote {md_file} and {html_file}", markup=False)
