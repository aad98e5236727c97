"""Effect sizes that say how large a difference is, which a p-value does not."""

from __future__ import annotations

import math

from iotscope.stats.errors import StatsInputError
from iotscope.stats.summary import GroupSummary


def pooled_variance(a: GroupSummary, b: GroupSummary) -> float:
    """The Pooled Variance row of the equal-variance t-test."""
    return ((a.count - 1) * a.variance + (b.count - 1) * b.variance) / (a.count + b.count - 2)


def cohens_d(a: GroupSummary, b: GroupSummary) -> float:
    """(mean_a - mean_b) / pooled standard deviation."""
    if a.variance == 0 and b.variance == 0:
        raise StatsInputError(
            f"groups {a.name!r} and {b.name!r} both have zero variance; Cohen's d is undefined"
        )
    return (a.mean - b.mean) / math.sqrt(pooled_variance(a, b))


def magnitude(d: float) -> str:
    """Cohen's labels for |d|: negligible < 0.2 <= small < 0.5 <= medium < 0.8 <= large."""
    size = abs(d)
    if size < 0.2:
        return "negligible"
    if size < 0.5:
        return "small"
    if size < 0.8:
        return "medium"
    return "large"
