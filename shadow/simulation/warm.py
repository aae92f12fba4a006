"""Arms kept alive across replays of a growing stream: what ``shadow watch`` simulates once.

A watch publishes, cycle after cycle, the replay of a longer and longer prefix of one capture.
``WarmArms`` stands in for ``run_arms`` in those replays: each simulated arm is a
``StreamingArm`` fed only the seqs it has not seen, and each cycle's results come from a copy
of it that is drained (``finish``) while the arm itself waits for the next cycle.

Guarantees:

1. Exactness: ``run(plan, stream)`` returns the results ``run_arms(plan, stream)`` returns,
   arm for arm (``ArmSession``'s guarantee: an arm fed the stream in chunks is the arm fed it
   whole; kernel guarantee 13: a pickled copy runs on as the original would).
2. An arm is reused only when its plan is the same and the stream's first ``fed`` seqs are
   the ones it was fed: a digest over every field an arm reads (message columns, received
   times, cohort membership, recorded latencies and reference replies of those seqs) must
   match. Anything else (a late line sorted into the past, a prefix normalized differently)
   starts that arm afresh over the whole stream; ``resimulated`` counts those seqs.
3. ``save`` / ``load`` write and read every arm with its digest (pickle, protocol 5) in one
   file, replaced atomically, stamped with a fingerprint of the code the arms run (the
   kernel, the world, the models and this package, as installed: pure or compiled). A file
   that does not load, or was written by other code (an upgrade, the other build), loads
   no arm: they are simulated afresh, never run on under code they were not saved from.
4. The digest reads no wall clock and no ``PYTHONHASHSEED``-dependent hash: it is the same on
   every machine and across restarts.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.util
import io
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shadow.simulation.runner import (
    ArmResult,
    Codes,
    RunPlan,
    Stream,
    StreamingArm,
    stream_slice,
)

#: The file format of ``save``: bumped whenever what an arm pickles changes shape.
WARM_VERSION = 1


@dataclass
class _Warm:
    arm: StreamingArm
    fed: int
    digest: str


def _code_hashes(column: Codes) -> np.ndarray:
    """A stable 64-bit hash per vocabulary entry, one more (0) for a missing value (-1)."""
    values = column.values.to_pylist()
    table = np.zeros(len(values) + 1, dtype=np.uint64)
    for index, value in enumerate(values):
        if value is not None:
            digest = hashlib.blake2b(value.encode(), digest_size=8).digest()
            table[index] = int.from_bytes(digest, "little") | 1
    return table


def _text_columns(stream: Stream) -> list[Codes]:
    return [
        stream.message_id,
        stream.contact_id,
        stream.text_hash,
        stream.text_norm_hash,
        stream.type,
        stream.topic,
        stream.repeat_kind,
    ]


def stream_digest(stream: Stream, stop: int, tables: list[np.ndarray] | None = None) -> str:
    """A digest of everything an arm reads of seqs ``0 .. stop - 1`` (guarantee 2).
    ``tables``: the columns' ``_code_hashes``, when the caller digests one stream twice."""
    columns = _text_columns(stream)
    if tables is None:
        tables = [_code_hashes(column) for column in columns]
    digest = hashlib.blake2b(digest_size=16)
    digest.update(np.int64(stop).tobytes())
    for column, table in zip(columns, tables, strict=True):
        digest.update(table[np.asarray(column.codes[:stop], dtype=np.int64)].tobytes())
    digest.update(np.ascontiguousarray(stream.received_at[:stop], dtype=np.int64).tobytes())
    for stage in sorted(stream.cohorts):
        digest.update(np.int64(stage).tobytes())
        digest.update(np.ascontiguousarray(stream.cohorts[stage][:stop]).tobytes())
    for name, mapping in (
        ("latency", stream.recorded_latency),
        ("replies", stream.reference_replies),
    ):
        digest.update(name.encode())
        if mapping is not None:
            items = sorted((seq, value) for seq, value in mapping.items() if seq < stop)
            digest.update(np.asarray(items, dtype=np.int64).tobytes())
    return digest.hexdigest()


class ArmPickler(pickle.Pickler):
    """A pickler for arms of either build (guarantee 3).

    In the compiled build (setup.py) the kernel, the environment and the models are mypyc
    classes that allow interpreted subclasses: their ``__new__`` then does not run
    ``__init__``, so the default protocol rebuilds them from mypyc's ``__getstate__``. A
    compiled frozen dataclass refuses ``__setstate__``'s assignments: it is rebuilt from its
    fields. Everything else pickles as usual.
    """

    def reducer_override(self, obj: Any) -> Any:
        params = getattr(type(obj), "__dataclass_params__", None)
        if params is not None and params.frozen and all(f.init for f in dataclasses.fields(obj)):
            return type(obj), tuple(getattr(obj, f.name) for f in dataclasses.fields(obj))
        return NotImplemented


def dumps(value: Any) -> bytes:
    """``value`` pickled by ``ArmPickler``."""
    buffer = io.BytesIO()
    ArmPickler(buffer, protocol=5).dump(value)
    return buffer.getvalue()


@functools.cache
def code_fingerprint() -> str:
    """A digest of every module file the arms run, as installed (guarantee 3)."""
    digest = hashlib.blake2b(digest_size=16)
    for package in ("shadow.kernel", "shadow.world", "legacy_models", "unified"):
        spec = importlib.util.find_spec(package)
        folders = list(spec.submodule_search_locations or []) if spec else []
        _digest_folder(digest, package, Path(folders[0]) if folders else None)
    _digest_folder(digest, __package__ or "", Path(__file__).parent)
    return digest.hexdigest()


def _digest_folder(digest: Any, package: str, folder: Path | None) -> None:
    digest.update(f"{package}:{folder is not None}\0".encode())
    for path in sorted(folder.iterdir()) if folder is not None else ():
        if path.suffix in (".py", ".so", ".pyd"):
            digest.update(f"{package}/{path.name}\0".encode())
            digest.update(path.read_bytes())


def plan_key(plan: RunPlan, name: str) -> str:
    """Which arm of which plan: a variant plan (an open reading) is another arm."""
    return hashlib.blake2b(repr((name, plan)).encode(), digest_size=16).hexdigest()


class WarmArms:
    """The simulated arms of every plan replayed so far, each at the seq it was fed to."""

    def __init__(self) -> None:
        self.arms: dict[str, _Warm] = {}
        self.used: set[str] = set()
        self.simulated = 0  # most seqs one arm was fed since the last ``end_cycle``
        self.resimulated = 0  # of those, most seqs one arm had been fed before (guarantee 2)

    def run(self, plan: RunPlan, stream: Stream) -> list[ArmResult]:
        """Every simulated arm of ``plan`` over ``stream``, in plan order (guarantee 1)."""
        size = len(stream)
        digests: dict[int, str] = {}
        tables: list[np.ndarray] = []

        def digest(stop: int) -> str:
            if not tables:
                tables.extend(_code_hashes(column) for column in _text_columns(stream))
            if stop not in digests:
                digests[stop] = stream_digest(stream, stop, tables)
            return digests[stop]

        results = []
        for spec in plan.arms:
            if not spec.simulated:
                continue
            key = plan_key(plan, spec.name)
            self.used.add(key)
            warm = self.arms.get(key)
            if warm is not None and (warm.fed > size or warm.digest != digest(warm.fed)):
                self.resimulated = max(self.resimulated, min(warm.fed, size))
                warm = None
            if warm is None:
                arm = StreamingArm(
                    spec, plan, stream.recorded_latency, None, stream.reference_replies
                )
                warm = self.arms[key] = _Warm(arm, 0, digest(0))
            # the seqs fed earlier read the same values (the digest); the new ones are added
            warm.arm.environment.use_recorded_latency(stream.recorded_latency)
            warm.arm.session.reference_replies = stream.reference_replies
            if warm.fed < size:
                warm.arm.feed(stream_slice(stream, warm.fed, size))
                self.simulated = max(self.simulated, size - warm.fed)
            warm.fed, warm.digest = size, digest(size)
            drained: StreamingArm = pickle.loads(dumps(warm.arm))
            results.append(drained.finish())
        return results

    def end_cycle(self, forget: bool = True) -> tuple[int, int]:
        """Let go of the arms no ``run`` asked for since the last call (a plan that changed;
        none with ``forget=False``: a cycle that failed before running every plan); the most
        seqs one arm was fed since then, and of those the most fed again."""
        if forget:
            self.arms = {key: warm for key, warm in self.arms.items() if key in self.used}
        counts = self.simulated, self.resimulated
        self.used, self.simulated, self.resimulated = set(), 0, 0
        return counts

    @property
    def fed(self) -> int:
        """The most seqs any kept arm was fed."""
        return max((warm.fed for warm in self.arms.values()), default=0)

    def save(self, path: Path) -> None:
        """Every arm with its digest, in one file replaced atomically (guarantee 3)."""
        tmp = path.with_name(path.name + ".tmp")
        state = {key: (warm.arm, warm.fed, warm.digest) for key, warm in self.arms.items()}
        with open(tmp, "wb") as handle:
            handle.write(dumps((WARM_VERSION, code_fingerprint(), state)))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> WarmArms:
        """The arms ``save`` wrote; none when the file is missing, does not load, or was
        written by another version or other code (guarantee 3)."""
        warm = cls()
        try:
            with open(path, "rb") as handle:
                version, code, state = pickle.load(handle)
        except (
            OSError,
            EOFError,
            pickle.UnpicklingError,
            AttributeError,
            ImportError,
            TypeError,
            ValueError,
        ):
            return warm
        if version != WARM_VERSION or code != code_fingerprint():
            return warm
        warm.arms = {key: _Warm(arm, fed, digest) for key, (arm, fed, digest) in state.items()}
        return warm
