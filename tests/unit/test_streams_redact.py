"""``shadow redact``: pseudonyms without phone numbers that keep every text-hash equality."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from shadow.common.errors import UsageError
from shadow.rollout.flags import RolloutSettings, bucket
from shadow.streams import InboundRecord, read_captures
from shadow.streams.redact import Redactor, write_redacted

FIXTURES = Path(__file__).parent.parent / "fixtures" / "captures"
KEY = "test-redact-key"


def shadow_capture(tmp_path: Path) -> Path:
    texts = ["Oi", "oi ", "Oi", "", "", "Quero  trocar", "quero trocar", "Oi"]
    contacts = [
        "5511999990001",
        "5511999990001",
        "5521988887777",
        "5511999990001",
        "5521988887777",
        "5511999990001",
        "5521988887777",
        "5511999990001",
    ]
    ids = ["a", "b", "c", "d", "e", "f", "g", "a"]  # the last is a redelivery of "a"
    lines = [
        json.dumps(
            {
                "received_at": 1714560000 + 5 * n,
                "contact_id": contacts[n],
                "message_id": ids[n],
                "text": texts[n],
                "type": "voice" if n in (3, 4) else "text",
                "repeat_kind": "resend" if n == 2 else "",
                "topic": "pedido",
            }
        )
        for n in range(len(texts))
    ]
    lines.append(
        json.dumps(
            {
                "received_at": 1714560100,
                "contact_id": "5511999990001",
                "direction": "out",
                "reply_to": "a",
                "text": "Olá",
            }
        )
    )
    path = tmp_path / "original.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def relation(records: list[InboundRecord], key: Callable[[InboundRecord], str]) -> list[bool]:
    return [key(a) == key(b) for a in records for b in records]


def test_redacted_capture_keeps_every_equality_and_holds_no_phone(tmp_path: Path) -> None:
    original = read_captures([str(shadow_capture(tmp_path))])
    out = tmp_path / "redacted.jsonl"
    write_redacted(original, out, KEY)
    content = out.read_text()
    assert not re.search(r"55\d{10,11}", content)
    for text in ("Oi", "Quero", "Olá"):
        assert text not in content
    redacted = read_captures([str(out)])
    assert len(redacted.inbound) == len(original.inbound)
    for key in (
        lambda r: r.text_hash,
        lambda r: r.text_norm_hash,
        lambda r: r.contact_id,
        lambda r: r.message_id,
        lambda r: r.type,
        lambda r: str(r.received_at),
        lambda r: r.repeat_kind,
    ):
        assert relation(redacted.inbound, key) == relation(original.inbound, key)
    assert redacted.accounting.total.redeliveries == original.accounting.total.redeliveries == 1
    assert all(r.contact_id.startswith("000") and len(r.contact_id) == 15 for r in redacted.inbound)
    assert redacted.outbound[0].reply_to == redacted.inbound[0].message_id


def test_redaction_is_byte_identical_and_keyed(tmp_path: Path) -> None:
    capture = read_captures([str(shadow_capture(tmp_path))])
    first, second, other = tmp_path / "1.jsonl", tmp_path / "2.jsonl", tmp_path / "3.jsonl"
    write_redacted(capture, first, KEY)
    write_redacted(capture, second, KEY)
    write_redacted(capture, other, "another-key")
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() != other.read_bytes()


def test_redact_refuses_without_a_key() -> None:
    with pytest.raises(UsageError):
        Redactor("")


def test_flag_records_unleash_buckets_from_the_real_ids(tmp_path: Path) -> None:
    capture = read_captures([str(FIXTURES / "evolution.jsonl")])
    out = tmp_path / "r.jsonl"
    write_redacted(capture, out, KEY, flag="USE_UNIFIED_COORDINATOR")
    header = json.loads(out.read_text().splitlines()[0])["shadow_header"]
    assert header["fingerprint"]["flag"] == "USE_UNIFIED_COORDINATOR"
    redacted = read_captures([str(out)])
    assert redacted.fingerprint == header["fingerprint"]
    settings = RolloutSettings(flag="USE_UNIFIED_COORDINATOR")
    expected = [bucket(r.contact_id, settings) for r in capture.inbound]
    assert [r.bucket for r in redacted.inbound] == expected
    assert all(1 <= b <= 100 for b in expected)


def test_redact_buckets_are_unleash_murmur3_of_group_and_real_id() -> None:
    import mmh3

    def unleash(group: str, contact: str) -> int:
        return int(mmh3.hash(f"{group}:{contact}", seed=0, signed=False)) % 100 + 1

    settings = RolloutSettings(flag="F")
    assert bucket("5511999990001", settings) == unleash("F", "5511999990001")
