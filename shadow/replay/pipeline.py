"""``shadow replay`` as a library call: inputs -> run folder. The CLI only renders the summary.

Guarantees:

1. Every input line is accounted for: read under the bad-line policy, counted in ``run.json``,
   and (``on_error="skip"``) each rejected line written to ``rejected.jsonl`` with its reason.
2. Every file of the run folder but ``timing.json`` is byte-identical for the same inputs,
   configuration and seed, whatever the worker count, ``PYTHONHASHSEED`` or output folder.
3. A run never reads the wall clock except through ``shadow.timing`` for ``timing.json``.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence, Sized
from pathlib import Path
from typing import Any

import pandas as pd

from shadow.common import Stopwatch, UsageError
from shadow.replay.chunks import CHUNK, ChunkLoop, SettledTooEarly
from shadow.replay.inputs import NOTHING_TO_REPLAY, LoadedInputs, ReplayOptions, load_inputs
from shadow.runfolder import write_json
from shadow.simulation import ArmProgress

Progress = Callable[[str], None]


def replay(
    options: ReplayOptions,
    progress: Progress | None = None,
    arm_progress: ArmProgress | None = None,
) -> dict[str, Any]:
    """Run a whole replay into its run folder; returns the ``--json`` summary.

    ``progress`` hears phase notes, ``arm_progress`` each arm's messages and virtual time.
    """
    watch = Stopwatch()
    loaded = load_inputs(options)
    watch.phase("read")
    return replay_loaded(options, loaded, watch, progress, arm_progress)


def replay_records(
    options: ReplayOptions,
    records: Iterable[Any],
    progress: Progress | None = None,
    watch: Stopwatch | None = None,
    profiles: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Replay already-normalized inbound records (the bench's synthetic load), reading them
    once: a generator is never held whole. ``profiles``: a cProfile per phase (the bench's
    ``--profile``)."""
    generated: dict[str, Any] = {"generated": options.inputs[0]}
    if isinstance(records, Sized):
        generated["messages"] = len(records)  # else counted once read (replay_loaded)
    loaded = LoadedInputs(
        inbound=records,
        outbound=[],
        rejected=[],
        inputs=[generated],
        accounting={},
        warnings=[],
        scenario_env=None,
        stem="generated",
    )
    return replay_loaded(options, loaded, watch or Stopwatch(), progress, profiles=profiles)


def replay_loaded(
    options: ReplayOptions,
    loaded: LoadedInputs,
    watch: Stopwatch,
    progress: Progress | None = None,
    arm_progress: ArmProgress | None = None,
    profiles: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Normalize, run every arm, compare and write the run folder a chunk at a time
    (``chunks.ChunkLoop``), then its reports."""
    note = progress or (lambda _message: None)
    if isinstance(loaded.inbound, Sized):
        if not len(loaded.inbound):
            raise UsageError(NOTHING_TO_REPLAY)
        note(f"read {len(loaded.inbound)} messages from {len(loaded.inputs)} input(s)")
    size = options.chunk or CHUNK
    hooks: dict[str, Any] = {
        "watch": watch,
        "progress": note,
        "arm_progress": arm_progress,
        "profiles": profiles,
    }
    try:
        loop = _fed(ChunkLoop(options, loaded, **hooks), loaded.inbound, size)
    except SettledTooEarly:
        if not isinstance(loaded.inbound, Sequence):
            raise  # a generator cannot be read again
        # an arm decided about a seq already written: start over holding every outcome
        note("a decision came after its seq was written: replaying again, holding outcomes")
        shutil.rmtree(options.out or Path("build/shadow") / loaded.stem, ignore_errors=True)
        loop = _fed(ChunkLoop(options, loaded, settle=None, **hooks), loaded.inbound, size)
    try:
        summary = loop.flush()
    finally:
        loop.close()
    if isinstance(loaded.inbound, list):
        del loaded.inbound[:]
    out = Path(summary["run_dir"])
    if options.reports:
        note("rendering reports")
        render_reports(out)
        watch.phase("reports")
    timing = watch.report()
    timing["chunks"] = loop.chunks
    write_json(out / "timing.json", timing)
    return summary


def _fed(loop: ChunkLoop, records: Iterable[Any], size: int) -> ChunkLoop:
    """``loop`` fed ``records`` ``size`` at a time (its workers stopped if that fails)."""
    source = iter(records)
    try:
        while chunk := list(itertools.islice(source, size)):
            loop.feed(chunk)
    except BaseException:
        loop.close()
        raise
    return loop


def render_reports(out: Path) -> None:
    """Write report.md (and report.html when the reports package offers it)."""
    from reports import render_run

    render_run(out)


def scenario_metrics(
    name: str, seed: int = 1, sets: Sequence[str] = ()
) -> dict[str, dict[str, float]]:
    """Generate a scenario, replay every arm its ``expect`` block names, return the metrics.

    ``{arm: {metric: value}}`` with the single-arm metrics of contracts.md; what the tests
    check each built-in scenario's ``expect`` block against.
    """
    import json

    from shadow.compare import arm_metrics
    from shadow.streams import generate_to_file, load_scenario, parse_expectation

    expect = load_scenario(name, sets).expect
    arms = ["legacy", "unified"]
    for arm, checks in expect.items():
        referenced = [parse_expectation(text).arm for text in checks.values()]
        for needed in (arm, *referenced):
            if needed and needed not in arms:
                arms.append(needed)
    with tempfile.TemporaryDirectory(prefix="shadow-expect-") as folder:
        capture = Path(folder) / f"{name}.jsonl"
        generate_to_file(name, capture, seed, sets)
        out = Path(folder) / "run"
        replay(ReplayOptions(inputs=[str(capture)], arms=arms, out=out, reports=False))
        outcomes = pd.read_parquet(out / "outcomes.parquet")
        manifest = json.loads((out / "run.json").read_text(encoding="utf-8"))
    disagreement = manifest["lock_disagreement_s"]
    return {
        arm: arm_metrics(outcomes[outcomes["arm"] == arm], float(disagreement.get(arm, 0.0)))
        for arm in arms
    }
