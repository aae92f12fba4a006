"""Webhook signatures on every read: Cloud API and Twilio schemes, the wrong-secret stop."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import pytest

from shadow.common import InputError
from shadow.streams import ReadOptions, read_captures
from shadow.streams.signatures import SAMPLE, SignatureError, SignatureTally, verify_signature

SECRET = "app-secret"
TOKEN = "twilio-token"
URL = "https://bot.example/twilio"


def cloud_body(n: int) -> str:
    message = {"from": "5511", "id": f"w{n}", "timestamp": "1714560000", "type": "text"}
    message["text"] = {"body": f"oi {n}"}  # type: ignore[assignment]
    change = {"field": "messages", "value": {"messages": [message]}}
    return json.dumps({"object": "whatsapp_business_account", "entry": [{"changes": [change]}]})


def cloud_line(n: int, secret: str = SECRET, edit: bool = False) -> str:
    body = cloud_body(n)
    signature = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    if edit:
        body = body.replace(f"oi {n}", f"oi {n}!")
    headers = {"X-Hub-Signature-256": f"sha256={signature}"}
    return json.dumps({"received_at": 1714560000 + n, "headers": headers, "body": body})


def twilio_line(n: int, token: str = TOKEN, edit: bool = False, url: str | None = URL) -> str:
    params = {"MessageSid": f"SM{n}", "WaId": "5511", "Body": f"oi {n}", "NumMedia": "0"}
    data = URL + "".join(k + params[k] for k in sorted(params))
    signature = base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest())
    if edit:
        params["Body"] += "!"
    line: dict[str, object] = {
        "received_at": 1714560000 + n,
        "headers": {"X-Twilio-Signature": signature.decode()},
        "body": urlencode(params),
    }
    if url:
        line["url"] = url
    return json.dumps(line)


def write(tmp_path: Path, lines: list[str], name: str = "c.jsonl") -> str:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_cloud_signature_verifies_or_rejects_the_edited_body() -> None:
    good = json.loads(cloud_line(1))
    assert verify_signature(good, "cloud", SECRET, None) is True
    assert verify_signature(good, "cloud", None, None) is None  # no secret: nothing checked
    with pytest.raises(SignatureError) as edited:
        verify_signature(json.loads(cloud_line(1, edit=True)), "cloud", SECRET, None)
    assert edited.value.reason == "X-Hub-Signature-256 does not verify" and edited.value.counted
    unsigned = {**good, "headers": {"content-type": "application/json"}}
    with pytest.raises(SignatureError) as missing:
        verify_signature(unsigned, "cloud", SECRET, None)
    assert not missing.value.counted


def test_cloud_legacy_sha1_signature_is_checked_too() -> None:
    line = json.loads(cloud_line(1))
    mac = hmac.new(SECRET.encode(), line["body"].encode(), hashlib.sha1).hexdigest()
    line["headers"] = {"X-Hub-Signature": f"sha1={mac}"}
    assert verify_signature(line, "cloud", SECRET, None) is True


def test_twilio_signature_covers_url_and_sorted_fields() -> None:
    assert verify_signature(json.loads(twilio_line(1)), "twilio", None, TOKEN) is True
    fields = json.loads(twilio_line(2))
    fields["body"] = dict(parse_qsl(fields["body"]))
    assert verify_signature(fields, "twilio", None, TOKEN) is True  # fields logged as JSON
    with pytest.raises(SignatureError):
        verify_signature(json.loads(twilio_line(1, edit=True)), "twilio", None, TOKEN)
    with pytest.raises(SignatureError) as no_url:
        verify_signature(json.loads(twilio_line(1, url=None)), "twilio", None, TOKEN)
    assert "url" in no_url.value.reason and not no_url.value.counted


def test_the_tally_decides_as_soon_as_more_than_half_of_the_sample_failed() -> None:
    tally = SignatureTally()
    for _ in range(SAMPLE // 2):
        tally.add("cloud", False, "f")
        tally.add("cloud", True, "f")
    assert tally.verdict() is None and tally.verdict(final=True) is None  # exactly half
    early = SignatureTally()
    for _ in range(SAMPLE // 2 + 1):
        early.add("cloud", False, "f")
    assert early.verdict() == (
        "f",
        "101 of the first 101 signatures do not match: "
        "is SHADOW_APP_SECRET the app secret of this WhatsApp app?",
    )
    few = SignatureTally()
    few.add("twilio", False, "t")
    assert few.verdict() is None
    assert few.verdict(final=True) == (
        "t",
        "1 of the first 1 signatures do not match: "
        "is SHADOW_TWILIO_AUTH_TOKEN the auth token of this Twilio account?",
    )


def test_one_edited_body_is_rejected_and_the_rest_read(tmp_path: Path) -> None:
    lines = [cloud_line(n, edit=n == 4) for n in range(10)]
    capture = read_captures(
        [write(tmp_path, lines)], on_error="skip", options=ReadOptions(app_secret=SECRET)
    )
    assert [(bad.line, bad.reason) for bad in capture.rejected] == [
        (5, "X-Hub-Signature-256 does not verify")
    ]
    assert capture.accounting.total.messages == 9


def test_a_wrong_secret_stops_early_with_the_hint(tmp_path: Path) -> None:
    path = write(tmp_path, [cloud_line(n) for n in range(1000)])
    with pytest.raises(InputError) as stopped:
        read_captures([path], on_error="skip", options=ReadOptions(app_secret="wrong"))
    assert stopped.value.reason == (
        "101 of the first 101 signatures do not match: "
        "is SHADOW_APP_SECRET the app secret of this WhatsApp app?"
    )
    with pytest.raises(InputError) as first:
        read_captures([path], on_error="fail", options=ReadOptions(app_secret="wrong"))
    assert first.value.line == 1
    assert first.value.reason == (
        "X-Hub-Signature-256 does not verify (1 of the first 1 signatures do not match: "
        "is SHADOW_APP_SECRET the app secret of this WhatsApp app?)"
    )


def test_twilio_lines_are_verified_on_read(tmp_path: Path) -> None:
    path = write(tmp_path, [twilio_line(n, edit=n == 1) for n in range(3)])
    options = ReadOptions(twilio_auth_token=TOKEN)
    capture = read_captures([path], on_error="skip", options=options)
    assert [(bad.line, bad.reason) for bad in capture.rejected] == [
        (2, "X-Twilio-Signature does not verify")
    ]
    unchecked = read_captures([path], on_error="skip")
    assert unchecked.accounting.total.messages == 3
