"""The harness's own format: shadow JSONL (what ``generate`` and ``redact`` write) and CSV.

One record a line with ``received_at, contact_id, message_id, text`` and optional ``type``
(default ``text``), ``direction`` (``in`` | ``out``), ``reply_to``, ``topic``, ``repeat_kind``
(``resend`` | ``legit``), ``bucket`` (1..100), ``sent_at``, ``content_key`` (what identifies
non-text content: content.py's key, or any opaque string standing for it, as ``redact`` and
``repro`` write it; equal strings are the same content). A ``{"shadow_header": {...}}`` line
carries the rollout fingerprint of a redacted capture; it is counted ``skipped``. CSV has the
same column names in a header row; each physical line is one row (quoted newlines are not
supported: such a row is a bad line) [F3].
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any

from shadow.common import describe_value
from shadow.streams.base import (
    STRUCTURE_ERRORS,
    FileContext,
    LineError,
    LineResult,
    json_lines,
    malformed,
    need,
    rejected,
)
from shadow.streams.detect import classify_object
from shadow.streams.fields import contact_digits, time_to_us
from shadow.streams.record import KNOWN_TYPES, REPEAT_KINDS, InboundRecord, OutboundRecord

COLUMNS = (
    "received_at",
    "contact_id",
    "message_id",
    "text",
    "type",
    "direction",
    "reply_to",
    "topic",
    "repeat_kind",
    "bucket",
    "sent_at",
    "content_key",
)


def _text_field(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise LineError(f"field {key} is not a string")
    return value


def parse_record(number: int, obj: dict[str, Any], ctx: FileContext) -> LineResult:
    """One shadow record (JSON object or CSV row as a dict) to its line result."""
    if "shadow_header" in obj:
        header = obj["shadow_header"]
        if not isinstance(header, dict):
            raise LineError("shadow_header is not an object")
        return LineResult(number, "skipped", header=header)
    merge = ctx.options.merge_br_ninth_digit
    contact = contact_digits(need(obj, "contact_id"), merge)
    at = time_to_us(need(obj, "received_at"), "received_at")
    text = _text_field(obj, "text")
    direction = _text_field(obj, "direction") or "in"
    if direction == "out":
        reply_to = _text_field(obj, "reply_to") or None
        out = OutboundRecord(contact, at, reply_to, text, ctx.file, number)
        return LineResult(number, "outbound", outbound=[out])
    if direction != "in":
        raise LineError(f"direction must be in or out: {describe_value(direction)}")
    message_id = _text_field(obj, "message_id")
    if not message_id:
        raise LineError("missing field message_id")
    kind = _text_field(obj, "type") or "text"
    if kind not in KNOWN_TYPES:
        raise LineError(f"unknown type: {describe_value(kind)}")
    repeat_kind = _text_field(obj, "repeat_kind")
    if repeat_kind and repeat_kind not in REPEAT_KINDS:
        raise LineError(f"repeat_kind must be resend or legit: {describe_value(repeat_kind)}")
    sent = obj.get("sent_at")
    sent_at = time_to_us(sent, "sent_at") if sent not in (None, "") else None
    record = InboundRecord(
        message_id,
        contact,
        at,
        sent_at,
        kind,
        text,
        _text_field(obj, "topic"),
        repeat_kind,
        _bucket(obj.get("bucket")),
        ctx.file,
        number,
        content_key=_text_field(obj, "content_key"),
    )
    return LineResult(number, "inbound", inbound=[record])


def _bucket(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise LineError(f"bucket is not an integer: {describe_value(value)}")
    try:
        bucket = int(value)
    except (TypeError, ValueError):
        raise LineError(f"bucket is not an integer: {describe_value(value)}") from None
    if not 1 <= bucket <= 100:
        raise LineError(f"bucket out of 1..100: {bucket}")
    return bucket


def read_jsonl(lines: Iterable[tuple[int, str]], ctx: FileContext) -> Iterator[LineResult]:
    def parse(number: int, obj: dict[str, Any], raw: str) -> LineResult:
        return parse_record(number, obj, ctx)

    yield from json_lines(lines, ctx, classify_object, parse)


def read_csv(lines: Iterable[tuple[int, str]], ctx: FileContext) -> Iterator[LineResult]:
    """The first non-blank line is the header (counted ``skipped``); then one row a line."""
    header: list[str] | None = None
    for number, text in lines:
        if not text.strip():
            yield LineResult(number, "skipped")
            continue
        try:
            row = next(csv.reader([text]))
        except csv.Error as exc:
            yield rejected(number, f"bad CSV: {exc}", text)
            continue
        if header is None:
            header = [name.strip() for name in row]
            missing = [name for name in ("received_at", "contact_id") if name not in header]
            unknown = [name for name in header if name not in COLUMNS]
            if missing or unknown:
                reason = f"bad CSV header: missing {missing}, {len(unknown)} unknown column(s)"
                yield rejected(number, reason, text)
                header = None
                continue
            yield LineResult(number, "skipped")
            continue
        if len(row) != len(header):
            yield rejected(number, f"expected {len(header)} CSV fields, got {len(row)}", text)
            continue
        try:
            yield parse_record(number, dict(zip(header, row, strict=True)), ctx)
        except STRUCTURE_ERRORS as exc:
            reason = exc.reason if isinstance(exc, LineError) else malformed("row", exc)
            yield rejected(number, reason, text)
