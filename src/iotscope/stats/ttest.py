"""Two-sample t-tests, laid out as Excel's "t-Test: Two-Sample Assuming Equal Variances"."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from iotscope.stats.anova import check_alpha
from iotscope.stats.effect import cohens_d, pooled_variance
from iotscope.stats.errors import StatsInputError
from iotscope.stats.summary import GroupSummary

TTEST_ROWS = (
    "Mean",
    "Variance",
    "Observations",
    "Pooled Variance",
    "Hypothesized Mean Difference",
    "df",
    "t Stat",
    "P(T<=t) one-tail",
    "t Critical one-tail",
    "P(T<=t) two-tail",
    "t Critical two-tail",
)


@dataclass(frozen=True)
class TTestResult:
    a: GroupSummary
    b: GroupSummary
    equal_var: bool
    hypothesized_difference: float
    standard_error: float
    df: float
    t: float
    alpha: float
    confidence: float

    @property
    def pooled_variance(self) -> float:
        return pooled_variance(self.a, self.b)

    @property
    def difference(self) -> float:
        return self.a.mean - self.b.mean

    @property
    def p_one_tail(self) -> float:
        """Excel's one-tail p: the tail on the side the observed t falls."""
        return float(stats.t.sf(abs(self.t), self.df))

    @property
    def p_two_tail(self) -> float:
        return float(2 * stats.t.sf(abs(self.t), self.df))

    @property
    def t_crit_one_tail(self) -> float:
        return float(stats.t.isf(self.alpha, self.df))

    @property
    def t_crit_two_tail(self) -> float:
        return float(stats.t.isf(self.alpha / 2, self.df))

    @property
    def significant(self) -> bool:
        return self.p_two_tail < self.alpha

    @property
    def cohens_d(self) -> float:
        return cohens_d(self.a, self.b)

    def difference_ci(self) -> tuple[float, float]:
        """Interval for mean_a - mean_b at ``confidence`` (pooled or Welch, as the test)."""
        half = stats.t.isf((1 - self.confidence) / 2, self.df) * self.standard_error
        return self.difference - half, self.difference + half

    def table(self) -> pd.DataFrame:
        """The paper's layout: one row per statistic, one column per group."""
        shared = [
            self.pooled_variance if self.equal_var else None,
            self.hypothesized_difference,
            self.df,
            self.t,
            self.p_one_tail,
            self.t_crit_one_tail,
            self.p_two_tail,
            self.t_crit_two_tail,
        ]
        rows = [
            ["Mean", self.a.mean, self.b.mean],
            ["Variance", self.a.variance, self.b.variance],
            ["Observations", self.a.count, self.b.count],
        ]
        rows += [[name, value, None] for name, value in zip(TTEST_ROWS[3:], shared, strict=True)]
        if not self.equal_var:
            rows = [row for row in rows if row[0] != "Pooled Variance"]
        return pd.DataFrame(rows, columns=["Statistics", self.a.name, self.b.name], dtype=object)


def ttest_from_summaries(
    a: GroupSummary,
    b: GroupSummary,
    *,
    equal_var: bool = True,
    alpha: float = 0.01,
    hypothesized_difference: float = 0.0,
    confidence: float = 0.95,
) -> TTestResult:
    """Pooled (Student) or Welch two-sample t-test of mean_a - mean_b = hypothesized_difference."""
    check_alpha(alpha)
    if a.variance == 0 and b.variance == 0:
        raise StatsInputError(
            f"groups {a.name!r} and {b.name!r} both have zero variance; "
            "the t statistic is undefined"
        )
    if equal_var:
        df: float = a.count + b.count - 2
        se = math.sqrt(pooled_variance(a, b) * (1 / a.count + 1 / b.count))
    else:
        va, vb = a.variance / a.count, b.variance / b.count
        df = (va + vb) ** 2 / (va**2 / (a.count - 1) + vb**2 / (b.count - 1))
        se = math.sqrt(va + vb)
    t = (a.mean - b.mean - hypothesized_difference) / se
    return TTestResult(a, b, equal_var, hypothesized_difference, se, df, t, alpha, confidence)


def two_sample_ttest(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    names: tuple[str, str] = ("a", "b"),
    equal_var: bool = True,
    alpha: float = 0.01,
    hypothesized_difference: float = 0.0,
    confidence: float = 0.95,
) -> TTestResult:
    """The t-test on two plain samples; see :func:`ttest_from_summaries`."""
    return ttest_from_summaries(
        GroupSummary.from_sample(names[0], a),
        GroupSummary.from_sample(names[1], b),
        equal_var=equal_var,
        alpha=alpha,
        hypothesized_difference=hypothesized_difference,
        confidence=confidence,
    )
