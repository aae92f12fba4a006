"""A replay fed chunk by chunk: the streaming pipeline behind ``shadow replay``, and what live
watching builds on.

Use::

    loop = ChunkLoop(options, loaded)      # loaded: LoadedInputs (its inbound is not read)
    for records in chunks:                 # InboundRecords, received_at non-decreasing
        loop.feed(records)                 # across feeds as within one
    summary = loop.flush()                 # the run folder complete; the --json summary

``on_final`` (optional) hears each batch of outcomes as it is written: ``{arm: frame}``, the
frames of ``compare.outcome_frame`` for consecutive seqs.

A loop is used once: ``feed`` any number of times, then ``flush`` once.

Guarantees:

1. Exactness: the run folder (every file but ``timing.json``) is byte-identical to the
   whole-capture run of the same records, however they are cut into chunks.
   ``timing.json`` says how many chunks were fed (``chunks``).
2. Each arm keeps one kernel alive across chunks: a chunk's arrivals are delivered, then the
   kernel stops after the last one's microtasks (timers due later run in the next chunk or in
   the final drain), which is the order of one uninterrupted run (kernel guarantee 5). With
   two workers or more, the arms live in long-lived worker processes (``ArmWorkers``): the
   next chunk is normalized, and the last one's final outcomes compared and written, while
   they simulate.
3. Finality: a seq's outcome is taken out of an arm once the arm closed it (no open message),
   and ``settle`` µs of virtual time passed since it arrived. An event about a seq taken out
   raises ``SettledTooEarly``; the replay then starts over holding every outcome to the end
   (one chunk), so a too-short ``settle`` costs time, never a wrong file.
4. Order verdicts: a seq is compared and written once it is final in every arm and every seq
   that arrived before its latest first reply is final too (only those can have been answered
   before it: a reply never precedes its message).
5. Memory: what stays between chunks grows with the contacts, texts and message ids seen
   (pseudonyms, repeat detection), not with the messages, except seqs held back by the rules
   above. Redelivery detection and message-id pseudonyms forget an id ``id_retention`` µs
   after it was last seen (default ``ID_RETENTION``: a week, longer than any gateway's
   redelivery horizon); a redelivery later than that is a new message (the one way a stream
   longer than the retention differs from a whole-capture run). Gauge samples are spooled to
   disk as they are taken. Runs with ``--flip-at``, reactive users (their own sending times,
   which the order verdicts read across the run) or recorded replies (outbound records) hold
   every outcome to the end; recorded replies, and agent texts in the configuration (their
   classes must be known before the first message is simulated), every record too, normalized
   once all are read. A loop replays no open reading: a staged run with ``run.readings`` is
   compared whole (``pipeline.reads_whole_run``); a loop refuses one. ``stream.parquet``,
   ``outcomes.parquet`` and ``gauges.parquet`` are written in row groups of ``ROW_GROUP``
   rows, the same whatever the chunks.
7. Repeat classes: an unlabelled content repeat is told (``compare.answered_repeats``) by the
   baseline's (``recorded``, else ``legacy``) first reply to its original, which is final
   when the repeat is written: in its window, or remembered while it may still be recent.
6. Checkpoints: ``checkpoint()`` is a small picklable value (the options, ``settle`` and the
   size of every chunk fed). The arms' kernels hold running generators, which do not pickle;
   a run is deterministic, so ``ChunkLoop.resume(checkpoint, loaded, records)`` re-feeds the same
   records in the same chunks into a fresh run folder and gives a loop in the same state.
"""

from __future__ import annotations

import contextlib
import cProfile
import itertools
import os
import shutil
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from shadow.common import SEVERITIES, Stopwatch, UsageError
from shadow.compare import (
    REPEAT_KINDS,
    RepeatIndex,
    SignatureGroups,
    answered_repeats,
    column_values,
    compare_pair,
    divergence_texts,
    handover_mask,
    outcome_frame,
)
from shadow.config import selected_readings
from shadow.kernel import FATES, OutcomeTaken
from shadow.prepare import (
    Cohorts,
    prepare_stream,
    resolve_arms,
    stream_from_columns,
    translate_texts,
)
from shadow.replay.inputs import (
    NOTHING_TO_REPLAY,
    LoadedInputs,
    ReplayOptions,
    cohorts_for,
    compare_settings,
    effective_config,
)
from shadow.replay.manifest import RunFacts, gauge_rows, write_manifest
from shadow.replay.readings import readings_record
from shadow.runfolder import check_target, write_json, write_parquet
from shadow.simulation import (
    ArmProgress,
    ArmResult,
    ArmSpec,
    ArmWorkers,
    Codes,
    GaugeRecord,
    ModelSettings,
    RunPlan,
    Stream,
    StreamingArm,
    default_pairs,
    previous_stage,
    release_free_memory,
)
from shadow.streams import (
    REDACT_KEY_ENV,
    STREAM_SCHEMA,
    Pseudonyms,
    Redactor,
    record_columns,
    stream_columns,
)
from shadow.streams import write_parquet as write_columns

#: Default retention of message ids for redelivery detection: a week, in µs.
ID_RETENTION = 7 * 24 * 3600 * 1_000_000
#: Records per chunk when the caller does not say.
CHUNK = 1 << 15
#: Rows per row group of ``stream.parquet`` and ``outcomes.parquet``.
ROW_GROUP = 1 << 16
#: Seqs compared and written at a time (fewer at the end).
EMIT = 1 << 13

SettledTooEarly = OutcomeTaken  # guarantee 3: what an arm raises

#: Called with each batch of final outcome frames ``{arm: frame}`` as it is written.
OnFinal = Callable[[dict[str, pd.DataFrame]], object]
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Checkpoint:
    """What ``ChunkLoop.resume`` needs besides the records themselves (guarantee 6)."""

    options: ReplayOptions
    chunk_sizes: tuple[int, ...]
    settle: int | None

    @property
    def records(self) -> int:
        """How many records were fed before the checkpoint."""
        return sum(self.chunk_sizes)


@dataclass
class _Pending:
    """Stream facts of the seqs fed and not yet written, from seq ``start`` on."""

    start: int = 0
    table: pa.Table | None = None

    def add(self, table: pa.Table) -> None:
        self.table = table if self.table is None else pa.concat_tables([self.table, table])

    def window(self, stop: int) -> pa.Table:
        assert self.table is not None
        return self.table.slice(0, stop - self.start).combine_chunks()

    def drop(self, stop: int) -> None:
        assert self.table is not None
        self.table = self.table.slice(stop - self.start)
        self.start = stop


class _RowGroups:
    """A parquet file written ``rows`` rows a row group, with fixed options."""

    def __init__(self, path: Path, rows: int, **options: Any) -> None:
        self.path = path
        self.rows = rows
        self.options = options
        self.writer: pq.ParquetWriter | None = None
        self.pending: list[pa.Table] = []
        self.count = 0

    def add(self, table: pa.Table) -> None:
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema, **self.options)
        elif table.schema.metadata != self.writer.schema.metadata:
            table = table.replace_schema_metadata(self.writer.schema.metadata)
        self.pending.append(table)
        self.count += table.num_rows
        while self.count >= self.rows:
            self._write(self.rows)

    def _write(self, rows: int) -> None:
        assert self.writer is not None
        whole = pa.concat_tables(self.pending)
        self.writer.write_table(whole.slice(0, rows).combine_chunks(), row_group_size=rows)
        rest = whole.slice(rows)
        self.pending = [rest] if rest.num_rows else []
        self.count -= rows

    def close(self) -> None:
        if self.writer is None:
            return
        if self.count:
            self._write(self.count)
        self.writer.close()


_STREAM_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": False,
    "write_statistics": False,
    "store_schema": False,
    "version": "2.6",
    "data_page_version": "1.0",
}
_OUTCOME_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": False,
    "data_page_size": 1 << 20,
}


class _FixedArm:
    """The ``recorded`` arm: known whole from the start, taken out in the same steps."""

    def __init__(self, result: ArmResult) -> None:
        self.result = result
        self.base = 0

    def settled_until(self, settle: int) -> int:
        return len(self.result.fate)

    def take(self, stop: int) -> ArmResult:
        taken = _slice(self.result, self.base, stop)
        self.base = stop
        return taken

    def finish(self) -> ArmResult:
        return self.take(len(self.result.fate))


def _slice(result: ArmResult, start: int, stop: int, first_seq: int = 0) -> ArmResult:
    """Rows ``start`` .. ``stop - 1`` of ``result``, whose first row is seq ``first_seq``."""
    low, high = first_seq + start, first_seq + stop

    def codes(column: Codes) -> Codes:
        return Codes(column.codes[start:stop], column.values)

    return ArmResult(
        name=result.name,
        fate=result.fate[start:stop],
        rule=codes(result.rule),
        cause=codes(result.cause),
        processing_count=result.processing_count[start:stop],
        reply_count=result.reply_count[start:stop],
        first_reply_at=result.first_reply_at[start:stop],
        batch_size=result.batch_size[start:stop],
        reply_text_hash=result.reply_text_hash[start:stop],
        waits=result.waits[:, start:stop],
        system=codes(result.system),
        gauges=result.gauges,
        stats=result.stats,
        stopped_at=result.stopped_at,
        events=result.events,
        recorded_fallbacks=result.recorded_fallbacks,
        sent_at={seq: at for seq, at in result.sent_at.items() if low <= seq < high},
    )


def _concat(parts: Sequence[ArmResult]) -> ArmResult:
    """One arm's consecutive partial results as one."""
    if len(parts) == 1:
        return parts[0]

    def codes(name: str) -> Codes:
        return Codes.from_arrow(
            pa.concat_arrays([getattr(p, name).to_arrow() for p in parts]).cast(pa.string())
        )

    first = parts[-1]
    return ArmResult(
        name=first.name,
        fate=np.concatenate([p.fate for p in parts]),
        rule=codes("rule"),
        cause=codes("cause"),
        processing_count=np.concatenate([p.processing_count for p in parts]),
        reply_count=np.concatenate([p.reply_count for p in parts]),
        first_reply_at=np.concatenate([p.first_reply_at for p in parts]),
        batch_size=np.concatenate([p.batch_size for p in parts]),
        reply_text_hash=pa.concat_arrays([p.reply_text_hash for p in parts]),
        waits=np.concatenate([p.waits for p in parts], axis=1),
        system=codes("system"),
        gauges=first.gauges,
        stats=first.stats,
        stopped_at=first.stopped_at,
        events=first.events,
        recorded_fallbacks=first.recorded_fallbacks,
        sent_at={seq: at for part in parts for seq, at in part.sent_at.items()},
    )


class _ForgetfulNames(Pseudonyms):
    """``streams.Pseudonyms`` whose message ids are forgotten ``retention`` µs after they were
    last seen, row by row (so the same whatever the chunks): an id seen again later gets a
    fresh pseudonym, as redelivery detection takes it for a new message. Contacts are named as
    ``Pseudonyms`` names them. Set ``received`` (the rows' times) before each ``messages``."""

    def __init__(self, key: str | None, retention: int, named: Iterable[str]) -> None:
        super().__init__(key)
        self._keyed = Redactor(key).message if key else None
        self._retention = retention
        self._seen: OrderedDict[str, tuple[str, int]] = OrderedDict()
        self._count = 0
        self._wanted = frozenset(named)
        self._named: dict[str, str] = {}
        self.received: list[int] = []

    def messages(self, raw: Any) -> Any:
        seen, retention = self._seen, self._retention
        names: list[str | None] = []
        for raw_id, at in zip(raw.to_pylist(), self.received, strict=True):
            if raw_id is None:
                names.append(None)
                continue
            while seen and next(iter(seen.values()))[1] < at - retention:
                seen.popitem(last=False)
            known = seen.pop(raw_id, None)
            if known is not None:
                name = known[0]
            elif self._keyed is not None:
                name = self._keyed(raw_id)
            else:
                self._count += 1
                name = f"m{self._count:07d}"
            seen[raw_id] = (name, at)
            if raw_id in self._wanted:
                self._named[raw_id] = name
            names.append(name)
        return pa.array(names, pa.string())

    def known_messages(self) -> dict[str, str]:
        return dict(self._named)

    def messages_named(self, raw_ids: Iterable[str]) -> dict[str, str]:
        return {raw: self._named[raw] for raw in raw_ids if raw in self._named}


@dataclass
class _PairState:
    """One pair's divergences so far: its lines spooled, its counts and signature groups."""

    baseline: str
    candidate: str
    stage: int | None
    lines: Path
    groups: SignatureGroups = field(default_factory=SignatureGroups)
    by_severity: dict[str, int] = field(default_factory=lambda: {s: 0 for s in SEVERITIES})
    by_kind: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, dict[str, int]]:
        return {"by_severity": self.by_severity, "by_kind": dict(sorted(self.by_kind.items()))}


class ChunkLoop:
    """The streaming replay (module docstring). The API is stable: live watching uses it."""

    def __init__(
        self,
        options: ReplayOptions,
        loaded: LoadedInputs,
        *,
        watch: Stopwatch | None = None,
        progress: Progress | None = None,
        arm_progress: ArmProgress | None = None,
        on_final: OnFinal | None = None,
        settle: int | None = -1,
        id_retention: int | None = None,
        emit_rows: int | None = None,
        profiles: dict[str, cProfile.Profile] | None = None,
    ) -> None:
        """``settle``: µs after its arrival before a closed seq is final (-1: the run's
        ``run.drain``; ``None``: hold every outcome to the end). ``emit_rows``: seqs compared
        and written at a time (a batch waits until that many are final; default ``EMIT``).
        ``profiles``: a profiler per phase (normalize, simulate, compare, write), each enabled
        while its phase runs (``shadow bench --profile``)."""
        self.profiles = profiles
        self.options = options
        self.loaded = loaded
        self.watch = watch or Stopwatch()
        self.note = progress or (lambda _message: None)
        self.arm_progress = arm_progress
        self.on_final = on_final
        self.emit_rows = max(1, EMIT if emit_rows is None else emit_rows)
        self.config = config = effective_config(options, loaded.scenario_env)
        self.out = out = options.out or Path("build/shadow") / loaded.stem
        check_target(out, options.force)
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        self.spool = out / ".chunks"
        self.spool.mkdir()
        self.stages = stages = sorted(set(options.stages))
        if stages and selected_readings(config.flat()["run.readings"]):
            raise ValueError(
                "a chunk loop replays no open reading (pipeline.reads_whole_run): "
                "set run.readings=none"
            )
        self.cohorts: Cohorts = cohorts_for(config, stages)
        environment = config.environment_settings()
        self.send_latency = environment.sender.latency.draw(0.5)
        self.message_names: dict[str, str] = {}
        self.specs = resolve_arms(options.arms, stages, bool(loaded.outbound))
        # the agent script, re-keyed by pseudonym as each id it names is first seen
        self.raw_script = dict(environment.agent.script)
        self.agent = environment.agent
        self.links = bool(loaded.accounting.get("delivered"))
        self.contents = loaded.contents
        self.text_names: dict[str, dict[str, str]] | None = None  # known whole (recorded)
        self.script = dict(self.raw_script)
        environment = replace(environment, agent=replace(environment.agent, script=self.script))
        models = ModelSettings(config.legacy_settings(), config.unified_settings(), environment)
        self.plan = RunPlan(
            tuple(self.specs),
            models,
            config.run.drain,
            config.run.gauge_interval,
            tuple(stages),
            options.flip_at,
            config.flip_downtime(),
        )
        self.settings = compare_settings(config)
        # recorded replies are matched to their messages across the whole capture; the agent's
        # texts must have their classes in the run before the first message is simulated
        agent = self.agent
        self.hold_records = bool(loaded.outbound) or bool(
            agent.replies or any(entry.reply is not None for entry in agent.script.values())
        )
        self.settle = config.run.drain if settle == -1 else settle
        if options.flip_at is not None or self.hold_records or environment.users == "reactive":
            # the handover, recorded replies and reactive users' own sending times are read
            # across the whole run: every outcome is held to the end (one window)
            self.settle = None
        retention = id_retention or options.id_retention or ID_RETENTION
        self.repeats = RepeatIndex(self.settings.repeat_horizon, retention)
        self.answered: dict[int, int] = {}
        self.answered_at: deque[int] = deque()
        self.answered_from = 0
        key = os.environ.get(REDACT_KEY_ENV) or None
        self.names = _ForgetfulNames(key, retention, self.raw_script)
        self.arm_names = [
            spec.name
            for spec in self.specs
            if spec.simulated or (spec.name == "recorded" and bool(loaded.outbound))
        ]
        with_outcomes = [spec for spec in self.specs if spec.name in self.arm_names]
        self.repeat_baseline = next(
            (name for name in ("recorded", "legacy") if name in self.arm_names), None
        )
        self.pairs = [
            _PairState(b, c, _stage_of(self.specs, c), self.spool / f"pair{index}.jsonl")
            for index, (b, c) in enumerate(default_pairs(with_outcomes))
        ]
        self.chunk_sizes: list[int] = []
        self.held_records: list[Any] = []
        self.fed = 0
        self.written = 0
        self.t0: int | None = None
        self.last_received = 0
        self.contacts: set[str] = set()
        self.stage_contacts: dict[int, set[str]] = {stage: set() for stage in stages}
        self.stage_messages: dict[int, int] = dict.fromkeys(stages, 0)
        self.fates = {name: np.zeros(len(FATES), np.int64) for name in self.arm_names}
        self.pending = _Pending()
        self.arms: dict[str, Any] = {}  # StreamingArm, its stand-in in a worker, _FixedArm
        self.workers: ArmWorkers | None = None
        self.held: dict[str, list[ArmResult]] = {name: [] for name in self.arm_names}
        self.stream_file = _RowGroups(out / "stream.parquet", ROW_GROUP, **_STREAM_OPTIONS)
        self.outcome_spool: dict[str, pa.ipc.RecordBatchStreamWriter] = {}
        self.outcome_schema: pa.Schema | None = None
        self.finished = False

    # -- the API -----------------------------------------------------------------------------
    def feed(self, records: Iterable[Any]) -> int:
        """Deliver one chunk to every arm; compare and write what became final. Returns the
        number of seqs written so far."""
        if self.finished:
            raise RuntimeError("a chunk loop takes no chunk after flush")
        batch = list(records)
        if not batch:
            return self.written
        self.chunk_sizes.append(len(batch))
        if self.hold_records:
            self.held_records.extend(batch)
            return self.written
        self._advance(batch)
        return self.written

    def flush(self) -> dict[str, Any]:
        """Drain every arm, write everything left and ``run.json``; the replay summary."""
        if self.finished:
            raise RuntimeError("a chunk loop is flushed once")
        self.finished = True
        if self.held_records:
            held, self.held_records = self.held_records, []
            self._advance(held)
        if not self.fed:
            shutil.rmtree(self.spool, ignore_errors=True)
            raise UsageError(NOTHING_TO_REPLAY)
        results = []
        with self._phase("simulate"):
            for name, arm in self.arms.items():
                finished = arm.finish()
                self.held[name].append(finished)
                results.append(finished)
            self.close()
        self._write_window(self.written, self.fed)
        with self._phase("write"):
            return self._write_files(results)

    def checkpoint(self) -> Checkpoint:
        """The loop's state as a small picklable value (guarantee 6)."""
        return Checkpoint(self.options, tuple(self.chunk_sizes), self.settle)

    @classmethod
    def resume(
        cls, checkpoint: Checkpoint, loaded: LoadedInputs, records: Iterable[Any], **hooks: Any
    ) -> ChunkLoop:
        """A loop in the state ``checkpoint`` was taken in, writing into the same run folder
        afresh: the first ``checkpoint.records`` of ``records`` (the ones fed before) are fed
        again in the same chunks."""
        options = checkpoint.options
        out = options.out or Path("build/shadow") / loaded.stem
        if (out / ".chunks").is_dir():  # the interrupted loop's own folder, half written
            shutil.rmtree(out)
        loop = cls(options, loaded, settle=checkpoint.settle, **hooks)
        source = iter(records)
        for size in checkpoint.chunk_sizes:
            chunk = list(itertools.islice(source, size))
            if len(chunk) < size:
                raise ValueError("fewer records than were fed before the checkpoint")
            loop.feed(chunk)
        return loop

    @property
    def chunks(self) -> int:
        """Chunks fed so far."""
        return len(self.chunk_sizes)

    @contextlib.contextmanager
    def _phase(self, name: str) -> Iterator[None]:
        """Time (and profile, when asked) a stretch of phase ``name``'s work."""
        profile = (self.profiles or {}).get(name)
        if profile is not None:
            profile.enable()
        try:
            yield
        finally:
            if profile is not None:
                profile.disable()
            self.watch.lap(name)

    # -- one chunk ---------------------------------------------------------------------------
    def _advance(self, batch: list[Any]) -> None:
        """Normalize the chunk (while worker arms still run the last one), take out what the
        last one settled, hand the chunk to the arms, then compare and write (while worker
        arms run this one)."""
        with self._phase("normalize"):
            stream, recorded = self._prepare(batch)
        collected = bool(self.arms) and self.settle is not None and not self.finished
        if collected:
            self._collect()
        with self._phase("simulate"):
            if not self.arms:
                self._start_arms(stream, recorded)
            if self.workers is not None:  # a process takes a chunk once done with the last
                for index in range(len(self.workers.links)):
                    self.workers.wait(index)
            for arm in self.arms.values():
                if not isinstance(arm, _FixedArm):
                    arm.feed(stream)
            self.fed += len(stream)
        if collected:
            self._write_ready()

    def _start_arms(self, stream: Stream, recorded: ArmResult | None) -> None:
        """Every arm, in plan order: simulated ones in worker processes when the run has
        more than one worker and more than one such arm, else here."""
        simulated = [spec for spec in self.specs if spec.simulated]
        processes = min(self.options.workers or os.cpu_count() or 1, len(simulated))
        if self.text_names:  # held records: the classes of the agent's texts are known now
            settings = self.plan.settings
            environment = translate_texts(settings.environment, self.text_names)
            self.plan = replace(self.plan, settings=replace(settings, environment=environment))
        replies = stream.reference_replies
        if processes > 1:
            self.workers = ArmWorkers(
                simulated,
                self.plan,
                stream.recorded_latency,
                processes,
                self.arm_progress,
                replies,
            )
        for spec in self.specs:
            if spec.simulated:
                self.arms[spec.name] = (
                    self.workers.arm(spec.name)
                    if self.workers is not None
                    else StreamingArm(
                        spec, self.plan, stream.recorded_latency, self.arm_progress, replies
                    )
                )
            elif spec.name in self.arm_names and recorded is not None:
                self.arms[spec.name] = _FixedArm(recorded)

    def close(self) -> None:
        """Stop the arms' worker processes (``flush`` does; call it when giving up early)."""
        if self.workers is not None:
            self.workers.close()
            self.workers = None

    def _prepare(self, batch: list[Any]) -> tuple[Stream, ArmResult | None]:
        """The chunk's stream (seqs from ``fed`` on), its rows of ``stream.parquet`` written,
        and, holding every record, the recorded arm."""
        options = self.options
        first_seq = self.fed
        recorded = None
        if self.hold_records:  # outbound replies are matched against the whole stream
            prepared = prepare_stream(
                batch,
                self.loaded.outbound,
                self.cohorts,
                options.keep_raw,
                self.send_latency,
                named_messages=self.raw_script,
                links=self.links,
                agent=self.agent,
                contents=self.contents,
            )
            del batch[:]
            columns, stream, recorded = prepared.columns, prepared.stream, prepared.recorded
            self.t0 = prepared.t0
            if len(prepared.outbound["sent_at"]):
                write_columns(prepared.outbound, self.out / "outbound.parquet")
            self.message_names = prepared.message_names
            self.text_names = prepared.text_names
        else:
            raw = record_columns(batch, options.keep_raw, self.links)
            del batch[:]
            self.names.received = raw["received_at"].to_pylist()
            columns = stream_columns(
                raw, options.keep_raw, self.names, self.cohorts.entry_stage, self.contents
            )
            del raw
            if self.t0 is None:
                self.t0 = int(columns["received_at"][0].as_py())
            stream = stream_from_columns(columns, None, self.t0, self.stages, self.send_latency)
            if not options.keep_raw:
                self.message_names = self.names.messages_named(self.raw_script)
        for raw_id, name in self.message_names.items():
            if raw_id in self.script and name not in self.script:
                self.script[name] = self.script.pop(raw_id)
        size = len(stream)
        columns["seq"] = pa.array(np.arange(first_seq, first_seq + size, dtype=np.int64))
        stream.first_seq = first_seq
        self.stream_file.add(_stream_table(columns))
        del columns
        self._remember(stream)
        return stream, recorded

    def _remember(self, stream: Stream) -> None:
        """Keep what the comparison needs of the chunk's seqs, and count what run.json says."""
        contact = stream.contact_id.tolist()
        received = stream.received_at
        repeat_of, repeat_kind = self.repeats.add(
            stream.first_seq,
            contact,
            stream.message_id.tolist(),
            stream.text_hash.tolist(),
            received.tolist(),
            stream.repeat_kind.tolist(),
            stream.type.tolist(),
            None if stream.content_hash is None else stream.content_hash.tolist(),
        )
        facts = {
            "contact_id": pa.array(contact, pa.string()),
            "received_at": pa.array(received),
            "repeat_of": pa.array(repeat_of),
            "repeat_kind": pa.array(np.asarray(repeat_kind.codes, dtype=np.int8)),
        }
        self.contacts.update(contact)
        for stage in self.stages:
            members = stream.members(stage)
            facts[f"stage{stage}"] = pa.array(members)
            chosen = np.flatnonzero(members).tolist()
            self.stage_contacts[stage].update(contact[i] for i in chosen)
            self.stage_messages[stage] += len(chosen)
        self.last_received = int(received[-1])
        self.pending.add(pa.table(facts))

    # -- final outcomes ----------------------------------------------------------------------
    def _collect(self) -> None:
        """Take out of every arm the seqs settled in all of them (guarantee 3)."""
        assert self.settle is not None
        with self._phase("simulate"):
            done = min(arm.settled_until(self.settle) for arm in self.arms.values())
            for name, arm in self.arms.items():
                if done > arm.base:
                    self.held[name].append(arm.take(done))
        with self._phase("write"):
            for name, arm in self.arms.items():
                if not isinstance(arm, _FixedArm):
                    self._spool_gauges(name, arm.take_gauges())

    def _spool_gauges(self, arm: str, gauges: list[GaugeRecord]) -> None:
        """Append each gauge's samples to its spool file (one per arm and gauge)."""
        arm_index = self.arm_names.index(arm)
        for index, gauge in enumerate(gauges):
            if len(gauge.samples):
                path = self.spool / f"gauge-{arm_index}-{index}.bin"
                with path.open("ab") as handle:
                    np.ascontiguousarray(gauge.samples, dtype=np.int64).tofile(handle)

    def _write_gauges(self, results: list[ArmResult]) -> None:
        """``gauges.parquet``: every arm's gauges, each gauge's spooled samples then the ones
        its arm still held, ``ROW_GROUP`` rows a row group (``manifest.gauge_frame``'s rows)."""
        out = self.out / "gauges.parquet"
        writer = _RowGroups(out, ROW_GROUP, **_OUTCOME_OPTIONS)
        for result in results:
            arm_index = self.arm_names.index(result.name)
            for index, gauge in enumerate(result.gauges):
                for samples in self._gauge_samples(arm_index, index, gauge.samples):
                    piece = GaugeRecord(gauge.name, gauge.cap, gauge.peak, gauge.peak_at, samples)
                    frame = gauge_rows([(result.name, piece)])
                    writer.add(pa.Table.from_pandas(frame, preserve_index=False))
        if writer.writer is None:  # no sample at all: the empty table, as a whole run writes
            write_parquet(out, gauge_rows([]))
        writer.close()

    def _gauge_samples(self, arm: int, index: int, held: Any) -> Iterator[Any]:
        path = self.spool / f"gauge-{arm}-{index}.bin"
        if path.exists():
            with path.open("rb") as handle:
                while len(part := np.fromfile(handle, dtype=np.int64, count=2 * ROW_GROUP)):
                    yield part.reshape(-1, 2)
        if len(held):
            yield held

    def _write_ready(self) -> None:
        """Compare and write the seqs taken out whose order verdicts are final (guarantee 4),
        once there are ``emit_rows`` of them."""
        start, done = self.written, self.arms_base()
        if done - start < self.emit_rows:
            return
        stop = self._order_final(start, done)
        if stop - start >= self.emit_rows:
            self._write_window(start, stop)
            with self._phase("write"):
                # what the window freed (reference counting freed it) goes back: the peak
                # stays flat; no full collection, which would walk the pseudonym and repeat
                # maps every window (quadratic in the run)
                release_free_memory(collect=False)

    def _order_final(self, start: int, done: int) -> int:
        """The first seq from ``start`` whose order verdict may still change (guarantee 4):
        every seq arriving before a seq's first reply must be final."""
        if done < self.fed:
            assert self.pending.table is not None
            column = self.pending.table.column("received_at")
            horizon = int(column[done - self.pending.start].as_py())
        else:
            horizon = self.last_received  # what comes later arrives no earlier
        latest = np.full(done - start, -1, dtype=np.int64)
        for parts in self.held.values():
            replies = np.concatenate([part.first_reply_at for part in parts])
            latest = np.maximum(latest, replies)
        late = np.flatnonzero(np.maximum.accumulate(latest) > horizon)
        return start + int(late[0]) if len(late) else done

    def _write_window(self, start: int, stop: int) -> None:
        """Compare and write seqs ``start`` .. ``stop - 1`` (every arm holds them, and maybe
        more: ``order_violation`` reads the later ones)."""
        with self._phase("compare"):
            window = self.pending.window(self.arms_base())
            count = stop - start
            contact = Codes.from_arrow(window.column("contact_id"))
            received = window.column("received_at").to_numpy()
            repeat_of = window.column("repeat_of").to_numpy()
            kinds = window.column("repeat_kind").to_numpy()
            repeat_kind = Codes.of(
                self._tell_repeats(start, count, kinds, repeat_of, received), REPEAT_KINDS
            )
            frames: dict[str, pd.DataFrame] = {}
            for name in self.arm_names:
                result = _concat(self.held[name])
                frame = outcome_frame(result, contact, received, repeat_of, repeat_kind, start)
                if count < len(frame):
                    frame = frame.iloc[:count]
                    self.held[name] = [_slice(result, count, len(result.fate), start)]
                else:
                    self.held[name] = []
                frames[name] = frame
                self.fates[name] += np.bincount(result.fate[:count], minlength=len(FATES))
        with self._phase("write"):
            for name, frame in frames.items():
                self._spool_outcomes(name, frame)
        for pair in self.pairs:
            self._compare(pair, frames, window.slice(0, count), received[:count], start)
        self.pending.drop(stop)
        self.written = stop
        if self.on_final is not None:
            self.on_final(frames)

    def _tell_repeats(
        self, start: int, count: int, kinds: Any, repeat_of: Any, received: Any
    ) -> Any:
        """The window's repeat classes, each unlabelled content repeat told by the baseline's
        reply to its original (``compare.repeat_baseline``): the originals are final (they
        come no later), in the window or remembered in ``answered`` (the ones that may still
        be recent)."""
        baseline = self.repeat_baseline
        if baseline is None:
            return kinds  # no baseline: an unlabelled content repeat stays unknown
        replies = np.concatenate(
            [np.asarray(part.first_reply_at, dtype=np.int64) for part in self.held[baseline]]
        )
        answered = self.answered
        origin_answered = np.full(len(kinds), -1, dtype=np.int64)
        for row in np.flatnonzero(kinds == REPEAT_KINDS.index("unknown")).tolist():
            origin = int(repeat_of[row])
            origin_answered[row] = replies[origin - start] if origin >= start else answered[origin]
        answered.update(zip(range(start, start + count), replies[:count].tolist(), strict=True))
        self.answered_at.extend(received[:count].tolist())
        # a later seq arrives no earlier than the last written: older originals are not recent
        horizon = int(received[count - 1]) - self.settings.repeat_horizon if count else None
        while horizon is not None and self.answered_at and self.answered_at[0] <= horizon:
            self.answered_at.popleft()
            # the oldest is the first seq not forgotten (seqs are added in order); named by a
            # count, as taking a dict's first key after many pops scans the holes they left
            del answered[self.answered_from]
            self.answered_from += 1
        return answered_repeats(kinds, received, origin_answered)

    def arms_base(self) -> int:
        """The first seq no arm holds any more (every arm took seqs up to it)."""
        return max(
            [self.written]
            + [self.written + sum(len(p.fate) for p in parts) for parts in self.held.values()]
        )

    def _compare(
        self,
        state: _PairState,
        frames: dict[str, pd.DataFrame],
        window: pa.Table,
        received: Any,
        start: int,
    ) -> None:
        b, c = frames[state.baseline], frames[state.candidate]
        effect = extra = None
        if state.stage is not None:
            effect = window.column(f"stage{state.stage}").to_numpy()
            flip_at = self.options.flip_at
            if flip_at is not None:
                before = previous_stage(self.stages, state.stage)
                earlier = (
                    window.column(f"stage{before}").to_numpy()
                    if before in self.stages
                    else np.zeros(len(effect), dtype=bool)
                )
                extra = {"handover": handover_mask(c, received, flip_at, effect ^ earlier)}
        with self._phase("compare"):
            pair = compare_pair(b, c, self.settings, extra=extra, effect=effect)
            b_cause = column_values(b["cause"].take(pair.seqs))
            c_cause = column_values(c["cause"].take(pair.seqs))
            for index, row in enumerate(pair.seqs.tolist()):
                state.by_severity[pair.severity[index]] += 1
                for kind in pair.kinds[index]:
                    state.by_kind[kind] = state.by_kind.get(kind, 0) + 1
                state.groups.add_divergence(
                    pair.baseline,
                    pair.candidate,
                    start + row,
                    pair.signature[index],
                    pair.kinds[index],
                    pair.severity[index],
                    b_cause[index],
                    c_cause[index],
                )
        with (
            self._phase("write"),
            state.lines.open("a", encoding="utf-8", newline="\n") as handle,
        ):
            for line in divergence_texts(pair, b, c, first_seq=start):
                handle.write(line)
                handle.write("\n")

    def _spool_outcomes(self, name: str, frame: pd.DataFrame) -> None:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self.outcome_schema is None:
            self.outcome_schema = table.schema  # the first arm's, as concat_tables keeps
        table = table.replace_schema_metadata(self.outcome_schema.metadata)
        writer = self.outcome_spool.get(name)
        if writer is None:
            path = self.spool / f"outcomes-{len(self.outcome_spool)}.arrow"
            writer = pa.ipc.new_stream(str(path), table.schema)
            self.outcome_spool[name] = writer
        writer.write_table(table)

    # -- the run folder ----------------------------------------------------------------------
    def _write_files(self, results: list[ArmResult]) -> dict[str, Any]:
        out = self.out
        self.stream_file.close()
        outcomes = _RowGroups(out / "outcomes.parquet", ROW_GROUP, **_OUTCOME_OPTIONS)
        for index, name in enumerate(self.outcome_spool):
            self.outcome_spool[name].close()
            path = self.spool / f"outcomes-{index}.arrow"
            with pa.OSFile(str(path)) as source, pa.ipc.open_stream(source) as reader:
                for batch in reader:
                    outcomes.add(pa.Table.from_batches([batch]))
            path.unlink()
        outcomes.close()
        with (out / "divergences.jsonl").open("wb") as target:
            for state in self.pairs:
                if state.lines.exists():
                    with state.lines.open("rb") as source:
                        shutil.copyfileobj(source, target)
        groups = SignatureGroups()
        for state in self.pairs:
            groups.absorb(state.groups)
        signatures = groups.summary()
        write_json(out / "signatures.json", signatures)
        pair_counts = {f"{s.baseline} vs {s.candidate}": s.counts() for s in self.pairs}
        self._write_gauges(results)
        shutil.rmtree(self.spool)
        if not isinstance(self.loaded.inbound, Sized):
            for entry in self.loaded.inputs:
                entry.setdefault("messages", self.fed)
        facts = RunFacts(
            messages=self.fed,
            contacts=len(self.contacts),
            first_at_us=self.t0 or 0,
            span_us=self.last_received,
            cohorts={
                stage: (len(self.stage_contacts[stage]), self.stage_messages[stage])
                for stage in self.stages
            },
            fates=self.fates,
            message_names=self.message_names,
            text_names=self._text_names(),
        )
        return write_manifest(
            out,
            self.options,
            self.config,
            self.loaded,
            self.specs,
            results,
            self.cohorts,
            facts,
            signatures,
            pair_counts,
            readings_record(self.config) if self.stages else None,
        )

    def _text_names(self) -> dict[str, dict[str, str]]:
        """The classes of the texts the agent configuration names (``prepare_stream``'s
        ``text_names``). A streaming run names none to its arms (``pipeline.reads_whole_run``:
        a run whose agent names texts is compared whole), so these are what run.json lists."""
        if self.text_names is not None:
            return self.text_names
        agent = self.agent
        texts = list(agent.replies.values())
        texts += [entry.reply for entry in agent.script.values() if entry.reply is not None]
        return self.names.texts_named(texts, agent.replies)


def _stage_of(specs: Sequence[ArmSpec], name: str) -> int | None:
    return next(spec.stage for spec in specs if spec.name == name)


def _stream_table(columns: dict[str, Any]) -> pa.Table:
    """``stream.parquet``'s columns as ``streams.write_parquet`` types them."""
    fields = [pa.field(name, STREAM_SCHEMA.get(name, pa.string())) for name in columns]
    arrays = []
    for kind, values in zip(fields, columns.values(), strict=True):
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        if not isinstance(values, pa.Array):
            values = pa.array(list(values), type=kind.type)
        arrays.append(values if values.type == kind.type else values.cast(kind.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))
