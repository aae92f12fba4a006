"""``shadow redact``: keyed-HMAC pseudonyms that keep every equality a replay depends on.

Guarantees:

1. Without a key (``SHADOW_REDACT_KEY``) nothing is written: ``UsageError`` (exit 3).
2. Contact ids become ``000`` + 12 digits of a keyed HMAC (digits only, never a real number:
   no country has code 000); message ids ``r-`` + 20 hex digits of a keyed HMAC; texts
   ``~r1:<HMAC of the normalized text>:<HMAC of the exact text>`` (16 hex digits each). Equal
   inputs give equal outputs, so redeliveries, resends (exact text) and normalized repeats are
   recognized in the redacted capture as in the original (record.py rule 3). Empty texts (media
   without caption) stay empty: they carry nothing and keep their shared hash [F11]. A content
   key (a media hash, a place: record.py) becomes ``~r1:`` + 20 hex digits of a keyed HMAC:
   equal contents stay equal, nothing of the content is written.
3. The output is shadow JSONL (docs/capture.md), in stream order, inbound and outbound lines merged
   by time (inbound first on ties). No name, phone number, raw id or raw text is written.
4. ``--flag NAME`` writes each inbound contact's Unleash bucket, computed from the REAL id, and
   the rollout fingerprint in a first ``{"shadow_header": {...}}`` line, so stage cohorts
   survive redaction. A record already redacted keeps the bucket it carries.
5. The same capture and key give the same bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from shadow.common import UsageError, staged_file
from shadow.rollout import RolloutSettings, bucket, fingerprint
from shadow.streams.fields import iso_utc
from shadow.streams.keys import REDACT_KEY_ENV
from shadow.streams.normalize import Capture
from shadow.streams.record import REDACTED_PREFIX, InboundRecord, OutboundRecord, is_redacted
from shadow.world import normalize_text


class Redactor:
    """Keyed pseudonyms (guarantee 2); the same scheme as the run folder's keyed pseudonyms."""

    def __init__(self, key: str) -> None:
        if not key:
            raise UsageError(f"redact needs a key: set {REDACT_KEY_ENV}")
        self._key = key.encode()

    def _mac(self, domain: str, value: str) -> str:
        return hmac.new(self._key, f"{domain}:{value}".encode(), hashlib.sha256).hexdigest()

    def contact(self, contact_id: str) -> str:
        return "000" + str(int(self._mac("contact", contact_id), 16))[-12:].zfill(12)

    def message(self, message_id: str) -> str:
        return "r-" + self._mac("message", message_id)[:20]

    def text_class(self, token: str) -> str:
        """The equality class of an exact text's token (a run's ``text_hash``)."""
        return "t" + self._mac("text-class", token)[:16]

    def norm_class(self, token: str) -> str:
        """The equality class of a normalized text's token (a run's ``text_norm_hash``)."""
        return "n" + self._mac("text-norm-class", token)[:16]

    def content(self, key: str) -> str:
        """A content key's pseudonym (guarantee 2); an empty or already redacted key as is."""
        if not key or key.startswith(REDACTED_PREFIX):
            return key
        return REDACTED_PREFIX + self._mac("content", key)[:20]

    def content_class(self, token: str) -> str:
        """The equality class of a content key's token (a run's ``content_hash``)."""
        return "k" + self._mac("content-class", token)[:16]

    def text(self, text: str) -> str:
        if not text or is_redacted(text):
            return text
        norm = self._mac("text-norm", normalize_text(text))[:16]
        return f"{REDACTED_PREFIX}{norm}:{self._mac('text', text)[:16]}"


def _inbound_line(
    record: InboundRecord, redactor: Redactor, settings: RolloutSettings | None
) -> dict[str, Any]:
    line: dict[str, Any] = {
        "received_at": iso_utc(record.received_at),
        "contact_id": redactor.contact(record.contact_id),
        "message_id": redactor.message(record.message_id),
        "text": redactor.text(record.text),
        "type": record.type,
    }
    if record.sent_at is not None:
        line["sent_at"] = iso_utc(record.sent_at)
    if record.topic:
        line["topic"] = record.topic
    if record.repeat_kind:
        line["repeat_kind"] = record.repeat_kind
    if record.content_key:
        line["content_key"] = redactor.content(record.content_key)
    value = record.bucket
    if value is None and settings is not None:
        value = int(bucket(record.contact_id, settings))
    if value is not None:
        line["bucket"] = value
    return line


def _outbound_line(record: OutboundRecord, redactor: Redactor) -> dict[str, Any]:
    return {
        "received_at": iso_utc(record.sent_at),
        "direction": "out",
        "contact_id": redactor.contact(record.contact_id),
        "reply_to": None if record.reply_to is None else redactor.message(record.reply_to),
        "text": redactor.text(record.text),
    }


def redacted_lines(capture: Capture, key: str, flag: str | None = None) -> Iterator[str]:
    """The redacted capture's lines (guarantees 2-5), without line ends."""
    redactor = Redactor(key)
    settings = RolloutSettings(flag=flag) if flag else None
    if settings is not None:
        header = {"redacted": "r1", "flag": flag, "fingerprint": fingerprint(settings)}
        yield _dump({"shadow_header": header})
    inbound, outbound = capture.inbound, capture.outbound
    i = j = 0
    while i < len(inbound) or j < len(outbound):
        take_in = j >= len(outbound) or (
            i < len(inbound) and inbound[i].received_at <= outbound[j].sent_at
        )
        if take_in:
            yield _dump(_inbound_line(inbound[i], redactor, settings))
            i += 1
        else:
            yield _dump(_outbound_line(outbound[j], redactor))
            j += 1


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def write_redacted(capture: Capture, out: Path, key: str, flag: str | None = None) -> int:
    """Write the redacted capture to ``out`` with ``\\n`` line ends; returns the lines written."""
    written = 0
    with staged_file(out) as staging, staging.open("w", encoding="utf-8", newline="\n") as handle:
        for line in redacted_lines(capture, key, flag):
            handle.write(line + "\n")
            written += 1
    return written
