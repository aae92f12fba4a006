"""The open readings: the review's interpretations that can change a verdict, with every value
each may take. The one place the replay varies and the gate judges (docs/gate.md, "Open readings").

Guarantees:

1. Each reading is one configuration key with its enumerated alternatives; the replay varies
   them one at a time around the run's configuration, the gate never names a reading itself.
2. ``tests/unit/test_readings.py`` checks that every ``[A#]`` switch of the schema with
   enumerated values (a ``Literal`` or a boolean) is listed here with exactly those values, and
   that every value listed is accepted by the schema.
3. Numeric readings are not varied (no value would be more than a guess); a policy pins them by
   setting them, as any other configuration.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Reading:
    """A configuration key the review leaves open, its values and what each value says."""

    tag: str
    key: str
    #: each value with the clause a verdict message uses ("late results are dropped")
    says: tuple[tuple[Any, str], ...]

    @property
    def values(self) -> tuple[Any, ...]:
        return tuple(value for value, _ in self.says)

    def clause(self, value: Any) -> str:
        for known, text in self.says:
            if known == value:
                return text
        return f"{self.key} = {value_label(value)}"


READINGS: tuple[Reading, ...] = (
    Reading(
        "A1",
        "orchestrator.on_lock_wait_timeout",
        (
            ("queue", "a lock-wait timeout queues the message"),
            ("proceed", "a lock-wait timeout runs the message unlocked"),
        ),
    ),
    Reading(
        "A3",
        "orchestrator.on_concurrency_full",
        (
            ("wait", "a contact past the concurrency limit waits"),
            ("reject", "a contact past the concurrency limit is dropped"),
        ),
    ),
    Reading(
        "A4",
        "coordinator.hash_text",
        (
            ("exact", "legacy hashes the exact text"),
            ("normalized", "legacy hashes the normalized text"),
        ),
    ),
    Reading(
        "A5",
        "coordinator.batching.enabled",
        (
            (True, "legacy batches waiting messages"),
            (False, "legacy takes one message at a time"),
        ),
    ),
    Reading(
        "A6",
        "coordinator.overflow",
        (
            ("drop_new", "a full legacy queue drops the newcomer"),
            ("drop_oldest", "a full legacy queue drops the oldest"),
        ),
    ),
    Reading(
        "A7",
        "coordinator.emergency_flush",
        (
            ("discard", "an emergency flush discards waiting messages"),
            ("process", "an emergency flush processes them at once"),
        ),
    ),
    Reading(
        "A8",
        "response_manager.mark_before_send",
        (
            (True, "legacy records the reply hash before sending"),
            (False, "legacy records the reply hash after a successful send"),
        ),
    ),
    Reading(
        "A11",
        "unified.record_response",
        (
            ("after_send", "unified records the reply hash after a successful send"),
            ("before_send", "unified records the reply hash before sending"),
        ),
    ),
    Reading(
        "A12",
        "unified.on_lock_table_full",
        (
            ("wait", "a new contact at a full lock table waits"),
            ("evict_oldest", "a new contact at a full lock table evicts the oldest"),
        ),
    ),
    Reading(
        "A13",
        "unified.late_result",
        (
            ("drop", "late results are dropped"),
            ("send", "late results are sent"),
        ),
    ),
    Reading(
        "A15",
        "unified.response_hash_fields",
        (
            (["contact_id", "text"], "unified's reply hash covers contact and text"),
            (["text"], "unified's reply hash covers the text only"),
        ),
    ),
    Reading(
        "A16",
        "unified.release_lock_on_error",
        (
            (True, "unified releases the lock on error"),
            (False, "unified keeps the lock on error"),
        ),
    ),
    Reading(
        "A18",
        "orchestrator.release_lock_on_error",
        (
            (False, "a crash keeps the legacy lock"),
            (True, "a crash releases the legacy lock"),
        ),
    ),
    Reading(
        "U2",
        "unified.dedupe_by_message_id",
        (
            (True, "unified suppresses a message id it has seen"),
            (False, "unified does not dedupe by message id"),
        ),
    ),
)

READING_KEYS: tuple[str, ...] = tuple(reading.key for reading in READINGS)


def reading_for(key: str) -> Reading | None:
    return next((reading for reading in READINGS if reading.key == key), None)


def selected_readings(setting: str | Sequence[str]) -> tuple[Reading, ...]:
    """``run.readings``: ``all``, ``none`` or a list of keys, in table order."""
    if setting == "all":
        return READINGS
    if setting == "none" or isinstance(setting, str):
        return ()
    chosen = set(setting)
    return tuple(reading for reading in READINGS if reading.key in chosen)


def value_label(value: Any) -> str:
    """A value as the folder names and messages show it: ``send``, ``true``, ``text``,
    ``contact_id+text``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "+".join(str(item) for item in value)
    return str(value)


def set_argument(key: str, value: Any) -> str:
    """The ``--set`` text giving ``key`` this value (JSON is YAML)."""
    return f"{key}={json.dumps(value)}"


def alternatives(reading: Reading, flat_config: Mapping[str, Any]) -> list[Any]:
    """The reading's values other than the one in force."""
    current = flat_config.get(reading.key)
    return [value for value in reading.values if value != current]
