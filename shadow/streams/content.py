"""Content keys: what identifies a message's non-text content, as one canonical string.

Guarantees:

1. A key is ``""`` when the capture knows nothing of the content, else ``<kind>:<value>``:
   ``sha256:<digest>`` (the media file's hash, preferred), ``media:<id>`` (the gateway's media
   id or URL), ``geo:<lat>,<long>`` (degrees rounded to ``GEO_DECIMALS`` decimals, about a
   metre: a place sent twice is the same place), ``reply:<id>`` (the id of the button or list
   row a customer chose) and ``reaction:<message id>:<emoji>``.
2. Equal contents give equal keys; a key is a raw value of the capture: it is never written as
   it is (``stream.parquet`` holds its equality class, ``redact`` its keyed HMAC).
"""

from __future__ import annotations

import base64
import math
from typing import Any

#: Decimals a location's degrees are rounded to (1e-5 degree is about 1.1 m).
GEO_DECIMALS = 5


def _text(value: Any) -> str:
    """A field's value as a key part: a non-empty string or number, else ``""``."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int | float):
        return str(value)
    return value.strip() if isinstance(value, str) else ""


def _digest(value: Any) -> str:
    """A hash as a string: as given, or base64 of a byte list (``[12, 200, ...]``) or of a
    serialized Buffer (``{"type": "Buffer", "data": [...]}``, ``{"0": 12, "1": 200, ...}``)."""
    if isinstance(value, dict):
        data = value.get("data")
        if isinstance(data, list):
            value = data
        elif value and all(key.isdigit() for key in value):
            value = [value[key] for key in sorted(value, key=int)]
    if isinstance(value, list):
        if not value or not all(isinstance(b, int) and 0 <= b < 256 for b in value):
            return ""
        return base64.b64encode(bytes(value)).decode("ascii")
    return _text(value)


def media_key(sha256: Any = None, media_id: Any = None) -> str:
    """The key of a media file: its hash when known, else its id (guarantee 1)."""
    digest = _digest(sha256)
    if digest:
        return f"sha256:{digest}"
    ident = _text(media_id)
    return f"media:{ident}" if ident else ""


def geo_key(latitude: Any, longitude: Any) -> str:
    """The key of a place; ``""`` unless both degrees are finite numbers (or numeric text)."""
    try:
        lat, long = float(latitude), float(longitude)
    except (TypeError, ValueError):
        return ""
    if isinstance(latitude, bool) or isinstance(longitude, bool):
        return ""
    if not (math.isfinite(lat) and math.isfinite(long)):
        return ""
    # + 0.0 turns a rounded -0.0 into 0.0: one place, one key
    parts = (f"{round(value, GEO_DECIMALS) + 0.0:.{GEO_DECIMALS}f}" for value in (lat, long))
    return "geo:" + ",".join(parts)


def reply_key(reply_id: Any) -> str:
    """The key of a chosen button or list row."""
    ident = _text(reply_id)
    return f"reply:{ident}" if ident else ""


def reaction_key(target: Any, emoji: Any) -> str:
    """The key of a reaction: the message reacted to and the emoji (``""`` without a target)."""
    ident = _text(target)
    return f"reaction:{ident}:{_text(emoji)}" if ident else ""
