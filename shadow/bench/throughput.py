"""``shadow bench``: throughput and peak memory of a full replay of a synthetic load.

The load is ``loadgen.steady_load`` (100 msgs/min, 12% resends, default agent); the replay is
the real pipeline (normalize, ``legacy`` and ``unified`` in workers, comparator, run files)
into a temporary folder. The load is generated while the replay reads it, never held whole.
Messages/s counts stream messages over the wall time of the whole replay without the time
spent generating the load (reported apart, as ``generate_s``). Timing is measured here, never
asserted in tests.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from shadow.streams import steady_load


def run_bench(messages: int, contacts: int, workers: int | None) -> dict[str, Any]:
    """Replay ``messages`` synthetic messages; returns the ``bench --json`` document."""
    from shadow.common import Stopwatch
    from shadow.replay import ReplayOptions, replay_records

    with tempfile.TemporaryDirectory(prefix="shadow-bench-") as folder:
        watch = Stopwatch()  # the replay alone: what messages/s is about
        records = watch.excluding(steady_load(messages, contacts))
        options = ReplayOptions(
            inputs=["<bench>"],
            out=Path(folder) / "run",
            workers=workers,
            arms=["legacy", "unified"],
            reports=False,
        )
        replay_records(options, records, watch=watch)
        timing = watch.report()
    wall = float(timing["wall_s"])  # type: ignore[arg-type]
    return {
        "messages": messages,
        "contacts": contacts,
        "arms": ["legacy", "unified"],
        "wall_s": round(wall, 3),
        "messages_per_s": round(messages / wall) if wall else None,
        "peak_rss_mb": timing["peak_rss_mb"],
        "compiled": timing["compiled"],
        "phases": timing["phases"],
        "generate_s": round(watch.excluded, 3),
    }
