"""Invariants of the legacy arms on random streams, environments and switches (hypothesis)."""

from __future__ import annotations

from collections import Counter
from functools import partial
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from legacy_models import (
    CoordinatorArm,
    CoordinatorSettings,
    LegacyChain,
    LegacySettings,
    OrchestratorArm,
    OrchestratorSettings,
    ResponseManagerArm,
    ResponseManagerSettings,
)
from shadow.kernel import FATES
from shadow.world.arm_loop import ArmRun, simulate
from shadow.world.environment import (
    AgentSettings,
    Environment,
    EnvironmentSettings,
    Latency,
    Message,
    Restart,
    SenderSettings,
    normalize_text,
    text_token,
)

S = 1_000_000
MS = 1_000
TEXTS = ("oi", "Oi", "sim", "ok", "preço?", "obrigado")


@st.composite
def streams(draw: Any, distinct: bool = False, max_size: int = 40) -> list[Message]:
    """Random arrivals: few contacts, repeated texts and ids, bursts and gaps."""
    size = draw(st.integers(1, max_size))
    contacts = draw(st.integers(1, 6))
    at = 0
    messages = []
    for seq in range(size):
        at += draw(st.sampled_from([0, 0, 100 * MS, 900 * MS, 3 * S, 17 * S]))
        contact = f"c{draw(st.integers(0, contacts - 1))}"
        text = f"t{seq}" if distinct else draw(st.sampled_from(TEXTS))
        message_id = f"m{seq}" if distinct else f"m{draw(st.integers(0, size))}"
        messages.append(
            Message(
                seq, message_id, contact, at, text_token(text), text_token(normalize_text(text))
            )
        )
    return messages


@st.composite
def environments(draw: Any) -> Environment:
    return Environment(
        EnvironmentSettings(
            seed=draw(st.integers(0, 1000)),
            agent=AgentSettings(
                latency=Latency(
                    kind="uniform", low=100 * MS, high=draw(st.sampled_from([2, 20, 40])) * S
                ),
                error_rate=draw(st.sampled_from([0.0, 0.1, 0.3])),
                hang_rate=draw(st.sampled_from([0.0, 0.05])),
                client_timeout=draw(st.sampled_from([30 * S, 600 * S, None])),
            ),
            sender=SenderSettings(failure_rate=draw(st.sampled_from([0.0, 0.2, 0.6]))),
        )
    )


@st.composite
def arms(draw: Any) -> Any:
    orchestrator = OrchestratorSettings(
        on_lock_wait_timeout=draw(st.sampled_from(["queue", "proceed"])),
        on_concurrency_full=draw(st.sampled_from(["wait", "reject"])),
        max_concurrent_contacts=draw(st.sampled_from([2, 50])),
        release_lock_on_error=draw(st.booleans()),
        queue_limit=draw(st.sampled_from([None, 2])),
    )
    coordinator = CoordinatorSettings(
        mutex=draw(st.sampled_from(["loop", "naive_await"])),
        hash_text=draw(st.sampled_from(["exact", "normalized"])),
        batching_enabled=draw(st.booleans()),
        max_batch=draw(st.sampled_from([2, 5])),
        max_queue_size=draw(st.sampled_from([2, 20])),
        overflow=draw(st.sampled_from(["drop_new", "drop_oldest"])),
        emergency_flush_queues=draw(st.sampled_from([1, 50])),
        cleanup_every=draw(st.sampled_from([10 * S, 300 * S])),
    )
    manager = ResponseManagerSettings(
        mark_before_send=draw(st.booleans()),
        max_attempts=draw(st.sampled_from([1, 3])),
        max_cache=draw(st.sampled_from([2, 10_000])),
        max_queue=draw(st.sampled_from([1, 1000])),
        cleanup_every=draw(st.sampled_from([10 * S, 60 * S])),
    )
    kind = draw(st.sampled_from(["legacy", "orchestrator", "coordinator", "response_manager"]))
    if kind == "legacy":
        return partial(LegacyChain, settings=LegacySettings(orchestrator, coordinator, manager))
    if kind == "orchestrator":
        return partial(OrchestratorArm, settings=orchestrator)
    if kind == "coordinator":
        return partial(CoordinatorArm, settings=coordinator)
    return partial(ResponseManagerArm, settings=manager)


def simulate_all(factory: Any, messages: list[Message], env: Environment, restarts: Any) -> ArmRun:
    return simulate(
        factory, messages, env, len(messages), restarts=restarts, capture=range(len(messages))
    )


@given(streams(), environments(), arms(), st.sampled_from([(), (Restart(20 * S, 5 * S),)]))
def test_invariants_on_random_worlds(
    messages: list[Message], env: Environment, factory: Any, restarts: Any
) -> None:
    result = simulate_all(factory, messages, env, restarts)
    rec = result.recorder
    codes, _, _ = rec.fates()
    started: Counter[tuple[int, ...]] = Counter()
    sent: Counter[tuple[int, ...]] = Counter()
    turned_away: Counter[int] = Counter()
    for event in rec.events:
        if event.kind in ("duplicate_suppressed", "dropped") and event.rule not in (
            "response_manager.max_queue"
        ):
            for seq in event.seqs:
                assert rec.processing_count[seq] == 0
                turned_away[seq] += 1
        if event.kind == "processing_started":
            started[event.seqs] += 1
        elif event.kind == "reply_sent":
            # no reply without an agent call on exactly that batch, before it
            assert started[event.seqs] > sent[event.seqs]
            sent[event.seqs] += 1
    # a reply is never sent twice for one agent call
    assert all(sent[key] <= count for key, count in started.items())
    assert all(count == 1 for count in turned_away.values())  # turned away once, at most
    for seq, code in enumerate(codes):
        fate = FATES[code]
        assert rec.arrived_at[seq] >= 0
        if rec.is_open(seq):  # nothing closed it: still waiting, or timed out with no settle
            assert fate in ("stranded", "timed_out")
        if fate == "stranded":
            assert rec.is_open(seq)
        assert (fate == "answered") == (rec.reply_count[seq] > 0)
        if fate in ("duplicate_suppressed", "dropped"):
            assert rec.processing_count[seq] == 0
        if fate == "unanswered":
            assert rec.processing_count[seq] >= 1
        if fate == "lost":
            assert restarts
        if rec.reply_count[seq]:
            assert rec.processing_count[seq] >= 1
        # every closed message got exactly one terminal decision per processing, at most
        assert rec.reply_count[seq] <= max(rec.processing_count[seq], 0)
    for gauge in result.gauges.all():
        assert gauge.value >= 0 and gauge.peak >= 0
        assert all(value >= 0 for _, value in gauge.samples)
        if gauge.cap is not None and gauge.name in (
            "orchestrator.slots",
            "response_manager.pending",
        ):
            assert gauge.peak <= gauge.cap


@given(streams(distinct=True, max_size=30), st.integers(0, 1000), st.integers(1, 10))
def test_clean_world_chain_answers_every_message_once(
    messages: list[Message], seed: int, agent_seconds: int
) -> None:
    env = Environment(
        EnvironmentSettings(
            seed=seed,
            agent=AgentSettings(
                latency=Latency(kind="uniform", low=100 * MS, high=agent_seconds * S),
                error_rate=0.0,
                hang_rate=0.0,
            ),
            sender=SenderSettings(failure_rate=0.0),
        )
    )
    result = simulate(LegacyChain, messages, env, len(messages), drain=30 * 11 * S)
    rec = result.recorder
    assert rec.reply_count == [1] * len(messages)
    assert rec.processing_count == [1] * len(messages)
    assert result.stats["orchestrator.timed_out"] == 0
