"""Small operator promises, each through the real command: --version, help without ``<bool>``,
--workers >= 1, --flip-at needs --stage, unwritable outputs exit 3 with one line, and a
skipped bad line is reported."""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

import pytest
from cli_support import SAMPLE, run_shadow

COMMANDS = [
    ["validate"],
    ["redact"],
    ["scenarios"],
    ["generate"],
    ["replay"],
    ["explain"],
    ["report"],
    ["bench"],
    ["rollout"],
    ["gate"],
    ["sweep"],
    ["config", "show"],
]


def test_version_prints_the_installed_version() -> None:
    result = run_shadow("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"shadow {version('coordinator-shadow')}"


@pytest.mark.parametrize("command", [[], *COMMANDS], ids=lambda c: " ".join(c) or "shadow")
def test_help_shows_no_bool_type_on_flags(command: list[str]) -> None:
    result = run_shadow(*command, "--help", env={"COLUMNS": "100"})
    assert result.returncode == 0, result.stderr
    assert "--help" in result.stdout and "<bool>" not in result.stdout


@pytest.mark.parametrize("workers", ["0", "-1"])
@pytest.mark.parametrize(
    "command",
    [
        ["replay", str(SAMPLE), "--out", "r"],
        ["bench", "--messages", "10", "--contacts", "2"],
        ["sweep", str(SAMPLE), "--vary", "unified.duplicate_window=3s", "--seeds", "1"],
    ],
    ids=["replay", "bench", "sweep"],
)
def test_workers_must_be_at_least_one(tmp_path: Path, command: list[str], workers: str) -> None:
    result = run_shadow(*command, "--workers", workers, cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    assert "--workers" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_flip_at_needs_a_stage(tmp_path: Path) -> None:
    result = run_shadow("replay", str(SAMPLE), "--flip-at", "30m", "--out", "r", cwd=tmp_path)
    assert result.returncode == 3
    assert "--flip-at" in result.stderr and "--stage" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("robust")
    done = run_shadow("replay", str(SAMPLE), "--stage", "10", "--out", "run", cwd=folder)
    assert done.returncode == 0, done.stderr
    return folder


@pytest.mark.parametrize(
    "command",
    [
        ["generate", "conflict-2-oi", "--output", "/dev/null/x.jsonl"],
        ["redact", str(SAMPLE), "--output", "/dev/null/x.jsonl"],
        ["report", "run", "--md", "/dev/null/x.md"],
        ["gate", "run", "--stage", "10", "--junit", "/dev/null/x.xml"],
        ["replay", str(SAMPLE), "--out", "/dev/null/x"],
        ["sweep", str(SAMPLE), "--vary", "unified.duplicate_window=3s", "--out", "/dev/null/x"],
    ],
    ids=["generate", "redact", "report", "gate", "replay", "sweep"],
)
def test_an_unwritable_output_exits_3_with_one_line(run_dir: Path, command: list[str]) -> None:
    result = run_shadow(*command, cwd=run_dir, env={"SHADOW_REDACT_KEY": "k" * 32})
    assert result.returncode == 3, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "/dev/null" in result.stderr and "Traceback" not in result.stderr
    assert not (run_dir / "crash.txt").exists()


def test_skipped_bad_lines_are_reported(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    lines = SAMPLE.read_text().splitlines()[:40]
    lines.insert(10, "{not json")
    lines.insert(20, "{not json either")
    broken.write_text("\n".join(lines) + "\n")
    result = run_shadow("replay", "broken.jsonl", "--on-error", "skip", "--out", "s", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "skipped 2 bad lines (see s/rejected.jsonl)" in result.stderr
    clean = run_shadow("replay", str(SAMPLE), "--out", "c", cwd=tmp_path)
    assert "skipped" not in clean.stderr


def test_previous_is_looked_up_in_the_run_folder(tmp_path: Path) -> None:
    done = run_shadow(
        "replay", str(SAMPLE), "--stage", "10", "--stage", "50", "--out", "run", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert run_shadow("gate", "run", "--stage", "10", cwd=tmp_path).returncode in (0, 1, 2)
    later = run_shadow(
        "gate", "run", "--stage", "50", "--previous", "gate-10.json", "--json", cwd=tmp_path
    )
    assert later.returncode in (0, 1, 2), later.stderr
    check = next(c for c in json.loads(later.stdout)["checks"] if c["name"] == "flag fingerprint")
    assert "same fingerprint as stage 10" in check["reason"]
    missing = run_shadow("gate", "run", "--stage", "50", "--previous", "gate-20.json", cwd=tmp_path)
    assert missing.returncode == 3 and "gate-20.json" in missing.stderr
