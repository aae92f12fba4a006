"""Signatures on the command line: an edited body is rejected and named; a wrong secret stops
``validate`` and ``replay`` early (exit 3) with the hint."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest
from cli_support import run_shadow

SECRET = "the-app-secret"
LINES = 300
EDITED = 42  # the line whose body changed after signing
HINT = "is SHADOW_APP_SECRET the app secret of this WhatsApp app?"


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Cloud API capture, every line signed, line ``EDITED`` edited after signing."""
    lines = []
    for n in range(1, LINES + 1):
        message = {
            "from": f"55119{n % 40:08d}",
            "id": f"wamid.{n}",
            "timestamp": str(1714560000 + n),
            "type": "text",
            "text": {"body": f"mensagem {n % 7}"},
        }
        body = json.dumps(
            {
                "object": "whatsapp_business_account",
                "entry": [{"changes": [{"field": "messages", "value": {"messages": [message]}}]}],
            }
        )
        mac = hmac.new(SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()
        if n == EDITED:
            body = body.replace("mensagem", "mensagen")
        wrapper = {
            "received_at": 1714560000 + n,
            "headers": {"x-hub-signature-256": f"sha256={mac}"},
        }
        lines.append(json.dumps({**wrapper, "body": body}))
    path = tmp_path_factory.mktemp("signed") / "webhooks.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_edited_body_is_the_one_rejected_and_replay_says_so(
    signed: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    env = {"SHADOW_APP_SECRET": SECRET}
    result = run_shadow(
        "replay", str(signed), "--on-error", "skip", "--out", str(out), "--workers", "1", env=env
    )
    assert result.returncode == 0, result.stderr
    assert f"X-Hub-Signature-256 does not verify: 1 ({signed.name}:{EDITED})" in result.stdout
    assert "skipped 1 bad lines" in result.stderr
    rejected = (out / "rejected.jsonl").read_text(encoding="utf-8").splitlines()
    assert [(json.loads(x)["line"], json.loads(x)["reason"]) for x in rejected] == [
        (EDITED, "X-Hub-Signature-256 does not verify")
    ]
    manifest = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert manifest["stream"]["messages"] == LINES - 1
    unchecked = run_shadow("validate", str(signed), "--json")  # without the secret: all read
    assert unchecked.returncode == 0 and json.loads(unchecked.stdout)["messages"] == LINES


@pytest.mark.parametrize(
    "command", [["validate"], ["replay", "--on-error", "skip"], ["replay"], ["redact"]]
)
def test_a_wrong_secret_stops_early_with_the_hint(
    signed: Path, tmp_path: Path, command: list[str]
) -> None:
    args = [command[0], str(signed), *command[1:]]
    args += ["-o", str(tmp_path / "r.jsonl")] if command == ["redact"] else []
    args += ["--out", str(tmp_path / "run")] if command[0] == "replay" else []
    env = {"SHADOW_APP_SECRET": "not-the-secret", "SHADOW_REDACT_KEY": "k"}
    result = run_shadow(*args, env=env)
    assert result.returncode == 3, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    if "skip" in command or command == ["validate"]:  # the first 101 fail: no need to read on
        assert lines[0] == f"error: {signed}: 101 of the first 101 signatures do not match: {HINT}"
    else:  # --on-error fail stops at the first bad line, and says why it may be
        assert lines[0] == (
            f"error: {signed}:1: X-Hub-Signature-256 does not verify "
            f"(1 of the first 1 signatures do not match: {HINT})"
        )
    assert not (tmp_path / "run" / "run.json").exists() and not (tmp_path / "r.jsonl").exists()
