"""Evolution API (Baileys-based) webhooks: ``{"event": "messages.upsert", "data": {...}}`` a line.

Guarantees:

1. ``data.key.fromMe`` lines are the bot's own sends echoed back: outbound, never inbound.
2. Group chats (``@g.us``) are skipped and counted; broadcasts and newsletters are skipped.
3. With ``key.addressingMode == "lid"`` (or a ``@lid`` jid) the phone comes from
   ``key.remoteJidAlt``; a lid without it is a bad line (no phone number to key on).
4. ``messageTimestamp`` is seconds, as a number, a string, or a protobuf Long ``{low, high}``.
   ``date_time`` (server local time marked UTC) is ignored.
5. ``messages.update`` (delivery/read acks) count as receipts; other events are skipped.
   Protocol and stub messages (deletions, edits, key exchanges) are skipped [F7].
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from shadow.streams.base import (
    FileContext,
    LineError,
    LineResult,
    classify_items,
    json_lines,
    need,
    need_dict,
    opt_str,
)
from shadow.streams.detect import classify_object
from shadow.streams.fields import contact_digits, seconds_to_us
from shadow.streams.record import InboundRecord, OutboundRecord

#: Baileys message keys -> canonical types; the caption/text field of each.
_TYPES: dict[str, tuple[str, str]] = {
    "conversation": ("text", ""),
    "extendedTextMessage": ("text", "text"),
    "imageMessage": ("image", "caption"),
    "videoMessage": ("video", "caption"),
    "ptvMessage": ("video", "caption"),
    "audioMessage": ("audio", ""),
    "documentMessage": ("document", "caption"),
    "documentWithCaptionMessage": ("document", ""),
    "stickerMessage": ("sticker", ""),
    "locationMessage": ("location", ""),
    "liveLocationMessage": ("location", ""),
    "contactMessage": ("contacts", ""),
    "contactsArrayMessage": ("contacts", ""),
    "reactionMessage": ("reaction", "text"),
    "buttonsResponseMessage": ("button", "selectedDisplayText"),
    "templateButtonReplyMessage": ("button", "selectedDisplayText"),
    "listResponseMessage": ("interactive", "title"),
    "interactiveResponseMessage": ("interactive", ""),
}
_NOT_MESSAGES = frozenset(
    {"protocolMessage", "senderKeyDistributionMessage", "messageContextInfo", "editedMessage"}
)
_MESSAGE_EVENTS = frozenset({"messages.upsert", "send.message"})


def _timestamp(value: Any) -> int:
    if isinstance(value, dict) and "low" in value:
        low, high = value.get("low"), value.get("high", 0)
        if not isinstance(low, int) or not isinstance(high, int):
            raise LineError("messageTimestamp is not a number")
        value = (high << 32) + (low & 0xFFFFFFFF)
    return seconds_to_us(value, "messageTimestamp")


def _content(message: dict[str, Any], declared: str) -> tuple[str, str] | None:
    """``(type, text)`` of a Baileys message, or None when it is not a user message."""
    names = [declared] if declared in _TYPES else [k for k in message if k in _TYPES]
    if not names:
        if all(key in _NOT_MESSAGES for key in message):
            return None
        return "unsupported", ""
    name = names[0]
    kind, text_field = _TYPES[name]
    body = message.get(name)
    if name == "conversation":
        if not isinstance(body, str):
            raise LineError("message.conversation is not a string")
        return kind, body
    if name == "audioMessage" and isinstance(body, dict) and body.get("ptt"):
        return "voice", ""
    if name == "documentWithCaptionMessage" and isinstance(body, dict):
        inner = body.get("message")
        document = inner.get("documentMessage") if isinstance(inner, dict) else None
        return kind, opt_str(document or {}, "caption")
    return kind, opt_str(body or {}, text_field) if text_field else ""


def _item(number: int, data: Any, ctx: FileContext, acc: _Items) -> None:
    if not isinstance(data, dict):
        raise LineError("data is not an object")
    key = need_dict(data, "key", "data.key")
    jid = need(key, "remoteJid", "data.key.remoteJid")
    if not isinstance(jid, str):
        raise LineError("data.key.remoteJid is not a string")
    if jid.endswith("@g.us"):
        acc.groups += 1
        return
    if jid.endswith(("@broadcast", "@newsletter")):
        return
    if key.get("addressingMode") == "lid" or jid.endswith("@lid"):
        jid = key.get("remoteJidAlt")
        if not isinstance(jid, str) or not jid:
            raise LineError("lid address without key.remoteJidAlt")
    contact = contact_digits(jid, ctx.options.merge_br_ninth_digit, "data.key.remoteJid")
    message = data.get("message")
    if not isinstance(message, dict):
        if "messageStubType" in data:
            return
        raise LineError("missing field data.message")
    declared = data.get("messageType")
    content = _content(message, declared if isinstance(declared, str) else "")
    if content is None:
        return
    kind, text = content
    at = _timestamp(need(data, "messageTimestamp", "data.messageTimestamp"))
    if key.get("fromMe") is True:
        acc.outbound.append(OutboundRecord(contact, at, None, text, ctx.file, number))
        return
    message_id = need(key, "id", "data.key.id")
    if not isinstance(message_id, str) or not message_id:
        raise LineError("data.key.id is not a string")
    acc.inbound.append(
        InboundRecord(message_id, contact, at, at, kind, text, "", "", None, ctx.file, number)
    )


class _Items:
    __slots__ = ("groups", "inbound", "outbound")

    def __init__(self) -> None:
        self.inbound: list[InboundRecord] = []
        self.outbound: list[OutboundRecord] = []
        self.groups = 0


def parse_object(number: int, obj: dict[str, Any], ctx: FileContext) -> LineResult:
    event = need(obj, "event")
    if not isinstance(event, str):
        raise LineError("event is not a string")
    event = event.lower().replace("_", ".")
    data = obj.get("data")
    items = data if isinstance(data, list) else [data]
    if event == "messages.update":
        return classify_items(number, [], [], len(items), 0)
    if event not in _MESSAGE_EVENTS:
        return LineResult(number, "skipped")
    acc = _Items()
    for item in items:
        _item(number, item, ctx, acc)
    return classify_items(number, acc.inbound, acc.outbound, 0, acc.groups)


def read(lines: Iterable[tuple[int, str]], ctx: FileContext) -> Iterator[LineResult]:
    def parse(number: int, obj: dict[str, Any], raw: str) -> LineResult:
        return parse_object(number, obj, ctx)

    yield from json_lines(lines, ctx, classify_object, parse)
