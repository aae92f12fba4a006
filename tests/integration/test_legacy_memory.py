"""The seed's memory analysis ("~12,500 entries worst case") against measured peak gauges.

Two generated streams stand in for the ``many-contacts-surge`` and ``memory-soak`` scenarios:
150 contacts active at once (five messages each within 20 s), and a soak at 100 msgs/min over
5,000 contacts. Run this file as a script for the full 24 h soak and a table of every peak:

    .venv/bin/python tests/integration/test_legacy_memory.py [hours]
"""

from __future__ import annotations

import sys
from functools import partial
from typing import Any

from legacy_models import CoordinatorArm, LegacyChain, OrchestratorArm, ResponseManagerArm
from shadow.kernel import KeyedRandom
from shadow.world.arm_loop import simulate
from shadow.world.environment import (
    Environment,
    EnvironmentSettings,
    Message,
    normalize_text,
    text_token,
)

S = 1_000_000
VOCABULARY = ("oi", "Oi", "sim", "não", "ok", "obrigado", "quanto custa?", "bom dia")
ARMS: dict[str, Any] = {
    "legacy": LegacyChain,
    "orchestrator": OrchestratorArm,
    "coordinator": CoordinatorArm,
    "response_manager": ResponseManagerArm,
}
#: The seed's worst case: coordinator 50 x 20, orchestrator 50 x 10, RM 10,000 + 1,000.
SEED_WORST_CASE = 12_500


def _message(seq: int, contact: str, at: int, draw: float) -> Message:
    # a third of the texts come from a small vocabulary (repeats across contacts), the rest
    # are unique
    text = VOCABULARY[int(draw * 24)] if draw < 1 / 3 else f"pergunta {seq}"
    return Message(seq, f"m{seq}", contact, at, text_token(text), text_token(normalize_text(text)))


def surge(contacts: int = 150, per_contact: int = 5) -> list[Message]:
    """``many-contacts-surge``: every contact sends ``per_contact`` messages within 20 s."""
    rand = KeyedRandom(7)
    rows = []
    for c in range(contacts):
        for k in range(per_contact):
            at = round(rand.uniform("surge", c, k) * 20 * S)
            rows.append((at, f"c{c}", rand.uniform("text", c, k)))
    rows.sort(key=lambda row: row[0])
    return [_message(seq, contact, at, u) for seq, (at, contact, u) in enumerate(rows)]


def soak(hours: float, per_minute: int = 100, contacts: int = 5_000) -> list[Message]:
    """``memory-soak``: ``per_minute`` messages a minute, contacts drawn among ``contacts``."""
    rand = KeyedRandom(11)
    gap = 60 * S // per_minute
    count = round(hours * 60 * per_minute)
    return [
        _message(
            seq,
            f"c{int(rand.uniform('contact', seq) * contacts)}",
            seq * gap + round(rand.uniform("jitter", seq) * gap),
            rand.uniform("text", seq),
        )
        for seq in range(count)
    ]


def peaks(factory: Any, messages: list[Message]) -> tuple[dict[str, int], int]:
    """Peak of every gauge, and the largest sum of per-layer entries seen at one sample."""
    env = Environment(EnvironmentSettings(seed=3))
    result = simulate(factory, messages, env, len(messages))
    gauges = {g.name: g.peak for g in result.gauges.all()}
    entries = [
        g
        for g in result.gauges.all()
        if g.name
        in (
            "orchestrator.queued_messages",
            "orchestrator.queues",
            "orchestrator.locks",
            "orchestrator.lock_waiters",
            "orchestrator.slot_waiting",
            "coordinator.queued_messages",
            "coordinator.hashes",
            "coordinator.queues",
            "coordinator.loops",
            "response_manager.cache",
            "response_manager.pending",
        )
    ]
    total = max(
        (
            sum(v for v in column)
            for column in zip(*[[v for _, v in g.samples] for g in entries], strict=True)
        ),
        default=0,
    )
    return gauges, total


def test_surge_peaks_within_seed_worst_case() -> None:
    legacy, total = peaks(LegacyChain, surge())
    assert legacy["orchestrator.slots"] == 50  # O5 binds: 100 contacts wait for a slot
    assert legacy["orchestrator.slot_waiting"] > 0
    assert total <= SEED_WORST_CASE
    alone, _ = peaks(CoordinatorArm, surge())
    assert alone["coordinator.nonempty_queues"] > 0


def test_soak_two_hours_peaks() -> None:
    legacy, total = peaks(LegacyChain, soak(2))
    assert legacy["response_manager.cache"] < 10_000
    assert legacy["response_manager.pending"] < 1_000
    assert total <= SEED_WORST_CASE
    # messageQueues has no automatic cleanup: its map only grows
    assert legacy["orchestrator.queues"] >= legacy["orchestrator.queued_messages"]


def main(hours: float) -> None:
    for label, messages in (("surge", surge()), (f"soak {hours:g} h", soak(hours))):
        print(f"== {label}: {len(messages)} messages")
        for arm, factory in ARMS.items():
            gauges, total = peaks(partial(factory), messages)
            shown = ", ".join(f"{k}={v}" for k, v in gauges.items())
            print(f"{arm}: sum of entries at one sample {total}; {shown}")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 24)
