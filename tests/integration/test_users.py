"""``environment.users: reactive`` (issue 19): an arm's users do not resend what it answered."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from shadow.replay.inputs import ReplayOptions
from shadow.replay.pipeline import replay


def _run(tmp_path: Path, users: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    out = tmp_path / users
    replay(
        ReplayOptions(
            inputs=["scenario:impatient-duplicates"],
            arms=["legacy", "unified"],
            sets=[f"environment.users={users}"],
            out=out,
            reports=False,
        )
    )
    return pd.read_parquet(out / "stream.parquet"), pd.read_parquet(out / "outcomes.parquet")


def test_reactive_unified_receives_fewer_messages_exactly_the_answered_resends(
    tmp_path: Path,
) -> None:
    stream, open_outcomes = _run(tmp_path, "open")
    _, reactive = _run(tmp_path, "reactive")
    unified_open = open_outcomes[open_outcomes["arm"] == "unified"].set_index("seq")
    unified = reactive[reactive["arm"] == "unified"].set_index("seq")
    assert not (unified_open["rule"] == "environment.users").any()
    withheld = set(unified.index[unified["rule"] == "environment.users"])
    assert withheld  # fewer messages reach unified under reactive users
    received = stream["received_at"]
    at = (
        (received - received.min()).dt.total_seconds()
        if hasattr(received, "dt")
        else (received - received.min()) / 1e6
    ).to_numpy()
    # when unified's users sent each message (reactive pacing moves some later)
    assert "sent_at" in unified.columns and "sent_at" not in unified_open.columns
    sent = unified["sent_at"].to_numpy(dtype=float)
    assert (sent >= at - 1e-9).all()  # never earlier than the stream's time
    assert (sent > at + 1e-9).any()  # some later: unified's reply paced them
    replied = unified["first_reply_at"].to_numpy(dtype=float)
    last_sent: dict[tuple[str, str], int] = {}
    expected: set[int] = set()
    order = sorted(range(len(stream)), key=lambda seq: (sent[seq], seq))
    rows = stream.set_index("seq")
    for seq in order:
        contact, text, kind = rows.loc[seq, ["contact_id", "text_hash", "repeat_kind"]]
        key = (contact, text)
        origin = last_sent.get(key)
        answered_before = origin is not None and replied[origin] <= sent[seq] + 1e-9
        if kind == "resend" and answered_before:  # NaN (never answered) compares False
            expected.add(int(seq))
            continue
        last_sent[key] = int(seq)
    # the withheld ones are exactly the resends arriving after unified's reply to their original
    assert withheld == expected
    assert set(stream.loc[list(withheld), "repeat_kind"]) == {"resend"}


def test_reactive_is_the_default_for_scenarios_open_for_captures(tmp_path: Path) -> None:
    import json

    from shadow.streams import generate_to_file

    replay(ReplayOptions(inputs=["scenario:conflict-2-oi"], out=tmp_path / "s", reports=False))
    capture = tmp_path / "c.jsonl"
    _, env = generate_to_file("conflict-2-oi", capture)
    env.unlink()  # a capture: no scenario environment beside it
    generated = tmp_path / "g.jsonl"
    generate_to_file("conflict-2-oi", generated)  # its .env.yaml carries the scenario default
    replay(ReplayOptions(inputs=[str(generated)], out=tmp_path / "g", reports=False))
    replay(ReplayOptions(inputs=[str(capture)], out=tmp_path / "c", reports=False))
    forced = ReplayOptions(inputs=["scenario:conflict-2-oi"], out=tmp_path / "o", reports=False)
    forced.sets = ["environment.users=open"]
    replay(forced)
    users = {
        name: json.loads((tmp_path / name / "run.json").read_text())["config"]["environment"][
            "users"
        ]
        for name in ("s", "c", "o", "g")
    }
    assert users == {"s": "reactive", "c": "open", "o": "open", "g": "reactive"}
