"""A replay fed chunk by chunk: the streaming pipeline behind ``shadow replay``, and what live
watching builds on.

Use::

    loop = ChunkLoop(options, loaded)      # loaded: LoadedInputs (its inbound is not read)
    for records in chunks:                 # InboundRecords, received_at non-decreasing
        loop.feed(records)                 # across feeds as within one
    summary = loop.flush()                 # the run folder complete; the --json summary

A loop is used once: ``feed`` any number of times, then ``flush`` once.

Guarantees:

1. Exactness: the run folder (every file but ``timing.json``) is byte-identical to the
   whole-capture run of the same records, however they are cut into chunks.
   ``timing.json`` says how many chunks were fed (``chunks``).
2. Each arm keeps one kernel alive across chunks: a chunk's arrivals are delivered, then the
   kernel stops after the last one's microtasks (timers due later run in the next chunk or in
   the final drain), which is the order of one uninterrupted run (kernel guarantee 5).
3. Finality: a seq's outcome is taken out of an arm once the arm closed it (no open message),
   and ``settle`` µs of virtual time passed since it arrived. An event about a seq taken out
   raises ``SettledTooEarly``; the replay then starts over holding every outcome to the end
   (one chunk), so a too-short ``settle`` costs time, never a wrong file.
4. Order verdicts: a seq is compared and written once it is final in every arm and every seq
   that arrived before its latest first reply is final too (only those can have been answered
   before it: a reply never precedes its message).
5. Memory: what stays between chunks grows with the contacts, message ids and texts seen
   (pseudonyms, repeat detection), not with the messages, except seqs held back by the rules
   above. Redelivery detection forgets a message id ``id_retention`` µs after it was last
   seen (default ``ID_RETENTION``: a week, longer than any gateway's redelivery horizon).
   Runs with ``--flip-at`` or recorded replies (outbound records) hold every outcome to the
   end: their comparison reads across the whole run.
6. Checkpoints: ``checkpoint()`` is a small picklable value (the options and the size of
   every chunk fed). The arms' kernels hold running generators, which do not pickle; a run is
   deterministic, so ``ChunkLoop.resume(checkpoint, loaded, records)`` re-feeds the same
   records in the same chunks into a fresh run folder and gives a loop in the same state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

#: Default retention of message ids for redelivery detection: a week, in µs.
ID_RETENTION = 7 * 24 * 3600 * 1_000_000


class SettledTooEarly(RuntimeError):
    """An arm took a decision about a seq whose outcome was already taken out (guarantee 3)."""


@dataclass(frozen=True)
class Checkpoint:
    """What ``ChunkLoop.resume`` needs besides the records themselves (guarantee 6)."""

    options: Any  # ReplayOptions
    chunk_sizes: tuple[int, ...]

    @property
    def records(self) -> int:
        """How many records were fed before the checkpoint."""
        return sum(self.chunk_sizes)


#: Called with each batch of final outcome frames ``{arm: frame}`` as it is written.
OnFinal = Callable[[dict[str, Any]], object]


class ChunkLoop:
    """The streaming replay (module docstring). The API is stable: live watching uses it."""

    def __init__(self, options: Any, loaded: Any, **hooks: Any) -> None:
        raise NotImplementedError

    def feed(self, records: Iterable[Any]) -> int:
        """Deliver one chunk to every arm; compare and write what became final. Returns the
        number of seqs written so far."""
        raise NotImplementedError

    def flush(self) -> dict[str, Any]:
        """Drain every arm, write everything left and ``run.json``; the replay summary."""
        raise NotImplementedError

    def checkpoint(self) -> Checkpoint:
        raise NotImplementedError

    @classmethod
    def resume(cls, checkpoint: Checkpoint, loaded: Any, records: Iterable[Any]) -> ChunkLoop:
        raise NotImplementedError
