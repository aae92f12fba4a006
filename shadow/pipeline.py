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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from shadow.arms import ModelSettings
from shadow.compare import (
    CompareSettings,
)
from shadow.config import EffectiveConfig, load_config
from shadow.errors import UsageError
from shadow.manifest import write_run, write_stream
from shadow.replay import (
    Cohorts,
    compare_arms,
    plan_for,
    prepare_stream,
    resolve_arms,
    run_plan,
    translate_script,
)
from shadow.runfolder import (
    prepare_folder,
    sha256_file,
    write_json,
)
from shadow.runner import ArmProgress, release_free_memory
from shadow.timing import Stopwatch

Progress = Callable[[str], None]
NOTHING_TO_REPLAY = "the capture holds no inbound message to replay"


@dataclass
class ReplayOptions:
    """Everything ``shadow replay`` accepts (contracts.md), already parsed."""

    inputs: list[str]
    format: str = "auto"
    config_file: Path | None = None
    sets: list[str] = field(default_factory=list)
    seed: int | None = None
    arms: list[str] | None = None
    stages: list[int] = field(default_factory=list)
    flag: str | None = None
    provider: str | None = None
    flip_at: int | None = None
    out: Path | None = None
    force: bool = False
    workers: int | None = None
    on_error: Literal["fail", "skip"] = "fail"
    keep_raw: bool = False
    reports: bool = True


@dataclass
class LoadedInputs:
    """The normalized capture and what ``run.json`` says about each input."""

    inbound: Iterable[Any]  # read once
    outbound: list[Any]
    rejected: list[Any]
    inputs: list[dict[str, Any]]
    accounting: dict[str, Any]
    warnings: list[str]
    scenario_env: dict[str, Any] | None
    stem: str


def load_inputs(options: ReplayOptions) -> LoadedInputs:
    """Read captures, or generate ``scenario:NAME`` on the fly (with its environment)."""
    import dataclasses

    import yaml

    from shadow.streams import read_captures
    from shadow.streams.generate import generate_to_file

    scenario_env: dict[str, Any] | None = None
    paths: list[Path] = []
    described: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="shadow-scenario-") as temp:
        for item in options.inputs:
            if item.startswith("scenario:"):
                name = item.split(":", 1)[1]
                seed = options.seed if options.seed is not None else 1
                path = Path(temp) / f"{name}.jsonl"
                _, env_path = generate_to_file(name, path, seed)
                described.append({"scenario": name, "seed": seed})
            else:
                path = Path(item)
                if not path.is_file():
                    raise UsageError(f"{item}: no such capture file")
                env_path = path.with_name(path.name + ".env.yaml")
                described.append({"path": _display_path(path)})
            if env_path.exists():
                scenario_env = yaml.safe_load(env_path.read_text(encoding="utf-8")) or {}
            paths.append(path)
        capture = read_captures(paths, format=options.format, on_error=options.on_error)
        labels: dict[str, str] = {}
        for entry, path, counts in zip(described, paths, capture.accounting.files, strict=True):
            entry["sha256"] = sha256_file(path)
            entry.update(format=counts.format, **counts.document())
            labels[counts.file] = entry.get("path") or f"scenario:{entry.get('scenario')}"
    rejected = [dataclasses.replace(r, file=labels.get(r.file, r.file)) for r in capture.rejected]
    warnings = list(capture.warnings)
    for label, shown in labels.items():
        warnings = [w.replace(label, shown) for w in warnings]
    first = options.inputs[0]
    stem = first.split(":", 1)[1] if first.startswith("scenario:") else Path(first).stem
    return LoadedInputs(
        inbound=list(capture.inbound),
        outbound=list(capture.outbound),
        rejected=rejected,
        inputs=described,
        accounting=capture.accounting.as_json(),
        warnings=warnings,
        scenario_env=scenario_env,
        stem=stem,
    )


def _display_path(path: Path) -> str:
    """Relative to the working directory when inside it, else the file name (no abs paths)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return path.name


def effective_config(
    options: ReplayOptions, scenario_env: dict[str, Any] | None
) -> EffectiveConfig:
    sets = list(options.sets)
    if options.seed is not None:
        sets.append(f"environment.seed={options.seed}")
    if options.flag:
        sets.append(f"rollout.flag={options.flag}")
    if options.provider:
        sets.append(f"rollout.provider={options.provider}")
    return load_config(options.config_file, sets, scenario_env)


def cohorts_for(config: EffectiveConfig, stages: Sequence[int]) -> Cohorts:
    """Stage membership by the production flag's own bucketing (rollout_gate.md).

    The stream's ``bucket`` column stores each contact's *entry stage* (``rollout.entry_stage``):
    membership of stage P is ``entry <= P`` whatever the provider's native bucket unit.
    """
    from shadow.rollout import RolloutSettings, bucket, entry_stage, fingerprint

    r = config.rollout
    settings = RolloutSettings(
        provider=r.provider,
        flag=r.flag,
        group_id=r.group_id,
        salt=r.salt,
        stickiness=r.stickiness,
        algorithm=r.algorithm,
    )
    entries: dict[str, int] = {}

    def entry_of(contact_id: str) -> int:
        known = entries.get(contact_id)
        if known is None:
            known = entries[contact_id] = entry_stage(bucket(contact_id, settings), settings)
        return known

    return Cohorts(tuple(stages), entry_of, dict(fingerprint(settings)))


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
    out = options.out or Path("build/shadow") / loaded.stem
    prepare_folder(out, options.force)
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
    models = ModelSettings(config.legacy_settings(), config.unified_settings(), environment)
    plan = plan_for(
        specs, models, config.run.drain, config.run.gauge_interval, stages, options.flip_at
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
    summary = write_run(out, options, config, loaded, prepared, specs, results, comparison, cohorts)
    watch.phase("write")
    if options.reports:
        note("rendering reports")
        render_reports(out)
        watch.phase("reports")
    write_json(out / "timing.json", watch.report())
    return summary


def compare_settings(config: EffectiveConfig) -> CompareSettings:
    c = config.compare
    return CompareSettings(
        latency_abs=c.latency_abs / 1_000_000,
        latency_rel=c.latency_rel,
        repeat_horizon=c.repeat_horizon,
        severity=c.severity or None,
    )


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

    from shadow.metrics import arm_metrics
    from shadow.streams.expect import parse_expectation
    from shadow.streams.generate import generate_to_file
    from shadow.streams.scenarios import load_scenario

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
