"""The gate's statistics against known values (docs/gate.md, "Statistics")."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from shadow.gate.stats import (
    bootstrap_messages_needed,
    bootstrap_p95_increase,
    lower_bound,
    messages_needed,
    min_n_to_pass,
    p95,
    rate_verdict,
    resampled_increases,
    upper_bound,
)


@pytest.mark.parametrize("n", [300, 600, 3000])
def test_zero_failures_upper_95_bound_is_about_3_over_n(n: int) -> None:
    bound = upper_bound(0, n, 0.95, "clopper-pearson")
    assert bound == pytest.approx(1 - 0.05 ** (1 / n), rel=1e-9)
    assert bound == pytest.approx(3 / n, rel=0.01)


@pytest.mark.parametrize(
    ("b", "n"), [(1, 10), (5, 10), (3, 600), (40, 2000), (2.5, 997.0), (28, 3841), (0.75, 1e6)]
)
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.975, 0.99])
def test_clopper_pearson_is_beta_ppf_bit_for_bit(b: float, n: float, confidence: float) -> None:
    """The bounds are scipy.stats.beta.ppf's very floats (computed without importing
    scipy.stats), so gate files do not change with the import."""
    assert upper_bound(b, n, confidence, "clopper-pearson") == stats.beta.ppf(
        confidence, b + 1, n - b
    )
    assert lower_bound(b, n, confidence, "clopper-pearson") == stats.beta.ppf(
        1 - confidence, b, n - b + 1
    )
    # Wilson's z is norm.ppf's float: the score interval with it, step by step as stats.py
    z = float(stats.norm.ppf(confidence))
    p, z2n = b / n, z * z / n
    centre = (p + z2n / 2) / (1 + z2n)
    half = z * math.sqrt(p * (1 - p) / n + z2n / (4 * n)) / (1 + z2n)
    assert upper_bound(b, n, confidence, "wilson") == min(1.0, centre + half)
    assert lower_bound(b, n, confidence, "wilson") == max(0.0, centre - half)


def test_clopper_pearson_known_two_sided_table_value() -> None:
    # 5 of 10: the exact two-sided 95% interval is (0.1871, 0.8129).
    assert lower_bound(5, 10, 0.975, "clopper-pearson") == pytest.approx(0.1871, abs=1e-4)
    assert upper_bound(5, 10, 0.975, "clopper-pearson") == pytest.approx(0.8129, abs=1e-4)


@pytest.mark.parametrize(
    ("b", "n", "low", "high"),
    [(5, 10, 0.2366, 0.7634), (1, 10, 0.0179, 0.4042), (0, 10, 0.0, 0.2775)],
)
def test_wilson_matches_two_sided_95_table(b: int, n: int, low: float, high: float) -> None:
    # a one-sided 97.5% bound is one end of the two-sided 95% Wilson score interval (z = 1.96)
    assert lower_bound(b, n, 0.975, "wilson") == pytest.approx(low, abs=1e-4)
    assert upper_bound(b, n, 0.975, "wilson") == pytest.approx(high, abs=1e-4)


def test_wilson_zero_failures_one_sided() -> None:
    z2 = stats.norm.ppf(0.95) ** 2
    assert upper_bound(0, 600, 0.95, "wilson") == pytest.approx(z2 / (600 + z2))


def test_sample_size_to_pass_matches_the_policy_example() -> None:
    assert min_n_to_pass(0.005, 0.95, "clopper-pearson") == 598
    assert min_n_to_pass(0.02, 0.95, "clopper-pearson") == 149


def test_verdict_rule() -> None:
    assert rate_verdict(0.0, 0.004, 0.005) == "pass"
    assert rate_verdict(0.006, 0.02, 0.005) == "fail"
    assert rate_verdict(0.001, 0.009, 0.005) == "inconclusive"


def test_messages_needed_decides_if_the_rate_held() -> None:
    # 1 failure in 400 (0.25%) against 0.5%: inconclusive now, decided at the returned n.
    n = messages_needed(1, 400, 0.005, 0.95, "clopper-pearson")
    assert n is not None and n > 400
    assert upper_bound(0.0025 * n, n, 0.95, "clopper-pearson") < 0.005
    assert upper_bound(0.0025 * (n - 1), n - 1, 0.95, "clopper-pearson") >= 0.005
    # above the threshold: the lower bound must clear it
    m = messages_needed(4, 400, 0.005, 0.95, "wilson")
    assert m is not None and lower_bound(0.01 * m, m, 0.95, "wilson") > 0.005
    assert messages_needed(2, 400, 0.005, 0.95, "wilson") is None  # rate equals threshold


@given(
    b=st.integers(0, 50),
    extra=st.integers(0, 500),
    method=st.sampled_from(["clopper-pearson", "wilson"]),
)
def test_bounds_bracket_the_observed_rate(b: int, extra: int, method: str) -> None:
    n = b + extra + 1
    low = lower_bound(b, n, 0.95, method)  # type: ignore[arg-type]
    high = upper_bound(b, n, 0.95, method)  # type: ignore[arg-type]
    assert 0.0 <= low <= b / n <= high <= 1.0


def _latencies(contacts: int, per_contact: int, shift: float) -> tuple[np.ndarray, ...]:
    codes = np.repeat(np.arange(contacts), per_contact).astype(np.int64)
    base = 1.0 + (np.arange(contacts * per_contact) % 97) / 10.0
    return codes, base, base + shift


def test_bootstrap_brackets_a_known_shift_and_is_deterministic() -> None:
    codes, base, cand = _latencies(300, 5, 3.0)
    first = bootstrap_p95_increase(codes, base, cand, 0.95, seed=7, check="latency", resamples=300)
    again = bootstrap_p95_increase(codes, base, cand, 0.95, seed=7, check="latency", resamples=300)
    assert first == again
    assert first.observed == pytest.approx(p95(cand) - p95(base)) == pytest.approx(3.0)
    assert first.lower <= 3.0 + 1e-9 and first.upper >= 3.0 - 1e-9


def test_bootstrap_draws_depend_on_the_key() -> None:
    rng = np.arange(2000) % 53
    codes = (np.arange(2000) // 4).astype(np.int64)
    base = rng / 10.0
    cand = base + (np.arange(2000) % 7) / 3.0
    a = bootstrap_p95_increase(codes, base, cand, 0.95, seed=1, check="a", resamples=200)
    b = bootstrap_p95_increase(codes, base, cand, 0.95, seed=1, check="b", resamples=200)
    assert (a.lower, a.upper) != (b.lower, b.upper)


def test_bootstrap_messages_needed_scales_with_spread() -> None:
    from shadow.gate.stats import BootstrapResult

    result = BootstrapResult(observed=1.0, lower=0.0, upper=3.0, resamples=2000)
    # bound distance 2.0 must shrink below the 1.0 gap to a 2s threshold: n * (2/1)^2
    assert bootstrap_messages_needed(result, 2.0, 100) == 400
    assert bootstrap_messages_needed(result, 1.0, 100) is None


def _reference_bootstrap(
    codes: np.ndarray, base: np.ndarray, cand: np.ndarray, seed: int, check: str, resamples: int
) -> np.ndarray:
    """The bootstrap's definition, one cumulative sum per resample: resample i's increase."""
    from shadow.gate.stats import _contact_draws, nearest_rank_quantile
    from shadow.kernel import KeyedRandom

    contacts = int(codes.max()) + 1
    base_order, cand_order = np.argsort(base, kind="stable"), np.argsort(cand, kind="stable")
    rand = KeyedRandom(seed)
    increases = np.empty(resamples)
    for i in range(resamples):
        weight_of_contact = np.bincount(
            _contact_draws(rand, check, i, contacts), minlength=contacts
        ).astype(np.float64)
        weights = weight_of_contact[codes]
        increases[i] = nearest_rank_quantile(
            cand[cand_order], weights[cand_order], 0.95
        ) - nearest_rank_quantile(base[base_order], weights[base_order], 0.95)
    return increases


@given(
    contacts=st.integers(1, 40),
    messages=st.integers(1, 300),
    heavy=st.integers(0, 200),
    seed=st.integers(1, 10**6),
)
def test_bootstrap_equals_one_cumulative_sum_per_resample(
    contacts: int, messages: int, heavy: int, seed: int
) -> None:
    """The blocked, tail-only weighing gives the very floats of the definition (ties, a heavy
    contact holding the whole tail, a single message), so the gate files stay byte-identical."""
    from shadow.gate.stats import nearest_rank_quantile

    rng = np.random.default_rng(seed)
    codes = np.concatenate(
        [rng.integers(0, contacts, messages), np.zeros(heavy, dtype=np.int64)]
    ).astype(np.int64)
    base = np.round(rng.exponential(2.0, len(codes)), 1)
    cand = np.where(codes == 0, base + 30.0, base + rng.integers(-2, 3, len(codes)))
    resamples = 300  # more than one block of 256
    found = resampled_increases(codes, base, cand, seed, "latency:direct", resamples)
    expected = _reference_bootstrap(codes, base, cand, seed, "latency:direct", resamples)
    assert found.tobytes() == expected.tobytes()
    result = bootstrap_p95_increase(codes, base, cand, 0.95, seed, "latency:direct", resamples)
    ordered, ones = np.sort(expected), np.ones(resamples)
    assert result.lower == nearest_rank_quantile(ordered, ones, 0.05)
    assert result.upper == nearest_rank_quantile(ordered, ones, 0.95)
    assert result.observed == p95(cand) - p95(base)
