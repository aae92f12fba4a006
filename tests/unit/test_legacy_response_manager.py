"""ResponseManager rows R1-R5 and switches [A8] [A9] [A10], in the response-manager arm."""

from __future__ import annotations

from legacy_support import (
    S,
    events,
    fates,
    first_reply,
    msg,
    response_manager,
    run,
    wait,
    world,
)


def attempts(result) -> list[float]:
    return [e.at / S for e in events(result, "send_attempt")]


def test_R1_same_reply_within_30s_blocked() -> None:
    messages = [
        msg(0, "c", 0, "oi"),  # reply at 1.0, recorded at 1.0
        msg(1, "c", 10, "oi"),  # reply at 11.0: blocked, neither records nor refreshes
        msg(2, "d", 10, "oi"),  # same text to another contact: sent
        msg(3, "c", 30, "oi"),  # reply at 31.0: 31 - 1 is not < 30: sent
    ]
    result = run(response_manager(), messages, world(agent=1))
    assert fates(result) == [
        ("answered", ""),
        ("unanswered", "response_manager.duplicate_window"),
        ("answered", ""),
        ("answered", ""),
    ]
    assert result.recorder.processing_count[1] == 1
    assert result.stats["response_manager.blocked"] == 1


def test_R1_A8_hash_recorded_before_send() -> None:
    messages = [msg(0, "c", 0, "oi"), msg(1, "c", 0.1, "oi")]
    result = run(response_manager(), messages, world(agent=1, send=0.3))
    assert fates(result)[1] == ("unanswered", "response_manager.duplicate_window")


def test_R1_A8_hash_recorded_after_send_switch() -> None:
    messages = [msg(0, "c", 0, "oi"), msg(1, "c", 0.1, "oi"), msg(2, "c", 0.5, "oi")]
    result = run(response_manager(mark_before_send=False), messages, world(agent=1, send=0.3))
    # seq 1's reply (1.1) comes before seq 0's send succeeded (1.3); seq 2's (1.5) after
    assert [fate for fate, _ in fates(result)] == ["answered", "answered", "unanswered"]


def test_R2_A9_three_attempts_with_backoff() -> None:
    result = run(response_manager(), [msg(0, "c", 0)], world(agent=1, send_failure=1.0))
    assert attempts(result) == [1.0, 2.3, 4.6]  # 1 s, then 2 s after each failure
    assert fates(result) == [("unanswered", "response_manager.max_attempts")]
    assert wait(result, 2, 0) == 3.6


def test_R2_A9_attempts_and_backoff_are_switches() -> None:
    result = run(
        response_manager(max_attempts=2, backoff=(3 * S,)),
        [msg(0, "c", 0)],
        world(agent=1, send_failure=1.0),
    )
    assert attempts(result) == [1.0, 4.3]


def test_R2_retry_delivers() -> None:
    result = run(response_manager(), [msg(0, "c", 0)], world(agent=1, outages=[(0, 2, 1.0)]))
    assert attempts(result) == [1.0, 2.3]
    assert first_reply(result, 0) == 2.6
    assert wait(result, 2, 0) == 1.3
    assert result.stats["response_manager.retries"] == 1


def gauge_at(result, name: str, at: float) -> int:
    gauge = result.gauges.get(name)
    assert gauge is not None
    return dict(gauge.samples)[round(at * S)]


def test_R3_cleanup_every_60s() -> None:
    messages = [msg(i, f"c{i}", 0, "oi") for i in range(5)]
    result = run(response_manager(), messages, world(agent=1))
    assert gauge_at(result, "response_manager.cache", 50) == 5
    assert gauge_at(result, "response_manager.cache", 70) == 0
    slow = run(response_manager(cleanup_every=120 * S), messages, world(agent=1), drain=200 * S)
    assert gauge_at(slow, "response_manager.cache", 70) == 5
    assert gauge_at(slow, "response_manager.cache", 110) == 5
    assert gauge_at(slow, "response_manager.cache", 130) == 0


def test_R4_cache_evicts_first_inserted() -> None:
    messages = [
        msg(0, "c", 0, "a"),
        msg(1, "c", 1, "b"),
        msg(2, "c", 2, "c"),  # third key: "a" is evicted
        msg(3, "c", 3, "b"),  # still recorded: blocked
        msg(4, "c", 4, "a"),  # not blocked any more
    ]
    result = run(response_manager(max_cache=2), messages, world(agent=1))
    assert [fate for fate, _ in fates(result)] == [
        "answered",
        "answered",
        "answered",
        "unanswered",
        "answered",
    ]
    assert result.stats["response_manager.cache_evictions"] >= 1


def test_R4_rerecording_keeps_insertion_place() -> None:
    messages = [
        msg(0, "c", 0, "a"),  # a recorded at 1
        msg(1, "c", 4, "b"),  # b recorded at 5
        msg(2, "c", 11, "a"),  # a expired: re-recorded at 12, stays first
        msg(3, "c", 12, "c"),  # c evicts a (first inserted), not b
        msg(4, "c", 13, "b"),  # b (recorded at 5) within 10 s: still cached, blocked
        msg(5, "c", 13.5, "a"),  # a was evicted: sent again
    ]
    result = run(response_manager(max_cache=2, duplicate_window=10 * S), messages, world(agent=1))
    assert [fate for fate, _ in fates(result)] == ["answered"] * 4 + ["unanswered", "answered"]


def test_R4_A10_reply_beyond_pending_limit_refused() -> None:
    messages = [msg(0, "c", 0, "a"), msg(1, "d", 0.5, "b")]
    refused = run(response_manager(max_queue=1), messages, world(agent=1, send=5))
    assert fates(refused)[1] == ("unanswered", "response_manager.max_queue")
    assert refused.recorder.processing_count[1] == 1
    roomy = run(response_manager(), messages, world(agent=1, send=5))
    assert [fate for fate, _ in fates(roomy)] == ["answered", "answered"]


def test_R5_different_messages_same_reply_blocked() -> None:
    messages = [msg(0, "c", 0, "sim"), msg(1, "c", 5, "ok")]
    result = run(
        response_manager(), messages, world(agent=1, replies={"sim": "Certo!", "ok": "Certo!"})
    )
    assert fates(result)[1] == ("unanswered", "response_manager.duplicate_window")
    plain = run(response_manager(), messages, world(agent=1))
    assert [fate for fate, _ in fates(plain)] == ["answered", "answered"]
