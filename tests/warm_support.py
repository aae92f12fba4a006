"""Warm arms (``shadow.simulation.WarmArms``) over growing prefixes of a stream, against whole
runs of each prefix. Imported by tests/unit/test_warm_arms.py; run as a script by the
compiled-build test (``python warm_support.py SOURCE [STAGE ...]``), which compares what the
two builds print."""

from __future__ import annotations

import hashlib
import pickle
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from shadow.replay import ReplayOptions, effective_config, load_inputs, prepare_run
from shadow.simulation import RunPlan, Stream, WarmArms, run_arms, stream_slice


def plan_and_stream(source: str, stages: Sequence[int] = ()) -> tuple[RunPlan, Stream]:
    """The default arms' plan and the prepared stream of a capture or ``scenario:NAME``."""
    options = ReplayOptions(inputs=[source], stages=list(stages))
    loaded = load_inputs(options)
    run = prepare_run(options, loaded, effective_config(options, loaded.scenario_env))
    return run.plan, run.prepared.stream


def fingerprint(results: Sequence[Any]) -> str:
    """One digest of a list of ``ArmResult`` (every column, gauge and counter; the reactive
    users' sending times in seq order, as every reader takes them)."""
    ordered = [replace(r, sent_at=dict(sorted(r.sent_at.items()))) for r in results]
    return hashlib.sha256(pickle.dumps(ordered, protocol=5)).hexdigest()


def warm_and_whole(
    plan: RunPlan, stream: Stream, cuts: Sequence[int], saved: Path | None = None
) -> list[tuple[str, str, tuple[int, int]]]:
    """For each cut (ascending, the last one the whole stream): the fingerprint of the warm
    arms' results over the prefix, of ``run_arms`` over it, and the warm cycle's counts
    (simulated, re-simulated). With ``saved``, the arms go through ``save`` / ``load``
    between cycles, as a restarted watch's do."""
    warm = WarmArms()
    rows = []
    for cut in cuts:
        prefix = stream_slice(stream, 0, cut)
        if saved is not None:
            warm.save(saved)
            warm = WarmArms.load(saved)
        got = fingerprint(warm.run(plan, prefix))
        rows.append((got, fingerprint(run_arms(plan, prefix, workers=1)), warm.end_cycle()))
    return rows


if __name__ == "__main__":
    plan, stream = plan_and_stream(sys.argv[1], [int(s) for s in sys.argv[2:]])
    size = len(stream)
    with tempfile.TemporaryDirectory() as folder:
        rows = warm_and_whole(plan, stream, [size // 3, size // 2, size], Path(folder) / "arms")
    for warm_print, whole_print, counts in rows:
        print(warm_print == whole_print, whole_print, *counts)
