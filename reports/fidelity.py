"""Per-message comparisons beyond divergences: models against production, replies per contact.

Guarantees:

1. ``fidelity_rows`` compares each simulated arm with ``recorded`` (what production did) on the
   same seqs; empty when the run has no ``recorded`` arm.
2. ``extra_reply_rows`` lists contacts where ``unified`` delivered more replies than ``legacy``
   (U10: no batching), most extra first, then by shown contact; capped at ``limit`` rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reports.data import RunData, share


def fidelity_rows(data: RunData) -> list[dict[str, Any]]:
    """Each simulated arm against ``recorded`` (what production did), message by message."""
    if "recorded" not in data.arms:
        return []
    frame = data.outcomes
    recorded = frame[frame["arm"] == "recorded"].set_index("seq")
    rec_answered = (recorded["fate"] == "answered").to_numpy()
    rec_replies = recorded["reply_count"].fillna(0).to_numpy(dtype=np.int64)
    rec_latency = recorded["reply_latency"].to_numpy(dtype=float)
    rows = []
    for arm in data.arms:
        if arm == "recorded":
            continue
        model = frame[frame["arm"] == arm].set_index("seq").reindex(recorded.index)
        answered = (model["fate"] == "answered").to_numpy()
        replies = model["reply_count"].fillna(0).to_numpy(dtype=np.int64)
        latency = model["reply_latency"].to_numpy(dtype=float)
        both = answered & rec_answered
        size = len(recorded)
        rows.append(
            {
                "arm": arm,
                "agree": share(int((answered == rec_answered).sum()), size),
                "model_only": int((answered & ~rec_answered).sum()),
                "recorded_only": int((~answered & rec_answered).sum()),
                "replies_model": int(replies.sum()),
                "replies_recorded": int(rec_replies.sum()),
                "p50_gap": _median_gap(latency[both], rec_latency[both]),
                "fallbacks": int(data.manifest.get("recorded_latency_fallbacks", {}).get(arm, 0)),
            }
        )
    return rows


def _median_gap(model: np.ndarray, recorded: np.ndarray) -> float | None:
    if model.size == 0:
        return None
    return float(np.median(model - recorded))


def extra_reply_rows(data: RunData, limit: int) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Contacts where ``unified`` delivered more replies than ``legacy`` (U10: no batching)."""
    if "legacy" not in data.arms or "unified" not in data.arms:
        return [], {}
    frame = data.outcomes[data.outcomes["arm"].isin(["legacy", "unified"])]
    replies = (
        frame.assign(replies=frame["reply_count"].fillna(0).astype("int64"))
        .pivot_table(index="contact_id", columns="arm", values="replies", aggfunc="sum")
        .fillna(0)
    )
    legacy = frame[frame["arm"] == "legacy"]
    batched = (
        legacy.assign(batched=legacy["batch_size"].fillna(0).astype("int64") > 1)
        .groupby("contact_id")["batched"]
        .sum()
    )
    replies["extra"] = replies["unified"] - replies["legacy"]
    more = replies[replies["extra"] > 0].copy()
    more["batched"] = batched.reindex(more.index).fillna(0)
    more = more.reset_index()
    more["shown"] = [data.display(str(c)) for c in more["contact_id"]]
    more = more.sort_values(["extra", "shown"], ascending=[False, True])
    top = more.head(limit)
    rows = [
        {
            "contact": str(shown),
            "legacy": int(legacy),
            "unified": int(unified),
            "extra": int(extra),
            "batched": int(batched_count),
        }
        for shown, legacy, unified, extra, batched_count in zip(
            top["shown"].tolist(),
            top["legacy"].tolist(),
            top["unified"].tolist(),
            top["extra"].tolist(),
            top["batched"].tolist(),
            strict=True,
        )
    ]
    totals = {
        "contacts": len(more),
        "extra": int(more["extra"].sum()),
        "all_contacts": len(replies),
    }
    return rows, totals
