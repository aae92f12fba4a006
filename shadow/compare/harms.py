"""Absolute harms of one arm: what its users lived, whatever the other arm did.

A harm both arms share is no divergence (``pairs``), so it is counted here, per arm, from the
outcome frame alone (docs/divergences.md, "Harms"):

- ``redeliveries_answered``: a ``redelivery`` (same message id again) answered again;
- ``meant_suppressed``: a ``distinct`` message or a ``repeat_after_reply`` suppressed as a
  duplicate;
- ``never_answered``: a message never answered, except redeliveries and resends whose
  original was answered in the same arm (the user got their answer);
- ``duplicate_replies``: an answered message whose first reply repeats the reply text of the
  contact's previous answered message within ``window_s`` seconds;
- ``stranded``: messages still held when the stream ended.

Guarantees: a pure function of the frame's columns (any row order: rows are put in seq
order first); the counts are integers; the same frame gives the same counts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shadow.compare.frame import MEANT

HARMS = (
    "redeliveries_answered",
    "meant_suppressed",
    "never_answered",
    "duplicate_replies",
    "stranded",
)
#: the outcome columns the harms (and ``fidelity``) read
HARM_COLUMNS = (
    "seq",
    "contact_id",
    "fate",
    "reply_count",
    "first_reply_at",
    "reply_text_hash",
    "repeat_of",
    "repeat_kind",
)
DUPLICATE_REPLY_WINDOW_S = 60.0


def arm_harms(frame: pd.DataFrame, window_s: float = DUPLICATE_REPLY_WINDOW_S) -> dict[str, int]:
    """The counts of every harm in ``HARMS`` for one arm's outcome frame (module doc)."""
    rows = frame.sort_values("seq", kind="stable").reset_index(drop=True)
    fate = rows["fate"].astype("string").fillna("").to_numpy(dtype=object)
    kind = rows["repeat_kind"].astype("string").fillna("").to_numpy(dtype=object)
    answered = fate == "answered"
    redelivery = kind == "redelivery"
    position = pd.Series(np.arange(len(rows)), index=rows["seq"].to_numpy(dtype=np.int64))
    origin = rows["repeat_of"].astype("Float64").fillna(-1).to_numpy(dtype=np.int64)
    has_origin = origin >= 0
    origin_answered = np.zeros(len(rows), dtype=bool)
    if has_origin.any():
        at = position.reindex(origin[has_origin]).to_numpy()
        found = ~np.isnan(at)
        hit = np.zeros(int(has_origin.sum()), dtype=bool)
        hit[found] = answered[at[found].astype(np.int64)]
        origin_answered[has_origin] = hit
    excused = redelivery | ((kind == "resend") & origin_answered)
    return {
        "redeliveries_answered": int((redelivery & answered).sum()),
        "meant_suppressed": int(((fate == "duplicate_suppressed") & np.isin(kind, MEANT)).sum()),
        "never_answered": int((~answered & ~excused).sum()),
        "duplicate_replies": _duplicate_replies(rows, answered, window_s),
        "stranded": int((fate == "stranded").sum()),
    }


def _duplicate_replies(rows: pd.DataFrame, answered: np.ndarray, window_s: float) -> int:
    part = pd.DataFrame(
        {
            "contact": rows["contact_id"].astype("string").to_numpy(dtype=object)[answered],
            "at": rows["first_reply_at"].to_numpy(dtype=float)[answered],
            "text": rows["reply_text_hash"]
            .astype("string")
            .fillna("")
            .to_numpy(dtype=object)[answered],
        }
    )
    part = part[part["text"] != ""].sort_values(["contact", "at"], kind="stable")
    same_contact = part["contact"].eq(part["contact"].shift())
    same_text = part["text"].eq(part["text"].shift())
    close = (part["at"] - part["at"].shift()) <= window_s
    return int((same_contact & same_text & close).sum())
