"""The bundled captures are what tools/make_samples.py writes, byte for byte (deterministic)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
CAPTURES = ROOT / "replay_data" / "captures"


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_samples", ROOT / "tools" / "make_samples.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bundled_captures_are_regenerated_identically_and_stay_small() -> None:
    tool = _tool()
    rows, start = tool._rows()
    early = [row for row in rows if row.at < tool.EVOLUTION_SPAN]
    expected = {
        "sample-cloud-api.jsonl": tool.cloud_lines(rows, start),
        "sample-evolution.jsonl": tool.evolution_lines(early, start),
    }
    for name, lines in expected.items():
        path = CAPTURES / name
        assert path.read_text(encoding="utf-8") == "".join(f"{line}\n" for line in lines), (
            f"{name} is stale: run .venv/bin/python tools/make_samples.py"
        )
        assert path.stat().st_size < 2_000_000
        assert len(lines) > 2000


def test_cloud_sample_has_the_shapes_formats_md_names() -> None:
    lines = [json.loads(line) for line in (CAPTURES / "sample-cloud-api.jsonl").open()]
    bodies = [line.get("body", line) for line in lines]
    wrapped = [line for line in lines if "body" in line]
    assert wrapped and all(set(line) == {"received_at", "headers", "body"} for line in wrapped)
    messages = [
        message
        for body in bodies
        for entry in body["entry"]
        for change in entry["changes"]
        for message in change["value"].get("messages", [])
    ]
    assert all(isinstance(message["timestamp"], str) for message in messages)
    assert all(message["from"].isdigit() for message in messages)
    ids = [message["id"] for message in messages]
    assert len(ids) - len(set(ids)) > 10, "redeliveries reuse the wamid"
    assert any(len(body["entry"]) > 1 for body in bodies)
    assert any(
        len(body["entry"][0]["changes"][0]["value"].get("messages", [])) > 1 for body in bodies
    )
    assert any("statuses" in body["entry"][0]["changes"][0]["value"] for body in bodies)
    assert {message["type"] for message in messages} >= {"text", "image", "audio", "interactive"}


def test_evolution_sample_has_replies_a_group_and_lid_contacts() -> None:
    lines = [json.loads(line) for line in (CAPTURES / "sample-evolution.jsonl").open()]
    assert all(line["event"] == "messages.upsert" for line in lines)
    keys = [line["data"]["key"] for line in lines]
    assert sum(key["fromMe"] for key in keys) > 100
    assert sum(key["remoteJid"].endswith("@g.us") for key in keys) == 1
    assert any(key.get("addressingMode") == "lid" and "remoteJidAlt" in key for key in keys)
    shadow = (CAPTURES / "sample-shadow.jsonl").read_text(encoding="utf-8").splitlines()
    assert 400 < len(shadow) < 700
