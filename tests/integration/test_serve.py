"""``shadow serve`` through a real uvicorn on 127.0.0.1: what it stores, what it refuses, and
that no acknowledged POST is lost when it is killed with SIGKILL during a load."""

from __future__ import annotations

import http.client
import json
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from cli_support import run_shadow
from live_support import (
    capture_lines,
    cloud_body,
    cloud_signature,
    free_port,
    request,
    start_shadow,
    wait_healthy,
)

from shadow.streams import twilio_signature

SECRET = "app-secret-for-tests"
ENV = {
    "SHADOW_APP_SECRET": SECRET,
    "SHADOW_VERIFY_TOKEN": "verify-me",
    "SHADOW_TWILIO_AUTH_TOKEN": "twilio-token",
    "SHADOW_EVOLUTION_APIKEY": "evo-key",
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    port = free_port()
    folder = tmp_path / "capture"
    process = start_shadow("serve", "--capture-dir", str(folder), "--port", str(port), env=ENV)
    try:
        wait_healthy(port, process)
        yield port, folder
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)


def test_cloud_line_is_the_middlewares_and_validates(server: tuple[int, Path]) -> None:
    port, folder = server
    body = cloud_body(1)
    status, _ = request(
        port, "POST", "/cloud", body, {"X-Hub-Signature-256": cloud_signature(body, SECRET)}
    )
    assert status == 200
    [line] = capture_lines(folder)
    stored = json.loads(line)
    assert list(stored) == ["received_at", "headers", "body"]
    assert stored["body"] == body.decode()
    assert stored["headers"] == {"x-hub-signature-256": cloud_signature(body, SECRET)}
    assert stored["received_at"].endswith("Z") and len(stored["received_at"]) == 24
    assert "olá" in line  # non-ASCII kept as JSON.stringify keeps it
    [path] = folder.glob("cloud-*.jsonl")
    checked = run_shadow("validate", str(path), "--json", env={"SHADOW_APP_SECRET": SECRET})
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["line_kinds"]["inbound"] == 1


def test_bad_signature_401_bad_body_400_nothing_stored(server: tuple[int, Path]) -> None:
    port, folder = server
    body = cloud_body(2)
    assert request(port, "POST", "/cloud", body, {"X-Hub-Signature-256": "sha256=00"})[0] == 401
    assert request(port, "POST", "/cloud", body)[0] == 401
    junk = b'{"not": "a webhook"}'
    assert (
        request(
            port, "POST", "/cloud", junk, {"X-Hub-Signature-256": cloud_signature(junk, SECRET)}
        )[0]
        == 400
    )
    bad_utf8 = b"\xff\xfe"
    assert (
        request(
            port,
            "POST",
            "/cloud",
            bad_utf8,
            {"X-Hub-Signature-256": cloud_signature(bad_utf8, SECRET)},
        )[0]
        == 400
    )
    assert (
        request(port, "POST", "/evolution", b'{"event": "messages.upsert"}', {"apikey": "evo-key"})[
            0
        ]
        == 400
    )
    assert (
        request(port, "POST", "/evolution", b'{"event": "x", "data": {}}', {"apikey": "wrong"})[0]
        == 401
    )
    assert (
        request(
            port,
            "POST",
            "/twilio",
            b"MessageSid=SM1&From=whatsapp%3A%2B5511",
            {"X-Twilio-Signature": "bad"},
        )[0]
        == 401
    )
    assert capture_lines(folder) == []
    metrics = request(port, "GET", "/metrics")[1].decode()
    assert 'shadow_serve_requests_total{provider="cloud",status="401"} 2.0' in metrics
    assert "shadow_serve_lines 0.0" in metrics


def test_cloud_get_verification(server: tuple[int, Path]) -> None:
    port, _ = server
    ok = "/cloud?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444"
    assert request(port, "GET", ok) == (200, b"1158201444")
    wrong = "/cloud?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1"
    assert request(port, "GET", wrong)[0] == 403


def test_evolution_and_twilio_lines_keep_no_secret(server: tuple[int, Path]) -> None:
    port, folder = server
    evolution = {
        "event": "messages.upsert",
        "instance": "bot",
        "apikey": "evo-key",
        "data": {
            "key": {"remoteJid": "5511900000002@s.whatsapp.net", "fromMe": False, "id": "E1"},
            "message": {"conversation": "oi"},
            "messageType": "conversation",
            "messageTimestamp": 1767614402,
        },
    }
    status, _ = request(
        port, "POST", "/evolution/messages-upsert", json.dumps(evolution, indent=2).encode()
    )
    assert status == 200
    fields = {
        "MessageSid": "SM1",
        "From": "whatsapp:+5511900000003",
        "WaId": "5511900000003",
        "Body": "olá",
    }
    form = urlencode(fields)
    signature = twilio_signature(
        f"http://127.0.0.1:{port}/twilio", list(fields.items()), "twilio-token"
    )
    headers = {
        "X-Twilio-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": "Basic c2VjcmV0",
    }
    status, answer = request(port, "POST", "/twilio", form.encode(), headers)
    assert status == 200 and answer == b"<Response/>"
    lines = capture_lines(folder)
    text = "\n".join(lines)
    for secret in ("evo-key", "twilio-token", "c2VjcmV0", "apikey"):
        assert secret not in text
    [evo] = [json.loads(x) for x in lines if '"event"' in x]
    assert next(iter(evo)) == "received_at" and evo["data"] == evolution["data"]
    [twilio] = [json.loads(x) for x in lines if '"event"' not in x]
    assert twilio["body"] == form
    assert twilio["headers"] == {"x-twilio-signature": signature}
    assert twilio["url"] == f"http://127.0.0.1:{port}/twilio"
    paths = [str(p) for p in sorted(folder.glob("*.jsonl"))]
    checked = run_shadow("validate", *paths, "--json")
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["line_kinds"]["inbound"] == 2


def test_no_acknowledged_post_lost_on_sigkill(tmp_path: Path) -> None:
    """Four clients post up to 400 messages each; the receiver is SIGKILLed once 300 were
    acknowledged; every acknowledged message is in the capture, every line whole."""
    port = free_port()
    folder = tmp_path / "capture"
    process = start_shadow("serve", "--capture-dir", str(folder), "--port", str(port), env=ENV)
    wait_healthy(port, process)
    acked: list[int] = []
    lock = threading.Lock()
    enough = threading.Event()

    def client(offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for n in range(offset, offset + 400):
            body = cloud_body(n)
            try:
                status, _ = request(
                    port,
                    "POST",
                    "/cloud",
                    body,
                    {"X-Hub-Signature-256": cloud_signature(body, SECRET)},
                    conn,
                )
            except (OSError, http.client.HTTPException):
                return
            if status == 200:
                with lock:
                    acked.append(n)
                    if len(acked) >= 300:
                        enough.set()

    threads = [threading.Thread(target=client, args=(k * 1000,)) for k in range(4)]
    for thread in threads:
        thread.start()
    enough.wait(timeout=120)
    process.kill()
    process.communicate(timeout=30)
    for thread in threads:
        thread.join(timeout=60)
    assert len(acked) >= 300
    stored: set[int] = set()
    for line in capture_lines(folder):
        body = json.loads(json.loads(line)["body"])
        stored.add(int(body["entry"][0]["changes"][0]["value"]["messages"][0]["id"][6:]))
    assert set(acked) <= stored
