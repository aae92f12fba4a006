"""WhatsApp Cloud API (Meta) webhooks: one POST body a line, or a receiver's wrapper.

Guarantees:

1. Every ``entry[].changes[].value.messages[]`` becomes one inbound record, in body order; a
   POST may carry several entries, changes and messages from different contacts.
2. ``value.statuses[]`` are counted as receipts and never become inbound records.
3. ``received_at`` is the wrapper's own arrival time when present (a redelivery keeps its
   original ``timestamp``), else ``messages[].timestamp``; ``sent_at`` is always the latter.
4. Redeliveries (the same ``wamid``) are kept as separate records; the accounting counts them.
5. With a wrapper's ``headers`` and an app secret, ``X-Hub-Signature-256`` must verify over the
   raw body, else the line is rejected (checked before parsing: signatures.py).
6. One bad message rejects its whole line (a line has one kind) [F5].
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from shadow.common import describe_value
from shadow.streams.base import (
    FileContext,
    LineError,
    LineResult,
    classify_items,
    json_lines,
    need,
    need_dict,
    need_list,
    opt_str,
)
from shadow.streams.detect import classify_object
from shadow.streams.fields import contact_digits, seconds_to_us, time_to_us
from shadow.streams.record import KNOWN_TYPES, InboundRecord

#: Cloud API types outside the canonical list, mapped onto it [F6].
_TYPE_ALIASES = {
    "unknown": "unsupported",
    "order": "unsupported",
    "system": "unsupported",
    "request_welcome": "unsupported",
    "ephemeral": "unsupported",
}
_MEDIA = ("image", "video", "document", "sticker", "audio")


def message_text(message: dict[str, Any], kind: str) -> str:
    """The text a coordinator would see for one Cloud API message."""
    if kind == "text":
        return opt_str(need_dict(message, "text"), "body")
    if kind in _MEDIA:
        return opt_str(message.get(kind) or {}, "caption")
    if kind == "interactive":
        interactive = need_dict(message, "interactive")
        for reply in ("button_reply", "list_reply"):
            if isinstance(interactive.get(reply), dict):
                return opt_str(interactive[reply], "title")
        return ""
    if kind == "button":
        return opt_str(need_dict(message, "button"), "text")
    if kind == "reaction":
        return opt_str(need_dict(message, "reaction"), "emoji")
    return ""


def message_type(message: dict[str, Any]) -> str:
    kind = need(message, "type", "messages[].type")
    if not isinstance(kind, str):
        raise LineError("messages[].type is not a string")
    kind = _TYPE_ALIASES.get(kind, kind)
    if kind == "audio" and isinstance(message.get("audio"), dict) and message["audio"].get("voice"):
        return "voice"
    if kind not in KNOWN_TYPES:
        raise LineError(f"unknown type: {describe_value(kind)}")
    return kind


def parse_object(number: int, obj: dict[str, Any], ctx: FileContext) -> LineResult:
    arrival: int | None = None
    body: Any = obj
    if "body" in obj and "entry" not in obj:
        body = obj["body"]
        if obj.get("received_at") is not None:
            arrival = time_to_us(obj["received_at"], "received_at")
        if isinstance(body, str):
            try:
                body = json.loads(body)
            except (ValueError, RecursionError):
                raise LineError("body is not JSON") from None
    if not isinstance(body, dict):
        raise LineError("body is not a JSON object")
    inbound: list[InboundRecord] = []
    receipts = 0
    merge = ctx.options.merge_br_ninth_digit
    for entry in need_list(body, "entry"):
        for change in need_list(entry, "changes", "entry[].changes"):
            if not isinstance(change, dict):
                raise LineError("entry[].changes[] is not an object")
            value = change.get("value")
            if change.get("field", "messages") != "messages" or not isinstance(value, dict):
                continue
            statuses = value.get("statuses") or []
            if not isinstance(statuses, list):
                raise LineError("value.statuses is not a list")
            receipts += len(statuses)
            for message in value.get("messages") or []:
                if not isinstance(message, dict):
                    raise LineError("messages[] is not an object")
                sent_at = seconds_to_us(
                    need(message, "timestamp", "messages[].timestamp"), "timestamp"
                )
                message_id = need(message, "id", "messages[].id")
                if not isinstance(message_id, str) or not message_id:
                    raise LineError("messages[].id is not a string")
                kind = message_type(message)
                inbound.append(
                    InboundRecord(
                        message_id,
                        contact_digits(need(message, "from", "messages[].from"), merge),
                        sent_at if arrival is None else arrival,
                        sent_at,
                        kind,
                        message_text(message, kind),
                        "",
                        "",
                        None,
                        ctx.file,
                        number,
                    )
                )
    return classify_items(number, inbound, [], receipts, 0)


def read(lines: Iterable[tuple[int, str]], ctx: FileContext) -> Iterator[LineResult]:
    def parse(number: int, obj: dict[str, Any], raw: str) -> LineResult:
        return parse_object(number, obj, ctx)

    yield from json_lines(lines, ctx, classify_object, parse)
