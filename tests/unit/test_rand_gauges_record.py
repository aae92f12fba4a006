"""Keyed draws, gauges and the recorder's fate table."""

from __future__ import annotations

import struct
from statistics import NormalDist

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shadow.kernel import FATES, Gauges, Kernel, KeyedRandom, Recorder
from shadow.kernel.rand import normal_quantile


def test_a_draw_depends_only_on_its_key() -> None:
    keys = [("agent", (i,)) for i in range(50)]
    forward = {key: KeyedRandom(7).uniform(*key) for key in keys}
    shared = KeyedRandom(7)
    backward = {key: shared.uniform(*key) for key in reversed(keys)}
    assert forward == backward
    assert KeyedRandom(8).uniform("agent", (1,)) != forward[("agent", (1,))]


@given(st.integers(min_value=0, max_value=2**32), st.text(max_size=20), st.integers())
def test_draws_are_uniforms_in_the_unit_interval(seed: int, word: str, number: int) -> None:
    values = KeyedRandom(seed).uniforms(4, word, number)
    assert all(0.0 <= v < 1.0 for v in values)
    assert values == KeyedRandom(seed).uniforms(4, word, number)


def test_draws_look_uniform() -> None:
    random = KeyedRandom(1)
    values = [random.uniform("u", i) for i in range(20_000)]
    mean = sum(values) / len(values)
    assert abs(mean - 0.5) < 0.01
    assert sum(v < 0.1 for v in values) == pytest.approx(2_000, rel=0.08)


def test_gauges_record_peaks_and_samples() -> None:
    kernel = Kernel()
    gauges = Gauges(kernel, 10)
    locks = gauges.gauge("locks", cap=3)
    kernel.call_at(4, lambda: locks.set(3))
    kernel.call_at(12, lambda: locks.set(1))
    kernel.call_at(15, lambda: locks.add(1))
    kernel.run(30)
    assert (locks.peak, locks.peak_at) == (3, 4)
    assert locks.samples == [(10, 3), (20, 2), (30, 2)]
    with pytest.raises(ValueError):
        locks.add(-5)


def fates_of(recorder: Recorder) -> list[str]:
    return [FATES[code] for code in recorder.fates()[0]]


def test_fate_table_first_row_that_applies() -> None:
    kernel = Kernel()
    rec = Recorder(kernel, 6)
    for seq in range(6):
        rec.event("arrived", seq)
    rec.event("processing_started", (0, 1))
    rec.event("processing_timeout", (0, 1), "orchestrator.processing_timeout")
    rec.event("reply_sent", (0, 1), detail="r")  # late reply after a timeout still answers
    rec.event("duplicate_suppressed", 2, "coordinator.duplicate_window")
    rec.event("queued", 3, "orchestrator.lock_wait_timeout")
    rec.event("processing_started", 3)
    rec.event("processing_timeout", 3, "orchestrator.processing_timeout")
    rec.event("agent_error", 3, "environment.agent")
    rec.event("dropped", 4, "coordinator.max_queue_size")
    fates, rules, causes = rec.fates()
    assert [FATES[f] for f in fates] == [
        "answered",
        "answered",
        "duplicate_suppressed",
        "timed_out",
        "dropped",
        "stranded",
    ]
    assert rules[3] == "orchestrator.processing_timeout"
    assert causes[5] == "run.drain"
    assert rec.batch_size[0] == 2 and rec.reply_count[1] == 1


def test_cause_falls_back_to_the_latest_delay() -> None:
    kernel = Kernel()
    rec = Recorder(kernel, 1)
    rec.event("arrived", 0)
    rec.event("lock_wait", 0, "orchestrator.lock_wait_timeout")
    rec.event("batched", 0, "coordinator.batching.max_batch")
    rec.event("processing_started", 0)
    rec.event("reply_sent", 0, detail="r")
    assert rec.fates() == ([0], [""], ["coordinator.batching.max_batch"])


def test_restart_marks_open_messages_lost_and_only_those() -> None:
    kernel = Kernel()
    rec = Recorder(kernel, 3, capture=[1])
    for seq in range(3):
        rec.event("arrived", seq)
    rec.event("processing_started", 0)
    rec.event("reply_sent", 0, detail="r")
    rec.event("processing_started", 1)
    assert rec.restart() == [1, 2]
    assert fates_of(rec) == ["answered", "lost", "lost"]
    assert [e.kind for e in rec.events] == ["arrived", "processing_started", "lost"]


def test_a_drop_after_the_agent_call_is_unanswered() -> None:
    kernel = Kernel()
    rec = Recorder(kernel, 1)
    rec.event("arrived", 0)
    rec.event("processing_started", 0)
    rec.event("dropped", 0, "response_manager.max_queue")
    assert fates_of(rec) == ["unanswered"]


def test_unknown_events_are_refused() -> None:
    with pytest.raises(ValueError):
        Recorder(Kernel(), 1).event("teleported", 0)


@settings(deadline=None)
@given(st.floats(min_value=0.0, max_value=1.0))
def test_normal_quantile_is_normaldist_inv_cdf_to_the_bit(u: float) -> None:
    expected = NormalDist().inv_cdf(min(max(u, 1e-12), 1.0 - 1e-12))
    assert struct.pack("<d", normal_quantile(u)) == struct.pack("<d", expected)
