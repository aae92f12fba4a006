"""The gate's statistics: one-sided binomial bounds, sample sizes, the latency bootstrap.

Guarantees:

1. ``upper_bound``/``lower_bound`` are one-sided at ``confidence``: Clopper-Pearson from
   ``scipy.stats.beta`` (exact), Wilson from the score interval with ``z = norm.ppf(confidence)``.
   With 0 failures in n, the 95% Clopper-Pearson upper bound is ``1 - 0.05**(1/n)`` (about 3/n).
2. ``rate_verdict``: ``pass`` when the upper bound is below the threshold, ``fail`` when the
   lower bound is above it, else ``inconclusive``.
3. ``messages_needed`` is the smallest n that would decide the check if the observed rate held
   (None when the rate equals the threshold, so no n decides).
4. ``bootstrap_p95_increase`` is a pure function of its inputs and ``seed``: resample ``i``
   draws its contacts from the key ``KeyedRandom(seed).hex("gate", check, i)`` expanded with
   SHAKE-256; no call-order dependence, no numpy random.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import stats

from shadow.kernel import KeyedRandom

Method = Literal["clopper-pearson", "wilson"]
Verdict = Literal["pass", "fail", "inconclusive"]
_MAX_N = 10**9


def upper_bound(failures: float, n: float, confidence: float, method: Method) -> float:
    """One-sided upper confidence bound of a binomial rate (``failures`` may be fractional)."""
    if n <= 0:
        return 1.0
    if method == "wilson":
        return _wilson(failures, n, confidence, +1)
    if failures >= n:
        return 1.0
    return float(stats.beta.ppf(confidence, failures + 1, n - failures))


def lower_bound(failures: float, n: float, confidence: float, method: Method) -> float:
    """One-sided lower confidence bound of a binomial rate."""
    if n <= 0:
        return 0.0
    if method == "wilson":
        return _wilson(failures, n, confidence, -1)
    if failures <= 0:
        return 0.0
    return float(stats.beta.ppf(1 - confidence, failures, n - failures + 1))


def _wilson(failures: float, n: float, confidence: float, sign: int) -> float:
    if (sign < 0 and failures <= 0) or (sign > 0 and failures >= n):
        return 0.0 if sign < 0 else 1.0
    z = float(stats.norm.ppf(confidence))
    p = failures / n
    z2n = z * z / n
    centre = (p + z2n / 2) / (1 + z2n)
    half = z * math.sqrt(p * (1 - p) / n + z2n / (4 * n)) / (1 + z2n)
    return min(1.0, max(0.0, centre + sign * half))


def rate_verdict(lower: float, upper: float, threshold: float) -> Verdict:
    if upper < threshold:
        return "pass"
    if lower > threshold:
        return "fail"
    return "inconclusive"


def min_n_to_pass(threshold: float, confidence: float, method: Method) -> int | None:
    """Smallest n at which 0 failures in n passes (upper bound < threshold); None if never."""
    return _smallest_n(lambda n: upper_bound(0, n, confidence, method) < threshold, 1)


def messages_needed(
    failures: int, n: int, threshold: float, confidence: float, method: Method
) -> int | None:
    """Smallest n' >= n deciding the check if the observed rate ``failures/n`` held."""
    if n <= 0:
        return None
    rate = failures / n
    if rate < threshold:
        return _smallest_n(
            lambda m: upper_bound(rate * m, m, confidence, method) < threshold, max(n, 1)
        )
    if rate > threshold:
        return _smallest_n(
            lambda m: lower_bound(rate * m, m, confidence, method) > threshold, max(n, 1)
        )
    return None


def _smallest_n(decides: Callable[[int], bool], start: int) -> int | None:
    """Smallest n >= start with decides(n), assuming decides is monotone in n."""
    if decides(start):
        return start
    low, high = start, start * 2
    while not decides(high):
        low, high = high, high * 2
        if high > _MAX_N:
            return None
    while high - low > 1:
        middle = (low + high) // 2
        if decides(middle):
            high = middle
        else:
            low = middle
    return high


def nearest_rank_quantile(
    values: npt.NDArray[np.float64], weights: npt.NDArray[np.float64], q: float
) -> float:
    """Smallest value whose cumulative weight reaches ``q`` of the total (``values`` sorted)."""
    cumulative = np.cumsum(weights)
    total = float(cumulative[-1])
    index = int(np.searchsorted(cumulative, q * total - 1e-9 * total, side="left"))
    return float(values[min(index, len(values) - 1)])


def p95(values: npt.NDArray[np.float64]) -> float:
    """Nearest-rank 95th percentile (the bootstrap's own definition, weights 1)."""
    ordered = np.sort(values)
    return nearest_rank_quantile(ordered, np.ones(len(ordered)), 0.95)


def _contact_draws(rand: KeyedRandom, check: str, i: int, contacts: int) -> npt.NDArray[np.int64]:
    """Resample ``i``'s contact indices: the key ``(seed, "gate", check, i)`` seeds a SHAKE-256
    stream (one hash call for all draws, where a draw per key would cost 1.5 µs each)."""
    key = rand.hex("gate", check, i, digits=32).encode()
    words = np.frombuffer(hashlib.shake_256(key).digest(8 * contacts), dtype="<u8")
    return (words % np.uint64(contacts)).astype(np.int64)


@dataclass(frozen=True, slots=True)
class BootstrapResult:
    observed: float  # p95(candidate) - p95(baseline), seconds
    lower: float
    upper: float
    resamples: int


def bootstrap_p95_increase(
    contact_codes: npt.NDArray[np.int64],
    baseline: npt.NDArray[np.float64],
    candidate: npt.NDArray[np.float64],
    confidence: float,
    seed: int,
    check: str,
    resamples: int = 2000,
) -> BootstrapResult:
    """Paired bootstrap over contacts of the p95 latency increase.

    ``contact_codes[k]`` in ``0..C-1`` is message k's contact; ``baseline[k]``/``candidate[k]``
    its latencies in both arms. Each resample draws C contacts with replacement and weights each
    message by how often its contact was drawn; the bounds are the one-sided quantiles.
    """
    contacts = int(contact_codes.max()) + 1 if len(contact_codes) else 0
    base_order = np.argsort(baseline, kind="stable")
    cand_order = np.argsort(candidate, kind="stable")
    base_sorted, cand_sorted = baseline[base_order], candidate[cand_order]
    observed = p95(candidate) - p95(baseline)
    rand = KeyedRandom(seed)
    increases = np.empty(resamples)
    for i in range(resamples):
        picks = _contact_draws(rand, check, i, contacts)
        weight_of_contact = np.bincount(picks, minlength=contacts).astype(np.float64)
        weights = weight_of_contact[contact_codes]
        increases[i] = nearest_rank_quantile(
            cand_sorted, weights[cand_order], 0.95
        ) - nearest_rank_quantile(base_sorted, weights[base_order], 0.95)
    ordered = np.sort(increases)
    ones = np.ones(resamples)
    return BootstrapResult(
        observed=observed,
        lower=nearest_rank_quantile(ordered, ones, 1 - confidence),
        upper=nearest_rank_quantile(ordered, ones, confidence),
        resamples=resamples,
    )


def bootstrap_messages_needed(result: BootstrapResult, threshold: float, n: int) -> int | None:
    """Messages that would decide an inconclusive latency check if the observed increase held:
    the bound's distance from the observed value shrinks as 1/sqrt(n)."""
    gap = threshold - result.observed
    if gap > 0:
        spread = result.upper - result.observed
    elif gap < 0:
        spread = result.observed - result.lower
    else:
        return None
    if spread <= 0:
        return n
    return max(n, math.ceil(n * (spread / abs(gap)) ** 2))
