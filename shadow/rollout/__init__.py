"""The production flag's own bucketing: which contacts each stage holds (used by the replay,
the gate and ``shadow rollout``)."""

from shadow.rollout.flags import (
    ALGORITHMS,
    RolloutSettings,
    bucket,
    buckets_csv,
    check_stage,
    cohorts_of_entries,
    contact_buckets,
    entry_stage,
    fingerprint,
    fingerprint_id,
    parse_stages,
)

__all__ = [
    "ALGORITHMS",
    "RolloutSettings",
    "bucket",
    "buckets_csv",
    "check_stage",
    "cohorts_of_entries",
    "contact_buckets",
    "entry_stage",
    "fingerprint",
    "fingerprint_id",
    "parse_stages",
]
