"""A whole replay: capture -> normalized stream -> arms -> comparison -> run folder contents.

Guarantees:

1. The result depends only on the inputs' content, the effective configuration and the seed:
   not on paths, worker count, ``PYTHONHASHSEED`` or the wall clock.
2. Contacts and message ids are pseudonymized before any arm sees them (unless ``keep_raw``),
   so run files, reports and ``explain`` show the same names.
3. Times inside the run are µs from the stream's first message: shifting a whole capture in
   time changes no outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from shadow.arms import ArmSpec, ModelSettings, default_arms, default_pairs, parse_arms
from shadow.compare import (
    CompareSettings,
    PairDivergences,
    compare_pair,
    outcome_frame,
    stream_facts,
)
from shadow.environment import EnvironmentSettings, ScriptEntry
from shadow.handover import handover_mask
from shadow.kernel import FATES
from shadow.runner import ArmProgress, ArmResult, RunPlan, Stream, previous_stage, run_arms
from shadow.streams.normalize import Capture
from shadow.streams.parquet import Pseudonyms, outbound_columns, stream_columns
from shadow.streams.record import InboundRecord, OutboundRecord


@dataclass(frozen=True, slots=True)
class Cohorts:
    """Stage membership of every contact, from the production flag's own bucketing."""

    stages: tuple[int, ...]
    entry_stage: Callable[[str], int]  # real contact id -> smallest stage holding it (101: none)
    fingerprint: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class PreparedStream:
    """The stream the arms run on, and the columns ``stream.parquet`` stores."""

    stream: Stream
    columns: dict[str, list[Any]]
    outbound: dict[str, list[Any]]
    recorded: ArmResult | None
    t0: int
    contacts: int
    message_names: dict[str, str]  # raw message id -> pseudonym (empty with keep_raw)


def prepare_stream(
    inbound: Sequence[InboundRecord],
    outbound: Sequence[OutboundRecord],
    cohorts: Cohorts | None,
    keep_raw: bool,
    send_latency: int,
) -> PreparedStream:
    """Pseudonymize, rebase times on the first message, compute cohorts and recorded replies."""
    names = Pseudonyms.from_environment()
    capture = Capture(inbound=list(inbound), outbound=list(outbound))
    bucket_of = cohorts.entry_stage if cohorts else None
    columns = stream_columns(capture, keep_raw, names, bucket_of)
    out_columns = outbound_columns(capture, keep_raw, names)
    t0 = inbound[0].received_at if inbound else 0
    stages = cohorts.stages if cohorts else ()
    stream = stream_from_columns(columns, out_columns, t0, stages, send_latency)
    recorded = _recorded_arm(len(inbound), out_columns, t0) if outbound else None
    return PreparedStream(
        stream,
        columns,
        out_columns,
        recorded,
        t0,
        len(set(columns["contact_id"])),
        {} if keep_raw else names.known_messages(),
    )


def stream_from_columns(
    columns: Mapping[str, Sequence[Any]],
    outbound: Mapping[str, Sequence[Any]] | None,
    t0: int,
    stages: Sequence[int],
    send_latency: int,
) -> Stream:
    """The arms' stream from ``stream.parquet`` columns: a replay and ``explain`` share it.

    Stage membership is ``bucket <= P``: every provider's rule reduces to that for whole
    percentages (rollout.py). Recorded latency is reply time minus ``received_at`` minus the
    configured send latency.
    """
    received = [int(t) - t0 for t in columns["received_at"]]
    stream = Stream(
        message_id=[str(v) for v in columns["message_id"]],
        contact_id=[str(v) for v in columns["contact_id"]],
        received_at=received,
        text_hash=[str(v) for v in columns["text_hash"]],
        text_norm_hash=[str(v) for v in columns["text_norm_hash"]],
        type=[str(v) for v in columns["type"]],
        topic=[str(v or "") for v in columns["topic"]],
        repeat_kind=[str(v or "") for v in columns["repeat_kind"]],
    )
    buckets = columns["bucket"]
    for stage in stages:
        stream.cohorts[stage] = [
            stage > 0 and b is not None and not _isnan(b) and int(b) <= stage for b in buckets
        ]
    if outbound:
        seen: set[int] = set()
        for seq, sent_at in zip(outbound["reply_seq"], outbound["sent_at"], strict=True):
            if seq is None or _isnan(seq) or int(seq) in seen:
                continue
            seen.add(int(seq))
            latency = int(sent_at) - t0 - received[int(seq)] - send_latency
            stream.recorded_latency[int(seq)] = max(0, latency)
    return stream


def _isnan(value: Any) -> bool:
    return isinstance(value, float) and value != value


def _recorded_arm(size: int, outbound: Mapping[str, Sequence[Any]], t0: int) -> ArmResult:
    """What production did, as an arm: answered where a recorded reply answers the seq."""
    first = [-1] * size
    count = [0] * size
    text: list[str | None] = [None] * size
    for seq, sent_at, text_hash in zip(
        outbound["reply_seq"], outbound["sent_at"], outbound["text_hash"], strict=True
    ):
        if seq is None:
            continue
        if first[seq] < 0:
            first[seq] = sent_at - t0
            text[seq] = text_hash
        count[seq] += 1
    fate = [0 if c else FATES.index("unanswered") for c in count]
    return ArmResult(
        name="recorded",
        fate=np.asarray(fate, dtype=np.int8),
        rule=["" if c else "recorded" for c in count],
        cause=["" if c else "recorded" for c in count],
        processing_count=np.zeros(size, dtype=np.int32),
        reply_count=np.asarray(count, dtype=np.int32),
        first_reply_at=np.asarray(first, dtype=np.int64),
        batch_size=np.zeros(size, dtype=np.int32),
        reply_text_hash=text,
        waits=np.full((3, size), -1, dtype=np.int64),
        system=["recorded"] * size,
        gauges=[],
        stats={},
        stopped_at=0,
        events=[],
    )


def translate_script(settings: EnvironmentSettings, names: dict[str, str]) -> EnvironmentSettings:
    """Re-key the agent script by pseudonymized message ids (the arms only see pseudonyms)."""
    script = settings.agent.script
    if not script or not names:
        return settings
    translated: dict[str, ScriptEntry] = {names.get(k, k): v for k, v in script.items()}
    return replace(settings, agent=replace(settings.agent, script=translated))


@dataclass(slots=True)
class Comparison:
    """Outcome frames of every arm and the divergences of every pair."""

    frames: dict[str, pd.DataFrame]
    pairs: list[PairDivergences]


def compare_arms(
    results: Sequence[ArmResult],
    prepared: PreparedStream,
    specs: Sequence[ArmSpec],
    settings: CompareSettings,
    flip_at: int | None = None,
    stages: Sequence[int] = (),
) -> Comparison:
    """Build every arm's outcome frame and compare the default pairs."""
    stream = prepared.stream
    received = np.asarray(stream.received_at, dtype=np.int64)
    repeat_of, repeat_kind = stream_facts(
        stream.contact_id,
        stream.message_id,
        stream.text_hash,
        stream.received_at,
        stream.repeat_kind,
        settings.repeat_horizon,
    )
    frames = {
        result.name: outcome_frame(result, stream.contact_id, received, repeat_of, repeat_kind)
        for result in results
    }
    pairs: list[PairDivergences] = []
    simulated = [spec for spec in specs if spec.name in frames]
    for baseline, candidate in default_pairs(simulated):
        b, c = frames[baseline], frames[candidate]
        effect = None
        extra = None
        spec = next(s for s in specs if s.name == candidate)
        if spec.stage is not None:
            effect = np.asarray(stream.cohorts.get(spec.stage, [False] * len(stream)))
            if flip_at is not None:
                before = stream.cohorts.get(previous_stage(stages, spec.stage))
                moved = effect ^ np.asarray(before if before else [False] * len(stream))
                extra = {"handover": handover_mask(c, received, flip_at, moved)}
        pairs.append(compare_pair(b, c, settings, extra=extra, effect=effect))
    return Comparison(frames, pairs)


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
) -> RunPlan:
    return RunPlan(tuple(specs), models, drain, gauge_interval, tuple(stages), flip_at)


def run_and_compare(
    plan: RunPlan,
    prepared: PreparedStream,
    compare_settings: CompareSettings,
    workers: int | None,
    on_progress: ArmProgress | None = None,
) -> tuple[list[ArmResult], Comparison]:
    """Run the plan's simulated arms, add ``recorded`` when present, compare the pairs."""
    results = run_arms(plan, prepared.stream, workers, on_progress=on_progress)
    if prepared.recorded is not None and any(s.name == "recorded" for s in plan.arms):
        results.append(prepared.recorded)
    order = {spec.name: index for index, spec in enumerate(plan.arms)}
    results.sort(key=lambda r: order.get(r.name, len(order)))
    comparison = compare_arms(
        results, prepared, plan.arms, compare_settings, plan.flip_at, plan.stages
    )
    return results, comparison
