"""Capture readers: every format of docs/capture.md on fixtures written from the documented
fields."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest

from shadow.common.errors import InputError
from shadow.streams import ReadOptions, read_captures
from shadow.streams.validate import validate_document
from shadow.world.environment import normalize_text, text_token

FIXTURES = Path(__file__).parent.parent / "fixtures" / "captures"


def fixture(name: str) -> str:
    return str(FIXTURES / name)


def write(tmp_path: Path, name: str, lines: list[str]) -> str:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_cloud_acceptance_case_of_issue_6() -> None:
    capture = read_captures([fixture("cloud_acceptance.jsonl")], on_error="skip")
    document = validate_document(capture)
    assert document["lines"] == 8
    assert document["line_kinds"] == {
        "inbound": 5,
        "receipt": 2,
        "outbound": 0,
        "skipped": 0,
        "rejected": 1,
        "continuation": 0,
    }
    assert (document["messages"], document["receipts"], document["redeliveries"]) == (6, 3, 1)
    assert [bad["line"] for bad in document["rejected"]] == [4]
    assert document["lines"] == sum(document["line_kinds"].values())
    texts = {record.type: record.text for record in capture.inbound}
    assert texts["interactive"] == "Rastrear pedido"
    assert texts["image"] == "Foto da caixa amassada"


def test_cloud_redelivery_keeps_wrapper_arrival_and_original_sent_at() -> None:
    capture = read_captures([fixture("cloud_acceptance.jsonl")], on_error="skip")
    first = capture.inbound[0]
    again = [r for r in capture.inbound if r.message_id == first.message_id]
    assert len(again) == 2
    assert again[1].sent_at == again[0].sent_at == 1714560000 * 1_000_000
    assert again[1].received_at == 1714560031_900_000
    assert again[1].line == 3


def test_cloud_post_with_two_messages_keeps_body_order_on_a_tie() -> None:
    capture = read_captures([fixture("cloud_acceptance.jsonl")], on_error="skip")
    assert [r.contact_id for r in capture.inbound[:2]] == ["5511999990001", "5511999990002"]
    assert capture.inbound[0].received_at == capture.inbound[1].received_at


def test_cloud_on_error_fail_names_file_and_line() -> None:
    with pytest.raises(InputError) as caught:
        read_captures([fixture("cloud_acceptance.jsonl")])
    assert caught.value.line == 4
    assert caught.value.file.endswith("cloud_acceptance.jsonl")


def test_cloud_signature_verified_only_with_secret() -> None:
    path = fixture("cloud_signed.jsonl")
    unchecked = read_captures([path], on_error="skip")
    assert unchecked.accounting.total.messages == 2
    checked = read_captures(
        [path], on_error="skip", options=ReadOptions(app_secret="fixture-secret")
    )
    assert checked.accounting.total.messages == 1
    assert [(bad.line, bad.reason) for bad in checked.rejected] == [
        (2, "X-Hub-Signature-256 does not verify")
    ]
    with pytest.raises(InputError) as wrong:  # every signature fails: the secret is wrong
        read_captures([path], on_error="skip", options=ReadOptions(app_secret="other"))
    assert wrong.value.line is None
    assert wrong.value.reason == (
        "2 of the first 2 signatures do not match: "
        "is SHADOW_APP_SECRET the app secret of this WhatsApp app?"
    )


def test_cloud_signature_over_a_parsed_body_uses_metas_escaped_form(tmp_path: Path) -> None:
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messages": [
                                {
                                    "from": "5511",
                                    "id": "w1",
                                    "timestamp": "1714560000",
                                    "type": "text",
                                    "text": {"body": "não"},
                                }
                            ]
                        },
                    }
                ]
            }
        ],
    }
    raw = json.dumps(body, separators=(",", ":"))
    signature = hmac.new(b"s", raw.encode(), hashlib.sha256).hexdigest()
    line = {
        "received_at": 1714560001,
        "headers": {"X-Hub-Signature-256": f"sha256={signature}"},
        "body": body,
    }
    path = write(tmp_path, "c.jsonl", [json.dumps(line, ensure_ascii=False)])
    capture = read_captures([path], options=ReadOptions(app_secret="s"))
    assert capture.inbound[0].text == "não"


def test_evolution_outbound_groups_lid_and_string_timestamps() -> None:
    capture = read_captures([fixture("evolution.jsonl")])
    total = capture.accounting.total
    assert (total.messages, total.outbound, total.groups, total.receipts) == (3, 1, 1, 1)
    assert total.line_kinds["skipped"] == 2
    lid = next(r for r in capture.inbound if r.message_id == "3EB0A3")
    assert lid.contact_id == "5521988887777"
    assert lid.received_at == 1714560010 * 1_000_000
    assert [r.type for r in capture.inbound] == ["text", "image", "voice"]
    assert capture.outbound[0].text == "Olá! Como posso ajudar?"


def test_zapi_milliseconds_groups_and_fromme() -> None:
    capture = read_captures([fixture("zapi.jsonl")])
    total = capture.accounting.total
    assert (total.messages, total.outbound, total.groups, total.receipts) == (2, 1, 1, 1)
    assert capture.inbound[0].received_at == 1714560000_123_000


def test_zapi_seconds_are_wrong_units(tmp_path: Path) -> None:
    line = {
        "type": "ReceivedCallback",
        "phone": "5511",
        "messageId": "z",
        "momment": 1714560000,
        "text": {"message": "oi"},
    }
    path = write(tmp_path, "z.jsonl", [json.dumps(line)])
    capture = read_captures([path], on_error="skip")
    assert "looks like seconds" in capture.rejected[0].reason


def test_twilio_urlencoded_json_fields_status_and_missing_received_at() -> None:
    capture = read_captures([fixture("twilio.jsonl")], on_error="skip")
    total = capture.accounting.total
    assert (total.messages, total.receipts) == (2, 1)
    assert capture.inbound[0].text == "Oi, meu pedido atrasou"
    assert capture.inbound[1].type == "image"
    assert capture.inbound[1].received_at == 1714560003_500_000
    assert capture.rejected[0].line == 4
    assert "received_at" in capture.rejected[0].reason


def test_wwebjs_groups_fromme_and_types() -> None:
    capture = read_captures([fixture("wwebjs.jsonl")])
    total = capture.accounting.total
    assert (total.messages, total.outbound, total.groups) == (2, 1, 1)
    assert [r.type for r in capture.inbound] == ["text", "voice"]
    assert capture.outbound[0].contact_id == "5511999990001"


def test_ios_export_continuations_system_lines_tz_and_me() -> None:
    options = ReadOptions(tz="America/Sao_Paulo", me="Loja Exemplo", contact="5511999990001")
    capture = read_captures([fixture("export_ios.txt")], options=options)
    kinds = capture.accounting.total.line_kinds
    assert kinds == {
        "inbound": 3,
        "receipt": 0,
        "outbound": 1,
        "skipped": 1,
        "rejected": 0,
        "continuation": 2,
    }
    multi = capture.inbound[1]
    assert multi.text == "Meu pedido não chegou\no código é 12345\ne já faz uma semana"
    assert multi.message_id == "export:export_ios.txt:3"
    assert multi.contact_id == "5511999990001"
    assert capture.inbound[0].received_at == 1714560000 * 1_000_000  # 07:40 at -03:00
    assert capture.inbound[2].type == "image" and capture.inbound[2].text == ""


def test_android_export_default_contact_is_digits_and_not_a_number() -> None:
    capture = read_captures([fixture("export_android.txt")], options=ReadOptions(tz="-03:00"))
    contacts = {r.contact_id for r in capture.inbound}
    assert len(contacts) == 1
    (contact,) = contacts
    assert contact.isdigit() and contact.startswith("000")
    assert capture.accounting.total.line_kinds["continuation"] == 2
    assert capture.inbound[-1].type == "unsupported"
    # without --me every author is the contact
    assert capture.accounting.total.outbound == 0


def test_shadow_jsonl_header_fields_and_outbound() -> None:
    capture = read_captures([fixture("shadow.jsonl")])
    assert capture.header == {"generator": "fixture"}
    assert [r.received_at for r in capture.inbound] == [
        1714560000_000_000,
        1714560001_500_000,
        1714560003_000_000,
    ]
    assert capture.inbound[1].repeat_kind == "resend"
    assert capture.inbound[0].topic == "pedido"
    assert capture.inbound[0].text_norm_hash == capture.inbound[1].text_norm_hash
    assert capture.inbound[0].text_hash != capture.inbound[1].text_hash
    assert capture.outbound[0].reply_to == "m1"


def test_text_hashes_match_the_agents_replies_map() -> None:
    capture = read_captures([fixture("shadow.csv")])
    record = capture.inbound[1]
    assert record.text == "Oi, tudo bem?"
    assert record.text_hash == text_token("Oi, tudo bem?")
    assert record.text_norm_hash == text_token(normalize_text("Oi, tudo bem?"))
    assert record.repeat_kind == "legit"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ({"received_at": "2024-05-01T10:40:00", "contact_id": "1", "message_id": "a"}, "no zone"),
        ({"received_at": 1714560000000, "contact_id": "1", "message_id": "a"}, "milliseconds"),
        ({"received_at": 1714560000, "contact_id": "+55 11", "message_id": "a"}, "digits"),
        (
            {"received_at": 1714560000, "contact_id": "1", "message_id": "a", "type": "gif"},
            "unknown type",
        ),
        ({"received_at": 1714560000, "contact_id": "1"}, "message_id"),
    ],
)
def test_shadow_bad_lines_are_rejected_with_a_reason(
    tmp_path: Path, line: dict[str, object], reason: str
) -> None:
    path = write(tmp_path, "s.jsonl", [json.dumps(line)])
    capture = read_captures([path], on_error="skip")
    assert capture.accounting.total.line_kinds["rejected"] == 1
    assert reason in capture.rejected[0].reason


def test_files_merge_by_received_at_stable_on_file_then_line(tmp_path: Path) -> None:
    def rec(mid: str, at: int) -> str:
        return json.dumps({"received_at": at, "contact_id": "1", "message_id": mid, "text": ""})

    first = write(tmp_path, "a.jsonl", [rec("a1", 10), rec("a2", 20)])
    second = write(tmp_path, "b.jsonl", [rec("b1", 10), rec("b2", 5)])
    capture = read_captures([first, second])
    assert [r.message_id for r in capture.inbound] == ["b2", "a1", "b1", "a2"]
    assert [counts.lines for counts in capture.accounting.files] == [2, 2]
    assert capture.formats == ["shadow", "shadow"]


def test_backwards_timestamps_beyond_max_skew_warn_with_lines(tmp_path: Path) -> None:
    def rec(at: int) -> str:
        return json.dumps({"received_at": at, "contact_id": "1", "message_id": str(at)})

    path = write(tmp_path, "s.jsonl", [rec(1000), rec(1100), rec(1030), rec(1090), rec(1010)])
    capture = read_captures([path])
    assert len(capture.warnings) == 1
    assert "lines 3, 5" in capture.warnings[0]
    assert read_captures([path], max_skew=100 * 1_000_000).warnings == []


def test_ninth_digit_merge_only_on_request(tmp_path: Path) -> None:
    lines = [
        json.dumps({"received_at": 1, "contact_id": "5511987654321", "message_id": "a"}),
        json.dumps({"received_at": 2, "contact_id": "551187654321", "message_id": "b"}),
    ]
    path = write(tmp_path, "s.jsonl", lines)
    assert read_captures([path]).accounting.total.contacts == 2
    merged = read_captures([path], options=ReadOptions(merge_br_ninth_digit=True))
    assert {r.contact_id for r in merged.inbound} == {"551187654321"}


def test_mixed_file_is_an_input_error_naming_the_line(tmp_path: Path) -> None:
    zapi = (FIXTURES / "zapi.jsonl").read_text().splitlines()
    wwebjs = (FIXTURES / "wwebjs.jsonl").read_text().splitlines()
    path = write(tmp_path, "mixed.jsonl", zapi[:2] + wwebjs[:1])
    with pytest.raises(InputError) as caught:
        read_captures([path], on_error="skip")
    assert caught.value.line == 3
    assert "mixed formats" in caught.value.reason


def test_empty_and_unknown_captures_are_input_errors(tmp_path: Path) -> None:
    empty = write(tmp_path, "empty.jsonl", ["", "  "])
    with pytest.raises(InputError, match="empty capture"):
        read_captures([empty])
    unknown = write(tmp_path, "u.jsonl", ['{"hello": 1}', "plain text"])
    with pytest.raises(InputError, match="unknown format"):
        read_captures([unknown])


def test_a_line_that_is_not_utf8_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    good = json.dumps({"received_at": 1, "contact_id": "1", "message_id": "a"}).encode()
    path.write_bytes(good + b"\n" + b'{"text": "\xff"}\n' + good.replace(b'"a"', b'"b"'))
    capture = read_captures([str(path)], on_error="skip")
    assert [(bad.line, bad.reason) for bad in capture.rejected] == [(2, "not UTF-8")]
    assert capture.accounting.total.lines == 3


def test_explicit_format_skips_detection() -> None:
    capture = read_captures([fixture("zapi.jsonl")], format="zapi")
    assert capture.formats == ["zapi"]
