"""Post-hoc comparisons controlling the error rate over all pairs, and a rank-based omnibus test."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scikit_posthocs
from scipy import stats

from iotscope.stats.errors import StatsInputError
from iotscope.stats.summary import GroupSummary


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment: controls the family-wise error rate, never less powerful than
    Bonferroni. Returns adjusted p-values in the input order."""
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1 or not np.all((p >= 0) & (p <= 1)):
        raise StatsInputError(f"Holm adjustment needs a 1-D list of p-values in [0, 1]; got {p}")
    m = p.size
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


def tukey_hsd(
    groups: dict[str, Sequence[float] | np.ndarray], *, confidence: float = 0.95
) -> pd.DataFrame:
    """Tukey's honestly significant difference for every pair: one row per pair (a before b)."""
    names = list(groups)
    if len(names) < 2:
        raise StatsInputError(f"Tukey HSD needs at least 2 groups; got {names}")
    for name in names:
        GroupSummary.from_sample(str(name), groups[name])  # validates size and finiteness
    samples = [np.asarray(groups[name], dtype=float).ravel() for name in names]
    if all(np.ptp(s) == 0 for s in samples):
        raise StatsInputError(
            f"every group has zero variance ({', '.join(map(repr, names))}); Tukey HSD is undefined"
        )
    result = stats.tukey_hsd(*samples)
    ci = result.confidence_interval(confidence)
    pct = round(confidence * 100)
    rows = []
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            rows.append(
                {
                    "a": names[i],
                    "b": names[j],
                    "mean difference": float(samples[i].mean() - samples[j].mean()),
                    f"CI{pct} low": float(ci.low[i, j]),
                    f"CI{pct} high": float(ci.high[i, j]),
                    "p adj": float(result.pvalue[i, j]),
                }
            )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class FriedmanResult:
    treatments: tuple[str, ...]
    blocks: int
    dropped_blocks: int
    statistic: float
    p_value: float
    alpha: float
    nemenyi: pd.DataFrame

    @property
    def significant(self) -> bool:
        return self.p_value < self.alpha


def friedman(blocks: pd.DataFrame, *, alpha: float = 0.01) -> FriedmanResult:
    """Friedman test on a blocks x treatments table, with the Nemenyi post-hoc p-value matrix.

    Rows are blocks (e.g. runs, folds), columns are treatments (e.g. packet budgets, models).
    Blocks with a missing treatment are dropped and counted, since the test needs complete blocks.
    """
    if blocks.shape[1] < 3:
        raise StatsInputError(
            f"the Friedman test needs at least 3 treatments; got {list(blocks.columns)}"
        )
    complete = blocks.dropna()
    if len(complete) < 2:
        raise StatsInputError(
            f"the Friedman test needs at least 2 complete blocks; {len(complete)} of "
            f"{len(blocks)} blocks have a value for every treatment {list(blocks.columns)}"
        )
    values = complete.to_numpy(dtype=float)
    if np.all(np.ptp(values, axis=1) == 0):
        raise StatsInputError(
            "every block has identical values across treatments; the Friedman test is undefined"
        )
    statistic, p_value = stats.friedmanchisquare(*values.T)
    nemenyi = scikit_posthocs.posthoc_nemenyi_friedman(values)
    labels = [str(c) for c in complete.columns]
    nemenyi.index = labels
    nemenyi.columns = labels
    return FriedmanResult(
        treatments=tuple(labels),
        blocks=len(complete),
        dropped_blocks=len(blocks) - len(complete),
        statistic=float(statistic),
        p_value=float(p_value),
        alpha=alpha,
        nemenyi=nemenyi,
    )
