"""WhatsApp Cloud API (Meta) webhooks: one POST body a line, or a receiver's wrapper.

Guarantees:

1. Every ``entry[].changes[].value.messages[]`` becomes one inbound record, in body order; a
   POST may carry several entries, changes and messages from different contacts. What is not a
   new customer message is an event (docs/capture.md): ``edit``, ``revoke``, ``system``, a
   message without its content object when ``errors`` explain it (and ``value.errors`` alone)
   ``error``, a type no documentation names ``unknown_type``. A message with ``group_id`` is a
   group message: skipped and counted.
2. ``value.statuses[]`` are counted as receipts, whatever their status (``played`` and group
   statuses included), and never become inbound records.
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

from shadow.streams.base import (
    FileContext,
    LineError,
    LineResult,
    classify_items,
    event,
    json_lines,
    need,
    need_dict,
    need_list,
    opt_str,
)
from shadow.streams.content import geo_key, media_key, reaction_key, reply_key
from shadow.streams.detect import classify_object
from shadow.streams.fields import (
    contact_digits,
    maybe_contact,
    maybe_time,
    seconds_to_us,
    time_to_us,
)
from shadow.streams.record import KNOWN_TYPES, Event, EventKind, InboundRecord

#: Cloud API types outside the canonical list, mapped onto it [F6].
_TYPE_ALIASES = {
    "unknown": "unsupported",
    "order": "unsupported",
    "request_welcome": "unsupported",
    "ephemeral": "unsupported",
}
#: Message types that are events, not new customer messages (docs/capture.md).
_EVENT_TYPES: dict[str, EventKind] = {"edit": "edit", "revoke": "revoke", "system": "system"}
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


def content_key(message: dict[str, Any], kind: str) -> str:
    """What identifies a Cloud API message's non-text content (content.py): the media's
    ``sha256`` (else its ``id``), a location's degrees, the chosen reply's ``id`` or a quick
    reply button's ``payload``, a reaction's ``message_id`` and ``emoji``."""
    body = message.get("audio" if kind == "voice" else kind)
    if not isinstance(body, dict):
        return ""
    if kind in (*_MEDIA, "voice"):
        return media_key(body.get("sha256"), body.get("id"))
    if kind == "location":
        return geo_key(body.get("latitude"), body.get("longitude"))
    if kind == "interactive":
        for reply in ("button_reply", "list_reply"):
            if isinstance(body.get(reply), dict):
                return reply_key(body[reply].get("id"))
        return ""
    if kind == "button":
        return reply_key(body.get("payload"))
    if kind == "reaction":
        return reaction_key(body.get("message_id"), body.get("emoji"))
    return ""


def canonical_type(message: dict[str, Any]) -> str | None:
    """The canonical type of a message, or None when no documentation names its type."""
    kind = need(message, "type", "messages[].type")
    if not isinstance(kind, str):
        raise LineError("messages[].type is not a string")
    kind = _TYPE_ALIASES.get(kind, kind)
    if kind == "audio" and isinstance(message.get("audio"), dict) and message["audio"].get("voice"):
        return "voice"
    return kind if kind in KNOWN_TYPES else None


def _event(
    number: int,
    message: dict[str, Any],
    value: dict[str, Any],
    arrival: int | None,
    ctx: FileContext,
) -> Event | None:
    """The message as an event, or None when it is a new customer message."""
    declared = message.get("type")
    if not isinstance(declared, str):
        return None
    kind: EventKind | None = _EVENT_TYPES.get(declared)
    canonical = None if kind else canonical_type(message)
    content = message.get(declared)
    explained = bool(message.get("errors") or value.get("errors"))
    if kind is None and canonical is None:
        kind = "unknown_type"
    elif kind is None and canonical != "unsupported" and content is None and explained:
        kind = "error"
    if kind is None:
        return None
    name = declared
    if kind == "system" and isinstance(content, dict) and isinstance(content.get("type"), str):
        name = content["type"]
    sent_at = maybe_time(seconds_to_us, message.get("timestamp"), "timestamp")
    message_id = message.get("id")
    message_type, text, refers_to = "unsupported", "", ""
    if isinstance(content, dict) and kind in ("edit", "revoke"):
        original = content.get("original_message_id")
        refers_to = original if isinstance(original, str) else ""
        edited = content.get("message")
        if kind == "edit" and isinstance(edited, dict):
            try:
                message_type = canonical_type(edited) or "unsupported"
                text = message_text(edited, message_type)
            except LineError:
                message_type, text = "unsupported", ""
    return event(
        kind,
        name,
        ctx,
        number,
        message_id if isinstance(message_id, str) else "",
        maybe_contact(message.get("from"), ctx.options.merge_br_ninth_digit),
        sent_at if arrival is None else arrival,
        message_type,
        text,
        refers_to,
        sent_at,
    )


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
    events: list[Event] = []
    receipts = groups = 0
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
            messages = value.get("messages") or []
            errors = value.get("errors")
            if not messages and not statuses and isinstance(errors, list):
                events.extend(Event("error", _error_name(error)) for error in errors)
            for message in messages:
                if not isinstance(message, dict):
                    raise LineError("messages[] is not an object")
                if message.get("group_id") is not None:
                    groups += 1
                    continue
                item = _event(number, message, value, arrival, ctx)
                if item is not None:
                    events.append(item)
                    continue
                sent_at = seconds_to_us(
                    need(message, "timestamp", "messages[].timestamp"), "timestamp"
                )
                message_id = need(message, "id", "messages[].id")
                if not isinstance(message_id, str) or not message_id:
                    raise LineError("messages[].id is not a string")
                kind = canonical_type(message) or "unsupported"
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
                        content_key=content_key(message, kind),
                    )
                )
    return classify_items(number, inbound, [], receipts, groups, events)


def _error_name(error: Any) -> str:
    code = error.get("code") if isinstance(error, dict) else None
    return str(code) if code is not None else "error"


def read(lines: Iterable[tuple[int, str]], ctx: FileContext) -> Iterator[LineResult]:
    def parse(number: int, obj: dict[str, Any], raw: str) -> LineResult:
        return parse_object(number, obj, ctx)

    yield from json_lines(lines, ctx, classify_object, parse)
