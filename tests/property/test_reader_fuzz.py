"""Fuzz every reader: no input, however broken, raises anything but a clean InputError, and no
physical line leaves the accounting (each gets exactly one kind; docs/capture.md)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from shadow.common.errors import InputError
from shadow.streams import ReadOptions, read_captures
from shadow.streams.detect import FORMATS

FIXTURES = Path(__file__).parent.parent / "fixtures" / "captures"
SAMPLE_LINES = sorted(
    {line for path in sorted(FIXTURES.iterdir()) for line in path.read_text().splitlines()}
)
KEYS = [
    "object",
    "entry",
    "changes",
    "field",
    "value",
    "messages",
    "statuses",
    "from",
    "id",
    "timestamp",
    "type",
    "text",
    "body",
    "interactive",
    "button_reply",
    "title",
    "image",
    "caption",
    "audio",
    "voice",
    "reaction",
    "emoji",
    "received_at",
    "headers",
    "event",
    "data",
    "key",
    "remoteJid",
    "remoteJidAlt",
    "addressingMode",
    "fromMe",
    "message",
    "conversation",
    "messageTimestamp",
    "phone",
    "messageId",
    "momment",
    "isGroup",
    "MessageSid",
    "WaId",
    "Body",
    "NumMedia",
    "_serialized",
    "to",
    "contact_id",
    "message_id",
    "direction",
    "reply_to",
    "bucket",
    "repeat_kind",
    "shadow_header",
    "low",
    "high",
    "ids",
    "extendedTextMessage",
]
VALUES = st.sampled_from(
    [
        "messages",
        "text",
        "lid",
        "ReceivedCallback",
        "messages.upsert",
        "5511999990001",
        "5511@g.us",
        "5511@lid",
        "1714560000",
        "2024-05-01T10:40:00Z",
        "whatsapp:+5511",
        "out",
        "MessageStatusCallback",
        "whatsapp_business_account",
        "sha256=00",
        "chat",
        "ptt",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    VALUES,
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(KEYS), inner, max_size=5),
    ),
    max_leaves=25,
)


def mutate(line: str, cut: int, char: str) -> str:
    if not line:
        return char
    position = cut % len(line)
    return line[:position] + char + line[position + 1 :]


LINE = st.one_of(
    st.sampled_from(SAMPLE_LINES),
    st.builds(mutate, st.sampled_from(SAMPLE_LINES), st.integers(0, 10_000), st.characters()),
    st.builds(
        lambda line, n: line[: n % (len(line) + 1)],
        st.sampled_from(SAMPLE_LINES),
        st.integers(0, 10_000),
    ),
    JSON.map(lambda value: json.dumps(value)),
    st.text(max_size=40),
    st.just(""),
    st.just("[01/05/2024 10:00:00] Ana: oi"),
    st.just("[99/99/0000 99:99:99] Ana: oi"),
    st.just("01/05/2024 10:00 - Loja: olá"),
)


def physical_line_count(data: bytes) -> int:
    if not data:
        return 0
    parts = data.split(b"\n")
    return len(parts) - 1 if data.endswith(b"\n") else len(parts)


def check(lines: list[str], fmt: str, raw_tail: bytes = b"") -> None:
    data = "\n".join(lines).encode("utf-8", errors="surrogatepass") + raw_tail
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "capture.txt"
        path.write_bytes(data)
        options = ReadOptions(app_secret="s", me="Loja", merge_br_ninth_digit=True)
        try:
            capture = read_captures([str(path)], format=fmt, on_error="skip", options=options)
        except InputError as error:
            allowed = ("mixed formats", "empty capture", "unknown format")
            assert any(reason in error.reason for reason in allowed), error.reason
            return
    total = capture.accounting.total
    assert total.lines == physical_line_count(data)
    assert sum(total.line_kinds.values()) == total.lines
    assert total.line_kinds["rejected"] == len(capture.rejected)
    assert total.messages == len(capture.inbound)
    assert total.outbound == len(capture.outbound)
    assert [r.received_at for r in capture.inbound] == sorted(
        r.received_at for r in capture.inbound
    )
    for record in capture.inbound:
        assert record.contact_id.isdigit() and record.message_id
        assert len(record.text_hash) == 16


@given(st.lists(LINE, max_size=12), st.sampled_from([*FORMATS, "auto"]))
@example(['{"type":[]}'], "shadow")  # an unhashable value once broke format detection
def test_no_input_breaks_any_reader_or_loses_a_line(lines: list[str], fmt: str) -> None:
    check(lines, fmt)


@given(st.lists(LINE, max_size=6), st.binary(max_size=20), st.sampled_from([*FORMATS, "auto"]))
def test_raw_bytes_never_break_a_reader(lines: list[str], tail: bytes, fmt: str) -> None:
    check(lines, fmt, b"\n" + tail)


@given(
    st.lists(JSON.map(lambda value: json.dumps(value)), min_size=1, max_size=8),
    st.sampled_from(["cloud", "evolution", "zapi", "twilio", "wwebjs", "shadow"]),
)
def test_structured_garbage_in_each_json_format(lines: list[str], fmt: str) -> None:
    check(lines, fmt)


def _cloud_line(messages: list[dict[str, Any]]) -> str:
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"changes": [{"field": "messages", "value": {"messages": messages}}]}],
    }
    return json.dumps(body)


@given(st.lists(st.dictionaries(st.sampled_from(KEYS), JSON, max_size=6), max_size=4))
def test_cloud_messages_with_random_fields(messages: list[dict[str, Any]]) -> None:
    check([_cloud_line(messages)], "cloud")
