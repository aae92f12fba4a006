"""The environment: keyed draws (common random numbers), scripts, latency models, sender."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shadow.kernel import Kernel, KeyedRandom
from shadow.world.environment import (
    AgentError,
    AgentSettings,
    Environment,
    EnvironmentSettings,
    Latency,
    Message,
    Outage,
    ScriptEntry,
    SenderSettings,
)

S = 1_000_000


def message(seq: int, message_id: str = "", text: str = "h", topic: str = "") -> Message:
    return Message(seq, message_id or f"m{seq}", "c1", 0, text, text, "text", topic)


def drawn(env: Environment, seqs: list[int]) -> dict[int, tuple[str, int, str]]:
    kernel = Kernel()
    calls = {}
    for seq in seqs:
        call = env.agent_call(kernel, [message(seq)])
        calls[seq] = (call.outcome, call.latency, call.reply)
    return calls


def test_a_draw_depends_only_on_its_key_not_on_what_was_drawn_before() -> None:
    settings = EnvironmentSettings(agent=AgentSettings(error_rate=0.3, hang_rate=0.1))
    forward = drawn(Environment(settings), list(range(200)))
    backward = drawn(Environment(settings), list(reversed(range(200))))
    assert forward == backward
    assert {outcome for outcome, _, _ in forward.values()} == {"ok", "error", "hang"}


@given(st.lists(st.integers(0, 10_000), min_size=1, max_size=5, unique=True), st.integers(0, 9))
def test_the_fast_paths_hash_exactly_as_keyed_random(seqs: list[int], seed: int) -> None:
    env = Environment(EnvironmentSettings(seed=seed, agent=AgentSettings(error_rate=0.5)))
    kernel = Kernel()
    members = [message(s) for s in seqs]
    call = env.agent_call(kernel, members)
    key = tuple(sorted(seqs))
    u_outcome, u_latency, _ = KeyedRandom(seed).uniforms(3, "agent", key)
    assert call.key == key
    assert call.latency == Latency().draw(u_latency)
    expected = "hang" if u_outcome < 0.0005 else "error" if u_outcome < 0.5005 else "ok"
    assert call.outcome == expected
    basis = "|".join(f"{m.text_norm_hash}/{m.topic}" for m in members)
    assert call.reply == KeyedRandom(seed).hex("reply", basis)
    sent = env.send_attempt(kernel, key, 2)
    u_fail, _ = KeyedRandom(seed).uniforms(2, "send", key, 2)
    kernel.run(10 * S)
    assert sent.value is (u_fail >= 0.01)


def test_scripted_outcomes_win_over_rates_and_the_worst_wins_in_a_batch() -> None:
    script = {
        "a": ScriptEntry(outcome="error", latency=7 * S),
        "b": ScriptEntry(outcome="hang"),
        "c": ScriptEntry(reply="Olá! Como posso ajudar?"),
    }
    env = Environment(EnvironmentSettings(agent=AgentSettings(error_rate=0, script=script)))
    kernel = Kernel()
    alone = env.agent_call(kernel, [message(0, "a")])
    assert (alone.outcome, alone.latency) == ("error", 7 * S)
    batch = env.agent_call(kernel, [message(1, "a"), message(2, "b"), message(3, "x")])
    assert batch.outcome == "hang" and batch.latency == 7 * S
    same_reply = [env.agent_call(kernel, [message(s, "c", text=f"t{s}")]).reply for s in (4, 5)]
    assert same_reply[0] == same_reply[1]


def test_errors_fail_after_the_latency_and_hangs_after_client_timeout() -> None:
    script = {"e": ScriptEntry(outcome="error", latency=2 * S), "h": ScriptEntry(outcome="hang")}
    agent = AgentSettings(script=script, client_timeout=30 * S)
    env = Environment(EnvironmentSettings(agent=agent))
    kernel = Kernel()
    error = env.agent_call(kernel, [message(0, "e")]).event
    hang = env.agent_call(kernel, [message(1, "h")]).event
    kernel.run(29 * S)
    assert error.settled and isinstance(error.value, AgentError) and not hang.settled
    kernel.run(30 * S)
    assert hang.settled and not hang.ok
    forever = Environment(
        EnvironmentSettings(agent=AgentSettings(script=script, client_timeout=None))
    )
    never = forever.agent_call(kernel, [message(2, "h")]).event
    kernel.run(10_000 * S)
    assert not never.settled


def test_same_input_gets_the_same_reply_and_a_topic_changes_it() -> None:
    env = Environment(EnvironmentSettings())
    kernel = Kernel()
    oi = [env.agent_call(kernel, [message(s, text="oi")]).reply for s in (0, 1)]
    assert oi[0] == oi[1]
    sim = [
        env.agent_call(kernel, [message(s, text="sim", topic=t)]).reply
        for s, t in ((2, "t1"), (3, "t2"))
    ]
    assert sim[0] != sim[1]


@pytest.mark.parametrize(
    ("latency", "low", "high"),
    [
        (Latency(kind="fixed", fixed=1_234_567), 1_235_000, 1_235_000),
        (Latency(kind="uniform", low=2 * S, high=3 * S), 2 * S, 3 * S),
        (Latency(median=3 * S, p95=9 * S), 0, 10_000 * S),
    ],
)
def test_latency_models_round_to_the_millisecond(latency: Latency, low: int, high: int) -> None:
    values = [latency.draw(u / 100) for u in range(100)]
    assert all(low <= v <= high and v % 1_000 == 0 for v in values)


def test_lognormal_latency_has_the_requested_median_and_p95() -> None:
    model = Latency(median=3 * S, p95=9 * S)
    random = KeyedRandom(3)
    values = sorted(model.draw(random.uniform("l", i)) for i in range(20_000))
    assert values[10_000] == pytest.approx(3 * S, rel=0.05)
    assert values[19_000] == pytest.approx(9 * S, rel=0.05)


def test_outages_raise_the_failure_rate_inside_their_window_only() -> None:
    sender = SenderSettings(failure_rate=0.0, outages=(Outage(10 * S, 20 * S, 1.0),))
    env = Environment(EnvironmentSettings(sender=sender))
    kernel = Kernel()
    before = env.send_attempt(kernel, (0,), 1)
    kernel.run(15 * S)
    during = env.send_attempt(kernel, (0,), 1)
    kernel.run(25 * S)
    after = env.send_attempt(kernel, (0,), 1)
    kernel.run(30 * S)
    assert (before.value, during.value, after.value) == (True, False, True)
