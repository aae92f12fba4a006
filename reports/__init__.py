"""The approvers' reports of a run folder: ``report.md`` and a self-contained ``report.html``.

Guarantees:

1. ``render_run`` reads only the run folder (verified against ``run.json``'s hashes) and the
   decision events it re-runs through ``shadow.explain``; it writes only the two reports.
2. The same run folder gives byte-identical reports: no date, no absolute path the user did
   not type, fixed SVG hash salt, every table sorted explicitly. report.md's commands name the
   folder as the caller gives it (``run_ref``; ``RUN_DIR`` without one), report.html never.
4. ``refresh_verdict`` after a gate gives the bytes a full ``render_run`` would.
3. Privacy by default: contacts appear as pseudonyms and no message text is shown;
   ``show_text`` requires a run made with ``--keep-raw`` (else ``UsageError``, exit 3).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reports.gate_summary import render_gate_summary
from reports.junit import render_junit
from reports.markdown import cell
from reports.render import refresh_verdict, render_run, run_reference, title, verdict_parts

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def to_svg(fig: Figure) -> str:
    """``reports.charts.to_svg``: matplotlib is imported by the first chart, not by the
    package (``shadow gate`` refreshes a report's verdict without drawing)."""
    from reports.charts import to_svg as render

    return render(fig)


__all__ = [
    "cell",
    "refresh_verdict",
    "render_gate_summary",
    "render_junit",
    "render_run",
    "run_reference",
    "title",
    "to_svg",
    "verdict_parts",
]
