"""Which arms a replay runs, and running them on a prepared stream."""

from __future__ import annotations

from collections.abc import Sequence

from shadow.prepare.stream import PreparedStream
from shadow.simulation import (
    ArmProgress,
    ArmResult,
    ArmSpec,
    ModelSettings,
    RunPlan,
    WarmArms,
    default_arms,
    parse_arms,
    run_arms,
    run_arms_in_chunks,
)


def resolve_arms(
    names: Sequence[str] | None, stages: Sequence[int], has_outbound: bool
) -> list[ArmSpec]:
    """The arms to run: ``--arms`` as given, else the defaults; ``rollout@P`` per ``--stage``."""
    chosen = list(names) if names else default_arms(stages, has_outbound)
    for stage in stages:
        if f"rollout@{stage}" not in chosen:
            chosen.append(f"rollout@{stage}")
    return parse_arms(chosen)


def plan_for(
    specs: Sequence[ArmSpec],
    models: ModelSettings,
    drain: int,
    gauge_interval: int,
    stages: Sequence[int],
    flip_at: int | None,
    flip_downtime: int | None = None,
) -> RunPlan:
    return RunPlan(
        tuple(specs), models, drain, gauge_interval, tuple(stages), flip_at, flip_downtime
    )


def run_plan(
    plan: RunPlan,
    prepared: PreparedStream,
    workers: int | None,
    on_progress: ArmProgress | None = None,
    chunk_sizes: Sequence[int] | None = None,
    warm: WarmArms | None = None,
) -> list[ArmResult]:
    """Run the plan's simulated arms and add ``recorded`` when present, in plan order.
    ``chunk_sizes``: feed each arm the stream that many seqs at a time (the same results).
    ``warm``: arms kept from an earlier replay of a prefix of this stream, fed only the rest
    (``shadow watch``; the same results)."""
    if warm is not None:
        results = warm.run(plan, prepared.stream)
    elif chunk_sizes is None:
        results = run_arms(plan, prepared.stream, workers, on_progress=on_progress)
    else:
        results = run_arms_in_chunks(plan, prepared.stream, chunk_sizes, workers, on_progress)
    if prepared.recorded is not None and any(s.name == "recorded" for s in plan.arms):
        results.append(prepared.recorded)
    order = {spec.name: index for index, spec in enumerate(plan.arms)}
    results.sort(key=lambda r: order.get(r.name, len(order)))
    return results
