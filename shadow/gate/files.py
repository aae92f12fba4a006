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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

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
T = TypeVar("T")


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
                line = json.loads(_without_outcome_records(text))
            except json.JSONDecodeError:
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


_RECORDS = '"outcomes":{"baseline":{'
_CANDIDATE = '"candidate":{'


def _without_outcome_records(text: str) -> str:
    """The line without its ``outcomes`` member (two flat records, two thirds of the bytes,
    which the gate never reads), when it can be cut out with certainty: a top-level member as
    ``shadow replay`` writes it, no backslash in the line (so every quote opens or closes a
    string) and both cuts outside every string. Else the line as it is."""
    start = text.find(_RECORDS)
    if start < 0 or "\\" in text:
        return text
    before = text[:start]
    if before.count('"') % 2 or before.count("{") - before.count("}") != 1:
        return text
    middle = text.find(_CANDIDATE, start + len(_RECORDS))
    end = text.find("}}", middle) if middle >= 0 else -1
    if end < 0 or text.count('"', start, end) % 2:
        return text
    after = text[end + 2 : end + 3]
    if after == ",":
        return before + text[end + 3 :]
    if after == "}" and before.endswith(","):
        return before[:-1] + text[end + 2 :]
    return text


def read_outcomes(path: Path) -> Mapping[str, ArmOutcomes]:
    """Per arm, the outcome columns the checks read (``OUTCOME_COLUMNS``)."""
    return read_outcome_file(path)[0]


def read_harm_frames(path: Path) -> Mapping[str, pd.DataFrame]:
    """Per arm, the outcome columns ``shadow.compare.arm_harms`` needs ({} without them)."""
    return read_outcome_file(path)[1]


def read_outcome_file(
    path: Path,
) -> tuple[Mapping[str, ArmOutcomes], Mapping[str, pd.DataFrame]]:
    """``read_outcomes`` and ``read_harm_frames`` from one read of the file, split by arm in
    Arrow (no Python object per row); an arm's columns are converted when first looked up
    (an open reading's alternative is often judged on two of its arms)."""
    try:
        names = pq.read_schema(path).names
        missing = [name for name in ("arm", *OUTCOME_COLUMNS) if name not in names]
        if missing:
            raise InputError(str(path), None, f"missing columns: {', '.join(missing)}")
        harmed = all(name in names for name in HARM_COLUMNS)
        wanted = [*OUTCOME_COLUMNS, *(HARM_COLUMNS if harmed else ())]
        table = pq.read_table(path, columns=["arm", *dict.fromkeys(wanted)])
    except (OSError, pa.ArrowException) as exc:
        raise InputError(str(path), None, f"cannot read parquet: {exc}") from None
    arms = dict(_by_arm(table))
    frames = ByArm(arms, _harm_frame) if harmed else ByArm({}, _harm_frame)
    return ByArm(arms, _arm_outcomes), frames


def _harm_frame(rows: pa.Table) -> pd.DataFrame:
    frame: pd.DataFrame = rows.select(["arm", *HARM_COLUMNS]).to_pandas()
    return frame


class ByArm(Mapping[str, T]):
    """Per arm, a value made from the arm's Arrow rows on first lookup, then kept (the same
    object for every lookup: the gate's memo keys on it)."""

    def __init__(self, rows: Mapping[str, pa.Table], make: Callable[[pa.Table], T]) -> None:
        self._rows = rows
        self._make = make
        self._made: dict[str, T] = {}

    def __getitem__(self, arm: str) -> T:
        if arm not in self._made:
            self._made[arm] = self._make(self._rows[arm])
        return self._made[arm]

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)


def _by_arm(table: pa.Table) -> list[tuple[str, pa.Table]]:
    """The table's rows per arm, arms sorted by name, rows in file order: slices when each
    arm's rows are contiguous (as shadow replay writes them), else filtered."""
    encoded = pc.fill_null(table.column("arm").cast(pa.large_string()), "")
    encoded = encoded.combine_chunks().dictionary_encode()
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    starts = np.flatnonzero(np.diff(codes)) + 1
    runs = np.split(np.arange(len(codes)), starts) if len(codes) else []
    names = [str(name) for name in encoded.dictionary.to_pylist()]
    if len(runs) == len(names):  # one run per arm
        by_name = {names[codes[run[0]]]: (int(run[0]), len(run)) for run in runs}
        return [(arm, table.slice(*by_name[arm])) for arm in sorted(by_name)]
    column = table.column("arm")
    return [(arm, table.filter(pc.equal(column, arm))) for arm in sorted(names)]


def _arm_outcomes(rows: pa.Table) -> ArmOutcomes:
    """``ArmOutcomes.from_columns`` of the rows' Python values, without making them: nulls
    become NaN and "" as there (a column of another type than the contract's takes that way)."""
    columns = {name: rows.column(name) for name in OUTCOME_COLUMNS}
    text = [name for name in OUTCOME_COLUMNS if name not in ("seq", "reply_latency")]
    if not (
        pa.types.is_integer(columns["seq"].type)
        and columns["seq"].null_count == 0
        and pa.types.is_floating(columns["reply_latency"].type)
        and all(
            pa.types.is_large_string(columns[name].type) or pa.types.is_string(columns[name].type)
            for name in text
        )
    ):
        return ArmOutcomes.from_columns({k: v.to_pylist() for k, v in columns.items()})
    arrays: dict[str, Any] = {
        "seq": columns["seq"].to_numpy().astype(np.int64),
        "reply_latency": pc.fill_null(
            columns["reply_latency"].cast(pa.float64()), float("nan")
        ).to_numpy(),
    }
    for name in text:
        # few distinct values (contacts, fates, systems): each made a string once
        encoded = pc.fill_null(columns[name], "").combine_chunks().dictionary_encode()
        distinct = np.array(encoded.dictionary.to_pylist(), dtype=np.str_)
        arrays[name] = distinct[encoded.indices.to_numpy(zero_copy_only=False)]
    return ArmOutcomes.from_columns(arrays)


def load_gate_input(run_dir: Path, run_ref: str) -> GateInput:
    """The verified run folder as a GateInput (exit 3 on any mismatch)."""
    run, paths = verify_run_folder(run_dir)
    outcomes, harm_frames = read_outcome_file(paths["outcomes"])
    return GateInput(
        run=run,
        divergences=read_divergences(paths["divergences"]),
        outcomes=outcomes,
        run_ref=run_ref,
        harm_frames=harm_frames,
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
        outcomes, harm_frames = read_outcome_file(paths["outcomes"])
        variants[folder] = GateInput(
            run={},
            divergences=read_divergences(paths["divergences"]),
            outcomes=outcomes,
            harm_frames=harm_frames,
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
