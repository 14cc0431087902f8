"""95% confidence intervals of an evaluation: Wilson's for a success rate, the normal approximation for a mean return.

Both are for one policy's deterministic episodes from independent random starts; they say how far the sample's rate or
mean may sit from the policy's own, not how another seed's training would end.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Z_95 = 1.959963984540054  # the standard normal's 97.5% quantile: two-sided 95%


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson's score interval of a success rate: unlike the normal approximation it stays inside [0, 1] and is not
    empty at 0 or ``trials`` successes."""
    if trials < 1 or not 0 <= successes <= trials:
        raise ValueError(f"expected 0 <= successes <= trials and trials >= 1, got {successes} of {trials}")
    rate, z2 = successes / trials, z * z
    centre = (rate + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z / (1 + z2 / trials) * math.sqrt(rate * (1 - rate) / trials + z2 / (4 * trials * trials))
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_interval(values: Sequence[float], z: float = Z_95) -> tuple[float, float]:
    """The normal-approximation interval of a mean, ``mean ± z * s / sqrt(n)`` with the sample standard deviation
    ``s``; a single value gives the point itself (no spread to estimate)."""
    n = len(values)
    if n < 1:
        raise ValueError("expected at least one value, got none")
    mean = math.fsum(values) / n
    if n == 1:
        return mean, mean
    s = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    return mean - z * s / math.sqrt(n), mean + z * s / math.sqrt(n)
