"""Peak memory of the streaming replay is flat in the capture's length (issue 20).

The same synthetic load (``streams.steady_load``: 2,000 contacts, the same texts) replayed at
200,000 and 400,000 messages, each in a fresh subprocess that reports its own peak RSS
(``resource.getrusage``). Message ids are kept an hour for redelivery detection (the
configurable retention; the load's resends come within seconds), so nothing the replay holds
grows with the messages. No timing is asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import json, resource, sys, tempfile
from pathlib import Path
from shadow.replay import CHUNK, ReplayOptions, replay_records
from shadow.streams import steady_load

messages = int(sys.argv[1])
with tempfile.TemporaryDirectory() as folder:
    options = ReplayOptions(
        inputs=["<memory>"],
        out=Path(folder) / "run",
        arms=["legacy", "unified"],
        reports=False,
        id_retention=3_600_000_000,
        chunk=CHUNK,
    )
    summary = replay_records(options, steady_load(messages, 2000))
    timing = json.loads((Path(folder) / "run" / "timing.json").read_text(encoding="utf-8"))
print(json.dumps({
    "messages": summary["messages"],
    "chunks": timing["chunks"],
    "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
}))
"""


def peak(messages: int) -> dict[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(messages)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_peak_rss_of_400k_messages_is_within_10_percent_of_200k() -> None:
    short, long = peak(200_000), peak(400_000)
    assert (short["messages"], long["messages"]) == (200_000, 400_000)
    assert long["chunks"] > short["chunks"] > 1  # streamed, not read whole
    assert long["peak_rss_kb"] < 1.10 * short["peak_rss_kb"], (short, long)
