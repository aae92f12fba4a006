"""A replay's inputs: the parsed options, the read captures or generated scenario, the
effective configuration, cohorts and comparison settings derived from them."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from shadow.common import UsageError
from shadow.compare import CompareSettings
from shadow.config import EffectiveConfig, load_config
from shadow.prepare import Cohorts
from shadow.runfolder import sha256_file
from shadow.streams import LineMemo

NOTHING_TO_REPLAY = "the capture holds no inbound message to replay"


@dataclass
class ReplayOptions:
    """Everything ``shadow replay`` accepts (docs/reference.md), already parsed."""

    inputs: list[str]
    format: str = "auto"
    config_file: Path | None = None
    sets: list[str] = field(default_factory=list)
    seed: int | None = None
    arms: list[str] | None = None
    stages: list[int] = field(default_factory=list)
    flag: str | None = None
    provider: str | None = None
    flip_at: int | None = None
    out: Path | None = None
    force: bool = False
    workers: int | None = None
    on_error: Literal["fail", "skip"] = "fail"
    strict: bool = False
    keep_raw: bool = False
    reports: bool = True
    chunk: int | None = None  # records per chunk of the streaming replay (None: the default)
    id_retention: int | None = None  # µs a message id is kept for redelivery detection


@dataclass
class LoadedInputs:
    """The normalized capture and what ``run.json`` says about each input."""

    inbound: Iterable[Any]  # read once
    outbound: list[Any]
    rejected: list[Any]
    inputs: list[dict[str, Any]]
    accounting: dict[str, Any]
    warnings: list[str]
    scenario_env: dict[str, Any] | None
    stem: str
    #: some inbound record has a content key: ``stream.parquet`` has ``content_hash`` (a
    #: stream written a chunk at a time must know it before its first chunk)
    contents: bool = False


def load_inputs(options: ReplayOptions, memo: LineMemo | None = None) -> LoadedInputs:
    """Read captures, or generate ``scenario:NAME`` on the fly (with its environment).

    The events ``capture.*`` delivers join the inbound records; ``accounting`` then says how
    many of each kind under ``delivered`` (docs/capture.md). ``memo``: the lines read before
    (``shadow watch``), parsed only where the capture grew.
    """
    import dataclasses

    import yaml

    from shadow.streams import ReadOptions, generate_to_file, read_captures

    scenario_env: dict[str, Any] | None = None
    paths: list[Path] = []
    described: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="shadow-scenario-") as temp:
        for item in options.inputs:
            if item.startswith("scenario:"):
                name = item.split(":", 1)[1]
                seed = options.seed if options.seed is not None else 1
                path = Path(temp) / f"{name}.jsonl"
                _, env_path = generate_to_file(name, path, seed)
                described.append({"scenario": name, "seed": seed})
            else:
                path = Path(item)
                if not path.is_file():
                    raise UsageError(f"{item}: no such capture file")
                env_path = path.with_name(path.name + ".env.yaml")
                described.append({"path": _display_path(path)})
            if env_path.exists():
                scenario_env = yaml.safe_load(env_path.read_text(encoding="utf-8")) or {}
            paths.append(path)
        deliver = effective_config(options, scenario_env).capture.delivered()
        read = ReadOptions.from_environment(
            strict=options.strict, deliver=deliver, keep_raw=options.keep_raw, memo=memo
        )
        capture = read_captures(paths, options.format, options.on_error, options=read)
        labels: dict[str, str] = {}
        for entry, path, counts in zip(described, paths, capture.accounting.files, strict=True):
            entry["sha256"] = sha256_file(path)
            entry.update(format=counts.format, **counts.document())
            labels[counts.file] = entry.get("path") or f"scenario:{entry.get('scenario')}"
    rejected = [dataclasses.replace(r, file=labels.get(r.file, r.file)) for r in capture.rejected]
    warnings = list(capture.warnings)
    for label, shown in labels.items():
        warnings = [w.replace(label, shown) for w in warnings]
    stem = input_stem(options.inputs)
    accounting = capture.accounting.as_json()
    if capture.delivered:
        accounting["delivered"] = dict(sorted(capture.delivered.items()))
    return LoadedInputs(
        inbound=list(capture.inbound),
        outbound=list(capture.outbound),
        rejected=rejected,
        inputs=described,
        accounting=accounting,
        warnings=warnings,
        scenario_env=scenario_env,
        stem=stem,
        contents=any(record.content_key for record in capture.inbound),
    )


def _display_path(path: Path) -> str:
    """Relative to the working directory when inside it, else the file name (no abs paths)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return path.name


def effective_config(
    options: ReplayOptions, scenario_env: dict[str, Any] | None, extra: Sequence[str] = ()
) -> EffectiveConfig:
    """Defaults, scenario, ``--config``, ``--set``, then the command's own options; an error
    names the option it came from (``--provider``, not ``--set``). ``extra`` ``--set`` texts
    come after ``--set`` (a reading's alternative)."""
    own: list[tuple[str, str]] = []
    if options.seed is not None:
        own.append(("--seed", f"environment.seed={options.seed}"))
    if options.flag:
        own.append(("--flag", f"rollout.flag={options.flag}"))
    if options.provider:
        own.append(("--provider", f"rollout.provider={options.provider}"))
    return load_config(options.config_file, [*options.sets, *extra], scenario_env, options=own)


def check_options(options: ReplayOptions, default_out: Path) -> None:
    """Every option, ``--set`` and config file checked before any capture line is read: a
    mistake costs nothing however large the capture."""
    from shadow.prepare import resolve_arms
    from shadow.runfolder import check_target

    if options.workers is not None and options.workers < 1:
        raise UsageError(f"--workers: must be at least 1 (got {options.workers})")
    if options.flip_at is not None and not options.stages:
        raise UsageError("--flip-at: needs --stage (the flip turns a rollout stage on)")
    for item in options.inputs:
        if not item.startswith("scenario:") and not Path(item).is_file():
            raise UsageError(f"{item}: no such capture file")
    effective_config(options, None)
    resolve_arms(options.arms, sorted(set(options.stages)), has_outbound=True)
    check_target(options.out or default_out, options.force)


def input_stem(inputs: Sequence[str]) -> str:
    """The run folder's default name: the first capture's stem or the scenario's name."""
    first = inputs[0]
    return first.split(":", 1)[1] if first.startswith("scenario:") else Path(first).stem


def cohorts_for(config: EffectiveConfig, stages: Sequence[int]) -> Cohorts:
    """Stage membership by the production flag's own bucketing (docs/gate.md).

    The stream's ``bucket`` column stores each contact's *entry stage* (``rollout.entry_stage``):
    membership of stage P is ``entry <= P`` whatever the provider's native bucket unit.
    """
    from shadow.rollout import RolloutSettings, bucket, entry_stage, fingerprint

    r = config.rollout
    settings = RolloutSettings(
        provider=r.provider,
        flag=r.flag,
        group_id=r.group_id,
        salt=r.salt,
        stickiness=r.stickiness,
        algorithm=r.algorithm,
    )
    entries: dict[str, int] = {}

    def entry_of(contact_id: str) -> int:
        known = entries.get(contact_id)
        if known is None:
            known = entries[contact_id] = entry_stage(bucket(contact_id, settings), settings)
        return known

    return Cohorts(tuple(stages), entry_of, dict(fingerprint(settings)))


def compare_settings(config: EffectiveConfig) -> CompareSettings:
    c = config.compare
    return CompareSettings(
        latency_abs=c.latency_abs / 1_000_000,
        latency_rel=c.latency_rel,
        repeat_horizon=c.repeat_horizon,
        severity=c.severity or None,
    )
