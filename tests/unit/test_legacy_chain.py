"""The legacy chain: settle table, the seed's conflicts with explicit timelines, quiet C4-C6."""

from __future__ import annotations

from legacy_support import (
    S,
    chain,
    coordinator,
    error,
    events,
    fates,
    first_reply,
    latency,
    msg,
    peak,
    run,
    stream,
    texts,
    timeline,
    wait,
    world,
)

from legacy_models import CoordinatorSettings, OrchestratorSettings
from shadow.world.environment import (
    AgentSettings,
    Environment,
    EnvironmentSettings,
    Restart,
    ScriptEntry,
)


def test_conflict_2_oi_twice_processed_twice_one_reply() -> None:
    """The seed's scenario: "Oi" at 0 s and 4 s, agent 5 s, no errors or send failures.

    The seed writes "resposta enviada 0x"; the rules give one reply: seq 0 is answered at
    5.3 s, seq 1 enters the coordinator at 5.3 s (5.3 s after the first hash: accepted), is
    processed and its identical reply is blocked by the 30 s window at 10.3 s.
    """
    messages = [msg(0, "c", 0, "Oi"), msg(1, "c", 4, "Oi")]
    result = run(chain(), messages, world(agent=5))
    assert timeline(result) == [
        (0.0, "arrived", (0,)),
        (0.0, "accepted", (0,)),
        (0.0, "processing_started", (0,)),
        (4.0, "arrived", (1,)),
        (4.0, "lock_wait", (1,)),
        (5.0, "send_attempt", (0,)),
        (5.3, "reply_sent", (0,)),
        (5.3, "lock_acquired", (1,)),
        (5.3, "accepted", (1,)),  # the crux: the 3 s window is checked at 5.3 s, not at 4 s
        (5.3, "processing_started", (1,)),
        (10.3, "reply_blocked", (1,)),
    ]
    check = events(result, "accepted")[1]
    assert check.detail == "earlier hash accepted 5.3 s ago, not < window 3 s"
    assert fates(result) == [("answered", ""), ("unanswered", "response_manager.duplicate_window")]
    assert result.recorder.processing_count == [1, 1]  # processed twice in all
    assert sum(result.recorder.reply_count) == 1  # one reply sent, not 0 as the seed says
    assert wait(result, 0, 1) == 1.3
    assert wait(result, 1, 1) == 0.0


def test_conflict_1_two_lock_systems_cascade() -> None:
    """Seq 0's agent takes 40 s: the orchestrator gives up at 15 s while the coordinator's loop
    runs on; seq 1 waits inside the coordinator, its own 15 s clock fires there at 31 s, and
    the coordinator batches seqs 1 and 2, which the orchestrator meant to serialize."""
    messages = texts("c", [0, 16, 32])
    result = run(chain(), messages, world(script={"m0": latency(40)}))
    assert [t for t in timeline(result) if t[1] not in ("arrived", "accepted")] == [
        (0.0, "processing_started", (0,)),
        (15.0, "processing_timeout", (0,)),
        (16.0, "queued", (1,)),  # inside the coordinator: seq 0's loop still runs
        (31.0, "processing_timeout", (1,)),  # the timeout cascades
        (32.0, "queued", (2,)),
        (40.0, "send_attempt", (0,)),
        (40.3, "reply_sent", (0,)),
        (40.3, "batched", (1, 2)),
        (40.3, "processing_started", (1, 2)),
        (41.3, "send_attempt", (1, 2)),
        (41.6, "reply_sent", (1, 2)),
    ]
    queued = events(result, "queued")
    assert {e.layer for e in queued} == {"coordinator"}
    # exactly one layer held a lock during 15-16 s and 31-32 s
    assert result.stats["lock_disagreement_s"] == 2.0
    assert peak(result, "chain.lock_disagreement") == 1
    assert result.stats["orchestrator.timed_out"] == 2
    assert result.recorder.batch_size == [1, 2, 2]
    assert [wait(result, 1, s) for s in range(3)] == [0.0, 24.3, 8.3]
    assert all(fate == "answered" for fate, _ in fates(result))


def test_conflict_1_gauge_counts_only_lasting_disagreement() -> None:
    messages = texts("c", [0, 1, 2])
    result = run(chain(), messages, world(agent=0.5))
    assert result.stats["lock_disagreement_s"] == 0.0
    assert peak(result, "chain.lock_disagreement") == 0


def test_conflict_3_wait_columns_per_layer() -> None:
    """Seq 0's sends fail until 6.5 s (attempts at 5.0, 6.3, 8.6); seq 1 waits behind it."""
    messages = texts("c", [0, 1])
    result = run(chain(), messages, world(agent=5, outages=[(0, 6.5, 1.0)]))
    assert [e.at / S for e in events(result, "send_attempt") if 0 in e.seqs] == [5.0, 6.3, 8.6]
    assert first_reply(result, 0) == 8.9
    assert [wait(result, layer, 0) for layer in range(3)] == [0.0, 0.0, 3.6]
    assert [wait(result, layer, 1) for layer in range(3)] == [7.9, 0.0, 0.0]
    assert first_reply(result, 1) == 14.2


def test_agent_error_stalls_next_message_until_deadlock_check() -> None:
    messages = texts("c", [0, 2])
    stalled = run(chain(), messages, world(script={"m0": error(1)}))
    clean = run(chain(), messages, world())
    assert fates(stalled)[0] == ("unanswered", "environment.agent")
    assert [e.at / S for e in events(stalled, "force_released")] == [25.0]
    extra = first_reply(stalled, 1) - first_reply(clean, 1)
    assert extra >= 15
    assert first_reply(stalled, 1) == 26.3
    # the orchestrator held a lock the coordinator did not from 1 s to 25 s
    assert stalled.stats["lock_disagreement_s"] == 24.0


def test_agent_error_stall_gone_with_A18_switch() -> None:
    messages = texts("c", [0, 2])
    settings = OrchestratorSettings(release_lock_on_error=True)
    result = run(chain(orchestrator=settings), messages, world(script={"m0": error(1)}))
    assert first_reply(result, 1) == 3.3


def test_settle_table_hang_holds_coordinator_until_client_timeout() -> None:
    env = world(client_timeout=60 * S, script={"m0": ScriptEntry(outcome="hang")})
    result = run(chain(), texts("c", [0, 20]), env)
    assert [e.at / S for e in events(result, "agent_hang")] == [0.0]
    assert [(e.at / S, e.seqs) for e in events(result, "agent_error")] == [(60.0, (0,))]
    # the orchestrator let go at 15 s; seq 1 waited in the coordinator until the hang ended
    assert [e.at / S for e in events(result, "processing_started") if 1 in e.seqs] == [60.0]
    assert fates(result)[0] == ("timed_out", "orchestrator.processing_timeout")
    assert fates(result)[1] == ("answered", "")


def test_settle_table_suppressed_resolves_at_once() -> None:
    messages = [msg(0, "c", 0, "oi"), msg(1, "c", 1, "oi"), msg(2, "c", 1.5, "other")]
    result = run(chain(), messages, world(agent=0.5))
    assert fates(result)[1] == ("duplicate_suppressed", "coordinator.duplicate_window")
    # the orchestrator released seq 1's lock at once: seq 2 did not wait
    assert wait(result, 0, 2) == 0.0


def test_chain_layers_stay_quiet_C4_C6_under_defaults() -> None:
    """A burst (25 messages in 10 s) and a surge (150 contacts): batching, size drops and
    the emergency flush act in the coordinator arm, never in the chain."""
    burst = [(i * 0.4, "burst", f"b{i}") for i in range(25)]
    surge = [(10 + 0.01 * i, f"s{i}", f"hello {i}") for i in range(150)]
    extra = [(11 + 0.01 * i, f"s{i}", f"again {i}") for i in range(150)]
    messages = stream(burst + surge + extra)
    env = world(agent=3)
    legacy = run(chain(), messages, env, drain=600 * S)
    assert events(legacy, "batched") == []
    assert events(legacy, "emergency_flush") == []
    assert legacy.stats["coordinator.dropped"] == 0
    assert legacy.stats["coordinator.flushed"] == 0
    assert peak(legacy, "coordinator.queued_messages") == 0
    assert all(fate == "answered" for fate, _ in fates(legacy))
    alone = run(coordinator(), messages, env, drain=600 * S)
    assert events(alone, "batched") != []
    assert events(alone, "emergency_flush") != []


def test_chain_C5_acts_after_orchestrator_timeouts() -> None:
    """With ``proceed`` every waiting message enters the coordinator: C5 then drops."""
    messages = texts("c", [0] + [0.1 * i for i in range(1, 25)])
    settings = OrchestratorSettings(on_lock_wait_timeout="proceed")
    result = run(
        chain(orchestrator=settings, coordinator=CoordinatorSettings()),
        messages,
        world(script={"m0": latency(30)}),
    )
    dropped = [e for e in events(result, "dropped") if e.rule == "coordinator.max_queue_size"]
    assert len(dropped) == 4


def test_chain_restart_loses_open_work() -> None:
    messages = texts("c", [0, 2.5])
    result = run(chain(), messages, world(agent=5), restarts=[Restart(2 * S, 1 * S)])
    assert fates(result) == [("lost", "environment.restarts"), ("answered", "")]
    # the Cloud API's next attempt after 2.5 s is at 32.5 s (agent 5 s, send 0.3 s)
    assert first_reply(result, 1) == 37.8
    gauge = result.gauges.get("orchestrator.locks")
    assert gauge is not None and gauge.value == 0


def test_chain_is_deterministic() -> None:
    messages = [msg(i, f"c{i % 7}", i * 0.37, "oi" if i % 3 else f"t{i}") for i in range(120)]
    env = Environment(EnvironmentSettings(seed=5, agent=AgentSettings(error_rate=0.05)))
    first = run(chain(), messages, env)
    second = run(chain(), messages, env)
    assert first.recorder.events == second.recorder.events
    assert first.stats == second.stats
    assert fates(first) == fates(second)


def test_chain_gauges_for_every_map() -> None:
    result = run(chain(), texts("c", [0, 1]), world())
    names = {gauge.name for gauge in result.gauges.all()}
    assert {
        "orchestrator.locks",
        "orchestrator.queues",
        "orchestrator.queued_messages",
        "orchestrator.slots",
        "orchestrator.lock_waiters",
        "orchestrator.slot_waiting",
        "coordinator.loops",
        "coordinator.hashes",
        "coordinator.queues",
        "coordinator.queued_messages",
        "coordinator.nonempty_queues",
        "response_manager.cache",
        "response_manager.pending",
        "chain.lock_disagreement",
    } <= names
    slots = result.gauges.get("orchestrator.slots")
    cache = result.gauges.get("response_manager.cache")
    assert slots is not None and slots.cap == 50
    assert cache is not None and cache.cap == 10_000
