"""``--format auto``: which format family a record, and a file, belongs to.

Guarantees:

1. ``classify_object`` looks at field names only (docs/capture.md) and never raises; it returns the
   family or None (a record it cannot place, left to the reader to accept or reject).
2. ``detect_format`` decides on the first placeable record among the first ``SAMPLE`` non-blank
   lines; the readers then check every later record, so a file mixing formats stops with the
   line that differs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs

FORMATS: tuple[str, ...] = (
    "shadow",
    "csv",
    "cloud",
    "evolution",
    "zapi",
    "twilio",
    "wwebjs",
    "export",
)
SAMPLE = 200

ZAPI_TYPES = frozenset(
    {
        "ReceivedCallback",
        "MessageStatusCallback",
        "DeliveryCallback",
        "PresenceChatCallback",
        "ConnectedCallback",
        "DisconnectedCallback",
    }
)
_TWILIO_KEYS = ("MessageSid", "SmsMessageSid", "WaId", "AccountSid", "SmsSid")


def _is_twilio_fields(fields: dict[str, Any]) -> bool:
    return any(key in fields for key in _TWILIO_KEYS)


def _classify_body(body: Any) -> str | None:
    if isinstance(body, dict):
        if _is_twilio_fields(body):
            return "twilio"
        if isinstance(body.get("entry"), list) or body.get("object") == "whatsapp_business_account":
            return "cloud"
        return None
    if isinstance(body, str):
        try:
            inner = json.loads(body)
        except (ValueError, RecursionError):
            inner = None
        if isinstance(inner, dict):
            return _classify_body(inner)
        try:
            fields = parse_qs(body, keep_blank_values=True)
        except ValueError:
            return None
        return "twilio" if _is_twilio_fields(fields) else None
    return None


def classify_object(obj: Any) -> str | None:
    """The format family of one parsed JSON record, from its field names (rule 1)."""
    if not isinstance(obj, dict):
        return None
    if "shadow_header" in obj:
        return "shadow"
    if isinstance(obj.get("entry"), list) or obj.get("object") == "whatsapp_business_account":
        return "cloud"
    if "body" in obj:
        family = _classify_body(obj["body"])
        if family is not None:
            return family
    if isinstance(obj.get("event"), str) and "data" in obj:
        return "evolution"
    kind = obj.get("type")
    if (isinstance(kind, str) and kind in ZAPI_TYPES) or ("momment" in obj and "phone" in obj):
        return "zapi"
    if _is_twilio_fields(obj):
        return "twilio"
    ident = obj.get("id")
    if isinstance(ident, dict) and "_serialized" in ident:
        return "wwebjs"
    if "contact_id" in obj and "received_at" in obj:
        return "shadow"
    return None


def _is_csv_header(text: str) -> bool:
    names = [name.strip() for name in text.split(",")]
    return "contact_id" in names and "received_at" in names


def detect_format(lines: Iterable[str]) -> str | None:
    """The format of a file from its first non-blank lines, or None (rule 2)."""
    from shadow.streams.export import is_export_header

    seen = 0
    for text in lines:
        if not text.strip():
            continue
        seen += 1
        if seen > SAMPLE:
            break
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError):
            obj = None
        if obj is not None:
            family = classify_object(obj)
            if family is not None:
                return family
            continue
        if seen == 1 and _is_csv_header(text):
            return "csv"
        if is_export_header(text):
            return "export"
    return None
