"""The run folder's content: data files and ``run.json``, from a replay's results.

Guarantees: every file written here is a pure function of the run (no path, no clock); the
``run.json`` written last lists the sha256 of every data file (runfolder guarantee 2); an
outcome record's floats are rounded to the microsecond, its nulls are ``None``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from shadow import __version__
from shadow.common import SEVERITIES
from shadow.compare import Comparison, SignatureGroups, column_values, divergence_texts
from shadow.config import EffectiveConfig, assumptions_in_force
from shadow.kernel import FATES
from shadow.prepare import Cohorts, PreparedStream
from shadow.runfolder import (
    SCHEMA_VERSION,
    file_hashes,
    write_json,
    write_jsonl,
    write_lines,
    write_parquet,
)
from shadow.simulation import ArmResult, ArmSpec, GaugeRecord
from shadow.streams import rejection_groups
from shadow.streams import write_parquet as write_columns

if TYPE_CHECKING:  # the pipeline calls this module; only its types are needed here
    from shadow.replay.inputs import LoadedInputs, ReplayOptions


def write_stream(out: Path, prepared: PreparedStream) -> None:
    """Write ``stream.parquet`` (and ``outbound.parquet``) once, then let go of their columns:
    the arms and the comparator need only ``prepared.stream``."""
    if not prepared.columns:
        return
    write_columns(prepared.columns, out / "stream.parquet")
    if len(prepared.outbound["sent_at"]):
        write_columns(prepared.outbound, out / "outbound.parquet")
    prepared.columns = {}
    prepared.outbound = {}


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
    readings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write every data file and ``run.json``; returns the replay summary. ``readings``: what
    ``replay.readings`` ran and wrote (only with stages)."""
    write_stream(out, prepared)
    # one arm's table after the other: the same bytes as their concatenated frame, without
    # holding a copy of every frame
    outcomes = pa.concat_tables(
        [pa.Table.from_pandas(comparison.frames[r.name], preserve_index=False) for r in results]
    )
    # parquet encoding releases the GIL: outcomes.parquet is written while the divergence
    # lines are built (each file is written by one thread, so its bytes do not change)
    with ThreadPoolExecutor(max_workers=1) as background:
        outcomes_written = background.submit(write_parquet, out / "outcomes.parquet", outcomes)
        del outcomes
        signatures, pair_counts = _write_divergences(out, comparison)
        outcomes_written.result()
    write_parquet(out / "gauges.parquet", gauge_frame(results))
    stream = prepared.stream
    facts = RunFacts(
        messages=len(stream),
        contacts=prepared.contacts,
        first_at_us=prepared.t0,
        span_us=int(stream.received_at[-1]) if len(stream) else 0,
        cohorts={
            stage: (len(np.unique(stream.contact_id.codes[chosen])), int(np.count_nonzero(chosen)))
            for stage, chosen in stream.cohorts.items()
        },
        fates={r.name: np.bincount(r.fate, minlength=len(FATES)) for r in results},
        message_names=prepared.message_names,
        text_names=prepared.text_names,
    )
    return write_manifest(
        out,
        options,
        config,
        loaded,
        specs,
        results,
        cohorts,
        facts,
        signatures,
        pair_counts,
        readings,
    )


@dataclass(slots=True)
class RunFacts:
    """What ``run.json`` says of the stream and the outcomes, however they were counted."""

    messages: int
    contacts: int
    first_at_us: int
    span_us: int
    cohorts: dict[int, tuple[int, int]]  # stage -> (contacts, messages)
    fates: dict[str, Any]  # arm -> count of each fate code
    message_names: dict[str, str]
    text_names: dict[str, dict[str, str]]


def write_manifest(
    out: Path,
    options: ReplayOptions,
    config: EffectiveConfig,
    loaded: LoadedInputs,
    specs: Sequence[ArmSpec],
    results: Sequence[ArmResult],
    cohorts: Cohorts,
    facts: RunFacts,
    signatures: list[dict[str, Any]],
    pair_counts: dict[str, dict[str, dict[str, int]]],
    readings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``rejected.jsonl`` and ``run.json`` (last: it lists every data file's sha256);
    returns the replay summary. ``results`` give the arms' stats, gauges and counters."""
    if loaded.rejected:
        write_jsonl(out / "rejected.jsonl", [r.as_json() for r in loaded.rejected])
    fates = {
        name: {fate: int(n) for fate, n in zip(FATES, counts, strict=True)}
        for name, counts in facts.fates.items()
    }
    stages_info = {
        str(stage): {"contacts": contacts, "messages": messages}
        for stage, (contacts, messages) in facts.cohorts.items()
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
        "stages": sorted(facts.cohorts),
        "flip_at": options.flip_at,
        "rollout": {"fingerprint": cohorts.fingerprint, "cohorts": stages_info},
        "assumptions": assumptions_in_force(flat),
        "keep_raw": options.keep_raw,
        "stream": {
            "messages": facts.messages,
            "contacts": facts.contacts,
            "first_at_us": facts.first_at_us,
            "span_s": round(facts.span_us / 1e6, 6),
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
        # the texts the agent configuration names, by their class in this run (explain tells
        # the re-run agent; messages carry classes, never texts)
        "text_classes": {
            kind: dict(sorted(named.items())) for kind, named in facts.text_names.items()
        },
        "script_message_ids": {
            raw: facts.message_names[raw]
            for raw in sorted(config.model.environment.agent.script)
            if raw in facts.message_names
        },
    }
    if readings is not None:
        manifest["readings"] = readings
    manifest["files"] = file_hashes(out)
    write_json(out / "run.json", manifest)
    return {
        "run_dir": str(out),
        "messages": facts.messages,
        "rejected_reasons": [
            {"reason": group.reason, "lines": group.count, "first": group.first}
            for group in rejection_groups(loaded.rejected)
        ],
        "contacts": facts.contacts,
        "arms": fates,
        "divergences": pair_counts,
        "top_signatures": [
            {
                k: s[k]
                for k in (
                    "signature",
                    "baseline",
                    "candidate",
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


def _write_divergences(
    out: Path, comparison: Comparison
) -> tuple[list[dict[str, Any]], dict[str, dict[str, dict[str, int]]]]:
    """Stream ``divergences.jsonl`` and ``signatures.json``; returns the signatures and the
    per-pair counts by severity and kind."""
    groups = SignatureGroups()
    pair_counts: dict[str, dict[str, dict[str, int]]] = {}

    def lines() -> Iterator[str]:
        for pair in comparison.pairs:
            b, c = comparison.frames[pair.baseline], comparison.frames[pair.candidate]
            by_severity = {s: 0 for s in SEVERITIES}
            by_kind: dict[str, int] = {}
            b_cause = column_values(b["cause"].take(pair.seqs))
            c_cause = column_values(c["cause"].take(pair.seqs))
            for index, seq in enumerate(pair.seqs.tolist()):
                by_severity[pair.severity[index]] += 1
                for kind in pair.kinds[index]:
                    by_kind[kind] = by_kind.get(kind, 0) + 1
                groups.add_divergence(
                    pair.baseline,
                    pair.candidate,
                    seq,
                    pair.signature[index],
                    pair.kinds[index],
                    pair.severity[index],
                    b_cause[index],
                    c_cause[index],
                )
            yield from divergence_texts(pair, b, c)
            pair_counts[f"{pair.baseline} vs {pair.candidate}"] = {
                "by_severity": by_severity,
                "by_kind": dict(sorted(by_kind.items())),
            }

    write_lines(out / "divergences.jsonl", lines())
    signatures = groups.summary()
    write_json(out / "signatures.json", signatures)
    return signatures, pair_counts


def gauge_frame(results: Sequence[ArmResult]) -> pd.DataFrame:
    """Every gauge sample of every arm: arm, structure, time (s), value, cap."""
    return gauge_rows([(result.name, gauge) for result in results for gauge in result.gauges])


def gauge_rows(gauges: Sequence[tuple[str, GaugeRecord]]) -> pd.DataFrame:
    """``gauge_frame``'s rows for (arm, gauge) pairs, each with the samples it holds."""
    counts = [len(gauge.samples) for _, gauge in gauges]
    at, value = np.concatenate([np.zeros((0, 2), np.int64), *(g.samples for _, g in gauges)]).T

    def repeated(values: list[Any]) -> Any:
        return pd.Series(values, dtype="object").repeat(counts).reset_index(drop=True)

    caps = [gauge.cap for _, gauge in gauges]
    has_cap = np.repeat(np.asarray([cap is not None for cap in caps], dtype=bool), counts)
    cap = np.repeat(np.asarray([cap or 0 for cap in caps], dtype=np.int64), counts)
    return pd.DataFrame(
        {
            "arm": repeated([name for name, _ in gauges]).astype("string"),
            "structure": repeated([gauge.name for _, gauge in gauges]).astype("string"),
            "time": pd.Series(at / 1e6, dtype="float64"),
            "value": pd.Series(value, dtype="int64"),
            "cap": pd.arrays.IntegerArray(cap, mask=~has_cap),
        }
    )
