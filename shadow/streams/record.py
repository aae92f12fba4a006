"""The normalized records every capture reader produces (docs/capture.md).

Guarantees:

1. A record is immutable; its text hashes are computed once, at construction, from ``text``.
2. ``text_hash`` is ``text_token(text)`` and ``text_norm_hash`` is ``text_token(normalize_text(
   text))``: the same tokens the agent's ``replies`` map uses, so replies keyed by text match.
3. A redacted text ``~r1:<N>:<E>`` (written by ``shadow redact``) hashes so that both kinds of
   equality survive redaction: ``text_norm_hash`` comes from ``N`` alone and ``text_hash`` from
   the whole form. Two originals with equal normalized texts share ``N``; equal exact texts share
   the whole form.
4. Times are integer microseconds since the Unix epoch, UTC.
5. An ``Event`` is an item that is not a new customer message (docs/capture.md): an edit, a
   deletion, a system notice, an error-only payload or an unknown type. It is counted, never a
   bad line; its ``message`` is what delivering it to the models gives (``None`` when the
   payload has no contact, time or id to build one from).
6. ``content_key`` (content.py) says what a message's non-text content is, as the capture
   knows it; like ``text`` it is a raw value, stored only as an equality class.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from shadow.world import normalize_text, text_token

#: The canonical message types (docs/capture.md); each reader maps its gateway's names onto these.
KNOWN_TYPES: tuple[str, ...] = (
    "text",
    "image",
    "video",
    "audio",
    "voice",
    "document",
    "sticker",
    "location",
    "contacts",
    "interactive",
    "button",
    "reaction",
    "unsupported",
)
REPEAT_KINDS: tuple[str, ...] = ("resend", "legit")
#: Items that are not new customer messages, in the order a line's kind prefers them.
EventKind = Literal["edit", "revoke", "system", "error", "unknown_type"]
EVENT_KINDS: tuple[EventKind, ...] = ("edit", "revoke", "system", "error", "unknown_type")
_TYPE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]{0,63}")
UNNAMED_TYPE = "(not a type name)"


def listed_name(name: str) -> str:
    """The name an unknown type is shown under: its own when it looks like a type name
    (letters, digits, ``_.:-``, at most 64 characters), so no payload content is shown."""
    return name if _TYPE_NAME.fullmatch(name) else UNNAMED_TYPE


REDACTED_PREFIX = "~r1:"
_REDACTED = re.compile(r"~r1:([0-9a-f]+):([0-9a-f]+)")


def is_redacted(text: str) -> bool:
    """Is this text in ``shadow redact``'s ``~r1:<N>:<E>`` form?"""
    return _REDACTED.fullmatch(text) is not None


def text_hashes(text: str) -> tuple[str, str]:
    """``(text_hash, text_norm_hash)`` of a text, understanding the redacted form (rule 3)."""
    match = _REDACTED.fullmatch(text)
    if match is not None:
        return text_token(text), text_token(REDACTED_PREFIX + match.group(1))
    return text_token(text), text_token(normalize_text(text))


def _set_text_hashes(record: InboundRecord | OutboundRecord) -> None:
    """Guarantee 1: the hashes of a frozen record, computed once from its text."""
    exact, norm = text_hashes(record.text)
    object.__setattr__(record, "text_hash", exact)
    object.__setattr__(record, "text_norm_hash", norm)


@dataclass(frozen=True, slots=True)
class InboundRecord:
    """One inbound message of a capture, as every reader reduces it."""

    message_id: str
    contact_id: str
    received_at: int
    sent_at: int | None
    type: str
    text: str
    topic: str
    repeat_kind: str
    bucket: int | None
    file: str
    line: int
    #: a delivered event's kind (``EVENT_KINDS``) and the message id it refers to; "" otherwise
    event: str = ""
    refers_to: str = ""
    #: what identifies non-text content (content.py: a media hash or id, a place, a chosen
    #: reply, a reaction's target); "" when the capture knows nothing. A raw value: never
    #: written as it is (``stream.parquet`` holds its equality class, guarantee 6)
    content_key: str = ""
    text_hash: str = field(init=False, compare=False)
    text_norm_hash: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        _set_text_hashes(self)


@dataclass(frozen=True, slots=True)
class Event:
    """One edit, deletion, notice, error-only payload or unknown type (guarantee 5)."""

    kind: EventKind
    #: the gateway's own name for it: the type, the notice's type, the protocol message type
    name: str
    message: InboundRecord | None = None


@dataclass(frozen=True, slots=True)
class OutboundRecord:
    """One recorded bot reply: what production sent, when, and which message it answers."""

    contact_id: str
    sent_at: int
    reply_to: str | None
    text: str
    file: str
    line: int
    text_hash: str = field(init=False, compare=False)
    text_norm_hash: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        _set_text_hashes(self)


@dataclass(frozen=True, slots=True)
class Rejected:
    """A bad line as ``rejected.jsonl`` keeps it (rejection.py): where, why, its size, digest and
    skeleton; its raw text (secrets scrubbed) only with ``--keep-raw``."""

    file: str
    line: int
    reason: str
    size: int = 0
    digest: str = ""
    keyed: bool = False  # the digest is an HMAC keyed with SHADOW_REDACT_KEY
    skeleton: Any = None
    raw: str | None = None

    def as_json(self) -> dict[str, object]:
        document: dict[str, object] = {
            "file": self.file,
            "line": self.line,
            "reason": self.reason,
            "bytes": self.size,
            "hmac_sha256" if self.keyed else "sha256": self.digest,
            "skeleton": self.skeleton,
        }
        if self.raw is not None:
            document["raw"] = self.raw
        return document
