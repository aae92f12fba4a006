"""Absolute harms per arm (shadow.compare.harms) and their gate checks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, get_args

import pandas as pd
from gate_run_folder import outcome_rows, write_run
from hypothesis import given
from hypothesis import strategies as st

from shadow.compare import HARMS, arm_harms
from shadow.gate.files import load_gate_input
from shadow.gate.harms import NO_WORSE, harm_checks
from shadow.gate.policy import Harm, Policy, parse_policy
from shadow.gate.verdict import GateOptions, evaluate


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    defaults: dict[str, Any] = {
        "contact_id": "a",
        "fate": "answered",
        "first_reply_at": None,
        "reply_text_hash": "",
        "repeat_of": None,
        "repeat_kind": "distinct",
    }
    records = [{**defaults, **row, "seq": seq} for seq, row in enumerate(rows)]
    result = pd.DataFrame(records)
    result["repeat_of"] = result["repeat_of"].astype("Int64")
    result["first_reply_at"] = result["first_reply_at"].astype(float)
    return result.iloc[::-1]  # any row order


def test_every_harm_is_counted_from_what_the_user_lived() -> None:
    found = arm_harms(
        frame(
            [
                {"first_reply_at": 1.0, "reply_text_hash": "r1"},  # 0 answered
                {"repeat_of": 0, "repeat_kind": "redelivery", "first_reply_at": 2.0},  # harm
                {"fate": "duplicate_suppressed", "repeat_of": 0, "repeat_kind": "resend"},
                {"fate": "duplicate_suppressed", "repeat_kind": "distinct"},  # meant, never
                {
                    "fate": "duplicate_suppressed",
                    "repeat_of": 0,
                    "repeat_kind": "repeat_after_reply",
                },
                {"first_reply_at": 30.0, "reply_text_hash": "r1"},  # same text within 60 s
                {"first_reply_at": 200.0, "reply_text_hash": "r1"},  # too late to count
                {"fate": "stranded"},
                {"fate": "unanswered", "repeat_of": 3, "repeat_kind": "resend"},  # origin lost
            ]
        ),
        window_s=60.0,
    )
    assert found == {
        "redeliveries_answered": 1,
        "meant_suppressed": 2,
        "never_answered": 4,  # seqs 3, 4, 7, 8 (2 is a resend of an answered message)
        "duplicate_replies": 1,
        "stranded": 1,
    }


def test_the_policy_harm_names_are_the_comparator_harms() -> None:
    assert get_args(Harm) == HARMS


def policy(**harms: int) -> Policy:
    return Policy.model_validate(
        {
            "min_messages": 1,
            "min_contacts": 1,
            "checks": [{"name": "x", "kinds": ["lost_reply"], "max_count": 0}],
            "harms": harms,
        }
    )


def test_a_harm_both_arms_share_fails_its_maximum_but_not_no_worse() -> None:
    same = dict.fromkeys(HARMS, 0) | {"redeliveries_answered": 7}
    counts = {"legacy": same, "rollout@10": same}
    absolute, worse = harm_checks(
        counts, policy(redeliveries_answered=0), "legacy", "rollout@10", 9
    )
    assert absolute.verdict == "fail" and "redeliveries_answered: 7 of 9" in absolute.reason
    assert worse.name == NO_WORSE and worse.verdict == "pass"


def test_a_candidate_worse_on_any_harm_fails_no_worse_with_both_numbers() -> None:
    base = dict.fromkeys(HARMS, 1)
    cand = base | {"duplicate_replies": 3}
    (worse,) = harm_checks({"a": base, "b": cand}, policy(), "a", "b", 50)
    assert worse.verdict == "fail"
    assert worse.reason == "b: duplicate_replies: 3 of 50 messages vs 1 in the baseline"


def _with_harm_columns(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    answered = [row["fate"] == "answered" for row in rows]
    return [
        {
            **row,
            "reply_count": 1 if ok else 0,
            "first_reply_at": float(row["seq"]) if ok else None,
            "reply_text_hash": f"r{row['seq']}" if ok else None,
            "repeat_of": None,
            "repeat_kind": "distinct",
        }
        for row, ok in zip(rows, answered, strict=True)
    ]


def test_a_model_that_disagrees_with_production_makes_the_gate_inconclusive_naming_fidelity(
    tmp_path: Path,
) -> None:
    """Production (``recorded``) answered one message in ten; the legacy model all of them."""
    messages, contacts = 4000, 1000
    silent = [seq for seq in range(messages) if seq % 10]
    rows = (
        outcome_rows("legacy", messages, contacts)
        + outcome_rows("rollout@10", messages, contacts, stage=10)
        + outcome_rows("recorded", messages, contacts, failing=silent)
    )
    folder = write_run(
        tmp_path / "run", _with_harm_columns(rows), [], arms=("legacy", "rollout@10", "recorded")
    )
    text = """
min_messages: 100
min_contacts: 20
checks:
  - name: order
    kinds: [order_broken]
    max_count: 0
"""
    options = GateOptions(
        stage=10, as_of=dt.date(2025, 3, 1), policy_sha256="0" * 64, policy_source="p.yaml"
    )
    report = evaluate(load_gate_input(folder, "run"), parse_policy(text, "p.yaml"), options)
    assert report.verdict == "inconclusive", report.document["reasons"]
    assert report.exit_status == 2
    assert report.document["deciding"] == ["model fidelity"]
    (reason,) = report.document["reasons"]
    assert "agrees with production on 400 of 4000 messages (10.0%)" in reason
    assert "recorded_only" not in reason and "model_only 3600" in reason
    assert report.document["fidelity"]["disagreements"]["model_only"] == 3600
    # pinned lower, the same run passes
    lenient = parse_policy(text + "min_fidelity: 0.05\n", "p.yaml")
    assert evaluate(load_gate_input(folder, "run"), lenient, options).verdict == "pass"


def _reference_arm_harms(frame: pd.DataFrame, window_s: float) -> dict[str, int]:
    """The harms' definition row by row, in Python objects (the module doc, as first written)."""
    import numpy as np

    from shadow.compare.frame import MEANT

    rows = frame.sort_values("seq", kind="stable").reset_index(drop=True)
    fate = rows["fate"].astype("string").fillna("").to_numpy(dtype=object)
    kind = rows["repeat_kind"].astype("string").fillna("").to_numpy(dtype=object)
    answered = fate == "answered"
    redelivery = kind == "redelivery"
    index_of = {int(seq): i for i, seq in enumerate(rows["seq"])}
    origin_answered = np.array(
        [
            not pd.isna(o) and int(o) in index_of and bool(answered[index_of[int(o)]])
            for o in rows["repeat_of"]
        ],
        dtype=bool,
    )
    excused = redelivery | ((kind == "resend") & origin_answered)
    part = pd.DataFrame(
        {
            "contact": rows["contact_id"].astype("string").to_numpy(dtype=object)[answered],
            "at": rows["first_reply_at"].to_numpy(dtype=float)[answered],
            "text": rows["reply_text_hash"]
            .astype("string")
            .fillna("")
            .to_numpy(dtype=object)[answered],
        }
    )
    part = part[part["text"] != ""].sort_values(["contact", "at"], kind="stable")
    close = (part["at"] - part["at"].shift()) <= window_s
    same = part["contact"].eq(part["contact"].shift()) & part["text"].eq(part["text"].shift())
    return {
        "redeliveries_answered": int((redelivery & answered).sum()),
        "meant_suppressed": int(((fate == "duplicate_suppressed") & np.isin(kind, MEANT)).sum()),
        "never_answered": int((~answered & ~excused).sum()),
        "duplicate_replies": int((same & close).sum()),
        "stranded": int((fate == "stranded").sum()),
    }


@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c"]),
            st.sampled_from(["answered", "unanswered", "duplicate_suppressed", "stranded", None]),
            st.sampled_from([None, 0.0, 1.0, 30.0, 61.0, 200.0, float("nan")]),
            st.sampled_from(["", "r1", "r2", None]),
            st.one_of(st.none(), st.integers(0, 30)),
            st.sampled_from(["distinct", "redelivery", "resend", "repeat_after_reply", None]),
        ),
        max_size=30,
    ),
    arrow=st.booleans(),
    window=st.sampled_from([0.0, 30.0, 60.0]),
)
def test_harm_counts_equal_their_row_by_row_definition(
    rows: list[tuple[Any, ...]], arrow: bool, window: float
) -> None:
    """The counts in bulk (codes, no Python object per row) equal the definition's, ties in
    reply time, missing origins and nulls included, from object or Arrow text columns."""
    names = ["contact_id", "fate", "first_reply_at", "reply_text_hash", "repeat_of"]
    data = pd.DataFrame([dict(zip([*names, "repeat_kind"], row, strict=True)) for row in rows])
    data = data.reindex(columns=[*names, "repeat_kind"])
    data.insert(0, "seq", range(len(data)))
    data["repeat_of"] = data["repeat_of"].astype("Int64")
    data["first_reply_at"] = data["first_reply_at"].astype(float)
    text = "string[pyarrow]" if arrow else object
    for name in ("contact_id", "fate", "reply_text_hash", "repeat_kind"):
        data[name] = data[name].astype(text)
    shuffled = data.iloc[::-1]
    assert arm_harms(shuffled, window) == _reference_arm_harms(shuffled, window)
