"""README's ``shadow`` examples run as written, in README order, from a fresh directory.

The examples that need only the demo run (``make demo``'s ``build/shadow/demo``), the bundled
samples, the built-in scenarios and files earlier examples wrote are run; the ones about the
reader's own files (``capture.jsonl``, ``team.yaml``) and the benches are skipped, and every
skipped line is named by the reason. Each must exit 0 (the gate: 0, 1 or 2); an ``explain
--seq N`` of the demo must name a seq that diverged in the demo.

The commands run as written against a copy of ``replay_data`` (the fresh directory's, first on
the subprocess's path) whose longest scenarios are shortened (``SHORTEN``): whether a command
runs and how it exits does not depend on a scenario's length, and the README's 90-replay sweep
of the 2 h ``duplicate-window-question`` alone would take minutes.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from cli_support import ROOT, run_shadow

README = ROOT / "README.md"
DEMO_CAPTURE = "replay_data/captures/sample-cloud-api.jsonl"
OUTPUT_OPTIONS = {"-o", "--output", "--out", "--html", "--md", "--junit", "--summary"}
#: scenario -> the duration its copy is given (load-100-per-min keeps the README's --flip-at 1h
#: inside the run)
SHORTEN = {
    "memory-soak": "1h",
    "duplicate-window-question": "10m",
    "load-100-per-min": "70m",
    "impatient-duplicates": "20m",
}


def _shorten_scenarios(replay_data: Path) -> None:
    for name, duration in SHORTEN.items():
        path = replay_data / "scenarios" / f"{name}.yaml"
        text = path.read_text(encoding="utf-8")
        shortened = re.sub(r"(?m)^duration: .*$", f"duration: {duration}", text)
        assert shortened.count(f"\nduration: {duration}\n") == 1, name
        path.write_text(shortened, encoding="utf-8")


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
    _shorten_scenarios(tmp_path / "replay_data")
    # the subprocesses (python -m, so the working directory comes first) read the copy
    found = subprocess.run(
        [sys.executable, "-c", "import replay_data; print(replay_data.__file__)"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert Path(found.stdout.strip()).parent == tmp_path / "replay_data", found.stdout
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
