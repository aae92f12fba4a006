"""The receiver's line spelling: ``JSON.stringify`` of the middleware, and its arrival stamp."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shadow.live.receiver import arrival, js_line

TRICKY = [
    "olá 😀 ção",
    'quote " backslash \\ slash /',
    "controls \x00\x01\x08\t\n\x0c\r\x1f\x7f",
    "separators \u2028 \u2029",
    '{"object":"whatsapp_business_account","entry":[]}',
]


@given(st.text())
def test_js_line_round_trips_and_escapes_only_what_json_must(text: str) -> None:
    line = js_line({"received_at": "x", "body": text})
    assert json.loads(line) == {"received_at": "x", "body": text}
    assert "\n" not in line
    if all(ord(c) >= 0x20 and c not in '"\\' for c in text):
        assert line == '{"received_at":"x","body":"' + text + '"}'


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_js_line_is_json_stringify() -> None:
    script = (
        "const t=JSON.parse(require('fs').readFileSync(0,'utf8'));"
        "for (const s of t) console.log(JSON.stringify({received_at:'x',body:s}));"
    )
    result = subprocess.run(
        ["node", "-e", script],
        input=json.dumps(TRICKY),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    expected = result.stdout.split("\n")[: len(TRICKY)]
    got = [js_line({"received_at": "x", "body": s}) for s in TRICKY]
    assert got == expected


def test_arrival_is_to_iso_string() -> None:
    moment = dt.datetime(2026, 12, 2, 6, 26, 29, 123456, tzinfo=dt.UTC)
    assert arrival(lambda: moment) == ("2026-12-02T06:26:29.123Z", "2026-12-02")
    local = moment.astimezone(dt.timezone(dt.timedelta(hours=-3)))
    assert arrival(lambda: local) == ("2026-12-02T06:26:29.123Z", "2026-12-02")
