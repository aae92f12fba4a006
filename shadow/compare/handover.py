"""``handover`` divergences: what moving contacts between systems mid-traffic costs.

With ``--flip-at T``, the contacts whose stage membership changes move at T from the previous
stage's system to the new one; the old instance finishes what it holds, the new one knows
none of its hashes, locks or queues. A moved contact's message is a ``handover`` divergence
(docs/reference.md) when:

1. its ``repeat_of`` was handled by the other system and both were processed (the duplicate
   check could not see across the flip);
2. its first reply came after the first reply to a later message of its contact that the other
   system handled (order broken across the flip);
3. it was received before the flip and ended ``lost``, ``stranded`` or ``dropped`` in the
   legacy instance. (The outcome does not keep when a drop happened; any such end of a message
   still held by the old instance at the flip counts.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

REGRESSION = 0


def handover_mask(
    candidate: pd.DataFrame, received: np.ndarray, flip_at: int, moved: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(applies, severity code) per seq of the flipped rollout arm's outcome frame."""
    size = len(candidate)
    applies = np.zeros(size, dtype=bool)
    if not moved.any():
        return applies, np.full(size, REGRESSION)
    system = candidate["system"].fillna("").to_numpy(dtype=object)
    processed = candidate["processing_count"].fillna(0).to_numpy(dtype=np.int64) > 0
    fate = candidate["fate"].fillna("").to_numpy(dtype=object)
    first = candidate["first_reply_at"].to_numpy(dtype=float)
    repeat_of = candidate["repeat_of"]
    contact = candidate["contact_id"].to_numpy(dtype=object)
    for repeat in np.flatnonzero(moved & repeat_of.notna().to_numpy()).tolist():
        origin = int(repeat_of.iloc[repeat])
        if system[origin] != system[repeat] and processed[repeat] and processed[origin]:
            applies[repeat] = True
    before = received < flip_at
    applies |= (
        moved & before & (system == "legacy") & np.isin(fate, ("lost", "stranded", "dropped"))
    )
    by_contact: dict[str, list[int]] = {}
    for member in np.flatnonzero(moved).tolist():
        by_contact.setdefault(str(contact[member]), []).append(member)
    for seqs in by_contact.values():
        for position, seq in enumerate(seqs):
            if np.isnan(first[seq]):
                continue
            for later in seqs[position + 1 :]:
                if system[later] != system[seq] and first[later] < first[seq]:
                    applies[seq] = True
                    break
    return applies, np.full(size, REGRESSION)
