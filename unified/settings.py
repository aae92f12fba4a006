"""Settings of the UnifiedMessageCoordinator (docs/models.md U1-U10), the seed's figures as
defaults.

Durations are integer microseconds; ``[A#]`` tags name the interpretation a switch selects.
"""

from __future__ import annotations

from dataclasses import dataclass

S = 1_000_000


@dataclass(frozen=True, slots=True)
class UnifiedSettings:
    duplicate_window: int = 10 * S  # U2
    hash_text: str = "exact"  # U2: exact | normalized
    dedupe_by_message_id: bool = False  # U2
    response_window: int = 30 * S  # U3
    response_hash_fields: tuple[str, ...] = ("contact_id", "text")  # U3 [A15]
    record_response: str = "after_send"  # U3 [A11]: after_send | before_send
    max_locks: int = 100  # U4
    on_lock_table_full: str = "wait"  # U4 [A12]: wait | evict_oldest
    max_hash_cache: int = 1_000  # U5
    max_response_cache: int = 5_000  # U5
    processing_timeout: int = 15 * S  # U6
    late_result: str = "drop"  # U6 [A13]: drop | send
    timeout_covers: str = "agent"  # U6: agent | agent_and_send
    lock_timeout: int = 30 * S  # U7
    watchdog_every: int = 5 * S  # U7
    release_lock_on_error: bool = True  # U7 [A16]
    max_attempts: int = 3  # U8 [A17]
    backoff: tuple[int, ...] = (1 * S, 2 * S)  # U8
    cleanup_every: int = 60 * S  # U9 [A14]
