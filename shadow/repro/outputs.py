"""What ``shadow repro`` writes: the scenario YAML, a pytest file replaying it, and a Markdown
bug report with both timelines.

Guarantees:

1. Each text is a function of the verified repro alone (no paths, clock or environment), so
   two runs write the same bytes.
2. The pytest file needs only the installed harness and the scenario beside it; it replays
   the scenario with ``shadow.replay`` and asserts the divergences with the signature (seq,
   kinds, severity) and every message's fate in both arms.
3. Nothing holds a capture value: the scenario's placeholders, the repro's own seqs, and the
   run's seqs only in the report's note on where the messages came from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from shadow.explain import Timeline, describe_event
from shadow.repro.oracle import Found

OUTCOME_FIELDS = ("fate", "rule", "cause", "processing_count", "reply_count", "reply_latency")


@dataclass(frozen=True, slots=True)
class Repro:
    """The final scenario, replayed through ``shadow replay`` and re-run for its timelines."""

    signature: str
    pair: tuple[str, str]
    stages: tuple[int, ...]
    flip_at: int | None
    mapping: Mapping[str, Any]
    seqs: tuple[int, ...]  # the kept messages' seqs in the original run
    found: tuple[Found, ...]  # every divergence of the pair in the repro
    timelines: tuple[Timeline, ...]
    outcomes: Mapping[tuple[int, str], Mapping[str, Any]]  # (repro seq, arm) -> outcome row

    @property
    def name(self) -> str:
        return str(self.mapping["name"])

    @property
    def matching(self) -> list[Found]:
        return [f for f in self.found if f.signature == self.signature]

    def fates(self, arm: str) -> list[str]:
        return [str(self.outcomes[(seq, arm)]["fate"]) for seq in range(len(self.seqs))]


def scenario_text(mapping: Mapping[str, Any]) -> str:
    """The scenario as YAML: keys in the format's order, each message on one line."""
    header = (
        f"# {mapping['description']}\n"
        "# No capture data: placeholder texts keep every equality the divergence needs,\n"
        "# contacts are renamed, times count from the first message, and each message's agent\n"
        "# call is pinned under environment.agent.script.\n"
    )
    body = yaml.safe_dump(
        dict(mapping), sort_keys=False, allow_unicode=True, default_flow_style=None, width=100
    )
    return header + body


def replay_command(repro: Repro, out: str = "build/shadow/" + "{name}") -> str:
    arms = ",".join(repro.pair)
    extra = "".join(f" --stage {s}" for s in repro.stages)
    if repro.flip_at is not None:
        extra += f" --flip-at {repro.flip_at // 1000}ms"
    target = out.format(name=repro.name)
    return f"shadow replay scenario:scenario.yaml --arms {arms}{extra} --out {target}"


def render_test(repro: Repro) -> str:
    """The pytest file (guarantee 2)."""
    expected = [(f.seq, list(f.kinds), f.severity) for f in repro.matching]
    fates = {arm: repro.fates(arm) for arm in repro.pair}
    lines = [
        f'"""Regression test made by `shadow repro`: divergence {repro.signature} '
        f"({repro.pair[0]} vs {repro.pair[1]}).",
        "",
        "Replays scenario.yaml (beside this file) through the harness and checks the divergence",
        'and every message\'s fate in both arms. Run: pytest -p no:cacheprovider THIS_FILE."""',
        "",
        "import json",
        "from pathlib import Path",
        "",
        "import pyarrow.parquet as pq",
        "",
        "from shadow.replay import ReplayOptions, replay",
        "",
        'SCENARIO = Path(__file__).with_name("scenario.yaml")',
        f"PAIR = {list(repro.pair)!r}",
        f"STAGES = {list(repro.stages)!r}",
        f"FLIP_AT = {repro.flip_at!r}",
        f"SIGNATURE = {repro.signature!r}",
        "# (seq, kinds, severity) of each divergence with the signature",
        f"EXPECTED = {expected!r}",
        "# each message's fate, by seq, in each arm",
        f"FATES = {fates!r}",
        "",
        "",
        "def test_the_divergence_reproduces(tmp_path: Path) -> None:",
        '    out = tmp_path / "run"',
        "    options = ReplayOptions(",
        '        inputs=[f"scenario:{SCENARIO}"],',
        "        arms=PAIR,",
        "        stages=STAGES,",
        "        flip_at=FLIP_AT,",
        "        out=out,",
        "        reports=False,",
        "        workers=1,",
        "    )",
        "    replay(options)",
        '    text = (out / "divergences.jsonl").read_text(encoding="utf-8")',
        "    lines = [json.loads(line) for line in text.splitlines()]",
        "    found = [",
        '        (line["seq"], line["kinds"], line["severity"])',
        "        for line in lines",
        '        if line["signature"] == SIGNATURE',
        '        and [line["baseline"], line["candidate"]] == PAIR',
        "    ]",
        "    assert found == [tuple(e) for e in EXPECTED]",
        '    outcomes = pq.read_table(out / "outcomes.parquet").to_pylist()',
        "    for arm, fates in FATES.items():",
        '        rows = sorted((r["seq"], r["fate"]) for r in outcomes if r["arm"] == arm)',
        "        assert [fate for _, fate in rows] == fates, arm",
        "",
    ]
    return "\n".join(lines)


def _cell(value: object) -> str:
    text = "-" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


def _count(size: tuple[int, int]) -> str:
    messages, contacts = size
    plural = "s" if contacts != 1 else ""
    return f"{messages} message{'s' if messages != 1 else ''} ({contacts} contact{plural})"


def render_report(repro: Repro, before: tuple[int, int], after: tuple[int, int]) -> str:
    """The Markdown bug report, ready to paste into an issue."""
    baseline, candidate = repro.pair
    matching = repro.matching
    first = matching[0]
    base_row = repro.outcomes[(first.seq, baseline)]
    cand_row = repro.outcomes[(first.seq, candidate)]
    mapping = repro.mapping
    messages = mapping["traffic"][0]["messages"]
    environment = mapping["environment"]
    script = environment.get("environment", environment)["agent"]["script"]
    lines = [
        f"# {', '.join(first.kinds)}: {candidate} {cand_row['fate']} where {baseline} "
        f"{base_row['fate']}",
        "",
        f"Divergence signature `{repro.signature}` ({first.severity}), pair {baseline} vs "
        f"{candidate}: {baseline} decides by `{base_row['rule'] or '-'}` (cause "
        f"`{base_row['cause'] or '-'}`), {candidate} by `{cand_row['rule'] or '-'}` (cause "
        f"`{cand_row['cause'] or '-'}`).",
        "",
        f"Made by `shadow repro` from a run of {_count(before)}: {_count(after)} still show "
        "it. Texts are placeholders that "
        "keep the equalities that matter, contacts are renamed, times count from the first "
        "message. Each message's agent call (latency, outcome, reply) is pinned as in the run, "
        "simplified where the divergence does not depend on it (latencies rounded, errors made "
        "ok); send attempts are drawn under the run's seed.",
        "",
        "## The messages",
        "",
    ]
    rows: list[tuple[object, ...]] = []
    for seq, message in enumerate(messages):
        pin = script[message["id"]]
        agent = pin["outcome"] + (f" after {pin['latency']}" if "latency" in pin else "")
        rows.append(
            (
                seq,
                message["at"],
                f"contact {message['contact']}",
                message["id"],
                f'"{message["text"]}"',
                _type_cell(message),
                message["topic"],
                message.get("repeat_kind", ""),
                f"{agent}, {pin['reply']}",
            )
        )
    header = ("seq", "at", "contact", "id", "text", "type", "topic", "repeat", "agent call")
    lines += _table(header, rows)
    lines += ["", "## What each arm did", ""]
    rows = []
    for seq in range(len(messages)):
        for arm in repro.pair:
            row = repro.outcomes[(seq, arm)]
            rows.append((seq, arm, *(row[f] for f in OUTCOME_FIELDS)))
    lines += _table(("seq", "arm", *OUTCOME_FIELDS), rows)
    lines += ["", "Divergences of the pair:", ""]
    lines += _table(
        ("seq", "kinds", "severity", "signature"),
        [(f.seq, ", ".join(f.kinds), f.severity, f.signature) for f in repro.found],
    )
    lines += [
        "",
        "## Timelines",
        "",
        "Decision events as `shadow explain` shows them (virtual time from the first message):",
        "",
    ]
    merged = sorted(
        {(e.at, i, j) for i, t in enumerate(repro.timelines) for j, e in enumerate(t.events)}
    )
    rows = []
    for at, index, position in merged:
        cells: list[object] = [""] * len(repro.timelines)
        cells[index] = describe_event(repro.timelines[index].events[position])
        rows.append((f"{at / 1e6:.3f}s", *cells))
    lines += _table(("time", *(t.arm for t in repro.timelines)), rows)
    lines += [
        "",
        "## Configuration",
        "",
        "The keys that differ from the defaults, and the pinned agent calls:",
        "",
        "```yaml",
        yaml.safe_dump(
            dict(environment), sort_keys=False, allow_unicode=True, default_flow_style=None
        ).rstrip(),
        "```",
        "",
        "## Reproduce",
        "",
        "With scenario.yaml and the test file from this folder:",
        "",
        "```sh",
        replay_command(repro),
        f"shadow explain build/shadow/{repro.name} --seq {first.seq} --arms {','.join(repro.pair)}",
        f"pytest -p no:cacheprovider test_{repro.name.replace('-', '_')}.py",
        "```",
        "",
        "Where it came from: the run's seqs " + ", ".join(str(s) for s in repro.seqs) + ".",
        "",
    ]
    return "\n".join(lines)


def _type_cell(message: dict[str, Any]) -> str:
    """The message's type, with its content class (``c1``...) when it has one."""
    kind = str(message.get("type", "text"))
    return f"{kind} ({message['content']})" if message.get("content") else kind
