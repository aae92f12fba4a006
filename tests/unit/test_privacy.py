"""What keeps capture values and secrets out of everything written or printed: the one list of
secret names and its scrubber, value descriptions, rejected-line skeletons, crash reports."""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import urlencode

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from shadow.cli.app import crash_report
from shadow.common import SECRET_NAMES, describe_value, is_secret_name, scrub_secrets
from shadow.streams import Pseudonyms
from shadow.streams.rejection import GATEWAY_FIELDS, skeleton, stored_rejection
from shadow.world import text_token

ISSUE_NAMES = (
    "Authorization",
    "apikey",
    "x-api-key",
    "X-Hub-Signature",
    "X-Hub-Signature-256",
    "x-twilio-signature",
    "client-token",
    "access_token",
    "accessToken",
    "API_KEY",
)
#: the documented fields that are credentials, in some format
CREDENTIALS = {
    "authorization",
    "apikey",
    "x-api-key",
    "client-token",
    "x-hub-signature",
    "x-hub-signature-256",
    "x-twilio-signature",
    "i-twilio-idempotency-token",
    "mediaKey",
}


def test_every_secret_name_of_the_issue_is_one_and_the_list_is_the_only_one() -> None:
    assert all(is_secret_name(name) for name in ISSUE_NAMES)
    assert isinstance(SECRET_NAMES, tuple) and len(set(SECRET_NAMES)) == len(SECRET_NAMES)


def test_no_documented_payload_field_is_taken_for_a_secret_but_the_credentials() -> None:
    for fields in GATEWAY_FIELDS.values():
        assert {name for name in fields if is_secret_name(name)} == CREDENTIALS & fields
    assert not any(is_secret_name(name) for name in ("body", "key", "text", "remoteJid"))


_VALUE = st.text("abcdefXYZ0123456789-._~+/", min_size=6, max_size=30).map(lambda s: "S" + s)
_OTHER = st.text("abcdef0123", min_size=4, max_size=12).map(lambda s: "keep" + s)


@given(_VALUE, _OTHER, st.sampled_from(ISSUE_NAMES), st.integers(0, 2))
def test_a_secret_value_never_survives_scrubbing_at_any_depth(
    secret: str, other: str, name: str, depth: int
) -> None:
    document: object = {"headers": {name: secret, "content-type": other}, "text": other}
    text = json.dumps(document, ensure_ascii=False)
    for _ in range(depth):  # a JSON body logged as a string inside a JSON line
        text = json.dumps({"body": text, "id": other})
    for shown in (
        text,
        text[: len(text) - 3],  # cut off
        urlencode({"Body": other, name: secret}),
        f"https://bot.example/hook?{name}={secret}&x={other}",
        f"{name}: {secret}\ncontent-type: {other}",
        f"Authorization: Bearer {secret}",
        f"https://user:{secret.replace('/', '%2F')}@evo.example/{other}",
    ):
        scrubbed = scrub_secrets(shown)
        assert secret not in scrubbed and secret.replace("/", "%2F") not in scrubbed, scrubbed
        if other in shown[: shown.find(secret)] or shown.endswith(other):
            assert other in scrubbed, (shown, scrubbed)


def test_scrubbing_leaves_everything_else_byte_for_byte() -> None:
    line = '{"from":"5511","text":{"body":"olá, meu token: já"},"apikey":"K-1","n":[1,2]}'
    assert scrub_secrets(line) == (
        '{"from":"5511","text":{"body":"olá, meu token: <secret>"},"apikey":"<secret>","n":[1,2]}'
    )
    assert scrub_secrets('{"token":12345,"x":1}') == '{"token":"<secret>","x":1}'


def test_a_value_is_described_by_type_and_size_only() -> None:
    assert describe_value("5531984270615") == "a text of 13 characters"
    assert describe_value(1714560000123) == "a number of 13 digits"
    assert describe_value({"a": 1}) == "an object of 1 fields"
    assert describe_value(None) == "null"


def test_the_skeleton_keeps_documented_keys_and_only_the_shape_of_values() -> None:
    fields = GATEWAY_FIELDS["cloud"]
    line = {"from": "5511999990001", "timestamp": "1714560000", "5511999990001": {"Ana": 3.5}}
    assert skeleton(line, fields) == {
        "from": "<str:13>",
        "timestamp": "<str:10>",
        "<key:13>": {"<key:3>": "<float:3>"},
    }
    assert skeleton({"a1": 1, "b2": [True, None, 42]}, fields) == {
        "<key:2>": "<int:1>",
        "<key:2>#2": [True, None, "<int:2>"],
    }


def test_a_rejected_line_keeps_size_digest_reason_and_skeleton_not_its_data() -> None:
    raw = '{"event":"messages.upsert","apikey":"SECRET-1","data":{"pushName":"Conceição"}}'
    data = raw.encode()
    stored = stored_rejection("e.jsonl", 7, "missing field data.key", data, "evolution")
    document = stored.as_json()
    assert document == {
        "file": "e.jsonl",
        "line": 7,
        "reason": "missing field data.key",
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "skeleton": {
            "event": "<str:15>",
            "apikey": "<str:8>",
            "data": {"pushName": "<str:9>"},
        },
    }
    keyed = stored_rejection("e.jsonl", 7, "r", data, "evolution", key="k").as_json()
    mac = hmac.new(b"k", b"rejected-line:" + data, hashlib.sha256).hexdigest()
    assert keyed["hmac_sha256"] == mac and "sha256" not in keyed
    kept = stored_rejection("e.jsonl", 7, "r", data, "evolution", keep_raw=True).as_json()
    assert kept["raw"] == raw.replace("SECRET-1", "<secret>")
    text_line = stored_rejection("x.txt", 1, "r", b"Ana: oi", "export").as_json()
    assert text_line["skeleton"] is None


def test_a_crash_report_has_frames_and_types_never_values() -> None:
    def fail(value: str) -> None:
        try:
            {}[value]
        except KeyError as exc:
            raise ValueError(f"bad contact {value}") from exc

    try:
        fail("".join(["5531", "984270615"]))  # not in the source line
    except ValueError as exc:
        report = crash_report(exc)
    assert "5531984270615" not in report
    assert "ValueError(a text of 25 characters)" in report
    assert "KeyError(a text of 13 characters)" in report
    assert "in fail" in report


def test_text_classes_keep_equality_and_the_empty_text_stays_empty() -> None:
    tokens = pa.array([text_token(t) for t in ("oi", "", "Oi ", "oi", "")])
    for key in (None, "k"):
        names = Pseudonyms(key)
        classes = names.texts(tokens).to_pylist()
        assert classes[0] == classes[3] != classes[2] and classes[1] == classes[4] == ""
        assert all(text_token("oi") not in c for c in classes)
    dense = Pseudonyms(None).texts(tokens).to_pylist()
    assert dense == ["t0000001", "", "t0000002", "t0000001", ""]
