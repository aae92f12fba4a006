"""Reading what the gate judges: the run folder (verified), the policy, waivers, the previous
verdict. Everything impure about the gate lives here; ``shadow.gate`` stays pure.

Guarantees:

1. Fail closed on the run folder: every file listed in ``run.json["files"]`` must exist and
   match its sha256, and ``divergences`` and ``outcomes`` must be listed; otherwise InputError
   (exit 3) naming the file. A line appended to ``divergences.jsonl`` is caught here.
2. Bad lines and missing columns raise InputError with the file, the line and the reason.
3. Without ``--policy``, the bundled ``replay_data/policies/stage-P.yaml``; its sha256 is of the
   file's bytes. A policy's ``waivers: FILE`` is relative to the policy's folder.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from shadow.common import InputError, UsageError
from shadow.compare import HARM_COLUMNS
from shadow.gate.input import OUTCOME_COLUMNS, ArmOutcomes, GateInput
from shadow.gate.policy import Policy, Waiver, parse_policy, parse_waivers
from shadow.gate.verdict import SCHEMA_VERSION
from shadow.runfolder import read_json, sha256_file, verify_folder

REQUIRED = ("outcomes", "divergences")


def verify_run_folder(run_dir: Path) -> tuple[dict[str, Any], dict[str, Path]]:
    """run.json and the verified data files by logical name (guarantee 1)."""
    return verify_folder(run_dir, REQUIRED)


def read_divergences(path: Path) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                line = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InputError(str(path), number, f"not valid JSON: {exc.msg}") from None
            if not isinstance(line, dict) or not isinstance(line.get("seq"), int):
                raise InputError(str(path), number, "a divergence line needs an integer `seq`")
            if not isinstance(line.get("kinds"), list):
                raise InputError(str(path), number, "a divergence line needs a `kinds` list")
            lines.append(line)
    return lines


def read_outcomes(path: Path) -> dict[str, ArmOutcomes]:
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(str(path), None, f"cannot read parquet: {exc}") from None
    missing = [name for name in ("arm", *OUTCOME_COLUMNS) if name not in table.column_names]
    if missing:
        raise InputError(str(path), None, f"missing columns: {', '.join(missing)}")
    arms = sorted(str(arm) for arm in pc.unique(table.column("arm")).to_pylist())
    result: dict[str, ArmOutcomes] = {}
    for arm in arms:
        rows = table.filter(pc.equal(table.column("arm"), arm))
        columns: dict[str, Any] = {name: rows.column(name).to_pylist() for name in OUTCOME_COLUMNS}
        columns["seq"] = np.asarray(columns["seq"], dtype=np.int64)
        result[arm] = ArmOutcomes.from_columns(columns)
    return result


def read_harm_frames(path: Path) -> dict[str, pd.DataFrame]:
    """Per arm, the outcome columns ``shadow.compare.arm_harms`` needs ({} without them)."""
    try:
        names = pq.read_schema(path).names
        if any(name not in names for name in ("arm", *HARM_COLUMNS)):
            return {}
        frame = pq.read_table(path, columns=["arm", *HARM_COLUMNS]).to_pandas()
    except (OSError, pa.ArrowException) as exc:
        raise InputError(str(path), None, f"cannot read parquet: {exc}") from None
    arms = frame["arm"].astype(str)
    return {arm: frame[arms == arm].reset_index(drop=True) for arm in sorted(set(arms))}


def load_gate_input(run_dir: Path, run_ref: str) -> GateInput:
    """The verified run folder as a GateInput (exit 3 on any mismatch)."""
    run, paths = verify_run_folder(run_dir)
    return GateInput(
        run=run,
        divergences=read_divergences(paths["divergences"]),
        outcomes=read_outcomes(paths["outcomes"]),
        run_ref=run_ref,
        harm_frames=read_harm_frames(paths["outcomes"]),
        variants=_read_variants(run_dir, run),
    )


def _read_variants(run_dir: Path, run: dict[str, Any]) -> dict[str, GateInput]:
    """Every replayed reading's files, checked against the sha256 ``run.json`` lists."""
    readings = run.get("readings")
    records = readings.get("evaluated", []) if isinstance(readings, dict) else []
    variants: dict[str, GateInput] = {}
    for record in records:
        folder, files = record.get("folder"), record.get("files")
        if not isinstance(folder, str) or not isinstance(files, dict):
            continue
        paths = {}
        for name, file_name in (
            ("outcomes", "outcomes.parquet"),
            ("divergences", "divergences.jsonl"),
        ):
            path = run_dir / folder / file_name
            if not path.is_file():
                raise InputError(str(path), None, "listed in run.json (readings) but missing")
            if sha256_file(path) != files.get(name):
                raise InputError(str(path), None, "sha256 differs from run.json (readings)")
            paths[name] = path
        variants[folder] = GateInput(
            run={},
            divergences=read_divergences(paths["divergences"]),
            outcomes=read_outcomes(paths["outcomes"]),
            harm_frames=read_harm_frames(paths["outcomes"]),
        )
    return variants


@dataclass(frozen=True, slots=True)
class LoadedPolicy:
    policy: Policy
    sha256: str
    source: str
    waivers: list[Waiver]


def load_policy(path: Path | None, stage: int) -> LoadedPolicy:
    """The policy of ``--policy`` or the bundled one for ``stage``, with its waivers."""
    if path is None:
        bundled = resources.files("replay_data") / "policies" / f"stage-{stage}.yaml"
        if not bundled.is_file():
            raise UsageError(
                f"no bundled policy for stage {stage} (bundled: 10, 50, 100): pass --policy FILE"
            )
        data = bundled.read_bytes()
        source = f"replay_data/policies/stage-{stage}.yaml (bundled)"
        folder: Path | None = None
    else:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(str(path), None, f"cannot read the policy: {exc.strerror}") from None
        source = str(path)
        folder = path.parent
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(source, None, "the policy is not UTF-8 text") from None
    policy = parse_policy(text, source)
    waivers: list[Waiver]
    if isinstance(policy.waivers, str):
        if folder is None:
            raise UsageError(f"{source}: a bundled policy cannot name a waivers file")
        waivers_path = folder / policy.waivers
        try:
            waivers_text = waivers_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(
                str(waivers_path), None, f"cannot read waivers: {exc.strerror}"
            ) from None
        waivers = parse_waivers(waivers_text, str(waivers_path))
    else:
        waivers = list(policy.waivers or [])
    return LoadedPolicy(policy, hashlib.sha256(data).hexdigest(), source, waivers)


def read_previous(path: Path) -> dict[str, Any]:
    """A previous stage's ``gate-Q.json``: needs ``stage`` and ``fingerprint``."""
    previous = read_json(path)
    if not isinstance(previous, dict) or "stage" not in previous or "fingerprint" not in previous:
        raise InputError(str(path), None, "not a gate verdict file (needs stage and fingerprint)")
    if previous.get("schema_version") != SCHEMA_VERSION:
        raise InputError(
            str(path),
            None,
            f"schema_version {previous.get('schema_version')} is not {SCHEMA_VERSION}, the one "
            "this shadow reads: gate the previous stage again with this version",
        )
    return previous
