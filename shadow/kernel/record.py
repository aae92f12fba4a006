"""Decision events in, columnar outcomes out.

Models never decide a message's fate directly: they emit decision events (``arrived``,
``duplicate_suppressed``, ``processing_started``, ``reply_sent``, ...), each naming the rule (a
config key) behind it. The recorder folds them into per-seq columns and, at the end, applies the
fate table of docs/reference.md (first row that applies). Events themselves are kept only for the
seqs being captured (``explain`` and the report timelines re-run an arm to get them).

Guarantees:

1. Outcome columns depend only on the sequence of events emitted, not on how many seqs are
   captured.
2. ``fate`` follows docs/reference.md: answered > lost > duplicate_suppressed > dropped >
   timed_out > unanswered > stranded.
3. ``cause`` is the fate's rule when it has one, else the rule of the latest event that delayed
   the message or changed its batch, else empty.
4. A seq is *open* from ``arrived`` until an event closes it (suppressed, dropped, replied,
   blocked, send failed, agent error); ``restart`` marks every open seq lost.
5. A streaming run holds only the rows from ``base`` on: ``grow`` adds rows for new seqs,
   ``take`` hands rows over and forgets them. An outcome event about a seq already taken
   raises ``OutcomeTaken``: no decision is ever lost silently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final, NamedTuple

from mypy_extensions import mypyc_attr

from shadow.kernel.core import Kernel
from shadow.kernel.taken import OutcomeTaken

FATES = (
    "answered",
    "lost",
    "duplicate_suppressed",
    "dropped",
    "timed_out",
    "unanswered",
    "stranded",
)
FATE_CODE = {name: code for code, name in enumerate(FATES)}
LAYERS = ("orchestrator", "coordinator", "response_manager")

#: Events that delayed a message or changed its batch: candidates for ``cause``.
DELAY_EVENTS = frozenset(
    {
        "queued",
        "lock_wait",
        "lock_wait_timeout",
        "slot_wait",
        "batched",
        "force_released",
        "duplicate_missed",
        "evicted",
    }
)
#: Events with no effect on outcomes (kept for timelines).
NOTE_EVENTS = frozenset(
    {
        "accepted",
        "lock_acquired",
        "send_attempt",
        "agent_hang",
        "emergency_flush",
    }
)
EVENT_KINDS = (
    frozenset(
        {
            "arrived",
            "duplicate_suppressed",
            "dropped",
            "processing_started",
            "processing_timeout",
            "agent_error",
            "reply_blocked",
            "send_failed",
            "reply_sent",
            "lost",
        }
    )
    | DELAY_EVENTS
    | NOTE_EVENTS
)


class DecisionEvent(NamedTuple):
    """One captured decision: what happened, to which seqs, by which rule, in which layer.

    A named tuple rather than a frozen dataclass: it pickles (events travel back from worker
    processes) in the mypyc-compiled build too.
    """

    at: int
    kind: str
    seqs: tuple[int, ...]
    rule: str
    layer: str
    system: str
    detail: str


@mypyc_attr(allow_interpreted_subclasses=True)
class Recorder:
    """Per-seq outcome columns of one arm, filled by decision events."""

    def __init__(self, kernel: Kernel, size: int, capture: Iterable[int] = ()) -> None:
        self.kernel = kernel
        self.size = size  # rows held (seqs base .. base + size - 1)
        self.base = 0  # the first seq held (guarantee 5)
        self.processing_count = [0] * size
        self.reply_count = [0] * size
        self.first_reply_at = [-1] * size
        self.batch_size = [0] * size
        self.reply_text_hash: list[str | None] = [None] * size
        self.waits = [[-1] * size for _ in LAYERS]
        self.arrived_at = [-1] * size
        # the rule of each kind of terminal decision, "" when none happened
        self.suppressed_rule = [""] * size
        self.dropped_rule = [""] * size
        self.timeout_rule = [""] * size
        self.unanswered_rule = [""] * size
        self.delay_rule = [""] * size
        self.lost = [False] * size
        self.system = [""] * size
        self._open: dict[int, None] = {}
        self._capture = frozenset(capture)
        #: whether any seq's events are captured: models skip building timeline-only details
        self.capturing = bool(self._capture)
        self.events: list[DecisionEvent] = []
        self.system_name = ""
        #: called with a seq when it gets its first reply (reactive users watch their replies)
        self.on_first_reply: Callable[[int], None] | None = None

    # -- the one entry point models use --------------------------------------------------------
    def event(
        self,
        kind: str,
        seqs: int | tuple[int, ...] | list[int],
        rule: str = "",
        layer: str = "",
        detail: str = "",
    ) -> None:
        """Record a decision ``kind`` about ``seqs`` taken by ``rule`` in ``layer``."""
        handler = _HANDLERS.get(kind, -1)
        if handler < 0 and kind not in NOTE_EVENTS:
            raise ValueError(f"unknown decision event {kind!r}")
        if not self._capture and handler < 0:
            return  # a timeline-only event, and no timeline is being captured
        members: tuple[int, ...] | list[int] = (seqs,) if isinstance(seqs, int) else seqs
        if self._capture and not self._capture.isdisjoint(members):
            self.events.append(
                DecisionEvent(
                    self.kernel.now, kind, tuple(members), rule, layer, self.system_name, detail
                )
            )
        # direct calls (a branch per handler): compiled, they skip a generic call each
        if handler == _ARRIVED:
            self._arrived(members, rule, detail)
        elif handler == _PROCESSING:
            self._processing(members, rule, detail)
        elif handler == _REPLY:
            self._reply(members, rule, detail)
        elif handler == _DELAYED:
            self._delayed(members, rule, detail)
        elif handler == _SUPPRESSED:
            self._suppressed(members, rule, detail)
        elif handler == _DROPPED:
            self._dropped(members, rule, detail)
        elif handler == _TIMEOUT:
            self._timeout(members, rule, detail)
        elif handler == _UNANSWERED:
            self._unanswered(members, rule, detail)
        elif handler == _LOST:
            self._lost(members, rule, detail)

    def wait(self, seq: int, layer: int, waited: int) -> None:
        """Add ``waited`` µs to the seq's wait in ``LAYERS[layer]``."""
        column = self.waits[layer]
        row = self._row(seq)
        column[row] = waited if column[row] < 0 else column[row] + waited

    def row(self, seq: int) -> int:
        """The row of ``seq`` in the outcome lists (``seq`` minus the seqs taken out)."""
        return self._row(seq)

    def _row(self, seq: int) -> int:
        row = seq - self.base
        if row < 0:
            raise OutcomeTaken(f"seq {seq} was decided after its outcome was taken out")
        return row

    def restart(self) -> list[int]:
        """Mark every open seq lost (a restart wiped it); returns them in arrival order."""
        wiped = list(self._open)
        if wiped:
            self.event("lost", wiped, "environment.restarts")
        return wiped

    def is_open(self, seq: int) -> bool:
        return seq in self._open

    # -- handlers ----------------------------------------------------------------------------
    def _arrived(self, seqs: Any, rule: str, detail: str) -> None:
        now = self.kernel.now
        for seq in seqs:
            row = self._row(seq)
            self.arrived_at[row] = now
            self.system[row] = self.system_name
            self._open[seq] = None

    def _suppressed(self, seqs: Any, rule: str, detail: str) -> None:
        for seq in seqs:
            self.suppressed_rule[self._row(seq)] = rule
            self._open.pop(seq, None)

    def _dropped(self, seqs: Any, rule: str, detail: str) -> None:
        for seq in seqs:
            row = self._row(seq)
            if self.processing_count[row]:
                self.unanswered_rule[row] = rule
            else:
                self.dropped_rule[row] = rule
            self._open.pop(seq, None)

    def _processing(self, seqs: Any, rule: str, detail: str) -> None:
        size = len(seqs)
        for seq in seqs:
            row = self._row(seq)
            if not self.processing_count[row]:
                self.batch_size[row] = size
            self.processing_count[row] += 1

    def _timeout(self, seqs: Any, rule: str, detail: str) -> None:
        for seq in seqs:
            self.timeout_rule[self._row(seq)] = rule

    def _unanswered(self, seqs: Any, rule: str, detail: str) -> None:
        for seq in seqs:
            self.unanswered_rule[self._row(seq)] = rule
            self._open.pop(seq, None)

    def _reply(self, seqs: Any, rule: str, detail: str) -> None:
        now = self.kernel.now
        for seq in seqs:
            row = self._row(seq)
            if self.first_reply_at[row] < 0:
                self.first_reply_at[row] = now
                self.reply_text_hash[row] = detail
                if self.on_first_reply is not None:
                    self.on_first_reply(seq)
            self.reply_count[row] += 1
            self._open.pop(seq, None)

    def _lost(self, seqs: Any, rule: str, detail: str) -> None:
        for seq in seqs:
            self.lost[self._row(seq)] = True
            self._open.pop(seq, None)

    def _delayed(self, seqs: Any, rule: str, detail: str) -> None:
        for seq in seqs:
            self.delay_rule[self._row(seq)] = rule

    # -- results -----------------------------------------------------------------------------
    def fates(self, drain_rule: str = "run.drain") -> tuple[list[int], list[str], list[str]]:
        """Fate code, rule and cause of every seq held (guarantees 2 and 3)."""
        return self._fates(self.size, drain_rule)

    def _fates(self, rows: int, drain_rule: str) -> tuple[list[int], list[str], list[str]]:
        fate_codes: list[int] = []
        rules: list[str] = []
        causes: list[str] = []
        for row in range(rows):
            if self.reply_count[row]:
                fate, rule = 0, ""
            elif self.lost[row]:
                fate, rule = 1, "environment.restarts"
            elif self.suppressed_rule[row] and not self.processing_count[row]:
                fate, rule = 2, self.suppressed_rule[row]
            elif self.dropped_rule[row] and not self.processing_count[row]:
                fate, rule = 3, self.dropped_rule[row]
            elif self.timeout_rule[row]:
                fate, rule = 4, self.timeout_rule[row]
            elif self.unanswered_rule[row]:
                fate, rule = 5, self.unanswered_rule[row]
            else:
                fate, rule = 6, drain_rule
            fate_codes.append(fate)
            rules.append(rule)
            causes.append(rule or self.delay_rule[row])
        return fate_codes, rules, causes

    # -- streaming (guarantee 5) -------------------------------------------------------------
    def grow(self, count: int) -> None:
        """Hold rows for ``count`` more seqs."""
        self.processing_count.extend([0] * count)
        self.reply_count.extend([0] * count)
        self.first_reply_at.extend([-1] * count)
        self.batch_size.extend([0] * count)
        self.reply_text_hash.extend([None] * count)
        for column in self.waits:
            column.extend([-1] * count)
        self.arrived_at.extend([-1] * count)
        for name in _RULES:
            getattr(self, name).extend([""] * count)
        self.lost.extend([False] * count)
        self.system.extend([""] * count)
        self.size += count

    def settled_until(self, stop: int, settle: int) -> int:
        """The first seq from ``base`` (up to ``stop``) not settled: arrived ``settle`` µs ago or
        more, and closed."""
        limit = self.kernel.now - settle
        arrived = self.arrived_at
        is_open = self._open
        base = self.base
        seq = base
        while seq < stop:
            at = arrived[seq - base]
            if at < 0 or at > limit or seq in is_open:
                break
            seq += 1
        return seq

    def take(self, stop: int, drain_rule: str = "run.drain") -> dict[str, Any]:
        """The outcome columns of seqs ``base`` .. ``stop - 1`` (``fate``, ``rule``, ``cause``
        and every per-seq column), then forget them (guarantee 5)."""
        rows = stop - self.base
        fate, rule, cause = self._fates(rows, drain_rule)
        taken: dict[str, Any] = {"fate": fate, "rule": rule, "cause": cause}
        for name in _PER_SEQ:
            column = getattr(self, name)
            taken[name] = column[:rows]
            del column[:rows]
        taken["waits"] = [column[:rows] for column in self.waits]
        for column in self.waits:
            del column[:rows]
        for name in _RULES:
            del getattr(self, name)[:rows]
        self.base = stop
        self.size -= rows
        return taken


_ARRIVED: Final = 0
_PROCESSING: Final = 1
_REPLY: Final = 2
_DELAYED: Final = 3
_SUPPRESSED: Final = 4
_DROPPED: Final = 5
_TIMEOUT: Final = 6
_UNANSWERED: Final = 7
_LOST: Final = 8
#: Per-seq columns ``take`` hands over (``waits`` apart), and the rule columns it forgets.
_PER_SEQ = (
    "processing_count",
    "reply_count",
    "first_reply_at",
    "batch_size",
    "reply_text_hash",
    "system",
    "arrived_at",
    "lost",
)
_RULES = ("suppressed_rule", "dropped_rule", "timeout_rule", "unanswered_rule", "delay_rule")
#: The handler of each event kind that changes outcomes (``Recorder.event`` branches on it).
_HANDLERS: dict[str, int] = {
    "arrived": _ARRIVED,
    "duplicate_suppressed": _SUPPRESSED,
    "dropped": _DROPPED,
    "processing_started": _PROCESSING,
    "processing_timeout": _TIMEOUT,
    "agent_error": _UNANSWERED,
    "reply_blocked": _UNANSWERED,
    "send_failed": _UNANSWERED,
    "reply_sent": _REPLY,
    "lost": _LOST,
    **{kind: _DELAYED for kind in DELAY_EVENTS},
}
