"""``stream.parquet`` and ``outbound.parquet``: the normalized capture as typed columns.

Guarantees:

1. Privacy by default (contracts.md): contact ids and message ids are pseudonyms, keyed HMAC
   (``shadow redact``'s scheme) when ``SHADOW_REDACT_KEY`` is set, else ``c000001``... and
   ``m0000001``... in order of first appearance in the stream; texts exist only as hashes. Raw
   ids and a ``text`` column only with ``keep_raw``.
2. ``received_at`` and ``sent_at`` stay int64 µs since the epoch, UTC; ``seq`` is the 0-based
   position in the sorted stream.
3. ``bucket`` is the record's own (a redacted capture's) or ``bucket_of(real contact id)``.
4. ``write_parquet`` writes with a fixed schema and fixed options (zstd level 3, no statistics,
   no dictionary, no schema or pandas metadata, one row group): the same columns give the same
   bytes, whatever the run.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from shadow.streams.normalize import Capture
from shadow.streams.redact import REDACT_KEY_ENV, Redactor

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
    "topic": _STR,
    "repeat_kind": _STR,
    "bucket": _INT,
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
    """Contact and message-id pseudonyms (guarantee 1); one instance per run."""

    def __init__(self, key: str | None) -> None:
        self._redactor = Redactor(key) if key else None
        self._contacts: dict[str, str] = {}
        self._messages: dict[str, str] = {}

    @classmethod
    def from_environment(cls) -> Pseudonyms:
        return cls(os.environ.get(REDACT_KEY_ENV) or None)

    def contact(self, raw: str) -> str:
        known = self._contacts.get(raw)
        if known is None:
            redactor = self._redactor
            known = redactor.contact(raw) if redactor else f"c{len(self._contacts) + 1:06d}"
            self._contacts[raw] = known
        return known

    def known_messages(self) -> dict[str, str]:
        """Raw message id -> pseudonym, for every id seen so far."""
        return dict(self._messages)

    def message(self, raw: str) -> str:
        known = self._messages.get(raw)
        if known is None:
            redactor = self._redactor
            known = redactor.message(raw) if redactor else f"m{len(self._messages) + 1:07d}"
            self._messages[raw] = known
        return known


def stream_columns(
    capture: Capture,
    keep_raw: bool = False,
    pseudonyms: Pseudonyms | None = None,
    bucket_of: Callable[[str], int] | None = None,
) -> dict[str, list[Any]]:
    """The columns of ``stream.parquet`` (guarantees 1-3)."""
    names = pseudonyms or Pseudonyms.from_environment()
    rows = capture.inbound
    columns: dict[str, list[Any]] = {
        "seq": list(range(len(rows))),
        "message_id": [r.message_id if keep_raw else names.message(r.message_id) for r in rows],
        "contact_id": [r.contact_id if keep_raw else names.contact(r.contact_id) for r in rows],
        "received_at": [r.received_at for r in rows],
        "sent_at": [r.sent_at for r in rows],
        "type": [r.type for r in rows],
        "text_hash": [r.text_hash for r in rows],
        "text_norm_hash": [r.text_norm_hash for r in rows],
        "topic": [r.topic for r in rows],
        "repeat_kind": [r.repeat_kind for r in rows],
        "bucket": [
            r.bucket if r.bucket is not None or bucket_of is None else bucket_of(r.contact_id)
            for r in rows
        ],
    }
    if keep_raw:
        columns["text"] = [r.text for r in rows]
    return columns


def outbound_columns(
    capture: Capture, keep_raw: bool = False, pseudonyms: Pseudonyms | None = None
) -> dict[str, list[Any]]:
    """``outbound.parquet``: each recorded reply and the seq it answers (formats.md): the one
    named by ``reply_to`` (its latest delivery not after the reply), else the contact's latest
    inbound message not after it; null when none. Pass the ``stream_columns`` pseudonyms."""
    names = pseudonyms or Pseudonyms.from_environment()
    by_id: dict[str, list[tuple[int, int]]] = {}
    by_contact: dict[str, list[tuple[int, int]]] = {}
    for position, record in enumerate(capture.inbound):
        by_id.setdefault(record.message_id, []).append((record.received_at, position))
        by_contact.setdefault(record.contact_id, []).append((record.received_at, position))
    answered: list[int | None] = []
    for reply in capture.outbound:
        found = by_id.get(reply.reply_to, []) if reply.reply_to else []
        match = _latest(found, reply.sent_at)
        if match is None:
            match = _latest(by_contact.get(reply.contact_id, []), reply.sent_at)
        answered.append(match)
    rows = capture.outbound
    columns: dict[str, list[Any]] = {
        "contact_id": [r.contact_id if keep_raw else names.contact(r.contact_id) for r in rows],
        "sent_at": [r.sent_at for r in rows],
        "reply_to": [
            None if r.reply_to is None else r.reply_to if keep_raw else names.message(r.reply_to)
            for r in rows
        ],
        "reply_seq": answered,
        "text_hash": [r.text_hash for r in rows],
        "text_norm_hash": [r.text_norm_hash for r in rows],
    }
    if keep_raw:
        columns["text"] = [r.text for r in rows]
    return columns


def _latest(arrivals: Sequence[tuple[int, int]], at: int) -> int | None:
    """The seq of the latest arrival at or before ``at`` (arrivals sorted by time)."""
    index = bisect.bisect_right(arrivals, at, key=lambda arrival: arrival[0])
    return arrivals[index - 1][1] if index else None


def write_parquet(
    columns: Mapping[str, Sequence[Any]], path: Path, schema: Mapping[str, Any] | None = None
) -> None:
    """Write columns with fixed types and options (guarantee 4)."""
    types = dict(schema) if schema is not None else {**STREAM_SCHEMA, **OUTBOUND_SCHEMA}
    fields = [pa.field(name, types.get(name, _STR)) for name in columns]
    arrays = [
        pa.array(list(values), type=field.type)
        for field, values in zip(fields, columns.values(), strict=True)
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
