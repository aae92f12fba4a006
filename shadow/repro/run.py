"""``shadow repro`` as a library call: a run folder and a signature -> the smallest scenario
that still shows it, a pytest file and a bug report.

Guarantees:

1. Bad input stops before any work with ``UsageError`` (exit 3) and one line: an unknown
   signature, a pair the signature never occurred in, a pair that cannot be replayed from a
   scenario (``recorded``, ``legacy~N``). A signature that the run's own stream, replayed
   under the run's configuration with every message's world pinned, does not show raises
   ``NotReproduced`` (exit 3).
2. Deterministic: the same run folder, signature, pair and ``max_runs`` give byte-identical
   output files, whatever ``PYTHONHASHSEED`` or the machine.
3. The output is checked through the real ``shadow replay`` before it is written, and written
   whole or not at all (a temporary folder renamed into place).
4. Nothing written holds a capture value (case.py guarantee 1); the note keeps the run's seqs.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shadow.common import ShadowError, UsageError
from shadow.config import SCENARIO_DEFAULTS, load_config
from shadow.explain import open_run, rerun
from shadow.kernel import Kernel
from shadow.repro.case import Case, Item, Timed, scenario_mapping
from shadow.repro.oracle import Found, replay_scenario
from shadow.repro.outputs import Repro, render_report, render_test, scenario_text
from shadow.repro.reduce import Budget, Reducer, by_contact, by_message, simplify
from shadow.runfolder import verify_folder
from shadow.simulation import Codes
from shadow.world import Environment, text_token

#: Contacts tried alone before ddmin over every contact.
FIRST_CONTACTS = 10
UNSUPPORTED = ("recorded", "legacy~")


class NotReproduced(ShadowError):
    """The signature does not show when the run's stream is replayed as a scenario."""


class ReproMismatch(ShadowError):
    """The oracle and ``shadow replay`` disagree on the final scenario (exit 4: a harness bug)."""

    exit_code = 4


@dataclass(frozen=True, slots=True)
class ReproResult:
    """What ``shadow repro`` made and how far it shrank the stream."""

    out: Path
    signature: str
    pair: tuple[str, str]
    before: tuple[int, int]  # messages, contacts
    after: tuple[int, int]
    runs: int
    files: tuple[str, ...]


def repro_command(signature: str, pair: Sequence[str], run_dir: str = "RUN_DIR") -> str:
    """The ``shadow repro`` command of a signature in a pair."""
    return f"shadow repro {run_dir} {signature} --pair {','.join(pair)}"


def repro_commands(run_dir: Path, seqs: Sequence[int], limit: int = 3) -> list[str]:
    """``shadow repro`` commands for the signatures of ``seqs`` in a run (``explain``'s hint)."""
    path = run_dir / "divergences.jsonl"
    if not path.is_file():
        return []
    wanted = set(seqs)
    commands: list[str] = []
    with path.open(encoding="utf-8") as handle:
        for text in handle:
            line = json.loads(text)
            if line.get("seq") not in wanted:
                continue
            command = repro_command(
                str(line["signature"]), (line["baseline"], line["candidate"]), str(run_dir)
            )
            if command not in commands:
                commands.append(command)
            if len(commands) >= limit:
                break
    return commands


def check_arguments(out: Path | None, force: bool, max_runs: int, pair: str | None) -> None:
    """Guarantee 1's checks that need no input."""
    if max_runs < 1:
        raise UsageError(f"--max-runs {max_runs}: give at least 1")
    if pair is not None and len([p for p in pair.split(",") if p.strip()]) != 2:
        raise UsageError(f"--pair {pair!r}: give two arms, BASELINE,CANDIDATE")
    if out is not None and out.exists():
        if not force:
            raise UsageError(f"{out} exists; pass --force to replace it")
        if not out.is_dir() or (any(out.iterdir()) and not (out / "scenario.yaml").exists()):
            raise UsageError(
                f"{out} is not a repro folder (no scenario.yaml); refusing to replace it"
            )


def reproduce(
    run_dir: Path,
    signature: str,
    pair: str | None = None,
    out: Path | None = None,
    max_runs: int = 500,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> ReproResult:
    """Reduce the run's stream to the smallest scenario showing ``signature`` (guarantees)."""
    note = progress or (lambda _text: None)
    target = out or Path("build/shadow") / f"repro-{signature}"
    check_arguments(target, force, max_runs, pair)
    manifest, _ = verify_folder(run_dir, required=("stream", "outcomes", "signatures"))
    group = _signature_group(run_dir, signature)
    chosen = _pair(group, pair)
    case, first_contacts = _initial_case(run_dir, manifest, signature, chosen)
    before = (len(case.items), len(case.contacts))
    stages = [int(s) for s in manifest.get("stages", [])]
    flip_at = manifest.get("flip_at")
    with tempfile.TemporaryDirectory(prefix="shadow-repro-") as temp:
        work = Path(temp)
        name = f"repro-{signature}"
        describe = _description(group, chosen)

        def key(candidate: Case) -> str:
            return scenario_text(scenario_mapping(candidate, name, describe))

        def holds(candidate: Case, text: str) -> bool:
            path = work / "candidate.yaml"
            path.write_text(text, encoding="utf-8")
            shifted = _flip(flip_at, candidate)
            found = replay_scenario(path, chosen, stages, shifted)
            return any(f.signature == signature for f in found)

        budget = Budget(max_runs, note=note)
        reducer = Reducer(key, holds, budget)
        case = by_contact(case, reducer, first_contacts)
        if not reducer.test(case):
            if budget.spent:
                raise NotReproduced(
                    f"signature {signature} did not reproduce within --max-runs {max_runs}"
                )
            raise NotReproduced(
                f"signature {signature} does not reproduce when the run's stream is replayed "
                "under its configuration (was the run made by another harness version?)"
            )
        case = by_message(case, reducer)
        case = simplify(case, reducer)
        mapping = scenario_mapping(case, name, describe)
        repro = _verified(work, mapping, case, chosen, stages, _flip(flip_at, case), signature)
        texts = {
            "scenario.yaml": scenario_text(mapping),
            f"test_{name.replace('-', '_')}.py": render_test(repro),
            "report.md": render_report(repro, before, (len(case.items), len(case.contacts))),
        }
        _write_whole(target, texts)
    return ReproResult(
        target,
        signature,
        chosen,
        before,
        (len(case.items), len(case.contacts)),
        budget.used,
        tuple(texts),
    )


def _write_whole(target: Path, texts: dict[str, str]) -> None:
    """Write the files into a sibling folder, then rename it into place (guarantee 3)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        for file_name, text in texts.items():
            (staging / file_name).write_text(text, encoding="utf-8", newline="\n")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def _signature_group(run_dir: Path, signature: str) -> dict[str, Any]:
    groups = json.loads((run_dir / "signatures.json").read_text(encoding="utf-8"))
    for group in groups:
        if group["signature"] == signature:
            return dict(group)
    known = ", ".join(g["signature"] for g in groups[:5]) or "none"
    raise UsageError(
        f"unknown signature {signature!r} in {run_dir} (top signatures: {known}; "
        "see signatures.json)"
    )


def _pair(group: dict[str, Any], wanted: str | None) -> tuple[str, str]:
    pairs = {tuple(p.split(" vs ")): n for p, n in group["pairs"].items()}
    if wanted is not None:
        chosen = tuple(p.strip() for p in wanted.split(","))
        if chosen not in pairs:
            listed = ", ".join(",".join(p) for p in sorted(pairs))
            raise UsageError(
                f"--pair {wanted}: signature {group['signature']} is not in that pair "
                f"(it is in {listed})"
            )
    else:
        chosen = sorted(pairs, key=lambda p: (-pairs[p], p))[0]
    baseline, candidate = str(chosen[0]), str(chosen[1])
    for arm in (baseline, candidate):
        if arm.startswith(UNSUPPORTED):
            raise UsageError(
                f"pair {baseline},{candidate}: arm {arm} cannot be replayed from a scenario "
                "(recorded and legacy~N arms are not reproducible by shadow repro)"
            )
    return baseline, candidate


def _description(group: dict[str, Any], pair: tuple[str, str]) -> str:
    kinds = ", ".join(group["kinds"])
    causes = f"{group.get('baseline_cause') or '-'} vs {group.get('candidate_cause') or '-'}"
    return f"{kinds} in {pair[0]} vs {pair[1]} ({causes}): made by shadow repro"


def _flip(flip_at: int | None, case: Case) -> int | None:
    return None if flip_at is None else max(0, int(flip_at) - case.items[0].at)


def _divergent_seqs(run_dir: Path, signature: str, pair: tuple[str, str]) -> list[int]:
    seqs: list[int] = []
    with (run_dir / "divergences.jsonl").open(encoding="utf-8") as handle:
        for text in handle:
            if signature not in text:
                continue
            line = json.loads(text)
            if line["signature"] == signature and (line["baseline"], line["candidate"]) == pair:
                seqs.append(int(line["seq"]))
    return seqs


def _initial_case(
    run_dir: Path, manifest: dict[str, Any], signature: str, pair: tuple[str, str]
) -> tuple[Case, list[int]]:
    """Every message of the run with its world pinned; the contacts to try alone first."""
    run = open_run(run_dir)
    stream = run.stream
    environment = Environment(run.plan.settings.environment, stream.recorded_latency)
    kernel = Kernel()
    empty = text_token("")
    norm_values = stream.text_norm_hash.values.to_pylist()
    topic_values = stream.topic.values.to_pylist()
    replies: dict[str, int] = {}
    items: list[Item] = []
    norm_codes = stream.text_norm_hash.codes
    topic_codes = stream.topic.codes
    contents = stream.content_hash
    content_values = [] if contents is None else contents.values.to_pylist()
    for message in stream.messages():
        seq = message.seq
        call = environment.agent_call(kernel, [message])
        norm_code = int(norm_codes[seq])
        topic_code = int(topic_codes[seq])
        empty_norm = norm_code < 0 or norm_values[norm_code] in (None, "", empty)  # "": class
        no_topic = topic_code < 0 or not topic_values[topic_code]
        items.append(
            Item(
                seq=seq,
                at=int(message.received_at),
                contact=int(stream.contact_id.codes[seq]),
                message=int(stream.message_id.codes[seq]),
                norm=-1 if empty_norm else norm_code,
                exact=int(stream.text_hash.codes[seq]),
                type=message.type or "text",
                topic=-1 if no_topic else topic_code,
                repeat_kind=message.repeat_kind or "",
                latency=call.latency,
                outcome=call.outcome,
                reply=replies.setdefault(call.reply, len(replies)),
                content=_content_class(contents, content_values, seq),
            )
        )
    config = load_config(None, [], manifest["config"], scenario_source="run.json")
    defaults = load_config(None, []).flat()
    flat = {k: v for k, v in config.flat().items() if defaults.get(k) != v}
    # a scenario's users default differs from a capture's (SCENARIO_DEFAULTS): always pinned
    for key in SCENARIO_DEFAULTS:
        flat[f"environment.{key}"] = config.flat()[f"environment.{key}"]
    flat.pop("environment.restarts", None)
    flat.pop("environment.sender.outages", None)
    settings = config.environment_settings()
    timed = [Timed("restart", r.at, r.at + r.downtime) for r in settings.restarts]
    timed += [Timed("outage", o.start, o.end, o.failure_rate) for o in settings.sender.outages]
    stages = [int(s) for s in manifest.get("stages", [])]
    namer = _cohort_namer(run_dir, config, stages, stream) if stages else None
    case = Case(tuple(items), flat, tuple(timed), namer)
    contact_codes = stream.contact_id.codes
    seqs = _divergent_seqs(run_dir, signature, pair)
    first = list(dict.fromkeys(int(contact_codes[s]) for s in seqs))[:FIRST_CONTACTS]
    return case, first


def _cohort_namer(
    run_dir: Path, config: Any, stages: Sequence[int], stream: Any
) -> Callable[[Sequence[int]], list[int]]:
    """Pool numbers whose rollout entry stage is each kept contact's (rollout pairs)."""
    import pyarrow.parquet as pq

    from shadow.replay import cohorts_for
    from shadow.streams import pool_contact

    buckets = pq.read_table(run_dir / "stream.parquet", columns=["bucket"]).column(0).to_pylist()
    entry_of_code: dict[int, int] = {}
    for seq, code in enumerate(stream.contact_id.codes.tolist()):
        entry_of_code.setdefault(int(code), int(buckets[seq] if buckets[seq] is not None else 101))
    cohorts = cohorts_for(config, stages)

    def names(contacts: Sequence[int]) -> list[int]:
        numbers: list[int] = []
        for contact in contacts:
            wanted = entry_of_code.get(contact, 101)
            number = next(
                (
                    n
                    for n in range(1, 100_000)
                    if n not in numbers and cohorts.entry_stage(pool_contact(n - 1)) == wanted
                ),
                len(numbers) + 1,
            )
            numbers.append(number)
        return numbers

    return names


def _verified(
    work: Path,
    mapping: dict[str, Any],
    case: Case,
    pair: tuple[str, str],
    stages: Sequence[int],
    flip_at: int | None,
    signature: str,
) -> Repro:
    """Replay the final scenario with ``shadow replay`` itself, and re-run it for timelines."""
    from shadow.replay import ReplayOptions, replay

    path = work / "scenario.yaml"
    path.write_text(scenario_text(mapping), encoding="utf-8")
    folder = work / "run"
    replay(
        ReplayOptions(
            inputs=[f"scenario:{path}"],
            arms=list(pair),
            stages=list(stages),
            flip_at=flip_at,
            out=folder,
            reports=False,
            workers=1,
        )
    )
    found: list[Found] = []
    with (folder / "divergences.jsonl").open(encoding="utf-8") as handle:
        for text in handle:
            line = json.loads(text)
            if (line["baseline"], line["candidate"]) == pair:
                found.append(
                    Found(
                        int(line["seq"]), line["signature"], tuple(line["kinds"]), line["severity"]
                    )
                )
    if not any(f.signature == signature for f in found):
        raise ReproMismatch(
            f"shadow replay does not show signature {signature} on the reduced scenario, though "
            "the reducer's replay did: the two replays differ (a harness bug)"
        )
    run = open_run(folder)
    timelines = rerun(run, list(range(len(run.stream))), list(pair), workers=1)
    causes = {
        (int(row["seq"]), timeline.arm): row for timeline in timelines for row in timeline.outcomes
    }
    return Repro(
        signature=signature,
        pair=pair,
        stages=tuple(stages),
        flip_at=flip_at,
        mapping=mapping,
        seqs=tuple(item.seq for item in case.items),
        found=tuple(found),
        timelines=tuple(timelines),
        outcomes=causes,
    )


def _content_class(contents: Codes | None, values: list[str | None], seq: int) -> int:
    """The seq's content class code (stream.parquet's ``content_hash``); -1 when none."""
    if contents is None:
        return -1
    code = int(contents.codes[seq])
    return code if code >= 0 and values[code] else -1
