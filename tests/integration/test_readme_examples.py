"""README's ``shadow`` examples run as written, in README order, from a fresh directory.

The examples that need only the demo run (``make demo``'s ``build/shadow/demo``), the bundled
samples, the built-in scenarios and files earlier examples wrote are run; the ones about the
reader's own files (``capture.jsonl``, ``team.yaml``) and the benches are skipped, and every
skipped line is named by the reason. Each must exit 0 (the gate: 0, 1 or 2); an ``explain
--seq N`` of the demo must name a seq that diverged in the demo.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

from cli_support import ROOT, run_shadow

README = ROOT / "README.md"
DEMO_CAPTURE = "replay_data/captures/sample-cloud-api.jsonl"
OUTPUT_OPTIONS = {"-o", "--output", "--out", "--html", "--md", "--junit", "--summary"}


def _examples() -> list[list[str]]:
    """Every ``shadow ...`` command of README's sh blocks, continuation lines joined."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), re.S):
        text = re.sub(r"\\\n\s*", " ", block)
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("shadow "):
                commands.append(shlex.split(line, comments=True)[1:])
    return commands


def _needs_missing_input(arguments: list[str], cwd: Path) -> str | None:
    """The first input the example names that this fresh directory does not hold."""
    previous = ""
    for argument in arguments:
        is_input = (
            not argument.startswith("-")
            and previous not in OUTPUT_OPTIONS
            and ("/" in argument or re.search(r"\.(jsonl|yaml|csv|json)$", argument))
        )
        if is_input and not (cwd / argument).exists() and not (ROOT / argument).exists():
            return argument
        previous = argument
    return None


def test_readme_examples_run_and_exit_as_documented(tmp_path: Path) -> None:
    demo = run_shadow(
        "replay", str(ROOT / DEMO_CAPTURE), "--out", "build/shadow/demo", cwd=tmp_path
    )
    assert demo.returncode == 0, demo.stderr
    diverged = {
        json.loads(line)["seq"]
        for line in (tmp_path / "build/shadow/demo/divergences.jsonl").read_text().splitlines()
    }
    shutil.copytree(ROOT / "replay_data", tmp_path / "replay_data")
    ran, skipped = [], []
    for arguments in _examples():
        if arguments[0] == "bench":
            skipped.append((arguments, "bench"))
            continue
        missing = _needs_missing_input(arguments, tmp_path)
        if missing:
            skipped.append((arguments, missing))
            continue
        done = run_shadow(*arguments, cwd=tmp_path, env={"COLUMNS": "80"})
        allowed = (0, 1, 2) if arguments[0] == "gate" else (0,)
        assert done.returncode in allowed, f"shadow {shlex.join(arguments)}: {done.stderr}"
        if arguments[0] == "explain" and "build/shadow/demo" in arguments:
            seq = int(arguments[arguments.index("--seq") + 1])
            assert seq in diverged, f"seq {seq} did not diverge in the demo"
        ran.append(arguments)
    ran_commands = {arguments[0] for arguments in ran}
    # the quick start's explain, a scenario replay, generate, sweep and config all ran
    assert {"explain", "replay", "generate", "scenarios", "sweep", "config"} <= ran_commands
    assert all(reason != "legit.jsonl" for _, reason in skipped)  # generated, then replayed
