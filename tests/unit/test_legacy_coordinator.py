"""MessageCoordinator rows C1-C8 and switches [A4] [A5] [A6] [A7], in the coordinator arm."""

from __future__ import annotations

from legacy_support import (
    S,
    coordinator,
    events,
    fates,
    latency,
    msg,
    peak,
    run,
    texts,
    wait,
    world,
)


def started(result, seq: int) -> float:
    return next(e.at for e in events(result, "processing_started") if seq in e.seqs) / S


def calls(result) -> list[tuple[float, tuple[int, ...]]]:
    return [(e.at / S, e.seqs) for e in events(result, "processing_started")]


def test_C1_one_loop_per_contact() -> None:
    messages = texts("c", [0, 0.5, 1.0])
    result = run(coordinator(batching_enabled=False), messages, world(agent=2))
    assert calls(result) == [(0.0, (0,)), (2.3, (1,)), (4.6, (2,))]
    assert peak(result, "coordinator.loops") == 1
    assert wait(result, 1, 1) == 1.8


def test_C1_naive_await_breaks_mutual_exclusion() -> None:
    messages = texts("c", [0, 0.5, 1.0])
    result = run(coordinator(batching_enabled=False, mutex="naive_await"), messages, world(agent=2))
    # both callers awaited seq 0's promise once; both run their batch when it settles
    assert calls(result) == [(0.0, (0,)), (2.3, (1,)), (2.3, (2,))]
    assert all(fate == "answered" for fate, _ in fates(result))


def test_C2_duplicate_within_window_suppressed() -> None:
    messages = [
        msg(0, "c", 0.0, "oi"),
        msg(1, "c", 2.999, "oi"),  # within 3 s: suppressed, does not refresh
        msg(2, "c", 3.0, "oi"),  # 3.0 - 0 is not < 3: accepted, hash time 3.0
        msg(3, "c", 5.0, "oi"),  # 5 - 3 < 3: suppressed
        msg(4, "d", 5.0, "oi"),  # another contact
    ]
    result = run(coordinator(), messages, world(agent=0.1, send=0.1))
    assert [fate for fate, _ in fates(result)] == [
        "answered",
        "duplicate_suppressed",
        "answered",
        "duplicate_suppressed",
        "answered",
    ]
    assert fates(result)[1][1] == "coordinator.duplicate_window"
    assert result.stats["coordinator.duplicates_detected"] == 2


def test_C2_A4_exact_text_by_default() -> None:
    messages = [msg(0, "c", 0, "Oi"), msg(1, "c", 1, " oi ")]
    result = run(coordinator(), messages, world(agent=0.1))
    assert [fate for fate, _ in fates(result)] == ["answered", "answered"]


def test_C2_A4_normalized_text_switch() -> None:
    messages = [msg(0, "c", 0, "Oi"), msg(1, "c", 1, " oi ")]
    result = run(coordinator(hash_text="normalized"), messages, world(agent=0.1))
    assert fates(result)[1] == ("duplicate_suppressed", "coordinator.duplicate_window")


def test_C3_fifo_per_contact() -> None:
    messages = texts("c", [0, 0.1, 0.2, 0.3, 0.4])
    result = run(coordinator(batching_enabled=False), messages, world(agent=1))
    assert [seqs for _, seqs in calls(result)] == [(0,), (1,), (2,), (3,), (4,)]
    replies = [result.recorder.first_reply_at[s] for s in range(5)]
    assert replies == sorted(replies)


def test_C4_A5_batches_take_waiting_messages_up_to_max() -> None:
    messages = texts("c", [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    result = run(coordinator(), messages, world(agent=2))
    assert calls(result) == [(0.0, (0,)), (2.3, (1, 2, 3, 4, 5)), (4.6, (6,))]
    rec = result.recorder
    assert rec.batch_size == [1, 5, 5, 5, 5, 5, 1]
    assert rec.reply_count == [1] * 7  # one reply answers each member
    assert len({rec.reply_text_hash[s] for s in range(1, 6)}) == 1
    assert [e.rule for e in events(result, "batched")] == ["coordinator.batching.max_batch"]


def test_C4_A5_max_batch_and_disabled() -> None:
    messages = texts("c", [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    three = run(coordinator(max_batch=3), messages, world(agent=2))
    assert [seqs for _, seqs in calls(three)] == [(0,), (1, 2, 3), (4, 5, 6)]
    off = run(coordinator(batching_enabled=False), messages, world(agent=2))
    assert [seqs for _, seqs in calls(off)] == [(s,) for s in range(7)]
    assert events(off, "batched") == []


def test_C5_A6_full_queue_drops_newcomer() -> None:
    messages = texts("c", [0] + [0.1 * i for i in range(1, 23)])
    result = run(coordinator(), messages, world(agent=10))
    # seq 0 runs; seqs 1-20 wait (20, the limit); 21 and 22 arrive at a full queue
    assert fates(result)[21:] == [("dropped", "coordinator.max_queue_size")] * 2
    assert all(fate == "answered" for fate, _ in fates(result)[:21])
    assert peak(result, "coordinator.queued_messages") == 20


def test_C5_A6_drop_oldest_switch() -> None:
    messages = texts("c", [0] + [0.1 * i for i in range(1, 23)])
    result = run(coordinator(overflow="drop_oldest"), messages, world(agent=10))
    assert fates(result)[1:3] == [("dropped", "coordinator.max_queue_size")] * 2
    assert all(fate == "answered" for fate, _ in fates(result)[3:])


def surge() -> list:
    """51 contacts, each with a running loop and then one waiting message."""
    first = [msg(i, f"c{i}", 0, f"first {i}") for i in range(51)]
    second = [msg(51 + i, f"c{i}", 1 + (i == 50), f"second {i}") for i in range(51)]
    return first + second


def test_C6_A7_emergency_flush_over_50_queues() -> None:
    result = run(coordinator(), surge(), world(agent=10))
    flush = events(result, "emergency_flush")
    assert [(e.at / S, e.seqs) for e in flush] == [(2.0, tuple(range(51, 102)))]
    assert fates(result)[51:] == [("dropped", "coordinator.emergency_flush_queues")] * 51
    assert all(fate == "answered" for fate, _ in fates(result)[:51])  # running batches go on
    assert peak(result, "coordinator.nonempty_queues") == 51
    assert result.stats["coordinator.flushed"] == 51


def test_C6_A7_threshold_switch() -> None:
    result = run(coordinator(emergency_flush_queues=60), surge(), world(agent=10))
    assert events(result, "emergency_flush") == []
    assert all(fate == "answered" for fate, _ in fates(result))


def gauge_at(result, name: str, at: float) -> int:
    gauge = result.gauges.get(name)
    assert gauge is not None
    return dict(gauge.samples)[round(at * S)]


def test_C7_cleanup_every_5_minutes() -> None:
    messages = [msg(i, f"c{i}", 0, "oi") for i in range(10)]
    result = run(coordinator(), messages, world(agent=1), drain=400 * S)
    for name in ("coordinator.hashes", "coordinator.queues"):
        assert gauge_at(result, name, 290) == 10  # stays between sweeps
        assert gauge_at(result, name, 310) == 0
    quick = run(coordinator(cleanup_every=60 * S), messages, world(agent=1), drain=400 * S)
    assert gauge_at(quick, "coordinator.hashes", 50) == 10
    assert gauge_at(quick, "coordinator.hashes", 70) == 0


def test_C7_cleanup_keeps_running_loop_queue_usable() -> None:
    messages = texts("c", [0, 299, 301])
    result = run(coordinator(), messages, world(script={"m1": latency(5)}), drain=60 * S)
    assert all(fate == "answered" for fate, _ in fates(result))


def test_C8_stats_grow_forever() -> None:
    messages = [msg(i, "c", i * 0.5, "oi") for i in range(10)] + [msg(10, "c", 350, "oi")]
    result = run(coordinator(), messages, world(agent=0.1, send=0.1), drain=100 * S)
    stats = result.stats
    # accepted at 0 and 3.0, the rest suppressed; the sweep at 300 s resets no counter
    assert stats["coordinator.total_messages"] == 11
    assert stats["coordinator.duplicates_detected"] == 8
    assert stats["coordinator.processed"] == 3
    assert stats["coordinator.batches"] == 3


def test_coordinator_arm_gauges_for_every_map() -> None:
    result = run(coordinator(), texts("c", [0, 0.1]), world(agent=1))
    for name in (
        "coordinator.loops",
        "coordinator.hashes",
        "coordinator.queues",
        "coordinator.nonempty_queues",
        "coordinator.queued_messages",
    ):
        assert result.gauges.get(name) is not None
    assert peak(result, "coordinator.queued_messages") == 1


def test_C6_A7_flush_process_switch_runs_waiting_messages_now() -> None:
    result = run(coordinator(emergency_flush="process"), surge(), world(agent=10))
    flush = events(result, "emergency_flush")
    assert [(e.at / S, e.seqs, e.rule) for e in flush] == [
        (2.0, tuple(range(51, 102)), "coordinator.emergency_flush")
    ]
    assert all(fate == "answered" for fate, _ in fates(result))  # nothing discarded
    # each flushed message starts at the flush (2 s), beside its contact's running loop
    assert {started(result, seq) for seq in range(51, 102)} == {2.0}
    assert result.recorder.processing_count == [1] * 102
    assert result.stats["coordinator.flushed"] == 51
    assert result.stats["coordinator.dropped"] == 0


def test_C4_collect_delay_default_zero_takes_what_is_waiting() -> None:
    messages = texts("c", [0, 0.5, 1.0])
    result = run(coordinator(), messages, world(agent=2))
    assert calls(result)[0] == (0.0, (0,))


def test_C4_collect_delay_switch_waits_and_batches_the_arrivals() -> None:
    messages = texts("c", [0, 0.5, 1.0, 1.6])
    result = run(coordinator(collect_delay=1_500_000), messages, world(agent=2))
    # the loop waits 1.5 s before each take: seqs 0-2 arrived by then; seq 3 waits for the
    # first batch (reply at 3.8 s) and then another 1.5 s
    assert calls(result) == [(1.5, (0, 1, 2)), (5.3, (3,))]
    assert wait(result, 1, 0) == 1.5
    assert all(fate == "answered" for fate, _ in fates(result))


def test_C2_accepted_events_show_the_window_check() -> None:
    messages = [msg(0, "c", 0.0, "oi"), msg(1, "c", 2.0, "oi"), msg(2, "c", 4.0, "oi")]
    result = run(coordinator(), messages, world(agent=0.1, send=0.1))
    accepted = events(result, "accepted")
    assert [(e.at / S, e.seqs, e.rule) for e in accepted] == [
        (0.0, (0,), "coordinator.duplicate_window"),
        (4.0, (2,), "coordinator.duplicate_window"),
    ]
    assert accepted[0].detail == "no earlier hash; window 3 s"
    assert accepted[1].detail == "earlier hash accepted 4 s ago, not < window 3 s"
