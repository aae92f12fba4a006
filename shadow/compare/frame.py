"""Per-message outcome frames of one arm, and the stream facts they carry: which earlier
message a message repeats, and order violations per contact."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from shadow.kernel import FATES, LAYERS
from shadow.simulation import ArmResult, Codes, IntArray, Stream

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


REPEAT_KINDS = ("redelivery", "resend", "legit", "unknown")


def stream_repeats(stream: Stream, repeat_horizon: int) -> tuple[IntArray, Codes]:
    """``repeat_facts`` of a whole stream."""
    return repeat_facts(
        stream.contact_id.codes,
        stream.message_id.codes,
        stream.text_hash.codes,
        stream.received_at,
        stream.repeat_kind,
        repeat_horizon,
    )


def repeat_facts(
    contact: IntArray,
    message: IntArray,
    text: IntArray,
    received_at: IntArray,
    labels: Codes,
    repeat_horizon: int,
) -> tuple[IntArray, Codes]:
    """``repeat_of`` (-1: none) and ``repeat_kind`` of every seq, from the code columns.

    A seq repeats the latest earlier seq of its contact with the same message id (a
    redelivery), else the latest earlier one with the same text if it came less than
    ``repeat_horizon`` µs before (its own label when ``resend`` or ``legit``, else unknown).
    """
    contacts = np.asarray(contact, dtype=np.int64)
    by_id = _previous(contacts * (int(np.max(message, initial=0)) + 1) + message)
    by_text = _previous(contacts * (int(np.max(text, initial=0)) + 1) + text)
    received = np.asarray(received_at, dtype=np.int64)
    recent = (by_text >= 0) & (received - received[np.maximum(by_text, 0)] < repeat_horizon)
    redelivery = by_id >= 0
    repeat_of = np.where(redelivery, by_id, np.where(recent, by_text, -1))
    label_kind = np.array(
        [REPEAT_KINDS.index(v) if v in ("resend", "legit") else 3 for v in labels.vocabulary] + [3],
        dtype=np.int8,
    )
    kind = np.where(redelivery, 0, np.where(recent, label_kind[labels.codes], -1))
    return repeat_of, Codes.of(kind, REPEAT_KINDS)


class RepeatIndex:
    """``repeat_facts`` one chunk of the stream at a time: the same values, seq for seq, while
    what it holds grows only with the contacts, message ids and texts seen.

    A text is forgotten ``repeat_horizon`` µs after it was last seen (it could no longer be
    recent: no change). A message id is forgotten once more than ``id_retention`` µs passed
    since it was last seen: a redelivery later than that is taken for a new message (the one
    difference from ``repeat_facts``, none while the retention exceeds the stream's span).
    """

    def __init__(self, repeat_horizon: int, id_retention: int) -> None:
        self.repeat_horizon = repeat_horizon
        self.id_retention = id_retention
        self._ids: OrderedDict[tuple[str, str], tuple[int, int]] = OrderedDict()
        self._texts: OrderedDict[tuple[str, str], tuple[int, int]] = OrderedDict()

    def add(
        self,
        first_seq: int,
        contact: Sequence[str],
        message: Sequence[str],
        text: Sequence[str],
        received_at: Sequence[int],
        labels: Sequence[str],
    ) -> tuple[IntArray, Codes]:
        """``repeat_of`` and ``repeat_kind`` of seqs ``first_seq`` on, given their columns
        (missing strings as empty ones, as the stream's codes hold them)."""
        ids, texts = self._ids, self._texts
        horizon, retention = self.repeat_horizon, self.id_retention
        size = len(received_at)
        repeat_of = np.full(size, -1, dtype=np.int64)
        kind = np.full(size, -1, dtype=np.int8)
        for row in range(size):
            seq = first_seq + row
            at = received_at[row]
            if ids and next(iter(ids.values()))[1] < at - retention:
                _forget(ids, at - retention)  # row by row: the same whatever the chunks
            by_id = (contact[row], message[row])
            by_text = (contact[row], text[row])
            found = ids.pop(by_id, None)
            if found is not None:
                repeat_of[row] = found[0]
                kind[row] = 0
            else:
                earlier = texts.get(by_text)
                if earlier is not None and at - earlier[1] < horizon:
                    repeat_of[row] = earlier[0]
                    label = labels[row]
                    kind[row] = REPEAT_KINDS.index(label) if label in ("resend", "legit") else 3
            ids[by_id] = (seq, at)
            texts.pop(by_text, None)
            texts[by_text] = (seq, at)
        if size:
            _forget(texts, received_at[size - 1] - horizon)  # no longer recent: no change
        return repeat_of, Codes.of(kind, REPEAT_KINDS)


def _forget(seen: OrderedDict[tuple[str, str], tuple[int, int]], before: int) -> None:
    """Drop the entries last seen before ``before`` (the oldest come first)."""
    while seen:
        if next(iter(seen.values()))[1] >= before:
            return
        seen.popitem(last=False)


def _previous(keys: IntArray) -> IntArray:
    """For every row, the latest earlier row with the same key; -1 when none."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    same = ordered[1:] == ordered[:-1]
    previous = np.full(len(keys), -1, dtype=np.int64)
    previous[order[1:][same]] = order[:-1][same]
    return previous


def order_violations(
    contact_id: Sequence[str] | IntArray, first_reply_at: np.ndarray
) -> np.ndarray:
    """True where a seq's first reply came after the first reply to a later seq of its contact.

    ``contact_id`` may be the contacts themselves or any integer codes of them.
    """
    codes = np.asarray(contact_id)
    if not np.issubdtype(codes.dtype, np.integer):
        codes = pd.factorize(np.asarray(contact_id, dtype=object))[0]
    frame = pd.DataFrame(
        {
            "contact": codes,
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
    contact_id: Codes,
    received_at: np.ndarray,
    repeat_of: IntArray,
    repeat_kind: Codes,
    first_seq: int = 0,
) -> pd.DataFrame:
    """The outcome records of one arm: one row per seq (guarantee 1); times in seconds.

    ``repeat_of`` is -1 where a seq repeats nothing. String columns are arrow-backed. The rows
    are seqs ``first_seq`` on (a streaming run's window); ``order_violation`` looks at the
    window's rows only.
    """
    size = len(received_at)
    first = np.asarray(result.first_reply_at, dtype=np.int64)
    answered = first >= 0
    seconds = 1e-6

    def optional_seconds(values: np.ndarray) -> pd.Series:
        array = np.asarray(values, dtype=np.int64)
        return pd.Series(np.where(array >= 0, array * seconds, np.nan), dtype="float64")

    batch = np.asarray(result.batch_size, dtype=np.int64)
    fates = pa.array(FATES, pa.string()).take(np.asarray(result.fate, dtype=np.int32))
    origins = np.asarray(repeat_of, dtype=np.int64)
    frame = pd.DataFrame(
        {
            "arm": strings(pa.repeat(pa.scalar(result.name, pa.string()), size)),
            "seq": np.arange(first_seq, first_seq + size, dtype=np.int64),
            "contact_id": strings(contact_id.to_arrow()),
            "fate": strings(fates),
            "rule": strings(result.rule.to_arrow()),
            "cause": strings(result.cause.to_arrow()),
            "processing_count": pd.array(result.processing_count, dtype="Int64"),
            "reply_count": pd.array(result.reply_count, dtype="Int64"),
            "first_reply_at": optional_seconds(result.first_reply_at),
            "reply_latency": pd.Series(
                np.where(answered, (first - received_at) * seconds, np.nan), dtype="float64"
            ),
            "batch_size": pd.arrays.IntegerArray(batch, mask=batch <= 0),
            "reply_text_hash": strings(result.reply_text_hash),
            "order_violation": order_violations(contact_id.codes, first),
            **{
                f"wait_{layer}": optional_seconds(result.waits[index])
                for index, layer in enumerate(LAYERS)
            },
            "system": strings(result.system.to_arrow()),
            "repeat_of": pd.arrays.IntegerArray(origins, mask=origins < 0),
            "repeat_kind": strings(repeat_kind.to_arrow()),
        },
        copy=False,  # every column is built here for this frame alone
    )
    return frame


def strings(values: Any) -> pd.Series:
    """An arrow string column as a pandas ``string`` series, without copying it."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return pd.Series(pd.arrays.ArrowStringArray(values.cast(pa.string())))
