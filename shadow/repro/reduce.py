"""Shrinking a case while it still shows the divergence: by contact, by message (ddmin),
then times, pinned latencies, outcomes and equalities simplified.

Guarantees:

1. Deterministic: candidates are tried in a fixed order and the same case, oracle and budget
   give the same result.
2. Every case returned was checked by the oracle (the first one excepted, which the caller
   checked); at most ``budget.limit`` oracle runs in all, repeated cases answered from memory.
   When the budget runs out the smallest case found so far is returned.
3. Simplifying never reorders messages: a message's time stays at or after the one before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

from shadow.repro.case import MS, SECOND, Case, Item

T = TypeVar("T")
#: Round values a gap or a latency is tried at, roundest first.
ROUNDINGS = (60 * SECOND, 10 * SECOND, 5 * SECOND, SECOND, 500 * MS, 100 * MS)


@dataclass
class Budget:
    """How many oracle runs are left; ``note`` hears each run."""

    limit: int
    used: int = 0
    note: Callable[[str], None] = field(default=lambda _text: None)

    @property
    def spent(self) -> bool:
        return self.used >= self.limit


class Reducer:
    """Keeps the oracle's answers by case content and counts the runs (guarantee 2)."""

    def __init__(
        self, key: Callable[[Case], str], holds: Callable[[Case, str], bool], budget: Budget
    ) -> None:
        self._key = key
        self._holds = holds
        self.budget = budget
        self.phase = ""
        self._known: dict[str, bool] = {}

    def test(self, case: Case) -> bool:
        """Whether ``case`` still shows the divergence; ``False`` once the budget is spent."""
        if not case.items:
            return False
        key = self._key(case)
        if key in self._known:
            return self._known[key]
        if self.budget.spent:
            return False
        self.budget.used += 1
        answer = self._holds(case, key)
        self._known[key] = answer
        self.budget.note(
            f"run {self.budget.used}/{self.budget.limit} ({self.phase}): "
            f"{len(case.items)} messages, {len(case.contacts)} contacts: "
            + ("reproduces" if answer else "does not reproduce")
        )
        return answer


def ddmin(units: Sequence[T], holds: Callable[[Sequence[T]], bool]) -> list[T]:
    """Zeller's ddmin: a 1-minimal sublist of ``units`` (order kept) for which ``holds``."""
    current = list(units)
    n = 2
    while len(current) >= 2:
        size = len(current)
        bounds = [size * i // n for i in range(n + 1)]
        chunks = [current[bounds[i] : bounds[i + 1]] for i in range(n)]
        chunks = [c for c in chunks if c]
        reduced = False
        for chunk in chunks:
            if holds(chunk):
                current, n, reduced = chunk, 2, True
                break
        if not reduced and n > 2:
            for index in range(len(chunks)):
                rest = [u for i, c in enumerate(chunks) if i != index for u in c]
                if holds(rest):
                    current, n, reduced = rest, max(n - 1, 2), True
                    break
        if not reduced:
            if n >= size:
                break
            n = min(size, 2 * n)
    return current


def by_contact(case: Case, reducer: Reducer, first: Sequence[int]) -> Case:
    """Each contact in ``first`` alone, in order; else ddmin over every contact (when the
    whole case holds)."""
    reducer.phase = "one contact"
    for contact in first:
        alone = case.keep(item for item in case.items if item.contact == contact)
        if reducer.test(alone):
            return alone
    reducer.phase = "every contact"
    if not reducer.test(case):
        return case  # the caller reports that it does not reproduce
    reducer.phase = "contacts (ddmin)"

    def holds(contacts: Sequence[int]) -> bool:
        wanted = set(contacts)
        return reducer.test(case.keep(i for i in case.items if i.contact in wanted))

    kept = set(ddmin(case.contacts, holds))
    return case.keep(item for item in case.items if item.contact in kept)


def by_message(case: Case, reducer: Reducer) -> Case:
    reducer.phase = "messages (ddmin)"
    return case.keep(ddmin(case.items, lambda items: reducer.test(case.keep(items))))


def _try(case: Case, reducer: Reducer, candidates: Sequence[Case]) -> Case:
    for candidate in candidates:
        if candidate != case and reducer.test(candidate):
            return candidate
    return case


def _rounded(value: int) -> list[int]:
    """Round values near ``value``, roundest first (nearest, then toward zero)."""
    found: list[int] = []
    for step in ROUNDINGS:
        for option in (round(value / step) * step, value // step * step):
            if option >= 0 and option != value and option not in found:
                found.append(option)
    return found


def simplify(case: Case, reducer: Reducer) -> Case:
    """Outcomes to ``ok``, equalities broken, gaps rounded, restarts and outages dropped or
    moved to round times, latencies rounded (guarantee 3)."""
    reducer.phase = "simplify outcomes"
    for index in range(len(case.items)):
        if case.items[index].outcome != "ok":
            case = _try(case, reducer, [_with(case, index, outcome="ok")])
    reducer.phase = "simplify equalities"
    for name in ("reply", "topic", "message", "exact", "norm"):
        for index in range(len(case.items)):
            item = case.items[index]
            value = getattr(item, name)
            if value < 0 or all(getattr(o, name) != value for o in case.items[:index]):
                continue  # first of its class, or no class
            changes: dict[str, object] = {name: 10_000_000 + index}
            if name == "norm":
                changes["exact"] = 10_000_000 + index
            candidate = _with(case, index, **changes)
            case = _try(case, reducer, [candidate])
    reducer.phase = "simplify times"
    for index in range(1, len(case.items)):
        gap = case.items[index].at - case.items[index - 1].at
        candidates = [_shifted(case, index, option - gap) for option in _rounded(gap)]
        case = _try(case, reducer, candidates)
    reducer.phase = "simplify restarts and outages"
    index = 0
    while index < len(case.timed):
        without = replace(case, timed=case.timed[:index] + case.timed[index + 1 :])
        if reducer.test(without):
            case = without
            continue
        entry = case.timed[index]
        start = entry.start - case.items[0].at
        moved = [
            replace(entry, start=entry.start + v - start, end=entry.end + v - start)
            for v in _rounded(start)
        ]
        timed = [(*case.timed[:index], m, *case.timed[index + 1 :]) for m in moved]
        case = _try(case, reducer, [replace(case, timed=t) for t in timed])
        index += 1
    reducer.phase = "simplify latencies"
    for index in range(len(case.items)):
        item = case.items[index]
        if item.outcome == "hang":
            continue
        options = _rounded(item.latency)
        case = _try(case, reducer, [_with(case, index, latency=v) for v in options])
    return case


def _with(case: Case, index: int, **changes: object) -> Case:
    items = list(case.items)
    items[index] = replace(items[index], **changes)  # type: ignore[arg-type]
    return case.keep(items)


def _shifted(case: Case, index: int, delta: int) -> Case:
    """Message ``index`` and every later one moved by ``delta`` µs (gaps after it kept)."""
    items: list[Item] = list(case.items[:index])
    items.extend(replace(item, at=item.at + delta) for item in case.items[index:])
    return case.keep(items)
