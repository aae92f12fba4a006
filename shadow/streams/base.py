"""The seam every capture reader plugs into: one ``LineResult`` per physical line.

A reader is a generator ``read(lines, ctx)`` over ``(line_number, text)`` pairs that yields
exactly one ``LineResult`` per physical line, in line order (a reader that must look ahead, the
chat export, buffers a few results and yields them late, still in order). The driver
(``normalize.read_captures``) checks that promise, so no line can vanish from the accounting.

A reader signals a bad line by raising ``LineError(reason)`` from its per-line code; the JSON
helper ``json_lines`` turns that (and any malformed-structure error) into a ``rejected`` result.

What is not a new customer message (an edit, a deletion, a notice, an error-only payload, an
unknown type) is an ``Event`` of the line, never a bad line; with ``ReadOptions.strict`` a line
carrying an unknown type is rejected as it used to be (docs/capture.md).

``json_lines`` also verifies each line's webhook signature when the secret is given
(signatures.py), before the reader sees the line, and notes the outcome in
``LineResult.signature``. A reason names a field, a type and a size, never a value of the line.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from shadow.common import InputError
from shadow.streams.keys import APP_SECRET_ENV, REDACT_KEY_ENV, TWILIO_TOKEN_ENV
from shadow.streams.record import (
    EVENT_KINDS,
    Event,
    EventKind,
    InboundRecord,
    OutboundRecord,
    listed_name,
)
from shadow.streams.signatures import SignatureError, verify_signature

LineKind = Literal[
    "inbound",
    "receipt",
    "outbound",
    "skipped",
    "rejected",
    "continuation",
    "edit",
    "revoke",
    "system",
    "error",
    "unknown_type",
]
#: The kinds every capture's accounting lists; the event kinds follow when a capture has events.
CLASSIC_LINE_KINDS: tuple[LineKind, ...] = (
    "inbound",
    "receipt",
    "outbound",
    "skipped",
    "rejected",
    "continuation",
)
LINE_KINDS: tuple[LineKind, ...] = (*CLASSIC_LINE_KINDS, *EVENT_KINDS)


class LineError(Exception):
    """A bad line: the reason goes to ``rejected.jsonl`` or stops the run (``--on-error``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """Reader options that are not the format: chat-export identity and zone, id merging, secret."""

    tz: str = "UTC"
    contact: str | None = None
    me: str | None = None
    merge_br_ninth_digit: bool = False
    app_secret: str | None = None
    #: reject a line carrying an unknown type (``--strict``)
    strict: bool = False
    #: the event kinds delivered to the models as messages (``capture.*`` = ``deliver``)
    deliver: frozenset[str] = frozenset()
    twilio_auth_token: str | None = None
    #: a rejected line's raw text is kept (secrets scrubbed) only with ``keep_raw``; its digest
    #: is keyed with ``redact_key`` when set
    keep_raw: bool = False
    redact_key: str | None = None
    #: results of lines read before (``shadow watch`` reads a growing capture again each cycle)
    memo: LineMemo | None = field(default=None, compare=False, hash=False)

    @classmethod
    def from_environment(cls, **options: Any) -> ReadOptions:
        """The options given, with the secrets from ``SHADOW_APP_SECRET``,
        ``SHADOW_TWILIO_AUTH_TOKEN`` and ``SHADOW_REDACT_KEY``."""
        import os

        return cls(
            app_secret=os.environ.get(APP_SECRET_ENV) or None,
            twilio_auth_token=os.environ.get(TWILIO_TOKEN_ENV) or None,
            redact_key=os.environ.get(REDACT_KEY_ENV) or None,
            **options,
        )


@dataclass(frozen=True, slots=True)
class FileContext:
    """What a reader knows about the file it reads."""

    file: str
    name: str
    format: str
    options: ReadOptions


@dataclass(slots=True)
class LineResult:
    """The single kind of one physical line, and the items it carries."""

    line: int
    kind: LineKind
    inbound: list[InboundRecord] = field(default_factory=list)
    outbound: list[OutboundRecord] = field(default_factory=list)
    receipts: int = 0
    groups: int = 0
    header: dict[str, Any] | None = None
    reason: str = ""
    raw: str = ""
    events: list[Event] = field(default_factory=list)
    signature: bool | None = None  # None: not signed (or no secret); else whether it verified


def classify_items(
    line: int,
    inbound: list[InboundRecord],
    outbound: list[OutboundRecord],
    receipts: int,
    groups: int,
    events: list[Event] | None = None,
) -> LineResult:
    """The line's kind from what it carries: inbound > outbound > the event kinds in
    ``EVENT_KINDS`` order > receipt > skipped."""
    events = events or []
    kind: LineKind
    if inbound:
        kind = "inbound"
    elif outbound:
        kind = "outbound"
    elif events:
        carried = {item.kind for item in events}
        kind = next(k for k in EVENT_KINDS if k in carried)
    elif receipts:
        kind = "receipt"
    else:
        kind = "skipped"
    return LineResult(line, kind, inbound, outbound, receipts, groups, events=events)


def event(
    kind: EventKind,
    name: str,
    ctx: FileContext,
    line: int,
    message_id: str,
    contact: str,
    at: int | None,
    message_type: str = "unsupported",
    text: str = "",
    refers_to: str = "",
    sent_at: int | None = None,
) -> Event:
    """An event of the line; its deliverable message when the id, contact and time are known."""
    if not message_id or not contact or at is None:
        return Event(kind, name)
    message = InboundRecord(
        message_id,
        contact,
        at,
        at if sent_at is None else sent_at,
        message_type,
        text,
        "",
        "",
        None,
        ctx.file,
        line,
        kind,
        refers_to,
    )
    return Event(kind, name, message)


def malformed(what: str, exc: BaseException) -> str:
    """The reason of a structure error: its type only (its message may quote the line)."""
    return f"malformed {what}: {type(exc).__name__}"


def rejected(line: int, reason: str, raw: str) -> LineResult:
    return LineResult(line, "rejected", reason=reason, raw=raw)


# Errors a parser may hit on structurally wrong JSON (a list where an object was expected, ...).
STRUCTURE_ERRORS = (
    LineError,
    KeyError,
    TypeError,
    ValueError,
    AttributeError,
    IndexError,
    RecursionError,
)

#: Classifies one parsed JSON object: the format family it belongs to, or None.
Classifier = Callable[[Any], str | None]
#: A format reader: one LineResult per physical line, in line order.
Reader = Callable[[Iterable[tuple[int, str]], "FileContext"], Iterator["LineResult"]]
#: Parses one JSON object of the reader's format into a line result (raises LineError).
ObjectParser = Callable[[int, dict[str, Any], str], LineResult]


class LineMemo:
    """What JSON lines read before gave, so a capture read again is parsed only where it grew.

    Guarantees:

    1. A line's result is a pure function of its file, format, number and text under the
       same ``ReadOptions`` (every JSON-lines reader is): a hit is the result the reader would
       give. A memo serves reads with one ``ReadOptions`` (its caller's to see to). Keys hold
       a 16-byte digest of the text, not the text.
    2. ``end_read`` keeps only the entries the last read used: what a read no longer meets
       (a line renumbered by a late line before it) is let go.
    """

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str, int, bytes], LineResult] = {}
        self.used: dict[tuple[str, str, int, bytes], LineResult] = {}
        self.hits = 0

    @staticmethod
    def key(ctx: FileContext, number: int, text: str) -> tuple[str, str, int, bytes]:
        digest = hashlib.blake2b(text.encode(errors="surrogatepass"), digest_size=16).digest()
        return ctx.file, ctx.format, number, digest

    def get(self, key: tuple[str, str, int, bytes]) -> LineResult | None:
        found = self.entries.get(key)
        self.hits += found is not None
        return found

    def keep(self, key: tuple[str, str, int, bytes], result: LineResult) -> None:
        """``result`` is used by this read (kept for the next one)."""
        self.used[key] = result

    def end_read(self) -> None:
        self.entries, self.used = self.used, {}


def json_lines(
    lines: Iterable[tuple[int, str]],
    ctx: FileContext,
    classify: Classifier,
    parse: ObjectParser,
) -> Iterator[LineResult]:
    """Shared loop of the JSON-lines formats: blank lines skipped, bad JSON rejected, a record of
    another known format stops the read (a mixed file is an input error naming the line)."""
    memo = ctx.options.memo
    for number, text in lines:
        if memo is None:
            yield _json_line(number, text, ctx, classify, parse)
            continue
        key = memo.key(ctx, number, text)
        result = memo.get(key)
        if result is None:
            result = _json_line(number, text, ctx, classify, parse)
        memo.keep(key, result)
        yield result


def _json_line(
    number: int, text: str, ctx: FileContext, classify: Classifier, parse: ObjectParser
) -> LineResult:
    if not text.strip():
        return LineResult(number, "skipped")
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return rejected(number, f"not JSON: {exc}", text)
    if not isinstance(obj, dict):
        return rejected(number, f"not a JSON object: {type(obj).__name__}", text)
    family = classify(obj)
    if family is not None and family != ctx.format:
        raise InputError(
            ctx.file, number, f"mixed formats: a {family} record in a {ctx.format} file"
        )
    options = ctx.options
    try:
        signed = verify_signature(obj, ctx.format, options.app_secret, options.twilio_auth_token)
    except SignatureError as exc:
        bad = rejected(number, exc.reason, text)
        bad.signature = False if exc.counted else None
        return bad
    try:
        result = parse(number, obj, text)
    except STRUCTURE_ERRORS as exc:
        reason = exc.reason if isinstance(exc, LineError) else malformed("record", exc)
        result = rejected(number, reason, text)
    if result.events and options.strict:
        unknown = [item.name for item in result.events if item.kind == "unknown_type"]
        if unknown:
            result = rejected(number, f"unknown type {listed_name(unknown[0])!r}", text)
    result.signature = signed
    return result


def need(obj: Any, key: str, what: str = "") -> Any:
    """``obj[key]``, or a LineError naming the missing field."""
    if not isinstance(obj, dict) or key not in obj or obj[key] is None:
        raise LineError(f"missing field {what or key}")
    return obj[key]


def need_id(value: Any, what: str) -> str:
    """A message id: a non-empty string, or a LineError naming the missing field."""
    if not isinstance(value, str) or not value:
        raise LineError(f"missing field {what}")
    return value


def need_dict(obj: Any, key: str, what: str = "") -> dict[str, Any]:
    value = need(obj, key, what)
    if not isinstance(value, dict):
        raise LineError(f"field {what or key} is not an object")
    return value


def need_list(obj: Any, key: str, what: str = "") -> list[Any]:
    value = need(obj, key, what)
    if not isinstance(value, list):
        raise LineError(f"field {what or key} is not a list")
    return value


def opt_str(obj: Any, key: str) -> str:
    """A string field, or ``""`` when absent; a non-string is a bad line."""
    if not isinstance(obj, dict):
        return ""
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise LineError(f"field {key} is not a string")
    return value
