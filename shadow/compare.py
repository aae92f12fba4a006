"""Outcomes of two arms -> divergences, severities, attributions and signatures.

Like GitHub Scientist's result objects: outcomes are immutable frames, a comparison yields one
record per diverging seq, and a failure while comparing a seq is recorded on that seq as a
``harness_error`` (a regression the gate fails on), never raised through the run and never
counted as a match.

Guarantees:

1. Every stream seq has exactly one outcome row per arm (``outcome_frame``).
2. A divergence lists every kind that applies (contracts.md), the pair's severity is the worst
   of its kinds, and its signature depends only on the arm families, the sorted kinds and the
   causes on each side: the same cause keeps its signature across stages, runs and captures.
3. Divergences are ordered by pair (in the order given), then by seq.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shadow.divergence_kinds import KINDS, SEVERITIES
from shadow.kernel import FATES, LAYERS
from shadow.runner import ArmResult

_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
REPLY_WINDOW_RULES = frozenset({"response_manager.duplicate_window", "unified.response_window"})
REPEATS = ("resend", "redelivery")
OUTCOME_COLUMNS = (
    "arm",
    "seq",
    "contact_id",
    "fate",
    "rule",
    "cause",
    "processing_count",
    "reply_count",
    "first_reply_at",
    "reply_latency",
    "batch_size",
    "reply_text_hash",
    "order_violation",
    "wait_orchestrator",
    "wait_coordinator",
    "wait_response_manager",
    "system",
    "repeat_of",
    "repeat_kind",
)


@dataclass(frozen=True, slots=True)
class CompareSettings:
    latency_abs: float = 2.0  # seconds
    latency_rel: float = 0.5
    repeat_horizon: int = 60_000_000  # µs
    severity: Mapping[str, str | Mapping[str, str]] | None = None


def stream_facts(
    contact_id: Sequence[str],
    message_id: Sequence[str],
    text_hash: Sequence[str],
    received_at: Sequence[int],
    labels: Sequence[str],
    repeat_horizon: int,
) -> tuple[list[int | None], list[str | None]]:
    """``repeat_of`` and ``repeat_kind`` of every seq (contracts.md, the outcome record)."""
    last_by_id: dict[tuple[str, str], int] = {}
    last_by_text: dict[tuple[str, str], int] = {}
    repeat_of: list[int | None] = []
    repeat_kind: list[str | None] = []
    for seq, contact in enumerate(contact_id):
        id_key = (contact, message_id[seq])
        text_key = (contact, text_hash[seq])
        earlier = last_by_id.get(id_key)
        if earlier is not None:
            repeat_of.append(earlier)
            repeat_kind.append("redelivery")
        else:
            earlier = last_by_text.get(text_key)
            if earlier is not None and received_at[seq] - received_at[earlier] < repeat_horizon:
                repeat_of.append(earlier)
                repeat_kind.append(labels[seq] if labels[seq] in ("resend", "legit") else "unknown")
            else:
                repeat_of.append(None)
                repeat_kind.append(None)
        last_by_id[id_key] = seq
        last_by_text[text_key] = seq
    return repeat_of, repeat_kind


def order_violations(contact_id: Sequence[str], first_reply_at: np.ndarray) -> np.ndarray:
    """True where a seq's first reply came after the first reply to a later seq of its contact."""
    frame = pd.DataFrame(
        {
            "contact": np.asarray(contact_id, dtype=object),
            "reply": np.where(first_reply_at < 0, np.inf, first_reply_at.astype(float)),
        }
    )
    backwards = frame.iloc[::-1]
    contacts = backwards["contact"]
    # min over *later* seqs of the contact: a reversed running min, shifted by one in-group
    running_min = backwards.groupby(contacts, sort=False)["reply"].cummin()
    later_min = running_min.groupby(contacts, sort=False).shift(1).fillna(np.inf).iloc[::-1]
    answered = first_reply_at >= 0
    return np.asarray(answered & (frame["reply"].to_numpy() > later_min.to_numpy()))


def outcome_frame(
    result: ArmResult,
    contact_id: Sequence[str],
    received_at: np.ndarray,
    repeat_of: Sequence[int | None],
    repeat_kind: Sequence[str | None],
) -> pd.DataFrame:
    """The outcome records of one arm: one row per seq (guarantee 1); times in seconds."""
    size = len(received_at)
    first = np.asarray(result.first_reply_at, dtype=np.int64)
    answered = first >= 0
    seconds = 1e-6

    def optional_seconds(values: np.ndarray) -> pd.Series:
        array = np.asarray(values, dtype=np.int64)
        return pd.Series(np.where(array >= 0, array * seconds, np.nan), dtype="float64")

    batch = np.asarray(result.batch_size, dtype=np.int64)
    fate_names = np.asarray(FATES, dtype=object)[np.asarray(result.fate, dtype=np.int64)]
    frame = pd.DataFrame(
        {
            "arm": pd.Series([result.name] * size, dtype="string"),
            "seq": np.arange(size, dtype=np.int64),
            "contact_id": pd.Series(contact_id, dtype="string"),
            "fate": pd.Series(fate_names, dtype="string"),
            "rule": pd.Series(result.rule, dtype="string"),
            "cause": pd.Series(result.cause, dtype="string"),
            "processing_count": pd.array(result.processing_count, dtype="Int64"),
            "reply_count": pd.array(result.reply_count, dtype="Int64"),
            "first_reply_at": optional_seconds(result.first_reply_at),
            "reply_latency": pd.Series(
                np.where(answered, (first - received_at) * seconds, np.nan), dtype="float64"
            ),
            "batch_size": pd.arrays.IntegerArray(batch, mask=batch <= 0),
            "reply_text_hash": pd.Series(list(result.reply_text_hash), dtype="string"),
            "order_violation": order_violations(contact_id, first),
            **{
                f"wait_{layer}": optional_seconds(result.waits[index])
                for index, layer in enumerate(LAYERS)
            },
            "system": pd.Series(result.system, dtype="string"),
            "repeat_of": pd.array(repeat_of, dtype="Int64"),
            "repeat_kind": pd.Series(list(repeat_kind), dtype="string"),
        }
    )
    return frame


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
    kind = b["repeat_kind"].fillna("").to_numpy(dtype=object)
    is_repeat = np.isin(kind, REPEATS)
    is_legit = kind == "legit"
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
    b_text = b["reply_text_hash"].fillna("").to_numpy(dtype=object)
    c_text = c["reply_text_hash"].fillna("").to_numpy(dtype=object)
    reg, chg, imp = _RANK["regression"], _RANK["change"], _RANK["improvement"]
    full = np.full
    return {
        "lost_reply": (b_ans & ~c_ans & ~c_sup, full(n, reg)),
        "suppressed_as_duplicate": (
            b_ans & c_sup,
            np.where(is_legit, reg, np.where(is_repeat, imp, chg)),
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
        "reply_text_changed": (both & (b_text != c_text), full(n, chg)),
    }


def _override(
    kind: str, default: np.ndarray, repeat_kind: np.ndarray, settings: CompareSettings
) -> np.ndarray:
    """Apply ``compare.severity.<kind>``: one severity, or a map keyed by ``repeat_kind``."""
    rule = (settings.severity or {}).get(kind)
    if rule is None:
        return default
    if isinstance(rule, str):
        return np.full(len(default), _RANK[rule])
    result = default.copy()
    for label, severity in rule.items():
        result[repeat_kind == label] = _RANK[severity]
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
    kinds_out: list[list[str]] = []
    per_kind: list[dict[str, str]] = []
    severity_out: list[str] = []
    signatures: list[str] = []
    b_cause = b["cause"].fillna("").to_numpy(dtype=object)
    c_cause = c["cause"].fillna("").to_numpy(dtype=object)
    for row in rows:
        if errors[row]:
            kinds = ["harness_error"]
            ranks = {"harness_error": _RANK["regression"]}
        else:
            kinds = [k for k in KINDS if k in applies and applies[k][row]]
            ranks = {k: int(severities[k][row]) for k in kinds}
        worst = min(ranks.values())
        kinds_out.append(kinds)
        per_kind.append({k: SEVERITIES[r] for k, r in ranks.items()})
        severity_out.append(SEVERITIES[worst])
        signatures.append(
            signature(baseline, candidate, kinds, str(b_cause[row]), str(c_cause[row]))
        )
    effects: list[str | None] = (
        [("direct" if effect[row] else "indirect") for row in rows]
        if effect is not None
        else [None] * len(rows)
    )
    return PairDivergences(
        baseline, candidate, rows, kinds_out, per_kind, severity_out, signatures, effects
    )


def _evaluate(
    b: pd.DataFrame,
    c: pd.DataFrame,
    settings: CompareSettings,
    extra: Mapping[str, tuple[np.ndarray, np.ndarray]] | None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    masks = dict(_kind_masks(b, c, settings))
    if extra:
        masks.update(extra)
    repeat_kind = b["repeat_kind"].fillna("").to_numpy(dtype=object)
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


def divergence_records(
    pair: PairDivergences,
    b: pd.DataFrame,
    c: pd.DataFrame,
    records: Callable[[pd.DataFrame, Any], list[dict[str, Any]]],
) -> list[dict[str, Any]]:
    """The JSON-ready lines of ``divergences.jsonl`` for one pair."""
    lines: list[dict[str, Any]] = []
    b_out = records(b, pair.seqs)
    c_out = records(c, pair.seqs)
    for index, seq in enumerate(pair.seqs):
        line: dict[str, Any] = {
            "baseline": pair.baseline,
            "candidate": pair.candidate,
            "seq": int(seq),
            "kinds": pair.kinds[index],
            "severities": pair.severities[index],
            "severity": pair.severity[index],
            "signature": pair.signature[index],
            "attribution": {
                "baseline": {"rule": b_out[index]["rule"], "cause": b_out[index]["cause"]},
                "candidate": {"rule": c_out[index]["rule"], "cause": c_out[index]["cause"]},
            },
            "outcomes": {"baseline": b_out[index], "candidate": c_out[index]},
        }
        if pair.effect[index] is not None:
            line["effect"] = pair.effect[index]
        lines.append(line)
    return lines


def signatures_summary(lines: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Divergences grouped by signature: count, first and last seq, the 5 lowest seqs."""
    groups: dict[str, dict[str, Any]] = {}
    for line in lines:
        sig = line["signature"]
        group = groups.get(sig)
        if group is None:
            attribution = line["attribution"]
            group = groups[sig] = {
                "signature": sig,
                "baseline_family": family(line["baseline"]),
                "candidate_family": family(line["candidate"]),
                "kinds": line["kinds"],
                "severity": line["severity"],
                "baseline_cause": attribution["baseline"]["cause"],
                "candidate_cause": attribution["candidate"]["cause"],
                "pairs": {},
                "count": 0,
                "seqs": [],
            }
        group["count"] += 1
        pair = f"{line['baseline']} vs {line['candidate']}"
        group["pairs"][pair] = group["pairs"].get(pair, 0) + 1
        group["seqs"].append(line["seq"])
    summary = []
    for group in groups.values():
        seqs = sorted(set(group.pop("seqs")))
        group["first_seq"], group["last_seq"] = seqs[0], seqs[-1]
        group["examples"] = seqs[:5]
        summary.append(group)
    summary.sort(key=lambda g: (_RANK[g["severity"]], -g["count"], g["signature"]))
    return summary
