"""Arm results -> outcome frames -> divergences per pair, their kinds, severities and
signatures, the divergence lines of ``divergences.jsonl``, and single-arm metrics."""

from shadow.compare.comparison import Comparison, compare_arms, run_and_compare
from shadow.compare.frame import outcome_frame, stream_repeats
from shadow.compare.harms import DUPLICATE_REPLY_WINDOW_S, HARM_COLUMNS, HARMS, arm_harms
from shadow.compare.lines import column_values, divergence_texts, outcome_records
from shadow.compare.metrics import arm_metrics
from shadow.compare.model_fidelity import fidelity
from shadow.compare.pairs import CompareSettings
from shadow.compare.signatures import SignatureGroups

__all__ = [
    "DUPLICATE_REPLY_WINDOW_S",
    "HARMS",
    "HARM_COLUMNS",
    "CompareSettings",
    "Comparison",
    "SignatureGroups",
    "arm_harms",
    "arm_metrics",
    "column_values",
    "compare_arms",
    "divergence_texts",
    "fidelity",
    "outcome_frame",
    "outcome_records",
    "run_and_compare",
    "stream_repeats",
]
