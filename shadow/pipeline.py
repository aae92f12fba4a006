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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from shadow import __version__
from shadow.arms import ArmSpec, ModelSettings
from shadow.assumptions import assumptions_in_force
from shadow.compare import (
    OUTCOME_COLUMNS,
    CompareSettings,
    divergence_records,
    signatures_summary,
)
from shadow.config import EffectiveConfig, load_config
from shadow.divergence_kinds import SEVERITIES
from shadow.errors import UsageError
from shadow.kernel import FATES
from shadow.replay import (
    Cohorts,
    Comparison,
    PreparedStream,
    plan_for,
    prepare_stream,
    resolve_arms,
    run_and_compare,
    translate_script,
)
from shadow.runfolder import (
    SCHEMA_VERSION,
    file_hashes,
    prepare_folder,
    sha256_file,
    write_json,
    write_jsonl,
    write_parquet,
)
from shadow.runner import ArmProgress, ArmResult
from shadow.streams.parquet import write_parquet as write_columns
from shadow.timing import Stopwatch

Progress = Callable[[str], None]


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

    inbound: list[Any]
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
    records: list[Any],
    progress: Progress | None = None,
    watch: Stopwatch | None = None,
) -> dict[str, Any]:
    """Replay already-normalized inbound records (the bench's synthetic load)."""
    loaded = LoadedInputs(
        inbound=records,
        outbound=[],
        rejected=[],
        inputs=[{"generated": options.inputs[0], "messages": len(records)}],
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
    if not loaded.inbound:
        raise UsageError("the capture holds no inbound message to replay")
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
    )
    del loaded.inbound[:]
    specs = resolve_arms(options.arms, stages, bool(loaded.outbound))
    environment = translate_script(environment, prepared.message_names)
    models = ModelSettings(config.legacy_settings(), config.unified_settings(), environment)
    plan = plan_for(
        specs, models, config.run.drain, config.run.gauge_interval, stages, options.flip_at
    )
    watch.phase("normalize")
    note(f"running arms {', '.join(s.name for s in specs)}")
    results, comparison = run_and_compare(
        plan, prepared, compare_settings(config), options.workers, arm_progress
    )
    watch.phase("simulate+compare")
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


def outcome_records(frame: pd.DataFrame, rows: Any) -> list[dict[str, Any]]:
    """Outcome rows as JSON-able dicts (nulls as None, floats rounded to the µs), column-wise."""
    subset = frame.iloc[rows]
    columns: dict[str, list[Any]] = {}
    for column in OUTCOME_COLUMNS:
        series = subset[column]
        if series.dtype == "float64":
            columns[column] = [
                None if value != value else round(value, 6) for value in series.tolist()
            ]
        elif series.dtype == "bool":
            columns[column] = [bool(value) for value in series.tolist()]
        else:
            columns[column] = [None if value is pd.NA else value for value in series.tolist()]
    return [
        dict(zip(OUTCOME_COLUMNS, values, strict=True))
        for values in zip(*columns.values(), strict=True)
    ]


def write_run(
    out: Path,
    options: ReplayOptions,
    config: EffectiveConfig,
    loaded: LoadedInputs,
    prepared: PreparedStream,
    specs: Sequence[ArmSpec],
    results: Sequence[ArmResult],
    comparison: Comparison,
    cohorts: Cohorts,
) -> dict[str, Any]:
    """Write every data file and ``run.json``; returns the replay summary."""
    write_columns(prepared.columns, out / "stream.parquet")
    if prepared.outbound["sent_at"]:
        write_columns(prepared.outbound, out / "outbound.parquet")
    outcomes = pd.concat([comparison.frames[r.name] for r in results], ignore_index=True)
    write_parquet(out / "outcomes.parquet", outcomes)
    lines: list[dict[str, Any]] = []
    pair_counts: dict[str, dict[str, dict[str, int]]] = {}
    for pair in comparison.pairs:
        b, c = comparison.frames[pair.baseline], comparison.frames[pair.candidate]
        pair_lines = divergence_records(pair, b, c, outcome_records)
        lines.extend(pair_lines)
        by_severity = {s: 0 for s in SEVERITIES}
        by_kind: dict[str, int] = {}
        for line in pair_lines:
            by_severity[line["severity"]] += 1
            for kind in line["kinds"]:
                by_kind[kind] = by_kind.get(kind, 0) + 1
        pair_counts[f"{pair.baseline} vs {pair.candidate}"] = {
            "by_severity": by_severity,
            "by_kind": dict(sorted(by_kind.items())),
        }
    write_jsonl(out / "divergences.jsonl", lines)
    signatures = signatures_summary(lines)
    write_json(out / "signatures.json", signatures)
    write_parquet(out / "gauges.parquet", gauge_frame(results))
    if loaded.rejected:
        write_jsonl(out / "rejected.jsonl", [r.as_json() for r in loaded.rejected])
    fates = {
        r.name: {
            fate: int(n) for fate, n in zip(FATES, np.bincount(r.fate, minlength=7), strict=True)
        }
        for r in results
    }
    stream = prepared.stream
    stages_info = {
        str(stage): {
            "contacts": len({c for c, m in zip(stream.contact_id, members, strict=True) if m}),
            "messages": int(sum(members)),
        }
        for stage, members in stream.cohorts.items()
    }
    flat = config.flat()
    manifest: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "harness_version": __version__,
        "inputs": loaded.inputs,
        "accounting": loaded.accounting,
        "warnings": loaded.warnings,
        "config": config.document(),
        "config_sha256": config.sha256,
        "seed": flat.get("environment.seed"),
        "arms": [s.name for s in specs if any(r.name == s.name for r in results)],
        "stages": sorted(stream.cohorts),
        "flip_at": options.flip_at,
        "rollout": {"fingerprint": cohorts.fingerprint, "cohorts": stages_info},
        "assumptions": assumptions_in_force(flat),
        "keep_raw": options.keep_raw,
        "stream": {
            "messages": len(stream),
            "contacts": prepared.contacts,
            "first_at_us": prepared.t0,
            "span_s": round((stream.received_at[-1] if len(stream) else 0) / 1e6, 6),
        },
        "fates": fates,
        "divergences": pair_counts,
        "stats": {r.name: dict(sorted(r.stats.items())) for r in results},
        "lock_disagreement_s": {
            r.name: r.stats.get("lock_disagreement_s", 0) for r in results if r.stats
        },
        "gauges": {
            r.name: {
                g.name: {"peak": g.peak, "peak_at_s": g.peak_at / 1e6, "cap": g.cap}
                for g in r.gauges
            }
            for r in results
        },
        "recorded_latency_fallbacks": {r.name: r.recorded_fallbacks for r in results},
        "rejected_lines": len(loaded.rejected),
        # the agent script is keyed by raw message ids; the arms see pseudonyms (explain
        # re-keys the script with this map, which names only the ids the config already names)
        "script_message_ids": {
            raw: prepared.message_names[raw]
            for raw in sorted(config.model.environment.agent.script)
            if raw in prepared.message_names
        },
    }
    manifest["files"] = file_hashes(out)
    write_json(out / "run.json", manifest)
    return {
        "run_dir": str(out),
        "messages": len(stream),
        "contacts": prepared.contacts,
        "arms": fates,
        "divergences": pair_counts,
        "top_signatures": [
            {
                k: s[k]
                for k in (
                    "signature",
                    "count",
                    "severity",
                    "kinds",
                    "baseline_cause",
                    "candidate_cause",
                    "examples",
                )
            }
            for s in signatures[:10]
        ],
    }


def gauge_frame(results: Sequence[ArmResult]) -> pd.DataFrame:
    """Every gauge sample of every arm: arm, structure, time (s), value, cap."""
    rows: dict[str, list[Any]] = {"arm": [], "structure": [], "time": [], "value": [], "cap": []}
    for result in results:
        for gauge in result.gauges:
            for at, value in gauge.samples:
                rows["arm"].append(result.name)
                rows["structure"].append(gauge.name)
                rows["time"].append(at / 1e6)
                rows["value"].append(value)
                rows["cap"].append(gauge.cap)
    return pd.DataFrame(
        {
            "arm": pd.Series(rows["arm"], dtype="string"),
            "structure": pd.Series(rows["structure"], dtype="string"),
            "time": pd.Series(rows["time"], dtype="float64"),
            "value": pd.Series(rows["value"], dtype="int64"),
            "cap": pd.array(rows["cap"], dtype="Int64"),
        }
    )


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
