"""The README's commands, checked against the CLI itself (docs that cannot go stale)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shadow.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def shown_commands() -> list[list[str]]:
    """Every ``shadow ...`` invocation in the README's code blocks, as argument lists."""
    commands = []
    for block in re.findall(r"```(?:sh|yaml)\n(.*?)```", README, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("#", 1)[0].strip().removeprefix("- run:").strip()
            if "shadow " not in line:
                continue
            words = shlex.split(line[line.index("shadow ") :])
            commands.append(words[1:])
    return commands


def help_text(command: list[str]) -> str:
    result = CliRunner().invoke(
        app, [*command, "--help"], env={"COLUMNS": "200"}, terminal_width=200
    )
    assert result.exit_code == 0, result.output
    return result.output


def subcommand(words: list[str]) -> list[str]:
    return words[:2] if words[0] == "config" else words[:1]


def test_the_readme_shows_every_command() -> None:
    documented = {" ".join(subcommand(words)) for words in shown_commands()}
    commands = {c.name or c.callback.__name__ for c in app.registered_commands if c.callback}
    commands = {name.removesuffix("_command") for name in commands} | {"config show"}
    assert commands <= documented, f"not in the README: {sorted(commands - documented)}"


@pytest.mark.parametrize("words", shown_commands(), ids=lambda w: " ".join(w)[:60])
def test_every_option_the_readme_uses_exists(words: list[str]) -> None:
    command = subcommand(words)
    text = help_text(command)
    for option in (w.split("=", 1)[0] for w in words if w.startswith("--")):
        assert option in text, f"shadow {' '.join(command)} has no {option}"
