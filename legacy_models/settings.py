"""Settings of the three legacy layers: every documented behaviour, the seed's figure as default.

Durations are integer microseconds. ``shadow.config`` builds these from the validated YAML; the
``[A#]`` tags name the interpretations of docs/models.md that a switch selects.
"""

from __future__ import annotations

from dataclasses import dataclass

S = 1_000_000


@dataclass(frozen=True, slots=True)
class OrchestratorSettings:
    processing_timeout: int = 15 * S  # O1
    lock_wait_timeout: int = 3 * S  # O2
    on_lock_wait_timeout: str = "queue"  # O2 [A1]: queue | proceed
    deadlock_after: int = 20 * S  # O4
    deadlock_check_every: int = 5 * S  # O4 [A2]
    max_concurrent_contacts: int = 50  # O5
    on_concurrency_full: str = "wait"  # O5 [A3]: wait | reject
    release_lock_on_error: bool = False  # O6 [A18]
    queue_limit: int | None = None  # O7
    emptied_queues: str = "keep"  # O7: keep | delete (an emptied queue leaves the map)


@dataclass(frozen=True, slots=True)
class CoordinatorSettings:
    mutex: str = "loop"  # C1: loop | naive_await
    duplicate_window: int = 3 * S  # C2
    hash_text: str = "exact"  # C2 [A4]: exact | normalized
    batching_enabled: bool = True  # C4 [A5]
    max_batch: int = 5  # C4 [A5]
    collect_delay: int = 0  # C4: a loop waits this long before taking a batch (0: at once)
    max_queue_size: int = 20  # C5 [A6]
    overflow: str = "drop_new"  # C5 [A6]: drop_new | drop_oldest
    emergency_flush_queues: int = 50  # C6 [A7]
    emergency_flush: str = "discard"  # C6 [A7]: discard | process (waiting messages run now)
    cleanup_every: int = 300 * S  # C7


@dataclass(frozen=True, slots=True)
class ResponseManagerSettings:
    duplicate_window: int = 30 * S  # R1
    mark_before_send: bool = True  # R1 [A8]
    max_attempts: int = 3  # R2 [A9]
    backoff: tuple[int, ...] = (1 * S, 2 * S)  # R2 [A9]
    cleanup_every: int = 60 * S  # R3
    max_cache: int = 10_000  # R4
    max_queue: int = 1_000  # R4 [A10]


@dataclass(frozen=True, slots=True)
class LegacySettings:
    orchestrator: OrchestratorSettings = OrchestratorSettings()
    coordinator: CoordinatorSettings = CoordinatorSettings()
    response_manager: ResponseManagerSettings = ResponseManagerSettings()
