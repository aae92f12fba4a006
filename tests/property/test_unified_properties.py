"""Invariants of the unified model on random streams, environments and settings (hypothesis)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace

from hypothesis import given
from hypothesis import strategies as st
from unified_support import MS, Run, S, msg, run

from shadow.world.environment import (
    AgentSettings,
    Environment,
    EnvironmentSettings,
    Latency,
    Message,
    Outage,
    Restart,
    SenderSettings,
)
from unified import UnifiedSettings

CLOSING = frozenset(
    {
        "duplicate_suppressed",
        "dropped",
        "reply_sent",
        "reply_blocked",
        "send_failed",
        "agent_error",
        "lost",
    }
)


@dataclass
class Case:
    messages: list[Message]
    settings: UnifiedSettings
    environment: Environment
    restarts: tuple[Restart, ...]


@st.composite
def streams(draw: st.DrawFn) -> list[Message]:
    """Up to 40 messages of up to 4 contacts, few texts (repeats), some redelivered ids."""
    count = draw(st.integers(1, 40))
    at = 0
    messages: list[Message] = []
    for seq in range(count):
        at += draw(st.sampled_from([0, 200 * MS, 1 * S, 3 * S, 6 * S, 9_999 * MS, 10 * S, 25 * S]))
        contact = draw(st.sampled_from(["a", "b", "c", "d"]))
        text = draw(st.sampled_from(["oi", "sim", "pedido"]))
        redelivered = seq > 0 and draw(st.booleans()) and draw(st.booleans())
        message_id = messages[draw(st.integers(0, seq - 1))].message_id if redelivered else None
        topic = draw(st.sampled_from(["", "q1", "q2"]))
        messages.append(msg(seq, at / S, contact, text, message_id, topic=topic))
    return messages


@st.composite
def settings_(draw: st.DrawFn) -> UnifiedSettings:
    return UnifiedSettings(
        duplicate_window=draw(st.sampled_from([3 * S, 10 * S])),
        hash_text=draw(st.sampled_from(["exact", "normalized"])),
        dedupe_by_message_id=draw(st.booleans()),
        response_window=draw(st.sampled_from([5 * S, 30 * S])),
        response_hash_fields=draw(st.sampled_from([("contact_id", "text"), ("text",)])),
        record_response=draw(st.sampled_from(["after_send", "before_send"])),
        max_locks=draw(st.integers(1, 5)),
        on_lock_table_full=draw(st.sampled_from(["wait", "evict_oldest"])),
        max_hash_cache=draw(st.sampled_from([1, 2, 3, 1000])),
        max_response_cache=draw(st.sampled_from([1, 2, 5000])),
        processing_timeout=draw(st.sampled_from([4 * S, 15 * S, 40 * S])),
        late_result=draw(st.sampled_from(["drop", "send"])),
        timeout_covers=draw(st.sampled_from(["agent", "agent_and_send"])),
        lock_timeout=draw(st.sampled_from([10 * S, 30 * S])),
        watchdog_every=draw(st.sampled_from([1 * S, 5 * S, 7 * S])),
        release_lock_on_error=draw(st.booleans()),
        max_attempts=draw(st.integers(1, 4)),
        cleanup_every=draw(st.sampled_from([7 * S, 60 * S])),
    )


@st.composite
def environments(draw: st.DrawFn) -> Environment:
    latency = draw(
        st.sampled_from(
            [
                Latency(kind="fixed", fixed=5 * S),
                Latency(kind="uniform", low=100 * MS, high=30 * S),
                Latency(median=3 * S, p95=20 * S),
            ]
        )
    )
    return Environment(
        EnvironmentSettings(
            seed=draw(st.integers(0, 2**16)),
            agent=AgentSettings(
                latency=latency,
                error_rate=draw(st.sampled_from([0.0, 0.1, 0.3])),
                hang_rate=draw(st.sampled_from([0.0, 0.1])),
                client_timeout=draw(st.sampled_from([None, 20 * S, 600 * S])),
            ),
            sender=SenderSettings(
                latency=Latency(kind="uniform", low=100 * MS, high=2 * S),
                failure_rate=draw(st.sampled_from([0.0, 0.2, 0.6])),
                outages=draw(st.sampled_from([(), (Outage(5 * S, 60 * S, 1.0),)])),
            ),
        )
    )


@st.composite
def cases(draw: st.DrawFn, restarts: bool = True) -> Case:
    messages = draw(streams())
    planned: tuple[Restart, ...] = ()
    if restarts and draw(st.booleans()):
        planned = (
            Restart(at=draw(st.integers(1, 120)) * S, downtime=draw(st.integers(0, 30)) * S),
        )
    return Case(messages, draw(settings_()), draw(environments()), planned)


def simulate_case(case: Case) -> Run:
    return run(case.messages, case.settings, case.environment, case.restarts)


def contact_of(case: Case) -> dict[int, str]:
    return {m.seq: m.contact_id for m in case.messages}


@given(cases())
def test_never_two_agent_calls_for_one_seq(case: Case) -> None:
    result = simulate_case(case)
    calls = [e.seqs for e in result.events(kind="processing_started")]
    assert all(len(members) == 1 for members in calls)
    assert len({members[0] for members in calls}) == len(calls)
    assert max(result.rec.processing_count) <= 1


@given(cases())
def test_per_contact_agent_calls_start_in_arrival_order(case: Case) -> None:
    result = simulate_case(case)
    contacts = contact_of(case)
    started: dict[str, list[int]] = defaultdict(list)
    for seq in result.starts():
        started[contacts[seq]].append(seq)
    arrived = result.rec.arrived_at
    for seqs in started.values():
        # arrival as delivered: a message redelivered after a restart arrives late
        assert seqs == sorted(seqs, key=lambda seq: (arrived[seq], seq))


@given(cases())
def test_no_lock_held_longer_than_lock_timeout_plus_watchdog_every(case: Case) -> None:
    result = simulate_case(case)
    bound = case.settings.lock_timeout + case.settings.watchdog_every
    # a restarted instance's holds ended at the restart; the last one's count up to the end
    assert all(model._longest_hold <= bound for model in result.models)
    assert result.model.longest_lock_hold() <= bound


@given(cases())
def test_no_structure_ever_above_its_cap(case: Case) -> None:
    result = simulate_case(case)
    capped = [g for g in result.arm.gauges.all() if g.cap is not None]
    assert {g.name for g in capped} == {
        "unified.locks",
        "unified.hashes",
        "unified.message_ids",
        "unified.responses",
    }
    assert all(g.peak <= g.cap for g in capped if g.cap is not None)


def within_window_repeats(case: Case, accepted: set[int]) -> dict[int, bool]:
    """For each seq, whether it repeats the last accepted occurrence within the window."""
    settings = case.settings
    last: dict[tuple[str, str], int] = {}
    repeats: dict[int, bool] = {}
    for m in case.messages:
        key = (m.contact_id, m.text_hash if settings.hash_text == "exact" else m.text_norm_hash)
        seen = last.get(key)
        repeats[m.seq] = seen is not None and m.received_at - seen < settings.duplicate_window
        if m.seq in accepted:
            last[key] = m.received_at
    return repeats


@given(cases(restarts=False))
def test_while_the_hash_cache_is_not_full_every_repeat_within_the_window_is_suppressed(
    case: Case,
) -> None:
    case.settings = replace(case.settings, dedupe_by_message_id=False)  # the window alone
    result = simulate_case(case)
    suppressed = {s for s in range(len(case.messages)) if result.events(s, "duplicate_suppressed")}
    accepted = set(range(len(case.messages))) - suppressed
    repeats = within_window_repeats(case, accepted)
    evicted = result.model._hashes.evictions
    for seq, repeat in repeats.items():
        missed = [
            e.rule
            for e in result.events(seq, "duplicate_missed")
            if e.rule != "unified.max_response_cache"  # a reply let through: not this check
        ]
        if seq in suppressed:
            assert repeat  # never suppressed outside the window
        elif repeat:  # let through: only an eviction may explain it, and it says so
            assert missed == ["unified.max_hash_cache"]
        else:
            assert missed == []
    if evicted == 0:  # the cache never filled up to eviction: the window alone decided
        assert suppressed == {seq for seq, repeat in repeats.items() if repeat}


@given(cases())
def test_every_message_ends_in_exactly_one_fate(case: Case) -> None:
    result = simulate_case(case)
    fates = [result.fate(seq) for seq in range(len(case.messages))]
    for seq, fate in enumerate(fates):
        closing = [e.kind for e in result.events(seq) if e.kind in CLOSING]
        late_discard = [e for e in result.events(seq, "dropped") if e.rule == "unified.late_result"]
        if late_discard and closing[-1] == "reply_sent":
            # a send attempt already in flight when the timer won (timeout_covers agent_and_send)
            assert case.settings.timeout_covers == "agent_and_send"
            assert closing == ["dropped", "reply_sent"] and fate == "answered"
            continue
        assert len(closing) <= 1, (seq, closing)
        expected = {
            "reply_sent": {"answered"},
            "lost": {"lost"},
            "duplicate_suppressed": {"duplicate_suppressed"},
            "dropped": {"dropped", "timed_out"},
            "reply_blocked": {"unanswered", "timed_out"},
            "send_failed": {"unanswered", "timed_out"},
            "agent_error": {"unanswered", "timed_out"},
        }
        if closing:
            assert fate in expected[closing[0]], (seq, closing, fate)
        else:  # still pending when the run stopped
            assert result.rec.is_open(seq)
            assert fate in {"stranded", "timed_out"}
    assert result.rec.reply_count == [int(f == "answered") for f in fates]
