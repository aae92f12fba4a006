"""Run arms over one normalized stream, in parallel worker processes, into columnar outcomes.

Guarantees:

1. Every arm sees the same stream and the same environment settings (``legacy~N`` differs only
   in its seed); each arm's result is a pure function of them.
2. Results do not depend on the number of workers: each arm runs alone in its own kernel, and
   results are gathered in arm order.
3. Each arm returns one value per stream message in every outcome column.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import itertools
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from shadow.common import stop_workers
from shadow.kernel import LAYERS, DecisionEvent, Gauge
from shadow.simulation.arms import ArmSpec, ModelSettings, environment_for, factory_for
from shadow.world import ArmSession, Environment, Message, Restart, message_block, simulate

IntArray = npt.NDArray[np.integer[Any]]
BoolArray = npt.NDArray[np.bool_]


_BLOCK = 4096  # messages decoded at a time: the per-message objects stay few


@dataclass(frozen=True, slots=True)
class Codes:
    """A column of strings, each distinct string stored once: per-row codes into ``values``.

    ``values`` (the vocabulary) is an arrow string array; a code of -1 stands for a missing
    value (``None``).
    """

    codes: IntArray
    values: Any  # pyarrow.StringArray

    @classmethod
    def encode(cls, values: Sequence[str | None] | npt.NDArray[Any]) -> Codes:
        """Codes in order of first appearance, as small as the vocabulary allows."""
        return cls.from_arrow(pa.array(values, pa.string()))

    @classmethod
    def of(cls, codes: npt.ArrayLike, vocabulary: Any) -> Codes:
        if not isinstance(vocabulary, pa.Array):
            vocabulary = pa.array(list(vocabulary), pa.string())
        small = np.int16 if len(vocabulary) < np.iinfo(np.int16).max else np.int32
        return cls(np.asarray(codes).astype(small, copy=False), vocabulary)

    @classmethod
    def from_arrow(cls, values: Any) -> Codes:
        """Dictionary-encode an arrow string column (nulls become -1)."""
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        encoded = values.dictionary_encode()
        codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        return cls.of(codes, encoded.dictionary)

    @property
    def vocabulary(self) -> tuple[str, ...]:
        return tuple(self.values.to_pylist())

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, index: int) -> str | None:
        code = int(self.codes[index])
        return None if code < 0 else str(self.values[code].as_py())

    def tolist(self, start: int = 0, stop: int | None = None) -> list[Any]:
        """The strings of rows ``start:stop`` (``None`` for -1); repeated strings shared when
        the vocabulary is small next to the rows asked."""
        codes = self.codes[start:stop]
        if len(self.values) > max(1024, len(codes) // 8):
            indices = np.asarray(codes, dtype=np.int32)
            return list(self.values.take(pa.array(indices, mask=indices < 0)).to_pylist())
        table = np.empty(len(self.values) + 1, dtype=object)
        table[:-1] = self.values.to_pylist()
        return list(table[codes].tolist())

    def to_arrow(self) -> Any:
        """The column as an arrow string array (nulls for -1)."""
        codes = np.asarray(self.codes, dtype=np.int32)
        return self.values.take(pa.array(codes, mask=codes < 0))

    def map(self, rename: Callable[[str], str]) -> Codes:
        """The same rows with every vocabulary entry renamed (merging entries that coincide)."""
        renamed = Codes.encode([rename(v) for v in self.values.to_pylist()])
        remap = np.asarray(renamed.codes, dtype=np.int64)
        codes = np.where(self.codes < 0, -1, remap[np.maximum(self.codes, 0)])
        return Codes.of(codes, renamed.values)


@dataclass(slots=True)
class Stream:
    """The normalized stream as the models need it: parallel columns indexed by seq.

    String columns are ``Codes`` (each distinct string held once), ``received_at`` an int64
    array in µs from the stream's first message. ``cohorts`` maps a stage to the per-seq
    membership of its contact (computed from the production flag's bucketing).
    """

    message_id: Codes
    contact_id: Codes
    received_at: IntArray
    text_hash: Codes
    text_norm_hash: Codes
    type: Codes
    topic: Codes
    repeat_kind: Codes
    cohorts: dict[int, BoolArray] = field(default_factory=dict)
    recorded_latency: dict[int, int] = field(default_factory=dict)
    #: seq -> the recorded first reply (µs from the first message), when the capture has replies:
    #: reactive users' reference (arm_loop guarantee 7)
    reference_replies: dict[int, int] | None = None
    #: a narrowed re-run (``shadow.explain``): only these seqs (ascending) arrive, each with its
    #: own seq, so keyed draws and per-seq columns are those of the whole stream; None: all
    only: IntArray | None = None
    first_seq: int = 0  # the seq of the first row (a chunk of a longer stream)
    #: the equality class of each message's content key (``stream.parquet``'s ``content_hash``:
    #: a media hash, a place, ...; "" where none); None when the stream has no such column
    content_hash: Codes | None = None

    def __len__(self) -> int:
        return len(self.received_at)

    def members(self, stage: int | None) -> BoolArray:
        """Per-seq membership of ``stage`` (nobody when the stream has no such stage)."""
        found = None if stage is None else self.cohorts.get(stage)
        return np.zeros(len(self), dtype=bool) if found is None else found

    def messages(self) -> Iterator[Message]:
        """Every message in seq order, built a block at a time (the arms iterate the blocks
        in C, through ``chain``: no Python generator resumes per message)."""
        return itertools.chain.from_iterable(self._blocks())

    def _blocks(self) -> Iterator[list[Message]]:
        texts = (
            self.message_id,
            self.contact_id,
            self.text_hash,
            self.text_norm_hash,
            self.type,
            self.topic,
            self.repeat_kind,
        )
        size = len(self)
        if self.only is not None:
            yield from self._runs(texts)
            return
        # a vocabulary much smaller than the stream is decoded once, its strings shared by
        # every message; the others (message ids, ...) are decoded a block at a time
        tables = [
            np.array([*column.values.to_pylist(), None], dtype=object)
            if len(column.values) <= max(1024, size // 8)
            else None
            for column in texts
        ]
        for start in range(0, size, _BLOCK):
            stop = min(size, start + _BLOCK)
            mid, contact, text, norm, kind, topic, repeat = (
                column.tolist(start, stop)
                if table is None
                else table[column.codes[start:stop]].tolist()  # -1 (missing) is the None
                for table, column in zip(tables, texts, strict=True)
            )
            received = self.received_at[start:stop].tolist()
            first = self.first_seq + start
            yield message_block(first, mid, contact, received, text, norm, kind, topic, repeat)

    def _runs(self, texts: tuple[Codes, ...]) -> Iterator[list[Message]]:
        """``only``'s messages, a run of consecutive seqs (at most a block) at a time."""
        only = np.asarray(self.only, dtype=np.int64)
        if not len(only):
            return
        breaks = np.flatnonzero(np.diff(only) != 1) + 1
        for run in np.split(only, breaks):
            first, last = int(run[0]), int(run[-1]) + 1
            for start in range(first, last, _BLOCK):
                stop = min(last, start + _BLOCK)
                mid, contact, text, norm, kind, topic, repeat = (
                    column.tolist(start, stop) for column in texts
                )
                received = self.received_at[start:stop].tolist()
                yield message_block(start, mid, contact, received, text, norm, kind, topic, repeat)


@dataclass(frozen=True, slots=True)
class RunPlan:
    """What to run: the arms, their settings, the run's timing knobs and the flip, if any."""

    arms: tuple[ArmSpec, ...]
    settings: ModelSettings
    drain: int
    gauge_interval: int
    stages: tuple[int, ...] = ()
    flip_at: int | None = None
    #: ``--flip-mode restart``: the rollout arms restart at ``flip_at`` for this long (None: hot)
    flip_downtime: int | None = None


@dataclass(slots=True)
class GaugeRecord:
    name: str
    cap: int | None
    peak: int
    peak_at: int
    samples: IntArray  # one (time, value) row per sample


@dataclass(slots=True)
class ArmResult:
    """One arm's columnar outcome (µs times; -1 for none) and what it measured.

    Every column is compact to hold and to send back from a worker: numeric columns are numpy
    arrays, ``rule``, ``cause`` and ``system`` small-int codes into their vocabularies, and
    ``reply_text_hash`` an arrow string array (null where nothing was replied).
    """

    name: str
    fate: IntArray  # codes into kernel.FATES
    rule: Codes
    cause: Codes
    processing_count: IntArray
    reply_count: IntArray
    first_reply_at: IntArray
    batch_size: IntArray
    reply_text_hash: Any  # pyarrow.StringArray
    waits: IntArray  # one row per layer (kernel.LAYERS)
    system: Codes
    gauges: list[GaugeRecord]
    stats: dict[str, int | float]
    stopped_at: int
    events: list[DecisionEvent]
    recorded_fallbacks: int = 0
    #: reactive users: seq -> when this arm's user sent it, where not at ``received_at``
    sent_at: dict[int, int] = field(default_factory=dict)

    def drop_outcomes(self) -> None:
        """Let go of the per-seq columns but ``fate``, once the arm's outcome frame holds them
        (what stays: the fates, gauges, stats and counters ``run.json`` reports)."""
        empty = np.zeros(0, dtype=np.int32)
        self.rule = self.cause = self.system = Codes.of(empty, ())
        self.processing_count = self.reply_count = self.batch_size = empty
        self.first_reply_at = empty.astype(np.int64)
        self.waits = np.zeros((len(LAYERS), 0), dtype=np.int64)
        self.reply_text_hash = pa.array([], pa.string())


# The stream is handed to forked workers through this module global (no pickling of columns).
_SHARED: dict[str, Any] = {}


def _with_flip_restart(restarts: list[Restart], flip: Restart) -> list[Restart]:
    """The configured restarts plus the flip's (a configured restart overlapping the flip's
    downtime is merged into it: one process cannot restart twice at once)."""
    merged: list[Restart] = []
    for restart in sorted([*restarts, flip], key=lambda r: r.at):
        if merged and restart.at < merged[-1].at + merged[-1].downtime:
            last = merged[-1]
            end = max(last.at + last.downtime, restart.at + restart.downtime)
            merged[-1] = Restart(last.at, end - last.at)
        else:
            merged.append(restart)
    return merged


def previous_stage(stages: Sequence[int], stage: int) -> int:
    """The stage before ``stage`` in the run (0: nobody on the unified coordinator)."""
    earlier = [s for s in stages if s < stage]
    return max(earlier) if earlier else 0


#: Progress of one arm: (arm name, messages delivered, messages in all, virtual time in µs).
ArmProgress = Callable[[str, int, int, int], object]


def run_arm(
    spec: ArmSpec,
    plan: RunPlan,
    stream: Stream,
    capture: Sequence[int] = (),
    on_progress: ArmProgress | None = None,
) -> ArmResult:
    """Simulate one arm over the whole stream (guarantees 1 and 3)."""
    env_settings = environment_for(spec, plan.settings)
    environment = Environment(env_settings, stream.recorded_latency)
    in_cohort = None
    if spec.stage is not None:
        members: list[bool] = stream.members(spec.stage).tolist()
        if plan.flip_at is not None:
            before: list[bool] = stream.members(previous_stage(plan.stages, spec.stage)).tolist()
            flip_at = plan.flip_at

            def in_cohort(message: Message) -> bool:
                chosen = members if message.received_at >= flip_at else before
                return chosen[message.seq]
        else:

            def in_cohort(message: Message) -> bool:
                return members[message.seq]

    factory = factory_for(spec, plan.settings, in_cohort)
    restarts = [Restart(r.at, r.downtime) for r in env_settings.restarts]
    if spec.stage is not None and plan.flip_at is not None and plan.flip_downtime is not None:
        restarts = _with_flip_restart(restarts, Restart(plan.flip_at, plan.flip_downtime))
    with _collector_at_ease():
        run = simulate(
            factory,
            stream.messages(),
            environment,
            len(stream),
            restarts=tuple(restarts),
            drain=plan.drain,
            gauge_interval=plan.gauge_interval,
            capture=capture,
            reference_replies=stream.reference_replies,
            on_progress=(
                None
                if on_progress is None
                else lambda done, now: on_progress(spec.name, done, len(stream), now)
            ),
        )
    recorder = run.recorder
    fate, rule, cause = recorder.fates()
    columns = {
        "fate": fate,
        "rule": rule,
        "cause": cause,
        **{name: getattr(recorder, name) for name in _OUTCOME_LISTS},
        "waits": recorder.waits,
    }
    return _arm_result(
        spec,
        columns,
        _gauge_records(run.gauges.all()),
        run.stats,
        run.stopped_at,
        recorder.events,
        environment.recorded_fallbacks,
        run.sent_at,
    )


_OUTCOME_LISTS = (
    "processing_count",
    "reply_count",
    "first_reply_at",
    "batch_size",
    "reply_text_hash",
    "system",
)


def _gauge_records(gauges: Sequence[Gauge], forget: bool = False) -> list[GaugeRecord]:
    records = []
    for g in gauges:
        samples = np.column_stack(
            (np.asarray(g.sampled_at, dtype=np.int64), np.asarray(g.sampled, dtype=np.int64))
        )
        records.append(GaugeRecord(g.name, g.cap, g.peak, g.peak_at, samples))
        if forget:
            del g.sampled_at[:], g.sampled[:]
    return records


def _arm_result(
    spec: ArmSpec,
    columns: dict[str, Any],
    gauges: list[GaugeRecord],
    stats: dict[str, int | float],
    stopped_at: int,
    events: list[DecisionEvent],
    recorded_fallbacks: int,
    sent_at: dict[int, int] | None = None,
) -> ArmResult:
    """An arm's result from its recorder's outcome lists (``Recorder.take``'s columns)."""
    default_system = spec.family if spec.family != "rollout" else ""
    return ArmResult(
        name=spec.name,
        fate=np.asarray(columns["fate"], dtype=np.int8),
        rule=Codes.encode(columns["rule"]),
        cause=Codes.encode(columns["cause"]),
        processing_count=np.asarray(columns["processing_count"], dtype=np.int32),
        reply_count=np.asarray(columns["reply_count"], dtype=np.int32),
        first_reply_at=np.asarray(columns["first_reply_at"], dtype=np.int64),
        batch_size=np.asarray(columns["batch_size"], dtype=np.int32),
        reply_text_hash=pa.array(columns["reply_text_hash"], type=pa.string()),
        waits=np.asarray(columns["waits"], dtype=np.int64).reshape(len(LAYERS), -1),
        system=Codes.encode(columns["system"]).map(lambda s: s or default_system),
        gauges=gauges,
        stats=stats,
        stopped_at=stopped_at,
        events=events,
        recorded_fallbacks=recorded_fallbacks,
        sent_at={} if sent_at is None else sent_at,
    )


class _Cohort:
    """Whether a message's contact is in a rollout arm's cohort (seq-indexed membership; with a
    flip, ``before`` until ``flip_at``): an object, not a closure, so an arm pickles."""

    def __init__(self, members: bytearray, before: bytearray, flip_at: int) -> None:
        self.members = members
        self.before = before
        self.flip_at = flip_at

    def __call__(self, message: Message) -> bool:
        chosen = self.members if message.received_at >= self.flip_at else self.before
        return bool(chosen[message.seq])


class StreamingArm:
    """One arm fed a chunk of the stream at a time (``world.ArmSession``), its outcomes taken
    out as they settle: the same outcomes, seq for seq, as ``run_arm`` over the whole stream.

    ``take`` gives an ``ArmResult`` of the seqs it hands over (no gauges, stats or events);
    ``finish`` drains the arm and gives the rest, with the arm's gauges and stats.
    """

    def __init__(
        self,
        spec: ArmSpec,
        plan: RunPlan,
        recorded_latency: dict[int, int] | None = None,
        on_progress: ArmProgress | None = None,
        reference_replies: dict[int, int] | None = None,
    ) -> None:
        """``reference_replies``: the recorded replies reactive users pace by (the whole
        stream's, known up front: a run with recorded replies reads them all first)."""
        self.spec = spec
        env_settings = environment_for(spec, plan.settings)
        self.environment = Environment(env_settings, recorded_latency or {})
        self.fed = 0
        self._members: dict[int, bytearray] = {}
        in_cohort = None
        if spec.stage is not None:
            members = self._members[spec.stage] = bytearray()
            if plan.flip_at is not None:
                earlier = previous_stage(plan.stages, spec.stage)
                before = self._members.setdefault(earlier, bytearray())
                in_cohort = _Cohort(members, before, plan.flip_at)
            else:
                in_cohort = _Cohort(members, members, 0)

        restarts = [Restart(r.at, r.downtime) for r in env_settings.restarts]
        if spec.stage is not None and plan.flip_at is not None and plan.flip_downtime is not None:
            restarts = _with_flip_restart(restarts, Restart(plan.flip_at, plan.flip_downtime))
        self.session = ArmSession(
            factory_for(spec, plan.settings, in_cohort),
            self.environment,
            0,
            restarts=tuple(restarts),
            reference_replies=reference_replies,
            drain=plan.drain,
            gauge_interval=plan.gauge_interval,
            on_progress=None if on_progress is None else self._progress,
        )
        self.on_progress = on_progress

    def _progress(self, done: int, now: int) -> None:
        if self.on_progress is not None:
            self.on_progress(self.spec.name, done, self.fed, now)

    def feed(self, chunk: Stream) -> None:
        """Deliver the chunk's messages (the chunk follows the last one fed)."""
        for stage, members in self._members.items():
            members.extend(chunk.members(stage).tobytes())
        self.session.recorder.grow(len(chunk))
        self.fed += len(chunk)
        with _collector_at_ease():
            self.session.feed(chunk.messages())

    @property
    def base(self) -> int:
        """The first seq not yet taken."""
        return self.session.recorder.base

    def settled_until(self, settle: int) -> int:
        """The first seq not settled (``Recorder.settled_until``)."""
        return self.session.recorder.settled_until(self.fed, settle)

    def take(self, stop: int) -> ArmResult:
        """The outcomes of the seqs from ``base`` to ``stop``, forgotten here."""
        base = self.base
        columns = self.session.recorder.take(stop)
        return _arm_result(self.spec, columns, [], {}, 0, [], 0, self._sent_between(base, stop))

    def _sent_between(self, start: int, stop: int) -> dict[int, int]:
        """The reactive users' sending times of seqs ``start`` .. ``stop - 1`` (seq order);
        kept in the session, whose stats count them at the end."""
        sent = self.session.sent_at
        if not sent:
            return {}
        return {seq: sent[seq] for seq in sorted(seq for seq in sent if start <= seq < stop)}

    def take_gauges(self) -> list[GaugeRecord]:
        """Every gauge (creation order) with the samples taken since the last call, which it
        forgets (peaks stay)."""
        return _gauge_records(self.session.gauges.all(), forget=True)

    def finish(self) -> ArmResult:
        """Drain the arm; the outcomes of every seq not yet taken, and the arm's gauges (with
        the samples not yet taken), stats and counters."""
        base = self.base
        with _collector_at_ease():
            run = self.session.finish(self.fed)
        columns = run.recorder.take(self.fed)
        return _arm_result(
            self.spec,
            columns,
            _gauge_records(run.gauges.all()),
            run.stats,
            run.stopped_at,
            [],
            self.environment.recorded_fallbacks,
            self._sent_between(base, self.fed),
        )


def stream_slice(stream: Stream, start: int, stop: int) -> Stream:
    """Seqs ``start`` .. ``stop - 1`` of ``stream`` as a chunk (``first_seq`` = ``start``)."""

    def codes(column: Codes) -> Codes:
        return Codes(column.codes[start:stop], column.values)

    return Stream(
        message_id=codes(stream.message_id),
        contact_id=codes(stream.contact_id),
        received_at=stream.received_at[start:stop],
        text_hash=codes(stream.text_hash),
        text_norm_hash=codes(stream.text_norm_hash),
        type=codes(stream.type),
        topic=codes(stream.topic),
        repeat_kind=codes(stream.repeat_kind),
        cohorts={stage: members[start:stop] for stage, members in stream.cohorts.items()},
        recorded_latency=stream.recorded_latency,
        reference_replies=stream.reference_replies,
        first_seq=stream.first_seq + start,
        content_hash=None if stream.content_hash is None else codes(stream.content_hash),
    )


def run_arms_in_chunks(
    plan: RunPlan,
    stream: Stream,
    chunk_sizes: Sequence[int],
    workers: int | None = None,
    on_progress: ArmProgress | None = None,
) -> list[ArmResult]:
    """``run_arms``, each arm a ``StreamingArm`` fed the stream ``chunk_sizes`` seqs at a time
    (in worker processes with two workers or more): the same results (``ArmSession``'s
    guarantee), the outcomes all taken at the end."""
    specs = [spec for spec in plan.arms if spec.simulated]
    processes = max(1, min(workers or os.cpu_count() or 1, len(specs) or 1))
    pool = None
    if processes > 1 and len(specs) > 1:
        pool = ArmWorkers(
            specs,
            plan,
            stream.recorded_latency,
            processes,
            on_progress,
            stream.reference_replies,
        )
    try:
        arms: list[StreamingArm | _RemoteArm] = [
            pool.arm(spec.name)
            if pool is not None
            else StreamingArm(
                spec, plan, stream.recorded_latency, on_progress, stream.reference_replies
            )
            for spec in specs
        ]
        start = 0
        for size in chunk_sizes:
            chunk = stream_slice(stream, start, start + size)
            for arm in arms:
                arm.feed(chunk)
            if pool is not None:  # each process takes one chunk at a time for all its arms
                for index in range(processes):
                    pool.wait(index)
            start += size
        assert start == len(stream), "the chunks cover the stream"
        return [arm.finish() for arm in arms]
    finally:
        if pool is not None:
            pool.close()


class ArmWorkers:
    """Streaming arms in long-lived worker processes (forked), each process serving some of
    the arms chunk by chunk: the arms of one chunk run in parallel. ``arm(name)`` is a
    stand-in for that arm's ``StreamingArm`` (``feed`` returns at once; the next call waits
    for the chunk to be done). Results are the in-process ones (guarantee 2)."""

    def __init__(
        self,
        specs: Sequence[ArmSpec],
        plan: RunPlan,
        recorded_latency: dict[int, int],
        processes: int,
        on_progress: ArmProgress | None = None,
        reference_replies: dict[int, int] | None = None,
    ) -> None:
        context = multiprocessing.get_context("fork")
        self.on_progress = on_progress
        self.links: list[Any] = []
        self.procs: list[Any] = []
        self.home: dict[str, int] = {}
        groups: list[list[ArmSpec]] = [[] for _ in range(processes)]
        for index, spec in enumerate(specs):
            groups[index % processes].append(spec)
            self.home[spec.name] = index % processes
        release_free_memory()
        for group in groups:
            parent, child = context.Pipe()
            process = context.Process(
                target=_serve,
                args=(
                    child,
                    group,
                    plan,
                    recorded_latency,
                    on_progress is not None,
                    reference_replies,
                ),
                daemon=True,
            )
            process.start()
            child.close()
            self.links.append(parent)
            self.procs.append(process)
        self.waiting = [False] * processes

    def arm(self, name: str) -> _RemoteArm:
        return _RemoteArm(self, name)

    def send(self, index: int, *command: Any) -> None:
        self.wait(index)
        self.links[index].send(command)
        self.waiting[index] = True

    def wait(self, index: int) -> Any:
        """The answer to the last command sent to process ``index`` (None if none pending)."""
        if not self.waiting[index]:
            return None
        self.waiting[index] = False
        while True:
            kind, value = self.links[index].recv()
            if kind == "progress":
                if self.on_progress is not None:
                    self.on_progress(*value)
                continue
            if kind == "error":
                self.close()
                raise value
            return value

    def ask(self, index: int, *command: Any) -> Any:
        self.send(index, *command)
        return self.wait(index)

    def close(self) -> None:
        # "stop" first: closing our end is not enough, since a worker forked later holds a
        # copy of it, so the earlier worker would never read EOF (and join would time out)
        for index, link in enumerate(self.links):
            with contextlib.suppress(OSError, ValueError):
                if not self.waiting[index]:
                    link.send(("stop",))
                link.close()
        for process in self.procs:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()


class _RemoteArm:
    def __init__(self, workers: ArmWorkers, name: str) -> None:
        self.workers = workers
        self.name = name
        self.index = workers.home[name]
        self.base = 0

    def feed(self, chunk: Stream) -> None:
        # one feed per process for all its arms: sent with the first of them
        if self.workers.waiting[self.index]:
            return
        self.workers.send(self.index, "feed", chunk)

    def settled_until(self, settle: int) -> int:
        settled: dict[str, int] = self.workers.ask(self.index, "settled", settle)
        return settled[self.name]

    def take(self, stop: int) -> ArmResult:
        self.base = stop
        result: ArmResult = self.workers.ask(self.index, "take", self.name, stop)
        return result

    def take_gauges(self) -> list[GaugeRecord]:
        gauges: list[GaugeRecord] = self.workers.ask(self.index, "gauges", self.name)
        return gauges

    def finish(self) -> ArmResult:
        result: ArmResult = self.workers.ask(self.index, "finish", self.name)
        return result


def _serve(
    link: Any,
    specs: Sequence[ArmSpec],
    plan: RunPlan,
    recorded_latency: dict[int, int],
    progress: bool,
    reference_replies: dict[int, int] | None = None,
) -> None:
    """A worker's loop: commands in, answers out, until "stop" or the link closes."""

    def report(*item: Any) -> None:
        link.send(("progress", item))

    arms = {
        spec.name: StreamingArm(
            spec, plan, recorded_latency, report if progress else None, reference_replies
        )
        for spec in specs
    }
    while True:
        try:
            command, *args = link.recv()
        except (EOFError, OSError):
            return
        if command == "stop":
            return
        try:
            if command == "feed":
                for arm in arms.values():
                    arm.feed(args[0])
                answer: Any = None
            elif command == "settled":
                answer = {name: arm.settled_until(args[0]) for name, arm in arms.items()}
            elif command == "take":
                answer = arms[args[0]].take(args[1])
            elif command == "gauges":
                answer = arms[args[0]].take_gauges()
            else:
                answer = arms[args[0]].finish()
        except Exception as exc:
            link.send(("error", exc))
            return
        link.send(("ok", answer))


@contextlib.contextmanager
def _collector_at_ease() -> Iterator[None]:
    """Run the cyclic garbage collector less often while simulating.

    The kernel and the models make no reference cycles per message (a settled event lets go
    of its waiters), so the collector finds next to nothing; at its default threshold it still
    ran every few hundred allocations, a tenth of an arm's time. Collection timing can change
    no result: no object of a run has a finalizer or a weak reference.
    """
    threshold = gc.get_threshold()
    gc.set_threshold(_YOUNG_THRESHOLD, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)


_YOUNG_THRESHOLD = 10_000


def _run_shared(index: int) -> ArmResult:
    plan: RunPlan = _SHARED["plan"]
    queue = _SHARED.get("queue")
    report = None if queue is None else (lambda *item: queue.put(item))
    return run_arm(plan.arms[index], plan, _SHARED["stream"], _SHARED["capture"], report)


def run_arms(
    plan: RunPlan,
    stream: Stream,
    workers: int | None = None,
    capture: Sequence[int] = (),
    on_progress: ArmProgress | None = None,
) -> list[ArmResult]:
    """Run every simulated arm of ``plan``; results in plan order (guarantee 2).

    ``on_progress`` is called in this process, from every worker, as arms advance; it sees
    progress only and can change nothing.
    """
    indices = [i for i, spec in enumerate(plan.arms) if spec.simulated]
    workers = max(1, min(workers or os.cpu_count() or 1, len(indices) or 1))
    _SHARED.update(plan=plan, stream=stream, capture=tuple(capture))
    try:
        if workers == 1 or len(indices) <= 1:
            results = []
            for index in indices:
                spec = plan.arms[index]
                results.append(run_arm(spec, plan, stream, capture, on_progress))
            return results
        release_free_memory()
        context = multiprocessing.get_context("fork")
        queue = context.Queue() if on_progress is not None else None
        _SHARED["queue"] = queue
        with stop_workers(ProcessPoolExecutor(max_workers=workers, mp_context=context)) as pool:
            futures = [pool.submit(_run_shared, index) for index in indices]
            while queue is not None and on_progress is not None:
                _relay(queue, on_progress)
                if all(future.done() for future in futures):
                    _relay(queue, on_progress)  # the workers' last items may still be in flight
                    break
            return [future.result() for future in futures]
    finally:
        _SHARED.clear()


def release_free_memory(collect: bool = True) -> None:
    """Give freed memory back to the system (before forking, each worker starts out resident
    with every page this process holds), and have large arrays always mapped apart, so that
    freeing one gives its pages back at once (glibc). ``collect=False`` skips the full
    garbage collection (it walks every live object: often, on a large heap, it dominates)."""
    if collect:
        gc.collect()
    pa.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):  # glibc only
        libc = ctypes.CDLL(None)
        libc.mallopt(_M_MMAP_THRESHOLD, 1 << 20)
        libc.malloc_trim(0)


_M_MMAP_THRESHOLD = -3


def _relay(queue: Any, on_progress: ArmProgress) -> None:
    """Pass queued progress on, waiting a little for the first item."""
    import queue as queues

    try:
        item = queue.get(timeout=0.2)
        while True:
            on_progress(*item)
            item = queue.get_nowait()
    except queues.Empty:
        return


__all__ = [
    "LAYERS",
    "ArmResult",
    "ArmWorkers",
    "Codes",
    "GaugeRecord",
    "RunPlan",
    "Stream",
    "StreamingArm",
    "release_free_memory",
    "run_arm",
    "run_arms",
    "run_arms_in_chunks",
    "stream_slice",
]
