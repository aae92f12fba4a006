"""Differential state machine: the legacy chain and the unified model driven by the same
actions (arrivals, agent outcomes, clock advances), each model's invariants checked after
every step (Hypothesis' ``RuleBasedStateMachine``, as docs/architecture.md suggests).

The two models run in separate kernels, as arms do, advanced in lockstep.
"""

from __future__ import annotations

from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from legacy_models import LegacyChain
from shadow.kernel import FATES, Gauges, Group, Kernel, Recorder
from shadow.world.environment import (
    AgentSettings,
    Environment,
    EnvironmentSettings,
    Latency,
    Message,
    ScriptEntry,
    SenderSettings,
)
from unified import UnifiedCoordinator
from unified.settings import UnifiedSettings

S = 1_000_000
SIZE = 40  # at most this many arrivals per example
TEXTS = ("Oi", "oi ", "sim", "Cadê meu pedido?", "")
CONTACTS = ("5511900000001", "5511900000002", "5511900000003")


class World:
    """One model in its own kernel, with its recorder and gauges."""

    def __init__(self, build: Any, script: dict[str, ScriptEntry]) -> None:
        self.kernel = Kernel()
        self.recorder = Recorder(self.kernel, SIZE)
        self.gauges = Gauges(self.kernel, 10 * S)
        agent = AgentSettings(
            latency=Latency(kind="fixed", fixed=3 * S), script=script, client_timeout=40 * S
        )
        sender = SenderSettings(failure_rate=0.2)
        environment = Environment(EnvironmentSettings(seed=7, agent=agent, sender=sender))
        self.model = build(self.kernel, environment, self.recorder, self.gauges, Group("arm"))

    def deliver(self, message: Message) -> None:
        self.recorder.event("arrived", message.seq)
        self.model.on_message(message)

    def advance(self, until: int) -> None:
        self.kernel.run(until)


class LegacyVersusUnified(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.script: dict[str, ScriptEntry] = {}  # filled per arrival, read at agent calls
        self.unified_settings = UnifiedSettings()
        self.worlds: dict[str, World] = {}
        self.now = 0
        self.seq = 0
        self.arrivals: list[Message] = []

    @initialize()
    def start(self) -> None:
        self.worlds = {
            "legacy": World(LegacyChain, self.script),
            "unified": World(
                lambda k, e, r, g, grp: UnifiedCoordinator(k, e, r, g, grp, self.unified_settings),
                self.script,
            ),
        }

    @rule(
        contact=st.sampled_from(CONTACTS),
        text=st.sampled_from(TEXTS),
        outcome=st.sampled_from(["ok", "ok", "ok", "error", "hang"]),
        latency_s=st.integers(0, 25),
        redelivery=st.booleans(),
    )
    def arrive(
        self, contact: str, text: str, outcome: str, latency_s: int, redelivery: bool
    ) -> None:
        if self.seq >= SIZE:
            return
        from shadow.streams.record import text_hashes

        exact, normalized = text_hashes(text)
        earlier = [m for m in self.arrivals if m.contact_id == contact]
        message_id = earlier[-1].message_id if redelivery and earlier else f"m{self.seq}"
        message = Message(self.seq, message_id, contact, self.now, exact, normalized)
        self.script.setdefault(message_id, ScriptEntry(latency=latency_s * S, outcome=outcome))
        self.arrivals.append(message)
        self.seq += 1
        for world in self.worlds.values():
            world.deliver(message)

    @rule(seconds=st.sampled_from([0, 1, 2, 3, 4, 5, 9, 11, 16, 31, 61]))
    def advance(self, seconds: int) -> None:
        self.now += seconds * S
        for world in self.worlds.values():
            world.advance(self.now)

    # -- invariants, after every step ----------------------------------------------------
    @invariant()
    def no_reply_without_an_agent_call(self) -> None:
        for name, world in self.worlds.items():
            rec = world.recorder
            for seq in range(self.seq):
                if rec.reply_count[seq]:
                    assert rec.processing_count[seq] > 0, (name, seq)
                # a reply is never sent twice for one agent call
                assert rec.reply_count[seq] <= rec.processing_count[seq], (name, seq)

    @invariant()
    def unified_never_calls_the_agent_twice_for_a_seq(self) -> None:
        rec = self.worlds["unified"].recorder if self.worlds else None
        if rec is not None:
            assert all(count <= 1 for count in rec.processing_count[: self.seq])

    @invariant()
    def unified_locks_are_bounded_in_time(self) -> None:
        if not self.worlds:
            return
        model = self.worlds["unified"].model
        limit = self.unified_settings.lock_timeout + self.unified_settings.watchdog_every
        assert model.longest_lock_hold() <= limit

    @invariant()
    def no_structure_above_its_cap_or_below_zero(self) -> None:
        for world in self.worlds.values():
            for gauge in world.gauges.all():
                assert gauge.value >= 0, gauge.name
                if gauge.cap is not None and gauge.name.startswith("unified."):
                    assert gauge.value <= gauge.cap, gauge.name

    def teardown(self) -> None:
        if not self.worlds:
            return
        for world in self.worlds.values():
            # a one-contact queue of hangs (40 s each) can hold work for many minutes
            world.advance(self.now + 3600 * S)
            fates, _, _ = world.recorder.fates()
            assert len(fates) == SIZE
            for seq in range(self.seq):
                assert FATES[fates[seq]] in FATES
            # with hangs bounded by client_timeout and an hour's drain, nothing stays pending
            assert all(FATES[code] != "stranded" for code in fates[: self.seq])


TestLegacyVersusUnified = LegacyVersusUnified.TestCase
TestLegacyVersusUnified.settings = settings(stateful_step_count=40)  # on the loaded profile
