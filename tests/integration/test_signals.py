"""SIGINT and SIGTERM stop every batch command cleanly: a real subprocess, a real signal.

Each command runs with one function made to block (``signal_target.py``) at a point where its
temporary output exists; the test waits for that point (a file, not a timer), signals, and
checks: exit 130 / 143, one "interrupted" line, no traceback, no half-written output left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_support import ROOT, run_shadow

TARGET = Path(__file__).with_name("signal_target.py")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A capture and a run folder with stage 10, made once."""
    folder = tmp_path_factory.mktemp("signals")
    (folder / "tmp").mkdir()
    assert (
        run_shadow("generate", "conflict-2-oi", "--output", "c.jsonl", cwd=folder).returncode == 0
    )
    done = run_shadow("replay", "c.jsonl", "--stage", "10", "--out", "run", cwd=folder)
    assert done.returncode == 0, done.stderr
    return folder


def _interrupt(
    folder: Path, target: str, call: int, signum: int, *arguments: str
) -> subprocess.CompletedProcess[str]:
    ready = folder / "ready"
    ready.unlink(missing_ok=True)
    env = {**os.environ, "SHADOW_REDACT_KEY": "k" * 32, "TMPDIR": str(folder / "tmp")}
    process = subprocess.Popen(
        [sys.executable, str(TARGET), str(ready), target, str(call), "--", *arguments],
        cwd=folder,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    while not ready.exists():  # bounded by the process: it either blocks or exits
        if process.poll() is not None:
            stdout, stderr = process.communicate()
            pytest.fail(f"exited {process.returncode} before blocking: {stderr}")
        time.sleep(0.05)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=120)
    ready.unlink()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def _leftovers(folder: Path) -> list[str]:
    found = [p.name for p in folder.rglob("*") if ".partial" in p.name or ".old" in p.name]
    return found + [p.name for p in (folder / "tmp").iterdir()]


CASES = {
    "replay": ("shadow.replay.pipeline:write_run", 1, ["replay", "c.jsonl", "--out", "new"]),
    "replay-workers": (
        "shadow.simulation.runner:_relay",
        1,
        ["replay", "c.jsonl", "--out", "new", "--workers", "2"],
    ),
    "gate": ("shadow.gate:evaluate", 1, ["gate", "run", "--stage", "10"]),
    "report": ("reports.html:render_html", 1, ["report", "run"]),
    "sweep": (
        "shadow.sweep.run:_run_shared",
        1,
        [
            "sweep",
            "c.jsonl",
            "--vary",
            "unified.duplicate_window=3s,5s",
            "--seeds",
            "1",
            "--workers",
            "1",
            "--out",
            "new",
        ],
    ),
    "bench": (
        "shadow.replay.pipeline:write_run",
        1,
        ["bench", "--messages", "200", "--contacts", "20", "--workers", "1"],
    ),
    "bench-streaming": (
        "shadow.replay.chunks:write_manifest",
        1,
        ["bench", "--messages", "200", "--contacts", "20", "--workers", "1", "--chunk", "50"],
    ),
    "generate": ("json:dumps", 2, ["generate", "conflict-2-oi", "--output", "new.jsonl"]),
    "redact": (
        "shadow.streams.redact:redacted_lines",
        1,
        ["redact", "c.jsonl", "--output", "new.jsonl"],
    ),
}


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_signal_stops_cleanly(workdir: Path, case: str, signum: int) -> None:
    target, call, arguments = CASES[case]
    before = sorted(p.name for p in workdir.iterdir())
    done = _interrupt(workdir, target, call, signum, *arguments)
    assert done.returncode == 128 + signum, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "interrupted"
    assert "Traceback" not in done.stderr
    assert _leftovers(workdir) == []
    assert sorted(p.name for p in workdir.iterdir()) == before
    assert not (workdir / "run" / "gate-10.json").exists() or case != "gate"
