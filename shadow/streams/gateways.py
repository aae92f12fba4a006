"""Z-API and Twilio webhooks: one JSON record a line.

Guarantees:

1. Z-API ``ReceivedCallback``: ``phone``, ``messageId``, ``momment`` in milliseconds (a value
   in seconds is a bad line), ``fromMe`` outbound, ``isGroup`` skipped and counted; status and
   delivery callbacks are receipts, whatever their status; presence and connection callbacks
   are skipped. Events (docs/capture.md): ``isEdit`` an edit, ``notification`` ``REVOKE`` a
   deletion, any other ``notification`` a system notice, ``waitingMessage`` an error; a content
   object or a callback no documentation names is an unknown type.
2. Twilio: form fields urlencoded in ``body`` or as JSON (in ``body`` or at the top level);
   the payload has no timestamp, so a line without ``received_at`` is a bad line. Status
   callbacks (``MessageStatus`` without ``Body``) are receipts; a ``MessageType`` no
   documentation names is an unknown type.
3. The bot's own edits, deletions and placeholders are skipped; notices are counted whoever
   the gateway says sent them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import parse_qs

from shadow.common import describe_value
from shadow.streams.base import (
    FileContext,
    LineError,
    LineResult,
    Reader,
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
    time_to_us,
)
from shadow.streams.record import Event, EventKind, InboundRecord, OutboundRecord

_ZAPI_RECEIPTS = frozenset({"MessageStatusCallback", "DeliveryCallback"})
_ZAPI_OTHER = frozenset({"PresenceChatCallback", "ConnectedCallback", "DisconnectedCallback"})
#: Z-API payload keys -> (type, text field) [F8].
_ZAPI_TYPES: tuple[tuple[str, str, str], ...] = (
    ("text", "text", "message"),
    ("image", "image", "caption"),
    ("video", "video", "caption"),
    ("audio", "audio", ""),
    ("document", "document", "caption"),
    ("sticker", "sticker", ""),
    ("location", "location", ""),
    ("contact", "contacts", ""),
    ("reaction", "reaction", "value"),
    ("buttonsResponseMessage", "button", "message"),
    ("listResponseMessage", "interactive", "title"),
)
#: Z-API content objects of customer messages the harness does not model: ``unsupported``.
_ZAPI_UNSUPPORTED = frozenset(
    {
        "hydratedTemplate",
        "pixKeyMessage",
        "buttonsMessage",
        "carouselMessage",
        "requestPayment",
        "sendPayment",
        "product",
        "order",
        "poll",
        "pollVote",
        "reviewAndPay",
        "reviewOrder",
        "newsletterAdminInvite",
        "pinMessage",
        "event",
        "eventResponse",
    }
)
#: Objects of the callback itself, beside the content.
_ZAPI_ENVELOPE = frozenset(
    {"externalAdReply", "statusImage", "broadcastRecipients", "notificationParameters"}
)


def _zapi_event(obj: dict[str, Any]) -> tuple[EventKind, str] | None:
    """The event a ``ReceivedCallback`` is (guarantee 1), with its name, or None."""
    notification = obj.get("notification")
    if isinstance(notification, str) and notification:
        return ("revoke" if notification == "REVOKE" else "system"), notification
    if obj.get("waitingMessage") is True:
        return "error", "waitingMessage"
    if obj.get("isEdit") is True:
        return "edit", "isEdit"
    return None


def _zapi_key(obj: dict[str, Any]) -> str:
    """What identifies a ``ReceivedCallback``'s non-text content (content.py): the media's
    URL (Z-API gives no hash), a location's degrees, a reaction's ``referencedMessage`` and
    ``value``, the chosen button's or list row's id."""
    for key in ("image", "video", "audio", "document", "sticker"):
        if isinstance(obj.get(key), dict):
            return media_key(None, obj[key].get(f"{key}Url"))
    body = obj.get("location")
    if isinstance(body, dict):
        return geo_key(body.get("latitude"), body.get("longitude"))
    body = obj.get("reaction")
    if isinstance(body, dict):
        target = body.get("referencedMessage")
        ident = target.get("messageId") if isinstance(target, dict) else None
        return reaction_key(ident, body.get("value"))
    body = obj.get("buttonsResponseMessage")
    if isinstance(body, dict):
        return reply_key(body.get("buttonId"))
    body = obj.get("listResponseMessage")
    return reply_key(body.get("selectedRowId")) if isinstance(body, dict) else ""


def _zapi_content(obj: dict[str, Any]) -> tuple[str, str, str]:
    """``(type, text, unknown object name)`` of a ``ReceivedCallback``."""
    for key, canonical, text_field in _ZAPI_TYPES:
        if isinstance(obj.get(key), dict):
            kind, text = canonical, opt_str(obj[key], text_field) if text_field else ""
            if key == "audio" and obj[key].get("ptt"):
                kind = "voice"
            return kind, text, ""
    if any(key in obj for key in _ZAPI_UNSUPPORTED):
        return "unsupported", "", ""
    unknown = [k for k, v in obj.items() if isinstance(v, dict) and k not in _ZAPI_ENVELOPE]
    return "unsupported", "", unknown[0] if unknown else ""


def parse_zapi(number: int, obj: dict[str, Any], ctx: FileContext) -> LineResult:
    callback = obj.get("type", "ReceivedCallback")
    if callback in _ZAPI_RECEIPTS:
        ids = obj.get("ids")
        return classify_items(number, [], [], len(ids) if isinstance(ids, list) else 1, 0)
    if callback in _ZAPI_OTHER:
        return LineResult(number, "skipped")
    if callback != "ReceivedCallback":
        return classify_items(number, [], [], 0, 0, [Event("unknown_type", str(callback))])
    if obj.get("isGroup") is True:
        return classify_items(number, [], [], 0, 1)
    if obj.get("isNewsletter") is True or obj.get("broadcast") is True:
        return LineResult(number, "skipped")
    outgoing = obj.get("fromMe") is True
    kind, text, unknown = _zapi_content(obj)
    found = _zapi_event(obj) or (("unknown_type", unknown) if unknown and not outgoing else None)
    if found is not None:
        return _zapi_events(number, obj, ctx, found, kind, text)
    contact = contact_digits(need(obj, "phone"), ctx.options.merge_br_ninth_digit, "phone")
    at = millis_to_us(need(obj, "momment"), "momment")
    if outgoing:
        out = OutboundRecord(contact, at, None, text, ctx.file, number)
        return LineResult(number, "outbound", outbound=[out])
    message_id = need_id(obj.get("messageId"), "messageId")
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
        content_key=_zapi_key(obj) if kind != "text" else "",
    )
    return LineResult(number, "inbound", inbound=[record])


def _zapi_events(
    number: int,
    obj: dict[str, Any],
    ctx: FileContext,
    found: tuple[EventKind, str],
    kind: str,
    text: str,
) -> LineResult:
    """An edit names the message it changes by ``messageId``, a deletion by
    ``referenceMessageId``: their own ids are made from it and the time."""
    what, name = found
    if obj.get("fromMe") is True and what != "system":
        return LineResult(number, "skipped")
    at = maybe_time(millis_to_us, obj.get("momment"), "momment")
    ident = obj.get("messageId")
    message_id = ident if isinstance(ident, str) else ""
    refers_to = ""
    if what in ("edit", "revoke"):
        reference = obj.get("referenceMessageId") if what == "revoke" else ident
        refers_to = reference if isinstance(reference, str) else message_id
        message_id = f"{refers_to}:{what}:{at}" if refers_to and at is not None else ""
    if what != "edit":
        kind, text = "unsupported", ""
    item = event(
        what,
        name,
        ctx,
        number,
        message_id,
        maybe_contact(obj.get("phone"), ctx.options.merge_br_ninth_digit),
        at,
        kind,
        text,
        refers_to,
    )
    return classify_items(number, [], [], 0, 0, [item])


def _twilio_fields(obj: dict[str, Any]) -> dict[str, str]:
    body = obj.get("body", obj)
    if isinstance(body, str):
        parsed = parse_qs(body, keep_blank_values=True)
        return {key: values[-1] for key, values in parsed.items()}
    if not isinstance(body, dict):
        raise LineError("body is neither urlencoded nor an object")
    return {str(k): v if isinstance(v, str) else str(v) for k, v in body.items() if v is not None}


_TWILIO_TYPES = frozenset(
    {"text", "image", "video", "audio", "document", "sticker", "location"}
    | {"button", "interactive", "reaction", "contacts"}
)


def _twilio_type(fields: dict[str, str]) -> str | None:
    """The canonical type, or None for a ``MessageType`` no documentation names."""
    declared = fields.get("MessageType", "")
    if declared in _TWILIO_TYPES:
        return declared
    if declared and declared not in ("unknown", "unsupported"):
        return None
    if fields.get("ButtonText"):
        return "button"
    if fields.get("Latitude"):
        return "location"
    try:
        media = int(fields.get("NumMedia", "0") or "0")
    except ValueError:
        raise LineError(
            f"NumMedia is not a number: {describe_value(fields.get('NumMedia'))}"
        ) from None
    if media > 0:
        mime = fields.get("MediaContentType0", "")
        major = mime.split("/", 1)[0]
        return major if major in ("image", "video", "audio") else "document"
    return "text" if not declared else "unsupported"


def _twilio_key(fields: dict[str, str], kind: str) -> str:
    """What identifies a Twilio message's non-text content (content.py): a location's
    ``Latitude``/``Longitude``, a button's ``ButtonPayload``, a list reply's ``ListId``, else
    the first media's ``MediaUrl0`` (Twilio gives no hash)."""
    if kind == "location":
        return geo_key(fields.get("Latitude"), fields.get("Longitude"))
    if kind == "button":
        return reply_key(fields.get("ButtonPayload"))
    if kind == "interactive":
        return reply_key(fields.get("ListId"))
    return "" if kind == "text" else media_key(None, fields.get("MediaUrl0"))


def parse_twilio(number: int, obj: dict[str, Any], ctx: FileContext) -> LineResult:
    fields = _twilio_fields(obj)
    if "MessageStatus" in fields and "Body" not in fields:
        return classify_items(number, [], [], 1, 0)
    if obj.get("received_at") is None:
        raise LineError("no received_at: Twilio payloads carry no timestamp")
    at = time_to_us(obj["received_at"], "received_at")
    source = fields.get("WaId") or fields.get("From")
    contact = contact_digits(source, ctx.options.merge_br_ninth_digit, "WaId/From")
    message_id = need_id(fields.get("MessageSid") or fields.get("SmsMessageSid"), "MessageSid")
    kind = _twilio_type(fields)
    if kind is None:
        name = fields["MessageType"]
        item = event("unknown_type", name, ctx, number, message_id, contact, at)
        return classify_items(number, [], [], 0, 0, [item])
    text = fields.get("ButtonText", "") if kind == "button" else fields.get("Body", "")
    record = InboundRecord(
        message_id,
        contact,
        at,
        None,
        kind,
        text,
        "",
        "",
        None,
        ctx.file,
        number,
        content_key=_twilio_key(fields, kind),
    )
    return LineResult(number, "inbound", inbound=[record])


def _reader(fmt: str) -> Reader:
    parsers = {"zapi": parse_zapi, "twilio": parse_twilio}
    parse_one = parsers[fmt]

    def read(lines: Iterable[tuple[int, str]], ctx: FileContext) -> Iterator[LineResult]:
        def parse(number: int, obj: dict[str, Any], raw: str) -> LineResult:
            return parse_one(number, obj, ctx)

        yield from json_lines(lines, ctx, classify_object, parse)

    return read


read_zapi = _reader("zapi")
read_twilio = _reader("twilio")
