"""``shadow validate``: the capture's accounting as docs/reference.md's document, and a table.

Guarantees:

1. ``validate_document`` is exactly docs/reference.md's ``validate --json`` document:
   ``lines`` equals the sum of ``line_kinds``; item counts are apart; every rejected line with
   file, line, reason.
2. The CLI's table renders these same numbers per file and in total, never other ones.
"""

from __future__ import annotations

from typing import Any

from shadow.streams.normalize import Capture


def validate_document(capture: Capture) -> dict[str, Any]:
    document = capture.accounting.total.document()
    document["rejected"] = [
        {"file": bad.file, "line": bad.line, "reason": bad.reason} for bad in capture.rejected
    ]
    return document
