"""Bytes of the JavaScript Maps behind the gauges, estimated from V8's object layouts.

The gauges count entries; the review's "centenas de MB" is about bytes. A Map entry costs a
share of V8's ``OrderedHashTable`` (3 tagged slots per entry plus one bucket slot per 2 entries,
``kLoadFactor = 2``; capacity a power of two, at least 4), plus its key string and its value
(docs/models.md, "Memory in bytes", gives the sources and a measurement on Node 20 that matches
the formulas to the byte).

Guarantees:

1. ``map_bytes(n, ...)`` is a pure function of its arguments; 0 entries cost 0 bytes.
2. Stock Node (no pointer compression): tagged slots of 8 bytes, objects aligned to 8 bytes.
3. The estimate is V8 heap of live objects, not RSS: no page overhead, fragmentation or the
   transient old-plus-new table of a rehash.
"""

from __future__ import annotations

from dataclasses import dataclass

TAGGED = 8
#: a ``Date.now()`` value is never a small integer: a HeapNumber (map + float64)
HEAP_NUMBER = TAGGED + 8


def aligned(size: int) -> int:
    return (size + TAGGED - 1) // TAGGED * TAGGED


def string_bytes(chars: int) -> int:
    """A flat one-byte string: map, hash and length (16 bytes), then one byte a character."""
    return aligned(TAGGED + 8 + chars)


def table_capacity(entries: int) -> int:
    """V8 ``OrderedHashTable`` capacity: the smallest power of two >= max(4, entries)."""
    capacity = 4
    while capacity < entries:
        capacity *= 2
    return capacity


def table_bytes(entries: int, slots_per_entry: int = 3) -> int:
    """The hash table itself: ``slots_per_entry`` slots per capacity entry and one bucket slot
    per two (a Map entry is key, value, chain: 3 slots; a Set entry 2)."""
    if entries == 0:
        return 0
    capacity = table_capacity(entries)
    return capacity * slots_per_entry * TAGGED + capacity // 2 * TAGGED


@dataclass(frozen=True, slots=True)
class Structure:
    """One JavaScript Map of the modelled code: what its keys and values look like."""

    js: str
    key_chars: int
    value_bytes: int

    def bytes(self, entries: int) -> int:
        """Guarantee 1: table, keys and values of ``entries`` entries."""
        if entries == 0:
            return 0
        return table_bytes(entries) + entries * (string_bytes(self.key_chars) + self.value_bytes)


#: a contact id as the Cloud API sends it: a 13-digit ``wa_id``
CONTACT = 13
#: a hash key: a sha256 hex digest (declared: the review does not say which hash)
HASH = 64
#: ``{processId, startTime}``: object header (3 slots) + 2 properties, a 20-char processId
#: string and a boxed ``Date.now()``
LOCK = (3 + 2) * TAGGED + string_bytes(20) + HEAP_NUMBER
#: an emptied array queue: the JSArray (4 slots) plus the backing store it keeps (measured
#: 130-150 bytes after ``shift()`` to empty; 150 declared)
EMPTIED_ARRAY = 4 * TAGGED + 150

#: gauge name -> the Map it counts (the gauges that grow with traffic)
STRUCTURES: dict[str, Structure] = {
    "orchestrator.locks": Structure("Map<contact, {processId, startTime}>", CONTACT, LOCK),
    "orchestrator.queues": Structure("Map<contact, array> (emptied)", CONTACT, EMPTIED_ARRAY),
    "coordinator.hashes": Structure("Map<hash, Date.now()>", HASH, HEAP_NUMBER),
    "coordinator.queues": Structure("Map<contact, array> (emptied)", CONTACT, EMPTIED_ARRAY),
    "response_manager.cache": Structure("Map<hash, Date.now()>", HASH, HEAP_NUMBER),
    "unified.hashes": Structure("Map<hash, Date.now()>", HASH, HEAP_NUMBER),
    "unified.message_ids": Structure("Map<wamid, Date.now()>", 56, HEAP_NUMBER),
    "unified.responses": Structure("Map<hash, Date.now()>", HASH, HEAP_NUMBER),
    "unified.locks": Structure("Map<contact, {processId, startTime}>", CONTACT, LOCK),
}


def entries_for_bytes(structure: Structure, target: int) -> int:
    """The fewest entries whose estimate reaches ``target`` bytes (binary search)."""
    low, high = 1, 1
    while structure.bytes(high) < target:
        high *= 2
    while low < high:
        middle = (low + high) // 2
        if structure.bytes(middle) >= target:
            high = middle
        else:
            low = middle + 1
    return low
