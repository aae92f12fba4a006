"""The configuration tree as pydantic models: every key of docs/models.md and docs/reference.md.

Guarantees:

1. Every default is read from the frozen settings dataclasses (``LegacySettings``,
   ``UnifiedSettings``, ``EnvironmentSettings``) or, outside the models, from docs/reference.md's
   table: the seed's figures have one home, and tests/unit/test_config.py checks the builders
   give back exactly the dataclass defaults.
2. Unknown keys are refused at every level (``extra="forbid"``), scalars are strict (``yes`` is
   not a number, ``1`` is not a boolean), every switch is a ``Literal``.
3. Each field's ``description`` is its documentation: docs/config.md is generated from it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from legacy_models import CoordinatorSettings, OrchestratorSettings, ResponseManagerSettings
from shadow.common import format_duration
from shadow.config.values import (
    AgentLatency,
    ConfigValueError,
    Duration,
    Outcome,
    PositiveDuration,
    SenderLatency,
    SeverityMap,
    SeverityRule,
    _string_keys,
)
from shadow.rollout import ALGORITHMS
from shadow.world import EnvironmentSettings
from unified import UnifiedSettings

_O = OrchestratorSettings()
_C = CoordinatorSettings()
_R = ResponseManagerSettings()
_U = UnifiedSettings()
_E = EnvironmentSettings()
S = 1_000_000

Rate = Annotated[float, Field(ge=0.0, le=1.0)]
Count = Annotated[int, Field(ge=1)]
Threshold = Annotated[int, Field(ge=0)]
HashText = Literal["exact", "normalized"]


def _switch(default: object) -> Any:
    """A switch's default from a dataclass typed ``str``; the tests validate every default."""
    return default


class Section(BaseModel):
    """Strict, closed, immutable: the base of every node of the tree."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _backoff_covers_attempts(max_attempts: int, backoff: list[int]) -> None:
    if len(backoff) < max_attempts - 1:
        raise ConfigValueError(
            f"{len(backoff)} waits for max_attempts {max_attempts}: give at least "
            f"{max_attempts - 1} (one between each two attempts)",
            ("backoff",),
        )


class OrchestratorConfig(Section):
    processing_timeout: Duration = Field(
        _O.processing_timeout, description="O1: the race of the processor against a timer"
    )
    lock_wait_timeout: Duration = Field(
        _O.lock_wait_timeout, description="O2: how long a message waits for a locked contact"
    )
    on_lock_wait_timeout: Literal["queue", "proceed"] = Field(
        _switch(_O.on_lock_wait_timeout),
        description="O2 [A1]: after the wait, push onto the contact's queue, or run unlocked",
    )
    deadlock_after: Duration = Field(
        _O.deadlock_after, description="O4: a lock older than this is force-released"
    )
    deadlock_check_every: PositiveDuration = Field(
        _O.deadlock_check_every, description="O4 [A2]: period of the deadlock check"
    )
    max_concurrent_contacts: Count = Field(
        _O.max_concurrent_contacts, description="O5: contacts holding a lock at once"
    )
    on_concurrency_full: Literal["wait", "reject"] = Field(
        _switch(_O.on_concurrency_full),
        description="O5 [A3]: a message past the limit waits in a global FIFO, or is dropped",
    )
    release_lock_on_error: bool = Field(
        _O.release_lock_on_error,
        description="O6 [A18]: release the lock when the processor throws (seed: no)",
    )
    queue_limit: Threshold | None = Field(
        _O.queue_limit, description="O7: per-contact queue limit; null = unbounded"
    )
    emptied_queues: Literal["keep", "delete"] = Field(
        _switch(_O.emptied_queues),
        description="O7: an emptied queue stays in the map (seed: no cleanup), or is deleted",
    )


class BatchingConfig(Section):
    enabled: bool = Field(
        _C.batching_enabled, description="C4 [A5]: the loop takes several waiting messages"
    )
    max_batch: Count = Field(_C.max_batch, description="C4 [A5]: most messages per agent call")
    collect_delay: Duration = Field(
        _C.collect_delay,
        description="C4: a loop waits this long before taking each batch (0: take what is waiting)",
    )


class CoordinatorConfig(Section):
    mutex: Literal["loop", "naive_await"] = Field(
        _switch(_C.mutex), description="C1: per-contact processing loop, or a naive awaited promise"
    )
    duplicate_window: Duration = Field(
        _C.duplicate_window, description="C2: same (contact, text) hash within it is suppressed"
    )
    hash_text: HashText = Field(
        _switch(_C.hash_text), description="C2 [A4]: text hashed exact or normalized"
    )
    batching: BatchingConfig = Field(default_factory=BatchingConfig)
    max_queue_size: Threshold = Field(
        _C.max_queue_size, description="C5 [A6]: waiting messages per contact"
    )
    overflow: Literal["drop_new", "drop_oldest"] = Field(
        _switch(_C.overflow), description="C5 [A6]: which message a full queue drops"
    )
    emergency_flush_queues: Threshold = Field(
        _C.emergency_flush_queues,
        description="C6 [A7]: more non-empty queues than this flushes every waiting message",
    )
    emergency_flush: Literal["discard", "process"] = Field(
        _switch(_C.emergency_flush),
        description="C6 [A7]: a flush drops the waiting messages, or processes them at once",
    )
    cleanup_every: PositiveDuration = Field(
        _C.cleanup_every, description="C7: sweep of old hashes and empty queues"
    )


class ResponseManagerConfig(Section):
    duplicate_window: Duration = Field(
        _R.duplicate_window, description="R1: same (contact, reply) hash within it is blocked"
    )
    mark_before_send: bool = Field(
        _R.mark_before_send,
        description="R1 [A8]: record the reply hash before sending (false: on success)",
    )
    max_attempts: Count = Field(_R.max_attempts, description="R2 [A9]: send attempts in all")
    backoff: list[Duration] = Field(
        list(_R.backoff), description="R2 [A9]: waits between attempts, in order"
    )
    cleanup_every: PositiveDuration = Field(
        _R.cleanup_every, description="R3: sweep of expired reply hashes"
    )
    max_cache: Count = Field(_R.max_cache, description="R4: reply hashes kept (oldest evicted)")
    max_queue: Count = Field(
        _R.max_queue, description="R4 [A10]: replies pending at once; beyond it refused"
    )

    @model_validator(mode="after")
    def _attempts(self) -> ResponseManagerConfig:
        _backoff_covers_attempts(self.max_attempts, self.backoff)
        return self


class UnifiedConfig(Section):
    duplicate_window: Duration = Field(
        _U.duplicate_window, description="U2: same (contact, text) hash within it is suppressed"
    )
    hash_text: HashText = Field(
        _switch(_U.hash_text), description="U2: text hashed exact or normalized"
    )
    dedupe_by_message_id: bool = Field(
        _U.dedupe_by_message_id, description="U2: suppress a message_id already seen"
    )
    response_window: Duration = Field(
        _U.response_window, description="U3: same reply hash within it is blocked"
    )
    response_hash_fields: list[Literal["contact_id", "text"]] = Field(
        _switch(list(_U.response_hash_fields)),
        description="U3 [A15]: reply hash over [contact_id, text] or [text]",
    )
    record_response: Literal["after_send", "before_send"] = Field(
        _switch(_U.record_response), description="U3 [A11]: when the reply hash is recorded"
    )
    max_locks: Count = Field(_U.max_locks, description="U4: contact entries in the lock table")
    on_lock_table_full: Literal["wait", "evict_oldest"] = Field(
        _switch(_U.on_lock_table_full),
        description="U4 [A12]: a new contact at a full table waits, or evicts the oldest",
    )
    max_hash_cache: Count = Field(_U.max_hash_cache, description="U5: message hashes kept")
    max_response_cache: Count = Field(_U.max_response_cache, description="U5: reply hashes kept")
    processing_timeout: Duration = Field(
        _U.processing_timeout, description="U6: the race against the agent call"
    )
    late_result: Literal["drop", "send"] = Field(
        _switch(_U.late_result),
        description="U6 [A13]: a result after the timeout is discarded or sent",
    )
    timeout_covers: Literal["agent", "agent_and_send"] = Field(
        _switch(_U.timeout_covers), description="U6: what the processing timeout races"
    )
    lock_timeout: Duration = Field(
        _U.lock_timeout, description="U7: the watchdog frees locks older than this"
    )
    watchdog_every: PositiveDuration = Field(
        _U.watchdog_every, description="U7: period of the watchdog"
    )
    release_lock_on_error: bool = Field(
        _U.release_lock_on_error, description="U7 [A16]: an error releases the lock at once"
    )
    max_attempts: Count = Field(_U.max_attempts, description="U8 [A17]: send attempts in all")
    backoff: list[Duration] = Field(
        list(_U.backoff), description="U8: waits between attempts, in order"
    )
    cleanup_every: PositiveDuration = Field(
        _U.cleanup_every, description="U9 [A14]: the single sweep of hashes and idle locks"
    )

    @model_validator(mode="after")
    def _checks(self) -> UnifiedConfig:
        if self.response_hash_fields not in (["contact_id", "text"], ["text"]):
            raise ConfigValueError(
                f"{self.response_hash_fields} is not one of [contact_id, text], [text]",
                ("response_hash_fields",),
            )
        _backoff_covers_attempts(self.max_attempts, self.backoff)
        return self


class ScriptEntryConfig(Section):
    latency: Duration | None = Field(None, description="forced agent latency")
    outcome: Outcome | None = Field(None, description="forced outcome: ok, error or hang")
    reply: str | None = Field(None, description="forced reply text")


class AgentConfig(Section):
    latency: AgentLatency = Field(
        _E.agent.latency,
        description="a duration, {median, p95} (lognormal), {uniform: [a, b]} or recorded",
    )
    error_rate: Rate = Field(_E.agent.error_rate, description="share of calls that throw")
    hang_rate: Rate = Field(_E.agent.hang_rate, description="share of calls that never answer")
    client_timeout: Duration | None = Field(
        _E.agent.client_timeout, description="a hang becomes an error after it; null = never"
    )
    same_input_same_reply: bool = Field(
        _E.agent.same_input_same_reply,
        description="the reply is a function of the normalized input and topic",
    )
    replies: Annotated[dict[str, str], BeforeValidator(_string_keys)] = Field(
        default_factory=dict, description="topic or normalized text -> fixed reply text"
    )
    script: Annotated[dict[str, ScriptEntryConfig], BeforeValidator(_string_keys)] = Field(
        default_factory=dict, description="message_id -> {latency, outcome, reply} forced"
    )

    @model_validator(mode="after")
    def _rates(self) -> AgentConfig:
        if self.error_rate + self.hang_rate > 1.0:
            raise ConfigValueError("error_rate + hang_rate exceeds 1", ("hang_rate",))
        return self


class OutageConfig(Section):
    model_config = ConfigDict(populate_by_name=False)

    start: Duration = Field(alias="from", description="from the stream start")
    end: Duration = Field(alias="to", description="from the stream start")
    failure_rate: Rate

    @model_validator(mode="after")
    def _window(self) -> OutageConfig:
        if self.end <= self.start:
            raise ConfigValueError("must be after from", ("to",))
        return self


class SenderConfig(Section):
    latency: SenderLatency = Field(
        _E.sender.latency, description="per attempt: a duration, {median, p95} or {uniform}"
    )
    failure_rate: Rate = Field(_E.sender.failure_rate, description="share of attempts that fail")
    outages: list[OutageConfig] = Field(
        default_factory=list, description="[{from, to, failure_rate}] raising the failure rate"
    )


class RestartConfig(Section):
    at: Duration
    downtime: Duration


class EnvironmentConfig(Section):
    seed: Threshold = Field(_E.seed, description="the seed of every draw")
    agent: AgentConfig = Field(default_factory=AgentConfig)
    sender: SenderConfig = Field(default_factory=SenderConfig)
    restarts: list[RestartConfig] = Field(
        default_factory=list,
        description="[{at, downtime}] from the stream start, in order, not overlapping",
    )
    users: Literal["open", "reactive"] = Field(
        _switch(_E.users),
        description="open: every message as given; reactive: each arm's users react to its "
        "replies: answered resends are not sent, later messages keep their delay after "
        "this arm's reply (docs/models.md, Users); default reactive for scenarios",
    )
    pacing_max: PositiveDuration = Field(
        _E.pacing_max,
        description="reactive users: a message sent at most this long after the reply to "
        "the contact's previous message keeps its delay after each arm's reply; a later one "
        "starts a new conversation and keeps its time; also the longest a user waits for a "
        "reply before writing anyway",
    )
    redelivery: Literal["cloud_api", "evolution", "burst", "none"] = Field(
        _switch(_E.redelivery),
        description="webhooks reaching a bot that is down: the gateway's retry schedule "
        "(docs/models.md, Restart redelivery), all at once when it is back (burst), or lost (none)",
    )

    @model_validator(mode="after")
    def _restarts_in_order(self) -> EnvironmentConfig:
        for index in range(1, len(self.restarts)):
            before, restart = self.restarts[index - 1], self.restarts[index]
            if restart.at < before.at + before.downtime:
                raise ConfigValueError(
                    f"{format_duration(restart.at)} is before the previous restart ends "
                    f"({format_duration(before.at + before.downtime)})",
                    ("restarts", index, "at"),
                )
        return self


class RunConfig(Section):
    drain: Duration = Field(120 * S, description="virtual time run after the last message")
    gauge_interval: PositiveDuration = Field(10 * S, description="state gauge sampling period")


class RolloutConfig(Section):
    provider: Literal["unleash", "launchdarkly", "flagd"] = Field(
        "unleash", description="the flag service whose bucketing is reproduced"
    )
    flag: Annotated[str, Field(min_length=1)] = Field(
        "USE_UNIFIED_COORDINATOR", description="the feature flag name"
    )
    group_id: str | None = Field(None, description="Unleash group id; null = the flag name")
    salt: str | None = Field(None, description="LaunchDarkly salt")
    stickiness: Literal["contact_id"] = Field(
        "contact_id", description="the field a contact is bucketed by"
    )
    algorithm: str | None = Field(
        None,
        description="unleash: murmur3; launchdarkly: sha1; flagd: v2 or v1; "
        "null = the provider's first",
    )
    flip_mode: Literal["restart", "hot"] = Field(
        "restart",
        description="--flip-at: the flag is an environment variable, so the flip restarts the "
        "process (in-flight work and caches lost, webhooks redelivered), or hot [A19]",
    )
    flip_downtime: Duration = Field(
        30 * S, description="--flip-mode restart: how long the process is down at the flip"
    )

    @model_validator(mode="after")
    def _resolve(self) -> RolloutConfig:
        allowed = ALGORITHMS[self.provider]
        if self.algorithm is not None and self.algorithm not in allowed:
            raise ConfigValueError(
                f"{self.algorithm!r} is not one of {', '.join(allowed)} (provider {self.provider})",
                ("algorithm",),
            )
        # resolved here so config show, run.json and the fingerprint name what is used
        object.__setattr__(self, "algorithm", self.algorithm or allowed[0])
        object.__setattr__(self, "group_id", self.group_id or self.flag)
        return self


class CompareConfig(Section):
    latency_abs: Duration = Field(2 * S, description="slower/faster needs |c - b| above it")
    latency_rel: Annotated[float, Field(ge=0.0)] = Field(
        0.5, description="... and above this share of the baseline latency"
    )
    repeat_horizon: Duration = Field(
        60 * S, description="an equal text this recent is a repeat (repeat_of)"
    )
    severity: SeverityMap = Field(
        default_factory=dict,
        description="kind -> severity, or kind -> {repeat_kind: severity}; "
        "{} = the docs/reference.md table",
    )


Delivery = Literal["ignore", "deliver"]


class CaptureConfig(Section):
    """How what is not a new customer message reaches the models (docs/capture.md)."""

    edit: Delivery = Field(
        "ignore",
        description="a customer's edit: ignored, or delivered as a new message with the edited "
        "content, linked to the original's message id",
    )
    revoke: Delivery = Field(
        "ignore",
        description="a customer's deletion: ignored, or delivered as an unsupported message "
        "linked to the deleted one",
    )
    system: Delivery = Field(
        "ignore",
        description="a system notice (changed number, security code, call): ignored, or "
        "delivered as an unsupported message",
    )
    error: Delivery = Field(
        "ignore",
        description="an error-only payload or placeholder: ignored, or delivered as an "
        "unsupported message",
    )
    unknown_type: Delivery = Field(
        "ignore",
        description="a type no documentation names: ignored, or delivered as an unsupported "
        "message",
    )

    def delivered(self) -> frozenset[str]:
        """The event kinds delivered to the models as messages."""
        return frozenset(kind for kind, value in self.model_dump().items() if value == "deliver")


class ShadowConfig(Section):
    """The root: one section per model, the environment, the run, the rollout, the comparison,
    and how capture events reach the models."""

    orchestrator: OrchestratorConfig = Field(default_factory=OrchestratorConfig)
    coordinator: CoordinatorConfig = Field(default_factory=CoordinatorConfig)
    response_manager: ResponseManagerConfig = Field(default_factory=ResponseManagerConfig)
    unified: UnifiedConfig = Field(default_factory=UnifiedConfig)
    environment: EnvironmentConfig = Field(default_factory=EnvironmentConfig)
    run: RunConfig = Field(default_factory=RunConfig)
    rollout: RolloutConfig = Field(default_factory=RolloutConfig)
    compare: CompareConfig = Field(default_factory=CompareConfig)
    capture: CaptureConfig = Field(default_factory=CaptureConfig)


__all__ = [
    "ALGORITHMS",
    "AgentConfig",
    "BatchingConfig",
    "CaptureConfig",
    "CompareConfig",
    "CoordinatorConfig",
    "EnvironmentConfig",
    "OrchestratorConfig",
    "OutageConfig",
    "ResponseManagerConfig",
    "RestartConfig",
    "RolloutConfig",
    "RunConfig",
    "ScriptEntryConfig",
    "Section",
    "SenderConfig",
    "SeverityRule",
    "ShadowConfig",
    "UnifiedConfig",
]
