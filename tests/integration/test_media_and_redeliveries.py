"""Acceptance of issue 16 on the built-in scenario ``media-and-redeliveries`` (real CLI).

Unified's suppression of a location right after a voice note is a ``lost_message``
regression; answers to redeliveries are counted for both arms; suppressing a resend is an
improvement; the gate's harm numbers are the report's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
from cli_support import run_shadow


def test_media_and_redeliveries_are_graded_by_what_the_user_lived(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    replayed = run_shadow(
        "replay", "scenario:media-and-redeliveries", "--stage", "10", "--out", str(folder)
    )
    assert replayed.returncode == 0, replayed.stderr
    gated = run_shadow("gate", str(folder), "--stage", "10", "--as-of", "2026-01-01", "--json")
    assert gated.returncode in (1, 2), gated.stderr
    document = json.loads(gated.stdout)

    stream = pd.read_parquet(folder / "stream.parquet").set_index("seq")
    previous_type = stream.groupby("contact_id")["type"].shift()
    lines = [json.loads(line) for line in (folder / "divergences.jsonl").read_text().splitlines()]
    pair = {
        line["seq"]: line
        for line in lines
        if (line["baseline"], line["candidate"]) == ("legacy", "unified")
    }
    after_voice = stream.index[(stream["type"] == "location") & previous_type.isin(["voice"])]
    suppressed = [
        seq
        for seq in after_voice
        if seq in pair and pair[seq]["outcomes"]["candidate"]["fate"] == "duplicate_suppressed"
    ]
    assert suppressed, "unified suppressed no location sent right after a voice note"
    for seq in suppressed:
        line = pair[seq]
        assert "lost_message" in line["kinds"], line
        assert line["severities"]["lost_message"] == "regression"
        assert line["severity"] == "regression"
        assert line["outcomes"]["baseline"]["repeat_kind"] == "distinct"

    # answers to redeliveries: a harm of every arm, counted though both arms share it
    harms = document["harms"]
    assert harms["legacy"]["redeliveries_answered"] > 0
    assert harms["unified"]["redeliveries_answered"] > 0
    assert harms["unified"]["meant_suppressed"] > harms["legacy"]["meant_suppressed"]

    # a suppressed resend is an improvement (legacy processed it and its window blocked the
    # reply: unified spares the agent call)
    resends = [
        line
        for line in pair.values()
        if line["outcomes"]["candidate"]["fate"] == "duplicate_suppressed"
        and line["outcomes"]["baseline"]["repeat_kind"] == "resend"
    ]
    assert resends
    assert {line["severity"] for line in resends} == {"improvement"}

    # every signature group belongs to one pair, and its examples diverge in that pair
    diverging = {(line["baseline"], line["candidate"], line["seq"]) for line in lines}
    groups = json.loads((folder / "signatures.json").read_text())
    assert len({(g["baseline"], g["candidate"]) for g in groups}) > 1
    for group in groups:
        assert list(group["pairs"]) == [f"{group['baseline']} vs {group['candidate']}"]
        assert all(
            (group["baseline"], group["candidate"], s) in diverging for s in group["examples"]
        )

    # the gate names the lost messages, and the report shows the gate's harm numbers
    assert "no lost messages" in document["deciding"]
    reported = run_shadow("report", str(folder))
    assert reported.returncode == 0, reported.stderr
    markdown = (folder / "report.md").read_text()
    for arm, counts in harms.items():
        row = re.search(rf"^\| {re.escape(arm)} \| ([\d |]+)\|$", markdown, re.MULTILINE)
        assert row, arm
        shown = [int(cell) for cell in row.group(1).split("|")]
        order = [
            "redeliveries_answered",
            "meant_suppressed",
            "never_answered",
            "duplicate_replies",
            "stranded",
        ]
        assert shown == [counts[name] for name in order], arm


def _cloud_line(message: dict[str, object]) -> str:
    value = {"messaging_product": "whatsapp", "messages": [message]}
    body = {"object": "whatsapp_business_account", "entry": [{"changes": [{"value": value}]}]}
    return json.dumps(body)


def _voice(ident: str, at: int, sha256: str) -> dict[str, object]:
    audio = {"mime_type": "audio/ogg", "sha256": sha256, "id": f"media-{ident}", "voice": True}
    return {
        "from": "5511999990001",
        "id": ident,
        "timestamp": str(at),
        "type": "audio",
        "audio": audio,
    }


def test_a_resent_voice_note_is_a_resend_whole_and_streamed(tmp_path: Path) -> None:
    """Two uncaptioned voice notes of one file (one sha256) 20 s apart: the second repeats the
    first (a resend, or a repeat after a reply when the baseline answered the first in
    between); a place right after stays distinct. The streamed run writes the whole run's
    files."""
    from shadow.replay.inputs import ReplayOptions
    from shadow.replay.pipeline import replay

    t0 = 1767261600
    capture = tmp_path / "voice.jsonl"
    place = {"latitude": -23.5613, "longitude": -46.6565}
    lines = [
        _cloud_line(_voice("wamid.V1", t0, "c2FtZQ==")),
        _cloud_line(_voice("wamid.V2", t0 + 20, "c2FtZQ==")),
        _cloud_line(
            {
                "from": "5511999990001",
                "id": "wamid.L1",
                "timestamp": str(t0 + 21),
                "type": "location",
                "location": place,
            }
        ),
    ]
    capture.write_text("\n".join(lines) + "\n", encoding="utf-8")
    files = {}
    for label, chunk in (("whole", None), ("streamed", 1)):
        out = tmp_path / label
        replay(ReplayOptions(inputs=[str(capture)], out=out, reports=False, chunk=chunk))
        files[label] = {
            p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.name != "timing.json"
        }
    assert files["streamed"] == files["whole"]
    stream = pd.read_parquet(tmp_path / "whole" / "stream.parquet")
    assert stream["content_hash"].tolist() == ["k0000001", "k0000001", "k0000002"]
    outcomes = pd.read_parquet(tmp_path / "whole" / "outcomes.parquet")
    legacy = outcomes[outcomes["arm"] == "legacy"].sort_values("seq")
    answered = legacy["first_reply_at"].iloc[0]
    repeat = "repeat_after_reply" if pd.notna(answered) and answered <= 20 else "resend"
    assert legacy["repeat_kind"].tolist() == ["distinct", repeat, "distinct"]
    assert legacy["repeat_of"].tolist()[1] == 0
