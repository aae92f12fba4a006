"""The kernel benchmark of docs/architecture.md: per-contact lock + agent delay + send.

A workload on the bare kernel (no models), to measure the scheduler itself: each message
waits for its contact's lock (a FIFO of events), holds it through an agent delay and a send,
then hands the lock on.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from typing import Any

from shadow.kernel import Event, Kernel, KeyedRandom


def pipeline(messages: int, contacts: int = 500, seed: int = 1, keyed_draws: bool = True) -> int:
    """Run ``messages`` through the pipeline; returns how many replies were sent.

    With ``keyed_draws`` each message's gap, contact and agent delay come from the keyed
    random streams (about 2 µs a draw here, as a replay pays); without, from a fixed
    multiplicative sequence, which measures the scheduler alone.
    """
    kernel = Kernel()
    random = KeyedRandom(seed)
    locked: dict[int, deque[Event]] = {}
    sent = [0]

    def handle(contact: int, agent_delay: int) -> Generator[Any, Any, None]:
        waiters = locked.get(contact)
        if waiters is None:
            locked[contact] = deque()
        else:
            turn = kernel.event()
            waiters.append(turn)
            yield turn
        yield agent_delay
        yield 300_000
        sent[0] += 1
        queue = locked[contact]
        if queue:
            queue.popleft().succeed()
        else:
            del locked[contact]

    def arrivals() -> Any:
        at = 0
        for index in range(messages):
            if keyed_draws:
                u_gap, u_contact, u_delay = random.uniforms(3, "bench", index)
            else:  # Weyl sequences: evenly spread, no hashing
                u_gap = (index * 0.6180339887498949) % 1.0
                u_contact = (index * 0.7548776662466927) % 1.0
                u_delay = (index * 0.5698402909980532) % 1.0
            at += int(u_gap * 1_200_000)
            yield at, (int(u_contact * contacts), 1_000_000 + int(u_delay * 8_000_000))

    kernel.run(None, arrivals(), lambda message: kernel.spawn(handle(*message)))
    kernel.run(kernel.now + 600_000_000)
    return sent[0]
