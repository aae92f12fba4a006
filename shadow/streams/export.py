"""WhatsApp chat exports (``.txt``): iOS ``[dd/mm/yyyy hh:mm:ss] Name: text`` and Android
``dd/mm/yyyy hh:mm - Name: text``.

Guarantees:

1. Times are local without a zone, read in ``--tz`` (an IANA name or ``±HH:MM``; default UTC).
2. A message continues on every following line that does not start a new one; those lines are
   ``continuation`` and their text joins the message's with newlines. The message line comes
   out first, then its continuations, so line order holds.
3. A whole export is one conversation: ``contact_id`` is ``--contact`` or, by default, ``000``
   followed by 12 digits of a hash of the file name (never a real number) [F10];
   ``message_id`` is ``export:<file name>:<line>``. The author named ``--me`` gives outbound lines.
4. System lines (no ``Name:``, or iOS notices marked with U+200E) are skipped [F9]; media
   placeholders (``<Media omitted>``, ``image omitted``, ...) become media with empty text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from hashlib import blake2b
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shadow.common import InputError
from shadow.streams.base import FileContext, LineResult, rejected
from shadow.streams.fields import datetime_to_us
from shadow.streams.record import InboundRecord, OutboundRecord

_DATE = r"(\d{1,2})/(\d{1,2})/(\d{2}|\d{4}),? (\d{1,2}):(\d{2})(?::(\d{2}))?"
_IOS = re.compile(r"\[" + _DATE + r"\] (.*)")
_ANDROID = re.compile(_DATE + r" - (.*)")
_MARKS = "\u200e\u200f\ufeff"

_PLACEHOLDERS: dict[str, str] = {
    "<media omitted>": "unsupported",
    "<mídia oculta>": "unsupported",
    "<arquivo de mídia oculto>": "unsupported",
    "image omitted": "image",
    "imagem ocultada": "image",
    "video omitted": "video",
    "vídeo omitido": "video",
    "vídeo ocultado": "video",
    "audio omitted": "audio",
    "áudio ocultado": "audio",
    "sticker omitted": "sticker",
    "figurinha omitida": "sticker",
    "document omitted": "document",
    "documento omitido": "document",
    "gif omitted": "video",
}


def _match(text: str) -> re.Match[str] | None:
    clean = text.lstrip(_MARKS)
    return _IOS.fullmatch(clean) or _ANDROID.fullmatch(clean)


def is_export_header(text: str) -> bool:
    """Does this line start a chat-export message (used by ``--format auto``)?"""
    match = _match(text)
    return match is not None and ": " in match.group(7)


def resolve_zone(name: str) -> tzinfo:
    """An IANA zone name or a fixed ``±HH:MM`` offset."""
    offset = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", name)
    if offset:
        sign = -1 if offset.group(1) == "-" else 1
        delta = timedelta(hours=int(offset.group(2)), minutes=int(offset.group(3)))
        return timezone(sign * delta)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError("--tz", None, f"unknown time zone {name!r}") from None


def default_contact(name: str) -> str:
    digest = int(blake2b(name.encode(), digest_size=8).hexdigest(), 16)
    return "000" + str(digest % 10**12).zfill(12)


@dataclass(slots=True)
class _Pending:
    number: int
    author: str
    at: int
    parts: list[str]
    system: bool
    continuations: list[LineResult] = field(default_factory=list)


def read(lines: Iterable[tuple[int, str]], ctx: FileContext) -> Iterator[LineResult]:
    zone = resolve_zone(ctx.options.tz)
    contact = ctx.options.contact or default_contact(ctx.name)
    pending: _Pending | None = None
    started = False
    for number, text in lines:
        match = _match(text)
        if match is None:
            if pending is not None:
                pending.parts.append(text)
                pending.continuations.append(LineResult(number, "continuation"))
            elif started:
                yield LineResult(number, "continuation")
            elif not text.strip():
                yield LineResult(number, "skipped")
            else:
                yield rejected(number, "text before the first message of the export", text)
            continue
        started = True
        if pending is not None:
            yield from _flush(pending, ctx, contact)
            pending = None
        day, month, year, hour, minute, second, rest = match.groups()
        try:
            full_year = int(year) + (2000 if len(year) == 2 else 0)
            local = datetime(
                full_year, int(month), int(day), int(hour), int(minute), int(second or 0)
            )
            at = datetime_to_us(local.replace(tzinfo=zone))
        except (ValueError, OverflowError) as exc:
            yield rejected(number, f"bad date or time: {exc}", text)
            continue
        author, sep, body = rest.partition(": ")
        system = not sep or (body.startswith(tuple(_MARKS)) and _placeholder(body) is None)
        pending = _Pending(number, author, at, [body], system)
    if pending is not None:
        yield from _flush(pending, ctx, contact)


def _placeholder(body: str) -> str | None:
    return _PLACEHOLDERS.get(body.strip(_MARKS + " ").casefold())


def _flush(pending: _Pending, ctx: FileContext, contact: str) -> Iterator[LineResult]:
    if pending.system:
        yield LineResult(pending.number, "skipped")
    else:
        text = "\n".join(pending.parts).rstrip("\n")
        kind = _placeholder(text)
        if kind is not None:
            text = ""
        if ctx.options.me is not None and pending.author == ctx.options.me:
            out = OutboundRecord(contact, pending.at, None, text, ctx.file, pending.number)
            yield LineResult(pending.number, "outbound", outbound=[out])
        else:
            record = InboundRecord(
                f"export:{ctx.name}:{pending.number}",
                contact,
                pending.at,
                None,
                kind or "text",
                text,
                "",
                "",
                None,
                ctx.file,
                pending.number,
            )
            yield LineResult(pending.number, "inbound", inbound=[record])
    yield from pending.continuations
