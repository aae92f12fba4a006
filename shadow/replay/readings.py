"""The open readings replayed: each alternative's stage arms run again, compared and written
under ``readings/KEY=VALUE/`` so that ``shadow gate`` judges them from the run folder alone.

Guarantees:

1. Readings are varied one at a time around the run's configuration (``shadow.config``'s
   ``READINGS``, chosen by ``run.readings``); only with ``--stage``.
2. Only the arms a stage's gate reads run again: every ``rollout@P``, and ``legacy`` once per
   alternative only when the alternative changes the legacy models. An alternative that changes
   no model is recorded as such and runs nothing. A stage's arm runs over the whole stream,
   not only its cohort's contacts (cheaper, but not exact): contacts
   interact through global limits (concurrency slots, lock tables, capped caches, the flip's
   restart), a variant may reach one the main run did not, and no stored row could check a
   narrowed variant as ``shadow explain`` checks its narrowed re-runs. Exact over fast.
3. The variant is graded by the main run's repeat classes (what the users lived does not depend
   on a reading), and its files are as deterministic as the main run's; ``run.json`` lists
   their sha256.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from shadow.compare import Comparison, compare_variant, divergence_texts
from shadow.config import (
    READINGS,
    EffectiveConfig,
    alternatives,
    selected_readings,
    set_argument,
    value_label,
)
from shadow.prepare import PreparedStream, plan_for, run_plan, translate_script
from shadow.replay.inputs import LoadedInputs, ReplayOptions, compare_settings, effective_config
from shadow.runfolder import sha256_file, write_lines, write_parquet
from shadow.simulation import ModelSettings, RunPlan, WarmArms, parse_arms

READINGS_FOLDER = "readings"


def replay_readings(
    out: Path,
    options: ReplayOptions,
    loaded: LoadedInputs,
    config: EffectiveConfig,
    prepared: PreparedStream,
    plan: RunPlan,
    main: Comparison,
    chunk_sizes: Sequence[int] | None = None,
    warm: WarmArms | None = None,
) -> dict[str, Any] | None:
    """Run, compare and write every selected reading's alternatives; ``run.json["readings"]``
    (None without stages). ``chunk_sizes``: the arms are fed the stream that many seqs at a
    time, as the main run's were; ``warm``: arms kept from the last replay of a prefix
    (``shadow watch``). Either way, the same results."""
    stages = list(plan.stages)
    if not stages:
        return None
    flat = config.flat()
    chosen = selected_readings(flat["run.readings"])
    evaluated: list[dict[str, Any]] = []
    for reading in chosen:
        for value in alternatives(reading, flat):
            variant = effective_config(
                options, loaded.scenario_env, [set_argument(reading.key, value)]
            )
            label = value_label(value)
            record: dict[str, Any] = {
                "tag": reading.tag,
                "key": reading.key,
                "in_force": flat.get(reading.key),
                "value": value,
                "label": label,
            }
            legacy_changed = variant.legacy_settings() != config.legacy_settings()
            if not legacy_changed and variant.unified_settings() == config.unified_settings():
                record["arms"] = []
                evaluated.append(record)
                continue
            names = ["legacy"] if legacy_changed and "legacy" in main.frames else []
            names += [f"rollout@{stage}" for stage in stages]
            folder = f"{READINGS_FOLDER}/{reading.key}={label}"
            record["arms"] = names
            record["folder"] = folder
            record["files"] = _run_variant(
                out / folder,
                variant,
                names,
                options,
                prepared,
                plan,
                main,
                config,
                chunk_sizes,
                warm,
            )
            evaluated.append(record)
    return readings_record(config, evaluated)


def readings_record(
    config: EffectiveConfig, evaluated: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    """``run.json["readings"]`` of a staged run given what was evaluated (nothing when
    ``run.readings`` selects none: what a streaming run, which replays none, writes)."""
    setting = config.flat()["run.readings"]
    chosen = selected_readings(setting)
    return {
        "setting": setting,
        "evaluated": list(evaluated),
        "not_evaluated": [r.key for r in READINGS if r not in chosen],
    }


def _run_variant(
    folder: Path,
    variant: EffectiveConfig,
    names: Sequence[str],
    options: ReplayOptions,
    prepared: PreparedStream,
    plan: RunPlan,
    main: Comparison,
    config: EffectiveConfig,
    chunk_sizes: Sequence[int] | None,
    warm: WarmArms | None,
) -> dict[str, str]:
    environment = translate_script(config.environment_settings(), prepared.message_names)
    models = ModelSettings(variant.legacy_settings(), variant.unified_settings(), environment)
    specs = parse_arms(list(names))
    variant_plan = plan_for(
        specs,
        models,
        plan.drain,
        plan.gauge_interval,
        plan.stages,
        plan.flip_at,
        plan.flip_downtime,
    )
    results = run_plan(variant_plan, prepared, options.workers, chunk_sizes=chunk_sizes, warm=warm)
    comparison = compare_variant(
        results,
        prepared,
        plan.arms,
        compare_settings(config),
        main,
        plan.flip_at,
        plan.stages,
    )
    folder.mkdir(parents=True)
    table = pa.concat_tables(
        [pa.Table.from_pandas(comparison.frames[name], preserve_index=False) for name in names]
    )
    write_parquet(folder / "outcomes.parquet", table)
    frames = {**main.frames, **comparison.frames}

    def lines() -> Any:
        for pair in comparison.pairs:
            yield from divergence_texts(pair, frames[pair.baseline], frames[pair.candidate])

    write_lines(folder / "divergences.jsonl", lines())
    return {
        "outcomes": sha256_file(folder / "outcomes.parquet"),
        "divergences": sha256_file(folder / "divergences.jsonl"),
    }
