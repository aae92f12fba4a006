"""The legacy and unified models' configuration sections (docs/models.md rows)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from shadow.config.sections import (
    _C,
    _O,
    _R,
    _U,
    Count,
    HashText,
    Section,
    Threshold,
    _switch,
)
from shadow.config.values import (
    ConfigValueError,
    Duration,
    PositiveDuration,
)


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
