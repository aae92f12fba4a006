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
    fate = _text(rows["fate"])
    kind = _text(rows["repeat_kind"])
    answered = fate.eq("answered").to_numpy(dtype=bool)
    redelivery = kind.eq("redelivery").to_numpy(dtype=bool)
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
    excused = redelivery | (kind.eq("resend").to_numpy(dtype=bool) & origin_answered)
    meant = kind.isin(MEANT).to_numpy(dtype=bool)
    return {
        "redeliveries_answered": int((redelivery & answered).sum()),
        "meant_suppressed": int(
            (fate.eq("duplicate_suppressed").to_numpy(dtype=bool) & meant).sum()
        ),
        "never_answered": int((~answered & ~excused).sum()),
        "duplicate_replies": _duplicate_replies(rows, answered, window_s),
        "stranded": int(fate.eq("stranded").to_numpy(dtype=bool).sum()),
    }


def _text(column: pd.Series) -> pd.Series:
    """A text column with "" for null, compared in bulk (no Python object per row)."""
    return column.astype("string").fillna("")


def _duplicate_replies(rows: pd.DataFrame, answered: np.ndarray, window_s: float) -> int:
    """Answered messages whose reply text repeats the one before in the contact's answered
    messages ordered by first reply (ties in seq order) within ``window_s``. Contacts and
    texts are compared by code: which contact comes first does not change the count."""
    texts = _text(rows["reply_text_hash"])[answered]
    keep = texts.ne("").to_numpy(dtype=bool)
    contact = pd.factorize(rows["contact_id"].astype("string")[answered])[0][keep]
    reply = pd.factorize(texts)[0][keep]
    at = rows["first_reply_at"].to_numpy(dtype=float)[answered][keep]
    order = np.lexsort((at, contact))  # stable: ties keep seq order
    contact, reply, at = contact[order], reply[order], at[order]
    same = (contact[1:] == contact[:-1]) & (reply[1:] == reply[:-1])
    return int((same & (at[1:] - at[:-1] <= window_s)).sum())
