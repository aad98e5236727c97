"""The critical packet count: how far a model's input can be cut before its score changes.

The paper defines it as the smallest packet budget n such that a one-way ANOVA over all tested
budgets >= n finds no significant difference (its 1D-CNN: significant over 200-298, not over
230-298, so 230; "the 1D-CNN retains its max performance until it is restricted to less than 230
packets"). When even the ANOVA over every tested budget is not significant, the paper says the
critical value "lies below the 200 packet minimum tested"; when the two largest budgets still
differ, there is none within the tested range.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from iotscope.stats.anova import one_way_anova
from iotscope.stats.errors import StatsInputError
from iotscope.stats.posthoc import friedman

Status = Literal["found", "below_smallest_tested", "not_found"]


@dataclass(frozen=True)
class ScanStep:
    from_n: int
    lengths: tuple[int, ...]
    statistic: float
    p_value: float
    significant: bool


@dataclass(frozen=True)
class CriticalCount:
    status: Status
    n: int | None
    tested: tuple[int, ...]
    alpha: float
    scan: tuple[ScanStep, ...]

    @property
    def message(self) -> str:
        if self.status == "found":
            smaller = self.tested[self.tested.index(self.n) - 1]
            return (
                f"{self.n}: no significant difference over the budgets {self.n}-{self.tested[-1]}, "
                f"a significant one once {smaller} is included (the score holds down to {self.n})"
            )
        if self.status == "below_smallest_tested":
            return (
                f"below the smallest tested ({self.tested[0]}): no significant difference over "
                f"every tested budget {self.tested[0]}-{self.tested[-1]}"
            )
        return (
            f"none found: even the two largest budgets ({self.tested[-2]}, {self.tested[-1]}) "
            "differ significantly"
        )


def anova_p_value(groups: dict[str, np.ndarray], alpha: float) -> tuple[float, float]:
    result = one_way_anova(groups, alpha=alpha)
    return result.f, result.p_value


def critical_packet_count(
    samples_by_length: Mapping[int, Sequence[float] | np.ndarray],
    *,
    alpha: float = 0.01,
    test: Callable[[dict[str, np.ndarray], float], tuple[float, float]] = anova_p_value,
) -> CriticalCount:
    """Scan n over the tested budgets from the smallest up; stop at the first non-significant test.

    ``test(groups, alpha) -> (statistic, p_value)`` is the paper's one-way ANOVA by default; any
    k-sample test fits (the Friedman variant passes blocks aligned by run).
    """
    tested = tuple(sorted(int(n) for n in samples_by_length))
    if len(tested) < 2:
        raise StatsInputError(
            f"a critical packet count needs at least 2 tested budgets; got {list(tested)}"
        )
    steps: list[ScanStep] = []
    for i, start in enumerate(tested[:-1]):
        lengths = tested[i:]
        groups = {str(n): np.asarray(samples_by_length[n], dtype=float) for n in lengths}
        statistic, p_value = test(groups, alpha)
        steps.append(ScanStep(start, lengths, statistic, p_value, p_value < alpha))
        if p_value >= alpha:
            status: Status = "found" if i > 0 else "below_smallest_tested"
            return CriticalCount(status, start if i > 0 else None, tested, alpha, tuple(steps))
    return CriticalCount("not_found", None, tested, alpha, tuple(steps))


def rank_test_p_value(groups: dict[str, np.ndarray], alpha: float) -> tuple[float, float]:
    """Rank-based counterpart of the ANOVA for budgets measured in the same runs.

    ``groups`` hold run-aligned scores (NaN where a run is missing). Three or more budgets: the
    Friedman test over complete runs; two budgets: the Wilcoxon signed-rank test, which is what
    Friedman's test becomes for paired samples.
    """
    frame = pd.DataFrame(groups)
    if frame.shape[1] >= 3:
        result = friedman(frame, alpha=alpha)
        return result.statistic, result.p_value
    complete = frame.dropna()
    first, second = complete.iloc[:, 0], complete.iloc[:, 1]
    if len(complete) < 2 or not (first != second).any():
        raise StatsInputError(
            f"budgets {list(frame.columns)}: the signed-rank test needs at least 2 runs with "
            f"differing scores; {len(complete)} complete run(s)"
        )
    result = stats.wilcoxon(first, second)
    return float(result.statistic), float(result.pvalue)
