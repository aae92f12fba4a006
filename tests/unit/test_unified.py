"""The unified model row by row (docs/models.md U1-U10), its [A#] switches, the acceptance
checks."""

from __future__ import annotations

from dataclasses import replace

import pytest
from unified_support import MS, S, msg, quiet, run

from shadow.world.environment import Message, Outage, Restart, ScriptEntry
from unified import UnifiedSettings

DEFAULT = UnifiedSettings()


# -- acceptance ----------------------------------------------------------------------------------
def test_acceptance_conflict_2_oi_second_is_suppressed_by_the_10s_window() -> None:
    result = run([msg(0, 0, text="Oi"), msg(1, 4, text="Oi")], environment=quiet(latency=5 * S))
    assert result.fate(1) == "duplicate_suppressed"
    assert result.rule(1) == "unified.duplicate_window"
    assert result.rec.processing_count[1] == 0
    assert result.fate(0) == "answered"
    assert result.rec.first_reply_at[0] == 5 * S + 300 * MS


def test_acceptance_agent_error_on_first_message_does_not_stall_the_next() -> None:
    script = {"m0": ScriptEntry(outcome="error", latency=1 * S)}
    messages = [msg(0, 0, text="pedido"), msg(1, 0.5, text="cadê meu pedido?")]
    result = run(messages, environment=quiet(latency=2 * S, script=script))
    assert result.fate(0) == "unanswered" and result.rule(0) == "environment.agent"
    assert result.fate(1) == "answered"
    assert result.at(1, "processing_started") == 1 * S  # the error released the lock at once
    assert result.rec.first_reply_at[1] - messages[1].received_at < 3 * S


# -- U1 one lock system ---------------------------------------------------------------------------
def test_U1_one_entry_per_contact_serializes_its_messages_fifo() -> None:
    messages = [
        msg(0, 0, text="a"),
        msg(1, 1, text="b"),
        msg(2, 2, text="c"),
        msg(3, 1, contact="c2", text="a"),
    ]
    messages.sort(key=lambda m: m.received_at)
    messages = [Message(i, *m.fields()[1:]) for i, m in enumerate(messages)]  # 0:a 1:b 2:c2 3:c
    result = run(messages)
    assert result.starts() == [0, 2, 1, 3]
    assert result.at(2, "processing_started") == 1 * S  # the other contact does not wait
    assert result.at(1, "processing_started") == 5300 * MS  # after the holder's send
    assert result.at(3, "processing_started") == 10600 * MS
    assert result.kinds(1)[:4] == ["arrived", "accepted", "queued", "lock_acquired"]
    assert result.events(1, "queued")[0].rule == "unified.lock"
    assert result.rec.waits[1][1] == 4300 * MS  # wait_coordinator
    assert result.rec.waits[1][2] == 0  # the other contact took its lock at once
    assert result.rec.waits[0][0] == -1  # no orchestrator layer: wait_orchestrator is null
    assert result.rec.waits[2][0] == 0  # delivered at the first attempt
    assert result.peak("unified.queued_messages") == 2
    assert [result.fate(seq) for seq in range(4)] == ["answered"] * 4


# -- U2 duplicate check before the lock ------------------------------------------------------------
def test_U2_repeat_within_window_is_suppressed_count_incremented_timestamp_kept() -> None:
    result = run([msg(0, 0), msg(1, 6), msg(2, 9.9), msg(3, 10), msg(4, 12)], drain=5 * S)
    # 6 s and 9.9 s are inside the window of the occurrence accepted at 0 s; at 10 s the strict
    # window has ended although a suppressed repeat came 4 s earlier (suppression keeps the time)
    assert result.rec.processing_count == [1, 0, 0, 1, 0]
    assert [result.fate(seq) for seq in (1, 2, 4)] == ["duplicate_suppressed"] * 3
    assert result.rule(1) == "unified.duplicate_window"
    entry = result.model._hashes.entries[("c1", "oi")]
    assert entry == [10 * S, 2]  # accepted at 10 s, then one repeat (12 s)


def test_U2_duplicate_window_setting_is_honoured() -> None:
    result = run([msg(0, 0), msg(1, 4)], replace(DEFAULT, duplicate_window=3 * S))
    assert result.rec.processing_count == [1, 1]


def test_U2_hash_is_per_contact() -> None:
    result = run([msg(0, 0, contact="a"), msg(1, 1, contact="b")])
    assert [result.fate(0), result.fate(1)] == ["answered", "answered"]


@pytest.mark.parametrize(("hash_text", "processed"), [("exact", 1), ("normalized", 0)])
def test_U2_hash_text_exact_or_normalized(hash_text: str, processed: int) -> None:
    messages = [msg(0, 0, text="Oi", norm="oi"), msg(1, 1, text="oi ", norm="oi")]
    result = run(messages, replace(DEFAULT, hash_text=hash_text))
    assert result.rec.processing_count[1] == processed
    assert (result.fate(1) == "duplicate_suppressed") == (processed == 0)


@pytest.mark.parametrize("by_id", [False, True])
def test_U2_dedupe_by_message_id(by_id: bool) -> None:
    # a gateway redelivery 60 s later: beyond the 10 s window, only the id can catch it
    messages = [msg(0, 0, message_id="wamid.1"), msg(1, 60, message_id="wamid.1")]
    result = run(messages, replace(DEFAULT, dedupe_by_message_id=by_id))
    if by_id:
        assert result.fate(1) == "duplicate_suppressed"
        assert result.rule(1) == "unified.dedupe_by_message_id"
        assert result.arm.stats["unified.suppressed_by_message_id"] == 1
    else:
        assert result.fate(1) == "answered" and result.rec.processing_count[1] == 1


def test_U2_dedupe_by_message_id_runs_first_then_the_window() -> None:
    messages = [msg(0, 0, message_id="x"), msg(1, 1, message_id="x"), msg(2, 2, message_id="y")]
    result = run(messages, replace(DEFAULT, dedupe_by_message_id=True))
    assert result.rule(1) == "unified.dedupe_by_message_id"
    assert result.rule(2) == "unified.duplicate_window"
    assert result.peak("unified.message_ids") == 2


# -- U3 response tracking --------------------------------------------------------------------------
def same_reply(*ids: str) -> dict[str, ScriptEntry]:
    return {message_id: ScriptEntry(reply="Claro! Posso ajudar.") for message_id in ids}


def test_U3_identical_reply_within_30s_is_blocked() -> None:
    messages = [msg(0, 0, text="pedido?"), msg(1, 10, text="entrega?"), msg(2, 40, text="troca?")]
    result = run(messages, environment=quiet(script=same_reply("m0", "m1", "m2")))
    assert result.fate(1) == "unanswered" and result.rule(1) == "unified.response_window"
    assert result.rec.processing_count[1] == 1
    # 40 s: the last recorded send was at 5.3 s (a blocked reply does not refresh it)
    assert result.fate(2) == "answered"


@pytest.mark.parametrize(
    ("fields", "second"), [(("contact_id", "text"), "answered"), (("text",), "unanswered")]
)
def test_U3_A15_response_hash_fields(fields: tuple[str, ...], second: str) -> None:
    messages = [msg(0, 0, contact="a", text="x"), msg(1, 1, contact="b", text="y")]
    result = run(
        messages,
        replace(DEFAULT, response_hash_fields=fields),
        quiet(script=same_reply("m0", "m1")),
    )
    assert result.fate(0) == "answered"
    assert result.fate(1) == second


@pytest.mark.parametrize(
    ("record", "second"), [("after_send", "answered"), ("before_send", "unanswered")]
)
def test_U3_A11_record_response_after_or_before_send(record: str, second: str) -> None:
    # every attempt of the first reply fails (outage); the same reply 20 s later
    outage = (Outage(0, 10 * S, 1.0),)
    messages = [msg(0, 0, text="x"), msg(1, 20, text="y")]
    result = run(
        messages,
        replace(DEFAULT, record_response=record),
        quiet(latency=1 * S, script=same_reply("m0", "m1"), outages=outage),
    )
    assert result.fate(0) == "unanswered" and result.rule(0) == "unified.max_attempts"
    assert result.fate(1) == second
    if second == "unanswered":
        assert result.rule(1) == "unified.response_window"


# -- U4 MAX_LOCKS ---------------------------------------------------------------------------------
def test_U4_new_contact_evicts_the_longest_idle_entry() -> None:
    messages = [msg(0, 0, "a", "x"), msg(1, 1, "b", "x"), msg(2, 20, "c", "x")]
    result = run(messages, replace(DEFAULT, max_locks=2), drain=10 * S)  # before the sweep
    assert result.fate(2) == "answered"
    assert result.at(2, "processing_started") == 20 * S  # no wait: "a" was idle longest
    assert list(result.model._locks) == ["b", "c"]
    assert result.arm.stats["unified.lock_evictions"] == 1
    assert result.peak("unified.locks") == 2


def test_U4_A12_wait_when_no_entry_is_idle_with_later_messages_behind() -> None:
    messages = [
        msg(0, 0, "a", "x"),
        msg(1, 0, "b", "x"),
        msg(2, 1, "c", "first"),
        msg(3, 2, "c", "second"),
        msg(4, 3, "d", "x"),
    ]
    result = run(messages, replace(DEFAULT, max_locks=2))
    assert result.events(2, "slot_wait")[0].rule == "unified.max_locks"
    assert result.peak("unified.waiting_for_lock_table") == 3
    # a and b free their entries at 5.3 s: c gets one, then d; c's second message queues
    assert result.at(2, "processing_started") == 5300 * MS
    assert result.at(4, "processing_started") == 5300 * MS
    assert result.at(3, "processing_started") == 10600 * MS
    assert result.rec.waits[1][2] == 4300 * MS
    assert result.cause(2) == "unified.max_locks" or result.fate(2) == "answered"
    assert result.rec.delay_rule[2] == "unified.max_locks"
    assert all(result.fate(seq) == "answered" for seq in range(5))
    assert result.peak("unified.locks") == 2


def test_U4_A12_evict_oldest_takes_a_busy_entry_and_drops_its_queue() -> None:
    messages = [
        msg(0, 0, "a", "x"),
        msg(1, 0.5, "a", "y"),
        msg(2, 1, "b", "x"),
        msg(3, 2, "c", "x"),
    ]
    result = run(messages, replace(DEFAULT, max_locks=2, on_lock_table_full="evict_oldest"))
    assert result.at(3, "processing_started") == 2 * S  # no wait
    assert result.events(0, "evicted")[0].rule == "unified.max_locks"
    assert result.fate(1) == "dropped" and result.rule(1) == "unified.max_locks"
    assert result.fate(0) == "answered"  # the holder runs on without its entry
    assert result.peak("unified.locks") == 2


# -- U5 caches -------------------------------------------------------------------------------------
def test_U5_hash_cache_eviction_lets_a_duplicate_through_as_duplicate_missed() -> None:
    # the repeat asks about another topic, so its reply differs and is not blocked (U3)
    messages = [
        msg(0, 0, text="x"),
        msg(1, 1, text="y"),
        msg(2, 2, text="z"),
        msg(3, 3, text="x", topic="t2"),
    ]
    result = run(messages, replace(DEFAULT, max_hash_cache=2), quiet(latency=200 * MS))
    assert result.fate(3) == "answered"
    assert result.events(3, "duplicate_missed")[0].rule == "unified.max_hash_cache"
    assert result.cause(3) == "unified.max_hash_cache"
    assert result.peak("unified.hashes") == 2
    assert result.arm.stats["unified.hash_evictions"] == 2


def test_U5_expired_entries_are_not_misses() -> None:
    messages = [
        msg(0, 0, text="x"),
        msg(1, 1, text="y"),
        msg(2, 11, text="z"),
        msg(3, 12, text="x"),
    ]
    result = run(messages, replace(DEFAULT, max_hash_cache=2))
    assert result.events(3, "duplicate_missed") == []


def test_U5_response_cache_eviction_lets_a_blocked_reply_through() -> None:
    script = {
        "m0": ScriptEntry(reply="R"),
        "m1": ScriptEntry(reply="S"),
        "m2": ScriptEntry(reply="R"),
    }
    messages = [msg(0, 0, text="p"), msg(1, 1, text="q"), msg(2, 2, text="r")]
    result = run(messages, replace(DEFAULT, max_response_cache=1), quiet(script=script))
    assert result.fate(2) == "answered"
    assert result.events(2, "duplicate_missed")[0].rule == "unified.max_response_cache"
    assert result.peak("unified.responses") == 1


# -- U6 processing timeout -----------------------------------------------------------------------
def slow_first(latency: int) -> dict[str, ScriptEntry]:
    return {"m0": ScriptEntry(latency=latency)}


@pytest.mark.parametrize("late", ["drop", "send"])
def test_U6_A13_timeout_releases_the_lock_and_the_late_result_is_dropped_or_sent(late: str) -> None:
    messages = [msg(0, 0, text="x"), msg(1, 1, text="y")]
    result = run(messages, replace(DEFAULT, late_result=late), quiet(script=slow_first(20 * S)))
    assert result.events(0, "processing_timeout")[0].at == 15 * S
    assert result.at(1, "processing_started") == 15 * S
    if late == "drop":
        assert result.fate(0) == "timed_out" and result.rule(0) == "unified.processing_timeout"
        assert result.rec.reply_count[0] == 0
    else:
        assert result.fate(0) == "answered"
        assert result.rec.first_reply_at[0] == 20 * S + 300 * MS


def test_U6_a_hang_that_never_settles_times_out_and_frees_the_contact() -> None:
    script = {"m0": ScriptEntry(outcome="hang")}
    result = run(
        [msg(0, 0, text="x"), msg(1, 1, text="y")],
        environment=quiet(script=script, client_timeout=None),
    )
    assert "agent_hang" in result.kinds(0)
    assert result.fate(0) == "timed_out"
    assert result.fate(1) == "answered" and result.at(1, "processing_started") == 15 * S


@pytest.mark.parametrize(
    ("covers", "late", "fate"),
    [
        ("agent", "drop", "answered"),
        ("agent_and_send", "drop", "timed_out"),
        ("agent_and_send", "send", "answered"),
    ],
)
def test_U6_timeout_covers_agent_or_agent_and_send(covers: str, late: str, fate: str) -> None:
    # agent 14 s; the first attempt fails (outage), the retry starts at 15.3 s after 1 s backoff
    env = quiet(latency=14 * S, outages=(Outage(14 * S, 14_500 * MS, 1.0),))
    result = run([msg(0, 0)], replace(DEFAULT, timeout_covers=covers, late_result=late), env)
    assert result.fate(0) == fate
    timed_out = bool(result.events(0, "processing_timeout"))
    assert timed_out == (covers == "agent_and_send")
    if fate == "answered":
        assert result.rec.first_reply_at[0] == 15_600 * MS
        assert result.rec.waits[2][0] == 1300 * MS  # wait_response_manager


@pytest.mark.parametrize("covers", ["agent", "agent_and_send"])
def test_U6_a_tie_with_the_timer_goes_to_the_agent(covers: str) -> None:
    # m1's agent settles at 17 s, when its timer fires; its reply "same" was sent for m0 at
    # 1.3 s, so with agent_and_send the whole work (a blocked reply) also ends at 17 s
    script = {
        "m0": ScriptEntry(latency=1 * S, reply="same"),
        "m1": ScriptEntry(latency=15 * S, reply="same"),
    }
    messages = [msg(0, 0, text="x"), msg(1, 2, text="y"), msg(2, 3, text="z")]
    result = run(messages, replace(DEFAULT, timeout_covers=covers), quiet(script=script))
    assert not result.events(1, "processing_timeout")
    assert result.fate(1) == "unanswered" and result.rule(1) == "unified.response_window"
    assert result.at(1, "reply_blocked") == 17 * S
    assert result.at(2, "processing_started") == 17 * S  # the lock passed on at the tie


# -- U7 lock auto-release --------------------------------------------------------------------------
@pytest.mark.parametrize("release", [True, False])
def test_U7_A16_release_on_error_or_wait_for_the_watchdog(release: bool) -> None:
    script = {"m0": ScriptEntry(outcome="error", latency=2 * S)}
    messages = [msg(0, 0, text="x"), msg(1, 1, text="y")]
    result = run(messages, replace(DEFAULT, release_lock_on_error=release), quiet(script=script))
    assert result.fate(0) == "unanswered"
    if release:
        assert result.at(1, "processing_started") == 2 * S
        assert result.events(kind="force_released") == []
    else:
        # lock at 0 s; the watchdog (every 5 s) frees it at the first tick with age > 30 s
        forced = result.events(0, "force_released")
        assert [(e.at, e.rule) for e in forced] == [(35 * S, "unified.lock_timeout")]
        assert result.at(1, "processing_started") == 35 * S
        assert result.cause(1) == "unified.lock"


def test_U7_watchdog_frees_a_long_hold_and_the_old_holder_cannot_release_the_new_one() -> None:
    settings = replace(DEFAULT, processing_timeout=100 * S)
    script = {"m0": ScriptEntry(latency=50 * S), "m1": ScriptEntry(latency=20 * S)}
    messages = [msg(0, 0, text="x"), msg(1, 1, text="y"), msg(2, 2, text="z")]
    result = run(messages, settings, quiet(script=script))
    assert result.at(1, "processing_started") == 35 * S
    # m0 finishes at 50.3 s while m1 holds the lock: m2 still waits for m1 (55 s + 0.3 s)
    assert result.at(2, "processing_started") == 55_300 * MS
    assert result.model.longest_lock_hold() <= (settings.lock_timeout + settings.watchdog_every)
    assert result.fate(0) == "answered"


@pytest.mark.parametrize("watchdog_every", [5 * S, 10 * S])
def test_U7_watchdog_period_bounds_the_hold(watchdog_every: int) -> None:
    settings = replace(DEFAULT, release_lock_on_error=False, watchdog_every=watchdog_every)
    script = {"m0": ScriptEntry(outcome="error", latency=1 * S)}
    result = run([msg(0, 0, text="x"), msg(1, 1, text="y")], settings, quiet(script=script))
    assert result.at(1, "processing_started") == 30 * S + watchdog_every


# -- U8 retries ----------------------------------------------------------------------------------
def test_U8_retries_with_backoff_until_delivered() -> None:
    # attempts at 5 s (fails), 6.3 s (fails), 8.6 s (delivered at 8.9 s)
    env = quiet(outages=(Outage(5 * S, 7 * S, 1.0),))
    result = run([msg(0, 0)], environment=env)
    assert [e.at for e in result.events(0, "send_attempt")] == [5 * S, 6300 * MS, 8600 * MS]
    assert result.rec.first_reply_at[0] == 8900 * MS
    assert result.rec.waits[2][0] == 3600 * MS


@pytest.mark.parametrize("attempts", [3, 4])
def test_U8_A17_max_attempts_counts_every_attempt(attempts: int) -> None:
    env = quiet(outages=(Outage(0, 60 * S, 1.0),))
    result = run([msg(0, 0)], replace(DEFAULT, max_attempts=attempts), env)
    assert len(result.events(0, "send_attempt")) == attempts
    assert result.fate(0) == "unanswered" and result.rule(0) == "unified.max_attempts"


# -- U9 single cleanup -----------------------------------------------------------------------------
@pytest.mark.parametrize("every", [60 * S, 40 * S])
def test_U9_A14_one_sweep_clears_hashes_responses_and_idle_entries(every: int) -> None:
    settings = replace(DEFAULT, cleanup_every=every)
    before = run([msg(0, 0)], settings, drain=every - 1)
    assert (len(before.model._hashes), len(before.model._responses)) == (1, 1)
    assert len(before.model._locks) == 1
    after = run([msg(0, 0)], settings, drain=every)
    assert (len(after.model._hashes), len(after.model._responses)) == (0, 0)
    assert len(after.model._locks) == 0
    gauge = after.arm.gauges.get("unified.hashes")
    assert gauge is not None and gauge.value == 0 and gauge.peak == 1


def test_U9_sweep_keeps_entries_still_inside_their_window() -> None:
    result = run([msg(0, 0, text="a"), msg(1, 55, text="b")], drain=6 * S)  # sweep at 60 s
    assert list(result.model._hashes.entries) == [("c1", "b")]
    assert len(result.model._responses) == 1  # b's reply (60.3 s) is after the sweep


# -- U10 no batching -------------------------------------------------------------------------------
def test_U10_one_agent_call_and_one_reply_per_accepted_message() -> None:
    messages = [msg(i, i * 0.2, text=f"parte {i}") for i in range(5)]
    result = run(messages)
    assert result.starts() == [0, 1, 2, 3, 4]
    assert [e.seqs for e in result.events(kind="processing_started")] == [(i,) for i in range(5)]
    assert result.rec.batch_size == [1] * 5
    assert result.rec.reply_count == [1] * 5


# -- restarts, gauges, determinism -----------------------------------------------------------------
def test_restart_wipes_state_and_loses_work_in_flight() -> None:
    messages = [msg(0, 0), msg(1, 1, text="y"), msg(2, 12.5), msg(3, 13)]
    result = run(messages, restarts=[Restart(at=2 * S, downtime=10 * S)])
    assert [result.fate(0), result.fate(1)] == ["lost", "lost"]
    # the hash of "oi" went with the restart: the repeat at 12 s is processed afresh
    assert result.fate(2) == "answered" and result.fate(3) == "duplicate_suppressed"
    assert len(result.models) == 2
    assert result.at(2, "processing_started") == 12_500 * MS


def test_every_structure_has_a_gauge_with_its_cap() -> None:
    result = run([msg(0, 0)])
    caps = {g.name: g.cap for g in result.arm.gauges.all() if g.name.startswith("unified.")}
    assert caps == {
        "unified.locks": 100,
        "unified.queued_messages": None,
        "unified.waiting_for_lock_table": None,
        "unified.hashes": 1000,
        "unified.message_ids": 1000,
        "unified.responses": 5000,
    }


def test_same_inputs_same_events() -> None:
    messages = [msg(i, i * 0.7, contact=f"c{i % 3}", text=f"t{i % 4}") for i in range(40)]
    first = run(messages, environment=None).rec.events
    second = run(messages, environment=None).rec.events
    assert first == second and len(first) > 80


# -- where the unified design is weaker (docs/models.md lists each for approvers) ----------------
def test_weakness_a_legitimate_repeat_within_10s_is_eaten() -> None:
    # "sim" to one question, then "sim" 6 s later to a different question: a real answer
    messages = [msg(0, 0, text="sim", topic="q1"), msg(1, 6, text="sim", topic="q2")]
    result = run(messages)
    assert result.fate(1) == "duplicate_suppressed"
    assert result.rec.processing_count[1] == 0 and result.rec.reply_count[1] == 0
    # the legacy coordinator's 3 s window would have let it through
    legacy_window = run(messages, replace(DEFAULT, duplicate_window=3 * S))
    assert legacy_window.fate(1) == "answered"


def test_weakness_identical_bot_replies_are_blocked_for_30s() -> None:
    # two different questions whose right answer is the same text, 20 s apart
    replies = {"horario": "Atendemos das 8h às 18h.", "sabado": "Atendemos das 8h às 18h."}
    messages = [
        msg(0, 0, text="que horas abrem?", topic="horario"),
        msg(1, 20, text="abrem sábado?", topic="sabado"),
    ]
    result = run(messages, environment=quiet(replies=replies))
    assert result.rec.processing_count == [1, 1]
    assert result.fate(1) == "unanswered" and result.rule(1) == "unified.response_window"
    assert result.rec.reply_count[1] == 0


def test_weakness_the_hash_cache_evicts_under_load_and_lets_duplicates_through() -> None:
    # 1,100 distinct messages in 5 s, then a resend of the first one at 6 s (inside 10 s)
    messages = [msg(i, i * 0.004, contact=f"c{i}", text="oi") for i in range(1100)]
    messages.append(msg(1100, 6, contact="c0", text="oi", topic="again"))
    result = run(messages, environment=quiet(latency=1 * S), drain=20 * S)
    assert result.rec.processing_count[1100] == 1  # processed twice for one user intent
    missed = result.events(1100, "duplicate_missed")
    assert [e.rule for e in missed] == ["unified.max_hash_cache"]
    assert result.peak("unified.hashes") == 1000


def test_weakness_the_lock_table_cap_makes_new_contacts_wait_under_load() -> None:
    # 150 contacts write at once: 50 of them wait for a lock entry (MAX_LOCKS 100)
    messages = [msg(i, i * 0.001, contact=f"c{i}", text=f"t{i}") for i in range(150)]
    result = run(messages)
    waiting = [seq for seq in range(150) if result.events(seq, "slot_wait")]
    assert waiting == list(range(100, 150))
    assert min(result.rec.waits[1][seq] for seq in waiting) > 4 * S
    assert all(result.fate(seq) == "answered" for seq in range(150))


def test_weakness_no_batching_a_burst_waits_one_agent_call_per_message() -> None:
    messages = [msg(i, i * 0.5, text=f"parte {i}") for i in range(5)]
    result = run(messages)
    assert len(result.events(kind="processing_started")) == 5
    last_latency = result.rec.first_reply_at[4] - messages[4].received_at
    assert last_latency == 5 * 5300 * MS - 2 * S  # five calls in a row, each 5 s + 0.3 s send


def test_weakness_a_late_redelivery_is_answered_again_without_id_dedupe() -> None:
    # the gateway redelivers the same message id 40 s later (at-least-once webhooks)
    messages = [msg(0, 0, message_id="wamid.7"), msg(1, 40, message_id="wamid.7")]
    result = run(messages)
    assert result.rec.processing_count == [1, 1]
    assert result.rec.reply_count == [1, 1]  # past both windows: the user gets two replies


def test_U2_accepted_events_show_the_window_check() -> None:
    result = run([msg(0, 0), msg(1, 4), msg(2, 12)], drain=5 * S)
    accepted = result.events(kind="accepted")
    # 4 s is inside the 10 s window (suppressed, no accepted event); 12 s is not
    assert [(e.at / S, e.seqs, e.rule) for e in accepted] == [
        (0.0, (0,), "unified.duplicate_window"),
        (12.0, (2,), "unified.duplicate_window"),
    ]
    assert accepted[0].detail == "no earlier hash; window 10 s"
    assert accepted[1].detail == "earlier hash accepted 12 s ago, not < window 10 s"
    assert result.fate(1) == "duplicate_suppressed"
