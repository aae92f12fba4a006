"""Evolution API (Baileys-based) webhooks: ``{"event": "messages.upsert", "data": {...}}`` a line.

Guarantees:

1. ``data.key.fromMe`` lines are the bot's own sends echoed back: outbound, never inbound; the
   bot's own edits, deletions and notices are skipped.
2. Group chats (``@g.us``) are skipped and counted; broadcasts and newsletters are skipped.
3. With ``key.addressingMode == "lid"`` (or a ``@lid`` jid) the phone comes from
   ``key.remoteJidAlt``; a message from a lid without it is a bad line (no phone number to key
   on); an event without it is counted but cannot be delivered.
4. ``messageTimestamp`` is seconds, as a number, a string, or a protobuf Long ``{low, high}``.
   ``date_time`` (server local time marked UTC) is ignored.
5. What a message is comes from ``baileys.content`` (wrappers, edits, deletions, notices); the
   events ``messages.edited`` (an edit, or the protocol message it carries),
   ``messages.update`` with status ``DELETED`` and ``messages.delete`` (deletions) are events
   too, and so is an event no documentation names (``unknown_type``; docs/capture.md).
6. ``messages.update`` acks count as receipts, whatever their status; the other documented
   events are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from shadow.streams.baileys import Content, key_id, message_content, protocol_content, stub_content
from shadow.streams.base import (
    FileContext,
    LineError,
    LineResult,
    classify_items,
    event,
    json_lines,
    need,
    need_dict,
)
from shadow.streams.detect import classify_object
from shadow.streams.fields import contact_digits, maybe_time, seconds_to_us
from shadow.streams.record import Event, InboundRecord, OutboundRecord

_MESSAGE_EVENTS = frozenset({"messages.upsert", "send.message"})
#: Evolution's documented events (``Events`` in src/api/types/wa.types.ts), ``_``/``-`` as ``.``.
_OTHER_EVENTS = frozenset(
    {
        "application.startup",
        "instance.create",
        "instance.delete",
        "qrcode.updated",
        "connection.update",
        "status.instance",
        "messages.set",
        "send.message.update",
        "contacts.set",
        "contacts.upsert",
        "contacts.update",
        "presence.update",
        "chats.set",
        "chats.update",
        "chats.upsert",
        "chats.delete",
        "groups.upsert",
        "groups.update",
        "group.participants.update",
        "call",
        "typebot.start",
        "typebot.change.status",
        "labels.edit",
        "labels.association",
        "creds.update",
        "messaging.history.set",
        "remove.instance",
        "logout.instance",
        "new.token",
        "new.jwt.token",
        "errors",
        "errors.webhook",
    }
)


def _timestamp(value: Any) -> int:
    if isinstance(value, dict) and "low" in value:
        low, high = value.get("low"), value.get("high", 0)
        if not isinstance(low, int) or not isinstance(high, int):
            raise LineError("messageTimestamp is not a number")
        value = (high << 32) + (low & 0xFFFFFFFF)
    return seconds_to_us(value, "messageTimestamp")


def _contact(key: dict[str, Any], jid: str, ctx: FileContext) -> str:
    """The phone of a key (guarantee 3); a lid without ``remoteJidAlt`` is a LineError."""
    if key.get("addressingMode") == "lid" or jid.endswith("@lid"):
        alternative = key.get("remoteJidAlt")
        if not isinstance(alternative, str) or not alternative:
            raise LineError("lid address without key.remoteJidAlt")
        jid = alternative
    return contact_digits(jid, ctx.options.merge_br_ninth_digit, "data.key.remoteJid")


def _event_contact(key: dict[str, Any], ctx: FileContext) -> str:
    jid = key.get("remoteJid")
    if not isinstance(jid, str):
        return ""
    try:
        return _contact(key, jid, ctx)
    except LineError:
        return ""


class _Items:
    __slots__ = ("events", "groups", "inbound", "outbound", "receipts")

    def __init__(self) -> None:
        self.inbound: list[InboundRecord] = []
        self.outbound: list[OutboundRecord] = []
        self.events: list[Event] = []
        self.groups = 0
        self.receipts = 0


def _add_event(
    acc: _Items,
    ctx: FileContext,
    number: int,
    key: dict[str, Any],
    content: Content,
    message_id: str,
    at: int | None,
) -> None:
    if content.kind == "message":
        return
    """An event of a key: a group's is counted as a group, the bot's own is skipped."""
    jid = key.get("remoteJid")
    if isinstance(jid, str) and jid.endswith("@g.us"):
        acc.groups += 1
        return
    if key.get("fromMe") is True or (
        isinstance(jid, str) and jid.endswith(("@broadcast", "@newsletter"))
    ):
        return
    if not message_id and content.refers_to and at is not None:
        message_id = f"{content.refers_to}:{content.kind}:{at}"
    acc.events.append(
        event(
            content.kind,
            content.name,
            ctx,
            number,
            message_id,
            _event_contact(key, ctx),
            at,
            content.type,
            content.text,
            content.refers_to,
        )
    )


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
    message = data.get("message")
    content: Content | None
    if isinstance(message, dict):
        declared = data.get("messageType")
        content = message_content(message, declared if isinstance(declared, str) else "")
    elif "messageStubType" in data:
        content = stub_content(data["messageStubType"])
    else:
        raise LineError("missing field data.message")
    if content is None:
        return
    if content.kind != "message":
        at = maybe_time(lambda value, _: _timestamp(value), data.get("messageTimestamp"), "")
        _add_event(acc, ctx, number, key, content, key_id(key), at)
        return
    contact = _contact(key, jid, ctx)
    at = _timestamp(need(data, "messageTimestamp", "data.messageTimestamp"))
    if key.get("fromMe") is True:
        acc.outbound.append(OutboundRecord(contact, at, None, content.text, ctx.file, number))
        return
    message_id = need(key, "id", "data.key.id")
    if not isinstance(message_id, str) or not message_id:
        raise LineError("data.key.id is not a string")
    acc.inbound.append(
        InboundRecord(
            message_id,
            contact,
            at,
            at,
            content.type,
            content.text,
            "",
            "",
            None,
            ctx.file,
            number,
            content_key=content.key,
        )
    )


def _key_of(data: dict[str, Any], otherwise: dict[str, Any]) -> dict[str, Any]:
    """``data.key``, or ``otherwise`` when the payload is the key itself (or has none)."""
    key = data.get("key")
    return key if isinstance(key, dict) else otherwise


def _update(number: int, data: Any, ctx: FileContext, acc: _Items) -> None:
    """A ``messages.update`` item: an ack (receipt), or a deletion (status ``DELETED``)."""
    if not isinstance(data, dict):
        acc.receipts += 1
        return
    update = data.get("update")
    status = data.get("status", update.get("status") if isinstance(update, dict) else None)
    if status != "DELETED":
        acc.receipts += 1
        return
    key = _key_of(data, data)
    original = data.get("keyId") or key_id(key)
    deleted = Content("revoke", name="messages.update DELETED", refers_to=str(original or ""))
    _add_event(acc, ctx, number, key, deleted, "", None)


def _deleted(number: int, data: Any, ctx: FileContext, acc: _Items) -> None:
    """A ``messages.delete``: the key of the deleted message, or its stored row."""
    if not isinstance(data, dict):
        raise LineError("data is not an object")
    key = _key_of(data, data)
    deleted = Content("revoke", name="messages.delete", refers_to=key_id(key))
    _add_event(acc, ctx, number, key, deleted, "", None)


def _edited_event(number: int, data: Any, ctx: FileContext, acc: _Items) -> None:
    """A ``messages.edited``: the ``protocolMessage`` itself (edits, and any other type)."""
    if not isinstance(data, dict):
        raise LineError("data is not an object")
    key = _key_of(data, {})
    content = protocol_content(data)
    _add_event(acc, ctx, number, key, content, "", content.at)


def parse_object(number: int, obj: dict[str, Any], ctx: FileContext) -> LineResult:
    event_name = need(obj, "event")
    if not isinstance(event_name, str):
        raise LineError("event is not a string")
    name = event_name.lower().replace("_", ".").replace("-", ".")
    data = obj.get("data")
    items = data if isinstance(data, list) else [data]
    acc = _Items()
    if name in _MESSAGE_EVENTS:
        handle = _item
    elif name == "messages.update":
        handle = _update
    elif name == "messages.delete":
        handle = _deleted
    elif name == "messages.edited":
        handle = _edited_event
    elif name in _OTHER_EVENTS:
        return LineResult(number, "skipped")
    else:
        return classify_items(number, [], [], 0, 0, [Event("unknown_type", event_name)])
    for item in items:
        handle(number, item, ctx, acc)
    return classify_items(number, acc.inbound, acc.outbound, acc.receipts, acc.groups, acc.events)


def read(lines: Iterable[tuple[int, str]], ctx: FileContext) -> Iterator[LineResult]:
    def parse(number: int, obj: dict[str, Any], raw: str) -> LineResult:
        return parse_object(number, obj, ctx)

    yield from json_lines(lines, ctx, classify_object, parse)
