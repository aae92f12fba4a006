"""Arm results -> outcome frames -> divergences per pair, their kinds, severities and
signatures, the divergence lines of ``divergences.jsonl``, and single-arm metrics."""

from shadow.compare.comparison import Comparison, compare_arms, compare_variant, run_and_compare
from shadow.compare.frame import (
    REPEAT_KINDS,
    RepeatIndex,
    answered_repeats,
    outcome_frame,
    stream_repeats,
)
from shadow.compare.handover import handover_mask
from shadow.compare.harms import DUPLICATE_REPLY_WINDOW_S, HARM_COLUMNS, HARMS, arm_harms
from shadow.compare.lines import column_values, divergence_texts, outcome_records
from shadow.compare.metrics import arm_metrics
from shadow.compare.model_fidelity import fidelity
from shadow.compare.pairs import CompareSettings, compare_pair
from shadow.compare.signatures import SignatureGroups

__all__ = [
    "DUPLICATE_REPLY_WINDOW_S",
    "HARMS",
    "HARM_COLUMNS",
    "REPEAT_KINDS",
    "CompareSettings",
    "Comparison",
    "RepeatIndex",
    "SignatureGroups",
    "answered_repeats",
    "arm_harms",
    "arm_metrics",
    "column_values",
    "compare_arms",
    "compare_pair",
    "compare_variant",
    "divergence_texts",
    "fidelity",
    "handover_mask",
    "outcome_frame",
    "outcome_records",
    "run_and_compare",
    "stream_repeats",
]
