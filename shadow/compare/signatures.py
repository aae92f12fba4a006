"""Divergence records of a pair and their signature groups: what ``divergences.jsonl`` and
``signatures.json`` hold."""

from __future__ import annotations

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
    """``signatures_summary`` built one divergence line at a time."""

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
                "seqs": [],
            }
        group["count"] += 1
        group["pairs"][pair] += 1
        group["seqs"].append(seq)

    def summary(self) -> list[dict[str, Any]]:
        summary = []
        for group in self._groups.values():
            seqs = sorted(set(group.pop("seqs")))
            group["first_seq"], group["last_seq"] = seqs[0], seqs[-1]
            group["examples"] = seqs[:5]
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
