"""The receiver's capture files: one JSON line per accepted POST, on disk before the 2xx.

Guarantees:

1. ``append`` returns only after its line is written with one ``write`` to a file opened
   ``O_APPEND`` and that file is ``fsync``'d (and, for a new file, its folder too): a line whose
   request got a 2xx survives a crash of the receiver or of the machine.
2. Group commit: lines that arrive while an fsync runs wait for the next one and share it, so
   the fsync rate is bounded by the disk, not by the request rate.
3. Files are ``DIR/<provider>-<YYYY-MM-DD>.jsonl`` by the line's UTC arrival date (daily
   rotation); a file is only ever appended to.
4. A failed write or fsync fails every request of its group (the receiver answers 5xx).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO


@dataclass
class _Pending:
    file: str
    line: bytes
    done: asyncio.Future[None]


@dataclass
class CaptureLog:
    """Appends lines under ``directory``; one per call to ``append``."""

    directory: Path
    _pending: list[_Pending] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None
    _open: dict[str, BinaryIO] = field(default_factory=dict)
    lines_written: int = 0
    fsyncs: int = 0

    async def append(self, provider: str, day: str, line: str) -> None:
        """Append ``line`` (no newline) to ``<provider>-<day>.jsonl``; returns once durable."""
        loop = asyncio.get_running_loop()
        pending = _Pending(f"{provider}-{day}.jsonl", line.encode() + b"\n", loop.create_future())
        self._pending.append(pending)
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._drain())
        await asyncio.shield(pending.done)

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await asyncio.to_thread(self._write, batch)
            except OSError as exc:
                for item in batch:
                    if not item.done.done():
                        item.done.set_exception(exc)
            else:
                for item in batch:
                    if not item.done.done():
                        item.done.set_result(None)

    def _write(self, batch: list[_Pending]) -> None:
        touched: dict[str, BinaryIO] = {}
        for item in batch:
            handle = touched.get(item.file) or self._handle(item.file)
            view = memoryview(item.line)
            while view:  # a regular file takes it in one write; loop for the rare short one
                view = view[handle.write(view) or 0 :]
            touched[item.file] = handle
        for handle in touched.values():
            handle.flush()
            os.fsync(handle.fileno())
            self.fsyncs += 1
        self.lines_written += len(batch)

    def _handle(self, name: str) -> BinaryIO:
        handle = self._open.get(name)
        if handle is not None:
            return handle
        provider = name.rsplit("-", 3)[0]
        for old in [key for key in self._open if key.rsplit("-", 3)[0] == provider]:
            self._open.pop(old).close()  # the previous day of this provider: rotated
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / name
        created = not path.exists()
        handle = open(path, "ab", buffering=0)  # noqa: SIM115 - kept open across requests
        if created:
            folder = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
        self._open[name] = handle
        return handle

    def close(self) -> None:
        for handle in self._open.values():
            handle.close()
        self._open.clear()
