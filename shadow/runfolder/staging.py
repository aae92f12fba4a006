"""A run folder appears whole or not at all.

Guarantees:

1. Files are written into a sibling temporary folder (``.NAME.partial``) that is renamed to
   ``NAME`` only when the block finishes; an error, Ctrl-C or SIGTERM inside the block removes
   the temporary folder and leaves ``NAME`` as it was (absent, or the previous run).
2. A temporary folder left by a killed run (``kill -9``, power loss) is removed by the next run
   into the same folder.
3. An existing ``NAME`` is refused unless ``force``; with ``force`` it is replaced only when it
   looks like a run folder (``run.json``, or only files a run writes), never a folder of other
   files. The old folder is removed only after the new one is complete.
4. A folder that cannot be created (a parent that is a file, no permission) is a ``UsageError``
   (exit 3) naming the path, raised before anything is written.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shadow.common import UsageError
from shadow.runfolder.folder import DATA_FILES

# What a run (or a command run on it) may leave in its folder; a folder of only these is ours.
RUN_FILES = frozenset(
    {
        *DATA_FILES.values(),
        "run.json",
        "timing.json",
        "report.md",
        "report.html",
        "crash.txt",
        "explain",
    }
)


def partial_path(out: Path) -> Path:
    """The temporary sibling a run into ``out`` writes to."""
    return out.with_name(f".{out.name}.partial")


def check_target(out: Path, force: bool, marker: str = "run.json") -> None:
    """Refuse an existing ``out`` without ``force``, or one that is not a run folder (holds
    ``marker``, or only files a run writes) (guarantee 3); cheap enough to run before any
    input is read."""
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            raise UsageError(f"--out {out}: exists and is not a folder")
        if not force:
            raise UsageError(f"{out} exists; pass --force to replace it")
        if not (out / marker).exists() and not _only_run_files(out):
            kind = "run" if marker == "run.json" else marker.split(".")[0]
            raise UsageError(f"{out} is not a {kind} folder (no {marker}); refusing to replace it")
    parent = out.parent
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise UsageError(f"--out {out}: {probe} is not a folder")


def _only_run_files(folder: Path) -> bool:
    return all(
        child.name in RUN_FILES or child.name.startswith("gate-") for child in folder.iterdir()
    )


@contextmanager
def staged_folder(out: Path, force: bool, marker: str = "run.json") -> Iterator[Path]:
    """Yield an empty temporary folder; on success it becomes ``out`` (guarantees 1-4)."""
    check_target(out, force, marker)
    staging = partial_path(out)
    try:
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir(parents=True)
    except OSError as exc:
        raise UsageError(
            f"--out {out}: cannot create the run folder: {exc.strerror or exc}"
        ) from None
    try:
        yield staging
        retired = out.with_name(f".{out.name}.old")
        if retired.exists():
            shutil.rmtree(retired)
        if out.exists():
            out.rename(retired)
        staging.rename(out)
        shutil.rmtree(retired, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
