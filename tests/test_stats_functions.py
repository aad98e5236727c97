"""Every statistic against scipy, statsmodels, scikit-posthocs or baycomp on random data."""

from __future__ import annotations

import baycomp
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.formula.api import ols
from statsmodels.stats.multicomp import pairwise_tukeyhsd
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from iotscope.stats import (
    GroupSummary,
    bayesian_correlated_ttest,
    critical_packet_count,
    friedman,
    holm,
    nadeau_bengio_ttest,
    one_way_anova,
    tukey_hsd,
    two_sample_ttest,
)
from iotscope.stats.critical import rank_test_p_value


@pytest.fixture(params=[0, 1, 2])
def rng(request: pytest.FixtureRequest) -> np.random.Generator:
    return np.random.default_rng(request.param)


def random_groups(rng: np.random.Generator, k: int = 4) -> dict[str, np.ndarray]:
    sizes = rng.integers(5, 30, size=k)
    return {
        f"g{i}": rng.normal(0.85 + 0.01 * i, 0.02 * (i + 1), size=n) for i, n in enumerate(sizes)
    }


def test_anova_matches_scipy_and_statsmodels(rng: np.random.Generator) -> None:
    groups = random_groups(rng)
    result = one_way_anova(groups, alpha=0.01)
    reference = stats.f_oneway(*groups.values())
    assert result.f == pytest.approx(reference.statistic, rel=1e-10)
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    frame = pd.DataFrame(
        [(name, v) for name, values in groups.items() for v in values], columns=["g", "y"]
    )
    table = sm.stats.anova_lm(ols("y ~ C(g)", data=frame).fit(), typ=1)
    assert result.ss_between == pytest.approx(table.loc["C(g)", "sum_sq"], rel=1e-9)
    assert result.ss_within == pytest.approx(table.loc["Residual", "sum_sq"], rel=1e-9)
    assert (result.df_between, result.df_within) == (
        table.loc["C(g)", "df"],
        table.loc["Residual", "df"],
    )
    assert result.f_crit == pytest.approx(stats.f.ppf(0.99, result.df_between, result.df_within))
    total = table["sum_sq"].sum()
    assert result.eta_squared == pytest.approx(table.loc["C(g)", "sum_sq"] / total)
    ms_within = table.loc["Residual", "mean_sq"]
    omega = (table.loc["C(g)", "sum_sq"] - result.df_between * ms_within) / (total + ms_within)
    assert result.omega_squared == pytest.approx(omega)


def test_anova_from_summaries_equals_anova_from_samples(rng: np.random.Generator) -> None:
    groups = random_groups(rng)
    summaries = [
        GroupSummary(n, float(v.mean()), float(v.var(ddof=1)), v.size) for n, v in groups.items()
    ]
    a, b = one_way_anova(groups), one_way_anova(summaries)
    assert (a.f, a.p_value, a.ss_between) == pytest.approx((b.f, b.p_value, b.ss_between))


@pytest.mark.parametrize("equal_var", [True, False])
def test_ttest_matches_scipy_and_statsmodels(rng: np.random.Generator, equal_var: bool) -> None:
    x, y = rng.normal(0.88, 0.02, 17), rng.normal(0.87, 0.04, 23)
    result = two_sample_ttest(x, y, equal_var=equal_var, alpha=0.01)
    reference = stats.ttest_ind(x, y, equal_var=equal_var)
    assert result.t == pytest.approx(reference.statistic, rel=1e-10)
    assert result.p_two_tail == pytest.approx(reference.pvalue, rel=1e-9)
    assert result.df == pytest.approx(reference.df, rel=1e-10)
    assert result.p_one_tail == pytest.approx(reference.pvalue / 2, rel=1e-9)
    assert result.t_crit_two_tail == pytest.approx(stats.t.ppf(0.995, reference.df))
    assert result.t_crit_one_tail == pytest.approx(stats.t.ppf(0.99, reference.df))
    interval = CompareMeans(DescrStatsW(x), DescrStatsW(y)).tconfint_diff(
        alpha=0.05, usevar="pooled" if equal_var else "unequal"
    )
    assert result.difference_ci() == pytest.approx(interval, rel=1e-9)
    assert result.difference_ci() == pytest.approx(
        tuple(reference.confidence_interval(0.95)), rel=1e-9
    )


def test_ttest_hypothesized_difference_matches_statsmodels(rng: np.random.Generator) -> None:
    x, y = rng.normal(1.0, 0.2, 12), rng.normal(0.8, 0.2, 12)
    result = two_sample_ttest(x, y, hypothesized_difference=0.1)
    t, p, df = sm.stats.ttest_ind(x, y, value=0.1, usevar="pooled")
    assert (result.t, result.p_two_tail, result.df) == pytest.approx((t, p, df))


def test_cohens_d_and_mean_ci(rng: np.random.Generator) -> None:
    x, y = rng.normal(0.9, 0.03, 15), rng.normal(0.88, 0.01, 11)
    result = two_sample_ttest(x, y)
    pooled_sd = np.sqrt(((14 * x.var(ddof=1)) + 10 * y.var(ddof=1)) / 24)
    assert result.cohens_d == pytest.approx((x.mean() - y.mean()) / pooled_sd)
    summary = GroupSummary.from_sample("x", x)
    assert summary.confidence_interval(0.95) == pytest.approx(
        DescrStatsW(x).tconfint_mean(alpha=0.05)
    )


def test_holm_matches_statsmodels(rng: np.random.Generator) -> None:
    p = rng.uniform(0, 0.2, size=7)
    assert holm(p) == pytest.approx(multipletests(p, method="holm")[1])


def test_tukey_matches_statsmodels(rng: np.random.Generator) -> None:
    groups = random_groups(rng, k=3)
    ours = tukey_hsd(groups)
    values = np.concatenate(list(groups.values()))
    labels = np.repeat(list(groups), [v.size for v in groups.values()])
    reference = pairwise_tukeyhsd(values, labels, alpha=0.05).summary_frame()
    for row in ours.itertuples(index=False):
        pair = reference[
            ((reference["group_t"] == row.a) & (reference["group_c"] == row.b))
            | ((reference["group_t"] == row.b) & (reference["group_c"] == row.a))
        ].iloc[0]
        # statsmodels reports mean(group_t) - mean(group_c); ours is mean(a) - mean(b)
        sign = 1.0 if pair["group_t"] == row.a else -1.0
        low, high = sorted((sign * pair["lower"], sign * pair["upper"]))
        assert row[2] == pytest.approx(sign * pair["meandiff"], rel=1e-9)
        assert row[5] == pytest.approx(pair["p-adj"], abs=2e-3)
        assert (row[3], row[4]) == pytest.approx((low, high), rel=1e-3)


def test_nadeau_bengio_without_correction_is_the_paired_ttest(rng: np.random.Generator) -> None:
    x = rng.normal(0.88, 0.01, 20)
    y = x + rng.normal(0.003, 0.004, 20)
    result = nadeau_bengio_ttest(x, y, test_train_ratio=0.0, alpha=0.01)
    reference = stats.ttest_rel(x, y)
    assert result.t == pytest.approx(reference.statistic, rel=1e-10)
    assert result.p_two_tail == pytest.approx(reference.pvalue, rel=1e-9)


def test_nadeau_bengio_variance_is_baycomps(rng: np.random.Generator) -> None:
    k = 20
    x = rng.normal(0.88, 0.01, k)
    y = x + rng.normal(0.003, 0.004, k)
    result = nadeau_bengio_ttest(x, y, test_train_ratio=1 / (k - 1))
    mean, var, df = baycomp.CorrelatedTTest.compute_statistics(y, x)
    assert result.mean_difference == pytest.approx(mean)
    assert result.standard_error**2 == pytest.approx(var, rel=1e-12)
    assert result.df == df
    # the correction can only widen the interval and weaken the evidence
    plain = nadeau_bengio_ttest(x, y, test_train_ratio=0.0)
    assert result.p_two_tail > plain.p_two_tail


def test_bayesian_correlated_ttest_matches_baycomp(rng: np.random.Generator) -> None:
    k = 10
    x = rng.normal(0.88, 0.01, k)
    y = x + rng.normal(0.004, 0.006, k)
    ours = bayesian_correlated_ttest(x, y, test_train_ratio=1 / (k - 1), rope=0.005)
    left, rope, right = baycomp.CorrelatedTTest.probs(y, x, rope=0.005)
    assert (ours.p_b_greater, ours.p_equivalent, ours.p_a_greater) == pytest.approx(
        (left, rope, right), rel=1e-9
    )


def test_friedman_matches_the_rank_formula(rng: np.random.Generator) -> None:
    blocks = pd.DataFrame(rng.normal(size=(12, 4)) + [0, 0.3, 0.6, 0.1], columns=list("abcd"))
    result = friedman(blocks)
    n, k = blocks.shape
    ranks = blocks.rank(axis=1).sum()
    chi2 = 12 / (n * k * (k + 1)) * (ranks**2).sum() - 3 * n * (k + 1)
    assert result.statistic == pytest.approx(chi2)
    assert result.p_value == pytest.approx(stats.chi2.sf(chi2, k - 1))
    assert result.nemenyi.shape == (4, 4)
    assert list(result.nemenyi.columns) == list("abcd")
    assert np.allclose(result.nemenyi.to_numpy(), result.nemenyi.to_numpy().T)


def test_friedman_drops_incomplete_blocks(rng: np.random.Generator) -> None:
    blocks = pd.DataFrame(rng.normal(size=(10, 3)), columns=["200", "250", "298"])
    blocks.iloc[3, 1] = np.nan
    result = friedman(blocks)
    assert (result.blocks, result.dropped_blocks) == (9, 1)
    complete = friedman(blocks.drop(index=3))
    assert result.statistic == pytest.approx(complete.statistic)


def test_rank_test_for_two_budgets_is_wilcoxon(rng: np.random.Generator) -> None:
    a, b = rng.normal(size=15), rng.normal(0.5, 1, 15)
    statistic, p = rank_test_p_value({"290": a, "298": b}, 0.01)
    assert p == pytest.approx(stats.wilcoxon(a, b).pvalue)


def budgets(effects: dict[int, float], rng: np.random.Generator) -> dict[int, np.ndarray]:
    return {n: rng.normal(0.89 + shift, 0.003, 30) for n, shift in effects.items()}


def test_critical_packet_count_found(rng: np.random.Generator) -> None:
    samples = budgets({200: -0.03, 210: -0.02, 230: 0, 250: 0, 270: 0, 290: 0, 298: 0}, rng)
    count = critical_packet_count(samples, alpha=0.01)
    assert (count.status, count.n) == ("found", 230)
    assert [s.from_n for s in count.scan] == [200, 210, 230]
    assert [s.significant for s in count.scan] == [True, True, False]
    assert count.message.startswith("230")
    assert count.scan[-1].p_value == pytest.approx(
        stats.f_oneway(*(samples[n] for n in (230, 250, 270, 290, 298))).pvalue
    )


def test_critical_packet_count_below_smallest_tested(rng: np.random.Generator) -> None:
    count = critical_packet_count(budgets({200: 0, 250: 0, 298: 0}, rng), alpha=0.01)
    assert (count.status, count.n) == ("below_smallest_tested", None)
    assert "below the smallest tested (200)" in count.message


def test_critical_packet_count_none_found(rng: np.random.Generator) -> None:
    count = critical_packet_count(budgets({200: -0.04, 250: -0.02, 298: 0}, rng), alpha=0.01)
    assert (count.status, count.n) == ("not_found", None)
    assert "none found" in count.message and "(250, 298)" in count.message
    assert len(count.scan) == 2
