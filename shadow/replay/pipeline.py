"""``shadow replay`` as a library call: inputs -> run folder. The CLI only renders the summary.

Guarantees:

1. Every input line is accounted for: read under the bad-line policy, counted in ``run.json``,
   and (``on_error="skip"``) each rejected line written to ``rejected.jsonl`` with its reason.
2. Every file of the run folder but ``timing.json`` is byte-identical for the same inputs,
   configuration and seed, whatever the worker count, ``PYTHONHASHSEED`` or output folder.
3. A run never reads the wall clock except through ``shadow.timing`` for ``timing.json``.
"""

from __future__ import annotations

import dataclasses
import itertools
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence, Sized
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from shadow.common import Stopwatch, UsageError
from shadow.compare import compare_arms
from shadow.config import EffectiveConfig, selected_readings
from shadow.prepare import (
    Cohorts,
    PreparedStream,
    plan_for,
    prepare_stream,
    resolve_arms,
    run_plan,
    translate_script,
    translate_texts,
)
from shadow.replay.chunks import CHUNK, ChunkLoop, SettledTooEarly
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
from shadow.simulation import (
    ArmProgress,
    ArmSpec,
    ModelSettings,
    RunPlan,
    WarmArms,
    release_free_memory,
)
from shadow.streams import LineMemo

Progress = Callable[[str], None]


def replay(
    options: ReplayOptions,
    progress: Progress | None = None,
    arm_progress: ArmProgress | None = None,
    warm: WarmArms | None = None,
    lines: LineMemo | None = None,
) -> dict[str, Any]:
    """Run a whole replay into its run folder; returns the ``--json`` summary.

    ``progress`` hears phase notes, ``arm_progress`` each arm's messages and virtual time.
    For replays of a growing capture (``shadow watch``): ``warm``, arms kept from the replay
    of a prefix of it, fed only what they have not seen (and left at the end of this capture
    for the next one); ``lines``, the lines read before, parsed only where the capture grew.
    Neither changes a file.
    """
    watch = Stopwatch()
    check_options(options, default_out(input_stem(options.inputs)))
    if warm is not None and options.chunk is not None:
        raise UsageError("a replay with warm arms runs whole (no --chunk)")
    loaded = load_inputs(options, lines)
    watch.phase("read")
    return replay_loaded(options, loaded, watch, progress, arm_progress, warm=warm)


def replay_records(
    options: ReplayOptions,
    records: Iterable[Any],
    progress: Progress | None = None,
    watch: Stopwatch | None = None,
    profiles: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Replay already-normalized inbound records (the bench's synthetic load), reading them
    once: a generator is never held whole. With ``options.chunk`` the replay streams
    (``chunks.ChunkLoop``), else it runs whole, as ``shadow replay`` does by default.
    ``profiles``: a cProfile per phase (the bench's ``--profile``)."""
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
    warm: WarmArms | None = None,
) -> dict[str, Any]:
    """Normalize, run every arm, compare, write the run folder and its reports. With
    ``options.chunk`` the capture is replayed a chunk at a time (``chunks.ChunkLoop``)."""
    note = progress or (lambda _message: None)
    if isinstance(loaded.inbound, Sized):
        if not len(loaded.inbound):
            raise UsageError(NOTHING_TO_REPLAY)
        note(f"read {len(loaded.inbound)} messages from {len(loaded.inputs)} input(s)")
    if options.chunk is not None:
        return _replay_streaming(options, loaded, watch, note, arm_progress, profiles)
    config = effective_config(options, loaded.scenario_env)
    target = options.out or default_out(loaded.stem)
    with staged_folder(target, options.force) as out:
        summary = _replay_into(out, options, loaded, config, watch, note, arm_progress, warm=warm)
    summary["run_dir"] = str(target)
    summary["rejected"] = len(loaded.rejected)
    return summary


def default_out(stem: str) -> Path:
    """Where a run goes without ``--out``."""
    return Path("build/shadow") / stem


@dataclass(frozen=True)
class PreparedRun:
    """A run up to its simulation: the stream, the arms and the plan that runs them."""

    cohorts: Cohorts
    prepared: PreparedStream
    specs: list[ArmSpec]
    plan: RunPlan


def prepare_run(
    options: ReplayOptions, loaded: LoadedInputs, config: EffectiveConfig
) -> PreparedRun:
    """Normalize the records into the stream and plan the arms (``options.arms``, else the
    default arms of ``options.stages``), with the agent's configured ids and texts under the
    run's pseudonyms and classes. Reads ``loaded.inbound`` once."""
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
    return PreparedRun(cohorts, prepared, specs, plan)


def _replay_into(
    out: Path,
    options: ReplayOptions,
    loaded: LoadedInputs,
    config: EffectiveConfig,
    watch: Stopwatch,
    note: Progress,
    arm_progress: ArmProgress | None,
    chunk_sizes: Sequence[int] | None = None,
    warm: WarmArms | None = None,
) -> dict[str, Any]:
    """Everything a replay writes, into ``out`` (the staged folder). ``chunk_sizes``: the
    arms are fed the stream that many seqs at a time (``_replay_streaming``); ``warm``: arms
    kept from the replay of a prefix of this capture, fed only the rest (``shadow watch``)."""
    run = prepare_run(options, loaded, config)
    prepared, specs, plan, cohorts = run.prepared, run.specs, run.plan, run.cohorts
    write_stream(out, prepared)
    if isinstance(loaded.inbound, list):
        del loaded.inbound[:]
    else:
        if not len(prepared.stream):
            raise UsageError(NOTHING_TO_REPLAY)
        note(f"read {len(prepared.stream)} messages from {len(loaded.inputs)} input(s)")
        for entry in loaded.inputs:
            entry.setdefault("messages", len(prepared.stream))
    watch.phase("normalize")
    note(f"running arms {', '.join(s.name for s in specs)}")
    results = run_plan(plan, prepared, options.workers, arm_progress, chunk_sizes, warm)
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
    readings = replay_readings(
        out, options, loaded, config, prepared, plan, comparison, chunk_sizes, warm
    )
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
    timing = watch.report()
    timing["chunks"] = 1 if chunk_sizes is None else len(chunk_sizes)
    write_json(out / "timing.json", timing)
    return summary


def _replay_streaming(
    options: ReplayOptions,
    loaded: LoadedInputs,
    watch: Stopwatch,
    note: Progress,
    arm_progress: ArmProgress | None,
    profiles: dict[str, Any] | None,
) -> dict[str, Any]:
    """The replay a chunk at a time (``chunks.ChunkLoop``), then its reports; a run with open
    readings (``reads_whole_run``) through ``_replay_whole_in_chunks``."""
    size = options.chunk or CHUNK
    config = effective_config(options, loaded.scenario_env)
    why = reads_whole_run(options, config)
    if why is not None:
        note(f"comparing the whole run at the end ({why})")
        return _replay_whole_in_chunks(options, loaded, config, size, watch, note, arm_progress)
    hooks: dict[str, Any] = {
        "watch": watch,
        "progress": note,
        "arm_progress": arm_progress,
        "profiles": profiles,
    }
    target = options.out or default_out(loaded.stem)
    with staged_folder(target, options.force) as staging:
        # the loop and its spool (.chunks) write into the staged folder (runfolder.staging)
        staged = dataclasses.replace(options, out=staging, force=True)
        try:
            loop = _fed(ChunkLoop(staged, loaded, **hooks), loaded.inbound, size)
        except SettledTooEarly:
            if not isinstance(loaded.inbound, Sequence):
                raise  # a generator cannot be read again
            # an arm decided about a seq already written: start over holding every outcome
            note("a decision came after its seq was written: replaying again, holding outcomes")
            shutil.rmtree(staging, ignore_errors=True)
            loop = _fed(ChunkLoop(staged, loaded, settle=None, **hooks), loaded.inbound, size)
        try:
            summary = loop.flush()
        finally:
            loop.close()
        if isinstance(loaded.inbound, list):
            del loaded.inbound[:]
        if options.reports:
            note("rendering reports")
            render_reports(staging, target)
            watch.phase("reports")
        timing = watch.report()
        timing["chunks"] = loop.chunks
        write_json(staging / "timing.json", timing)
    summary["run_dir"] = str(target)
    summary["rejected"] = len(loaded.rejected)
    return summary


def _replay_whole_in_chunks(
    options: ReplayOptions,
    loaded: LoadedInputs,
    config: EffectiveConfig,
    size: int,
    watch: Stopwatch,
    note: Progress,
    arm_progress: ArmProgress | None,
) -> dict[str, Any]:
    """The run normalized, compared and written whole, as without ``--chunk``; only its arms
    (and each reading's) advance ``size`` records at a time (``run_arms_in_chunks``): the
    files are those of the whole run by construction, and so is its memory."""
    records: list[Any] = []
    sizes: list[int] = []
    source = iter(loaded.inbound)
    while chunk := list(itertools.islice(source, size)):
        sizes.append(len(chunk))
        records.extend(chunk)
    if not records:
        raise UsageError(NOTHING_TO_REPLAY)
    if isinstance(loaded.inbound, list):
        del loaded.inbound[:]
    elif not isinstance(loaded.inbound, Sized):  # as _replay_into counts a generator
        note(f"read {len(records)} messages from {len(loaded.inputs)} input(s)")
        for entry in loaded.inputs:
            entry.setdefault("messages", len(records))
    whole = dataclasses.replace(loaded, inbound=records)
    target = options.out or default_out(loaded.stem)
    with staged_folder(target, options.force) as out:
        summary = _replay_into(out, options, whole, config, watch, note, arm_progress, sizes)
    summary["run_dir"] = str(target)
    summary["rejected"] = len(loaded.rejected)
    return summary


def reads_whole_run(options: ReplayOptions, config: EffectiveConfig) -> str | None:
    """Why a streaming replay is normalized and compared whole (None: it streams).

    Open readings (``--stage`` with ``run.readings``): each alternative's arms are compared
    against the main run's outcomes, seq for seq, and graded by its repeat classes, which a
    chunk loop lets go of once written. Their arms are still fed the same chunks.
    Everything else streams through ``chunks.ChunkLoop`` (which holds outcomes to the end
    where its guarantee 3 says).
    """
    if options.stages and selected_readings(config.flat()["run.readings"]):
        return "open readings"
    return None


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
