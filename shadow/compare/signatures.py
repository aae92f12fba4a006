"""Divergence records of a pair and their signature groups: what ``divergences.jsonl`` and
``signatures.json`` hold."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import pandas as pd

from shadow.compare.pairs import _RANK, PairDivergences, family


def divergence_records(
    pair: PairDivergences,
    b: pd.DataFrame,
    c: pd.DataFrame,
    records: Callable[[pd.DataFrame, Any], list[dict[str, Any]]],
) -> list[dict[str, Any]]:
    """The JSON-ready lines of ``divergences.jsonl`` for one pair."""
    return [line for chunk in divergence_chunks(pair, b, c, records) for line in chunk]


def divergence_chunks(
    pair: PairDivergences,
    b: pd.DataFrame,
    c: pd.DataFrame,
    records: Callable[[pd.DataFrame, Any], list[dict[str, Any]]],
    size: int = 8192,
) -> Iterator[list[dict[str, Any]]]:
    """``divergence_records`` a few thousand lines at a time, in order."""
    for start in range(0, len(pair.seqs), size):
        rows = pair.seqs[start : start + size]
        b_out = records(b, rows)
        c_out = records(c, rows)
        lines: list[dict[str, Any]] = []
        for offset, seq in enumerate(rows.tolist()):
            index = start + offset
            base, cand = b_out[offset], c_out[offset]
            line: dict[str, Any] = {
                "baseline": pair.baseline,
                "candidate": pair.candidate,
                "seq": int(seq),
                "kinds": pair.kinds[index],
                "severities": pair.severities[index],
                "severity": pair.severity[index],
                "signature": pair.signature[index],
                "attribution": {
                    "baseline": {"rule": base["rule"], "cause": base["cause"]},
                    "candidate": {"rule": cand["rule"], "cause": cand["cause"]},
                },
                "outcomes": {"baseline": base, "candidate": cand},
            }
            if pair.effect[index] is not None:
                line["effect"] = pair.effect[index]
            lines.append(line)
        yield lines


def signatures_summary(lines: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Divergences grouped by signature and arm pair: count, first and last seq, the 5 lowest
    seqs. A signature id stays the same across pairs and stages (waivers name it), but every
    group belongs to one pair (``baseline``, ``candidate``): its count and examples are that
    pair's, so every example diverges in the pair the group names."""
    groups = SignatureGroups()
    for line in lines:
        groups.add(line)
    return groups.summary()


class SignatureGroups:
    """``signatures_summary`` built one divergence line at a time, holding per signature only
    what the summary shows (its lowest seqs and its highest), not every seq."""

    def __init__(self) -> None:
        self._groups: dict[tuple[str, str, str], dict[str, Any]] = {}

    def add(self, line: Mapping[str, Any]) -> None:
        attribution = line["attribution"]
        self.add_divergence(
            line["baseline"],
            line["candidate"],
            line["seq"],
            line["signature"],
            line["kinds"],
            line["severity"],
            attribution["baseline"]["cause"],
            attribution["candidate"]["cause"],
        )

    def add_divergence(
        self,
        baseline: str,
        candidate: str,
        seq: int,
        sig: str,
        kinds: list[str],
        severity: str,
        baseline_cause: str | None,
        candidate_cause: str | None,
    ) -> None:
        """``add`` from a divergence's fields."""
        key = (sig, baseline, candidate)
        pair = f"{baseline} vs {candidate}"
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = {
                "signature": sig,
                "baseline": baseline,
                "candidate": candidate,
                "baseline_family": family(baseline),
                "candidate_family": family(candidate),
                "kinds": kinds,
                "severity": severity,
                "baseline_cause": baseline_cause,
                "candidate_cause": candidate_cause,
                "pairs": {pair: 0},  # one pair: the group's own
                "count": 0,
                "lowest": [],
                "last_seq": seq,
            }
        group["count"] += 1
        group["pairs"][pair] += 1
        _keep_lowest(group["lowest"], seq)
        group["last_seq"] = max(group["last_seq"], seq)

    def absorb(self, other: SignatureGroups) -> None:
        """Add every divergence ``other`` holds, as if added here after this one's (what a
        streaming run does with its pairs' groups, in pair order)."""
        for sig, theirs in other._groups.items():
            group = self._groups.get(sig)
            if group is None:
                self._groups[sig] = {
                    **theirs,
                    "pairs": dict(theirs["pairs"]),
                    "lowest": list(theirs["lowest"]),
                }
                continue
            group["count"] += theirs["count"]
            for pair, count in theirs["pairs"].items():
                group["pairs"][pair] = group["pairs"].get(pair, 0) + count
            for seq in theirs["lowest"]:
                _keep_lowest(group["lowest"], seq)
            group["last_seq"] = max(group["last_seq"], theirs["last_seq"])

    def summary(self) -> list[dict[str, Any]]:
        summary = []
        for group in self._groups.values():
            lowest = group.pop("lowest")
            last = group.pop("last_seq")
            group["first_seq"], group["last_seq"] = lowest[0], last
            group["examples"] = lowest[:_EXAMPLES]
            summary.append(group)
        summary.sort(
            key=lambda g: (
                _RANK[g["severity"]],
                -g["count"],
                g["signature"],
                g["baseline"],
                g["candidate"],
            )
        )
        return summary


_EXAMPLES = 5


def _keep_lowest(lowest: list[int], seq: int) -> None:
    """Insert ``seq`` into the sorted distinct ``lowest`` seqs, keeping the ``_EXAMPLES``
    lowest."""
    index = bisect.bisect_left(lowest, seq)
    if index < len(lowest) and lowest[index] == seq:
        return
    if index < _EXAMPLES:
        lowest.insert(index, seq)
        del lowest[_EXAMPLES:]
