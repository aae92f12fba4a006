"""The streaming replay (``shadow.replay.chunks``) writes exactly the files of a whole-capture
run, however the capture is cut into chunks (issue 20).

Every built-in scenario and every bundled sample capture is replayed whole (arms in this
process) and in chunks of 1,000, 7 (arms in two worker processes) and 1 record(s), outcomes
being compared and written every 7 final seqs (so the windows, the order horizon and the
take-out of settled seqs are all exercised). Chunks of 7
and 1 run on shortened scenarios (their ``duration`` cut), which keeps the test's time
bounded; the samples run whole at every size.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from pathlib import Path

import pytest

from shadow.replay import chunks
from shadow.replay.chunks import ChunkLoop
from shadow.replay.inputs import ReplayOptions, load_inputs
from shadow.replay.pipeline import replay
from shadow.streams.generate import generate_to_file
from shadow.streams.scenarios import list_scenarios

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted((ROOT / "replay_data" / "captures").glob("*.jsonl"))
SCENARIOS = [name for name, _ in list_scenarios()]
#: chunk size -> scenario overrides (None: the whole capture in one chunk)
SIZES: dict[int | None, list[str]] = {
    None: [],
    1000: [],
    7: ["duration=15m"],
    1: ["duration=4m"],
}
#: the arms run in two worker processes fed chunk by chunk, but for chunks of one record
WORKERS = {1000: 2, 7: 2, 1: 1}
#: the loop's own tests: reactive users' outcomes are held to the end (ChunkLoop guarantee 3)
OPEN_USERS = ["environment.users=open"]
LONG = {"memory-soak": ["duration=2h"]}  # as tests/integration/test_builtin_scenarios.py


def run_files(out: Path) -> dict[str, str]:
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(out.iterdir())
        if path.name != "timing.json"
    }


def replayed(
    capture: Path, out: Path, chunk: int | None, workers: int = 1, sets: list[str] | None = None
) -> tuple[dict[str, str], int]:
    options = ReplayOptions(
        inputs=[str(capture)],
        out=out,
        reports=False,
        workers=workers,
        chunk=chunk,
        sets=sets or [],
    )
    replay(options)
    timing = json.loads((out / "timing.json").read_text(encoding="utf-8"))
    return run_files(out), int(timing["chunks"])


def scenario_capture(folder: Path, name: str, sets: list[str]) -> Path:
    capture = folder / f"{name}-{len(sets)}{'-'.join(sets)}.jsonl"
    if not capture.exists():
        generate_to_file(name, capture, 1, sets or LONG.get(name, []))
    return capture


@pytest.fixture(autouse=True)
def small_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chunks, "EMIT", 7)


def messages_in(capture: Path) -> int:
    options = ReplayOptions(inputs=[str(capture)])
    return len(list(load_inputs(options).inbound))


@pytest.mark.parametrize("size", [1000, 7, 1])
@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_in_chunks_writes_the_whole_run_files(
    name: str, size: int, tmp_path: Path
) -> None:
    capture = scenario_capture(tmp_path, name, SIZES[size])
    whole, one = replayed(capture, tmp_path / "whole", None)
    assert one == 1
    chunked, count = replayed(capture, tmp_path / "chunked", size, WORKERS[size])
    assert count == math.ceil(messages_in(capture) / size)
    assert chunked == whole


@pytest.mark.parametrize("size", [1000, 7, 1])
@pytest.mark.parametrize("sample", SAMPLES, ids=[p.name for p in SAMPLES])
def test_sample_in_chunks_writes_the_whole_run_files(
    sample: Path, size: int, tmp_path: Path
) -> None:
    whole, _ = replayed(sample, tmp_path / "whole", None)
    chunked, count = replayed(sample, tmp_path / "chunked", size, WORKERS[size])
    assert count == math.ceil(messages_in(sample) / size)
    assert chunked == whole


@pytest.mark.parametrize("name", ["load-100-per-min", "restart-mid-traffic", "webhook-redelivery"])
def test_outcomes_are_written_while_chunks_still_come(name: str, tmp_path: Path) -> None:
    """Most seqs are compared and written before the run ends (not all held to the end)."""
    capture = scenario_capture(tmp_path, name, ["duration=15m"])
    options = ReplayOptions(
        inputs=[str(capture)], out=tmp_path / "run", reports=False, sets=OPEN_USERS
    )
    loaded = load_inputs(options)
    batches: list[int] = []
    loop = ChunkLoop(options, loaded, on_final=lambda frames: batches.append(len(frames["legacy"])))
    records = iter(list(loaded.inbound))
    written = [loop.feed(chunk) for chunk in iter(lambda: list(itertools.islice(records, 50)), [])]
    assert written == sorted(written)
    assert written[-1] > loop.fed // 2
    loop.flush()
    assert sum(batches) == loop.fed and len(batches) > 2


def test_a_resumed_loop_writes_the_same_files(tmp_path: Path) -> None:
    capture = scenario_capture(tmp_path, "restart-mid-traffic", ["duration=15m"])
    whole, _ = replayed(capture, tmp_path / "whole", None, sets=OPEN_USERS)
    options = ReplayOptions(
        inputs=[str(capture)], out=tmp_path / "run", reports=False, sets=OPEN_USERS
    )
    loaded = load_inputs(options)
    records = list(loaded.inbound)
    loop = ChunkLoop(options, loaded)
    for start in range(0, len(records) // 2, 40):
        loop.feed(records[start : start + 40])
    checkpoint = loop.checkpoint()
    import pickle

    restored = pickle.loads(pickle.dumps(checkpoint))
    assert restored.records == len(records) // 2 + (-(len(records) // 2) % 40)
    resumed = ChunkLoop.resume(restored, load_inputs(options), records)
    resumed.feed(records[restored.records :])
    resumed.flush()
    assert run_files(tmp_path / "run") == whole


def test_a_decision_after_the_outcome_was_taken_replays_holding_outcomes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A settle too short for the arms costs a second run, never a wrong file."""
    capture = scenario_capture(tmp_path, "agent-crash", ["duration=15m"])
    whole, _ = replayed(capture, tmp_path / "whole", None, sets=OPEN_USERS)
    original = ChunkLoop.__init__
    settles: list[int | None] = []

    def hasty(self: ChunkLoop, *args: object, **kwargs: object) -> None:
        kwargs["settle"] = kwargs.get("settle", 0)
        settles.append(kwargs["settle"])  # type: ignore[arg-type]
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ChunkLoop, "__init__", hasty)
    chunked, _ = replayed(capture, tmp_path / "chunked", 7, sets=OPEN_USERS)
    assert settles == [0, None]
    assert chunked == whole


def test_bench_profile_writes_a_profile_of_each_phase(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from shadow.cli.app import app

    folder = tmp_path / "profile"
    arguments = ["bench", "--messages", "300", "--contacts", "20", "--workers", "1"]
    result = CliRunner().invoke(app, [*arguments, "--profile", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["chunks"] == 1 and document["peak_rss_parent_mb"] > 0
    for phase in ("normalize", "simulate", "compare", "write"):
        assert (folder / f"{phase}.prof").stat().st_size > 0
        assert "cumulative" in (folder / f"{phase}.txt").read_text(encoding="utf-8")
    assert "legacy_models" in (folder / "simulate.txt").read_text(encoding="utf-8")


def every_file(out: Path) -> dict[str, str]:
    """The sha256 of every file under ``out`` (readings' folders too), but timing.json."""
    return {
        str(path.relative_to(out)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(out.rglob("*"))
        if path.is_file() and path.name != "timing.json"
    }


#: stages with their open readings replayed (compared whole, arms fed in chunks), and a
#: restart-mode flip with open users (streamed, outcomes held: ChunkLoop guarantee 3)
STAGED = {
    "readings": {
        "stages": [10, 50],
        "sets": ["run.readings=[unified.late_result,coordinator.hash_text]"],
    },
    "flip": {
        "stages": [10, 50],
        "flip_at": 300_000_000,
        "sets": ["run.readings=none", "environment.users=open"],
    },
}


@pytest.mark.parametrize("size", [7, 1000])
@pytest.mark.parametrize("case", sorted(STAGED))
def test_stages_readings_and_flip_in_chunks_write_the_whole_run_files(
    case: str, size: int, tmp_path: Path
) -> None:
    capture = scenario_capture(tmp_path, "restart-mid-traffic", ["duration=15m"])
    found = {}
    for label, chunk in (("whole", None), ("chunked", size)):
        out = tmp_path / label
        options = ReplayOptions(
            inputs=[str(capture)],
            out=out,
            reports=False,
            workers=2,
            chunk=chunk,
            **STAGED[case],  # type: ignore[arg-type]
        )
        replay(options)
        found[label] = every_file(out)
        timing = json.loads((out / "timing.json").read_text(encoding="utf-8"))
        expected = 1 if chunk is None else math.ceil(messages_in(capture) / chunk)
        assert timing["chunks"] == expected
    if case == "readings":
        assert any(name.startswith("readings/") for name in found["whole"])
    assert found["chunked"] == found["whole"]
