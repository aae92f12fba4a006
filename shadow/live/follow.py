"""Following capture files like ``tail -F``: appends, rotation, truncation, new files.

Guarantees:

1. Only complete lines (ending in a newline) are taken; a partial last line waits for its end.
2. Rotation (the path now names another file): the old file is read to its end first, then
   the new one from its start, each into its own journal segment. Truncation (same file,
   shorter than what was read): read again from the start, into a new segment.
3. A folder is followed as all its regular, non-hidden files, new ones taken up in name order.
4. ``state``/``restore`` keep each source's file identity and byte offset for the checkpoint;
   a source rotated while the watcher was down is found again by its inode in its folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from shadow.live.journal import Journal, Segment

READ_MAX = 16 * 1024 * 1024  # bytes per source per poll: a huge backlog is read in steps


@dataclass
class Source:
    path: Path
    inode: int
    offset: int
    segment: Segment
    handle: BinaryIO | None = None

    def open(self, at: Path | None = None) -> None:
        self.handle = open(at or self.path, "rb")  # noqa: SIM115 - kept open across polls


@dataclass
class Follower:
    capture: Path
    journal: Journal
    sources: dict[Path, Source] = field(default_factory=dict)
    retired: set[int] = field(default_factory=set)  # inodes read to their end after a rotation

    def paths(self) -> list[Path]:
        if self.capture.is_dir():
            return sorted(
                p for p in self.capture.iterdir() if p.is_file() and not p.name.startswith(".")
            )
        return [self.capture]

    def poll(self) -> list[int]:
        """Read what is new everywhere; returns the capture times of the new lines."""
        times: list[int] = []
        for path in self.paths():
            try:
                stat = os.stat(path)
            except FileNotFoundError:
                continue
            source = self.sources.get(path)
            if source is not None and stat.st_ino != source.inode:
                times += self._read(source, limit=None)  # rotated: finish the old file
                if source.handle is not None:
                    source.handle.close()
                self.retired.add(source.inode)
                source = None
            elif source is not None and stat.st_size < source.offset:
                source.offset = 0  # truncated in place
                source.segment = self.journal.new_segment(path)
            if source is None:
                if stat.st_ino in self.retired or any(
                    s.inode == stat.st_ino for s in self.sources.values()
                ):
                    continue  # a rotated file under its new name: already read
                source = Source(path, stat.st_ino, 0, self.journal.new_segment(path))
                source.open()
                self.sources[path] = source
            times += self._read(source, READ_MAX)
        return times

    def _read(self, source: Source, limit: int | None) -> list[int]:
        if source.handle is None:
            return []
        source.handle.seek(source.offset)
        data = source.handle.read() if limit is None else source.handle.read(limit)
        complete = data[: data.rfind(b"\n") + 1]
        times = self.journal.append(source.segment, complete)
        source.offset += len(complete)  # after the journal has the lines: never ahead of it
        return times

    def state(self) -> dict[str, Any]:
        sources = [
            {"path": str(s.path), "inode": s.inode, "offset": s.offset, "segment": s.segment.name}
            for s in self.sources.values()
        ]
        return {"sources": sources, "retired": sorted(self.retired)}

    def restore(self, saved: dict[str, Any]) -> list[str]:
        """Reopen each source at its offset; returns warnings for sources not found."""
        by_name = {segment.name: segment for segment in self.journal.segments}
        warnings: list[str] = []
        self.retired = set(saved["retired"])
        for entry in saved["sources"]:
            path = Path(entry["path"])
            source = Source(path, entry["inode"], entry["offset"], by_name[entry["segment"]])
            found = _by_inode(path, entry["inode"])
            if found is None:
                warnings.append(f"{path}: the file read before the restart is gone")
                continue
            source.open(found)
            self.sources[path] = source
        return warnings


def _by_inode(path: Path, inode: int) -> Path | None:
    try:
        if os.stat(path).st_ino == inode:
            return path
    except FileNotFoundError:
        pass
    folder = path.parent
    for entry in os.scandir(folder):
        if entry.is_file() and entry.inode() == inode:
            return Path(entry.path)
    return None
