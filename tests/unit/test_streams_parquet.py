"""``stream.parquet`` columns: privacy by default, typed int64 µs times, identical bytes."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from shadow.streams import read_captures
from shadow.streams.parquet import (
    OUTBOUND_SCHEMA,
    Pseudonyms,
    outbound_columns,
    stream_columns,
    write_parquet,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "captures"


@pytest.fixture
def no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHADOW_REDACT_KEY", raising=False)


def test_pseudonyms_in_order_of_first_appearance_without_raw(no_key: None) -> None:
    capture = read_captures([str(FIXTURES / "cloud_acceptance.jsonl")], on_error="skip")
    columns = stream_columns(capture)
    assert columns["contact_id"].to_pylist() == [
        "c000001",
        "c000002",
        "c000003",
        "c000001",
        "c000002",
        "c000004",
    ]
    assert columns["message_id"][0] == columns["message_id"][3]
    assert columns["message_id"][0].as_py() == "m0000001"
    assert "text" not in columns
    assert columns["seq"].to_pylist() == list(range(6))
    assert columns["received_at"][0].as_py() == 1714560000 * 1_000_000


def test_keep_raw_keeps_ids_and_text(no_key: None) -> None:
    capture = read_captures([str(FIXTURES / "shadow.jsonl")])
    columns = stream_columns(capture, keep_raw=True, bucket_of=lambda contact: 7)
    assert columns["contact_id"][0].as_py() == "5511999990001"
    assert columns["text"].to_pylist() == ["Oi", "oi ", ""]
    assert columns["bucket"].to_pylist() == [7, 7, 7]


def test_keyed_pseudonyms_match_redact(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHADOW_REDACT_KEY", "k")
    capture = read_captures([str(FIXTURES / "shadow.jsonl")])
    contact = stream_columns(capture)["contact_id"][0].as_py()
    assert contact.startswith("000") and len(contact) == 15 and contact.isdigit()


def test_outbound_answers_reply_to_else_latest_of_contact(no_key: None) -> None:
    capture = read_captures([str(FIXTURES / "evolution.jsonl")])
    names = Pseudonyms(None)
    stream_columns(capture, pseudonyms=names)
    columns = outbound_columns(capture, pseudonyms=names)
    assert columns["reply_seq"].to_pylist() == [0]
    assert columns["contact_id"].to_pylist() == ["c000001"]
    shadow = read_captures([str(FIXTURES / "shadow.jsonl")])
    assert outbound_columns(shadow, pseudonyms=Pseudonyms(None))["reply_seq"].to_pylist() == [0]


def test_parquet_bytes_identical_twice_and_typed(tmp_path: Path, no_key: None) -> None:
    capture = read_captures([str(FIXTURES / "export_ios.txt")], on_error="skip")
    columns = stream_columns(capture)
    first, second = tmp_path / "a.parquet", tmp_path / "b.parquet"
    write_parquet(columns, first)
    write_parquet(stream_columns(read_captures([str(FIXTURES / "export_ios.txt")])), second)
    assert first.read_bytes() == second.read_bytes()
    table = pq.read_table(first)
    assert str(table.schema.field("received_at").type) == "int64"
    assert str(table.schema.field("sent_at").type) == "int64"  # all null, still int64
    assert table.schema.metadata is None
    assert table.column("received_at").to_pylist() == columns["received_at"].to_pylist()
    out = tmp_path / "out.parquet"
    write_parquet(outbound_columns(capture), out, OUTBOUND_SCHEMA)
    assert pq.read_table(out).num_rows == 0
