"""How well a model arm reproduces production (``recorded``), message by message.

Guarantees: a pure function of the two arms' outcome columns (``seq``, ``contact_id``,
``fate``, ``reply_count``), aligned on seq; a message agrees when both answered it or both did
not, with the same number of replies; a contact agrees when all its messages do.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

FIDELITY_KINDS = ("model_only", "recorded_only", "reply_count")


def fidelity(model: pd.DataFrame, recorded: pd.DataFrame) -> dict[str, Any]:
    """Messages and contacts compared, how many agree, and each disagreement kind's count:
    ``model_only`` (the model answered, production did not), ``recorded_only`` (the
    reverse), ``reply_count`` (both answered, a different number of replies)."""
    rec = recorded.sort_values("seq", kind="stable").set_index("seq")
    mod = model.sort_values("seq", kind="stable").set_index("seq").reindex(rec.index)
    rec_answered = (rec["fate"].astype("string") == "answered").fillna(False).to_numpy(dtype=bool)
    mod_answered = (mod["fate"].astype("string") == "answered").fillna(False).to_numpy(dtype=bool)
    rec_replies = rec["reply_count"].astype("Float64").fillna(0).to_numpy(dtype=np.int64)
    mod_replies = mod["reply_count"].astype("Float64").fillna(0).to_numpy(dtype=np.int64)
    kinds = {
        "model_only": mod_answered & ~rec_answered,
        "recorded_only": ~mod_answered & rec_answered,
        "reply_count": mod_answered & rec_answered & (mod_replies != rec_replies),
    }
    disagree = kinds["model_only"] | kinds["recorded_only"] | kinds["reply_count"]
    contacts = rec["contact_id"].astype("string").fillna("").to_numpy(dtype=object)
    bad_contacts = set(contacts[disagree].tolist())
    all_contacts = set(contacts.tolist())
    return {
        "messages": len(rec),
        "agree": int((~disagree).sum()),
        "contacts": len(all_contacts),
        "contacts_agree": len(all_contacts - bad_contacts),
        "disagreements": {kind: int(mask.sum()) for kind, mask in kinds.items()},
    }
