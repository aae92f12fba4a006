"""The run folder: every data file, written so that the same run gives the same bytes.

Guarantees:

1. Every file but ``timing.json`` is a pure function of the run's content: JSON with sorted
   keys and fixed separators, parquet with fixed writer options, no
   absolute path, no wall-clock time.
2. ``run.json`` lists the sha256 of each data file it describes (``files``); a reader can
   check the folder has not been altered (the gate does).
3. An existing folder is refused unless ``force``; with ``force`` its previous contents are
   replaced, never mixed with the new run's.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from shadow.errors import UsageError

SCHEMA_VERSION = 1
DATA_FILES = {
    "stream": "stream.parquet",
    "outbound": "outbound.parquet",
    "outcomes": "outcomes.parquet",
    "divergences": "divergences.jsonl",
    "signatures": "signatures.json",
    "gauges": "gauges.parquet",
    "rejected": "rejected.jsonl",
}


def prepare_folder(path: Path, force: bool) -> None:
    """Create an empty run folder (guarantee 3)."""
    if path.exists():
        if not force:
            raise UsageError(f"{path} exists; pass --force to replace it")
        if not (path / "run.json").exists() and any(path.iterdir()):
            raise UsageError(f"{path} is not a run folder (no run.json); refusing to replace it")
        shutil.rmtree(path)
    path.mkdir(parents=True)


def canonical_json(document: Any) -> str:
    return json.dumps(document, sort_keys=True, ensure_ascii=False, indent=2, allow_nan=False)


def write_json(path: Path, document: Any) -> None:
    path.write_text(canonical_json(document) + "\n", encoding="utf-8")


def write_jsonl(path: Path, lines: Iterable[Mapping[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for line in lines:
            handle.write(
                json.dumps(line, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
            )
            handle.write("\n")


def write_parquet(path: Path, frame: pd.DataFrame | Mapping[str, Any]) -> None:
    """Parquet with fixed options: the same table gives the same bytes (guarantee 1)."""
    # A frame keeps pandas' schema metadata (nullable dtypes round-trip; it is deterministic
    # under the lock file); a plain column mapping has none.
    table = (
        pa.Table.from_pandas(frame, preserve_index=False)
        if isinstance(frame, pd.DataFrame)
        else pa.table(dict(frame))
    )
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


def verify_folder(folder: Path) -> dict[str, Any]:
    """Read ``run.json`` and check every listed file's hash; raises ``UsageError`` otherwise."""
    from shadow.errors import InputError

    manifest_path = folder / "run.json"
    if not manifest_path.exists():
        raise InputError(str(folder), None, "not a run folder: run.json is missing")
    try:
        manifest: dict[str, Any] = json.loads(manifest_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(str(manifest_path), exc.lineno, f"not valid JSON: {exc.msg}") from exc
    for key, expected in sorted(manifest.get("files", {}).items()):
        path = folder / DATA_FILES.get(key, key)
        if not path.exists():
            raise InputError(str(path), None, f"missing: run.json lists {key}")
        if sha256_file(path) != expected:
            raise InputError(
                str(path), None, "does not match the sha256 in run.json (altered after the run?)"
            )
    return manifest
