"""Signature groups belong to one arm pair: counts and examples are that pair's (issue 16)."""

from __future__ import annotations

from typing import Any

from shadow.compare.signatures import signatures_summary


def line(baseline: str, candidate: str, seq: int, sig: str = "abc123abc123") -> dict[str, Any]:
    return {
        "baseline": baseline,
        "candidate": candidate,
        "seq": seq,
        "signature": sig,
        "kinds": ["lost_reply"],
        "severity": "regression",
        "attribution": {"baseline": {"cause": "x"}, "candidate": {"cause": "y"}},
    }


def test_one_signature_over_two_pairs_gives_one_group_per_pair() -> None:
    lines = [line("legacy", "unified", seq) for seq in (1, 2, 3, 7)]
    lines += [line("legacy", "rollout@10", seq) for seq in (5, 9)]
    groups = signatures_summary(lines)
    by_pair = {(g["baseline"], g["candidate"]): g for g in groups}
    assert {g["signature"] for g in groups} == {"abc123abc123"}  # the id is kept
    assert by_pair[("legacy", "unified")]["count"] == 4
    assert by_pair[("legacy", "rollout@10")]["count"] == 2
    # every example shown diverges in the group's own pair
    diverging = {(ln["baseline"], ln["candidate"], ln["seq"]) for ln in lines}
    for group in groups:
        assert group["pairs"] == {f"{group['baseline']} vs {group['candidate']}": group["count"]}
        for seq in group["examples"]:
            assert (group["baseline"], group["candidate"], seq) in diverging
    assert by_pair[("legacy", "rollout@10")]["examples"] == [5, 9]
