"""The run folder on disk: written so that the same run gives the same bytes, verified by
its readers against ``run.json``'s hashes."""

from shadow.runfolder.folder import (
    SCHEMA_VERSION,
    file_hashes,
    prepare_folder,
    sha256_file,
    verify_folder,
    write_json,
    write_jsonl,
    write_lines,
    write_parquet,
)
from shadow.runfolder.memory import StructureMemory, memory_rows

__all__ = [
    "SCHEMA_VERSION",
    "StructureMemory",
    "file_hashes",
    "memory_rows",
    "prepare_folder",
    "sha256_file",
    "verify_folder",
    "write_json",
    "write_jsonl",
    "write_lines",
    "write_parquet",
]
