"""What every command shares: the two consoles, common options, one-JSON-document output."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

# Piped output (CI logs, files) gets wide tables instead of rich's 80-column default.
_WIDTH = None if sys.stdout.isatty() else 200
out = Console(highlight=False, soft_wrap=True, width=_WIDTH)
err = Console(stderr=True, highlight=False, soft_wrap=True)

SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override one config key: dotted.key=value (repeatable)."),
]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="A YAML configuration file.", exists=False)
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print exactly one JSON document on stdout.")
]
StrictOption = Annotated[
    bool,
    typer.Option(
        "--strict", help="A line carrying an unknown type is a bad line (default: count it)."
    ),
]

# shared by replay and watch
SeedOption = Annotated[int | None, typer.Option("--seed", help="Environment seed.")]
FlagOption = Annotated[str | None, typer.Option("--flag", help="Feature flag name.")]
ArmsOption = Annotated[
    str | None, typer.Option("--arms", help="Comma-separated arms (default legacy,unified).")
]
StageOption = Annotated[
    list[int] | None, typer.Option("--stage", help="Rollout stage in percent (repeatable).")
]
ProviderOption = Annotated[
    str | None, typer.Option("--provider", help="unleash, launchdarkly or flagd.")
]


def print_json(document: Any) -> None:
    """One JSON document on stdout, sorted keys, nothing else."""
    import json

    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def plain_table(heads: list[str], rows: list[list[str]], right: set[int] | None = None) -> str:
    """Columns aligned with spaces, for logs and pipes (no box drawing, nothing cut);
    the columns in ``right`` are right-aligned."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(heads, *rows, strict=True)]
    lines = []
    for row in [heads, *rows]:
        cells = [
            cell.rjust(width) if index in (right or set()) else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
