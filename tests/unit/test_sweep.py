"""``shadow sweep`` as a library: parsing, ranking, determinism across worker counts."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shadow.common.errors import UsageError
from shadow.sweep.run import FILES, run_sweep, validate_vary
from shadow.sweep.spec import (
    DEFAULT_OBJECTIVE,
    ROW_METRICS,
    parse_objective,
    parse_vary,
    split_values,
)

WINDOW = "unified.duplicate_window"
SMALL = [(WINDOW, ["3s", "5s"])]  # conflict-2-oi: the second "Oi" comes 4 s after the first


# --- --vary ------------------------------------------------------------------------------


def test_parse_vary_splits_values_in_order() -> None:
    assert parse_vary("unified.duplicate_window=3s,5s,10s") == (WINDOW, ["3s", "5s", "10s"])


def test_parse_vary_keeps_a_flow_mapping_whole() -> None:
    key, values = parse_vary("environment.agent.latency={median: 2s, p95: 5s},3s")
    assert key == "environment.agent.latency"
    assert values == ["{median: 2s, p95: 5s}", "3s"]
    assert split_values("[1s, 2s],'a,b'") == ["[1s, 2s]", "'a,b'"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("unified.duplicate_window=", "no values"),
        ("unified.duplicate_window", "expected KEY=V1,V2"),
        ("=3s", "expected KEY=V1,V2"),
        ("unified.duplicate_window=3s,,5s", "empty value"),
        ("unified.duplicate_window=3s,3s", "given twice"),
    ],
)
def test_parse_vary_rejects_malformed_text(text: str, reason: str) -> None:
    with pytest.raises(UsageError, match=reason):
        parse_vary(text)


def test_validate_vary_names_the_bad_key_and_value() -> None:
    with pytest.raises(UsageError, match=r"unified\.duplicat_window"):
        validate_vary([("unified.duplicat_window", ["3s"])], [], {})
    with pytest.raises(UsageError, match="is not a duration"):
        validate_vary([(WINDOW, ["3s", "soon"])], [], {})
    with pytest.raises(UsageError, match="--seeds"):
        validate_vary([("environment.seed", ["1", "2"])], [], {})
    with pytest.raises(UsageError, match="given twice"):
        validate_vary([(WINDOW, ["3s"]), (WINDOW, ["5s"])], [], {})
    validate_vary([(WINDOW, ["3s", "30s"]), ("unified.response_window", ["10s"])], [], {})


# --- objectives --------------------------------------------------------------------------


def test_default_objective_is_fewest_regressions_then_fewest_duplicates() -> None:
    objective = parse_objective(None)
    assert objective.text == DEFAULT_OBJECTIVE
    assert objective.terms == (("min", "regressions"), ("min", "unified.duplicate_processing"))
    assert objective.describe() == "fewest regressions, then fewest duplicates processed"


def test_objective_prefix_holds_until_the_next_one() -> None:
    objective = parse_objective("min:new_failures,legacy.legit_repeats_lost,max:answered_rate")
    assert objective.terms == (
        ("min", "new_failures"),
        ("min", "legacy.legit_repeats_lost"),
        ("max", "unified.answered_rate"),
    )
    assert objective.describe() == (
        "fewest new failures, then fewest legacy legitimate repeats lost, "
        "then highest answered rate"
    )
    assert parse_objective("lost_reply").terms == (("min", "kind.lost_reply"),)


@pytest.mark.parametrize(
    "text", ["min:bogus", "least:regressions", "min:regressions,", "min:", "unified.nope"]
)
def test_bad_objective_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="--objective"):
        parse_objective(text)


def _means(regressions: float, duplicates: float) -> dict[str, float]:
    means = dict.fromkeys(ROW_METRICS, 0.0)
    means["regressions"] = regressions
    means["unified.duplicate_processing"] = duplicates
    return means


def test_ranking_is_lexicographic_ties_kept_in_order_nan_last() -> None:
    objective = parse_objective(None)
    means = [_means(3, 1), _means(1, 9), _means(1, 2), _means(math.nan, 0), _means(1, 2)]
    assert objective.rank(means) == [2, 4, 1, 0, 3]
    assert parse_objective("max:duplicate_processing").rank(means) == [1, 2, 4, 0, 3]


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=12))
def test_ranking_matches_sorting_the_term_tuples(pairs: list[tuple[int, int]]) -> None:
    objective = parse_objective("min:regressions,max:duplicate_processing")
    ranked = objective.rank([_means(r, d) for r, d in pairs])
    assert sorted(ranked) == list(range(len(pairs)))
    keys = [(pairs[i][0], -pairs[i][1], i) for i in ranked]
    assert keys == sorted(keys)


# --- running -----------------------------------------------------------------------------


def test_results_are_identical_whatever_the_worker_count(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    seen: dict[int, dict[str, bytes]] = {}
    for workers in (1, 2):
        run_sweep("conflict-2-oi", SMALL, seeds=2, workers=workers, out=out, force=True)
        seen[workers] = {name: (out / name).read_bytes() for name in FILES}
        seen[workers]["chart"] = (out / "sweep-unified-duplicate-window.svg").read_bytes()
    assert seen[1] == seen[2]


def test_conflict_2_oi_sweep_rows_summary_and_sentence(tmp_path: Path) -> None:
    result = run_sweep("scenario:conflict-2-oi", SMALL, seeds=2, workers=1, out=tmp_path / "s")
    rows = result.rows
    assert list(rows.columns) == [WINDOW, "seed", *ROW_METRICS]
    assert rows[WINDOW].tolist() == ["3s", "3s", "5s", "5s"]
    assert rows["seed"].tolist() == [1, 2, 1, 2]
    # 3 s misses the resend 4 s later (processed, reply blocked); 5 s suppresses it
    assert rows["unified.duplicate_processing"].tolist() == [1, 1, 0, 0]
    assert rows["unified.resends_processed"].tolist() == [1, 1, 0, 0]
    assert rows["legacy.duplicate_processing"].tolist() == [1, 1, 1, 1]
    assert rows["improvements"].tolist() == [0, 0, 1, 1]
    assert rows["new_failures"].tolist() == [0, 0, 0, 0]
    assert result.combos[result.ranking[0]] == ("5s",)
    assert result.sentence == (
        'Under the objective "fewest regressions, then fewest duplicates processed" '
        "(min:regressions,duplicate_processing), unified.duplicate_window = 5s is best: "
        "0.0 regressions, 0.0 duplicates processed (mean over 2 seeds)."
    )
    summary = pd.read_csv(tmp_path / "s" / "summary.csv")
    assert summary["unified.duplicate_processing_mean"].tolist() == [1.0, 0.0]
    assert summary["seeds"].tolist() == [2, 2]
    document = json.loads((tmp_path / "s" / "sweep.json").read_text(encoding="utf-8"))
    assert document["rows"][2]["values"] == {WINDOW: "5s"}
    assert document["rows"][2]["seed"] == 1
    assert pd.read_parquet(tmp_path / "s" / "sweep.parquet").equals(rows)
    markdown = (tmp_path / "s" / "sweep.md").read_text(encoding="utf-8")
    assert result.sentence in markdown
    html = (tmp_path / "s" / "sweep.html").read_text(encoding="utf-8")
    assert "<svg" in html and "http://" not in html.split("<svg", 1)[0]


def test_the_sentence_follows_the_stated_objective(tmp_path: Path) -> None:
    result = run_sweep(
        "conflict-2-oi",
        SMALL,
        seeds=1,
        objective="max:duplicate_processing",
        workers=1,
        out=tmp_path / "s",
    )
    assert result.combos[result.ranking[0]] == ("3s",)
    assert "most duplicates processed" in result.sentence
    assert "unified.duplicate_window = 3s is best: 1.0 duplicates processed" in result.sentence
    assert "(mean over 1 seed)" in result.sentence


def test_a_capture_varies_only_the_environment_seed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shadow.streams.generate import generate_to_file

    generate_to_file("conflict-2-oi", tmp_path / "oi.jsonl", 1)
    monkeypatch.chdir(tmp_path)
    result = run_sweep("oi.jsonl", [(WINDOW, ["3s", "10s"])], seeds=2, workers=1)
    assert result.out == Path("build/shadow/sweep-oi")
    assert (tmp_path / "build/shadow/sweep-oi/sweep.csv").is_file()
    assert result.rows["messages"].tolist() == [2, 2, 2, 2]
    assert result.rows["unified.duplicate_processing"].tolist() == [1, 1, 0, 0]


def test_a_shortened_window_question_trades_resends_for_legit_repeats(tmp_path: Path) -> None:
    result = run_sweep(
        "duplicate-window-question",
        [(WINDOW, ["3s", "30s"])],
        seeds=2,
        workers=2,
        out=tmp_path / "s",
        scenario_sets=["duration=10m"],
    )
    means = [result.means(0), result.means(1)]
    assert means[1]["unified.resends_processed"] < means[0]["unified.resends_processed"]
    assert means[1]["unified.legit_repeats_lost"] > means[0]["unified.legit_repeats_lost"]
    # the two seeds generate two different streams
    first, second = result.rows.iloc[0], result.rows.iloc[1]
    assert (first["messages"], first["regressions"]) != (second["messages"], second["regressions"])


def test_an_existing_folder_is_refused_without_force(tmp_path: Path) -> None:
    out = tmp_path / "s"
    run_sweep("conflict-2-oi", SMALL, seeds=1, workers=1, out=out)
    with pytest.raises(UsageError, match="--force"):
        run_sweep("conflict-2-oi", SMALL, seeds=1, workers=1, out=out)
    other = tmp_path / "precious"
    other.mkdir()
    (other / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(UsageError, match="not a sweep folder"):
        run_sweep("conflict-2-oi", SMALL, seeds=1, workers=1, out=other, force=True)
    assert (other / "notes.txt").read_text(encoding="utf-8") == "keep me"


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"vary": []}, "--vary"),
        ({"seeds": 0}, "--seeds"),
        ({"workers": 0}, "--workers"),
        ({"input": "no-such-thing"}, "no such capture file or built-in scenario"),
    ],
)
def test_bad_arguments_stop_before_any_replay(
    tmp_path: Path, kwargs: dict[str, object], reason: str
) -> None:
    arguments: dict[str, object] = {
        "input": "conflict-2-oi",
        "vary": SMALL,
        "seeds": 1,
        "out": tmp_path / "s",
    }
    arguments.update(kwargs)
    with pytest.raises(UsageError, match=reason):
        run_sweep(**arguments)  # type: ignore[arg-type]
    assert not (tmp_path / "s").exists()


def test_a_scenario_key_is_varied_by_regenerating_the_stream(tmp_path: Path) -> None:
    # conflict-2-oi: the resend's delay (the user's patience) against the 10 s window
    result = run_sweep(
        "conflict-2-oi",
        [("scenario.traffic.1.resend.delay", ["4s", "12s"])],
        seeds=1,
        workers=1,
        out=tmp_path / "s",
    )
    # at 4 s unified suppresses the resend; at 12 s, after unified's reply (5.3 s), the
    # reactive user does not resend at all: nothing is processed twice either way
    assert result.rows["unified.duplicate_processing"].tolist() == [0, 0]
    # legacy answers at 5.3 s too: at 12 s its user does not resend either, at 4 s it does
    assert result.rows["legacy.duplicate_processing"].tolist() == [1, 0]
    assert "--vary scenario.traffic.1.resend.delay=4s,12s" in result.command()


@pytest.mark.parametrize(
    ("input_", "vary", "reason"),
    [
        ("conflict-2-oi", [("scenario.traffic.9.resend.delay", ["4s"])], "scenario"),
        ("oi.jsonl", [("scenario.duration", ["1m"])], "not to captures"),
    ],
)
def test_bad_scenario_keys_stop_before_any_replay(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    input_: str,
    vary: list[tuple[str, list[str]]],
    reason: str,
) -> None:
    from shadow.streams.generate import generate_to_file

    generate_to_file("conflict-2-oi", tmp_path / "oi.jsonl", 1)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match=reason):
        run_sweep(input_, vary, seeds=1, workers=1, out=tmp_path / "s")
    assert not (tmp_path / "s").exists()
