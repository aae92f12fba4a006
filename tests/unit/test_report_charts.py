"""Charts per arm pair: one panel per pair, each named; coinciding curves are said to coincide
and drawn apart (dashes and markers)."""

from __future__ import annotations

import re

import numpy as np

from reports.charts import COINCIDE_NOTE, divergences_timeline, latency_cdf


def test_latency_small_multiples_one_panel_per_pair_and_the_coincidence_note() -> None:
    base = np.linspace(1.0, 30.0, 101)
    curves = {"legacy": base, "unified": base * 2, "rollout@10": base.copy()}
    arms = ["legacy", "unified", "rollout@10"]
    svg = latency_cdf(curves, arms, ["legacy vs unified", "legacy vs rollout@10"])
    assert svg is not None
    assert svg.count("legacy vs unified") == 1 and svg.count("legacy vs rollout@10") == 1
    assert svg.count(COINCIDE_NOTE) == 1  # only the pair whose curves coincide
    assert "stroke-dasharray" in svg  # the second coinciding curve is dashed
    # direct labels, no legend: each arm's name is written once in each panel it is in
    texts = _texts(svg)
    assert texts.count("legacy") == 2 and texts.count("unified") == 1
    assert texts.count("rollout@10") == 1


def test_divergence_panels_per_pair_with_two_series() -> None:
    edges = np.arange(0.0, 600.0 + 1, 60.0)
    ones = np.ones(10)
    series = {
        "legacy vs unified": {"all": ones * 3, "regression": ones},
        "legacy vs rollout@10": {"all": ones, "regression": ones},
    }
    svg = divergences_timeline(edges, series)
    assert svg is not None
    assert svg.count(COINCIDE_NOTE) == 1
    texts = _texts(svg)
    assert texts.count("all") == 2 and texts.count("regressions") == 2


def test_no_pair_with_curves_no_chart() -> None:
    assert latency_cdf({"legacy": np.ones(3)}, ["legacy"], ["legacy vs unified"]) is None


def _texts(svg: str) -> list[str]:
    return re.findall(r"<text[^>]*>([^<]*)</text>", svg)
