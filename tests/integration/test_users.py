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
    replied = unified["first_reply_at"].to_numpy(dtype=float)
    last_sent: dict[tuple[str, str], int] = {}
    expected: set[int] = set()
    for seq, contact, text, kind in zip(
        stream["seq"], stream["contact_id"], stream["text_hash"], stream["repeat_kind"], strict=True
    ):
        key = (contact, text)
        origin = last_sent.get(key)
        answered_before = origin is not None and replied[origin] <= at[seq] + 1e-9
        if kind == "resend" and answered_before:  # NaN (never answered) compares False
            expected.add(int(seq))
            continue
        last_sent[key] = int(seq)
    # the withheld ones are exactly the resends arriving after unified's reply to their original
    assert withheld == expected
    assert set(stream.loc[list(withheld), "repeat_kind"]) == {"resend"}
