"""``shadow replay`` as a library call: inputs -> run folder. The CLI only renders the summary.

Guarantees:

1. Every input line is accounted for: read under the bad-line policy, counted in ``run.json``,
   and (``on_error="skip"``) each rejected line written to ``rejected.jsonl`` with its reason.
2. Every file of the run folder but ``timing.json`` is byte-identical for the same inputs,
   configuration and seed, whatever the worker count, ``PYTHONHASHSEED`` or output folder.
3. A run never reads the wall clock except through ``shadow.timing`` for ``timing.json``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Sequence, Sized
from pathlib import Path
from typing import Any

import pandas as pd

from shadow.common import Stopwatch, UsageError
from shadow.compare import compare_arms
from shadow.config import EffectiveConfig
from shadow.prepare import (
    plan_for,
    prepare_stream,
    resolve_arms,
    run_plan,
    translate_script,
    translate_texts,
)
from shadow.replay.inputs import (
    NOTHING_TO_REPLAY,
    LoadedInputs,
    ReplayOptions,
    check_options,
    cohorts_for,
    compare_settings,
    effective_config,
    input_stem,
    load_inputs,
)
from shadow.replay.manifest import write_run, write_stream
from shadow.replay.readings import replay_readings
from shadow.runfolder import staged_folder, write_json
from shadow.simulation import ArmProgress, ModelSettings, release_free_memory

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
    check_options(options, default_out(input_stem(options.inputs)))
    loaded = load_inputs(options)
    watch.phase("read")
    return replay_loaded(options, loaded, watch, progress, arm_progress)


def replay_records(
    options: ReplayOptions,
    records: Iterable[Any],
    progress: Progress | None = None,
    watch: Stopwatch | None = None,
) -> dict[str, Any]:
    """Replay already-normalized inbound records (the bench's synthetic load), reading them
    once: a generator is never held whole."""
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
    return replay_loaded(options, loaded, watch or Stopwatch(), progress)


def replay_loaded(
    options: ReplayOptions,
    loaded: LoadedInputs,
    watch: Stopwatch,
    progress: Progress | None = None,
    arm_progress: ArmProgress | None = None,
) -> dict[str, Any]:
    """Normalize, run every arm, compare, write the run folder and its reports."""
    note = progress or (lambda _message: None)
    if isinstance(loaded.inbound, Sized):
        if not len(loaded.inbound):
            raise UsageError(NOTHING_TO_REPLAY)
        note(f"read {len(loaded.inbound)} messages from {len(loaded.inputs)} input(s)")
    config = effective_config(options, loaded.scenario_env)
    target = options.out or default_out(loaded.stem)
    with staged_folder(target, options.force) as out:
        summary = _replay_into(out, options, loaded, config, watch, note, arm_progress)
    summary["run_dir"] = str(target)
    summary["rejected"] = len(loaded.rejected)
    return summary


def default_out(stem: str) -> Path:
    """Where a run goes without ``--out``."""
    return Path("build/shadow") / stem


def _replay_into(
    out: Path,
    options: ReplayOptions,
    loaded: LoadedInputs,
    config: EffectiveConfig,
    watch: Stopwatch,
    note: Progress,
    arm_progress: ArmProgress | None,
) -> dict[str, Any]:
    """Everything a replay writes, into ``out`` (the staged folder)."""
    stages = sorted(set(options.stages))
    cohorts = cohorts_for(config, stages)
    environment = config.environment_settings()
    prepared = prepare_stream(
        loaded.inbound,
        loaded.outbound,
        cohorts,
        options.keep_raw,
        environment.sender.latency.draw(0.5),
        named_messages=config.model.environment.agent.script,
        links=bool(loaded.accounting.get("delivered")),
        agent=environment.agent,
    )
    write_stream(out, prepared)
    if isinstance(loaded.inbound, list):
        del loaded.inbound[:]
    else:
        if not len(prepared.stream):
            raise UsageError(NOTHING_TO_REPLAY)
        note(f"read {len(prepared.stream)} messages from {len(loaded.inputs)} input(s)")
        for entry in loaded.inputs:
            entry.setdefault("messages", len(prepared.stream))
    specs = resolve_arms(options.arms, stages, bool(loaded.outbound))
    environment = translate_script(environment, prepared.message_names)
    environment = translate_texts(environment, prepared.text_names)
    models = ModelSettings(config.legacy_settings(), config.unified_settings(), environment)
    plan = plan_for(
        specs,
        models,
        config.run.drain,
        config.run.gauge_interval,
        stages,
        options.flip_at,
        config.flip_downtime(),
    )
    watch.phase("normalize")
    note(f"running arms {', '.join(s.name for s in specs)}")
    results = run_plan(plan, prepared, options.workers, arm_progress)
    watch.phase("simulate")
    comparison = compare_arms(
        results,
        prepared,
        plan.arms,
        compare_settings(config),
        plan.flip_at,
        plan.stages,
        drop_outcomes=True,
    )
    release_free_memory()
    watch.phase("compare")
    readings = replay_readings(out, options, loaded, config, prepared, plan, comparison)
    if readings is not None:
        watch.phase("readings")
    summary = write_run(
        out, options, config, loaded, prepared, specs, results, comparison, cohorts, readings
    )
    watch.phase("write")
    if options.reports:
        note("rendering reports")
        render_reports(out, options.out or default_out(loaded.stem))
        watch.phase("reports")
    write_json(out / "timing.json", watch.report())
    return summary


def render_reports(out: Path, target: Path) -> None:
    """Write report.md (and report.html when the reports package offers it); the commands
    name ``target``, where ``out`` (the staged folder) goes."""
    from reports import render_run, run_reference

    render_run(out, run_ref=run_reference(target))


def scenario_metrics(
    name: str, seed: int = 1, sets: Sequence[str] = ()
) -> dict[str, dict[str, float]]:
    """Generate a scenario, replay every arm its ``expect`` block names, return the metrics.

    ``{arm: {metric: value}}`` with the single-arm metrics of docs/reference.md; what the tests
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
