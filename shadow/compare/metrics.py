"""The metrics of docs/reference.md over outcome frames: for policies, expect blocks, sweeps,
reports.

Guarantees: every metric is a pure function of the outcome frame(s) it is given; rates are
shares of the frame's rows; latency percentiles use linear interpolation over answered
messages and are ``nan`` when none is answered.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from shadow.kernel import FATES

REPLY_WINDOWS = ("response_manager.duplicate_window", "unified.response_window")


def duplicate_processing(frame: pd.DataFrame) -> int:
    """Messages with ``repeat_of`` set, processed, whose ``repeat_of`` was also processed."""
    processed = frame["processing_count"].fillna(0).to_numpy() > 0
    repeat_of = frame["repeat_of"]
    has = repeat_of.notna().to_numpy()
    origin = repeat_of.fillna(0).astype("int64").to_numpy()
    by_seq = dict(zip(frame["seq"].to_numpy(), processed, strict=True))
    origin_processed = np.array([bool(by_seq.get(int(o), False)) for o in origin], dtype=bool)
    return int(np.sum(has & processed & origin_processed))


def percentile(values: np.ndarray, q: float) -> float:
    values = values[~np.isnan(values)]
    return float(np.percentile(values, q)) if len(values) else math.nan


def arm_metrics(frame: pd.DataFrame, lock_disagreement_s: float = 0.0) -> dict[str, float]:
    """The single-arm metrics of docs/reference.md for one arm's outcome frame."""
    total = max(len(frame), 1)
    fates = frame["fate"].value_counts()
    answered = frame["fate"] == "answered"
    latency = frame.loc[answered, "reply_latency"].to_numpy(dtype=float)
    legit = frame["repeat_kind"] == "repeat_after_reply"
    metrics: dict[str, float] = {
        "messages": float(len(frame)),
        "answered_rate": float(answered.sum()) / total,
        "duplicate_processing": float(duplicate_processing(frame)),
        "legit_repeats_lost": float((legit.fillna(False) & ~answered).sum()),
        "replies_blocked": float(frame["rule"].isin(REPLY_WINDOWS).sum()),
        "reply_latency_p50": percentile(latency, 50),
        "reply_latency_p95": percentile(latency, 95),
        "lock_disagreement_s": float(lock_disagreement_s),
        "replies_sent": float(frame["reply_count"].fillna(0).sum()),
        "agent_calls": float(frame["processing_count"].fillna(0).sum()),
    }
    for fate in FATES:
        metrics[f"fate_rate.{fate}"] = float(fates.get(fate, 0)) / total
    return metrics
