"""``shadow sweep``: vary settings over seeds and rank them."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from shadow.cli.output import JsonOption, err, out, plain_table, print_json
from shadow.common import UsageError


def sweep(
    capture: Annotated[
        str,
        typer.Argument(help="A capture file, scenario:NAME or a built-in scenario name."),
    ],
    vary: Annotated[
        list[str] | None,
        typer.Option(
            "--vary",
            help="A config key and its values: KEY=V1,V2,... (repeatable; every combination "
            "is replayed).",
        ),
    ] = None,
    seeds: Annotated[
        int,
        typer.Option(
            "--seeds",
            help="Environment seeds 1..N per combination (a scenario is regenerated per seed).",
        ),
    ] = 5,
    objective: Annotated[
        str | None,
        typer.Option(
            "--objective",
            help="How to rank values, lexicographic on seed means: comma-separated metrics, "
            "each optionally prefixed min: or max: (held until the next prefix). Default "
            "min:regressions,duplicate_processing (fewest regressions, then fewest "
            "duplicates processed).",
        ),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Sweep folder (default build/shadow/sweep-<input stem>)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing sweep folder.")
    ] = False,
    workers: Annotated[int | None, typer.Option("--workers", help="Worker processes.")] = None,
    json_: JsonOption = False,
) -> None:
    """Replay every combination of config values (x N seeds) and tabulate outcomes per value.

    Example: shadow sweep scenario:duplicate-window-question
    --vary unified.duplicate_window=3s,5s,10s,20s,30s --seeds 5
    """
    from shadow.sweep import parse_vary, run_sweep

    if not vary:
        raise UsageError("give at least one --vary KEY=V1,V2,...")
    parsed = [parse_vary(text) for text in vary]
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if json_ or not err.is_terminal:
            progress: Any = lambda m: err.print(f"sweep: {m}", markup=False)  # noqa: E731
        else:
            status = stack.enter_context(err.status("sweeping..."))
            progress = lambda m: status.update(f"sweep: {m}")  # noqa: E731
        result = run_sweep(
            capture, parsed, seeds, objective, workers, out_dir, force=force, progress=progress
        )
    if json_:
        print_json(result.document)
        return
    render_sweep_summary(result, time.perf_counter() - started)


def render_sweep_summary(result: Any, seconds: float) -> None:
    """The summary table (seed means, min-max) and the best-value sentence."""
    from shadow.sweep import ARM_METRICS, format_metric, metric_words

    columns = ["regressions", "new_failures", *(f"unified.{m}" for m in ARM_METRICS)]
    rank_of = {index: place + 1 for place, index in enumerate(result.ranking)}
    rows = []
    for index, combo in enumerate(result.combos):
        summary = result.summary.iloc[index]
        cells = []
        for column in columns:
            mean, low, high = (float(summary[f"{column}_{s}"]) for s in ("mean", "min", "max"))
            text = format_metric(column, mean)
            if low != high:
                text += f" ({format_metric(column, low)}-{format_metric(column, high)})"
            cells.append(text)
        rows.append([str(rank_of[index]), *combo, *cells])
    heads = ["rank", *result.keys, *(metric_words(c) for c in columns)]
    if out.is_terminal:
        from rich.table import Table

        table = Table(title=f"seed means over {result.seeds} seeds (min-max)")
        for index, head in enumerate(heads):
            table.add_column(head, justify="left" if 0 < index <= len(result.keys) else "right")
        for row in rows:
            table.add_row(*row)
        out.print(table)
    else:
        right = {index for index in range(len(heads)) if not 0 < index <= len(result.keys)}
        out.print(plain_table(heads, rows, right), markup=False)
    out.print(result.sentence, markup=False)
    out.print(f"sweep folder: {result.out}  ({seconds:.1f} s)", markup=False)
