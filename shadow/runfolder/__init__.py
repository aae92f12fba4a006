"""The run folder on disk: written so that the same run gives the same bytes, verified by
its readers against ``run.json``'s hashes."""

from shadow.runfolder.folder import (
    SCHEMA_VERSION,
    file_hashes,
    read_json,
    sha256_file,
    verify_folder,
    write_json,
    write_jsonl,
    write_lines,
    write_parquet,
)
from shadow.runfolder.memory import StructureMemory, memory_rows
from shadow.runfolder.staging import check_target, partial_path, staged_folder

__all__ = [
    "SCHEMA_VERSION",
    "StructureMemory",
    "check_target",
    "file_hashes",
    "memory_rows",
    "partial_path",
    "read_json",
    "sha256_file",
    "staged_folder",
    "verify_folder",
    "write_json",
    "write_jsonl",
    "write_lines",
    "write_parquet",
]
