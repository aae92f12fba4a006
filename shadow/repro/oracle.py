"""Does a scenario still show the divergence? Replays it the way ``shadow replay`` does.

Guarantees:

1. ``replay_scenario`` runs a scenario file through the same steps as ``shadow replay
   scenario:FILE --arms BASELINE,CANDIDATE`` (generate, read, configure, pseudonymize, run,
   compare) without writing a run folder, so a verdict here is the verdict of the command;
   ``shadow repro`` still checks its output through the real command before it writes.
2. Arms run in this process, one after the other: a verdict never depends on workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from shadow.compare import compare_arms
from shadow.prepare import run_plan
from shadow.replay import (
    ReplayOptions,
    compare_settings,
    effective_config,
    load_inputs,
    prepare_run,
)


@dataclass(frozen=True, slots=True)
class Found:
    """One divergence of the pair: the seq in the scenario's stream and what it is."""

    seq: int
    signature: str
    kinds: tuple[str, ...]
    severity: str


def replay_scenario(
    path: Path, pair: tuple[str, str], stages: Sequence[int], flip_at: int | None
) -> list[Found]:
    """Every divergence of ``pair`` when replaying the scenario file (guarantee 1)."""
    options = ReplayOptions(
        inputs=[f"scenario:{path}"], arms=list(pair), stages=list(stages), flip_at=flip_at
    )
    loaded = load_inputs(options)
    config = effective_config(options, loaded.scenario_env)
    run = prepare_run(options, loaded, config)
    prepared, plan = run.prepared, run.plan
    results = run_plan(plan, prepared, 1)
    comparison = compare_arms(
        results, prepared, plan.arms, compare_settings(config), plan.flip_at, plan.stages
    )
    found: list[Found] = []
    for divergences in comparison.pairs:
        if (divergences.baseline, divergences.candidate) != pair:
            continue
        for index, seq in enumerate(divergences.seqs.tolist()):
            found.append(
                Found(
                    int(seq),
                    divergences.signature[index],
                    tuple(divergences.kinds[index]),
                    divergences.severity[index],
                )
            )
    return found
