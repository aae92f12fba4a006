"""docs/reference.md names every command and every option the CLI has (it is generated from
the CLI by tools/make_reference.py; this fails when the page is stale)."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from shadow.cli.app import app
from shadow.common import KINDS

DOC = Path(__file__).resolve().parents[2] / "docs" / "reference.md"


def _sections() -> dict[str, str]:
    text = DOC.read_text(encoding="utf-8")
    parts = re.split(r"^### `shadow ([\w ]+)`$", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_command_and_option_is_in_the_reference() -> None:
    sections = _sections()
    group = typer.main.get_command(app)
    commands = {}
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        subcommands = getattr(command, "commands", None)
        if subcommands:
            commands.update({f"{name} {sub}": c for sub, c in subcommands.items()})
        else:
            commands[name] = command
    assert sorted(sections) == sorted(commands), "python tools/make_reference.py"
    for name, command in commands.items():
        for param in command.params:
            for option in [*param.opts, *param.secondary_opts]:
                if param.param_type_name == "option":
                    assert f"`{option}`" in sections[name], f"{name} {option}"
    assert "`shadow --version`" in DOC.read_text(encoding="utf-8")


def test_the_reference_lists_exit_codes_run_files_and_kinds() -> None:
    text = DOC.read_text(encoding="utf-8")
    for code in ("| 0 |", "| 1 |", "| 2 |", "| 3 |", "| 4 |", "| 130 / 143 |"):
        assert code in text
    for name in ("run.json", "outcomes.parquet", "divergences.jsonl", "signatures.json"):
        assert f"`{name}`" in text
    assert all(f"`{kind}`" in text for kind in KINDS)
