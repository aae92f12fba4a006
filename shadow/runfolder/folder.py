"""The run folder: every data file, written so that the same run gives the same bytes.

Guarantees:

1. Every file but ``timing.json`` is a pure function of the run's content: JSON with sorted
   keys and fixed separators, parquet with fixed writer options, no
   absolute path, no wall-clock time.
2. ``run.json`` lists the sha256 of each data file it describes (``files``); a reader can
   check the folder has not been altered (the gate does).
3. Writers write into a staged folder (``shadow.runfolder.staging``): a run folder appears
   whole or not at all, and replaces a previous one only with ``force``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from shadow.common import InputError, canonical_json, compact_json

#: 2: the verdicts release (harm columns, per-pair signatures, redacted rejected lines, the
#: capture and readings sections of run.json); a reader refuses any other version.
SCHEMA_VERSION = 2
DATA_FILES = {
    "stream": "stream.parquet",
    "outbound": "outbound.parquet",
    "outcomes": "outcomes.parquet",
    "divergences": "divergences.jsonl",
    "signatures": "signatures.json",
    "gauges": "gauges.parquet",
    "rejected": "rejected.jsonl",
}


def write_json(path: Path, document: Any) -> None:
    path.write_text(canonical_json(document) + "\n", encoding="utf-8")


def write_jsonl(path: Path, lines: Iterable[Mapping[str, Any]]) -> None:
    write_lines(path, (compact_json(line) for line in lines))


def write_lines(path: Path, lines: Iterable[str]) -> None:
    """Write each text as one line (``\\n``, UTF-8)."""
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for line in lines:
            handle.write(line)
            handle.write("\n")


def write_parquet(path: Path, frame: pd.DataFrame | pa.Table | Mapping[str, Any]) -> None:
    """Parquet with fixed options: the same table gives the same bytes (guarantee 1)."""
    # A frame keeps pandas' schema metadata (nullable dtypes round-trip; it is deterministic
    # under the lock file); a plain column mapping has none.
    if isinstance(frame, pa.Table):
        table = frame
    elif isinstance(frame, pd.DataFrame):
        table = pa.Table.from_pandas(frame, preserve_index=False)
    else:
        table = pa.table(dict(frame))
    pq.write_table(
        table,
        path,
        compression="zstd",
        compression_level=3,
        use_dictionary=True,
        write_statistics=False,
        data_page_size=1 << 20,
        row_group_size=1 << 20,
    )


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_hashes(folder: Path) -> dict[str, str]:
    """The sha256 of each data file present in ``folder`` (keys of ``DATA_FILES``)."""
    return {
        key: sha256_file(folder / name)
        for key, name in DATA_FILES.items()
        if (folder / name).exists()
    }


def read_json(path: Path) -> Any:
    """A JSON file's document; ``InputError`` (exit 3) naming the file and line otherwise."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(str(path), None, "file not found") from None
    except json.JSONDecodeError as exc:
        raise InputError(str(path), exc.lineno, f"not valid JSON: {exc.msg}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(str(path), None, f"cannot read: {exc}") from None


def verify_folder(
    folder: Path, required: tuple[str, ...] = ()
) -> tuple[dict[str, Any], dict[str, Path]]:
    """``run.json`` and its data files by logical name, every listed file checked against its
    sha256 (guarantee 2) and the folder's ``schema_version`` against ``SCHEMA_VERSION``;
    ``InputError`` (exit 3) naming the file otherwise."""
    manifest_path = folder / "run.json"
    if not manifest_path.exists():
        raise InputError(str(folder), None, "not a run folder: run.json is missing")
    manifest = read_json(manifest_path)
    if not isinstance(manifest, dict):
        raise InputError(str(manifest_path), None, "run.json is not a JSON object")
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise InputError(
            str(manifest_path),
            None,
            f"schema_version {version} is not {SCHEMA_VERSION}, the one this shadow reads "
            "(see CHANGELOG): replay the capture again with this version",
        )
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        raise InputError(str(manifest_path), None, "run.json has no `files` with data file hashes")
    paths: dict[str, Path] = {}
    for name, expected in sorted(listed.items()):
        path = folder / DATA_FILES.get(str(name), str(name))
        if not isinstance(expected, str):
            raise InputError(str(manifest_path), None, f"files.{name}: no sha256")
        if not path.is_file():
            raise InputError(str(path), None, "listed in run.json but missing from the run folder")
        actual = sha256_file(path)
        if actual != expected:
            raise InputError(
                str(path),
                None,
                f"sha256 {actual[:12]}... does not match run.json ({expected[:12]}...): "
                "the run folder changed after the run",
            )
        paths[name] = path
    for name in required:
        if name not in paths:
            raise InputError(str(manifest_path), None, f"run.json does not list `{name}`")
    return manifest, paths
