"""``stream.parquet`` and ``outbound.parquet``: the normalized capture as typed columns.

Guarantees:

1. Privacy by default (docs/reference.md): contact ids and message ids are pseudonyms, keyed HMAC
   (``shadow redact``'s scheme) when ``SHADOW_REDACT_KEY`` is set, else ``c000001``... and
   ``m0000001``... in order of first appearance in the stream. Raw ids and a ``text`` column
   only with ``keep_raw``.
1a. Texts exist only as equality classes that reveal nothing of the text: ``text_hash`` is
   ``t0000001``... and ``text_norm_hash`` ``n0000001``... in order of first appearance (inbound
   then outbound), or ``t``/``n`` + 16 hex digits of a keyed HMAC with ``SHADOW_REDACT_KEY``
   (stable across runs). Equal texts share a class, different texts never do, so every
   equality a model keys on survives; ``keep_raw`` does not change them. The empty text (media
   without a caption) is ``""`` in both columns.
2. ``received_at`` and ``sent_at`` stay int64 µs since the epoch, UTC; ``seq`` is the 0-based
   position in the sorted stream.
3. ``bucket`` is the record's own (a redacted capture's) or ``bucket_of(real contact id)``.
4. ``write_parquet`` writes with a fixed schema and fixed options (zstd level 3, no statistics,
   no dictionary, no schema or pandas metadata, one row group): the same columns give the same
   bytes, whatever the run. (A replay writes its ``stream.parquet`` with the same options in
   row groups of 65,536 rows, a chunk at a time: ``shadow.replay.chunks``.)
5. A stream holding delivered events (docs/capture.md) has two more columns: ``event`` (the
   kind; null for a message) and ``refers_to`` (the pseudonym of the message an edit or a
   deletion refers to, as ``message_id``'s; null when none). Other streams keep their columns.
6. A stream whose records carry content keys (record.py: a media hash, a place, ...) has one
   more column, ``content_hash``: each key's equality class as guarantee 1a makes text classes
   (``k0000001``... in order of first appearance, or ``k`` + 16 hex digits of a keyed HMAC),
   ``""`` where a message has no key. No raw key is written, ``keep_raw`` or not. Other streams
   keep their columns (and their bytes).
"""

from __future__ import annotations

import bisect
import itertools
import operator
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from shadow.streams.keys import REDACT_KEY_ENV
from shadow.streams.normalize import Capture
from shadow.streams.record import InboundRecord, OutboundRecord
from shadow.streams.redact import Redactor
from shadow.world import normalize_text, text_token

_INT = pa.int64()
_STR = pa.string()
STREAM_SCHEMA: dict[str, Any] = {
    "seq": _INT,
    "message_id": _STR,
    "contact_id": _STR,
    "received_at": _INT,
    "sent_at": _INT,
    "type": _STR,
    "text_hash": _STR,
    "text_norm_hash": _STR,
    "content_hash": _STR,
    "topic": _STR,
    "repeat_kind": _STR,
    "bucket": _INT,
    "event": _STR,
    "refers_to": _STR,
    "text": _STR,
}
OUTBOUND_SCHEMA: dict[str, Any] = {
    "contact_id": _STR,
    "sent_at": _INT,
    "reply_to": _STR,
    "reply_seq": _INT,
    "text_hash": _STR,
    "text_norm_hash": _STR,
    "text": _STR,
}


class Pseudonyms:
    """Contact and message-id pseudonyms and text classes (guarantees 1, 1a); one instance per
    run.

    Each namespace keeps its raw ids in order of first appearance as arrow columns, so whole
    columns are pseudonymized at once.
    """

    def __init__(self, key: str | None) -> None:
        self._redactor = Redactor(key) if key else None
        self._contacts = _Names("c", 6, None if self._redactor is None else self._redactor.contact)
        self._messages = _Names("m", 7, None if self._redactor is None else self._redactor.message)
        keyed = self._redactor
        self._texts = _Names("t", 7, None if keyed is None else keyed.text_class)
        self._norms = _Names("n", 7, None if keyed is None else keyed.norm_class)
        self._contents = _Names("k", 7, None if keyed is None else keyed.content_class)

    @classmethod
    def from_environment(cls) -> Pseudonyms:
        return cls(os.environ.get(REDACT_KEY_ENV) or None)

    def contact(self, raw: str) -> str:
        return str(self._contacts.encode(pa.array([raw], _STR))[0].as_py())

    def message(self, raw: str) -> str:
        return str(self._messages.encode(pa.array([raw], _STR))[0].as_py())

    def contacts(self, raw: Any) -> Any:
        """The pseudonyms of an arrow column of raw contact ids (nulls stay null)."""
        return self._contacts.encode(raw)

    def messages(self, raw: Any) -> Any:
        """The pseudonyms of an arrow column of raw message ids (nulls stay null)."""
        return self._messages.encode(raw)

    def texts(self, tokens: Any) -> Any:
        """The classes of an arrow column of exact-text tokens (``text_hash``)."""
        return _classes(self._texts, tokens)

    def norms(self, tokens: Any) -> Any:
        """The classes of an arrow column of normalized-text tokens (``text_norm_hash``)."""
        return _classes(self._norms, tokens)

    def contents(self, keys: Any) -> Any:
        """The classes of an arrow column of raw content keys (guarantee 6; ``""`` stays)."""
        if isinstance(keys, pa.ChunkedArray):
            keys = keys.combine_chunks()
        # classes of tokens, as for texts: no raw key is held, even in memory
        tokens = pa.array([text_token(key) if key else "" for key in keys.to_pylist()], _STR)
        return _classes(self._contents, tokens, "")

    def texts_named(self, exact: Iterable[str], keys: Iterable[str]) -> dict[str, dict[str, str]]:
        """The classes of texts a configuration names, for those seen in the run: ``exact``
        texts (agent replies) by their exact class, ``keys`` (reply-map keys) by the class of
        their normalized text."""
        exact_tokens = {text_token(text): text for text in exact}
        norm_tokens = {text_token(normalize_text(key)): key for key in keys}
        return {
            "exact": {exact_tokens[t]: c for t, c in self._texts.known(exact_tokens).items()},
            "normalized": {norm_tokens[t]: c for t, c in self._norms.known(norm_tokens).items()},
        }

    def known_messages(self) -> dict[str, str]:
        """Raw message id -> pseudonym, for every id seen so far."""
        return self._messages.known(None)

    def messages_named(self, raw_ids: Iterable[str]) -> dict[str, str]:
        """Raw message id -> pseudonym for those of ``raw_ids`` seen so far."""
        return self._messages.known(raw_ids)


_EMPTY_TOKEN = text_token("")


def _classes(names: _Names, tokens: Any, empty_token: str = _EMPTY_TOKEN) -> Any:
    """Guarantee 1a's classes; the empty text's is ``""`` (it reveals nothing, and a model or
    the comparator tells media without a caption by it)."""
    if isinstance(tokens, pa.ChunkedArray):
        tokens = tokens.combine_chunks()
    empty = pc.equal(tokens, empty_token)
    return names.encode(pc.if_else(empty, None, tokens)).fill_null("")


class _Names:
    """One namespace of pseudonyms: ``<prefix><n, zero-padded>`` in order of first appearance,
    or the keyed pseudonym of each raw id."""

    def __init__(self, prefix: str, digits: int, keyed: Callable[[str], str] | None) -> None:
        self._prefix = prefix
        self._digits = digits
        self._keyed = keyed
        self._raw = pa.array([], _STR)
        self._names = pa.array([], _STR)

    def encode(self, values: Any) -> Any:
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        if not len(self._raw):  # the first column named: every id is fresh, one hash pass
            encoded = values.dictionary_encode()  # in order of first appearance; nulls stay
            self._raw = encoded.dictionary
            self._names = self._name(encoded.dictionary, 0)
            return self._names.take(encoded.indices)
        index = pc.index_in(values, value_set=self._raw)
        fresh = values.filter(pc.and_(pc.is_null(index), pc.is_valid(values)))
        if len(fresh):
            new = fresh.dictionary_encode().dictionary  # in order of first appearance
            self._raw = pa.concat_arrays([self._raw, new])
            self._names = pa.concat_arrays([self._names, self._name(new, len(self._names))])
            index = pc.index_in(values, value_set=self._raw)
        return self._names.take(index)

    def _name(self, raw: Any, known: int) -> Any:
        if self._keyed is not None:
            return pa.array([self._keyed(value) for value in raw.to_pylist()], _STR)
        numbers = pa.array(np.arange(known + 1, known + 1 + len(raw), dtype=np.int64))
        padded = pc.utf8_lpad(pc.cast(numbers, _STR), self._digits, "0")
        return pc.binary_join_element_wise(self._prefix, padded, "")

    def known(self, raw_ids: Iterable[str] | None) -> dict[str, str]:
        raw, names = self._raw, self._names
        if raw_ids is not None:
            wanted = pc.is_in(raw, value_set=pa.array(list(raw_ids), _STR))
            raw, names = raw.filter(wanted), names.filter(wanted)
        return dict(zip(raw.to_pylist(), names.to_pylist(), strict=True))


_CHUNK = 1 << 13  # records turned into arrow columns at a time
_RECORD_FIELDS = (
    "message_id",
    "contact_id",
    "received_at",
    "sent_at",
    "type",
    "text_hash",
    "text_norm_hash",
    "topic",
    "repeat_kind",
    "bucket",
)


def record_columns(
    records: Iterable[InboundRecord], text: bool = False, links: bool = False
) -> dict[str, Any]:
    """The inbound records' own fields as arrow columns, consumed a chunk at a time (no record
    is kept). ``text`` adds the raw texts, ``links`` each delivered event's kind and the id of
    the message it refers to. ``content_key`` is always there (raw: ``stream_columns`` turns
    it into classes)."""
    fields = (*_RECORD_FIELDS, "content_key", *(("event", "refers_to") if links else ()))
    fields = (*fields, "text") if text else fields
    getters = [(operator.attrgetter(name), STREAM_SCHEMA.get(name, _STR)) for name in fields]
    parts: list[list[Any]] = []
    records = iter(records)
    while chunk := list(itertools.islice(records, _CHUNK)):
        # a column at a time from a list: a third of the time of transposing rows
        parts.append([pa.array(list(map(get, chunk)), kind) for get, kind in getters])
        del chunk
    return {
        name: pa.concat_arrays([part[index] for part in parts])
        if parts
        else pa.array([], STREAM_SCHEMA.get(name, _STR))
        for index, name in enumerate(fields)
    }


def stream_columns(
    inbound: Capture | Iterable[InboundRecord] | Mapping[str, Any],
    keep_raw: bool = False,
    pseudonyms: Pseudonyms | None = None,
    bucket_of: Callable[[str], int] | None = None,
    contents: bool | None = None,
) -> dict[str, Any]:
    """The columns of ``stream.parquet`` as arrow arrays (guarantees 1-3, 5, 6), from a
    capture, an iterable of records read once, or their ``record_columns``. ``contents``: with
    the ``content_hash`` column (``None``: when some record has a content key; a stream
    written a chunk at a time says it for the whole stream)."""
    names = pseudonyms or Pseudonyms.from_environment()
    raw = _raw_columns(inbound, keep_raw)
    size = len(raw["received_at"])
    bucket = raw["bucket"]
    missing = pc.is_null(bucket)
    if bucket_of is not None and pc.any(missing).as_py():
        contacts = raw["contact_id"].dictionary_encode()
        entry = pa.array([bucket_of(c) for c in contacts.dictionary.to_pylist()], _INT)
        bucket = pc.if_else(missing, entry.take(contacts.indices), bucket)
    columns: dict[str, Any] = {
        "seq": pa.array(np.arange(size, dtype=np.int64)),
        "message_id": raw["message_id"] if keep_raw else names.messages(raw["message_id"]),
        "contact_id": raw["contact_id"] if keep_raw else names.contacts(raw["contact_id"]),
        "received_at": raw["received_at"],
        "sent_at": raw["sent_at"],
        "type": raw["type"],
        "text_hash": names.texts(raw["text_hash"]),
        "text_norm_hash": names.norms(raw["text_norm_hash"]),
    }
    keys = raw.get("content_key")
    if contents is None:
        contents = keys is not None and bool(pc.any(pc.not_equal(keys, "")).as_py())
    if contents:  # guarantee 6
        columns["content_hash"] = (
            names.contents(keys) if keys is not None else pa.array([""] * size, _STR)
        )
    columns.update(topic=raw["topic"], repeat_kind=raw["repeat_kind"], bucket=bucket)
    if "event" in raw:  # delivered events (guarantee 5)
        columns["event"] = _blank_as_null(raw["event"])
        refers_to = _blank_as_null(raw["refers_to"])
        columns["refers_to"] = refers_to if keep_raw else names.messages(refers_to)
    if keep_raw:
        columns["text"] = raw["text"]
    return columns


def _blank_as_null(values: Any) -> Any:
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, _STR), values)


def _raw_columns(
    inbound: Capture | Iterable[InboundRecord] | Mapping[str, Any], text: bool
) -> Mapping[str, Any]:
    if isinstance(inbound, Capture):
        return record_columns(inbound.inbound, text)
    if isinstance(inbound, Mapping):
        return inbound
    return record_columns(inbound, text)


def outbound_columns(
    capture: Capture | Sequence[OutboundRecord],
    keep_raw: bool = False,
    pseudonyms: Pseudonyms | None = None,
    inbound: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``outbound.parquet``: each recorded reply and the seq it answers (docs/capture.md): the one
    named by ``reply_to`` (its latest delivery not after the reply), else the contact's latest
    inbound message not after it; null when none. Pass the ``stream_columns`` pseudonyms, and
    the inbound ``record_columns`` unless ``capture`` is a whole capture."""
    names = pseudonyms or Pseudonyms.from_environment()
    rows = capture.outbound if isinstance(capture, Capture) else capture
    answered: list[int | None] = []
    if rows:
        raw = _raw_columns(capture if inbound is None else inbound, False)  # type: ignore[arg-type]
        by_id: dict[str, list[tuple[int, int]]] = {}
        by_contact: dict[str, list[tuple[int, int]]] = {}
        arrivals = zip(
            raw["message_id"].to_pylist(),
            raw["contact_id"].to_pylist(),
            raw["received_at"].to_pylist(),
            strict=True,
        )
        for position, (message_id, contact_id, received_at) in enumerate(arrivals):
            by_id.setdefault(message_id, []).append((received_at, position))
            by_contact.setdefault(contact_id, []).append((received_at, position))
        for reply in rows:
            found = by_id.get(reply.reply_to, []) if reply.reply_to else []
            match = _latest(found, reply.sent_at)
            if match is None:
                match = _latest(by_contact.get(reply.contact_id, []), reply.sent_at)
            answered.append(match)
    contact = pa.array([r.contact_id for r in rows], _STR)
    reply_to = pa.array([r.reply_to for r in rows], _STR)
    columns: dict[str, Any] = {
        "contact_id": contact if keep_raw else names.contacts(contact),
        "sent_at": pa.array([r.sent_at for r in rows], _INT),
        "reply_to": reply_to if keep_raw else names.messages(reply_to),
        "reply_seq": pa.array(answered, _INT),
        "text_hash": names.texts(pa.array([r.text_hash for r in rows], _STR)),
        "text_norm_hash": names.norms(pa.array([r.text_norm_hash for r in rows], _STR)),
    }
    if keep_raw:
        columns["text"] = pa.array([r.text for r in rows], _STR)
    return columns


def _latest(arrivals: Sequence[tuple[int, int]], at: int) -> int | None:
    """The seq of the latest arrival at or before ``at`` (arrivals sorted by time)."""
    index = bisect.bisect_right(arrivals, at, key=lambda arrival: arrival[0])
    return arrivals[index - 1][1] if index else None


def _array(values: Any, type: Any) -> Any:
    """One column as a single arrow array of ``type``."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        return values if values.type == type else values.cast(type)
    return pa.array(list(values), type=type)


def write_parquet(
    columns: Mapping[str, Sequence[Any]], path: Path, schema: Mapping[str, Any] | None = None
) -> None:
    """Write columns with fixed types and options (guarantee 4)."""
    types = dict(schema) if schema is not None else {**STREAM_SCHEMA, **OUTBOUND_SCHEMA}
    fields = [pa.field(name, types.get(name, _STR)) for name in columns]
    arrays = [
        _array(values, field.type) for field, values in zip(fields, columns.values(), strict=True)
    ]
    table = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    pq.write_table(
        table,
        path,
        row_group_size=max(1, table.num_rows),
        compression="zstd",
        compression_level=3,
        use_dictionary=False,
        write_statistics=False,
        store_schema=False,
        version="2.6",
        data_page_version="1.0",
    )
