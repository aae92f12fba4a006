"""Helpers for tests of ``shadow serve`` and ``shadow watch``: real subprocesses, 127.0.0.1
only, every wait a bounded loop."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from cli_support import ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_shadow(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "shadow.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
        cwd=ROOT,
    )


def wait_healthy(port: int, process: subprocess.Popen[str], tries: int = 200) -> None:
    """Poll ``/healthz`` at most ``tries`` times, 50 ms apart."""
    for _ in range(tries):
        if process.poll() is not None:
            raise AssertionError(f"server exited: {process.communicate()[1]}")
        try:
            status, _ = request(port, "GET", "/healthz")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError("server never became healthy")


def request(
    port: int,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    connection: http.client.HTTPConnection | None = None,
) -> tuple[int, bytes]:
    conn = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        if connection is None:
            conn.close()


def cloud_body(number: int, contact: str = "5511900000001", at: int = 1767614402) -> bytes:
    """A Cloud API webhook with one text message, ``wamid.<number>``."""
    message = {
        "from": contact,
        "id": f"wamid.{number}",
        "timestamp": str(at),
        "type": "text",
        "text": {"body": f"olá {number}"},
    }
    value = {"messaging_product": "whatsapp", "messages": [message]}
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"value": value, "field": "messages"}]}],
    }
    return json.dumps(body, ensure_ascii=False).encode()


def cloud_signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def capture_lines(folder: Path) -> list[str]:
    return [
        line
        for path in sorted(folder.glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
