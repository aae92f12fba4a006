"""Waivers applied to one arm pair's divergence lines (docs/gate.md, "Waivers").

Guarantees:

1. A waiver applies only to the stages it lists and only before its ``expires`` date (a waiver
   is stale on and after that date, judged on ``as_of``, never the clock).
2. A waiver whose matches in the pair exceed ``max_count`` is stale: its divergences count again.
3. A signature waiver waives every kind of the lines with that signature; a kinds + causes
   waiver waives the listed kinds of lines whose baseline or candidate cause is listed.
   ``harness_error`` is never waived.
4. Every waiver gets a status (``used``, ``unused``, ``stale_expired``, ``stale_exceeded``,
   ``other_stage``) and its match count; waived lines are grouped apart by signature.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shadow.gate.policy import Waiver

Line = Mapping[str, Any]
UNWAIVABLE = frozenset({"harness_error"})


@dataclass(frozen=True, slots=True)
class WaiverStatus:
    index: int
    waiver: Waiver
    status: str
    matched: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "match": self.waiver.label(),
            "approver": self.waiver.approver,
            "reason": self.waiver.reason,
            "link": self.waiver.link,
            "expires": self.waiver.expires.isoformat(),
            "stages": list(self.waiver.stages),
            "max_count": self.waiver.max_count,
            "matched": self.matched,
            "status": self.status,
        }


@dataclass(slots=True)
class WaiverOutcome:
    """Waived kinds per seq, the status of every waiver, and the waived lines by signature."""

    waived_kinds: dict[int, frozenset[str]] = field(default_factory=dict)
    statuses: list[WaiverStatus] = field(default_factory=list)
    waived_by_signature: list[dict[str, Any]] = field(default_factory=list)

    def waived(self, seq: int, kind: str) -> bool:
        return kind in self.waived_kinds.get(seq, frozenset())


def _cause(line: Line, side: str) -> str:
    attribution = line.get("attribution") or {}
    record = attribution.get(side) or {}
    return str(record.get("cause") or "")


def _matched_kinds(waiver: Waiver, line: Line) -> frozenset[str]:
    kinds = frozenset(str(kind) for kind in line.get("kinds", ())) - UNWAIVABLE
    if waiver.signature is not None:
        return kinds if line.get("signature") == waiver.signature else frozenset()
    causes = set(waiver.causes or ())
    if _cause(line, "baseline") not in causes and _cause(line, "candidate") not in causes:
        return frozenset()
    return kinds & frozenset(waiver.kinds or ())


def apply_waivers(
    waivers: Sequence[Waiver], lines: Sequence[Line], stage: int, as_of: dt.date
) -> WaiverOutcome:
    """Decide which kinds of which seqs are waived in this pair (module guarantees)."""
    outcome = WaiverOutcome()
    waived: dict[int, set[str]] = {}
    groups: dict[str, dict[str, Any]] = {}
    for index, waiver in enumerate(waivers, start=1):
        matches = [(line, _matched_kinds(waiver, line)) for line in lines]
        matches = [(line, kinds) for line, kinds in matches if kinds]
        if stage not in waiver.stages:
            status = "other_stage"
        elif as_of >= waiver.expires:
            status = "stale_expired"
        elif len(matches) > waiver.max_count:
            status = "stale_exceeded"
        elif not matches:
            status = "unused"
        else:
            status = "used"
        outcome.statuses.append(WaiverStatus(index, waiver, status, len(matches)))
        if status != "used":
            continue
        for line, kinds in matches:
            seq = int(line["seq"])
            waived.setdefault(seq, set()).update(kinds)
            signature = str(line.get("signature", ""))
            group = groups.setdefault(
                signature,
                {"signature": signature, "waivers": [], "seqs": set(), "kinds": set()},
            )
            if index not in group["waivers"]:
                group["waivers"].append(index)
            group["seqs"].add(seq)
            group["kinds"].update(kinds)
    outcome.waived_kinds = {seq: frozenset(kinds) for seq, kinds in sorted(waived.items())}
    for signature in sorted(groups):
        group = groups[signature]
        seqs = sorted(group["seqs"])
        outcome.waived_by_signature.append(
            {
                "signature": signature,
                "waivers": group["waivers"],
                "kinds": sorted(group["kinds"]),
                "count": len(seqs),
                "example_seqs": seqs[:5],
            }
        )
    return outcome
