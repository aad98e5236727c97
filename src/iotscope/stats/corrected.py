"""Tests for cross-validation folds that allow for the training data the folds share.

Fold scores are not independent: any two training sets of k-fold cross-validation share
(k - 2) / (k - 1) of their hosts, so the plain t-test's variance is too small and its p-values too
optimistic (Dietterich 1998). Nadeau & Bengio (2003) inflate the variance of the paired
differences from 1/J to 1/J + n_test/n_train, where J is the number of folds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from iotscope.stats.anova import check_alpha
from iotscope.stats.errors import StatsInputError
from iotscope.stats.summary import as_sample


@dataclass(frozen=True)
class CorrectedTTestResult:
    """Paired t-test on per-fold differences a - b with the Nadeau–Bengio variance."""

    names: tuple[str, str]
    mean_difference: float
    variance_difference: float
    folds: int
    test_train_ratio: float
    alpha: float
    confidence: float

    @property
    def df(self) -> int:
        return self.folds - 1

    @property
    def standard_error(self) -> float:
        return math.sqrt((1 / self.folds + self.test_train_ratio) * self.variance_difference)

    @property
    def t(self) -> float:
        return self.mean_difference / self.standard_error

    @property
    def p_two_tail(self) -> float:
        return float(2 * stats.t.sf(abs(self.t), self.df))

    @property
    def significant(self) -> bool:
        return self.p_two_tail < self.alpha

    def difference_ci(self) -> tuple[float, float]:
        half = stats.t.isf((1 - self.confidence) / 2, self.df) * self.standard_error
        return self.mean_difference - half, self.mean_difference + half


@dataclass(frozen=True)
class BayesianCorrelatedResult:
    """Posterior probabilities that a - b lies below, inside or above the ROPE [-rope, rope]."""

    names: tuple[str, str]
    rope: float
    p_b_greater: float
    p_equivalent: float
    p_a_greater: float

    def decision(self, threshold: float = 0.95) -> str:
        a, b = self.names
        if self.p_a_greater >= threshold:
            return f"{a} greater"
        if self.p_b_greater >= threshold:
            return f"{b} greater"
        if self.p_equivalent >= threshold:
            return "practically equivalent"
        return "undecided"


def paired_differences(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, names: tuple[str, str]
) -> np.ndarray:
    x, y = as_sample(names[0], a), as_sample(names[1], b)
    if x.size != y.size:
        raise StatsInputError(
            f"paired samples differ in length: {names[0]!r} has {x.size} folds, "
            f"{names[1]!r} has {y.size}"
        )
    if x.size < 2:
        raise StatsInputError(f"a paired test needs at least 2 folds; got {x.size}")
    diff = x - y
    if np.ptp(diff) <= 1e-12 * max(1.0, float(np.abs(diff).max())):
        raise StatsInputError(
            f"the fold-by-fold differences {names[0]!r} - {names[1]!r} are all equal "
            f"({diff[0]}); their variance is zero and the corrected t statistic is undefined"
        )
    return diff


def check_ratio(test_train_ratio: float) -> None:
    if not (math.isfinite(test_train_ratio) and test_train_ratio >= 0):
        raise StatsInputError(
            f"test_train_ratio (n_test / n_train) must be finite and >= 0; got {test_train_ratio}"
        )


def nadeau_bengio_ttest(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    test_train_ratio: float,
    names: tuple[str, str] = ("a", "b"),
    alpha: float = 0.01,
    confidence: float = 0.95,
) -> CorrectedTTestResult:
    """Corrected resampled t-test; ``a[i]`` and ``b[i]`` must be scores on the same fold ``i``.

    ``test_train_ratio`` is n_test / n_train of one fold (1 / (k - 1) for k equal folds). With a
    ratio of 0 the test is the ordinary paired t-test.
    """
    check_alpha(alpha)
    check_ratio(test_train_ratio)
    diff = paired_differences(a, b, names)
    return CorrectedTTestResult(
        names=names,
        mean_difference=float(diff.mean()),
        variance_difference=float(diff.var(ddof=1)),
        folds=int(diff.size),
        test_train_ratio=float(test_train_ratio),
        alpha=alpha,
        confidence=confidence,
    )


def bayesian_correlated_ttest(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    test_train_ratio: float,
    rope: float,
    names: tuple[str, str] = ("a", "b"),
) -> BayesianCorrelatedResult:
    """Bayesian correlated t-test (Corani & Benavoli 2015) with a region of practical equivalence.

    The posterior of the mean difference is Student t with J - 1 degrees of freedom, centred on the
    observed mean difference, with the Nadeau–Bengio variance; this is baycomp's
    ``CorrelatedTTest`` with its fixed ratio 1 / (J - 1) replaced by the measured n_test / n_train.
    """
    check_ratio(test_train_ratio)
    if not (math.isfinite(rope) and rope >= 0):
        raise StatsInputError(f"rope must be finite and >= 0; got {rope}")
    diff = paired_differences(a, b, names)
    n = diff.size
    scale = math.sqrt(diff.var(ddof=1) * (1 / n + test_train_ratio))
    posterior = stats.t(n - 1, loc=float(diff.mean()), scale=scale)
    below = float(posterior.cdf(-rope))
    above = float(posterior.sf(rope))
    return BayesianCorrelatedResult(
        names=names,
        rope=rope,
        p_b_greater=below,
        p_equivalent=max(0.0, 1.0 - below - above),
        p_a_greater=above,
    )
