"""Contact timelines for the top signatures: both arms' decision events as swimlanes (SVG).

Decision events are not stored (docs/reference.md): they come from re-running the run's arms with
``shadow.explain``, which checks the re-run reproduces ``outcomes.parquet``.

Guarantees:

1. One re-run for the whole report: every example seq of every shown signature is captured
   in a single ``rerun`` call per run, so a large run is re-simulated once, not per example,
   and narrowed to the examples' contacts or a prefix when that reproduces the stored outcomes
   exactly (``shadow.explain``'s guarantee 3).
2. At most ``limit`` examples, each with the example message and its contact's neighbouring
   messages (``NEIGHBOURS`` either side) and at most ``MAX_EVENTS`` events: the page stays small.
3. A re-run that cannot be done (models missing, a mismatch) leaves the section with the
   reason, never a failed report.
4. The SVG is hand-built: plain elements, fixed number formatting, ``<title>`` tooltips (no
   script), so it is byte-identical for the same run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd

from reports.data import RunData
from shadow.common import ShadowError

NEIGHBOURS = 2
WINDOW_S = 120.0  # neighbours further than this from the example would squash the lanes
MAX_EVENTS = 60
WIDTH, LEFT, RIGHT, LANE = 920, 120, 24, 56

GOOD = frozenset({"reply_sent"})
WORK = frozenset({"processing_started", "accepted", "lock_acquired"})
WAIT = frozenset(
    {
        "queued",
        "lock_wait",
        "slot_wait",
        "batched",
        "lock_wait_timeout",
        "duplicate_missed",
        "force_released",
        "evicted",
        "send_attempt",
    }
)
BAD = frozenset(
    {
        "duplicate_suppressed",
        "dropped",
        "reply_blocked",
        "send_failed",
        "agent_error",
        "agent_hang",
        "processing_timeout",
        "lost",
        "emergency_flush",
    }
)
LEGEND = (
    ("message arrived", "#495057"),
    ("processing", "#1f5fa8"),
    ("waiting / batching / retry", "#e67700"),
    ("reply delivered", "#2b8a3e"),
    ("suppressed / dropped / failed", "#c92a2a"),
)


def tint(kind: str) -> str:
    if kind == "arrived":
        return LEGEND[0][1]
    if kind in GOOD:
        return LEGEND[3][1]
    if kind in WORK:
        return LEGEND[1][1]
    if kind in BAD:
        return LEGEND[4][1]
    return LEGEND[2][1]


@dataclass
class Event:
    at_s: float
    arm: str
    kind: str
    seqs: tuple[int, ...]
    rule: str
    layer: str


@dataclass
class Example:
    """One signature's example: the contact, the seqs shown, both arms' events."""

    signature: str
    severity: str
    kinds: list[str]
    arms: tuple[str, str]
    seq: int
    contact: str
    seqs: list[int]
    events: list[Event] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    truncated: int = 0
    svg: str = ""


Fetch = Callable[[Path, list[int], list[str]], list[Any]]


def fetch_timelines(path: Path, seqs: list[int], arms: list[str]) -> list[Any]:
    """``shadow.explain``'s re-run (module docstring)."""
    from shadow.explain import open_run, rerun

    return rerun(open_run(path), seqs, arms)


def contact_timelines(
    data: RunData, signatures: Sequence[dict[str, Any]], limit: int
) -> tuple[list[Example], str | None]:
    """Examples for the first ``limit`` signatures, or an empty list and the reason."""
    examples: list[Example] = []
    contact_ids = data.stream["contact_id"].astype("string").to_numpy()
    times = data.stream["at_s"].to_numpy(dtype=float)
    for sig in signatures[:limit]:
        if not sig.get("examples"):
            continue
        seq = int(sig["examples"][0])
        pair = sorted(sig.get("pairs", {}))[0]
        baseline, candidate = pair.split(" vs ")
        same = [int(s) for s in (contact_ids == contact_ids[seq]).nonzero()[0]]
        at = same.index(seq)
        near = times[seq]
        window = [
            s
            for s in same[max(0, at - NEIGHBOURS) : at + NEIGHBOURS + 1]
            if abs(times[s] - near) <= WINDOW_S
        ]
        examples.append(
            Example(
                signature=str(sig["signature"]),
                severity=str(sig["severity"]),
                kinds=list(sig["kinds"]),
                arms=(baseline, candidate),
                seq=seq,
                contact=data.contact_of(seq),
                seqs=window,
                outcomes=[outcome_line(data, arm, seq) for arm in (baseline, candidate)],
            )
        )
    if not examples:
        return [], None
    seqs = sorted({s for e in examples for s in e.seqs})
    wanted = {arm for e in examples for arm in e.arms}
    arms = [arm for arm in data.arms if arm in wanted]
    try:
        timelines = fetch_timelines(data.path, seqs, arms)
    except ShadowError as exc:  # guarantee 3: the report still renders
        return [], f"{type(exc).__name__}: {exc.message}"
    except Exception as exc:  # an unexpected error's message might quote anything: its type
        return [], type(exc).__name__
    by_arm = {str(t.arm): t for t in timelines}
    for example in examples:
        shown = set(example.seqs)
        events = [
            Event(e.at / 1e6, arm, e.kind, tuple(e.seqs), e.rule, e.layer)
            for arm in example.arms
            if arm in by_arm
            for e in by_arm[arm].events
            if shown.intersection(e.seqs)
        ]
        events.sort(key=lambda e: (e.at_s, example.arms.index(e.arm)))
        example.truncated = max(0, len(events) - MAX_EVENTS)
        example.events = events[:MAX_EVENTS]
        example.svg = swimlane_svg(example)
    return examples, None


def outcome_line(data: RunData, arm: str, seq: int) -> str:
    """``arm: fate, n replies after Xs, rule R`` for the example seq."""
    rows = data.outcomes[(data.outcomes["arm"] == arm) & (data.outcomes["seq"] == seq)]
    if rows.empty:
        return f"{arm}: no outcome"
    row = rows.iloc[0]
    parts = [f"{arm}: {row['fate']}"]
    replies = row["reply_count"]
    if replies is not pd.NA and int(replies) > 0:
        latency = row["reply_latency"]
        parts.append(f"{int(replies)} repl{'y' if int(replies) == 1 else 'ies'}")
        if latency == latency:
            parts.append(f"first after {float(latency):.1f}s")
    for label in ("rule", "cause"):
        value = row[label]
        if value is not pd.NA and value:
            parts.append(f"{label} {value}")
    return ", ".join(parts)


def _fmt(value: float) -> str:
    return f"{value:.1f}"


def _ticks(start: float, stop: float) -> list[float]:
    span = max(stop - start, 1e-6)
    for step in (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600):
        if span / step <= 10:
            break
    first = step * int(start // step)
    return [
        first + step * i for i in range(int(span // step) + 3) if start <= first + step * i <= stop
    ]


def swimlane_svg(example: Example) -> str:
    """Two lanes (baseline above, candidate below) of event markers along virtual time."""
    events = example.events
    height = 34 + LANE * len(example.arms) + 44
    if not events:
        return ""
    start = min(e.at_s for e in events)
    stop = max(e.at_s for e in events)
    pad = max((stop - start) * 0.04, 0.5)
    start, stop = start - pad, stop + pad

    def x(at: float) -> float:
        return LEFT + (WIDTH - LEFT - RIGHT) * (at - start) / (stop - start)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'class="swimlane" aria-label="timeline of seq {example.seq}">'
    ]
    for lane, arm in enumerate(example.arms):
        top = 24 + LANE * lane
        parts.append(
            f'<rect x="{LEFT}" y="{top}" width="{WIDTH - LEFT - RIGHT}" height="{LANE - 8}" '
            f'fill="{"#f8f9fa" if lane % 2 == 0 else "#f1f3f5"}"/>'
            f'<text x="{LEFT - 8}" y="{top + LANE / 2}" text-anchor="end" '
            f'class="lane">{escape(arm)}</text>'
        )
    arrival = next((e.at_s for e in events if e.kind == "arrived" and example.seq in e.seqs), None)
    if arrival is not None:
        mark = _fmt(x(arrival))
        parts.append(
            f'<line x1="{mark}" x2="{mark}" y1="20" y2="{24 + LANE * len(example.arms) - 8}" '
            f'stroke="#f59f00" stroke-width="2" stroke-dasharray="4 3"/>'
            f'<text x="{mark}" y="{24 + LANE * len(example.arms) + 4}" text-anchor="middle" '
            f'class="tick">example #{example.seq}</text>'
        )
    for tick in _ticks(start, stop):
        at = _fmt(x(tick))
        parts.append(
            f'<line x1="{at}" x2="{at}" y1="20" y2="{24 + LANE * len(example.arms)}" '
            f'stroke="#dee2e6"/><text x="{at}" y="14" text-anchor="middle" '
            f'class="tick">{tick:g}s</text>'
        )
    stacked: dict[tuple[str, int], int] = {}
    last_label: dict[str, tuple[float, int]] = {}
    for event in events:
        lane = example.arms.index(event.arm)
        px = x(event.at_s)
        slot = (event.arm, int(px // 7))
        depth = stacked.get(slot, 0)
        stacked[slot] = depth + 1
        cy = 24 + LANE * lane + 10 + (depth % 5) * 8
        seqs = ",".join(str(s) for s in event.seqs)
        tip = escape(
            f"{event.at_s:.3f}s {event.arm}: {event.kind} (seq {seqs})"
            + (f" rule {event.rule}" if event.rule else "")
            + (f" [{event.layer}]" if event.layer else "")
        )
        colour = tint(event.kind)
        if event.kind == "arrived":
            shape = (
                f'<path d="M{_fmt(px - 4)},{cy + 4} L{_fmt(px + 4)},{cy + 4} '
                f'L{_fmt(px)},{cy - 4} Z" fill="{colour}"/>'
            )
            label = seqs if len(event.seqs) < 4 else f"{event.seqs[0]}+"
            # labels of close arrivals alternate above and below so they stay readable
            previous = last_label.get(event.arm)
            row = 1 - previous[1] if previous and px - previous[0] < 36 else 0
            last_label[event.arm] = (px, row)
            ty = cy + 3 if row == 0 else cy + 15
            shape += f'<text x="{_fmt(px + 5)}" y="{ty}" class="seq">#{escape(label)}</text>'
        else:
            shape = f'<circle cx="{_fmt(px)}" cy="{cy}" r="3.6" fill="{colour}"/>'
        dim = "" if example.seq in event.seqs else ' opacity="0.4"'
        parts.append(f"<g{dim}><title>{tip}</title>{shape}</g>")
    legend_y = 24 + LANE * len(example.arms) + 22
    offset = LEFT
    for label, colour in LEGEND:
        parts.append(
            f'<circle cx="{offset}" cy="{legend_y - 4}" r="4" fill="{colour}"/>'
            f'<text x="{offset + 8}" y="{legend_y}" class="tick">{escape(label)}</text>'
        )
        offset += 24 + 6 * len(label)
    parts.append("</svg>")
    return "".join(parts)
