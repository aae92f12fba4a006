"""The watcher's journal: every complete capture line it has read, in segments, on disk.

Guarantees:

1. A segment is one stretch of one source file (a file, or what followed its rotation or
   truncation); its lines are the source's bytes, whole lines only, in order.
2. ``sync`` makes every appended line durable; a checkpoint records each segment's size, and
   ``restore`` cuts a segment back to it, so lines read after the checkpoint are read again
   from the source, never counted twice.
3. Each line's capture time is its ``received_at`` (ISO 8601 or Unix seconds) when it is a
   JSON object that has one, else the time of the line before it in its segment.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def line_time(line: bytes) -> int | None:
    """``received_at`` of one line in µs since the epoch, or None."""
    if b'"received_at"' not in line:
        return None
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        return None
    value = obj.get("received_at") if isinstance(obj, dict) else None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return round(value * 1_000_000)
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        delta = parsed - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return None


@dataclass
class Segment:
    name: str
    size: int = 0
    ends: list[int] = field(default_factory=list)  # byte offset after each line
    times: list[int] = field(default_factory=list)  # capture time of each line (µs)

    def add(self, data: bytes) -> list[int]:
        """Record the complete lines of ``data`` (appended at ``size``); their times."""
        start, added = 0, []
        last = self.times[-1] if self.times else 0
        while start < len(data):
            end = data.index(b"\n", start) + 1
            found = line_time(data[start:end])
            last = found if found is not None else last
            self.ends.append(self.size + end)
            self.times.append(last)
            added.append(last)
            start = end
        self.size += len(data)
        return added


@dataclass
class Journal:
    folder: Path
    segments: list[Segment] = field(default_factory=list)

    def new_segment(self, source: Path) -> Segment:
        segment = Segment(f"{len(self.segments) + 1:05d}-{source.name}")
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / segment.name).touch()
        self.segments.append(segment)
        return segment

    def append(self, segment: Segment, data: bytes) -> list[int]:
        """Append complete lines (``data`` ends with a newline); returns their times."""
        if not data:
            return []
        with open(self.folder / segment.name, "ab") as handle:
            handle.write(data)
        return segment.add(data)

    def sync(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for segment in self.segments:
            with open(self.folder / segment.name, "rb+") as handle:
                os.fsync(handle.fileno())
        folder = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)

    @property
    def lines(self) -> int:
        return sum(len(s.ends) for s in self.segments)

    def newest(self) -> int | None:
        times = [max(s.times) for s in self.segments if s.times]
        return max(times) if times else None

    def oldest(self) -> int | None:
        times = [min(s.times) for s in self.segments if s.times]
        return min(times) if times else None

    def write_prefix(self, folder: Path, cutoff: int | None) -> list[Path]:
        """Every line with time <= ``cutoff`` (all when None), one file per segment."""
        folder.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        for segment in self.segments:
            data = (self.folder / segment.name).read_bytes()[: segment.size]
            start, chunks = 0, []
            for end, at in zip(segment.ends, segment.times, strict=True):
                if cutoff is None or at <= cutoff:
                    chunks.append(data[start:end])
                start = end
            if chunks:
                path = folder / segment.name
                path.write_bytes(b"".join(chunks))
                written.append(path)
        return written

    def state(self) -> list[dict[str, Any]]:
        return [{"name": s.name, "size": s.size, "lines": len(s.ends)} for s in self.segments]

    @classmethod
    def restore(cls, folder: Path, saved: list[dict[str, Any]]) -> Journal:
        """The journal as checkpointed: each segment cut back to its saved size."""
        journal = cls(folder)
        for entry in saved:
            path = folder / entry["name"]
            with open(path, "rb+") as handle:
                handle.truncate(entry["size"])
                data = handle.read()
            segment = Segment(entry["name"])
            segment.add(data)
            if len(segment.ends) != entry["lines"]:
                raise ValueError(f"journal segment {entry['name']} does not match the checkpoint")
            journal.segments.append(segment)
        return journal
