"""``shadow sweep`` as a library call: replay every combination of varied config values.

Guarantees:

1. Every combination of the varied values (in the order given, the first key slowest) is
   replayed with seeds 1..N (arms ``legacy`` and ``unified``, no run folder, no report). For a
   scenario input, seed s is both the generated stream's seed and ``environment.seed``; for a
   capture, only ``environment.seed`` varies.
2. Rows come back in (combination, seed) order whatever the worker count: each replay is a
   pure function of its stream, configuration and seed (shadow.replay guarantee 1), and
   results are gathered in job order. The written files are byte-identical for the same
   inputs, values, seeds and objective, whatever ``workers``.
3. Varied keys and values are validated through ``load_config`` before anything runs: a bad
   key or value raises ``UsageError`` (exit 3). ``environment.seed`` cannot be varied (the
   sweep owns it: ``--seeds``).
4. Nothing here prints; the command line renders ``SweepResult``.
5. A varied key ``scenario.KEY`` edits the scenario (``KEY`` as ``shadow generate --set``
   takes it, e.g. ``scenario.traffic.1.resend.delay``): the stream of each seed is generated
   once per value, validated before anything runs; a capture cannot vary it.
"""

from __future__ import annotations

import itertools
import math
import multiprocessing
import os
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from shadow.common import UsageError, canonical_json, stop_workers
from shadow.compare import Comparison, arm_metrics, run_and_compare
from shadow.config import load_config, scenario_environment
from shadow.prepare import (
    plan_for,
    prepare_stream,
    resolve_arms,
    translate_script,
    translate_texts,
)
from shadow.replay import (
    LoadedInputs,
    ReplayOptions,
    cohorts_for,
    compare_settings,
    effective_config,
    load_inputs,
)
from shadow.runfolder import check_target, staged_folder, write_parquet
from shadow.simulation import ModelSettings
from shadow.sweep.report import render_sweep
from shadow.sweep.result import SweepInput, SweepResult
from shadow.sweep.spec import (
    ARM_METRICS,
    ARMS,
    BASELINE,
    CANDIDATE,
    ROW_METRICS,
    format_metric,
    is_count,
    metric_words,
    parse_objective,
)

Progress = Callable[[str], None]
STATS = ("mean", "min", "max", "std")
FILES = ("sweep.csv", "sweep.parquet", "summary.csv", "sweep.json", "sweep.md", "sweep.html")


def resolve_input(text: str, scenario_sets: Sequence[str] = ()) -> SweepInput:
    """``scenario:NAME``, a built-in scenario name, or a capture file (its env beside it)."""
    from shadow.streams import builtin_names, load_scenario

    path = Path(text)
    if not text.startswith("scenario:") and path.is_file():
        if scenario_sets:
            raise UsageError(f"{text}: scenario overrides apply to scenarios, not to captures")
        env_file = path.with_name(path.name + ".env.yaml")
        environment: dict[str, Any] = {}
        if env_file.exists():
            environment = yaml.safe_load(env_file.read_text(encoding="utf-8")) or {}
        return SweepInput(text, None, path, path.stem, environment)
    name = text.split(":", 1)[1] if text.startswith("scenario:") else text
    if not text.startswith("scenario:") and name not in builtin_names():
        raise UsageError(
            f"{text}: no such capture file or built-in scenario (see shadow scenarios)"
        )
    scenario = load_scenario(name, list(scenario_sets))
    stem = Path(name).stem if name.endswith((".yaml", ".yml")) else name
    kinds = scenario.traffic_kinds()
    return SweepInput(text, name, None, stem, scenario_environment(scenario.environment, kinds))


def validate_vary(
    vary: Sequence[tuple[str, Sequence[str]]], sets: Sequence[str], environment: dict[str, Any]
) -> None:
    """Guarantee 3: every key exists and every value is valid for it, before any replay."""
    seen: list[str] = []
    for key, values in vary:
        if key.startswith(SCENARIO_PREFIX):  # checked by validate_scenario_vary
            seen.append(key)
            continue
        if key == "environment.seed":
            raise UsageError("--vary environment.seed: the sweep sets the seed; use --seeds N")
        if key in seen:
            raise UsageError(f"--vary {key}: given twice; list every value in one --vary")
        seen.append(key)
        if not values:
            raise UsageError(f"--vary {key}: no values given (expected {key}=V1,V2,...)")
        for value in values:
            try:
                load_config(None, [*sets, f"{key}={value}"], environment)
            except UsageError as exc:
                raise UsageError(exc.message.replace("(from --set)", "(from --vary)")) from None


SCENARIO_PREFIX = "scenario."


def validate_scenario_vary(
    source: SweepInput, vary: Sequence[tuple[str, Sequence[str]]], scenario_sets: Sequence[str]
) -> None:
    """Guarantee 5: each ``scenario.KEY=VALUE`` loads; a capture cannot vary its scenario."""
    from shadow.streams import load_scenario

    for key, values in vary:
        if not key.startswith(SCENARIO_PREFIX):
            continue
        if source.scenario is None:
            raise UsageError(f"--vary {key}: scenario keys apply to scenarios, not to captures")
        for value in values:
            field = key.removeprefix(SCENARIO_PREFIX)
            try:
                load_scenario(source.scenario, [*scenario_sets, f"{field}={value}"])
            except UsageError as exc:
                raise UsageError(f"--vary {key}={value}: {exc.message}") from None


def prepare_out(out: Path, force: bool) -> None:
    """Refuse an existing folder without ``force``; never replace a folder that is no sweep."""
    check_target(out, force, marker="sweep.json")


# The loaded streams and the job list reach forked workers through this global (no pickling).
_SHARED: dict[str, Any] = {}


def pair_row(comparison: Comparison) -> dict[str, float]:
    """Divergence counts, new failures and per-arm outcome rates of one replay."""
    from shadow.common import KINDS

    b, c = comparison.frames[BASELINE], comparison.frames[CANDIDATE]
    pair = next(p for p in comparison.pairs if (p.baseline, p.candidate) == (BASELINE, CANDIDATE))
    row: dict[str, float] = {"messages": float(len(b))}
    for severity, column in (
        ("regression", "regressions"),
        ("change", "changes"),
        ("improvement", "improvements"),
    ):
        row[column] = float(sum(1 for s in pair.severity if s == severity))
    kinds = {kind: 0 for kind in KINDS}
    for listed in pair.kinds:
        for kind in listed:
            kinds[kind] += 1
    row.update({f"kind.{kind}": float(n) for kind, n in kinds.items()})
    # new_failures (docs/reference.md Metrics): answered by legacy, not by unified, unless the
    # divergence is an improvement (a suppressed resend); sweeps have no waivers
    lost = (b["fate"] == "answered").to_numpy() & (c["fate"] != "answered").to_numpy()
    improvement = np.zeros(len(b), dtype=bool)
    for seq, severity in zip(pair.seqs, pair.severity, strict=True):
        improvement[int(seq)] = severity == "improvement"
    row["new_failures"] = float(np.sum(lost & ~improvement))
    for arm in ARMS:
        frame = comparison.frames[arm]
        metrics = arm_metrics(frame)
        metrics["resends_processed"] = resends_processed(frame)
        row.update({f"{arm}.{m}": metrics[m] for m in ARM_METRICS})
    return {column: row[column] for column in ROW_METRICS}


def resends_processed(frame: pd.DataFrame) -> float:
    """``duplicate_processing`` counted over resends and redeliveries only."""
    processed = frame["processing_count"].fillna(0).to_numpy() > 0
    by_seq = dict(zip(frame["seq"].to_numpy().tolist(), processed.tolist(), strict=True))
    origins = frame["repeat_of"].fillna(-1).astype("int64").to_numpy().tolist()
    kinds = frame["repeat_kind"].fillna("").to_numpy(dtype=object)
    count = 0
    for done, origin, kind in zip(processed.tolist(), origins, kinds, strict=True):
        if done and kind in ("resend", "redelivery") and origin >= 0:
            count += int(by_seq.get(origin, False))
    return float(count)


def replay_job(loaded: LoadedInputs, sets: Sequence[str], seed: int) -> dict[str, float]:
    """One replay of the legacy and unified arms, in this process, into one row's metrics."""
    options = ReplayOptions(
        inputs=["sweep"], sets=list(sets), seed=seed, arms=list(ARMS), workers=1, reports=False
    )
    config = effective_config(options, loaded.scenario_env)
    environment = config.environment_settings()
    prepared = prepare_stream(
        loaded.inbound,
        loaded.outbound,
        cohorts_for(config, []),
        False,
        environment.sender.latency.draw(0.5),
        agent=environment.agent,
    )
    specs = resolve_arms(list(ARMS), [], False)
    environment = translate_script(environment, prepared.message_names)
    environment = translate_texts(environment, prepared.text_names)
    models = ModelSettings(config.legacy_settings(), config.unified_settings(), environment)
    plan = plan_for(specs, models, config.run.drain, config.run.gauge_interval, [], None)
    _, comparison = run_and_compare(plan, prepared, compare_settings(config), 1)
    return pair_row(comparison)


def _run_shared(index: int) -> dict[str, float]:
    sets, seed, stream = _SHARED["jobs"][index]
    return replay_job(_SHARED["loaded"][(stream, seed)], sets, seed)


def _load_streams(
    source: SweepInput, seeds: int, scenario_sets: Sequence[str], folder: Path
) -> dict[int, LoadedInputs]:
    """The stream of each seed: one capture for all, or the scenario generated per seed."""
    from shadow.streams import generate_to_file

    if source.capture is not None:
        loaded = load_inputs(ReplayOptions(inputs=[str(source.capture)]))
        return dict.fromkeys(range(1, seeds + 1), loaded)
    assert source.scenario is not None
    streams: dict[int, LoadedInputs] = {}
    for seed in range(1, seeds + 1):
        path = folder / f"{source.stem}-{seed}.jsonl"
        generate_to_file(source.scenario, path, seed, list(scenario_sets))
        streams[seed] = load_inputs(ReplayOptions(inputs=[str(path)]))
    return streams


def run_sweep(
    input: str,
    vary: Sequence[tuple[str, Sequence[str]]],
    seeds: int = 5,
    objective: str | None = None,
    workers: int | None = None,
    out: Path | None = None,
    *,
    force: bool = False,
    sets: Sequence[str] = (),
    scenario_sets: Sequence[str] = (),
    progress: Progress | None = None,
) -> SweepResult:
    """Replay every combination x seed, tabulate, rank, and write the sweep folder."""
    note = progress or (lambda _message: None)
    if not vary:
        raise UsageError("give at least one --vary KEY=V1,V2,...")
    if seeds < 1:
        raise UsageError(f"--seeds must be at least 1 (got {seeds})")
    if workers is not None and workers < 1:
        raise UsageError(f"--workers must be at least 1 (got {workers})")
    ranking_rule = parse_objective(objective)
    source = resolve_input(input, scenario_sets)
    validate_vary(vary, sets, source.environment)
    validate_scenario_vary(source, vary, scenario_sets)
    target = out or Path("build/shadow") / f"sweep-{source.stem}"
    prepare_out(target, force)
    keys = [key for key, _ in vary]
    combos = [tuple(c) for c in itertools.product(*(list(values) for _, values in vary))]
    # the scenario edits of each combination, as generate --set takes them (guarantee 5)
    edits = [
        tuple(
            f"{k.removeprefix(SCENARIO_PREFIX)}={v}"
            for k, v in zip(keys, combo, strict=True)
            if k.startswith(SCENARIO_PREFIX)
        )
        for combo in combos
    ]
    variants = list(dict.fromkeys(edits))
    jobs = [
        (
            [
                *sets,
                *(
                    f"{k}={v}"
                    for k, v in zip(keys, combo, strict=True)
                    if not k.startswith(SCENARIO_PREFIX)
                ),
            ],
            seed,
            variants.index(edit),
        )
        for combo, edit in zip(combos, edits, strict=True)
        for seed in range(1, seeds + 1)
    ]
    loaded: dict[tuple[int, int], LoadedInputs] = {}
    with tempfile.TemporaryDirectory(prefix="shadow-sweep-") as folder:
        for index, edit in enumerate(variants):
            place = Path(folder) / str(index)
            place.mkdir()
            streams = _load_streams(source, seeds, [*scenario_sets, *edit], place)
            loaded.update({(index, seed): inputs for seed, inputs in streams.items()})
    count = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    note(f"{len(combos)} combination(s) x {seeds} seed(s) = {len(jobs)} replays, {count} worker(s)")
    _SHARED.update(jobs=jobs, loaded=loaded)
    results: list[dict[str, float]] = []
    try:
        if count == 1:
            for index in range(len(jobs)):
                results.append(_run_shared(index))
                note(f"replay {index + 1}/{len(jobs)} done")
        else:
            context = multiprocessing.get_context("fork")
            with stop_workers(ProcessPoolExecutor(max_workers=count, mp_context=context)) as pool:
                for index, row in enumerate(pool.map(_run_shared, range(len(jobs)))):
                    results.append(row)
                    note(f"replay {index + 1}/{len(jobs)} done")
    finally:
        _SHARED.clear()
    rows = rows_frame(keys, combos, seeds, results)
    summary = summary_frame(keys, combos, seeds, rows)
    result = SweepResult(
        target, source, keys, combos, seeds, ranking_rule, rows, summary, [], "", {}
    )
    means = [result.means(index) for index in range(len(combos))]
    result.ranking = ranking_rule.rank(means)
    result.sentence = best_sentence(result)
    result.document = {
        "out": str(target),
        "rows": json_rows(rows, keys),
        **ranking_document(result, means),
    }
    write_sweep(result)
    return result


def ranking_document(result: SweepResult, means: Sequence[dict[str, float]]) -> dict[str, Any]:
    """The objective, every combination best first with its objective means, and the chosen
    setting (the first): what the Markdown's sentence says, as data."""
    columns = [column for _, column in result.objective.terms]

    def setting_of(index: int) -> dict[str, str]:
        return dict(zip(result.keys, result.combos[index], strict=True))

    ranking = [
        {
            "rank": place + 1,
            "setting": setting_of(index),
            "means": {
                column: None if math.isnan(means[index][column]) else means[index][column]
                for column in columns
            },
        }
        for place, index in enumerate(result.ranking)
    ]
    return {
        "objective": result.objective.text,
        "ranking": ranking,
        "chosen": setting_of(result.ranking[0]) if result.ranking else None,
    }


def rows_frame(
    keys: Sequence[str],
    combos: Sequence[tuple[str, ...]],
    seeds: int,
    results: Sequence[dict[str, float]],
) -> pd.DataFrame:
    """One row per (combination, seed): the values, the seed, ``ROW_METRICS``."""
    data: dict[str, Any] = {
        key: pd.Series([c[i] for c in combos for _ in range(seeds)], dtype="string")
        for i, key in enumerate(keys)
    }
    data["seed"] = pd.Series([s for _ in combos for s in range(1, seeds + 1)], dtype="int64")
    for column in ROW_METRICS:
        values = [r[column] for r in results]
        if is_count(column):
            data[column] = pd.Series([int(v) for v in values], dtype="int64")
        else:
            data[column] = pd.Series([round(v, 6) for v in values], dtype="float64")
    return pd.DataFrame(data)


def summary_frame(
    keys: Sequence[str], combos: Sequence[tuple[str, ...]], seeds: int, rows: pd.DataFrame
) -> pd.DataFrame:
    """Per combination: mean, min, max and sample std (empty with one seed) across seeds."""
    records: list[dict[str, Any]] = []
    for index, combo in enumerate(combos):
        block = rows.iloc[index * seeds : (index + 1) * seeds]
        record: dict[str, Any] = dict(zip(keys, combo, strict=True))
        record["seeds"] = seeds
        for column in ROW_METRICS:
            values = block[column].to_numpy(dtype=float)
            present = values[~np.isnan(values)]
            stats = (
                (
                    float(np.mean(present)),
                    float(np.min(present)),
                    float(np.max(present)),
                    float(np.std(present, ddof=1)) if len(present) > 1 else math.nan,
                )
                if len(present)
                else (math.nan,) * 4
            )
            for stat, value in zip(STATS, stats, strict=True):
                record[f"{column}_{stat}"] = round(value, 6)
        records.append(record)
    frame = pd.DataFrame.from_records(records)
    for key in keys:
        frame[key] = frame[key].astype("string")
    return frame


def json_rows(rows: pd.DataFrame, keys: Sequence[str]) -> list[dict[str, Any]]:
    """``--json`` rows: ``{"values": {key: value}, "seed", metric: value, ...}``; nan -> null."""
    out: list[dict[str, Any]] = []
    for record in rows.to_dict(orient="records"):
        row: dict[str, Any] = {"values": {k: str(record[k]) for k in keys}}
        row["seed"] = int(record["seed"])
        for column in ROW_METRICS:
            value = record[column]
            if is_count(column):
                row[column] = int(value)
            else:
                row[column] = None if value != value else float(value)
        out.append(row)
    return out


def best_sentence(result: SweepResult) -> str:
    """The plain sentence naming the best combination under the objective."""
    objective = result.objective
    best = result.ranking[0]
    means = result.means(best)
    figures = ", ".join(
        f"{format_metric(column, means[column])} {metric_words(column)}"
        for _, column in objective.terms
    )
    seeds = f"{result.seeds} seed{'s' if result.seeds != 1 else ''}"
    sentence = (
        f'Under the objective "{objective.describe()}" ({objective.text}), '
        f"{setting(result.keys, result.combos[best])} is best: {figures} (mean over {seeds})."
    )
    key = objective.key(means)
    tied = [
        setting(result.keys, result.combos[i])
        for i in result.ranking[1:]
        if objective.key(result.means(i)) == key
    ]
    if tied:
        sentence += f" Tied on every term with {'; '.join(tied)}."
    return sentence


def setting(keys: Sequence[str], combo: Sequence[str]) -> str:
    return ", ".join(f"{k} = {v}" for k, v in zip(keys, combo, strict=True))


def write_sweep(result: SweepResult) -> None:
    """Every file of the sweep folder, and one trade-off chart SVG per varied key."""
    with staged_folder(result.out, force=True, marker="sweep.json") as out:
        _write_sweep_files(result, out)


def _write_sweep_files(result: SweepResult, out: Path) -> None:
    result.rows.to_csv(out / "sweep.csv", index=False, lineterminator="\n")
    write_parquet(out / "sweep.parquet", result.rows)
    result.summary.to_csv(out / "summary.csv", index=False, lineterminator="\n")
    (out / "sweep.json").write_text(canonical_json(result.document) + "\n", encoding="utf-8")
    rendered = render_sweep(result)
    (out / "sweep.md").write_text(rendered.markdown, encoding="utf-8")
    (out / "sweep.html").write_text(rendered.html, encoding="utf-8")
    for name, svg in rendered.charts.items():
        (out / name).write_text(svg, encoding="utf-8")


__all__ = ["FILES", "SweepInput", "SweepResult", "resolve_input", "run_sweep"]
