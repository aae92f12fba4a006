"""The seed's interpretations [A1]-[A20] (docs/models.md, docs/gate.md): what a verdict rests on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: (tag, config key, the reading the default encodes)
ASSUMPTIONS: tuple[tuple[str, str, str], ...] = (
    ("A1", "orchestrator.on_lock_wait_timeout", "a lock-wait timeout queues the message"),
    ("A2", "orchestrator.deadlock_check_every", "the deadlock check runs every 5 s"),
    ("A3", "orchestrator.on_concurrency_full", "the 51st contact waits"),
    ("A4", "coordinator.hash_text", "duplicate hash over contact and exact text"),
    ("A5", "coordinator.batching.max_batch", "a batch takes every waiting message up to 5"),
    ("A6", "coordinator.overflow", "a full queue drops the newcomer"),
    ("A7", "coordinator.emergency_flush_queues", "emergency flush discards waiting messages"),
    ("A8", "response_manager.mark_before_send", "legacy reply hash recorded before sending"),
    ("A9", "response_manager.backoff", "retry backoff 1 s, then 2 s"),
    ("A10", "response_manager.max_queue", "a reply beyond 1,000 pending is refused"),
    ("A11", "unified.record_response", "unified records a reply hash after a successful send"),
    ("A12", "unified.on_lock_table_full", "unified evicts the longest-idle entry, else waits"),
    ("A13", "unified.late_result", "unified discards results that arrive after the timeout"),
    ("A14", "unified.cleanup_every", "unified sweeps every 60 s"),
    ("A15", "unified.response_hash_fields", "unified reply hash over contact and text"),
    ("A16", "unified.release_lock_on_error", "unified releases the lock on error"),
    ("A17", "unified.max_attempts", "MAX_RETRIES 3 means 3 attempts in all"),
    ("A18", "orchestrator.release_lock_on_error", "a crash is a thrown error; lock kept"),
    ("A19", "rollout.provider", "the boolean flag becomes a per-contact percentage rollout"),
    ("A20", "gate scope all", "direct and indirect effects are judged apart; the worse wins"),
)


def assumptions_in_force(flat_config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each interpretation with the value in force and whether it is the seed's default."""
    return [
        {"tag": tag, "key": key, "reading": reading, "value": flat_config.get(key)}
        for tag, key, reading in ASSUMPTIONS
    ]
