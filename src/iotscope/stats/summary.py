"""Per-group summary statistics: the Mean / Variance / Observations rows of the paper's tables."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from iotscope.stats.errors import StatsInputError


@dataclass(frozen=True)
class GroupSummary:
    """Mean, sample variance (ddof=1) and count of one group; enough for a t-test or an ANOVA."""

    name: str
    mean: float
    variance: float
    count: int

    def __post_init__(self) -> None:
        if self.count < 2:
            raise StatsInputError(
                f"group {self.name!r} has {self.count} observation(s); its variance, and every "
                "test built on it, needs at least 2"
            )
        if not (math.isfinite(self.mean) and math.isfinite(self.variance)):
            raise StatsInputError(
                f"group {self.name!r} has a non-finite mean ({self.mean}) or variance "
                f"({self.variance})"
            )
        if self.variance < 0:
            raise StatsInputError(f"group {self.name!r} has a negative variance ({self.variance})")

    @classmethod
    def from_sample(cls, name: str, sample: Sequence[float] | np.ndarray) -> GroupSummary:
        """Summarise a sample; rejects NaN values and samples of fewer than two observations."""
        values = as_sample(name, sample)
        if values.size < 2:
            raise StatsInputError(
                f"group {name!r} has {values.size} observation(s); its variance, and every test "
                "built on it, needs at least 2"
            )
        return cls(name, float(values.mean()), float(values.var(ddof=1)), int(values.size))

    @property
    def total(self) -> float:
        """The Sum column of Excel's SUMMARY block."""
        return self.mean * self.count

    @property
    def std(self) -> float:
        return math.sqrt(self.variance)

    def confidence_interval(self, confidence: float = 0.95) -> tuple[float, float]:
        """Student-t interval for the mean."""
        half = stats.t.ppf(0.5 + confidence / 2, self.count - 1) * math.sqrt(
            self.variance / self.count
        )
        return self.mean - half, self.mean + half


def as_sample(name: str, sample: Sequence[float] | np.ndarray) -> np.ndarray:
    """A 1-D float array; raises naming ``name`` when the sample holds NaN or infinite values."""
    values = np.asarray(sample, dtype=float).ravel()
    bad = ~np.isfinite(values)
    if bad.any():
        raise StatsInputError(
            f"group {name!r} holds {int(bad.sum())} missing or non-finite value(s) "
            f"(first at position {int(np.flatnonzero(bad)[0])})"
        )
    return values


def summarize(
    groups: dict[str, Sequence[float] | np.ndarray] | Sequence[GroupSummary],
) -> list[GroupSummary]:
    """Accept either named samples or ready summaries and return summaries."""
    if isinstance(groups, dict):
        return [GroupSummary.from_sample(str(name), values) for name, values in groups.items()]
    return list(groups)
