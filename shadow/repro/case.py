"""A repro case: the kept messages with their pinned world, and the scenario it renders to.

Guarantees:

1. A case holds no capture value: texts, replies, topics, contacts and message ids are class
   numbers (equal in the case exactly when equal in the run), rendered as placeholders
   (``text 1``, ``Text 1``: same normalized text, another exact text; ``reply 1``; ``t1``;
   contact 1; ``m1``; content classes ``c1``) numbered by first appearance, and times are
   rendered relative to the case's first message.
2. ``scenario_mapping`` is a function of the case's content alone: the same case renders the
   same mapping, hence the same YAML bytes.
3. Each kept message's simulated world (agent latency, outcome and reply) is pinned in the
   scenario's ``environment.agent.script`` under the message's id, so a message keeps its
   world whatever else is kept (environment draws stay keyed by seq for every other run).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

MS = 1_000
SECOND = 1_000_000
#: Config keys a case replaces by its pins: every kept message has a scripted reply.
PINNED_KEYS = ("environment.agent.script", "environment.agent.replies")


@dataclass(frozen=True, slots=True)
class Item:
    """One kept message: its run seq (for the note only) and what the scenario says of it."""

    seq: int
    at: int  # µs from the run's first message
    contact: int  # contact class
    message: int  # message id class (a redelivery shares its original's)
    norm: int  # normalized text class; -1: the empty text
    exact: int  # exact text class
    type: str
    topic: int  # topic class; -1: no topic
    repeat_kind: str
    latency: int  # pinned agent latency, µs
    outcome: str  # pinned agent outcome: ok, error, hang
    reply: int  # pinned reply class
    content: int = -1  # content class (a media hash, a place, ...: stream.parquet); -1: none


@dataclass(frozen=True, slots=True)
class Timed:
    """A restart or an outage of the run's config, in µs from the run's first message."""

    kind: str  # restart, outage
    start: int
    end: int
    failure_rate: float = 0.0


@dataclass(frozen=True, slots=True)
class Case:
    """Kept messages in stream order, and the run's config they replay under."""

    items: tuple[Item, ...]
    config: Mapping[str, Any]  # flat config keys differing from the defaults (JSON values)
    timed: tuple[Timed, ...] = ()
    contact_names: Callable[[Sequence[int]], list[int]] | None = field(default=None)

    def keep(self, items: Iterable[Item]) -> Case:
        return replace(self, items=tuple(items))

    @property
    def contacts(self) -> list[int]:
        return list(dict.fromkeys(item.contact for item in self.items))


def duration_text(us: int) -> str:
    """A duration in the config's spelling: the largest unit that divides it exactly."""
    for unit, size in (("h", 3600 * SECOND), ("m", 60 * SECOND), ("s", SECOND), ("ms", MS)):
        if us % size == 0 and (us or unit == "s"):
            return f"{us // size}{unit}"
    return f"{us}us"


def placeholder(norm: int, variant: int) -> str:
    """``text N`` for normalized class N (1-based), its ``variant``-th exact spelling: case
    changes, then trailing spaces (both vanish when normalized); the empty class is spaces."""
    if norm == 0:
        return " " * variant
    letters = "".join(
        ch.upper() if variant % 16 >> bit & 1 else ch for bit, ch in enumerate("text")
    )
    return f"{letters} {norm}" + " " * (variant // 16)


def _numbering(values: Iterable[int]) -> dict[int, int]:
    """1-based numbers by first appearance."""
    return {value: number for number, value in enumerate(dict.fromkeys(values), start=1)}


def _nested(flat: Mapping[str, Any]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for key in sorted(flat):
        node = root
        *path, last = key.split(".")
        for part in path:
            node = node.setdefault(part, {})
        node[last] = flat[key]
    return root


def scenario_mapping(case: Case, name: str, description: str) -> dict[str, Any]:
    """The scenario file of a case (guarantees 1-3)."""
    items = case.items
    t0 = items[0].at
    contacts = case.contacts
    numbers = (
        case.contact_names(contacts) if case.contact_names else list(range(1, 1 + len(contacts)))
    )
    contact_of = dict(zip(contacts, numbers, strict=True))
    message_of = _numbering(item.message for item in items)
    topic_of = _numbering(item.topic for item in items if item.topic >= 0)
    content_of = _numbering(item.content for item in items if item.content >= 0)
    reply_of = _numbering(item.reply for item in items)
    norms = [item.norm for item in items if item.norm >= 0]
    norm_of = _numbering(norms)
    variants: dict[int, dict[int, int]] = {}
    for item in items:
        spelled = variants.setdefault(item.norm, {})
        spelled.setdefault(item.exact, len(spelled))
    listed: list[dict[str, Any]] = []
    script: dict[str, dict[str, Any]] = {}
    for item in items:
        message_id = f"m{message_of[item.message]}"
        entry: dict[str, Any] = {
            "at": duration_text((item.at - t0) // MS * MS),
            "contact": contact_of[item.contact],
            "id": message_id,
            "text": placeholder(norm_of.get(item.norm, 0), variants[item.norm][item.exact]),
        }
        if item.type != "text":
            entry["type"] = item.type
        entry["topic"] = f"t{topic_of[item.topic]}" if item.topic >= 0 else ""
        if item.repeat_kind in ("resend", "legit"):
            entry["repeat_kind"] = item.repeat_kind
        if item.content >= 0:
            entry["content"] = f"c{content_of[item.content]}"
        listed.append(entry)
        pin: dict[str, Any] = {"outcome": item.outcome}
        if item.outcome != "hang":
            pin["latency"] = duration_text(item.latency // MS * MS)
        pin["reply"] = f"reply {reply_of[item.reply]}"
        script.setdefault(message_id, pin)
    last = max(item.at for item in items) - t0
    config = {k: v for k, v in case.config.items() if k not in PINNED_KEYS}
    config.update(_timed(case.timed, t0))
    nested = _nested(config)
    nested.setdefault("environment", {}).setdefault("agent", {})["script"] = script
    # the scenario's environment block, or a whole config mapping when other sections differ
    environment = nested["environment"] if list(nested) == ["environment"] else nested
    return {
        "name": name,
        "description": description,
        "duration": duration_text((last // SECOND + 1) * SECOND),
        "contacts": max(numbers),
        "traffic": [{"messages": listed}],
        "environment": environment,
    }


def _timed(timed: Sequence[Timed], t0: int) -> dict[str, Any]:
    """Restarts and outages shifted to the case's first message; those over before it go."""
    restarts: list[dict[str, Any]] = []
    outages: list[dict[str, Any]] = []
    for entry in timed:
        start, end = max(0, entry.start - t0), entry.end - t0
        if end <= 0:
            continue
        if entry.kind == "restart":
            restarts.append({"at": duration_text(start), "downtime": duration_text(end - start)})
        else:
            outages.append(
                {
                    "from": duration_text(start),
                    "to": duration_text(end),
                    "failure_rate": entry.failure_rate,
                }
            )
    found: dict[str, Any] = {}
    if any(e.kind == "restart" for e in timed):
        found["environment.restarts"] = restarts
    if any(e.kind == "outage" for e in timed):
        found["environment.sender.outages"] = outages
    return found
