"""MessageOrchestrator rows O1-O9 and switches [A1] [A2] [A3] [A18], alone, in virtual time."""

from __future__ import annotations

from legacy_support import (
    S,
    error,
    events,
    fates,
    first_reply,
    latency,
    msg,
    orchestrator,
    peak,
    run,
    texts,
    timeline,
    wait,
    world,
)


def started(result, seq: int) -> float:
    """When the seq's (first) agent call started, in seconds."""
    return next(e.at for e in events(result, "processing_started") if seq in e.seqs) / S


def test_O1_timeout_releases_lock_and_processor_runs_on() -> None:
    messages = texts("c", [0, 1])
    result = run(orchestrator(), messages, world(script={"m0": latency(20)}))
    assert [(e.at / S, e.seqs) for e in events(result, "processing_timeout")] == [(15.0, (0,))]
    assert events(result, "processing_timeout")[0].rule == "orchestrator.processing_timeout"
    assert started(result, 1) == 15.0  # the next message starts when the timer wins
    assert first_reply(result, 0) == 20.3  # the processor was not cancelled: its reply went out
    assert fates(result)[0] == ("answered", "")
    assert result.stats["orchestrator.timed_out"] == 1


def test_O1_longer_timeout_keeps_lock_until_processor_ends() -> None:
    messages = texts("c", [0, 1])
    result = run(
        orchestrator(processing_timeout=25 * S), messages, world(script={"m0": latency(20)})
    )
    assert events(result, "processing_timeout") == []
    assert started(result, 1) == 20.3


def test_O1_timed_out_message_without_reply_is_timed_out() -> None:
    messages = texts("c", [0])
    result = run(orchestrator(), messages, world(script={"m0": error(18)}))
    assert fates(result) == [("timed_out", "orchestrator.processing_timeout")]


def test_O2_A1_queue_after_lock_wait_timeout() -> None:
    messages = texts("c", [0, 1])
    result = run(orchestrator(), messages, world(script={"m0": latency(10)}))
    assert timeline(result, 1)[:4] == [
        (1.0, "arrived", (1,)),
        (1.0, "lock_wait", (1,)),
        (4.0, "lock_wait_timeout", (1,)),
        (4.0, "queued", (1,)),
    ]
    assert started(result, 1) == 10.3
    assert wait(result, 0, 1) == 9.3
    assert result.recorder.fates()[2][1] == "orchestrator.on_lock_wait_timeout"


def test_O2_lock_freed_within_wait_is_taken() -> None:
    messages = texts("c", [0, 0.5])
    result = run(orchestrator(), messages, world(agent=1))
    assert events(result, "lock_wait_timeout") == []
    assert started(result, 1) == 1.3
    assert wait(result, 0, 1) == 0.8


def test_O2_A1_proceed_runs_without_lock() -> None:
    messages = texts("c", [0, 1, 5.5])
    result = run(
        orchestrator(on_lock_wait_timeout="proceed"), messages, world(script={"m0": latency(10)})
    )
    assert started(result, 1) == 4.0  # wait expired: runs without the lock
    # seq 1 finishing at 5.3 released nobody's lock: seq 2 waits for seq 0's, then proceeds
    assert started(result, 2) == 8.5
    assert events(result, "queued") == []
    assert peak(result, "orchestrator.locks") == 1


def test_O3_handover_queue_head_before_waiter() -> None:
    messages = texts("c", [0, 1, 8])
    result = run(orchestrator(), messages, world(script={"m0": latency(10)}))
    # at 10.3 seq 1 (queued at 4) is the queue head; seq 2 is still inside its wait
    assert started(result, 1) == 10.3
    assert started(result, 2) == 11.6
    assert [e.seqs for e in events(result, "queued")] == [(1,), (2,)]


def test_O3_handover_to_earliest_waiter() -> None:
    messages = texts("c", [0, 0.5, 1])
    result = run(orchestrator(), messages, world(script={"m0": latency(2)}))
    assert [started(result, s) for s in (0, 1, 2)] == [0.0, 2.3, 3.6]
    assert [(e.at / S, e.seqs) for e in events(result, "lock_acquired")] == [
        (2.3, (1,)),
        (3.6, (2,)),
    ]
    assert events(result, "lock_wait_timeout") == []


def test_O4_deadlock_check_frees_stale_lock() -> None:
    messages = texts("c", [0, 2])
    result = run(orchestrator(), messages, world(script={"m0": error(1)}))
    # checks at 5, 10, 15, 20 (20 - 0 is not > 20), 25: freed
    forced = events(result, "force_released")
    assert [(e.at / S, e.seqs, e.rule) for e in forced] == [
        (25.0, (0,), "orchestrator.deadlock_after")
    ]
    assert started(result, 1) == 25.0


def test_O4_A2_check_period_is_a_switch() -> None:
    messages = texts("c", [0, 2])
    result = run(orchestrator(deadlock_check_every=7 * S), messages, world(script={"m0": error(1)}))
    assert [e.at / S for e in events(result, "force_released")] == [21.0]
    assert started(result, 1) == 21.0


def test_O4_handover_sets_new_lock_time() -> None:
    messages = texts("c", [0, 2, 3])
    result = run(orchestrator(), messages, world(script={"m0": error(1), "m1": error(1)}))
    # seq 1 got the lock at 25 with a new lock time: freed at 50 (45 - 25 is not > 20), not 30
    assert [e.at / S for e in events(result, "force_released")] == [25.0, 50.0]
    assert started(result, 2) == 50.0


def test_O5_51st_contact_waits_for_a_slot() -> None:
    messages = [msg(i, f"c{i}", 0, f"hello {i}") for i in range(51)]
    messages.append(msg(51, "c50", 1, "again"))
    result = run(orchestrator(), messages, world(agent=10, script={"m50": latency(1)}))
    assert peak(result, "orchestrator.slots") == 50
    assert [e.seqs for e in events(result, "slot_wait")] == [(50,), (51,)]
    assert started(result, 50) == 10.3
    assert wait(result, 0, 50) == 10.3
    # the slot wait does not count toward the 3 s lock wait: seq 51 starts its lock wait when
    # its contact gets the slot (10.3) and takes the lock at 11.6 without being queued
    assert [e.at / S for e in events(result, "lock_wait") if 51 in e.seqs] == [10.3]
    assert all(51 not in e.seqs for e in events(result, "lock_wait_timeout"))
    assert started(result, 51) == 11.6


def test_O5_A3_reject_drops_when_full() -> None:
    messages = [msg(i, f"c{i}", 0, f"hello {i}") for i in range(51)]
    messages.append(msg(51, "c50", 1, "again"))
    result = run(orchestrator(on_concurrency_full="reject"), messages, world(agent=10))
    assert fates(result)[50:] == [("dropped", "orchestrator.on_concurrency_full")] * 2
    assert all(fate == "answered" for fate, _ in fates(result)[:50])


def test_O6_error_keeps_lock_until_deadlock_check() -> None:
    messages = texts("c", [0, 2])
    result = run(orchestrator(), messages, world(script={"m0": error(1)}))
    assert fates(result)[0] == ("unanswered", "environment.agent")
    assert started(result, 1) == 25.0
    assert first_reply(result, 1) == 26.3
    assert result.stats["orchestrator.errors"] == 1


def test_O6_A18_release_lock_on_error() -> None:
    messages = texts("c", [0, 2])
    result = run(orchestrator(release_lock_on_error=True), messages, world(script={"m0": error(1)}))
    assert started(result, 1) == 2.0
    assert events(result, "force_released") == []


def test_O7_queue_is_unbounded_and_never_cleaned() -> None:
    messages = texts("c", [0] + [0.1 * i for i in range(1, 13)])
    result = run(orchestrator(), messages, world(script={"m0": latency(14)}))
    assert peak(result, "orchestrator.queued_messages") == 12
    assert all(fate == "answered" for fate, _ in fates(result))
    gauge = result.gauges.get("orchestrator.queues")
    assert gauge is not None and gauge.value == 1  # the empty queue stays in the map


def test_O7_emptied_queue_deleted_switch() -> None:
    messages = texts("c", [0] + [0.1 * i for i in range(1, 13)])
    result = run(orchestrator(emptied_queues="delete"), messages, world(script={"m0": latency(14)}))
    assert all(fate == "answered" for fate, _ in fates(result))
    gauge = result.gauges.get("orchestrator.queues")
    assert gauge is not None and gauge.peak == 1 and gauge.value == 0  # gone once emptied


def test_O7_queue_limit_drops_beyond() -> None:
    messages = texts("c", [0] + [0.1 * i for i in range(1, 13)])
    result = run(orchestrator(queue_limit=10), messages, world(script={"m0": latency(14)}))
    assert fates(result)[11:] == [("dropped", "orchestrator.queue_limit")] * 2
    assert peak(result, "orchestrator.queued_messages") == 10


def test_O8_no_duplicate_detection() -> None:
    messages = [msg(0, "c", 0, "oi", "same"), msg(1, "c", 0.5, "oi", "same")]
    result = run(orchestrator(), messages, world(agent=1))
    assert result.recorder.processing_count == [1, 1]
    assert result.recorder.reply_count == [1, 1]


def test_O9_statistics() -> None:
    messages = texts("c", [0, 2, 3])
    result = run(orchestrator(), messages, world(script={"m0": error(1), "m1": latency(16)}))
    assert {k: v for k, v in result.stats.items() if k.startswith("orchestrator.")} == {
        "orchestrator.processed": 3,
        "orchestrator.timed_out": 1,
        "orchestrator.force_released": 1,
        "orchestrator.queued": 2,
        "orchestrator.dropped": 0,
        "orchestrator.errors": 1,
        "orchestrator.lock_wait_timeouts": 2,
        "orchestrator.slot_waits": 0,
    }
