"""Charts as inline SVG (matplotlib, Agg backend), byte-identical for the same data.

Guarantees:

1. The SVG carries no date and a fixed hash salt (``svg.hashsalt``), text stays text
   (``svg.fonttype: none``): the same data gives the same bytes, and the page needs no font.
2. Charts receive aggregated data only (quantile curves, time bins): a chart's size does not
   grow with the run.
3. Each arm keeps one colour in every chart (its position in the run's arm list).
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

HASH_SALT = "coordinator-shadow"
PALETTE = ("#1f5fa8", "#d9480f", "#2b8a3e", "#7048e8", "#868e96", "#c2255c", "#0b7285")


def colour(arms: Sequence[str], arm: str) -> str:
    index = list(arms).index(arm) if arm in arms else len(arms)
    return PALETTE[index % len(PALETTE)]


def to_svg(fig: Figure) -> str:
    """The figure as an ``<svg>`` element without XML prolog (guarantee 1)."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    # the RDF metadata block only names matplotlib and licence URLs: not needed inline
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, count=1, flags=re.DOTALL)
    # matplotlib writes fixed pixel sizes; a viewBox-only SVG scales with the page
    text = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r"<svg\1", text, count=1)
    return text.replace("<svg", '<svg role="img" style="max-width:100%;height:auto"', 1)


def _style() -> None:
    """Fixed rc settings before every figure (guarantee 1), whatever the caller changed."""
    plt.rcParams["svg.hashsalt"] = HASH_SALT
    plt.rcParams["svg.fonttype"] = "none"
    plt.rcParams["font.family"] = "sans-serif"
    plt.rcParams["font.size"] = 9
    plt.rcParams["axes.spines.top"] = False
    plt.rcParams["axes.spines.right"] = False
    plt.rcParams["axes.grid"] = True
    plt.rcParams["grid.color"] = "#dde1e6"
    plt.rcParams["grid.linewidth"] = 0.6
    plt.rcParams["legend.frameon"] = False


def _figure(width: float = 7.5, height: float = 3.0) -> tuple[Figure, Axes]:
    _style()
    fig, axes = plt.subplots(figsize=(width, height))
    return fig, axes


def latency_cdf(curves: Mapping[str, np.ndarray], arms: Sequence[str]) -> str | None:
    """Share of answered messages (y) replied within x seconds, one line per arm."""
    if not curves:
        return None
    fig, axes = _figure()
    shares = np.linspace(0.0, 1.0, len(next(iter(curves.values()))))
    for arm in arms:
        if arm in curves:
            values = np.maximum(curves[arm], 0.01)
            axes.step(values, shares, where="post", label=arm, color=colour(arms, arm), lw=1.6)
    axes.set_xscale("log")
    axes.set_xlabel("reply latency (seconds, log scale)")
    axes.set_ylabel("share of answered messages")
    axes.set_ylim(0, 1.02)
    axes.axhline(0.95, color="#868e96", lw=0.8, ls=":")
    axes.text(
        1.0,
        0.955,
        "p95 ",
        transform=axes.get_yaxis_transform(),
        color="#868e96",
        ha="right",
        va="bottom",
        fontsize=8,
    )
    axes.legend(loc="lower right")
    return to_svg(fig)


def divergences_timeline(
    edges: np.ndarray, series: Mapping[str, Mapping[str, np.ndarray]]
) -> str | None:
    """Divergences per time bin per pair: all severities (solid) and regressions (dashed)."""
    if not series or not any(int(s["all"].sum()) for s in series.values()):
        return None
    fig, axes = _figure()
    minutes = edges / 60.0
    pairs = list(series)
    for index, pair in enumerate(pairs):
        tint = PALETTE[index % len(PALETTE)]
        axes.stairs(series[pair]["all"], minutes, color=tint, lw=1.4, label=f"{pair}: all")
        axes.stairs(
            series[pair]["regression"],
            minutes,
            color=tint,
            lw=1.2,
            ls="--",
            label=f"{pair}: regressions",
        )
    axes.set_xlabel("virtual time since the first message (minutes)")
    axes.set_ylabel(f"divergences per {_bin_label(edges)}")
    axes.set_ylim(bottom=0)
    axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return to_svg(fig)


def _bin_label(edges: np.ndarray) -> str:
    width = float(edges[1] - edges[0]) if len(edges) > 1 else 0.0
    if width >= 120:
        return f"{width / 60:.0f}-minute bin"
    return f"{width:.0f}-second bin"


def gauge_totals(
    totals: Mapping[str, tuple[np.ndarray, np.ndarray]],
    arms: Sequence[str],
    seed_total: int,
) -> str | None:
    """Entries held per arm over time against the seed's worst-case estimate."""
    if not totals:
        return None
    fig, axes = _figure()
    peak = 0.0
    for arm in arms:
        if arm in totals:
            times, values = totals[arm]
            axes.step(
                times / 60.0, values, where="post", color=colour(arms, arm), lw=1.4, label=arm
            )
            peak = max(peak, float(values.max()))
    axes.axhline(seed_total, color="#c92a2a", lw=1.0, ls="--")
    axes.text(
        0,
        seed_total,
        f" seed's worst case ~{seed_total:,} entries",
        color="#c92a2a",
        va="bottom",
        fontsize=8,
    )
    axes.set_yscale("symlog", linthresh=10)
    axes.set_ylim(0, max(peak, seed_total) * 3)
    axes.set_xlabel("virtual time since the first message (minutes)")
    axes.set_ylabel("entries in all structures (log)")
    axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return to_svg(fig)
