"""whatsapp-web.js: one serialized ``Message`` a line (the client's events are in-process; the
bot logs them).

Guarantees:

1. ``id._serialized``, ``from`` (``@g.us`` skipped and counted), ``body``,
   ``timestamp`` (seconds), ``fromMe`` outbound (contact from ``to``), ``type`` (``chat`` is text).
   An ``event`` field, when the logger adds one, names the client event: ``message_edit`` an
   edit, ``message_revoke_everyone`` (or type ``revoked``) a deletion, ``message_ciphertext``
   (or type ``ciphertext``) an error, notification types a system notice, ``message_ack`` a
   receipt, ``message_reaction`` a reaction; an unknown type or event is an unknown type.
2. The bot's own edits, deletions and placeholders are skipped; notices are counted whoever
   the client says sent them.
"""

from __future__ import annotations

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
    need_id,
    opt_str,
)
from shadow.streams.content import geo_key, media_key, reaction_key, reply_key
from shadow.streams.detect import classify_object
from shadow.streams.fields import (
    contact_digits,
    maybe_contact,
    maybe_time,
    millis_to_us,
    seconds_to_us,
)
from shadow.streams.record import Event, EventKind, InboundRecord, OutboundRecord

_WWEBJS_TYPES = {
    "chat": "text",
    "image": "image",
    "video": "video",
    "audio": "audio",
    "ptt": "voice",
    "document": "document",
    "sticker": "sticker",
    "location": "location",
    "vcard": "contacts",
    "multi_vcard": "contacts",
    "buttons_response": "button",
    "template_button_reply": "button",
    "list_response": "interactive",
    "reaction": "reaction",
}
#: Types of messages the harness does not model: ``unsupported``.
_WWEBJS_UNSUPPORTED = frozenset(
    {
        "album",
        "order",
        "product",
        "payment",
        "poll_creation",
        "groups_v4_invite",
        "list",
        "hsm",
        "interactive",
        "native_flow",
        "oversized",
        "scheduled_event_creation",
        "unknown",
    }
)
#: Notification types: system notices.
_WWEBJS_SYSTEM = frozenset(
    {
        "e2e_notification",
        "notification",
        "notification_template",
        "group_notification",
        "broadcast_notification",
        "gp2",
        "call_log",
        "protocol",
        "debug",
    }
)
#: Client events (``Events`` in whatsapp-web.js) that carry a message, and what each is.
_WWEBJS_EVENTS: dict[str, EventKind | None] = {
    "message": None,
    "message_create": None,
    "message_edit": "edit",
    "message_revoke_everyone": "revoke",
    "message_ciphertext": "error",
    "contact_changed": "system",
}
_WWEBJS_SKIPPED = frozenset({"message_revoke_me"})
_WWEBJS_GROUPS = frozenset(
    {"group_join", "group_leave", "group_update", "group_admin_changed", "group_membership_request"}
)


def _serialized(obj: dict[str, Any]) -> str | None:
    ident = obj.get("id")
    value = ident.get("_serialized") if isinstance(ident, dict) else None
    return value if isinstance(value, str) and value else None


def _wwebjs_reaction(number: int, obj: dict[str, Any], ctx: FileContext) -> LineResult:
    """A ``message_reaction``: a Reaction object (``senderId``, ``reaction``), not a Message."""
    ident = obj.get("id")
    if isinstance(ident, dict) and ident.get("fromMe") is True:
        return LineResult(number, "skipped")
    contact = contact_digits(need(obj, "senderId"), ctx.options.merge_br_ninth_digit, "senderId")
    at = seconds_to_us(need(obj, "timestamp"), "timestamp")
    message_id = need_id(_serialized(obj), "id._serialized")
    text = opt_str(obj, "reaction")
    target = obj.get("msgId")
    key = reaction_key(target.get("_serialized") if isinstance(target, dict) else None, text)
    record = InboundRecord(
        message_id,
        contact,
        at,
        at,
        "reaction",
        text,
        "",
        "",
        None,
        ctx.file,
        number,
        content_key=key,
    )
    return LineResult(number, "inbound", inbound=[record])


def _content_key(obj: dict[str, Any], kind: str) -> str:
    """What identifies a Message's non-text content (content.py): a media file's
    ``_data.filehash`` (else its ``mediaKey``), ``location``'s degrees, the chosen
    ``selectedButtonId`` or ``selectedRowId``."""
    if kind == "location":
        place = obj.get("location")
        if isinstance(place, dict):
            return geo_key(place.get("latitude"), place.get("longitude"))
        return ""
    if kind in ("button", "interactive"):
        return reply_key(obj.get("selectedButtonId") or obj.get("selectedRowId"))
    if kind in ("image", "video", "audio", "voice", "document", "sticker"):
        data = obj.get("_data")
        digest = data.get("filehash") if isinstance(data, dict) else None
        return media_key(digest, obj.get("mediaKey"))
    return ""


def _wwebjs_event(declared: str, client_event: str) -> EventKind | None:
    """The event a message is (guarantee 3), or None for a message."""
    kind = _WWEBJS_EVENTS.get(client_event)
    if kind is not None:
        return kind
    if declared == "revoked":
        return "revoke"
    if declared == "ciphertext":
        return "error"
    if declared in _WWEBJS_SYSTEM:
        return "system"
    if declared in _WWEBJS_TYPES or declared in _WWEBJS_UNSUPPORTED:
        return None
    return "unknown_type"


def parse_wwebjs(number: int, obj: dict[str, Any], ctx: FileContext) -> LineResult:
    client_event = obj.get("event", "message")
    if not isinstance(client_event, str):
        raise LineError("event is not a string")
    if client_event == "message_reaction":
        return _wwebjs_reaction(number, obj, ctx)
    if client_event == "message_ack":
        return classify_items(number, [], [], 1, 0)
    if client_event in _WWEBJS_SKIPPED:
        return LineResult(number, "skipped")
    if client_event in _WWEBJS_GROUPS:
        return classify_items(number, [], [], 0, 1)
    if client_event not in _WWEBJS_EVENTS:
        return classify_items(number, [], [], 0, 0, [Event("unknown_type", client_event)])
    sender = need(obj, "from")
    if not isinstance(sender, str):
        raise LineError("from is not a string")
    outgoing = obj.get("fromMe") is True
    peer = need(obj, "to") if outgoing else sender
    if not isinstance(peer, str):
        raise LineError("to is not a string")
    if peer.endswith("@g.us") or sender.endswith("@g.us"):
        return classify_items(number, [], [], 0, 1)
    if peer.endswith(("@broadcast", "@newsletter")):
        return LineResult(number, "skipped")
    declared = obj.get("type", "chat")
    if not isinstance(declared, str):
        raise LineError("type is not a string")
    what = _wwebjs_event(declared, client_event)
    if what is not None:
        return _wwebjs_events(number, obj, ctx, what, declared, peer)
    kind = _WWEBJS_TYPES.get(declared, "unsupported")
    contact = contact_digits(peer, ctx.options.merge_br_ninth_digit, "from")
    at = seconds_to_us(need(obj, "timestamp"), "timestamp")
    text = opt_str(obj, "body")
    if outgoing:
        out = OutboundRecord(contact, at, None, text, ctx.file, number)
        return LineResult(number, "outbound", outbound=[out])
    message_id = need_id(_serialized(obj), "id._serialized")
    record = InboundRecord(
        message_id,
        contact,
        at,
        at,
        kind,
        text,
        "",
        "",
        None,
        ctx.file,
        number,
        content_key=_content_key(obj, kind),
    )
    return LineResult(number, "inbound", inbound=[record])


def _wwebjs_events(
    number: int, obj: dict[str, Any], ctx: FileContext, what: EventKind, declared: str, peer: str
) -> LineResult:
    """An edit or a deletion names the message it changes by its own id (the Message is that
    message, changed): the delivered message's id is made from it and the time."""
    if obj.get("fromMe") is True and what != "system":
        return LineResult(number, "skipped")
    at = maybe_time(seconds_to_us, obj.get("timestamp"), "timestamp")
    message_id = _serialized(obj) or ""
    kind, text, refers_to = "unsupported", "", ""
    if what in ("edit", "revoke"):
        refers_to = message_id
        if what == "edit":
            at = maybe_time(millis_to_us, obj.get("latestEditSenderTimestampMs"), "ms") or at
            kind = _WWEBJS_TYPES.get(declared, "unsupported")
            body = obj.get("newBody", obj.get("body"))
            text = body if isinstance(body, str) else ""
        message_id = f"{refers_to}:{what}:{at}" if refers_to and at is not None else ""
    item = event(
        what,
        declared if what in ("unknown_type", "system") else what,
        ctx,
        number,
        message_id,
        maybe_contact(peer, ctx.options.merge_br_ninth_digit),
        at,
        kind,
        text,
        refers_to,
    )
    return classify_items(number, [], [], 0, 0, [item])


def read(lines: Iterable[tuple[int, str]], ctx: FileContext) -> Iterator[LineResult]:
    def parse(number: int, obj: dict[str, Any], raw: str) -> LineResult:
        return parse_wwebjs(number, obj, ctx)

    yield from json_lines(lines, ctx, classify_object, parse)
