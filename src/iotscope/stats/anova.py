"""One-way analysis of variance, laid out as Excel's "Anova: Single Factor" (the paper's tables)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from iotscope.stats.errors import StatsInputError
from iotscope.stats.summary import GroupSummary, summarize

ANOVA_COLUMNS = ("Source of Variation", "SS", "df", "MS", "F", "P-value", "F crit")


@dataclass(frozen=True)
class AnovaResult:
    groups: tuple[GroupSummary, ...]
    ss_between: float
    ss_within: float
    df_between: int
    df_within: int
    f: float
    p_value: float
    f_crit: float
    alpha: float

    @property
    def ms_between(self) -> float:
        return self.ss_between / self.df_between

    @property
    def ms_within(self) -> float:
        return self.ss_within / self.df_within

    @property
    def eta_squared(self) -> float:
        """Share of the total sum of squares explained by the groups."""
        return self.ss_between / (self.ss_between + self.ss_within)

    @property
    def omega_squared(self) -> float:
        """Less biased than eta squared for small samples; may be slightly negative."""
        total = self.ss_between + self.ss_within
        return (self.ss_between - self.df_between * self.ms_within) / (total + self.ms_within)

    @property
    def significant(self) -> bool:
        return self.p_value < self.alpha

    def table(self) -> pd.DataFrame:
        """The Source of Variation block: Between Groups and Within Groups rows."""
        return pd.DataFrame(
            [
                [
                    "Between Groups",
                    self.ss_between,
                    self.df_between,
                    self.ms_between,
                    self.f,
                    self.p_value,
                    self.f_crit,
                ],
                ["Within Groups", self.ss_within, self.df_within, self.ms_within, None, None, None],
            ],
            columns=list(ANOVA_COLUMNS),
            dtype=object,
        )

    def groups_table(self, confidence: float = 0.95) -> pd.DataFrame:
        """Excel's SUMMARY block (Groups, Count, Sum, Average, Variance) plus a CI for each mean."""
        pct = round(confidence * 100)
        rows = []
        for g in self.groups:
            low, high = g.confidence_interval(confidence)
            rows.append([g.name, g.count, g.total, g.mean, g.variance, low, high])
        return pd.DataFrame(
            rows,
            columns=[
                "Groups",
                "Count",
                "Sum",
                "Average",
                "Variance",
                f"CI{pct} low",
                f"CI{pct} high",
            ],
        )


def one_way_anova(
    groups: dict[str, Sequence[float] | np.ndarray] | Sequence[GroupSummary], *, alpha: float = 0.01
) -> AnovaResult:
    """One-way ANOVA from named samples (``{name: values}``) or from per-group summaries.

    ``F crit`` is the upper ``alpha`` quantile of F(df_between, df_within); the paper's tables print
    it at Excel's default alpha of 0.05 even though its text tests at 0.01.
    """
    check_alpha(alpha)
    summaries = summarize(groups)
    if len(summaries) < 2:
        names = ", ".join(repr(g.name) for g in summaries) or "none"
        raise StatsInputError(f"an ANOVA needs at least 2 groups; got {len(summaries)} ({names})")
    counts = np.array([g.count for g in summaries], dtype=float)
    means = np.array([g.mean for g in summaries])
    variances = np.array([g.variance for g in summaries])
    if not variances.any():
        raise StatsInputError(
            "every group has zero variance (all values identical within each group: "
            + ", ".join(repr(g.name) for g in summaries)
            + "); the F statistic is undefined"
        )
    grand = float((counts * means).sum() / counts.sum())
    ss_between = float((counts * (means - grand) ** 2).sum())
    ss_within = float(((counts - 1) * variances).sum())
    df_between = len(summaries) - 1
    df_within = int(counts.sum()) - len(summaries)
    f = (ss_between / df_between) / (ss_within / df_within)
    return AnovaResult(
        groups=tuple(summaries),
        ss_between=ss_between,
        ss_within=ss_within,
        df_between=df_between,
        df_within=df_within,
        f=float(f),
        p_value=float(stats.f.sf(f, df_between, df_within)),
        f_crit=float(stats.f.isf(alpha, df_between, df_within)),
        alpha=alpha,
    )


def check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise StatsInputError(f"alpha must lie strictly between 0 and 1; got {alpha}")
