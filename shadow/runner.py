"""Run arms over one normalized stream, in parallel worker processes, into columnar outcomes.

Guarantees:

1. Every arm sees the same stream and the same environment settings (``legacy~N`` differs only
   in its seed); each arm's result is a pure function of them.
2. Results do not depend on the number of workers: each arm runs alone in its own kernel, and
   results are gathered in arm order.
3. Each arm returns one value per stream message in every outcome column.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from shadow.arms import ArmSpec, ModelSettings, environment_for, factory_for
from shadow.environment import Environment, Message, Restart
from shadow.kernel import LAYERS, DecisionEvent
from shadow.simulate import simulate


@dataclass(slots=True)
class Stream:
    """The normalized stream as the models need it: parallel columns indexed by seq.

    ``received_at`` is in µs from the stream's first message. ``cohorts`` maps a stage to the
    per-seq membership of its contact (computed from the production flag's bucketing).
    """

    message_id: list[str]
    contact_id: list[str]
    received_at: list[int]
    text_hash: list[str]
    text_norm_hash: list[str]
    type: list[str]
    topic: list[str]
    repeat_kind: list[str]
    cohorts: dict[int, list[bool]] = field(default_factory=dict)
    recorded_latency: dict[int, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.received_at)

    def messages(self) -> Iterator[Message]:
        for seq in range(len(self.received_at)):
            yield Message(
                seq,
                self.message_id[seq],
                self.contact_id[seq],
                self.received_at[seq],
                self.text_hash[seq],
                self.text_norm_hash[seq],
                self.type[seq],
                self.topic[seq],
                self.repeat_kind[seq],
            )


@dataclass(frozen=True, slots=True)
class RunPlan:
    """What to run: the arms, their settings, the run's timing knobs and the flip, if any."""

    arms: tuple[ArmSpec, ...]
    settings: ModelSettings
    drain: int
    gauge_interval: int
    stages: tuple[int, ...] = ()
    flip_at: int | None = None


@dataclass(slots=True)
class GaugeRecord:
    name: str
    cap: int | None
    peak: int
    peak_at: int
    samples: list[tuple[int, int]]


@dataclass(slots=True)
class ArmResult:
    """One arm's columnar outcome (µs times; -1 for none) and what it measured.

    Numeric columns are numpy arrays (compact to hold and to send back from a worker);
    text columns are lists of shared strings.
    """

    name: str
    fate: IntArray  # codes into kernel.FATES
    rule: list[str]
    cause: list[str]
    processing_count: IntArray
    reply_count: IntArray
    first_reply_at: IntArray
    batch_size: IntArray
    reply_text_hash: list[str | None]
    waits: IntArray  # one row per layer (kernel.LAYERS)
    system: list[str]
    gauges: list[GaugeRecord]
    stats: dict[str, int | float]
    stopped_at: int
    events: list[DecisionEvent]
    recorded_fallbacks: int = 0


IntArray = npt.NDArray[np.integer[Any]]

# The stream is handed to forked workers through this module global (no pickling of columns).
_SHARED: dict[str, Any] = {}


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
        members = stream.cohorts.get(spec.stage) or [False] * len(stream)
        if plan.flip_at is not None:
            before = stream.cohorts.get(previous_stage(plan.stages, spec.stage)) or [False] * len(
                stream
            )
            flip_at = plan.flip_at

            def in_cohort(message: Message) -> bool:
                chosen = members if message.received_at >= flip_at else before
                return chosen[message.seq]
        else:

            def in_cohort(message: Message) -> bool:
                return members[message.seq]

    factory = factory_for(spec, plan.settings, in_cohort)
    run = simulate(
        factory,
        stream.messages(),
        environment,
        len(stream),
        restarts=tuple(Restart(r.at, r.downtime) for r in env_settings.restarts),
        drain=plan.drain,
        gauge_interval=plan.gauge_interval,
        capture=capture,
        on_progress=(
            None
            if on_progress is None
            else lambda done, now: on_progress(spec.name, done, len(stream), now)
        ),
    )
    recorder = run.recorder
    fate, rule, cause = recorder.fates()
    gauges = [
        GaugeRecord(g.name, g.cap, g.peak, g.peak_at, list(g.samples)) for g in run.gauges.all()
    ]
    default_system = spec.family if spec.family != "rollout" else ""
    return ArmResult(
        name=spec.name,
        fate=np.asarray(fate, dtype=np.int8),
        rule=rule,
        cause=cause,
        processing_count=np.asarray(recorder.processing_count, dtype=np.int32),
        reply_count=np.asarray(recorder.reply_count, dtype=np.int32),
        first_reply_at=np.asarray(recorder.first_reply_at, dtype=np.int64),
        batch_size=np.asarray(recorder.batch_size, dtype=np.int32),
        reply_text_hash=recorder.reply_text_hash,
        waits=np.asarray(recorder.waits, dtype=np.int64),
        system=[s or default_system for s in recorder.system],
        gauges=gauges,
        stats=run.stats,
        stopped_at=run.stopped_at,
        events=recorder.events,
        recorded_fallbacks=environment.recorded_fallbacks,
    )


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
        context = multiprocessing.get_context("fork")
        queue = context.Queue() if on_progress is not None else None
        _SHARED["queue"] = queue
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [pool.submit(_run_shared, index) for index in indices]
            while queue is not None and on_progress is not None:
                _relay(queue, on_progress)
                if all(future.done() for future in futures):
                    _relay(queue, on_progress)  # the workers' last items may still be in flight
                    break
            return [future.result() for future in futures]
    finally:
        _SHARED.clear()


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


__all__ = ["LAYERS", "ArmResult", "GaugeRecord", "RunPlan", "Stream", "run_arm", "run_arms"]
