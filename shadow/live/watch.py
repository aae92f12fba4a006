"""``shadow watch``: follow a growing capture and keep a run folder current.

Each cycle replays the settled prefix of the capture (every line whose ``received_at`` is at
least the safety lag older than the newest line seen) into a fresh generation folder, then
points the run folder (a symlink) at it in one atomic rename. The arms are not simulated
again each cycle: they are kept alive between cycles (``shadow.simulation.WarmArms``) and fed
only the messages that settled since the last one; each cycle's files come from a drained copy
of them; the capture's lines are parsed once (``shadow.streams.LineMemo``). Normalizing,
comparing and writing still take the whole prefix each cycle.

Guarantees:

1. Exact by construction: a published run folder is the replay of its prefix (``WarmArms``
   guarantee 1), so once the capture stops growing (no new line for ``idle`` wall seconds: the
   lag no longer applies and the whole capture is published) its files equal ``shadow
   replay`` of the final capture.
2. A line older than an already published cutoff is late: counted (``late_lines``, an alert
   metric) and included from the next cycle on. It sorts into messages the arms have already
   run, so that cycle simulates them afresh from the start (``WarmArms`` guarantee 2; the
   cycle's log line says how many messages it re-simulated).
3. Checkpoints: after every published cycle and on ``stop`` (SIGTERM) the journal is synced,
   the arms are saved (``arms.pickle``), then ``checkpoint.json`` written atomically with each
   source's offset and each journal segment's size. A restart (after SIGTERM or a crash) cuts
   the journal back to the checkpoint, reads the sources on from their offsets (no line lost,
   none counted twice) and takes the arms up where they were saved: it simulates again only
   what the crashed process simulated after its last checkpoint, one cycle at most.
4. Alerts are derived from the published run folder (a pure function of it, the late lines
   and the lag samples); only transitions not yet delivered are delivered.
5. The wall clock and the sleeping come from the caller (the CLI): this module reads neither.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shadow.common import ShadowError, UsageError, format_duration
from shadow.live.alert_policy import AlertPolicy
from shadow.live.alerts import Delivery, WebhookSender, evaluate
from shadow.live.figures import alert_events, run_figures
from shadow.live.follow import Follower
from shadow.live.journal import Journal
from shadow.live.metrics import WatchMetrics
from shadow.replay import ReplayOptions, replay
from shadow.simulation import WarmArms
from shadow.streams import LineMemo

CHECKPOINT_VERSION = 1


@dataclass
class WatchOptions:
    capture: Path
    out: Path
    replay: ReplayOptions  # the template: inputs and out are set per cycle
    policy: AlertPolicy
    safety_lag_us: int = 60_000_000
    interval_s: float = 1.0
    cycle_every_s: float = 30.0  # at least this much wall time between published cycles
    idle_s: float = 300.0
    stop_when_idle: bool = False
    webhook: str | None = None
    force: bool = False


@dataclass
class WatchState:
    """What a checkpoint holds besides the journal and the sources."""

    cycles: int = 0
    generation: int = 0
    published_cutoff: int | None = None  # µs; None before the first cycle
    flushed: bool = False  # the whole capture is published (idle)
    late_lines: int = 0
    late_times: list[int] = field(default_factory=list)
    late_pending: bool = False  # late lines not yet in a published cycle
    lag_samples: list[list[int]] = field(default_factory=list)
    delivered_alerts: list[str] = field(default_factory=list)


_STATE_FILES = frozenset(
    {
        "journal",
        "prefix",
        "arms.pickle",
        "arms.pickle.tmp",
        "watch.log",
        "alerts.jsonl",
        "watch-status.json",
        "watch-status.tmp",
        "checkpoint.tmp",
    }
)


def _ours(name: str) -> bool:
    return name in _STATE_FILES or name.startswith("gen-")


def iso_us(us: int) -> str:
    import datetime as dt

    moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=us)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Watcher:
    """One ``shadow watch``; ``run`` loops until ``stop`` is set (or idle with
    ``stop_when_idle``)."""

    def __init__(
        self,
        options: WatchOptions,
        clock: Callable[[], float],
        echo: Callable[[str], None],
        alert_echo: Callable[[str], None],
        metrics: WatchMetrics | None = None,
    ) -> None:
        self.options = options
        self.clock = clock
        self.echo = echo
        self.metrics = metrics
        self.state_dir = options.out.with_name(options.out.name + ".watch")
        self.state = WatchState()
        self.journal = Journal(self.state_dir / "journal")
        self.follower = Follower(options.capture, self.journal)
        webhook = WebhookSender(options.webhook) if options.webhook else None
        self.delivery = Delivery(self.state_dir / "alerts.jsonl", alert_echo, iso_us, webhook)
        self.warm = WarmArms()
        self.lines = LineMemo()  # not checkpointed: a restart parses the capture once again
        self.last_growth = clock()
        self.last_cycle_wall: float | None = None
        self.firing: list[tuple[str, str]] = []

    # -- start and resume ----------------------------------------------------------------

    def open(self) -> None:
        """Resume from the checkpoint, or start afresh (refusing to replace other things)."""
        out, state_dir = self.options.out, self.state_dir
        checkpoint = state_dir / "checkpoint.json"
        if self.options.force and state_dir.exists():
            shutil.rmtree(state_dir)
            if out.is_symlink():
                out.unlink()
        if out.exists() and not out.is_symlink():
            raise UsageError(f"--out: {out} exists and is not a watch's run folder")
        if checkpoint.exists():
            self._resume(json.loads(checkpoint.read_text(encoding="utf-8")))
        elif state_dir.exists():
            foreign = [p.name for p in state_dir.iterdir() if not _ours(p.name)]
            if foreign:
                raise UsageError(
                    f"{state_dir} holds {foreign[0]} and no checkpoint; pass --force to start "
                    "afresh"
                )
            # stopped before its first checkpoint: nothing was kept, start again from zero
            shutil.rmtree(state_dir / "journal", ignore_errors=True)
        state_dir.mkdir(parents=True, exist_ok=True)
        state_dir.chmod(0o700)  # the journal holds raw capture lines
        generations = [int(p.name[4:]) for p in state_dir.glob("gen-*") if p.name[4:].isdigit()]
        # a generation published after the checkpoint may be what --out points at: never reuse
        self.state.generation = max([self.state.generation, *generations])
        if not checkpoint.exists():
            self.checkpoint()
        self.log(f"watching {self.options.capture} into {out} (state in {state_dir})")
        if self.metrics is not None and (out / "stream.parquet").exists():
            newest = self.journal.newest() or 0
            self._set_metrics(run_figures(out), newest - (self.state.published_cutoff or newest))

    def _resume(self, saved: dict[str, Any]) -> None:
        if saved.get("version") != CHECKPOINT_VERSION:
            raise UsageError(f"{self.state_dir}: checkpoint version {saved.get('version')!r}")
        if saved["capture"] != str(self.options.capture):
            raise UsageError(
                f"{self.state_dir} follows {saved['capture']}, not {self.options.capture}"
            )
        self.journal = Journal.restore(self.state_dir / "journal", saved["journal"])
        for extra in sorted((self.state_dir / "journal").iterdir()):
            if extra.name not in {s.name for s in self.journal.segments}:
                extra.unlink()  # a segment started after the checkpoint
        self.follower = Follower(self.options.capture, self.journal)
        for warning in self.follower.restore(saved["follower"]):
            self.log(f"warning: {warning}")
        self.state = WatchState(**saved["state"])
        self.delivery.delivered = set(self.state.delivered_alerts)
        self.warm = WarmArms.load(self.state_dir / "arms.pickle")
        self.log(
            f"resumed from checkpoint: cycle {self.state.cycles}, "
            f"{self.journal.lines} lines, cutoff "
            f"{iso_us(self.state.published_cutoff) if self.state.published_cutoff else '-'}, "
            f"arms at message {self.warm.fed}"
        )

    def checkpoint(self) -> None:
        """Journal and arms durable first, then the checkpoint replaced atomically."""
        self.journal.sync()
        self.warm.save(self.state_dir / "arms.pickle")
        self.state.delivered_alerts = sorted(self.delivery.delivered)
        document = {
            "version": CHECKPOINT_VERSION,
            "capture": str(self.options.capture),
            "journal": self.journal.state(),
            "follower": self.follower.state(),
            "state": dataclasses.asdict(self.state),
        }
        path = self.state_dir / "checkpoint.json"
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(document, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    # -- the loop --------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        self.open()
        try:
            while not stop.is_set():
                idle_done = self.step()
                if idle_done and self.options.stop_when_idle:
                    self.log("capture idle and fully published; stopping")
                    break
                stop.wait(self.options.interval_s)
        finally:
            self.checkpoint()
            self.log(f"checkpoint written ({self.journal.lines} lines)")
            if self.delivery.webhook is not None:
                self.delivery.webhook.close()

    def step(self) -> bool:
        """One poll and, when the settled prefix moved, one published cycle. Returns True
        when the whole capture is published and idle."""
        new_times = self.follower.poll()
        now = self.clock()
        state = self.state
        late: list[int] = []
        if new_times:
            self.last_growth = now
            state.flushed = False
            if state.published_cutoff is not None:
                late = [t for t in new_times if t <= state.published_cutoff]
            if late:
                state.late_pending = True
                state.late_lines += len(late)
                state.late_times += late
                self.log(f"{len(late)} late line(s) (older than the published cutoff)")
        newest = self.journal.newest()
        if newest is None:
            return False
        if state.published_cutoff is not None:
            self._sample_lag(newest, newest - state.published_cutoff)
        idle = now - self.last_growth >= self.options.idle_s
        cutoff = newest if idle else newest - self.options.safety_lag_us
        moved = state.published_cutoff is None or cutoff > state.published_cutoff
        waited = (
            self.last_cycle_wall is None or now - self.last_cycle_wall >= self.options.cycle_every_s
        )
        due = (idle and not state.flushed) or (waited and (moved or state.late_pending))
        if due and self.publish(max(cutoff, state.published_cutoff or cutoff), newest, idle):
            state.flushed = idle
            self.checkpoint()
        return idle and state.flushed

    def publish(self, cutoff: int, newest: int, idle: bool) -> bool:
        """Replay the prefix up to ``cutoff`` into a new generation; swap the run folder."""
        state = self.state
        prefix = self.state_dir / "prefix"
        shutil.rmtree(prefix, ignore_errors=True)
        files = self.journal.write_prefix(prefix, None if idle else cutoff)
        if not files:
            return False
        generation = state.generation + 1
        target = self.state_dir / f"gen-{generation:06d}"
        shutil.rmtree(target, ignore_errors=True)
        options = dataclasses.replace(
            self.options.replay, inputs=[str(f) for f in files], out=target, force=True
        )
        try:
            summary = replay(options, warm=self.warm, lines=self.lines)
        except ShadowError as exc:
            self.log(f"cycle skipped: {exc.message}")
            self.warm.end_cycle(forget=False)  # a failed cycle asked for no plan: keep the arms
            return False
        finally:
            shutil.rmtree(prefix, ignore_errors=True)  # raw lines: kept no longer than needed
        simulated, resimulated = self.warm.end_cycle()
        self._swap(target)
        state.late_pending = False
        for old in self.state_dir.glob("gen-*"):
            if old.name < f"gen-{generation - 1:06d}":
                shutil.rmtree(old, ignore_errors=True)
        state.generation = generation
        state.published_cutoff = cutoff
        state.cycles += 1
        lag = newest - cutoff
        self.last_cycle_wall = self.clock()
        figures = run_figures(target)
        self._alerts(figures, cutoff)
        self.log(
            f"cycle {state.cycles}: published up to {iso_us(cutoff)} "
            f"({summary['messages']} messages, {simulated} simulated, "
            f"{resimulated} re-simulated, lag {format_duration(lag)}, "
            f"late lines {state.late_lines}{', idle: whole capture' if idle else ''})"
        )
        self._status(summary, cutoff, newest, simulated, resimulated)
        self._set_metrics(figures, lag)
        return True

    def _set_metrics(self, figures: dict[str, Any], lag: int) -> None:
        if self.metrics is not None:
            self.metrics.set_run(
                {
                    **figures,
                    "firing": self.firing,
                    "lag_s": lag / 1_000_000,
                    "capture_lines": self.journal.lines,
                    "late_lines": self.state.late_lines,
                }
            )

    def _swap(self, target: Path) -> None:
        out = self.options.out
        link = out.with_name(f".{out.name}.link")
        link.unlink(missing_ok=True)
        link.symlink_to(os.path.relpath(target, out.parent))
        os.replace(link, out)

    def _sample_lag(self, at: int, lag: int) -> None:
        """The lag (newest line minus published cutoff, capture time) at capture time ``at``,
        kept only when it moves to another whole step: few samples while it keeps pace."""
        step = self.options.policy.step
        level = max(lag, 0) // step * step
        samples = self.state.lag_samples
        if samples and (samples[-1][1] == level or at <= samples[-1][0]):
            return
        samples.append([at, level])

    def _alerts(self, figures: dict[str, Any], cutoff: int) -> None:
        start = self.journal.oldest()
        if start is None:
            return
        events = alert_events(self.options.policy, figures, self.state.late_times)
        samples = [(at, lag) for at, lag in self.state.lag_samples]
        newest = self.journal.newest() or cutoff
        transitions = evaluate(self.options.policy, events, samples, start, cutoff, newest)
        self.delivery.deliver(transitions)
        firing: dict[tuple[str, str], bool] = {}
        for t in transitions:
            firing[(t.check, t.key)] = t.state == "firing"
        self.firing = sorted(key for key, on in firing.items() if on)

    def _status(
        self, summary: dict[str, Any], cutoff: int, newest: int, simulated: int, resimulated: int
    ) -> None:
        status = {
            "cycle": self.state.cycles,
            "generation": self.state.generation,
            "published_cutoff": iso_us(cutoff),
            "newest_line": iso_us(newest),
            "capture_lines": self.journal.lines,
            "late_lines": self.state.late_lines,
            "messages": summary["messages"],
            "simulated_messages": simulated,
            "resimulated_messages": resimulated,
            "alerts_delivered": len(self.delivery.delivered),
            "firing": [list(key) for key in self.firing],
        }
        path = self.state_dir / "watch-status.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(status, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)

    def log(self, message: str) -> None:
        self.echo(f"watch: {message}")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(self.state_dir / "watch.log", "a", encoding="utf-8") as handle:
            handle.write(message + "\n")

    def health(self) -> dict[str, Any]:
        since = None if self.last_cycle_wall is None else self.clock() - self.last_cycle_wall
        return {"status": "ok", "cycles": self.state.cycles, "seconds_since_cycle": since}
