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

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shadow.kernel import FATES
from shadow.simulation import ArmResult, Codes, Stream
from shadow.streams import (
    OUTBOUND_SCHEMA,
    STREAM_SCHEMA,
    InboundRecord,
    OutboundRecord,
    Pseudonyms,
    outbound_columns,
    record_columns,
    stream_columns,
)
from shadow.world import AgentSettings, EnvironmentSettings, ScriptEntry


@dataclass(frozen=True, slots=True)
class Cohorts:
    """Stage membership of every contact, from the production flag's own bucketing."""

    stages: tuple[int, ...]
    entry_stage: Callable[[str], int]  # real contact id -> smallest stage holding it (101: none)
    fingerprint: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class PreparedStream:
    """The stream the arms run on, and the arrow columns ``stream.parquet`` stores."""

    stream: Stream
    columns: dict[str, Any]
    outbound: dict[str, Any]
    recorded: ArmResult | None
    t0: int
    contacts: int
    message_names: dict[str, str]  # raw message id -> pseudonym (empty with keep_raw)
    text_names: dict[str, dict[str, str]] = field(default_factory=dict)  # config text -> class


def prepare_stream(
    inbound: Iterable[InboundRecord],
    outbound: Sequence[OutboundRecord],
    cohorts: Cohorts | None,
    keep_raw: bool,
    send_latency: int,
    named_messages: Collection[str] | None = None,
    links: bool = False,
    agent: AgentSettings | None = None,
    contents: bool | None = None,
) -> PreparedStream:
    """Pseudonymize, rebase times on the first message, compute cohorts and recorded replies.

    ``inbound`` is read once, a chunk at a time: no record outlives its chunk. ``message_names``
    holds the ids of ``named_messages`` (every id when ``None``). ``links``: the records hold
    delivered events, whose kind and original message id ``stream.parquet`` keeps.
    ``text_names`` holds the classes of the texts ``agent`` names (``translate_texts``).
    ``contents``: ``stream_columns``'.
    """
    names = Pseudonyms.from_environment()
    raw = record_columns(inbound, keep_raw, links)
    bucket_of = cohorts.entry_stage if cohorts else None
    columns = stream_columns(raw, keep_raw, names, bucket_of, contents)
    out_columns = outbound_columns(outbound, keep_raw, names, raw)
    del raw
    t0 = int(columns["received_at"][0].as_py()) if len(columns["received_at"]) else 0
    stages = cohorts.stages if cohorts else ()
    stream = stream_from_columns(columns, out_columns, t0, stages, send_latency)
    recorded = _recorded_arm(len(stream), out_columns, t0) if len(outbound) else None
    message_names: dict[str, str] = {}
    if not keep_raw:
        message_names = (
            names.known_messages()
            if named_messages is None
            else names.messages_named(named_messages)
        )
    text_names: dict[str, dict[str, str]] = {}
    if agent is not None:
        text_names = names.texts_named(_agent_texts(agent), agent.replies)
    return PreparedStream(
        stream,
        columns,
        out_columns,
        recorded,
        t0,
        pc.count_distinct(columns["contact_id"]).as_py(),
        message_names,
        text_names,
    )


def _agent_texts(agent: AgentSettings) -> list[str]:
    """The reply texts a configuration names: the replies map's and the script's."""
    texts = list(agent.replies.values())
    texts += [entry.reply for entry in agent.script.values() if entry.reply is not None]
    return texts


def stream_from_columns(
    columns: Mapping[str, Any],
    outbound: Mapping[str, Any] | None,
    t0: int,
    stages: Sequence[int],
    send_latency: int,
) -> Stream:
    """The arms' stream from ``stream.parquet`` columns: a replay and ``explain`` share it.

    Columns are arrow arrays (or plain sequences). Stage membership is ``bucket <= P``: every
    provider's rule reduces to that for whole percentages (shadow.rollout). Recorded latency is
    reply time minus ``received_at`` minus the configured send latency.
    """

    def column(name: str, schema: Mapping[str, Any] = STREAM_SCHEMA) -> Any:
        values = columns[name] if schema is STREAM_SCHEMA else outbound[name]  # type: ignore[index]
        if isinstance(values, pa.ChunkedArray):
            return values.combine_chunks()
        return values if isinstance(values, pa.Array) else pa.array(list(values), schema[name])

    def text(name: str) -> Codes:
        return Codes.from_arrow(column(name).fill_null(""))

    received = column("received_at").to_numpy(zero_copy_only=False).astype(np.int64) - t0
    stream = Stream(
        message_id=text("message_id"),
        contact_id=text("contact_id"),
        received_at=received,
        text_hash=text("text_hash"),
        text_norm_hash=text("text_norm_hash"),
        type=text("type"),
        topic=text("topic"),
        repeat_kind=text("repeat_kind"),
        content_hash=text("content_hash") if "content_hash" in columns else None,
    )
    buckets = column("bucket")
    known = buckets.is_valid().to_numpy(zero_copy_only=False)
    entry = buckets.fill_null(0).to_numpy(zero_copy_only=False)
    for stage in stages:
        stream.cohorts[stage] = known & (entry <= stage) & (stage > 0)
    if outbound and len(outbound["reply_seq"]):
        seen: set[int] = set()
        stream.reference_replies = {}
        sent = column("sent_at", OUTBOUND_SCHEMA).to_pylist()
        replies = column("reply_seq", OUTBOUND_SCHEMA).to_pylist()
        for seq, sent_at in zip(replies, sent, strict=True):
            if seq is None or seq in seen:
                continue
            seen.add(seq)
            stream.reference_replies[seq] = sent_at - t0
            latency = sent_at - t0 - int(received[seq]) - send_latency
            stream.recorded_latency[seq] = max(0, latency)
    return stream


def _recorded_arm(size: int, outbound: Mapping[str, Any], t0: int) -> ArmResult:
    """What production did, as an arm: answered where a recorded reply answers the seq."""
    first = [-1] * size
    count = [0] * size
    text: list[str | None] = [None] * size
    for seq, sent_at, text_hash in zip(
        outbound["reply_seq"].to_pylist(),
        outbound["sent_at"].to_pylist(),
        outbound["text_hash"].to_pylist(),
        strict=True,
    ):
        if seq is None:
            continue
        if first[seq] < 0:
            first[seq] = sent_at - t0
            text[seq] = text_hash
        count[seq] += 1
    answered = np.asarray(count, dtype=np.int32) > 0
    unanswered = np.where(answered, 0, 1)
    return ArmResult(
        name="recorded",
        fate=np.where(answered, 0, FATES.index("unanswered")).astype(np.int8),
        rule=Codes.of(unanswered, ("", "recorded")),
        cause=Codes.of(unanswered, ("", "recorded")),
        processing_count=np.zeros(size, dtype=np.int32),
        reply_count=np.asarray(count, dtype=np.int32),
        first_reply_at=np.asarray(first, dtype=np.int64),
        batch_size=np.zeros(size, dtype=np.int32),
        reply_text_hash=pa.array(text, pa.string()),
        waits=np.full((3, size), -1, dtype=np.int64),
        system=Codes.of(np.zeros(size, dtype=np.int8), ("recorded",)),
        gauges=[],
        stats={},
        stopped_at=0,
        events=[],
    )


def translate_texts(
    settings: EnvironmentSettings, names: Mapping[str, Mapping[str, str]]
) -> EnvironmentSettings:
    """Tell the agent the run's classes of the texts it names (messages carry classes)."""
    if not names:
        return settings
    agent = replace(
        settings.agent,
        reply_classes=dict(names.get("exact", {})),
        key_classes=dict(names.get("normalized", {})),
    )
    return replace(settings, agent=agent)


def translate_script(settings: EnvironmentSettings, names: dict[str, str]) -> EnvironmentSettings:
    """Re-key the agent script by pseudonymized message ids (the arms only see pseudonyms)."""
    script = settings.agent.script
    if not script or not names:
        return settings
    translated: dict[str, ScriptEntry] = {names.get(k, k): v for k, v in script.items()}
    return replace(settings, agent=replace(settings.agent, script=translated))
