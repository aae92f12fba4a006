"""Helpers for the unified model's tests: messages, quiet environments, one run with its events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from shadow.kernel import FATES, DecisionEvent, GaugeSource, Group, Kernel, Recorder
from shadow.world.arm_loop import ArmRun, simulate
from shadow.world.environment import (
    AgentSettings,
    Environment,
    EnvironmentSettings,
    Latency,
    Message,
    Outage,
    Restart,
    ScriptEntry,
    SenderSettings,
)
from unified import UnifiedCoordinator, UnifiedSettings

S = 1_000_000
MS = 1_000


def msg(
    seq: int,
    at: float,
    contact: str = "c1",
    text: str = "oi",
    message_id: str | None = None,
    norm: str | None = None,
    topic: str = "",
) -> Message:
    """A message at ``at`` seconds; the text stands for its own hash."""
    return Message(
        seq=seq,
        message_id=message_id or f"m{seq}",
        contact_id=contact,
        received_at=round(at * S),
        text_hash=text,
        text_norm_hash=norm if norm is not None else text.strip().casefold(),
        topic=topic,
    )


def quiet(
    latency: int = 5 * S,
    script: Mapping[str, ScriptEntry] | None = None,
    outages: tuple[Outage, ...] = (),
    replies: Mapping[str, str] | None = None,
    client_timeout: int | None = 600 * S,
    sender_latency: int = 300 * MS,
) -> Environment:
    """An environment with fixed latencies, no random errors and no random send failures."""
    return Environment(
        EnvironmentSettings(
            agent=AgentSettings(
                latency=Latency(kind="fixed", fixed=latency),
                error_rate=0.0,
                hang_rate=0.0,
                client_timeout=client_timeout,
                replies=replies or {},
                script=script or {},
            ),
            sender=SenderSettings(
                latency=Latency(kind="fixed", fixed=sender_latency),
                failure_rate=0.0,
                outages=outages,
            ),
        )
    )


@dataclass
class Run:
    """One unified arm's record, every event captured, and the last coordinator instance."""

    arm: ArmRun
    models: list[UnifiedCoordinator] = field(default_factory=list)

    @property
    def model(self) -> UnifiedCoordinator:
        return self.models[-1]

    @property
    def rec(self) -> Recorder:
        return self.arm.recorder

    def fate(self, seq: int) -> str:
        return FATES[self.rec.fates()[0][seq]]

    def rule(self, seq: int) -> str:
        return self.rec.fates()[1][seq]

    def cause(self, seq: int) -> str:
        return self.rec.fates()[2][seq]

    def events(self, seq: int | None = None, kind: str | None = None) -> list[DecisionEvent]:
        return [
            e
            for e in self.rec.events
            if (seq is None or seq in e.seqs) and (kind is None or e.kind == kind)
        ]

    def kinds(self, seq: int) -> list[str]:
        return [e.kind for e in self.events(seq)]

    def at(self, seq: int, kind: str) -> int:
        """When the first ``kind`` event about ``seq`` happened (µs)."""
        return self.events(seq, kind)[0].at

    def starts(self) -> list[int]:
        """Seqs in the order their agent calls started."""
        return [e.seqs[0] for e in self.events(kind="processing_started")]

    def peak(self, gauge: str) -> int:
        found = self.arm.gauges.get(gauge)
        assert found is not None, gauge
        return found.peak


def run(
    messages: Sequence[Message],
    settings: UnifiedSettings = UnifiedSettings(),
    environment: Environment | None = None,
    restarts: Sequence[Restart] = (),
    drain: int = 120 * S,
    reference_replies: Mapping[int, int] | None = None,
) -> Run:
    """Simulate the unified arm over ``messages`` with every seq captured."""
    result = Run(arm=None)  # type: ignore[arg-type]

    def factory(
        kernel: Kernel, env: Environment, rec: Recorder, gauges: GaugeSource, group: Group
    ) -> UnifiedCoordinator:
        model = UnifiedCoordinator(kernel, env, rec, gauges, group, settings)
        result.models.append(model)
        return model

    size = len(messages)
    result.arm = simulate(
        factory,
        messages,
        environment or quiet(),
        size,
        restarts=restarts,
        drain=drain,
        capture=range(size),
        reference_replies=reference_replies,
    )
    return result
