"""Bucketing: the providers' published test vectors, nesting, fingerprints (docs/gate.md)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shadow.common.errors import UsageError
from shadow.rollout.flags import (
    RolloutSettings,
    bucket,
    buckets_csv,
    cohorts,
    contact_buckets,
    entry_stage,
    fingerprint,
    in_stage,
    murmur3_32,
    parse_stages,
    rollout_summary,
)

UNLEASH_10 = RolloutSettings(flag="Feature.flexibleRollout.10")


def test_murmur3_x86_32_of_hello_is_published_value() -> None:
    assert murmur3_32("hello") == 0x248BFA47


def test_unleash_client_specification_vectors() -> None:
    assert bucket("174", UNLEASH_10) == 10
    assert in_stage("174", 10, UNLEASH_10)
    assert bucket("499", UNLEASH_10) == 32
    assert not in_stage("499", 10, UNLEASH_10)
    assert in_stage("499", 50, UNLEASH_10)


@pytest.mark.parametrize(
    ("group", "contact", "expected"), [("gr1", "123", 73), ("groupX", "999", 25)]
)
def test_unleash_client_node_vectors(group: str, contact: str, expected: int) -> None:
    assert bucket(contact, RolloutSettings(flag="any", group_id=group)) == expected


def test_group_id_defaults_to_flag_name() -> None:
    explicit = RolloutSettings(flag="f", group_id="Feature.flexibleRollout.10")
    assert bucket("174", explicit) == bucket("174", UNLEASH_10) == 10


def test_stage_zero_is_empty_and_stage_hundred_is_everyone() -> None:
    assert not in_stage("174", 0, UNLEASH_10)
    assert all(in_stage(str(i), 100, UNLEASH_10) for i in range(200))


def test_launchdarkly_rule_matches_sha1_formula() -> None:
    settings = RolloutSettings(provider="launchdarkly", flag="flag-key", salt="abc123")
    digest = hashlib.sha1(b"flag-key.abc123.contact-1").hexdigest()
    expected = int(digest[:15], 16) / 0xFFFFFFFFFFFFFFF
    assert bucket("contact-1", settings) == expected
    assert in_stage("contact-1", 30, settings) == (expected < 0.30)


def test_launchdarkly_without_salt_is_refused() -> None:
    with pytest.raises(UsageError, match="salt"):
        RolloutSettings(provider="launchdarkly", flag="f")


def test_flagd_v2_and_v1_rules() -> None:
    v2 = RolloutSettings(provider="flagd", flag="my-flag")
    v1 = RolloutSettings(provider="flagd", flag="my-flag", algorithm="v1")
    hashed = murmur3_32("my-flag" + "user@example.com")
    assert bucket("user@example.com", v2) == (hashed * 100) >> 32
    signed = hashed - 2**32 if hashed >= 2**31 else hashed
    assert bucket("user@example.com", v1) == abs(signed) / 2147483647 * 100
    assert v2.resolved_algorithm == "v2"


def test_unknown_provider_algorithm_and_stickiness_are_usage_errors() -> None:
    with pytest.raises(UsageError):
        RolloutSettings(provider="split")
    with pytest.raises(UsageError):
        RolloutSettings(provider="flagd", algorithm="murmur3")
    with pytest.raises(UsageError):
        RolloutSettings(stickiness="session_id")
    with pytest.raises(UsageError):
        in_stage("1", 101, UNLEASH_10)


SETTINGS = st.sampled_from(
    [
        RolloutSettings(),
        RolloutSettings(provider="launchdarkly", salt="s"),
        RolloutSettings(provider="flagd"),
        RolloutSettings(provider="flagd", algorithm="v1"),
    ]
)


@given(
    contact=st.text(max_size=20),
    low=st.integers(0, 100),
    high=st.integers(0, 100),
    settings=SETTINGS,
)
def test_stages_are_nested_for_every_provider(
    contact: str, low: int, high: int, settings: RolloutSettings
) -> None:
    low, high = min(low, high), max(low, high)
    if in_stage(contact, low, settings):
        assert in_stage(contact, high, settings)


def test_cohorts_count_contacts_messages_and_nesting() -> None:
    stream = ["174", "499", "174", "7", "499", "174"]
    result = cohorts(stream, [10, 50, 100], UNLEASH_10)
    expected_10 = [c for c in ("174", "499", "7") if in_stage(c, 10, UNLEASH_10)]
    assert result[0].contacts == len(expected_10)
    assert result[0].messages == sum(stream.count(c) for c in expected_10)
    assert result[2].contacts == 3 and result[2].messages == 6
    assert [c.nested_in_next for c in result] == [True, True, None]


def test_cohorts_detect_a_stage_list_that_is_not_nested() -> None:
    result = cohorts(["174", "499"], [50, 10], UNLEASH_10)  # 499 (bucket 32) is in 50, not 10
    assert result[0].nested_in_next is False


def test_buckets_in_first_appearance_order_and_csv() -> None:
    rows, messages = contact_buckets(["499", "174", "499"], UNLEASH_10)
    assert rows == [("499", 32), ("174", 10)]
    assert messages == {"499": 2, "174": 1}
    assert buckets_csv(rows) == "contact_id,bucket\n499,32\n174,10\n"
    assert buckets_csv([("a,b", 1)]) == 'contact_id,bucket\n"a,b",1\n'


def test_fingerprint_fields_and_id() -> None:
    base = fingerprint(RolloutSettings(flag="F"))
    assert base["group_id"] == "F" and base["salt"] is None and base["algorithm"] == "murmur3"
    assert fingerprint(RolloutSettings(flag="F", salt="ignored")) == base
    changed = fingerprint(RolloutSettings(flag="F", group_id="G"))
    assert changed["id"] != base["id"] and len(base["id"]) == 12


def test_rollout_summary_document_and_stage_parsing() -> None:
    assert parse_stages("10, 50,100") == [10, 50, 100]
    with pytest.raises(UsageError):
        parse_stages("10,x")
    doc = rollout_summary(["174"], [10], UNLEASH_10)
    assert set(doc) == {"provider", "fingerprint", "stages"}
    assert doc["stages"] == [{"stage": 10, "contacts": 1, "messages": 1, "nested_in_next": None}]


@given(contact=st.text(max_size=12), stage=st.integers(0, 100), settings=SETTINGS)
def test_entry_stage_decides_membership(
    contact: str, stage: int, settings: RolloutSettings
) -> None:
    entry = entry_stage(bucket(contact, settings), settings)
    assert in_stage(contact, stage, settings) == (stage > 0 and entry <= stage)


def test_unleash_entry_stage_is_the_bucket() -> None:
    assert entry_stage(bucket("499", UNLEASH_10), UNLEASH_10) == 32


def test_rollout_command_writes_the_published_buckets(tmp_path: Path) -> None:
    capture = tmp_path / "capture.jsonl"
    capture.write_text(
        "".join(
            json.dumps(
                {
                    "received_at": f"2025-01-01T00:00:0{i}Z",
                    "contact_id": contact,
                    "message_id": f"m{i}",
                    "text": f"oi {i}",
                }
            )
            + "\n"
            for i, contact in enumerate(["174", "499", "174"])
        )
    )
    buckets = tmp_path / "buckets.csv"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "shadow.cli", "rollout", str(capture)),
            *("--flag", "Feature.flexibleRollout.10", "--buckets", str(buckets), "--json"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert buckets.read_bytes() == b"contact_id,bucket\n174,10\n499,32\n"
    document = json.loads(done.stdout)
    assert document["stages"][0] == {
        "stage": 10,
        "contacts": 1,
        "messages": 2,
        "nested_in_next": True,
    }
