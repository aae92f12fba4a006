"""Ctrl-C and SIGTERM: a batch command stops, cleans up, and says so.

Guarantees:

1. ``install_handlers`` turns SIGINT and SIGTERM into ``Interrupted`` raised in the main thread;
   further signals are ignored while the command cleans up, so cleanup is never cut short.
2. ``Interrupted`` is a ``BaseException``: no ``except Exception`` swallows it, and every
   ``finally`` and context manager on the way out runs (temporary output is removed there).
3. ``staged_file`` writes a file whole or not at all: into a sibling ``.NAME.partial`` renamed
   into place at the end, removed on any error or interruption.
4. ``stop_workers`` kills a process pool's workers when its block is left by an exception, so an
   interrupted command does not wait for arms or sweep replays to finish.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TypeVar

from shadow.common.errors import UsageError

Pool = TypeVar("Pool", bound=ProcessPoolExecutor)


class Interrupted(BaseException):
    """The command was stopped by a signal; exit status 128 + the signal number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def _raise_interrupted(signum: int, _frame: FrameType | None) -> None:
    for handled in (signal.SIGINT, signal.SIGTERM):
        signal.signal(handled, signal.SIG_IGN)
    raise Interrupted(signum)


def install_handlers() -> None:
    """SIGINT and SIGTERM raise ``Interrupted`` (guarantee 1)."""
    for handled in (signal.SIGINT, signal.SIGTERM):
        signal.signal(handled, _raise_interrupted)


@contextmanager
def staged_file(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` to write; it becomes ``path`` on success."""
    staging = path.with_name(f".{path.name}.partial")
    try:
        staging.open("w").close()
    except OSError as exc:  # a parent that is a file, no permission: exit 3, one line
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        yield staging
        staging.replace(path)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise


@contextmanager
def stop_workers(pool: Pool) -> Iterator[Pool]:
    """Use ``pool``; leaving by an exception kills its workers first (guarantee 4)."""
    try:
        yield pool
    except BaseException:
        kill_workers(pool)
        raise
    pool.shutdown(wait=True)


def kill_workers(pool: ProcessPoolExecutor) -> None:
    """Kill the pool's worker processes, drop its queued work, and wait for its manager thread.

    The wait is short (the workers are dead, so the manager thread sees a broken pool and
    ends) and needed: ``shutdown(wait=False)`` closes the thread's wake-up pipe while it may
    still read it, and on CPython 3.11 the thread then dies printing "OSError: [Errno 9] Bad
    file descriptor" after the command's last line.
    """
    processes = dict(getattr(pool, "_processes", None) or {})
    for process in processes.values():
        if process.is_alive():
            process.kill()
    pool.shutdown(wait=True, cancel_futures=True)
