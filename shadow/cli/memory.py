"""``shadow memory``: the gauges of a run folder in bytes of JavaScript Maps."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from shadow.cli.output import JsonOption, out, print_json
from shadow.common import UsageError


def memory(
    run_dir: Annotated[Path, typer.Argument(help="A run folder written by shadow replay.")],
    json_: JsonOption = False,
) -> None:
    """Estimated V8 heap bytes per structure, growth per day, days to 12,500 entries / 100 MB.

    Example: shadow memory build/soak
    """
    from shadow.runfolder import memory_rows

    if not run_dir.is_dir():
        raise UsageError(f"{run_dir}: no such run folder")
    rows = memory_rows(run_dir)
    if json_:
        print_json({"structures": [row.document() for row in rows]})
        return
    table = Table(title="memory in bytes (V8 heap estimate, docs/models.md)", title_justify="left")
    for column in (
        "arm",
        "structure",
        "JS",
        "peak entries",
        "peak bytes",
        "entries/day",
        "bytes/day",
        "days to 12,500",
        "days to 100 MB",
    ):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row.arm,
            row.structure,
            row.js,
            f"{row.peak_entries:,}",
            f"{row.peak_bytes:,}",
            f"{row.entries_per_day:,.0f}",
            f"{row.bytes_per_day:,.0f}",
            "-" if row.days_to_12500 is None else f"{row.days_to_12500:g}",
            "-" if row.days_to_100mb is None else f"{row.days_to_100mb:g}",
        )
    out.print(table)
