"""``shadow repro`` through the real command: a few hundred messages shrink to a handful, the
written pytest file passes, two runs write the same bytes, bad input exits 3 with one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cli_support import run_shadow


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """agent-crash over 10 minutes: a few hundred messages, lock stalls and duplicates."""
    folder = tmp_path_factory.mktemp("repro")
    capture = folder / "crash.jsonl"
    made = run_shadow("generate", "agent-crash", "--set", "duration=10m", "-o", str(capture))
    assert made.returncode == 0, made.stderr
    replayed = run_shadow(
        "replay", str(capture), "--out", str(folder / "run"), "--workers", "1",
        "--users", "open",  # reactive users: see test_repro_acceptance
    )  # fmt: skip
    assert replayed.returncode == 0, replayed.stderr
    return folder / "run"


def _top_signature(run_dir: Path) -> str:
    groups = json.loads((run_dir / "signatures.json").read_text(encoding="utf-8"))
    return str(groups[0]["signature"])


def test_repro_shrinks_writes_a_passing_test_and_is_deterministic(
    run_dir: Path, tmp_path: Path
) -> None:
    signature = _top_signature(run_dir)
    first, second = tmp_path / "a", tmp_path / "b"
    made = run_shadow("repro", str(run_dir), signature, "-o", str(first), "--json")
    assert made.returncode == 0, made.stderr
    summary = json.loads(made.stdout)
    assert summary["messages_before"] >= 200
    assert 1 <= summary["messages_after"] <= 5
    assert summary["pair"] == ["legacy", "unified"]
    assert "repro: run 1/500" in made.stderr  # progress on stderr
    names = sorted(p.name for p in first.iterdir())
    assert names == ["report.md", "scenario.yaml", f"test_repro_{signature}.py"]
    again = run_shadow("repro", str(run_dir), signature, "-o", str(second), "--quiet")
    assert again.returncode == 0, again.stderr
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    report = (first / "report.md").read_text(encoding="utf-8")
    assert f"`{signature}`" in report and "## Timelines" in report
    # no capture value: the run's pseudonyms and message ids never reach the output
    for name in names:
        text = (first / name).read_text(encoding="utf-8")
        assert "c000" not in text and "wamid." not in text, name
    tested = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(first / names[2])],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
        timeout=600,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "1 passed" in tested.stdout


def test_the_written_test_fails_when_the_divergence_goes(run_dir: Path, tmp_path: Path) -> None:
    signature = _top_signature(run_dir)
    made = run_shadow("repro", str(run_dir), signature, "-o", str(tmp_path / "r"), "--quiet")
    assert made.returncode == 0, made.stderr
    scenario = tmp_path / "r" / "scenario.yaml"
    # every message from its own contact: the per-contact causes cannot happen any more
    data = yaml.safe_load(scenario.read_text(encoding="utf-8"))
    messages = data["traffic"][0]["messages"]
    for number, message in enumerate(messages, start=1):
        message["contact"] = number
    data["contacts"] = len(messages)
    scenario.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    tested = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
        timeout=600,
    )
    assert tested.returncode == 1, tested.stdout


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["nosuchsig"], "unknown signature 'nosuchsig'"),
        (["SIG", "--pair", "legacy,coordinator"], "is not in that pair"),
        (["SIG", "--pair", "legacy"], "give two arms"),
        (["SIG", "--max-runs", "0"], "give at least 1"),
    ],
)
def test_bad_input_exits_3_with_one_line(run_dir: Path, args: list[str], reason: str) -> None:
    args = [_top_signature(run_dir) if a == "SIG" else a for a in args]
    result = run_shadow("repro", str(run_dir), *args)
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and reason in lines[0], result.stderr


def test_a_signature_that_no_longer_reproduces_exits_3(run_dir: Path, tmp_path: Path) -> None:
    # the run's configuration changed after the run: unified no longer suppresses anything
    changed = tmp_path / "changed"
    subprocess.run(["cp", "-r", str(run_dir), str(changed)], check=True)
    manifest = json.loads((changed / "run.json").read_text(encoding="utf-8"))
    manifest["config"]["unified"]["duplicate_window"] = "0s"
    manifest["config"]["environment"]["agent"]["error_rate"] = 0.0
    (changed / "run.json").write_text(json.dumps(manifest), encoding="utf-8")
    signature = _top_signature(run_dir)
    result = run_shadow("repro", str(changed), signature, "-o", str(tmp_path / "r"), "--quiet")
    assert result.returncode == 3, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not reproduce" in lines[0], result.stderr
    assert not (tmp_path / "r").exists()


def test_an_existing_output_folder_is_refused_before_reading(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    result = run_shadow("repro", str(tmp_path / "no-run"), "abc", "-o", str(tmp_path / "out"))
    assert result.returncode == 3
    assert "exists; pass --force" in result.stderr


def test_explain_suggests_the_repro_of_the_seq_s_signature(run_dir: Path) -> None:
    group = json.loads((run_dir / "signatures.json").read_text(encoding="utf-8"))[0]
    pair = sorted(group["pairs"])[0].replace(" vs ", ",")
    result = run_shadow("explain", str(run_dir), "--seq", str(group["examples"][0]))
    assert result.returncode == 0, result.stderr
    expected = f"smallest repro: shadow repro {run_dir} {group['signature']} --pair {pair}"
    assert expected in result.stdout


def test_an_interrupted_repro_exits_130_and_writes_nothing(run_dir: Path, tmp_path: Path) -> None:
    import os
    import signal

    out = tmp_path / "r"
    command = ["repro", str(run_dir), _top_signature(run_dir), "-o", str(out)]
    process = subprocess.Popen(
        [sys.executable, "-m", "shadow.cli", *command],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "SHADOW_REDACT_KEY"},
    )
    assert process.stderr is not None
    for line in process.stderr:  # interrupt once the reduction is under way
        if line.startswith("repro: run 1/"):
            break
    process.send_signal(signal.SIGINT)
    process.stderr.read()
    assert process.wait(timeout=600) == 130
    assert not out.exists()


def test_force_never_replaces_a_folder_that_is_not_a_repro(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine", encoding="utf-8")
    result = run_shadow(
        "repro", str(tmp_path / "no-run"), "abc", "-o", str(tmp_path / "out"), "--force"
    )
    assert result.returncode == 3
    assert "is not a repro folder" in result.stderr
    assert (tmp_path / "out" / "keep.txt").exists()
