"""Outcomes of two arms -> divergences, severities, attributions and signatures.

Like GitHub Scientist's result objects: outcomes are immutable frames, a comparison yields one
record per diverging seq, and a failure while comparing a seq is recorded on that seq as a
``harness_error`` (a regression the gate fails on), never raised through the run and never
counted as a match.

Guarantees:

1. Every stream seq has exactly one outcome row per arm (``outcome_frame``).
2. A divergence lists every kind that applies (docs/reference.md), the pair's severity is the worst
   of its kinds, and its signature depends only on the arm families, the sorted kinds and the
   causes on each side: the same cause keeps its signature across stages, runs and captures.
3. Divergences are ordered by pair (in the order given), then by seq.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from shadow.common import KINDS, SEVERITIES
from shadow.compare.frame import MEANT, REPEATS

_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
REPLY_WINDOW_RULES = frozenset({"response_manager.duplicate_window", "unified.response_window"})


@dataclass(frozen=True, slots=True)
class CompareSettings:
    latency_abs: float = 2.0  # seconds
    latency_rel: float = 0.5
    repeat_horizon: int = 60_000_000  # µs
    severity: Mapping[str, str | Mapping[str, str]] | None = None


def family(arm: str) -> str:
    """An arm's family: the name without ``@P`` or ``~N``."""
    return arm.split("@")[0].split("~")[0]


def signature(
    baseline: str, candidate: str, kinds: Sequence[str], base_cause: str, cand_cause: str
) -> str:
    """First 12 hex digits of sha256 of the canonical JSON of the divergence's identity."""
    canonical = json.dumps(
        [family(baseline), family(candidate), sorted(kinds), base_cause, cand_cause],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def _kind_masks(
    b: pd.DataFrame, c: pd.DataFrame, settings: CompareSettings
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """For each kind: (applies, default severity code) as arrays over the frames' rows."""
    n = len(b)
    b_ans = (b["fate"] == "answered").to_numpy(dtype=bool, na_value=False)
    c_ans = (c["fate"] == "answered").to_numpy(dtype=bool, na_value=False)
    c_sup = (c["fate"] == "duplicate_suppressed").to_numpy(dtype=bool, na_value=False)
    b_sup = (b["fate"] == "duplicate_suppressed").to_numpy(dtype=bool, na_value=False)
    kind = b["repeat_kind"].fillna("")
    is_repeat = kind.isin(REPEATS).to_numpy(dtype=bool)
    is_meant = kind.isin(MEANT).to_numpy(dtype=bool)
    b_pc = b["processing_count"].fillna(0).to_numpy(dtype=np.int64)
    c_pc = c["processing_count"].fillna(0).to_numpy(dtype=np.int64)
    b_rc = b["reply_count"].fillna(0).to_numpy(dtype=np.int64)
    c_rc = c["reply_count"].fillna(0).to_numpy(dtype=np.int64)
    b_lat = b["reply_latency"].to_numpy(dtype=float)
    c_lat = c["reply_latency"].to_numpy(dtype=float)
    both = b_ans & c_ans
    with np.errstate(invalid="ignore"):
        gap = np.abs(c_lat - b_lat)
        notable = both & (gap > settings.latency_abs) & (gap > settings.latency_rel * b_lat)
    b_blocked = b["rule"].fillna("").isin(REPLY_WINDOW_RULES).to_numpy(dtype=bool)
    b_ov = b["order_violation"].to_numpy(dtype=bool)
    c_ov = c["order_violation"].to_numpy(dtype=bool)
    b_batch = b["batch_size"].fillna(0).to_numpy(dtype=np.int64)
    c_batch = c["batch_size"].fillna(0).to_numpy(dtype=np.int64)
    b_text = b["reply_text_hash"].fillna("").array
    c_text = c["reply_text_hash"].fillna("").array
    text_changed = np.asarray(b_text != c_text, dtype=bool)
    reg, chg, imp = _RANK["regression"], _RANK["change"], _RANK["improvement"]
    full = np.full
    return {
        "lost_reply": (b_ans & ~c_ans & ~c_sup, full(n, reg)),
        # a message the user meant, dropped as a copy of another: lost whatever the baseline did
        "lost_message": (c_sup & ~b_sup & is_meant, full(n, reg)),
        "suppressed_as_duplicate": (
            b_ans & c_sup,
            np.where(is_meant, reg, np.where(is_repeat, imp, chg)),
        ),
        "recovered_reply": (
            c_ans & ~b_ans,
            np.where(is_repeat & (b_sup | b_blocked), reg, imp),
        ),
        "processing_removed": (
            (b_pc > 0) & (c_pc == 0) & (b_ans == c_ans),
            np.where(is_repeat, imp, chg),
        ),
        "processing_added": (
            (b_pc == 0) & (c_pc > 0) & (b_ans == c_ans),
            np.where(is_repeat, reg, chg),
        ),
        "extra_replies": (both & (c_rc > b_rc), full(n, reg)),
        "fewer_replies": (both & (c_rc < b_rc), full(n, chg)),
        "slower": (notable & (c_lat > b_lat), full(n, reg)),
        "faster": (notable & (c_lat < b_lat), full(n, imp)),
        "order_broken": (~b_ov & c_ov, full(n, reg)),
        "order_fixed": (b_ov & ~c_ov, full(n, imp)),
        "batching_changed": ((b_pc > 0) & (c_pc > 0) & (b_batch != c_batch), full(n, chg)),
        "reply_text_changed": (both & text_changed, full(n, chg)),
    }


def _override(
    kind: str, default: np.ndarray, repeat_kind: pd.Series, settings: CompareSettings
) -> np.ndarray:
    """Apply ``compare.severity.<kind>``: one severity, or a map keyed by ``repeat_kind``."""
    rule = (settings.severity or {}).get(kind)
    if rule is None:
        return default
    if isinstance(rule, str):
        return np.full(len(default), _RANK[rule])
    result = default.copy()
    for label, severity in rule.items():
        result[(repeat_kind == label).to_numpy(dtype=bool)] = _RANK[severity]
    return result


@dataclass(frozen=True, slots=True)
class PairDivergences:
    """The divergences of one (baseline, candidate) pair as columns over the diverging seqs."""

    baseline: str
    candidate: str
    seqs: np.ndarray
    kinds: list[list[str]]
    severities: list[dict[str, str]]  # each kind's own severity
    severity: list[str]  # the worst of them
    signature: list[str]
    effect: list[str | None]


def compare_pair(
    b: pd.DataFrame,
    c: pd.DataFrame,
    settings: CompareSettings,
    extra: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
    effect: np.ndarray | None = None,
) -> PairDivergences:
    """Compare two arms' outcome frames (aligned on seq). ``extra`` adds kinds (handover)."""
    baseline, candidate = str(b["arm"].iloc[0]), str(c["arm"].iloc[0])
    try:
        applies, severities = _evaluate(b, c, settings, extra)
        errors = np.zeros(len(b), dtype=bool)
    except Exception:
        applies, severities, errors = _evaluate_rows(b, c, settings, extra)
    any_kind = errors.copy()
    for mask in applies.values():
        any_kind |= mask
    rows = np.flatnonzero(any_kind)
    # every distinct combination of kinds, severities and causes is worked out once
    named = [k for k in KINDS if k in applies]
    b_cause, b_causes = pd.factorize(b["cause"].take(rows).fillna("").to_numpy(dtype=object))
    c_cause, c_causes = pd.factorize(c["cause"].take(rows).fillna("").to_numpy(dtype=object))
    columns = [errors[rows].astype(np.int64), b_cause, c_cause]
    for kind in named:
        applied = applies[kind][rows]
        columns.append(np.where(applied, np.asarray(severities[kind])[rows], -1))
    keys = np.column_stack(columns) if len(rows) else np.zeros((0, len(columns)), np.int64)
    combos, which = _distinct_rows(keys)
    worked: list[tuple[list[str], dict[str, str], str, str]] = []
    for combo in combos.tolist():
        error, base_code, cand_code, *ranks_of = combo
        if error:
            ranks = {"harness_error": _RANK["regression"]}
        else:
            ranks = {k: r for k, r in zip(named, ranks_of, strict=True) if r >= 0}
        kinds = list(ranks)
        worst = SEVERITIES[min(ranks.values())]
        per_kind = {k: SEVERITIES[r] for k, r in ranks.items()}
        causes = str(b_causes[base_code]), str(c_causes[cand_code])
        worked.append((kinds, per_kind, worst, signature(baseline, candidate, kinds, *causes)))
    found = [worked[index] for index in np.asarray(which).reshape(-1).tolist()]
    effects: list[str | None] = (
        [("direct" if effect[row] else "indirect") for row in rows]
        if effect is not None
        else [None] * len(rows)
    )
    return PairDivergences(
        baseline,
        candidate,
        rows,
        [list(f[0]) for f in found],
        [dict(f[1]) for f in found],
        [f[2] for f in found],
        [f[3] for f in found],
        effects,
    )


def _distinct_rows(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(keys, axis=0, return_inverse=True)``: the rows are small integers, read as
    the digits of one number when it fits in 62 bits (a 1-d unique is an order of magnitude
    faster than sorting rows)."""
    low = keys.min(axis=0, initial=0)
    radix = keys.max(axis=0, initial=0) - low + 1
    if float(np.prod(radix.astype(np.float64))) >= 2.0**62:
        return np.unique(keys, axis=0, return_inverse=True)
    weights = np.concatenate([np.cumprod(radix[::-1])[::-1][1:], [1]]).astype(np.int64)
    _, first, which = np.unique((keys - low) @ weights, return_index=True, return_inverse=True)
    return keys[first], which


def _evaluate(
    b: pd.DataFrame,
    c: pd.DataFrame,
    settings: CompareSettings,
    extra: Mapping[str, tuple[np.ndarray, np.ndarray]] | None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    masks = dict(_kind_masks(b, c, settings))
    if extra:
        masks.update(extra)
    repeat_kind = b["repeat_kind"].fillna("")
    applies = {kind: np.asarray(m, dtype=bool) for kind, (m, _) in masks.items()}
    severities = {
        kind: _override(kind, np.asarray(s), repeat_kind, settings)
        for kind, (_, s) in masks.items()
    }
    return applies, severities


def _evaluate_rows(
    b: pd.DataFrame,
    c: pd.DataFrame,
    settings: CompareSettings,
    extra: Mapping[str, tuple[np.ndarray, np.ndarray]] | None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
    """The same rules one seq at a time, so one bad row becomes one ``harness_error``."""
    n = len(b)
    applies = {kind: np.zeros(n, dtype=bool) for kind in KINDS}
    severities = {kind: np.zeros(n, dtype=np.int64) for kind in KINDS}
    errors = np.zeros(n, dtype=bool)
    for row in range(n):
        row_extra = (
            {k: (m[row : row + 1], s[row : row + 1]) for k, (m, s) in extra.items()}
            if extra
            else None
        )
        try:
            a, s = _evaluate(b.iloc[row : row + 1], c.iloc[row : row + 1], settings, row_extra)
        except Exception:
            errors[row] = True
            continue
        for kind in a:
            applies[kind][row] = a[kind][0]
            severities[kind][row] = s[kind][0]
    return applies, severities, errors
