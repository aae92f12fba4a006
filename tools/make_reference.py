"""Write docs/reference.md: every command and option (from the CLI itself), exit codes, the
run folder's files and their columns (from a replay of the bundled sample), divergence kinds.

Run ``python tools/make_reference.py`` after changing a command, an option or a run file;
tests/unit/test_reference_doc.py fails while the page misses a command or an option.
"""

from __future__ import annotations

import inspect
import sys
import tempfile
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import typer

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "reference.md"
PARTS = Path(__file__).with_name("reference")  # the hand-written sections


def _commands() -> list[tuple[str, Any]]:
    from shadow.cli.app import app

    group = typer.main.get_command(app)
    found: list[tuple[str, Any]] = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        if hasattr(command, "commands"):
            found += [(f"{name} {sub}", c) for sub, c in command.commands.items()]
        else:
            found.append((name, command))
    return found


def _options(command: Any) -> list[tuple[str, str, str]]:
    rows = []
    for param in command.params:
        names = ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
        if param.param_type_name == "argument":
            names = f"`{param.name.upper()}`" + ("..." if param.nargs != 1 else "")
        default = param.default
        shown = "" if default in (None, False, (), []) or callable(default) else f"`{default}`"
        rows.append((names, " ".join((getattr(param, "help", "") or "").split()), shown))
    return rows


def _columns(folder: Path) -> str:
    lines = []
    for file in sorted(folder.glob("*.parquet")):
        schema = pq.read_schema(file)
        columns = ", ".join(f"`{f.name}` ({f.type})" for f in schema)
        lines.append(f"- `{file.name}`: {columns}")
    return "\n".join(lines)


def render() -> str:
    from shadow.common import KINDS
    from shadow.replay import ReplayOptions, replay

    intro, run_files, divergences = (
        (PARTS / f"{name}.md").read_text(encoding="utf-8")
        for name in ("intro", "run_files", "divergences")
    )
    parts = [
        intro,
        "## Commands\n",
        "`shadow --version` prints the version; `shadow COMMAND --help` shows a command's "
        "options.\n",
    ]
    for name, command in _commands():
        help_text = inspect.cleandoc(command.help or "")
        parts.append(f"### `shadow {name}`\n\n{help_text}\n")
        rows = _options(command)
        if rows:
            parts.append("| option | meaning | default |\n|---|---|---|")
            parts += [f"| {n} | {h} | {d} |" for n, h, d in rows]
            parts.append("")
    with tempfile.TemporaryDirectory() as temp:
        out = Path(temp) / "run"
        sample = ROOT / "replay_data" / "captures" / "sample-shadow.jsonl"
        replay(ReplayOptions(inputs=[str(sample)], out=out, stages=[10], reports=False))
        parts.append(run_files.format(columns=_columns(out)))
    parts.append(divergences.format(kinds=", ".join(f"`{k}`" for k in KINDS)))
    return "\n".join(parts).rstrip() + "\n"


if __name__ == "__main__":
    DOC.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {DOC.relative_to(ROOT)}\n")
