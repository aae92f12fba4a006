"""Small builders for the legacy model tests: messages, clean environments, runs, timelines."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

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
from shadow.kernel import FATES, DecisionEvent
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
    normalize_text,
    text_token,
)

S = 1_000_000
MS = 1_000


def msg(seq: int, contact: str, at: float, text: str = "oi", message_id: str = "") -> Message:
    """A message of ``contact`` received at ``at`` seconds."""
    return Message(
        seq,
        message_id or f"m{seq}",
        contact,
        round(at * S),
        text_token(text),
        text_token(normalize_text(text)),
    )


def texts(contact: str, times: Sequence[float], start: int = 0) -> list[Message]:
    """Distinct texts of one contact at the given seconds."""
    return [msg(start + i, contact, t, f"text {start + i}") for i, t in enumerate(times)]


def world(
    agent: float = 1.0,
    script: Mapping[str, ScriptEntry] | None = None,
    send: float = 0.3,
    send_failure: float = 0.0,
    seed: int = 1,
    client_timeout: int | None = 600 * S,
    replies: Mapping[str, str] | None = None,
    outages: Sequence[tuple[float, float, float]] = (),
) -> Environment:
    """A clean world: fixed latencies, no errors, hangs or send failures unless scripted."""
    return Environment(
        EnvironmentSettings(
            seed=seed,
            agent=AgentSettings(
                latency=Latency(kind="fixed", fixed=round(agent * S)),
                error_rate=0.0,
                hang_rate=0.0,
                client_timeout=client_timeout,
                script=dict(script or {}),
                replies=dict(replies or {}),
            ),
            sender=SenderSettings(
                latency=Latency(kind="fixed", fixed=round(send * S)),
                failure_rate=send_failure,
                outages=tuple(Outage(round(a * S), round(b * S), r) for a, b, r in outages),
            ),
        )
    )


def error(at_latency: float = 1.0) -> ScriptEntry:
    return ScriptEntry(latency=round(at_latency * S), outcome="error")


def latency(seconds: float) -> ScriptEntry:
    return ScriptEntry(latency=round(seconds * S))


def run(
    factory: Any,
    messages: Sequence[Message],
    env: Environment | None = None,
    restarts: Sequence[Restart] = (),
    drain: int = 120 * S,
) -> ArmRun:
    """Run an arm over ``messages`` capturing every seq's events."""
    return simulate(
        factory,
        messages,
        env or world(),
        len(messages),
        restarts=restarts,
        drain=drain,
        capture=range(len(messages)),
    )


def chain(**layers: Any) -> Any:
    """The chain factory with some layers' settings replaced."""
    return partial(LegacyChain, settings=LegacySettings(**layers))


def orchestrator(**fields: Any) -> Any:
    return partial(OrchestratorArm, settings=OrchestratorSettings(**fields))


def coordinator(**fields: Any) -> Any:
    return partial(CoordinatorArm, settings=CoordinatorSettings(**fields))


def response_manager(**fields: Any) -> Any:
    return partial(ResponseManagerArm, settings=ResponseManagerSettings(**fields))


def fates(result: ArmRun) -> list[tuple[str, str]]:
    """(fate, rule) per seq."""
    codes, rules, _ = result.recorder.fates()
    return [(FATES[code], rule) for code, rule in zip(codes, rules, strict=True)]


def timeline(result: ArmRun, seq: int | None = None) -> list[tuple[float, str, tuple[int, ...]]]:
    """(seconds, kind, seqs) of every captured event (about ``seq`` if given)."""
    return [
        (e.at / S, e.kind, e.seqs) for e in result.recorder.events if seq is None or seq in e.seqs
    ]


def events(result: ArmRun, kind: str) -> list[DecisionEvent]:
    return [e for e in result.recorder.events if e.kind == kind]


def first_reply(result: ArmRun, seq: int) -> float:
    at = result.recorder.first_reply_at[seq]
    assert at >= 0, f"seq {seq} was never answered"
    return at / S


def peak(result: ArmRun, name: str) -> int:
    gauge = result.gauges.get(name)
    assert gauge is not None, name
    return gauge.peak


def wait(result: ArmRun, layer: int, seq: int) -> float | None:
    value = result.recorder.waits[layer][seq]
    return None if value < 0 else value / S


def stream(rows: Sequence[tuple[float, str, str]]) -> list[Message]:
    """Messages from (seconds, contact, text) rows, sorted by time, seqs in that order."""
    ordered = sorted(rows, key=lambda row: row[0])
    return [msg(seq, contact, at, text) for seq, (at, contact, text) in enumerate(ordered)]
