"""The two JSON spellings of every file the harness writes: same document, same bytes."""

from __future__ import annotations

import json
from typing import Any


def canonical_json(document: Any) -> str:
    return json.dumps(document, sort_keys=True, ensure_ascii=False, indent=2, allow_nan=False)


def compact_json(document: Any) -> str:
    """One JSONL line's text: sorted keys, no spaces, no ASCII escaping."""
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
