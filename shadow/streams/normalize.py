"""``read_captures``: capture files of any known format to one normalized, ordered stream.

Guarantees:

1. Each file is read as a stream of physical lines (``\\n``-separated, a trailing ``\\r`` and a
   leading BOM dropped); each line gets exactly one kind, checked here whatever the reader.
2. ``format="auto"`` detects each file's format from its first records; a record of another
   format later in the file stops the read naming the line; an empty file or an unknown format
   stops it too (all ``InputError``, exit 3).
3. ``on_error="fail"`` raises ``InputError(file, line, reason)`` at the first bad line;
   ``"skip"`` collects ``Rejected`` lines, in file then line order, in the form that may be
   stored (rejection.py: no data unless ``options.keep_raw``). A line that is not UTF-8 is a
   bad line. A bad signature is a bad line; when more than half of the first signed lines of
   the read fail, the read stops naming the secret to check (signatures.py guarantee 4).
4. Inbound records come sorted by ``received_at``, stable on file order then line order (then
   order within the line); outbound likewise by ``sent_at``.
5. Timestamps going backwards by more than ``max_skew`` µs within a file give one warning per
   file naming the lines (returned, never printed).
6. Memory holds the normalized records, never the raw capture (a rejected line's raw text
   only with ``options.keep_raw``).
7. Events of the kinds in ``ReadOptions.deliver`` join the inbound records as messages (after
   the messages of their line), counted in ``delivered``; the accounting still counts them as
   events, not messages. An event without a contact, time or id cannot be delivered: one
   warning per kind says how many.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import shadow.streams.cloud as cloud
import shadow.streams.evolution as evolution
import shadow.streams.export as export
import shadow.streams.gateways as gateways
import shadow.streams.shadow_format as shadow_format
import shadow.streams.wwebjs as wwebjs
from shadow.common import InputError, UsageError
from shadow.streams.accounting import Accounting, Counts
from shadow.streams.base import FileContext, LineResult, Reader, ReadOptions
from shadow.streams.detect import FORMATS, detect_format
from shadow.streams.record import EVENT_KINDS, Event, InboundRecord, OutboundRecord, Rejected
from shadow.streams.rejection import stored_rejection
from shadow.streams.signatures import SignatureTally

SECOND = 1_000_000
OnError = Literal["fail", "skip"]

READERS: dict[str, Reader] = {
    "shadow": shadow_format.read_jsonl,
    "csv": shadow_format.read_csv,
    "cloud": cloud.read,
    "evolution": evolution.read,
    "zapi": gateways.read_zapi,
    "twilio": gateways.read_twilio,
    "wwebjs": wwebjs.read,
    "export": export.read,
}
_LISTED_LINES = 20


@dataclass(slots=True)
class Capture:
    """The normalized capture: ordered records, the accounting, bad lines and warnings."""

    inbound: list[InboundRecord] = field(default_factory=list)
    outbound: list[OutboundRecord] = field(default_factory=list)
    accounting: Accounting = field(default_factory=Accounting)
    rejected: list[Rejected] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    formats: list[str] = field(default_factory=list)
    header: dict[str, Any] | None = None
    #: events delivered to the models as messages, by kind (guarantee 7)
    delivered: dict[str, int] = field(default_factory=dict)
    undeliverable: dict[str, int] = field(default_factory=dict)

    @property
    def fingerprint(self) -> Any:
        """The rollout fingerprint of a shadow header (``redact --flag``), if any."""
        return None if self.header is None else self.header.get("fingerprint")


def physical_lines(
    path: Path, bad_utf8: dict[int, bytes] | None = None
) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of every physical line; undecodable lines' bytes kept in
    ``bad_utf8``."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            data = raw.rstrip(b"\n").removesuffix(b"\r")
            if number == 1:
                data = data.removeprefix(b"\xef\xbb\xbf")
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                if bad_utf8 is not None:
                    bad_utf8[number] = data
                text = data.decode("utf-8", errors="replace")
            yield number, text


def _sniff(path: Path, label: str, fmt: str) -> str:
    has_content = any(text.strip() for _, text in physical_lines(path))
    if not has_content:
        raise InputError(label, None, "empty capture: no records")
    if fmt != "auto":
        if fmt not in FORMATS:
            raise UsageError(f"unknown --format {fmt!r}; known: auto, {', '.join(FORMATS)}")
        return fmt
    detected = detect_format(text for _, text in physical_lines(path))
    if detected is None:
        raise InputError(label, None, f"unknown format: none of {', '.join(FORMATS)}")
    return detected


def read_captures(
    paths: Sequence[str | Path],
    format: str = "auto",
    on_error: OnError = "fail",
    max_skew: int = 60 * SECOND,
    options: ReadOptions | None = None,
) -> Capture:
    """Read, check and merge capture files (guarantees 1-6)."""
    if on_error not in ("fail", "skip"):
        raise UsageError(f"--on-error must be fail or skip, not {on_error!r}")
    if not paths:
        raise UsageError("no capture given")
    options = options or ReadOptions()
    capture = Capture()
    tally = SignatureTally()
    for given in paths:
        path = Path(given)
        label = str(given)
        if not path.is_file():
            raise InputError(label, None, "no such file")
        fmt = _sniff(path, label, format)
        capture.formats.append(fmt)
        ctx = FileContext(label, path.name, fmt, options)
        counts = capture.accounting.start(label, fmt)
        _read_file(path, ctx, counts, capture, on_error, max_skew, tally)
    verdict = tally.verdict(final=True)
    if verdict is not None:
        raise InputError(verdict[0], None, verdict[1])
    for kind in EVENT_KINDS:
        if capture.undeliverable.get(kind):
            capture.warnings.append(
                f"{capture.undeliverable[kind]} {kind} event(s) carry no contact, time or id: "
                "counted, not delivered"
            )
    capture.inbound.sort(key=lambda record: record.received_at)
    capture.outbound.sort(key=lambda record: record.sent_at)
    if options.memo is not None:
        options.memo.end_read()
    return capture


def _read_file(
    path: Path,
    ctx: FileContext,
    counts: Counts,
    capture: Capture,
    on_error: OnError,
    max_skew: int,
    tally: SignatureTally,
) -> None:
    bad_utf8: dict[int, bytes] = {}
    expected = 1
    latest: int | None = None
    backwards: list[int] = []
    for result in READERS[ctx.format](physical_lines(path, bad_utf8), ctx):
        if result.line != expected:
            raise RuntimeError(f"{ctx.format} reader skipped or reordered line {expected}")
        expected += 1
        if result.line in bad_utf8:
            result = LineResult(result.line, "rejected", reason="not UTF-8")
        if result.signature is not None:
            tally.add(ctx.format, result.signature, ctx.file)
            verdict = tally.verdict()
            if verdict is not None:
                raise InputError(verdict[0], None, verdict[1])
        if result.kind == "rejected":
            if on_error == "fail":
                reason = result.reason
                if result.signature is False and tally.none_verified(ctx.format):
                    reason += f" ({tally.hint(ctx.format)})"
                raise InputError(ctx.file, result.line, reason)
            capture.rejected.append(_stored(ctx, result, bad_utf8.pop(result.line, None)))
        if result.header is not None and capture.header is None:
            capture.header = result.header
        times = [r.received_at for r in result.inbound] + [r.sent_at for r in result.outbound]
        for at in times:
            if latest is not None and at < latest - max_skew:
                backwards.append(result.line)
            latest = at if latest is None else max(latest, at)
        capture.inbound.extend(result.inbound)
        capture.outbound.extend(result.outbound)
        capture.accounting.add(counts, result)
        if ctx.options.deliver:
            for item in result.events:
                if item.kind in ctx.options.deliver:
                    _deliver(capture, item)
    if backwards:
        lines = sorted(set(backwards))
        listed = ", ".join(str(n) for n in lines[:_LISTED_LINES])
        more = f" and {len(lines) - _LISTED_LINES} more" if len(lines) > _LISTED_LINES else ""
        capture.warnings.append(
            f"{ctx.file}: timestamps go backwards by more than {max_skew / SECOND:g}s "
            f"at lines {listed}{more}"
        )


def _deliver(capture: Capture, item: Event) -> None:
    """Guarantee 7: a delivered event's message joins the stream, else it is counted apart."""
    tally = capture.delivered if item.message is not None else capture.undeliverable
    tally[item.kind] = tally.get(item.kind, 0) + 1
    if item.message is not None:
        capture.inbound.append(item.message)


def _stored(ctx: FileContext, result: LineResult, raw: bytes | None) -> Rejected:
    options = ctx.options
    return stored_rejection(
        ctx.file,
        result.line,
        result.reason,
        result.raw.encode() if raw is None else raw,
        ctx.format,
        options.redact_key,
        options.keep_raw,
    )
