"""Per-message outcome frames of one arm, and the stream facts they carry: which earlier
message a message repeats, and order violations per contact."""

from __future__ import annotations

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


def _previous(keys: IntArray) -> IntArray:
    """For every row, the latest earlier row with the same key; -1 when none."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    same = ordered[1:] == ordered[:-1]
    previous = np.full(len(keys), -1, dtype=np.int64)
    previous[order[1:][same]] = order[:-1][same]
    return previous


def order_violations(
    contact_id: Sequence[str] | IntArray,
    first_reply_at: np.ndarray,
    sent_at: np.ndarray | None = None,
) -> np.ndarray:
    """True where a seq's first reply came after the first reply to a later seq of its contact.

    ``contact_id`` may be the contacts themselves or any integer codes of them. With
    ``sent_at`` (reactive users, whose arm got the messages in its own order), "later" means
    sent later to this arm (ties in seq order).
    """
    if sent_at is not None:
        order = np.argsort(np.asarray(sent_at), kind="stable")
        codes_in_order = np.asarray(contact_id)[order]
        found = order_violations(codes_in_order, np.asarray(first_reply_at)[order])
        result = np.empty(len(order), dtype=bool)
        result[order] = found
        return result
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
) -> pd.DataFrame:
    """The outcome records of one arm: one row per seq (guarantee 1); times in seconds.

    ``repeat_of`` is -1 where a seq repeats nothing. String columns are arrow-backed.
    """
    size = len(received_at)
    first = np.asarray(result.first_reply_at, dtype=np.int64)
    answered = first >= 0
    seconds = 1e-6

    def optional_seconds(values: np.ndarray) -> pd.Series:
        array = np.asarray(values, dtype=np.int64)
        return pd.Series(np.where(array >= 0, array * seconds, np.nan), dtype="float64")

    sent = np.asarray(received_at, dtype=np.int64)
    if result.sent_at:  # reactive users sent some messages to this arm at other times
        sent = sent.copy()
        sent[np.fromiter(result.sent_at, np.int64)] = np.fromiter(result.sent_at.values(), np.int64)
    batch = np.asarray(result.batch_size, dtype=np.int64)
    fates = pa.array(FATES, pa.string()).take(np.asarray(result.fate, dtype=np.int32))
    origins = np.asarray(repeat_of, dtype=np.int64)
    frame = pd.DataFrame(
        {
            "arm": strings(pa.repeat(pa.scalar(result.name, pa.string()), size)),
            "seq": np.arange(size, dtype=np.int64),
            "contact_id": strings(contact_id.to_arrow()),
            "fate": strings(fates),
            "rule": strings(result.rule.to_arrow()),
            "cause": strings(result.cause.to_arrow()),
            "processing_count": pd.array(result.processing_count, dtype="Int64"),
            "reply_count": pd.array(result.reply_count, dtype="Int64"),
            "first_reply_at": optional_seconds(result.first_reply_at),
            "reply_latency": pd.Series(
                np.where(answered, (first - sent) * seconds, np.nan), dtype="float64"
            ),
            "batch_size": pd.arrays.IntegerArray(batch, mask=batch <= 0),
            "reply_text_hash": strings(result.reply_text_hash),
            "order_violation": order_violations(
                contact_id.codes, first, sent if result.sent_at else None
            ),
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
    if result.sent_at:  # which messages this arm's users sent, when (reactive users)
        frame["sent_at"] = pd.Series(sent * seconds, dtype="float64")
    return frame


def strings(values: Any) -> pd.Series:
    """An arrow string column as a pandas ``string`` series, without copying it."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return pd.Series(pd.arrays.ArrowStringArray(values.cast(pa.string())))
