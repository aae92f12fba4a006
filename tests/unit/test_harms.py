"""Absolute harms per arm (shadow.compare.harms) and their gate checks."""

from __future__ import annotations

from typing import Any, get_args

import pandas as pd

from shadow.compare import HARMS, arm_harms
from shadow.gate.harms import NO_WORSE, harm_checks
from shadow.gate.policy import Harm, Policy


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
