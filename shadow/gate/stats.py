"""The gate's statistics: one-sided binomial bounds, sample sizes, the latency bootstrap.

Guarantees:

1. ``upper_bound``/``lower_bound`` are one-sided at ``confidence``: Clopper-Pearson, the beta
   quantile (``scipy.special.betaincinv``, the function ``scipy.stats.beta.ppf`` evaluates, bit
   for bit, without importing ``scipy.stats``), Wilson from the score interval with
   ``z = ndtri(confidence)`` (``norm.ppf``).
   With 0 failures in n, the 95% Clopper-Pearson upper bound is ``1 - 0.05**(1/n)`` (about 3/n).
2. ``rate_verdict``: ``pass`` when the upper bound is below the threshold, ``fail`` when the
   lower bound is above it, else ``inconclusive``.
3. ``messages_needed`` is the smallest n that would decide the check if the observed rate held
   (None when the rate equals the threshold, so no n decides).
4. ``bootstrap_p95_increase`` is a pure function of its inputs and ``seed``: resample ``i``
   draws its contacts from the key ``KeyedRandom(seed).hex("gate", check, i)`` expanded with
   SHAKE-256; no call-order dependence, no numpy random. Resamples are weighed in blocks and
   each quantile is read from the sorted values' upper tail, in integer sums: the same numbers
   as one cumulative sum per resample (``nearest_rank_quantile``), in a fraction of the time.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

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
    return _beta_quantile(confidence, failures + 1, n - failures)


def lower_bound(failures: float, n: float, confidence: float, method: Method) -> float:
    """One-sided lower confidence bound of a binomial rate."""
    if n <= 0:
        return 0.0
    if method == "wilson":
        return _wilson(failures, n, confidence, -1)
    if failures <= 0:
        return 0.0
    return _beta_quantile(1 - confidence, failures, n - failures + 1)


def _beta_quantile(q: float, a: float, b: float) -> float:
    from scipy.special import betaincinv  # 0.3 s to import: only once a bound is asked for

    return float(betaincinv(a, b, q))


def _wilson(failures: float, n: float, confidence: float, sign: int) -> float:
    if (sign < 0 and failures <= 0) or (sign > 0 and failures >= n):
        return 0.0 if sign < 0 else 1.0
    from scipy.special import ndtri

    z = float(ndtri(confidence))
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
    observed = p95(candidate) - p95(baseline)
    ordered = np.sort(
        resampled_increases(contact_codes, baseline, candidate, seed, check, resamples)
    )
    ones = np.ones(resamples)
    return BootstrapResult(
        observed=observed,
        lower=nearest_rank_quantile(ordered, ones, 1 - confidence),
        upper=nearest_rank_quantile(ordered, ones, confidence),
        resamples=resamples,
    )


def resampled_increases(
    contact_codes: npt.NDArray[np.int64],
    baseline: npt.NDArray[np.float64],
    candidate: npt.NDArray[np.float64],
    seed: int,
    check: str,
    resamples: int,
) -> npt.NDArray[np.float64]:
    """Resample ``i``'s p95 increase at ``[i]``: ``nearest_rank_quantile`` of each arm's sorted
    latencies weighted by their contacts' draw counts, the candidate's minus the baseline's."""
    contacts = int(contact_codes.max()) + 1 if len(contact_codes) else 0
    messages_of_contact = np.bincount(contact_codes, minlength=contacts).astype(np.int64)
    sides = [_WeightedValues.of(values, contact_codes, 0.95) for values in (candidate, baseline)]
    rand = KeyedRandom(seed)
    increases = np.empty(resamples)
    for start in range(0, resamples, _BLOCK):
        stop = min(resamples, start + _BLOCK)
        picks = np.stack([_contact_draws(rand, check, i, contacts) for i in range(start, stop)])
        rows = np.arange(stop - start, dtype=np.int64)[:, None] * contacts
        drawn = np.bincount((picks + rows).ravel(), minlength=(stop - start) * contacts)
        drawn = drawn.reshape(stop - start, contacts).astype(np.int64)
        totals = drawn @ messages_of_contact
        cand_p95, base_p95 = (side.quantiles(drawn, totals) for side in sides)
        increases[start:stop] = cand_p95 - base_p95
    return increases


#: resamples weighed at once (a block's weights of the tail: about 256 x n/8 integers)
_BLOCK = 256


@dataclass(frozen=True, slots=True)
class _WeightedValues:
    """One arm's latencies sorted, with each one's contact, for the weighted quantile ``q``.

    ``quantiles`` gives, per resample, ``nearest_rank_quantile(values, weights, q)`` where a
    message weighs its contact's draw count. The weights are integers, so every cumulative sum
    is exact whatever the order of addition: the cumulative weight below a position is the
    total minus the sum above it, and only the upper tail holding the quantile is summed."""

    values: npt.NDArray[np.float64]
    codes: npt.NDArray[np.int64]
    q: float

    @classmethod
    def of(
        cls, values: npt.NDArray[np.float64], codes: npt.NDArray[np.int64], q: float
    ) -> _WeightedValues:
        order = np.argsort(values, kind="stable")
        return cls(values[order], codes[order], q)

    def quantiles(
        self, drawn: npt.NDArray[np.int64], totals: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float64]:
        """Per row of ``drawn`` (a resample's draw count per contact, ``totals`` its total
        weight), the smallest value whose cumulative weight reaches ``q`` of the total."""
        n = len(self.values)
        total = totals.astype(np.float64)
        reach = self.q * total - 1e-9 * total  # nearest_rank_quantile's target, same floats
        # exact in 32 bits while no sum can pass 2**31 (half the memory to add up)
        small = np.int32 if int(totals.max(initial=0)) < 2**31 else np.int64
        index = np.empty(len(drawn), dtype=np.int64)
        pending = np.arange(len(drawn))
        tail = min(n, math.ceil(n * (1 - self.q) * 1.5) + 32)
        while len(pending):
            # from the last position down: above[:, m] weighs the last m + 1 positions, so the
            # cumulative weight up to position n - 2 - m is the total minus it
            last = self.codes[n - tail :][::-1]
            rows_drawn = drawn if len(pending) == len(drawn) else drawn[pending]
            above: npt.NDArray[np.signedinteger[Any]] = np.cumsum(
                rows_drawn[:, last].astype(small), axis=1, dtype=small
            )
            below = totals[pending, None] - above
            target = reach[pending, None]
            # every position before the tail is short of the target: the index is in the tail
            found = (below[:, -1] < target[:, 0]) | (tail == n)
            rows = pending[found]
            short = (below[found, :-1] < target[found]).sum(axis=1)
            short += total[rows] < reach[rows]  # the last position (its cumulative: the total)
            index[rows] = n - tail + short
            pending = pending[~found]
            tail = min(n, tail * 2)
        return self.values[np.minimum(index, n - 1)]


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
