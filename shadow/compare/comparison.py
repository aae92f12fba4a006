"""Every arm's outcome frame and the divergences of every default pair, from arm results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from shadow.compare.frame import outcome_frame, stream_repeats
from shadow.compare.handover import handover_mask
from shadow.compare.pairs import CompareSettings, PairDivergences, compare_pair
from shadow.prepare import PreparedStream, run_plan
from shadow.simulation import (
    ArmProgress,
    ArmResult,
    ArmSpec,
    RunPlan,
    default_pairs,
    previous_stage,
)


@dataclass(slots=True)
class Comparison:
    """Outcome frames of every arm and the divergences of every pair."""

    frames: dict[str, pd.DataFrame]
    pairs: list[PairDivergences]


def compare_arms(
    results: Sequence[ArmResult],
    prepared: PreparedStream,
    specs: Sequence[ArmSpec],
    settings: CompareSettings,
    flip_at: int | None = None,
    stages: Sequence[int] = (),
    drop_outcomes: bool = False,
) -> Comparison:
    """Build every arm's outcome frame and compare the default pairs.

    With ``drop_outcomes`` each result lets go of its per-seq columns as soon as its frame
    holds them (``ArmResult.drop_outcomes``): a large run never holds both at once.
    """
    stream = prepared.stream
    received = stream.received_at
    repeat_of, repeat_kind = stream_repeats(
        stream, settings.repeat_horizon, repeat_baseline(results)
    )
    frames = {}
    for result in results:
        frames[result.name] = outcome_frame(
            result, stream.contact_id, received, repeat_of, repeat_kind
        )
        if drop_outcomes:
            result.drop_outcomes()
    pairs: list[PairDivergences] = []
    simulated = [spec for spec in specs if spec.name in frames]
    for baseline, candidate in default_pairs(simulated):
        b, c = frames[baseline], frames[candidate]
        effect = None
        extra = None
        spec = next(s for s in specs if s.name == candidate)
        if spec.stage is not None:
            effect = stream.members(spec.stage)
            if flip_at is not None:
                moved = effect ^ stream.members(previous_stage(stages, spec.stage))
                extra = {"handover": handover_mask(c, received, flip_at, moved)}
        pairs.append(compare_pair(b, c, settings, extra=extra, effect=effect))
    return Comparison(frames, pairs)


def repeat_baseline(results: Sequence[ArmResult]) -> np.ndarray | None:
    """Whose replies tell a resend from a repeat after a reply: production's (``recorded``)
    where the capture has outbound lines, else the ``legacy`` arm's, else none."""
    by_name = {result.name: result for result in results}
    for name in ("recorded", "legacy"):
        if name in by_name:
            return np.asarray(by_name[name].first_reply_at, dtype=np.int64)
    return None


def run_and_compare(
    plan: RunPlan,
    prepared: PreparedStream,
    compare_settings: CompareSettings,
    workers: int | None,
    on_progress: ArmProgress | None = None,
) -> tuple[list[ArmResult], Comparison]:
    """Run the plan's simulated arms, add ``recorded`` when present, compare the pairs."""
    results = run_plan(plan, prepared, workers, on_progress)
    comparison = compare_arms(
        results, prepared, plan.arms, compare_settings, plan.flip_at, plan.stages
    )
    return results, comparison
