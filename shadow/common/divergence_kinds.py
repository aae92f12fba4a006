"""The divergence kinds and severities of docs/reference.md, in one place (stdlib only).

The comparator emits them, the configuration validates ``compare.severity`` against them, and
the gate's policies name them.
"""

from __future__ import annotations

from typing import Literal, get_args

SEVERITIES = ("regression", "change", "improvement")  # worst first
DivergenceKind = Literal[
    "lost_reply",
    "lost_message",
    "suppressed_as_duplicate",
    "recovered_reply",
    "processing_removed",
    "processing_added",
    "extra_replies",
    "fewer_replies",
    "slower",
    "faster",
    "order_broken",
    "order_fixed",
    "batching_changed",
    "reply_text_changed",
    "handover",
    "harness_error",
]
#: every kind, in the order of docs/reference.md
KINDS: tuple[str, ...] = get_args(DivergenceKind)
