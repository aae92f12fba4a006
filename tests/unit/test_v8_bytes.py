"""V8 Map byte estimates (issue 19), checked against docs/models.md's worked examples."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shadow.common.v8_bytes import (
    HEAP_NUMBER,
    STRUCTURES,
    Structure,
    entries_for_bytes,
    string_bytes,
    table_bytes,
    table_capacity,
)


def test_strings_match_the_node_20_measurement() -> None:
    # 13-digit wa_id, 28-char JID, 64-char hex: measured 32, 48 and 80 bytes
    assert [string_bytes(n) for n in (13, 28, 64)] == [32, 48, 80]


def test_table_is_3_5_slots_per_capacity_entry() -> None:
    assert table_capacity(12_500) == 16_384
    assert table_capacity(131_072) == 131_072  # a full table has not grown yet
    assert table_bytes(131_072) == 28 * 131_072
    assert table_bytes(0) == 0


def test_worked_example_timestamp_map_at_the_reviews_12500_entries() -> None:
    contact_map = Structure("Map<contact, Date.now()>", 13, HEAP_NUMBER)
    assert contact_map.bytes(12_500) / 12_500 == pytest.approx(84.7, abs=0.05)
    hashes = STRUCTURES["coordinator.hashes"]
    assert hashes.bytes(12_500) / 12_500 == pytest.approx(132.7, abs=0.05)


@settings(deadline=None)
@given(st.integers(min_value=1, max_value=10_000_000))
def test_entries_for_bytes_is_the_first_count_reaching_the_target(target: int) -> None:
    structure = STRUCTURES["orchestrator.queues"]
    entries = entries_for_bytes(structure, target)
    assert structure.bytes(entries) >= target
    assert entries == 1 or structure.bytes(entries - 1) < target
