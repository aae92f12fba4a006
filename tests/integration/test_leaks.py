"""The leak test: no capture value in anything the tool writes or prints, no secret ever.

Captures in every format, seeded with canaries (tests/canary_captures.py), go through every
command that reads them or what they became (``validate``, ``replay`` with stages and
``--on-error skip``, ``gate``, ``report``, ``explain``, ``redact``, ``sweep``, ``generate``), each
in a real subprocess with its exit status asserted (a command that stops early proves nothing).
Then every file written and every byte printed is searched for every canary in every form
(tests/leak_scanner.py). A positive control shows the search works: with ``--keep-raw`` the
canary texts are found in the run folder, the secrets still never.
"""

from __future__ import annotations

import base64
import json
import subprocess
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, quote_plus

import pandas as pd
import pytest
from canary_captures import (
    CPF,
    NAME_A,
    REDACT_KEY,
    SECRET_ENV,
    TEXT_A,
    TEXT_B,
    TEXT_BUTTON,
    TEXT_CAPTION,
    TEXT_CONTINUATION,
    TEXT_REPLY,
    Canary,
    CaptureSet,
    write_captures,
)
from cli_support import run_shadow
from leak_scanner import Hit, Needles, scan_paths, scan_text


@dataclass
class Session:
    """Every command run, and where each wrote."""

    root: Path
    env: dict[str, str]
    printed: list[tuple[str, str]] = field(default_factory=list)

    def run(
        self, expected: int | set[int], *args: str, key: bool = False
    ) -> subprocess.CompletedProcess[str]:
        env = {**self.env, "SHADOW_REDACT_KEY": REDACT_KEY} if key else self.env
        result = run_shadow(*args, env=env, cwd=self.root)
        label = " ".join(args[:2])
        self.printed.append((f"{label} (stdout)", result.stdout))
        self.printed.append((f"{label} (stderr)", result.stderr))
        allowed = expected if isinstance(expected, set) else {expected}
        assert result.returncode in allowed, (label, result.returncode, result.stderr[-2000:])
        assert "Traceback" not in result.stderr
        return result

    def hits(self, needles: Needles) -> list[Hit]:
        """Every canary in every byte printed and every file written (under ``root``)."""
        found = [h for where, text in self.printed for h in scan_text(where, text, needles)]
        return found + scan_paths([self.root], needles)


def _run_folder_commands(session: Session, caps: CaptureSet) -> Path:
    """replay (stages, --on-error skip), gate, report, explain: the run folder and its readers."""
    root = session.root
    files = [str(path) for path in caps.files.values()]
    run = root / "run"
    session.run(
        0, "replay", *files, "--on-error", "skip", "--stage", "10", "--stage", "50",
        "--set", "capture.edit=deliver", "--set", "capture.revoke=deliver",
        "--out", str(run), "--workers", "2",
    )  # fmt: skip
    stored = (run / "rejected.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(stored) == sum(caps.rejected.values())
    manifest = json.loads((run / "run.json").read_text(encoding="utf-8"))
    assert manifest["accounting"]["delivered"] == {"edit": 2, "revoke": 1}
    session.run(
        {0, 1, 2}, "gate", str(run), "--stage", "10",
        "--junit", str(root / "gate.xml"), "--summary", str(root / "gate.md"),
    )  # fmt: skip
    assert (run / "gate-10.json").is_file()
    session.run(0, "report", str(run))
    session.run(0, "explain", str(run), "--seq", "0")
    contact = str(pd.read_parquet(run / "stream.parquet")["contact_id"].iloc[0])
    session.run(0, "explain", str(run), "--contact", contact)
    return run


def _every_command(session: Session, caps: CaptureSet, clean: CaptureSet) -> None:
    root = session.root
    files = [str(path) for path in caps.files.values()]
    session.run(1, "validate", *files)
    session.run(1, "validate", *files, "--all")
    document = json.loads(session.run(1, "validate", *files, "--json").stdout)
    assert len(document["rejected"]) == sum(caps.rejected.values())
    for path in caps.files.values():  # each format's first bad line, stopped on
        session.run(3, "validate", str(path), "--on-error", "fail")
    session.run(3, "replay", *files, "--out", str(root / "stopped"))
    _run_folder_commands(session, caps)
    redacted = root / "redacted"
    redacted.mkdir()
    for fmt, path in clean.files.items():
        session.run(0, "redact", str(path), "-o", str(redacted / f"{fmt}.jsonl"), key=True)
    session.run(3, "redact", str(caps.files["cloud"]), "-o", str(root / "no.jsonl"), key=True)
    session.run(0, "replay", *map(str, sorted(redacted.iterdir())), "--out", str(root / "rr"))
    sweep = ["--vary", "unified.duplicate_window=3s,10s", "--seeds", "1", "--workers", "1"]
    session.run(0, "sweep", str(clean.files["cloud"]), *sweep, "--out", str(root / "sweep"))
    session.run(3, "sweep", str(caps.files["cloud"]), *sweep, "--out", str(root / "sweep-bad"))
    session.run(0, "generate", "conflict-2-oi", "-o", str(root / "generated.jsonl"))


def test_nothing_written_or_printed_holds_a_capture_value(tmp_path: Path) -> None:
    caps = write_captures(tmp_path / "captures")
    clean = write_captures(tmp_path / "clean", malformed=False)
    session = Session(tmp_path / "work", dict(SECRET_ENV))
    session.root.mkdir()
    _every_command(session, caps, clean)
    hits = session.hits(Needles.of(caps.canaries))
    assert not hits, "\n".join(map(str, hits[:40]))


def test_with_the_redaction_key_nothing_leaks_either(tmp_path: Path) -> None:
    caps = write_captures(tmp_path / "captures")
    session = Session(tmp_path / "work", {**SECRET_ENV, "SHADOW_REDACT_KEY": REDACT_KEY})
    session.root.mkdir()
    run = _run_folder_commands(session, caps)
    stored = json.loads((run / "rejected.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert "hmac_sha256" in stored and "sha256" not in stored
    hits = session.hits(Needles.of(caps.canaries))
    assert not hits, "\n".join(map(str, hits[:40]))


def test_with_keep_raw_texts_are_found_and_secrets_never(tmp_path: Path) -> None:
    caps = write_captures(tmp_path / "captures")
    session = Session(tmp_path / "work", dict(SECRET_ENV))
    session.root.mkdir()
    files = [str(path) for path in caps.files.values()]
    run = session.root / "raw"
    session.run(0, "replay", *files, "--on-error", "skip", "--keep-raw", "--out", str(run))
    session.run(0, "report", str(run), "--show-text")
    hits = session.hits(Needles.of(caps.canaries))
    found = {hit.canary for hit in hits}
    for text in (TEXT_A, TEXT_B, TEXT_CAPTION, TEXT_BUTTON, TEXT_REPLY, TEXT_CONTINUATION):
        name = next(c.name for c in caps.canaries if c.value == text)
        assert name in found, f"the scanner did not find {name} in a --keep-raw run"
    secret = {canary.name for canary in caps.canaries if canary.secret}
    secrets = [hit for hit in hits if hit.canary in secret]
    assert not secrets, "\n".join(map(str, secrets[:40]))
    raw = [json.loads(x) for x in (run / "rejected.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(raw) == sum(caps.rejected.values()) and all("raw" in line for line in raw)
    assert any("<secret>" in line["raw"] for line in raw)


def test_the_scanner_finds_every_canary_in_the_captures(tmp_path: Path) -> None:
    caps = write_captures(tmp_path / "captures")
    needles = Needles.of(caps.canaries)
    found = {hit.canary for hit in scan_paths([tmp_path / "captures"], needles)}
    given = {"app secret", "twilio token", "redact key"}  # in the environment, not the captures
    assert [c.name for c in caps.canaries if c.name not in found | given] == []
    assert {c.value for c in caps.canaries if c.name in given} == {
        *SECRET_ENV.values(),
        REDACT_KEY,
    }


_NAME = Canary("name", NAME_A, "name", ("Quintanilha",))
_TEXT = Canary("text", TEXT_A, "text", ("Xilografúndio",))
_CPF = Canary("cpf", CPF, "id")


@pytest.mark.parametrize(
    ("canary", "shown"),
    [
        (_NAME, NAME_A.upper()),
        (_NAME, NAME_A.lower()),
        (_NAME, json.dumps(NAME_A)),  # Ara\u00fajo
        (_NAME, quote(NAME_A)),
        (_NAME, quote_plus(NAME_A)),
        (_NAME, unicodedata.normalize("NFD", NAME_A)),
        (_NAME, NAME_A.encode("ascii", "xmlcharrefreplace").decode()),
        (_NAME, "x" + base64.b64encode(b"ab" + NAME_A.encode() + b"cd").decode()),
        (_NAME, base64.urlsafe_b64encode(b"a" + NAME_A.encode()).decode()),
        (_TEXT, TEXT_A[:11] + "..."),  # cut short
        (_TEXT, "xilografúndio:   OI, quero trocar o tênis tamanho 42"),
        (_CPF, "52998224725"),  # digits only
        (_CPF, base64.b64encode(b"\x12\x0b52998224725").decode()),
    ],
)
def test_the_scanner_finds_each_form(canary: Canary, shown: str) -> None:
    assert scan_text("t", f"before {shown} after", Needles.of([canary])), shown


def test_redacted_captures_replay_to_the_same_fates_and_divergences(tmp_path: Path) -> None:
    clean = write_captures(tmp_path / "clean", malformed=False)
    session = Session(tmp_path / "work", {**SECRET_ENV, "SHADOW_REDACT_KEY": REDACT_KEY})
    session.root.mkdir()
    redacted = []
    for fmt, path in clean.files.items():
        target = session.root / f"{fmt}.redacted.jsonl"
        result = session.run(0, "redact", str(path), "-o", str(target))
        assert "signature headers dropped" in result.stderr
        redacted.append(str(target))
    session.run(0, "replay", *map(str, clean.files.values()), "--out", str(tmp_path / "a"))
    session.run(0, "replay", *redacted, "--out", str(tmp_path / "b"))
    columns = ["arm", "seq", "fate", "rule", "cause", "processing_count", "reply_count"]
    a = pd.read_parquet(tmp_path / "a" / "outcomes.parquet")[columns]
    b = pd.read_parquet(tmp_path / "b" / "outcomes.parquet")[columns]
    pd.testing.assert_frame_equal(a, b)
    a_lines = (tmp_path / "a" / "divergences.jsonl").read_text(encoding="utf-8")
    b_lines = (tmp_path / "b" / "divergences.jsonl").read_text(encoding="utf-8")
    assert [json.loads(x)["kinds"] for x in a_lines.splitlines()] == [
        json.loads(x)["kinds"] for x in b_lines.splitlines()
    ]


@pytest.mark.parametrize("key", [None, REDACT_KEY], ids=["dense", "keyed"])
def test_run_files_are_byte_identical_whatever_the_workers_and_hash_seed(
    tmp_path: Path, key: str | None
) -> None:
    caps = write_captures(tmp_path / "captures")
    files = [str(path) for path in caps.files.values()]
    folders = []
    for workers, seed in (("1", "1"), ("2", "2")):
        env = {**SECRET_ENV, "PYTHONHASHSEED": seed, **({"SHADOW_REDACT_KEY": key} if key else {})}
        where = tmp_path / f"workers-{workers}"  # report.md names the folder as given
        where.mkdir()
        out = where / "run"
        result = run_shadow(
            "replay", *files, "--on-error", "skip", "--stage", "10", "--workers", workers,
            "--out", "run", env=env, cwd=where,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        folders.append(out)
    names = sorted(
        str(p.relative_to(folders[0]))
        for p in folders[0].rglob("*")
        if p.is_file() and p.name != "timing.json"
    )  # the readings' folders too
    assert "rejected.jsonl" in names and "stream.parquet" in names
    for name in names:
        assert (folders[0] / name).read_bytes() == (folders[1] / name).read_bytes(), name
    classes = pd.read_parquet(folders[0] / "stream.parquet")["text_hash"]
    assert classes.str.fullmatch(r"(t[0-9a-f]{16})?" if key else r"(t\d{7})?").all()
    assert (classes == "").any() and (classes != "").any()  # the empty text's class is empty
