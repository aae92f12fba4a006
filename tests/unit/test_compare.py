"""The comparator: every divergence kind, severities, attribution, signatures, harness errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shadow.compare.frame import content_identity, order_violations, repeat_facts
from shadow.compare.pairs import CompareSettings, _distinct_rows, compare_pair, signature
from shadow.compare.signatures import signatures_summary
from shadow.simulation.runner import Codes
from shadow.world import text_token


def frame(arm: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """An outcome frame with defaults: answered once, latency 5 s, batch 1, no repeat."""
    defaults: dict[str, Any] = {
        "fate": "answered",
        "rule": "",
        "cause": "",
        "processing_count": 1,
        "reply_count": 1,
        "reply_latency": 5.0,
        "batch_size": 1,
        "reply_text_hash": "r",
        "order_violation": False,
        "repeat_kind": None,
    }
    records = [{**defaults, **row, "arm": arm, "seq": i} for i, row in enumerate(rows)]
    result = pd.DataFrame(records)
    for column in ("processing_count", "reply_count", "batch_size"):
        result[column] = result[column].astype("Int64")
    result["repeat_kind"] = result["repeat_kind"].astype("string")
    return result


def kinds_of(base: list[dict[str, Any]], cand: list[dict[str, Any]], **settings: Any) -> list[Any]:
    pair = compare_pair(frame("legacy", base), frame("unified", cand), CompareSettings(**settings))
    return [
        (int(s), k, sev) for s, k, sev in zip(pair.seqs, pair.kinds, pair.severity, strict=True)
    ]


NOT_PROCESSED = {"processing_count": 0, "reply_count": 0, "reply_latency": None, "batch_size": None}


def test_identical_outcomes_do_not_diverge() -> None:
    assert kinds_of([{}, {}], [{}, {}]) == []


def test_lost_reply_is_a_regression() -> None:
    lost = {"fate": "unanswered", "rule": "environment.agent", "reply_count": 0}
    assert kinds_of([{}], [lost]) == [(0, ["lost_reply"], "regression")]


@pytest.mark.parametrize(
    ("repeat_kind", "severity"),
    [
        ("repeat_after_reply", "regression"),
        ("distinct", "regression"),
        ("resend", "improvement"),
        ("redelivery", "improvement"),
        ("unknown", "change"),
    ],
)
def test_suppressed_as_duplicate_severity_follows_the_repeat_kind(
    repeat_kind: str, severity: str
) -> None:
    suppressed = {"fate": "duplicate_suppressed", **NOT_PROCESSED}
    found = kinds_of([{"repeat_kind": repeat_kind}], [{**suppressed, "repeat_kind": repeat_kind}])
    # processing_removed needs equal answered states, so it does not apply here
    lost = ["lost_message"] if repeat_kind in ("repeat_after_reply", "distinct") else []
    assert found == [(0, [*lost, "suppressed_as_duplicate"], severity)]


@pytest.mark.parametrize("repeat_kind", ["distinct", "repeat_after_reply"])
def test_suppressing_a_meant_message_is_lost_even_when_the_baseline_did_not_answer(
    repeat_kind: str,
) -> None:
    idle = {"fate": "unanswered", "rule": "x", **NOT_PROCESSED, "repeat_kind": repeat_kind}
    suppressed = {"fate": "duplicate_suppressed", **NOT_PROCESSED, "repeat_kind": repeat_kind}
    assert kinds_of([idle], [suppressed]) == [(0, ["lost_message"], "regression")]
    # suppressed by both: no divergence (an absolute harm of each arm, not a difference)
    assert kinds_of([suppressed], [suppressed]) == []


def test_recovered_reply_of_a_blocked_resend_is_a_regression() -> None:
    blocked = {"fate": "unanswered", "rule": "response_manager.duplicate_window", "reply_count": 0}
    found = kinds_of([{**blocked, "repeat_kind": "resend"}], [{"repeat_kind": "resend"}])
    assert found == [(0, ["recovered_reply"], "regression")]
    assert kinds_of([{**blocked}], [{}]) == [(0, ["recovered_reply"], "improvement")]


def test_processing_added_for_a_resend_is_a_regression_and_removed_an_improvement() -> None:
    idle = {"fate": "unanswered", "rule": "x", **NOT_PROCESSED}
    worked = {"fate": "unanswered", "rule": "x", "reply_count": 0, "reply_latency": None}
    assert kinds_of([{**idle, "repeat_kind": "resend"}], [{**worked, "repeat_kind": "resend"}]) == [
        (0, ["processing_added"], "regression")
    ]
    assert kinds_of([{**worked, "repeat_kind": "resend"}], [{**idle, "repeat_kind": "resend"}]) == [
        (0, ["processing_removed"], "improvement")
    ]


def test_reply_counts_latency_order_batching_and_text() -> None:
    found = kinds_of(
        [{}, {}, {}, {"order_violation": True}, {"batch_size": 3}, {}],
        [
            {"reply_count": 2},
            {"reply_latency": 8.0},
            {"reply_latency": 1.0},
            {},
            {},
            {"reply_text_hash": "other"},
        ],
    )
    assert found == [
        (0, ["extra_replies"], "regression"),
        (1, ["slower"], "regression"),
        (2, ["faster"], "improvement"),
        (3, ["order_fixed"], "improvement"),
        (4, ["batching_changed"], "change"),
        (5, ["reply_text_changed"], "change"),
    ]


def test_latency_needs_both_the_absolute_and_the_relative_gap() -> None:
    assert kinds_of([{"reply_latency": 10.0}], [{"reply_latency": 13.0}]) == []  # 3 s < 50%
    assert kinds_of([{"reply_latency": 1.0}], [{"reply_latency": 2.5}]) == []  # 150% < 2 s
    assert kinds_of([{}], [{"reply_latency": 5.5}], latency_abs=0.1, latency_rel=0.05) == [
        (0, ["slower"], "regression")
    ]


def test_severity_overrides_by_kind_and_by_repeat_kind() -> None:
    lost = {"fate": "unanswered", "rule": "x", "reply_count": 0}
    assert kinds_of([{}], [lost], severity={"lost_reply": "change"})[0][2] == "change"
    suppressed = {"fate": "duplicate_suppressed", **NOT_PROCESSED, "repeat_kind": "resend"}
    found = kinds_of(
        [{"repeat_kind": "resend"}],
        [suppressed],
        severity={"suppressed_as_duplicate": {"resend": "change"}, "processing_removed": "change"},
    )
    assert found[0][2] == "change"


def test_a_pair_takes_the_worst_severity_of_its_kinds() -> None:
    found = kinds_of([{}], [{"reply_count": 2, "reply_latency": 1.0}])
    assert found == [(0, ["extra_replies", "faster"], "regression")]


def test_signatures_drop_stage_and_noise_suffixes_and_ignore_kind_order() -> None:
    a = signature("legacy", "rollout@10", ["slower", "lost_reply"], "x", "y")
    b = signature("legacy~3", "rollout@50", ["lost_reply", "slower"], "x", "y")
    assert a == b and len(a) == 12
    assert a != signature("legacy", "rollout@10", ["lost_reply", "slower"], "x", "z")


def test_a_failure_while_comparing_one_seq_is_recorded_as_a_harness_error() -> None:
    base = frame("legacy", [{}, {}, {}])
    cand = frame("unified", [{}, {"reply_count": 2}, {}])
    base["reply_latency"] = base["reply_latency"].astype(object)
    base.loc[2, "reply_latency"] = "not a number"  # breaks the vectorized float cast
    pair = compare_pair(base, cand, CompareSettings())
    found = dict(zip(pair.seqs.tolist(), pair.kinds, strict=True))
    assert found[2] == ["harness_error"]
    assert found[1] == ["extra_replies"]
    assert 0 not in found
    assert pair.severity[list(found).index(2)] == "regression"


def stream_facts(
    contact_id: list[str],
    message_id: list[str],
    text_hash: list[str],
    received_at: list[int],
    labels: list[str],
    repeat_horizon: int,
    types: list[str] | None = None,
    answered_at: list[int] | None = None,
    classes: list[str] | None = None,
) -> tuple[list[int | None], list[str | None]]:
    """``repeat_facts`` on plain lists, ``None`` where a seq repeats nothing; ``classes``: the
    content classes (``stream.parquet``'s ``content_hash``)."""
    texts = ["" if t == "" else text_token(t) for t in text_hash]
    content = content_identity(
        Codes.encode(types or ["text"] * len(texts)),
        Codes.encode(texts),
        None if classes is None else Codes.encode(classes),
    )
    repeat_of, repeat_kind = repeat_facts(
        Codes.encode(contact_id).codes,
        Codes.encode(message_id).codes,
        content,
        np.asarray(received_at, dtype=np.int64),
        Codes.encode(labels),
        repeat_horizon,
        None if answered_at is None else np.asarray(answered_at, dtype=np.int64),
    )
    return [None if s < 0 else s for s in repeat_of.tolist()], repeat_kind.tolist()


def test_stream_facts_find_redeliveries_and_repeats_within_the_horizon() -> None:
    repeat_of, repeat_kind = stream_facts(
        ["a", "a", "a", "b", "a"],
        ["m1", "m2", "m1", "m3", "m4"],
        ["oi", "oi", "x", "oi", "oi"],
        [0, 5, 10, 11, 200_000_000],
        ["", "resend", "", "", "legit"],
        60_000_000,
    )
    assert repeat_of == [None, 0, 0, None, None]
    assert repeat_kind == ["distinct", "resend", "redelivery", "distinct", "distinct"]


def test_media_without_caption_is_never_a_copy_of_another_message() -> None:
    """A location after a voice note, two uncaptioned images: distinct; a redelivery of the
    voice note (same message id) is still a redelivery."""
    repeat_of, repeat_kind = stream_facts(
        ["a", "a", "a", "a", "a", "a"],
        ["v", "l", "i1", "i2", "v", "t1"],
        ["", "", "", "", "", ""],
        [0, 1, 2, 3, 4, 5],
        [""] * 6,
        60_000_000,
        types=["audio", "location", "image", "image", "audio", "text"],
        answered_at=[-1] * 6,
    )
    assert repeat_kind == ["distinct"] * 4 + ["redelivery", "distinct"]
    assert repeat_of == [None, None, None, None, 0, None]


def test_media_with_a_content_class_repeats_media_of_the_same_class() -> None:
    """Two voice notes of one file (one class): a resend, or a repeat after a reply once the
    first was answered; a location after them and a voice note of another file are distinct;
    a caption still counts (same file, another caption: distinct); text is unchanged."""

    def classes(answered_at: list[int]) -> list[str | None]:
        return stream_facts(
            ["a"] * 7,
            ["v1", "v2", "l", "v3", "i1", "i2", "t"],
            ["", "", "", "", "look", "see", ""],
            [0, 1, 2, 3, 4, 5, 6],
            [""] * 7,
            60_000_000,
            types=["voice", "voice", "location", "voice", "image", "image", "text"],
            answered_at=answered_at,
            classes=["k1", "k1", "k2", "k3", "k4", "k4", ""],
        )[1]

    assert classes([-1] * 7) == ["distinct", "resend"] + ["distinct"] * 5
    assert classes([0] + [-1] * 6) == ["distinct", "repeat_after_reply"] + ["distinct"] * 5


def test_unlabelled_repeats_are_resends_before_the_reply_and_repeats_after_it() -> None:
    """Same content: before the baseline answered the first one, a resend; after, a repeat
    after a reply; without a baseline, unknown. A caption counts as text."""

    def classes(answered_at: list[int] | None) -> list[str | None]:
        return stream_facts(
            ["a", "a", "a", "b", "b"],
            ["m1", "m2", "m3", "m4", "m5"],
            ["oi", "oi", "oi", "look", "look"],
            [0, 1_000_000, 9_000_000, 0, 1],
            [""] * 5,
            60_000_000,
            types=["text", "text", "text", "image", "image"],
            answered_at=answered_at,
        )[1]

    assert classes([5_000_000, -1, -1, -1, -1]) == [
        "distinct", "resend", "resend", "distinct", "resend",
    ]  # fmt: skip
    assert classes(None) == ["distinct", "unknown", "unknown", "distinct", "unknown"]
    # the third repeats the second (the latest), answered at 2 s, before it came at 9 s
    assert classes([500_000, 2_000_000, -1, -1, -1]) == [
        "distinct", "repeat_after_reply", "repeat_after_reply", "distinct", "resend",
    ]  # fmt: skip


def test_order_violations_per_contact() -> None:
    result = order_violations(["a", "b", "a", "a", "b"], np.array([5, 1, 3, -1, 0]))
    assert result.tolist() == [True, True, False, False, False]


def test_signature_summary_counts_and_keeps_five_lowest_examples() -> None:
    lines = [
        {
            "signature": "s1",
            "baseline": "legacy",
            "candidate": "unified",
            "kinds": ["slower"],
            "severity": "regression",
            "seq": seq,
            "attribution": {"baseline": {"cause": "a"}, "candidate": {"cause": "b"}},
        }
        for seq in (9, 3, 7, 1, 5, 2)
    ]
    summary = signatures_summary(lines)
    assert summary[0]["count"] == 6
    assert summary[0]["examples"] == [1, 2, 3, 5, 7]
    assert (summary[0]["first_seq"], summary[0]["last_seq"]) == (1, 9)


def test_a_policy_names_every_comparator_kind_and_no_other() -> None:
    import pytest

    from shadow.common import InputError
    from shadow.common.divergence_kinds import KINDS
    from shadow.gate.policy import parse_policy

    def policy(kinds: list[str]) -> str:
        check = f"{{name: c, kinds: [{', '.join(kinds)}], max_count: 0}}"
        return f"min_messages: 1\nmin_contacts: 1\nchecks: [{check}]"

    assert parse_policy(policy(list(KINDS)), "p.yaml").checks[0].kinds == list(KINDS)
    with pytest.raises(InputError) as caught:
        parse_policy(policy(["lost_reply", "lost_replies"]), "p.yaml")
    assert caught.value.exit_code == 3 and "p.yaml" in str(caught.value)


@settings(deadline=None)
@given(
    st.integers(1, 16).flatmap(
        lambda width: st.lists(
            st.lists(st.integers(-1, 40), min_size=width, max_size=width), max_size=60
        )
    ),
    st.booleans(),
)
def test_distinct_rows_is_numpys_unique_over_rows(rows: list[list[int]], wide: bool) -> None:
    keys = np.asarray(rows, dtype=np.int64).reshape(len(rows), -1 if rows else 1)
    if wide and len(keys):
        keys[0, 0] = 2**40  # too many digits for one number: the row sort
    combos, which = _distinct_rows(keys)
    expected = np.unique(keys, axis=0)
    assert len(combos) == len(expected)
    assert sorted(map(tuple, combos.tolist())) == sorted(map(tuple, expected.tolist()))
    assert (combos[np.asarray(which).reshape(-1)] == keys).all()


def test_order_violations_follow_the_order_the_arm_was_sent_in() -> None:
    # reactive users sent seq 1 before seq 0 to this arm; replies follow that order
    contacts = np.array([0, 0, 1])
    replies = np.array([12, 6, 3])
    assert order_violations(contacts, replies).tolist() == [True, False, False]
    sent = np.array([10, 5, 1])
    assert order_violations(contacts, replies, sent).tolist() == [False, False, False]
    # answered out of the sent order: the earlier-sent seq 1 is answered after seq 0
    late = np.array([6, 12, 3])
    assert order_violations(contacts, late, sent).tolist() == [False, True, False]
