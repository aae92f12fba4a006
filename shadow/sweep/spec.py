"""What a sweep varies and how it ranks: ``--vary`` parsing, the metric catalogue, objectives.

Guarantees:

1. ``parse_vary`` splits values on top-level commas only, so a YAML flow value such as
   ``{median: 2s, p95: 5s}`` stays one value; an empty list, an empty value or a repeated
   value raises ``UsageError`` (exit 3).
2. Every row of a sweep has exactly the columns of ``ROW_METRICS``, in that order, whatever
   the values: a column that does not apply is zero (counts) or ``nan`` (latency).
3. ``parse_objective`` accepts ``[min:|max:]METRIC[,[min:|max:]METRIC]...``; a direction
   prefix holds for the following terms until the next prefix. An unqualified per-arm metric
   means the candidate arm (``unified``), the one a sweep tunes. ``Objective.rank`` is
   lexicographic on the seed means, ties kept in the order the combinations were given;
   ``nan`` ranks last.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from shadow.common import KINDS, UsageError

BASELINE = "legacy"
CANDIDATE = "unified"
ARMS = (BASELINE, CANDIDATE)
#: The key outcome rates of docs/reference.md a sweep tabulates per arm, plus ``resends_processed``:
#: ``duplicate_processing`` restricted to ``repeat_kind`` resend or redelivery (the part of it
#: a duplicate window is meant to remove; a processed legitimate repeat is no fault).
ARM_METRICS = (
    "duplicate_processing",
    "resends_processed",
    "legit_repeats_lost",
    "replies_blocked",
    "answered_rate",
    "reply_latency_p50",
    "reply_latency_p95",
)
#: Divergence counts of the (legacy, unified) pair.
PAIR_METRICS = ("regressions", "changes", "improvements", "new_failures")
ROW_METRICS: tuple[str, ...] = (
    "messages",
    *PAIR_METRICS,
    *(f"kind.{kind}" for kind in KINDS),
    *(f"{arm}.{metric}" for arm in ARMS for metric in ARM_METRICS),
)
DEFAULT_OBJECTIVE = "min:regressions,duplicate_processing"

_WORDS = {
    "messages": "messages",
    "regressions": "regressions",
    "changes": "changes",
    "improvements": "improvements",
    "new_failures": "new failures",
    "duplicate_processing": "duplicates processed",
    "resends_processed": "resends processed",
    "legit_repeats_lost": "legitimate repeats lost",
    "replies_blocked": "replies blocked",
    "answered_rate": "answered rate",
    "reply_latency_p50": "reply latency p50",
    "reply_latency_p95": "reply latency p95",
}


def metric_words(column: str) -> str:
    """A row column in plain words: ``unified.duplicate_processing`` -> duplicates processed."""
    arm, _, metric = column.rpartition(".")
    if arm == "kind":
        return f"{metric} divergences"
    words = _WORDS.get(metric, metric)
    return f"{arm} {words}" if arm and arm != CANDIDATE else words


def is_count(column: str) -> bool:
    return not column.endswith(("_rate", "_p50", "_p95"))


def format_metric(column: str, value: float) -> str:
    """A mean as the report shows it: counts to 1 decimal, rates to 3, latencies in seconds."""
    if math.isnan(value):
        return "-"
    if column.endswith(("_p50", "_p95")):
        return f"{value:.2f}s"
    if column.endswith("_rate"):
        return f"{value:.3f}"
    return f"{value:.1f}"


def split_values(text: str) -> list[str]:
    """Split on commas outside ``{}``/``[]``/quotes (guarantee 1)."""
    parts: list[str] = []
    depth = 0
    quote = ""
    current = ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        current += char
    parts.append(current.strip())
    return parts


def parse_vary(text: str) -> tuple[str, list[str]]:
    """``KEY=V1,V2,...`` -> ``(KEY, [V1, V2, ...])`` (guarantee 1; keys are checked later)."""
    key, sep, rest = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UsageError(
            f"--vary {text!r}: expected KEY=V1,V2,... (e.g. unified.duplicate_window=3s,10s)"
        )
    if not rest.strip():
        raise UsageError(f"--vary {key}: no values given (expected {key}=V1,V2,...)")
    values = split_values(rest)
    if any(not value for value in values):
        raise UsageError(f"--vary {key}: an empty value in {rest!r}")
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise UsageError(f"--vary {key}: value {repeated[0]!r} given twice")
    return key, values


@dataclass(frozen=True)
class Objective:
    """A lexicographic ranking of combinations on seed means (guarantee 3)."""

    text: str
    terms: tuple[tuple[str, str], ...]  # (direction "min"|"max", row column)

    def describe(self) -> str:
        """``fewest regressions, then fewest duplicates processed``."""
        parts = []
        for direction, column in self.terms:
            if is_count(column):
                word = "fewest" if direction == "min" else "most"
            else:
                word = "lowest" if direction == "min" else "highest"
            parts.append(f"{word} {metric_words(column)}")
        return ", then ".join(parts)

    def key(self, means: dict[str, float]) -> tuple[tuple[int, float], ...]:
        """The sort key of one combination's means: smaller is better, ``nan`` last."""
        out = []
        for direction, column in self.terms:
            value = means[column]
            if math.isnan(value):
                out.append((1, 0.0))
            else:
                out.append((0, value if direction == "min" else -value))
        return tuple(out)

    def rank(self, means: Sequence[dict[str, float]]) -> list[int]:
        """Indices of ``means`` best first; a stable sort keeps ties in the given order."""
        return sorted(range(len(means)), key=lambda index: self.key(means[index]))


def resolve_metric(name: str) -> str:
    """A metric name of the objective as a row column (guarantee 3)."""
    if name in ROW_METRICS:
        return name
    if name in ARM_METRICS:
        return f"{CANDIDATE}.{name}"
    if name in KINDS:
        return f"kind.{name}"
    known = ", ".join([*PAIR_METRICS, *ARM_METRICS, *(f"{BASELINE}.{m}" for m in ARM_METRICS)])
    raise UsageError(f"--objective: unknown metric {name!r} (known: {known}, or kind.KIND)")


def parse_objective(text: str | None) -> Objective:
    """``min:regressions,duplicate_processing`` and the like (guarantee 3)."""
    source = (text or DEFAULT_OBJECTIVE).strip()
    direction = "min"
    terms: list[tuple[str, str]] = []
    for raw in source.split(","):
        item = raw.strip()
        prefix, sep, name = item.partition(":")
        if sep:
            if prefix.strip() not in ("min", "max"):
                raise UsageError(f"--objective: {prefix.strip()!r} is not min or max in {source!r}")
            direction = prefix.strip()
            item = name.strip()
        if not item:
            raise UsageError(f"--objective {source!r}: an empty term (expected min:METRIC,...)")
        terms.append((direction, resolve_metric(item)))
    return Objective(source, tuple(terms))


__all__ = [
    "ARM_METRICS",
    "DEFAULT_OBJECTIVE",
    "ROW_METRICS",
    "Objective",
    "format_metric",
    "metric_words",
    "parse_objective",
    "parse_vary",
]
