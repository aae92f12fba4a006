"""``shadow bench``: throughput and peak memory of a full replay of a synthetic load.

The load is ``loadgen.steady_load`` (100 msgs/min, 12% resends, default agent); the replay is
the real pipeline (normalize, ``legacy`` and ``unified`` in workers, comparator, run files)
into a temporary folder. The load is generated while the replay reads it, never held whole.
Messages/s counts stream messages over the wall time of the whole replay without the time
spent generating the load (reported apart, as ``generate_s``). Timing is measured here, never
asserted in tests.
"""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import resource
import tempfile
from pathlib import Path
from typing import Any

from shadow.streams import steady_load

PHASES = ("normalize", "simulate", "compare", "write")


def run_bench(
    messages: int,
    contacts: int,
    workers: int | None,
    profile: Path | None = None,
    chunk: int | None = None,
) -> dict[str, Any]:
    """Replay ``messages`` synthetic messages; returns the ``bench --json`` document.

    ``chunk``: replay a chunk of that many messages at a time (the streaming replay,
    ``shadow replay --chunk``); None: the whole-run replay, ``shadow replay``'s default.
    Profiles are taken where the streaming replay times its phases, so ``profile`` streams
    (chunks of ``CHUNK`` messages unless ``chunk`` says otherwise).

    With ``profile``, each phase runs under its own cProfile and the folder gets
    ``<phase>.prof`` (for ``pstats`` or snakeviz) and ``<phase>.txt`` (the 40 costliest calls
    by cumulative time) for every phase.
    """
    from shadow.common import Stopwatch
    from shadow.replay import CHUNK, ReplayOptions, replay_records

    profiles = {phase: cProfile.Profile() for phase in PHASES} if profile else None
    if profile is not None and chunk is None:
        chunk = CHUNK

    with tempfile.TemporaryDirectory(prefix="shadow-bench-") as folder:
        watch = Stopwatch()  # the replay alone: what messages/s is about
        records = watch.excluding(steady_load(messages, contacts))
        options = ReplayOptions(
            inputs=["<bench>"],
            out=Path(folder) / "run",
            workers=workers,
            arms=["legacy", "unified"],
            reports=False,
            chunk=chunk,
        )
        replay_records(options, records, watch=watch, profiles=profiles)
        timing = json.loads((Path(folder) / "run" / "timing.json").read_text(encoding="utf-8"))
    if profile is not None and profiles is not None:
        write_profiles(profile, profiles)
    wall = float(timing["wall_s"])
    return {
        "messages": messages,
        "contacts": contacts,
        "arms": ["legacy", "unified"],
        "wall_s": round(wall, 3),
        "messages_per_s": round(messages / wall) if wall else None,
        "peak_rss_mb": timing["peak_rss_mb"],
        # each process's own peak: this one, and the largest of the arms' workers
        "peak_rss_parent_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_rss_workers_mb": round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
        ),
        "compiled": timing["compiled"],
        "phases": timing["phases"],
        "generate_s": round(watch.excluded, 3),
        "chunk": chunk,  # None: the whole-run replay
        "chunks": timing["chunks"],
    }


def write_profiles(folder: Path, profiles: dict[str, cProfile.Profile]) -> None:
    """``<phase>.prof`` and ``<phase>.txt`` of every phase into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for phase, profile in profiles.items():
        profile.dump_stats(str(folder / f"{phase}.prof"))
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(40)
        (folder / f"{phase}.txt").write_text(text.getvalue(), encoding="utf-8")
