"""``shadow repro``: the smallest scenario that still shows a divergence signature."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shadow.cli.output import JsonOption, err, out, print_json


def repro(
    run_dir: Annotated[Path, typer.Argument(help="A run folder written by shadow replay.")],
    signature: Annotated[str, typer.Argument(help="A divergence signature (signatures.json).")],
    pair: Annotated[
        str | None,
        typer.Option("--pair", help="BASELINE,CANDIDATE (default: the pair it occurs in most)."),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("-o", "--out", help="Output folder (default build/shadow/repro-SIGNATURE)."),
    ] = None,
    max_runs: Annotated[
        int, typer.Option("--max-runs", help="Most replays of candidate streams.")
    ] = 500,
    force: Annotated[bool, typer.Option("--force", help="Replace the output folder.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress on stderr.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Shrink the run's stream to the fewest messages that still show SIGNATURE in the pair,
    and write scenario.yaml, a pytest file replaying it and report.md (a bug report with both
    timelines). The output holds no capture data.

    Example: shadow repro build/shadow/capture f6a2cc94b30b --pair legacy,unified -o repro/
    """
    from shadow.repro import check_arguments, reproduce

    check_arguments(out_dir, force, max_runs, pair)
    if not run_dir.is_dir():
        from shadow.common import UsageError

        raise UsageError(f"{run_dir}: no such run folder")

    def note(text: str) -> None:
        if not quiet:
            err.print(f"repro: {text}", markup=False)

    result = reproduce(run_dir, signature, pair, out_dir, max_runs, force, note)
    summary = {
        "signature": result.signature,
        "pair": list(result.pair),
        "messages_before": result.before[0],
        "contacts_before": result.before[1],
        "messages_after": result.after[0],
        "contacts_after": result.after[1],
        "runs": result.runs,
        "out": str(result.out),
        "files": list(result.files),
    }
    if json_output:
        print_json(summary)
        return
    out.print(
        f"{result.signature} ({' vs '.join(result.pair)}): {result.before[0]} messages "
        f"({result.before[1]} contacts) -> {result.after[0]} ({result.after[1]}) in "
        f"{result.runs} runs",
        markup=False,
    )
    for name in result.files:
        out.print(f"wrote {result.out / name}", markup=False)
