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
from shadow.world import text_token

#: The repeat classes whose suppression spares the user nothing they asked for.
REPEATS = ("resend", "redelivery")
#: The classes whose suppression loses a message the user meant (``lost_message``).
MEANT = ("distinct", "repeat_after_reply")


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


#: Every message's repeat class (docs/divergences.md): ``unknown`` only when a content repeat
#: has neither a scenario label nor a baseline to tell whether its original was answered.
REPEAT_KINDS = ("redelivery", "resend", "repeat_after_reply", "distinct", "unknown")
#: Scenario labels (``repeat_kind`` of the shadow format) -> classes.
LABELS = {"resend": "resend", "legit": "repeat_after_reply"}
#: A message type whose empty text is the whole content: anything else with an empty text and
#: no content class is media without a caption whose identity (media id, sha256, place) the
#: capture did not give.
TEXT_TYPES = ("text", "")
EMPTY_TEXT = text_token("")


def stream_repeats(
    stream: Stream, repeat_horizon: int, answered_at: IntArray | None = None
) -> tuple[IntArray, Codes]:
    """``repeat_facts`` of a whole stream; ``answered_at``: the baseline's first reply per seq
    (µs, -1 when never), which tells an unlabelled resend from a repeat after a reply."""
    return repeat_facts(
        stream.contact_id.codes,
        stream.message_id.codes,
        content_identity(stream.type, stream.text_hash, stream.content_hash),
        stream.received_at,
        stream.repeat_kind,
        repeat_horizon,
        answered_at,
    )


def content_identity(kind: Codes, text_hash: Codes, content: Codes | None = None) -> IntArray:
    """One integer per seq: equal exactly when two messages carry the same content.

    The content is the message type with its text (or caption) and its content class
    (``content``: ``stream.parquet``'s ``content_hash``, the class of a media hash or id, a
    place, a chosen reply, a reaction's target; "" or ``None`` when unknown). A non-text
    message with neither a caption nor a content class carries content the stream does not
    identify (a voice note of a capture without hashes): it gets an identity of its own, so it
    is never taken for a copy of another message; only the same message id (a redelivery)
    repeats it. Text messages have no content class: their identity is their text's.
    """
    types = np.asarray(kind.codes, dtype=np.int64)
    texts = np.asarray(text_hash.codes, dtype=np.int64)
    type_names = [*kind.vocabulary, None]
    text_names = [*text_hash.vocabulary, None]
    textual = np.array([(name or "") in TEXT_TYPES for name in type_names], dtype=bool)
    empty = np.array([name in (EMPTY_TEXT, None, "") for name in text_names], dtype=bool)
    unidentified = ~textual[types] & empty[texts]
    width = int(texts.max(initial=0)) + 2
    identity = (types + 1) * width + (texts + 1)
    if content is not None:
        classes = np.asarray(content.codes, dtype=np.int64)
        known = np.array([bool(name) for name in [*content.vocabulary, None]], dtype=bool)
        unidentified &= ~known[classes]
        # (type, text) and class, made dense again: the key stays far from int64's limits
        combined = identity * (int(classes.max(initial=0)) + 2) + (classes + 1)
        identity = np.unique(combined, return_inverse=True)[1].reshape(-1).astype(np.int64)
    size = len(identity)
    # beyond every (type, text) code: one identity per unidentified message
    return np.where(unidentified, identity.max(initial=0) + 1 + np.arange(size), identity)


def repeat_facts(
    contact: IntArray,
    message: IntArray,
    content: IntArray,
    received_at: IntArray,
    labels: Codes,
    repeat_horizon: int,
    answered_at: IntArray | None = None,
) -> tuple[IntArray, Codes]:
    """``repeat_of`` (-1: none) and the repeat class of every seq, from the code columns.

    A seq repeats the latest earlier seq of its contact with the same message id (a
    ``redelivery``), else the latest earlier one with the same content if it came less than
    ``repeat_horizon`` µs before: its scenario label (``resend``; ``legit`` is a
    ``repeat_after_reply``) when it has one, else ``repeat_after_reply`` when ``answered_at``
    shows the earlier one answered before this one arrived, ``resend`` when not, ``unknown``
    without ``answered_at``. Every other seq is ``distinct``.
    """
    contacts = np.asarray(contact, dtype=np.int64)
    by_id = _previous(contacts * (int(np.max(message, initial=0)) + 1) + message)
    by_text = _previous(contacts * (int(np.max(content, initial=0)) + 1) + content)
    received = np.asarray(received_at, dtype=np.int64)
    origin = np.maximum(by_text, 0)
    recent = (by_text >= 0) & (received - received[origin] < repeat_horizon)
    redelivery = by_id >= 0
    repeat_of = np.where(redelivery, by_id, np.where(recent, by_text, -1))
    index = REPEAT_KINDS.index
    label_kind = np.array(
        [index(LABELS[v]) if v in LABELS else -1 for v in labels.vocabulary] + [-1],
        dtype=np.int8,
    )
    if answered_at is None:
        inferred = np.full(len(received), index("unknown"), dtype=np.int8)
    else:
        replied = np.asarray(answered_at, dtype=np.int64)[origin]
        after_reply = (replied >= 0) & (replied <= received)
        inferred = np.where(after_reply, index("repeat_after_reply"), index("resend"))
    labelled = label_kind[labels.codes]
    content_kind = np.where(labelled >= 0, labelled, inferred)
    kind = np.where(
        redelivery, index("redelivery"), np.where(recent, content_kind, index("distinct"))
    )
    return repeat_of, Codes.of(kind.astype(np.int8), REPEAT_KINDS)


class RepeatIndex:
    """``repeat_facts`` one chunk of the stream at a time: the same values, seq for seq, while
    what it holds grows only with the contacts, message ids and texts seen.

    A text is forgotten ``repeat_horizon`` µs after it was last seen (it could no longer be
    recent: no change). A message id is forgotten once more than ``id_retention`` µs passed
    since it was last seen: a redelivery later than that is taken for a new message (the one
    difference from ``repeat_facts``, none while the retention exceeds the stream's span).
    Content is ``content_identity``'s (with ``types`` and ``contents``, the content classes:
    a non-text message with neither a caption nor a content class is never a copy). An
    unlabelled content repeat is ``unknown`` here: ``answered_repeats`` tells it once the
    baseline's reply to its original is final.
    """

    def __init__(self, repeat_horizon: int, id_retention: int) -> None:
        self.repeat_horizon = repeat_horizon
        self.id_retention = id_retention
        self._ids: OrderedDict[tuple[str, ...], tuple[int, int]] = OrderedDict()
        self._texts: OrderedDict[tuple[str, ...], tuple[int, int]] = OrderedDict()

    def add(
        self,
        first_seq: int,
        contact: Sequence[str],
        message: Sequence[str],
        text: Sequence[str],
        received_at: Sequence[int],
        labels: Sequence[str],
        types: Sequence[str] | None = None,
        contents: Sequence[str | None] | None = None,
    ) -> tuple[IntArray, Codes]:
        """``repeat_of`` and ``repeat_kind`` of seqs ``first_seq`` on, given their columns
        (missing strings as empty ones, as the stream's codes hold them)."""
        ids, texts = self._ids, self._texts
        kinds = [""] * len(received_at) if types is None else types
        classes = [""] * len(received_at) if contents is None else contents
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
            kind_name = kinds[row] or ""
            content = classes[row] or ""
            by_text: tuple[str, ...] | None = (contact[row], kind_name, text[row], content)
            unknown = not content and text[row] in (EMPTY_TEXT, "", None)
            if unknown and kind_name not in TEXT_TYPES:
                by_text = None  # content the stream does not identify: no copy of anything
            found = ids.pop(by_id, None)
            if found is not None:
                repeat_of[row] = found[0]
                kind[row] = 0
            elif by_text is None:
                kind[row] = REPEAT_KINDS.index("distinct")
            else:
                earlier = texts.get(by_text)
                if earlier is not None and at - earlier[1] < horizon:
                    repeat_of[row] = earlier[0]
                    label = labels[row]
                    kind[row] = REPEAT_KINDS.index(LABELS.get(label, "unknown"))
                else:
                    kind[row] = REPEAT_KINDS.index("distinct")
            ids[by_id] = (seq, at)
            if by_text is not None:
                texts.pop(by_text, None)
                texts[by_text] = (seq, at)
        if size:
            _forget(texts, received_at[size - 1] - horizon)  # no longer recent: no change
        return repeat_of, Codes.of(kind, REPEAT_KINDS)


def answered_repeats(
    kind: IntArray, received_at: IntArray, origin_answered_at: IntArray
) -> IntArray:
    """``repeat_facts``' classes of the ``unknown`` rows of ``kind`` (codes into
    ``REPEAT_KINDS``, as ``RepeatIndex`` gives them) once the baseline's first reply to each
    row's original (``origin_answered_at``, µs, -1 when never) is known."""
    index = REPEAT_KINDS.index
    replied = np.asarray(origin_answered_at, dtype=np.int64)
    after_reply = (replied >= 0) & (replied <= np.asarray(received_at, dtype=np.int64))
    inferred = np.where(after_reply, index("repeat_after_reply"), index("resend"))
    codes = np.asarray(kind, dtype=np.int8)
    return np.where(codes == index("unknown"), inferred, codes).astype(np.int8)


def _forget(seen: OrderedDict[tuple[str, ...], tuple[int, int]], before: int) -> None:
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

    sent = np.asarray(received_at, dtype=np.int64)
    if result.sent_at:  # reactive users sent some messages to this arm at other times
        sent = sent.copy()
        rows = np.fromiter(result.sent_at, np.int64) - first_seq
        sent[rows] = np.fromiter(result.sent_at.values(), np.int64)
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
