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
from shadow.prepare import plan_for, prepare_stream, run_plan, translate_script
from shadow.replay import (
    ReplayOptions,
    cohorts_for,
    compare_settings,
    effective_config,
    load_inputs,
)
from shadow.simulation import ModelSettings, parse_arms


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
    options = ReplayOptions(inputs=[f"scenario:{path}"], arms=list(pair), stages=list(stages))
    loaded = load_inputs(options)
    config = effective_config(options, loaded.scenario_env)
    cohorts = cohorts_for(config, stages)
    environment = config.environment_settings()
    prepared = prepare_stream(
        loaded.inbound,
        loaded.outbound,
        cohorts,
        False,
        environment.sender.latency.draw(0.5),
        named_messages=config.model.environment.agent.script,
    )
    environment = translate_script(environment, prepared.message_names)
    models = ModelSettings(config.legacy_settings(), config.unified_settings(), environment)
    specs = parse_arms(list(pair))
    plan = plan_for(
        specs,
        models,
        config.run.drain,
        config.run.gauge_interval,
        list(stages),
        flip_at,
        config.flip_downtime(),
    )
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
