"""Content keys (shadow/streams/content.py): what each reader takes from its gateway's payload,
how ``stream.parquet`` stores it (classes, never the raw key), how ``redact`` keeps it, and the
repeat classes it lets the comparator tell for media without a caption (issue 16)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from shadow.compare import stream_repeats
from shadow.prepare import prepare_stream
from shadow.streams import read_captures
from shadow.streams.content import geo_key, media_key, reaction_key, reply_key
from shadow.streams.parquet import Pseudonyms, stream_columns, write_parquet
from shadow.streams.redact import write_redacted

GATEWAYS = Path(__file__).parent.parent / "fixtures" / "gateways"
MINUTE = 60_000_000

#: fixture -> the content key of each inbound record, in order
EXPECTED = {
    "cloud/voice": ["sha256:dm9p"],
    "cloud/image": ["sha256:c2hhMjU2", "sha256:c2hhMjU3"],
    "cloud/location": ["geo:-23.55000,-46.63000", "geo:-23.56000,-46.65000"],
    "cloud/interactive": ["reply:yes", "reply:r1", ""],
    "cloud/button": ["reply:TRACK"],
    # a removed reaction has an empty emoji
    "cloud/reaction": ["reaction:wamid.OUT0001:👍", *["reaction:wamid.OUT0001:"] * 2],
    "cloud/contacts": [""],
    "evolution/voice": ["sha256:dm9pY2Utbm90ZQ=="],
    "evolution/image": ["sha256:AQIDBA=="],  # a serialized Uint8Array: its bytes, base64
    "evolution/location": ["geo:-23.55000,-46.63000"],
    "evolution/reaction": ["reaction:BAE5000001:❤️"],
    "evolution/buttons_response": ["reply:yes", "reply:r1"],
    "zapi/audio": ["media:https://z.example/1.ogg", "media:https://z.example/2.mp3"],
    "zapi/location": ["geo:-23.55000,-46.63000"],
    "zapi/reaction": ["reaction:3EB0Z00001:❤️"],
    "zapi/buttons": ["reply:1", "reply:r1"],
    "twilio/location": ["geo:-23.55000,-46.63000"],
    "twilio/button": ["reply:TRACK"],
    "twilio/interactive": ["reply:r1"],
    "twilio/media_only": [
        "media:https://api.twilio.com/media/ME1",
        "media:https://api.twilio.com/media/ME2",
        "media:https://api.twilio.com/media/ME3",
    ],
    "wwebjs/media": ["media:aW1hZ2Uta2V5", "sha256:cHR0LWhhc2g=", "", "", "", ""],
    "wwebjs/location": ["geo:-23.55000,-46.63000"],
    "wwebjs/reaction": ["reaction:true_5511999990001@c.us_3EB0W00003:👍"],
    "wwebjs/responses": ["reply:yes", "reply:r1", ""],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_reader_takes_the_content_key_its_payload_gives(name: str) -> None:
    fmt = name.split("/")[0]
    capture = read_captures([str(GATEWAYS / f"{name}.jsonl")], format=fmt)
    assert [record.content_key for record in capture.inbound] == EXPECTED[name]


def test_text_messages_have_no_content_key() -> None:
    for name in ("cloud/text", "zapi/text", "twilio/text", "wwebjs/chat", "evolution/conversation"):
        fmt = name.split("/")[0]
        capture = read_captures([str(GATEWAYS / f"{name}.jsonl")], format=fmt)
        assert capture.inbound and {record.content_key for record in capture.inbound} == {""}


def test_keys_are_canonical() -> None:
    assert geo_key("-23.5505199", -46.633309) == "geo:-23.55052,-46.63331"
    assert geo_key(-0.000001, 0) == "geo:0.00000,0.00000"  # no -0.00000
    assert geo_key(None, 1) == geo_key("north", 1) == geo_key(float("nan"), 1) == ""
    assert geo_key(True, 1) == ""
    assert media_key("abc", "id1") == "sha256:abc"
    assert media_key(None, "id1") == media_key("", "id1") == "media:id1"
    assert media_key({"0": 255, "1": 0}) == "sha256:/wA="
    assert media_key({"type": "Buffer", "data": [255, 0]}) == "sha256:/wA="
    assert media_key([1, 300]) == media_key(None, None) == ""
    assert reply_key("  ") == reaction_key(None, "x") == ""


def cloud_audio(message_id: str, at: int, sha256: str = "", kind: str = "audio") -> str:
    body: dict[str, object] = {"mime_type": "audio/ogg", "id": f"media-{message_id}", "voice": True}
    if sha256:
        body["sha256"] = sha256
    message: dict[str, object] = {
        "from": "5511999990001",
        "id": message_id,
        "timestamp": str(1767261600 + at),
        "type": kind,
        kind: body,
    }
    if kind == "location":
        message[kind] = {"latitude": -23.5613, "longitude": -46.6565}
    value = {"messaging_product": "whatsapp", "messages": [message]}
    change = {"value": value, "field": "messages"}
    return json.dumps({"object": "whatsapp_business_account", "entry": [{"changes": [change]}]})


def repeat_classes(
    path: Path, answered_at: list[int] | None
) -> tuple[list[str | None], list[int], dict[str, Any]]:
    capture = read_captures([str(path)])
    prepared = prepare_stream(capture.inbound, [], None, False, 0)
    answered = None if answered_at is None else np.asarray(answered_at, dtype=np.int64)
    repeat_of, kind = stream_repeats(prepared.stream, 10 * MINUTE, answered)
    return kind.tolist(), repeat_of.tolist(), prepared.columns


def test_identical_voice_notes_are_a_resend_or_a_repeat_after_reply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two uncaptioned voice notes with one sha256 (new wamid, new media id): a resend, or a
    repeat after a reply when the first was answered before the second came; a location
    after them, and a voice note of another file, are distinct."""
    monkeypatch.delenv("SHADOW_REDACT_KEY", raising=False)
    path = tmp_path / "voice.jsonl"
    lines = [
        cloud_audio("wamid.V1", 0, "c2FtZQ=="),
        cloud_audio("wamid.V2", 30, "c2FtZQ=="),
        cloud_audio("wamid.L1", 40, kind="location"),
        cloud_audio("wamid.V3", 50, "b3RoZXI="),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    kinds, repeat_of, columns = repeat_classes(path, [-1, -1, -1, -1])
    assert kinds == ["distinct", "resend", "distinct", "distinct"]
    assert repeat_of == [-1, 0, -1, -1]
    kinds, _, _ = repeat_classes(path, [10_000_000, -1, -1, -1])  # answered 10 s in
    assert kinds == ["distinct", "repeat_after_reply", "distinct", "distinct"]
    assert columns["content_hash"].to_pylist() == ["k0000001", "k0000001", "k0000002", "k0000003"]


def test_voice_notes_without_hashes_stay_distinct(tmp_path: Path) -> None:
    """Without a sha256 the media id is the key: a resent file has a new one (distinct, as
    before content keys); a redelivery keeps its wamid (a redelivery)."""
    path = tmp_path / "voice.jsonl"
    lines = [cloud_audio("wamid.V1", 0), cloud_audio("wamid.V2", 30), cloud_audio("wamid.V1", 40)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    kinds, _, _ = repeat_classes(path, [-1, -1, -1])
    assert kinds == ["distinct", "distinct", "redelivery"]


def test_stream_parquet_holds_classes_only_and_only_when_keys_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHADOW_REDACT_KEY", raising=False)
    capture = read_captures([str(GATEWAYS / "cloud/location.jsonl")], format="cloud")
    columns = stream_columns(capture, keep_raw=True, pseudonyms=Pseudonyms(None))
    assert columns["content_hash"].to_pylist() == ["k0000001", "k0000002"]
    write_parquet(columns, tmp_path / "stream.parquet")
    data = (tmp_path / "stream.parquet").read_bytes()
    assert b"-23.55" not in data and b"geo:" not in data
    keyed = stream_columns(capture, pseudonyms=Pseudonyms("a-key"))["content_hash"].to_pylist()
    assert all(len(c) == 17 and c.startswith("k") for c in keyed) and keyed[0] != keyed[1]
    text = read_captures([str(GATEWAYS / "cloud/text.jsonl")], format="cloud")
    assert "content_hash" not in stream_columns(text)
    assert "content_hash" in stream_columns(text, contents=True)  # a chunk of a keyed stream
    assert "content_hash" in pq.read_schema(tmp_path / "stream.parquet").names


def test_redacted_capture_keeps_content_equality_and_no_raw_key(tmp_path: Path) -> None:
    path = tmp_path / "voice.jsonl"
    lines = [
        cloud_audio("wamid.V1", 0, "c2FtZQ=="),
        cloud_audio("wamid.V2", 30, "c2FtZQ=="),
        cloud_audio("wamid.L1", 40, kind="location"),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "redacted.jsonl"
    write_redacted(read_captures([str(path)]), out, "a-key")
    written = out.read_text(encoding="utf-8")
    assert "c2FtZQ" not in written and "-23.56" not in written and "geo:" not in written
    keys = [json.loads(line)["content_key"] for line in written.splitlines()]
    assert keys[0] == keys[1] != keys[2] and keys[0].startswith("~r1:")
    kinds, _, _ = repeat_classes(out, [-1, -1, -1])
    assert kinds == ["distinct", "resend", "distinct"]
    write_redacted(read_captures([str(out)]), tmp_path / "again.jsonl", "a-key")
    again = (tmp_path / "again.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["content_key"] for line in again] == keys  # kept as they are


def test_a_scenario_message_content_keeps_the_identity(tmp_path: Path) -> None:
    """A scenario's listed ``content`` (what ``shadow repro`` writes) reaches the stream as the
    shadow format's ``content_key``: two voice notes of one content class repeat."""
    from shadow.streams.generate import generate_to_file

    scenario = tmp_path / "voices.yaml"
    scenario.write_text(
        "name: voices\ndescription: d\nduration: 1m\ncontacts: 1\ntraffic:\n  - messages:\n"
        "      - {at: 0s, contact: 1, type: voice, content: c1}\n"
        "      - {at: 5s, contact: 1, type: voice, content: c1}\n"
        "      - {at: 6s, contact: 1, type: voice}\n",
        encoding="utf-8",
    )
    capture = tmp_path / "voices.jsonl"
    generate_to_file(str(scenario), capture, 1)
    kinds, repeat_of, _ = repeat_classes(capture, [-1, -1, -1])
    assert kinds == ["distinct", "resend", "distinct"] and repeat_of == [-1, 0, -1]
