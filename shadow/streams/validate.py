"""``shadow validate``: the capture's accounting as docs/reference.md's document, and its bad
lines grouped by reason.

Guarantees:

1. ``validate_document`` is exactly docs/reference.md's ``validate --json`` document:
   ``lines`` equals the sum of ``line_kinds``; item counts are apart; every rejected line with
   file, line, reason.
2. The CLI's table renders these same numbers per file and in total, never other ones.
3. ``rejection_groups`` groups the rejected lines by reason, in order of first appearance, with
   the count and the first ``FIRST_LINES`` places (``file:line``) of each: what ``validate``'s
   table and ``replay`` show. A reason carries no value of the capture (readers' guarantee).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from shadow.streams.normalize import Capture
from shadow.streams.record import Rejected

FIRST_LINES = 5


@dataclass(slots=True)
class RejectionGroup:
    """The rejected lines of one reason: how many, and where the first ones are."""

    reason: str
    count: int = 0
    first: list[str] = field(default_factory=list)


def validate_document(capture: Capture) -> dict[str, Any]:
    document = capture.accounting.total.document()
    document["rejected"] = [
        {"file": bad.file, "line": bad.line, "reason": bad.reason} for bad in capture.rejected
    ]
    return document


def rejection_groups(rejected: Iterable[Rejected]) -> list[RejectionGroup]:
    """The rejected lines by reason (guarantee 3)."""
    groups: dict[str, RejectionGroup] = {}
    for bad in rejected:
        group = groups.setdefault(bad.reason, RejectionGroup(bad.reason))
        group.count += 1
        if len(group.first) < FIRST_LINES:
            group.first.append(f"{bad.file}:{bad.line}")
    return list(groups.values())
