"""Line and item accounting of a capture: what ``validate`` reports and ``run.json`` records.

Guarantees:

1. Every physical line is counted under exactly one kind; ``lines`` is their sum.
2. Item counts are apart from line counts: ``messages`` (inbound records), ``receipts``
   (statuses), ``outbound`` (recorded replies), ``groups`` (group messages skipped),
   ``redeliveries`` (inbound records whose ``message_id`` came before: messages minus distinct
   ids, so independent of order), ``types``, ``contacts`` (distinct inbound contact ids),
   ``first_at`` and ``last_at`` (µs).
3. Documents come out with sorted keys and counts only: deterministic whatever the hash seed.
4. Events (edits, deletions, notices, error-only payloads, unknown types) are items too:
   ``events`` counts each kind and ``unknown_types`` each unknown type by its name. A capture
   with no event keeps the classic document (the six classic line kinds, no ``events`` key);
   one with any lists every line kind and both keys. An unknown type is listed by its name
   only when the name looks like one (letters, digits, ``_.:-``, at most 64 characters): a
   payload cannot carry other content into the accounting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shadow.streams.base import CLASSIC_LINE_KINDS, LINE_KINDS, LineKind, LineResult
from shadow.streams.fields import iso_utc
from shadow.streams.record import EVENT_KINDS, listed_name


@dataclass(slots=True)
class Counts:
    """The accounting of one file, or of the whole capture."""

    file: str
    format: str
    #: the classic kinds, and each event kind once a line of it is counted
    line_kinds: dict[LineKind, int] = field(
        default_factory=lambda: dict.fromkeys(CLASSIC_LINE_KINDS, 0)
    )
    messages: int = 0
    receipts: int = 0
    outbound: int = 0
    groups: int = 0
    types: dict[str, int] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=lambda: dict.fromkeys(EVENT_KINDS, 0))
    unknown_types: dict[str, int] = field(default_factory=dict)
    first_at: int | None = None
    last_at: int | None = None
    _ids: set[str] = field(default_factory=set)
    _contacts: set[str] = field(default_factory=set)

    def add(self, result: LineResult) -> None:
        self.line_kinds[result.kind] = self.line_kinds.get(result.kind, 0) + 1
        self.receipts += result.receipts
        self.groups += result.groups
        self.outbound += len(result.outbound)
        for item in result.events:
            self.events[item.kind] += 1
            if item.kind == "unknown_type":
                name = listed_name(item.name)
                self.unknown_types[name] = self.unknown_types.get(name, 0) + 1
        for record in result.inbound:
            self.messages += 1
            self.types[record.type] = self.types.get(record.type, 0) + 1
            self._ids.add(record.message_id)
            self._contacts.add(record.contact_id)
            at = record.received_at
            self.first_at = at if self.first_at is None else min(self.first_at, at)
            self.last_at = at if self.last_at is None else max(self.last_at, at)

    @property
    def lines(self) -> int:
        return sum(self.line_kinds.values())

    @property
    def redeliveries(self) -> int:
        return self.messages - len(self._ids)

    @property
    def contacts(self) -> int:
        return len(self._contacts)

    @property
    def has_events(self) -> bool:
        return any(self.events.values())

    def document(self) -> dict[str, Any]:
        """The counts of docs/reference.md's ``validate --json`` (without the rejected list)."""
        kinds = LINE_KINDS if self.has_events else CLASSIC_LINE_KINDS
        document: dict[str, Any] = {
            "lines": self.lines,
            "line_kinds": {kind: self.line_kinds.get(kind, 0) for kind in kinds},
            "messages": self.messages,
            "receipts": self.receipts,
            "outbound": self.outbound,
            "redeliveries": self.redeliveries,
            "types": dict(sorted(self.types.items())),
            "contacts": self.contacts,
            "first_at": None if self.first_at is None else iso_utc(self.first_at),
            "last_at": None if self.last_at is None else iso_utc(self.last_at),
        }
        if self.has_events:
            document["events"] = dict(self.events)
            document["unknown_types"] = dict(sorted(self.unknown_types.items()))
        return document


@dataclass(slots=True)
class Accounting:
    """Per-file counts, in the order files were given, and the capture's total."""

    files: list[Counts] = field(default_factory=list)
    total: Counts = field(default_factory=lambda: Counts("", ""))

    def start(self, file: str, fmt: str) -> Counts:
        counts = Counts(file, fmt)
        self.files.append(counts)
        return counts

    def add(self, counts: Counts, result: LineResult) -> None:
        counts.add(result)
        self.total.add(result)

    @property
    def per_file(self) -> dict[str, Counts]:
        """Counts by file label (the path as given to ``read_captures``)."""
        return {counts.file: counts for counts in self.files}

    def as_json(self) -> dict[str, Any]:
        """The capture's total counts (no file paths: safe for ``run.json``)."""
        return self.total.document()
