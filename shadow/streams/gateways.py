"""Z-API, Twilio and whatsapp-web.js: the smaller gateways, one JSON record a line.

Guarantees:

1. Z-API ``ReceivedCallback``: ``phone``, ``messageId``, ``momment`` in milliseconds (a value
   in seconds is a bad line), ``fromMe`` outbound, ``isGroup`` skipped and counted; status and
   delivery callbacks are receipts; other callbacks are skipped.
2. Twilio: form fields urlencoded in ``body`` or as JSON (in ``body`` or at the top level);
   the payload has no timestamp, so a line without ``received_at`` is a bad line. Status
   callbacks (``MessageStatus`` without ``Body``) are receipts.
3. whatsapp-web.js: ``id._serialized``, ``from`` (``@g.us`` skipped and counted), ``body``,
   ``timestamp`` (seconds), ``fromMe`` outbound (contact from ``to``), ``type`` (``chat`` is text);
   notification types are skipped.
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
    json_lines,
    need,
    opt_str,
)
from shadow.streams.detect import classify_object
from shadow.streams.fields import contact_digits, millis_to_us, seconds_to_us, time_to_us
from shadow.streams.record import InboundRecord, OutboundRecord

_ZAPI_RECEIPTS = frozenset({"MessageStatusCallback", "DeliveryCallback"})
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


def _string_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise LineError(f"missing field {what}")
    return value


def parse_zapi(number: int, obj: dict[str, Any], ctx: FileContext) -> LineResult:
    callback = obj.get("type", "ReceivedCallback")
    if callback in _ZAPI_RECEIPTS:
        ids = obj.get("ids")
        return classify_items(number, [], [], len(ids) if isinstance(ids, list) else 1, 0)
    if callback != "ReceivedCallback":
        return LineResult(number, "skipped")
    if obj.get("isGroup") is True:
        return classify_items(number, [], [], 0, 1)
    if obj.get("isNewsletter") is True or obj.get("broadcast") is True:
        return LineResult(number, "skipped")
    contact = contact_digits(need(obj, "phone"), ctx.options.merge_br_ninth_digit, "phone")
    at = millis_to_us(need(obj, "momment"), "momment")
    kind, text = "unsupported", ""
    for key, canonical, text_field in _ZAPI_TYPES:
        if isinstance(obj.get(key), dict):
            kind, text = canonical, opt_str(obj[key], text_field) if text_field else ""
            if key == "audio" and obj[key].get("ptt"):
                kind = "voice"
            break
    if obj.get("fromMe") is True:
        out = OutboundRecord(contact, at, None, text, ctx.file, number)
        return LineResult(number, "outbound", outbound=[out])
    message_id = _string_id(obj.get("messageId"), "messageId")
    record = InboundRecord(message_id, contact, at, at, kind, text, "", "", None, ctx.file, number)
    return LineResult(number, "inbound", inbound=[record])


def _twilio_fields(obj: dict[str, Any]) -> dict[str, str]:
    body = obj.get("body", obj)
    if isinstance(body, str):
        parsed = parse_qs(body, keep_blank_values=True)
        return {key: values[-1] for key, values in parsed.items()}
    if not isinstance(body, dict):
        raise LineError("body is neither urlencoded nor an object")
    return {str(k): v if isinstance(v, str) else str(v) for k, v in body.items() if v is not None}


def _twilio_type(fields: dict[str, str]) -> str:
    declared = fields.get("MessageType", "")
    if declared in ("text", "image", "video", "audio", "document", "sticker", "location"):
        return declared
    if declared in ("button", "interactive", "reaction", "contacts"):
        return declared
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


def parse_twilio(number: int, obj: dict[str, Any], ctx: FileContext) -> LineResult:
    fields = _twilio_fields(obj)
    if "MessageStatus" in fields and "Body" not in fields:
        return classify_items(number, [], [], 1, 0)
    if obj.get("received_at") is None:
        raise LineError("no received_at: Twilio payloads carry no timestamp")
    at = time_to_us(obj["received_at"], "received_at")
    source = fields.get("WaId") or fields.get("From")
    contact = contact_digits(source, ctx.options.merge_br_ninth_digit, "WaId/From")
    message_id = _string_id(fields.get("MessageSid") or fields.get("SmsMessageSid"), "MessageSid")
    kind = _twilio_type(fields)
    text = fields.get("ButtonText", "") if kind == "button" else fields.get("Body", "")
    record = InboundRecord(
        message_id, contact, at, None, kind, text, "", "", None, ctx.file, number
    )
    return LineResult(number, "inbound", inbound=[record])


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
_WWEBJS_SYSTEM = frozenset(
    {"e2e_notification", "notification", "notification_template", "gp2", "call_log", "protocol"}
)


def parse_wwebjs(number: int, obj: dict[str, Any], ctx: FileContext) -> LineResult:
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
    if declared in _WWEBJS_SYSTEM or declared == "revoked":
        return LineResult(number, "skipped")
    kind = _WWEBJS_TYPES.get(declared, "unsupported") if isinstance(declared, str) else None
    if kind is None:
        raise LineError("type is not a string")
    contact = contact_digits(peer, ctx.options.merge_br_ninth_digit, "from")
    at = seconds_to_us(need(obj, "timestamp"), "timestamp")
    text = opt_str(obj, "body")
    if outgoing:
        out = OutboundRecord(contact, at, None, text, ctx.file, number)
        return LineResult(number, "outbound", outbound=[out])
    ident = obj.get("id")
    message_id = _string_id(
        ident.get("_serialized") if isinstance(ident, dict) else None, "id._serialized"
    )
    record = InboundRecord(message_id, contact, at, at, kind, text, "", "", None, ctx.file, number)
    return LineResult(number, "inbound", inbound=[record])


def _reader(fmt: str) -> Reader:
    parsers = {"zapi": parse_zapi, "twilio": parse_twilio, "wwebjs": parse_wwebjs}
    parse_one = parsers[fmt]

    def read(lines: Iterable[tuple[int, str]], ctx: FileContext) -> Iterator[LineResult]:
        def parse(number: int, obj: dict[str, Any], raw: str) -> LineResult:
            return parse_one(number, obj, ctx)

        yield from json_lines(lines, ctx, classify_object, parse)

    return read


read_zapi = _reader("zapi")
read_twilio = _reader("twilio")
read_wwebjs = _reader("wwebjs")
