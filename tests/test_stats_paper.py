"""The paper's own tables, recomputed from the summaries it prints.

Its t-test tables print Mean, Variance and Observations of both groups; its ANOVA tables 2.1, 3.1,
3.13 and 3.17 are computed from the same groups as the t-tests beside them. Values must match
within the rounding of the printed inputs; critical values depend only on df and alpha and must
match every printed digit. The paper's critical values are at Excel's default alpha of 0.05.
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest

from iotscope.stats import GroupSummary, one_way_anova, ttest_from_summaries

EXCEL_ALPHA = 0.05


def half_unit(printed: str) -> float:
    """Half a unit in the last printed digit, relative to the printed value."""
    exponent = Decimal(printed).as_tuple().exponent
    return 0.5 * 10.0**exponent / abs(float(printed))


def assert_matches(value: float, printed: str, input_rel: float) -> None:
    """Equal within the printed value's own rounding plus the rounding of the printed inputs."""
    assert value == pytest.approx(float(printed), rel=input_rel + half_unit(printed)), printed


def assert_digits(value: float, printed: str) -> None:
    """Every printed digit of a critical value is reproduced."""
    decimals = -Decimal(printed).as_tuple().exponent
    assert f"{value:.{decimals}f}" == printed


# name: (group a, group b, printed results, relative rounding of the printed inputs)
TTESTS = {
    "2.2": (
        ("1D-CNN", 87.657324, 0.4505833, 20),
        ("MW-1D-CNN", 88.12240869, 0.608334905, 20),
        ("0.5294591", "38", "-2.021229", "0.0251708", "1.6859545", "0.0503415", "2.0243942"),
        1e-5,
    ),
    "2.3": (
        ("2D-CNN", 86.09908, 0.670175, 20),
        ("MW-1D-CNN", 88.12241, 0.608335, 20),
        ("0.639255", "38", "-8.00256", "5.65E-10", "1.685954", "1.13E-09", "2.024394"),
        1e-5,
    ),
    "2.4": (
        ("2D-CNN", 86.099083, 0.6701747, 20),
        ("1D-CNN", 87.657324, 0.4505833, 20),
        ("0.560379", "38", "-6.582545", "4.54E-08", "1.6859545", "9.08E-08", "2.0243942"),
        1e-5,
    ),
    "3.2": (
        ("2D-CNN", 87.137181, 0.0691105, 7),
        ("1D-CNN", 89.11694, 0.0221371, 7),
        ("0.0456238", "12", "-17.340053", "3.665E-10", "1.7822876", "7.33E-10", "2.1788128"),
        1e-5,
    ),
    "3.3": (
        ("2D-CNN", 87.137181, 0.0691105, 7),
        ("MW-1D-CNN", 88.70809999, 0.01128405, 7),
        ("0.0401973", "12", "-14.65849", "2.528E-09", "1.7822876", "5.056E-09", "2.1788128"),
        1e-5,
    ),
    "3.4": (
        ("1D-CNN", 89.11694, 0.0221371, 7),
        ("MW-1D-CNN", 88.70809999, 0.01128405, 7),
        ("0.0167106", "12", "5.916864", "3.533E-05", "1.7822876", "7.066E-05", "2.1788128"),
        1e-5,
    ),
    "3.14": (
        ("2D-CNN", 85.27987, 5.451045, 49),
        ("MW-1D-CNN", 622.2422, 3.80609, 49),
        ("4.628567", "96", "-1235.39", "8.8E-204", "1.660881", "1.8E-203", "1.984984"),
        1e-5,
    ),
    "3.15": (
        ("1D-CNN", 75.35611, 1.650183, 49),
        ("MW-1D-CNN", 622.2422, 3.80609, 49),
        ("2.728137", "96", "-1638.88", "1.4E-215", "1.660881", "2.9E-215", "1.984984"),
        1e-5,
    ),
    "3.16": (
        ("1D-CNN", 75.35611, 1.650183, 49),
        ("2D-CNN", 85.27987, 5.451045, 49),
        ("3.550614", "96", "-26.068", "1.22E-45", "1.660881", "2.43E-45", "1.984984"),
        1e-5,
    ),
    # The loss tables print variances to 3 significant digits only.
    "3.18": (
        ("2D-CNN", 0.286406, 0.000409, 7),
        ("MW-1D-CNN", 0.271895, 8.8e-06, 7),
        ("0.000209", "12", "1.877485", "0.042483", "1.782288", "0.084965", "2.178813"),
        5e-3,
    ),
    "3.19": (
        ("2D-CNN", 0.286406, 0.000409, 7),
        ("1D-CNN", 0.254607, 5.53e-06, 7),
        ("0.000207", "12", "4.130466", "0.000697", "1.782288", "0.001394", "2.178813"),
        5e-3,
    ),
    "3.20": (
        ("1D-CNN", 0.254607, 5.53e-06, 7),
        ("MW-1D-CNN", 0.271895, 8.8e-06, 7),
        ("7.16E-06", "12", "-12.0832", "2.24E-08", "1.782288", "4.48E-08", "2.178813"),
        5e-3,
    ),
}


def test_table_2_2_exactly_as_the_brief_states() -> None:
    result = ttest_from_summaries(
        GroupSummary("1D-CNN", 87.657324, 0.4505833, 20),
        GroupSummary("MW-1D-CNN", 88.12240869, 0.608334905, 20),
        alpha=EXCEL_ALPHA,
    )
    assert result.pooled_variance == pytest.approx(0.5294591, rel=1e-5)
    assert result.df == 38
    assert result.t == pytest.approx(-2.021229, rel=1e-5)
    assert result.p_two_tail == pytest.approx(0.0503415, rel=1e-5)
    assert round(result.t_crit_two_tail, 7) == 2.0243942
    table = result.table().set_index("Statistics")
    assert list(table.columns) == ["1D-CNN", "MW-1D-CNN"]
    assert table.loc["Observations", "MW-1D-CNN"] == 20
    assert table.loc["t Stat", "1D-CNN"] == result.t
    assert table.loc["Hypothesized Mean Difference", "1D-CNN"] == 0


@pytest.mark.parametrize("name", TTESTS)
def test_paper_ttest_tables(name: str) -> None:
    a, b, printed, input_rel = TTESTS[name]
    result = ttest_from_summaries(GroupSummary(*a), GroupSummary(*b), alpha=EXCEL_ALPHA)
    pooled, df, t, p_one, crit_one, p_two, crit_two = printed
    assert_matches(result.pooled_variance, pooled, input_rel)
    assert result.df == int(df)
    assert_matches(result.t, t, input_rel)
    assert_matches(result.p_one_tail, p_one, input_rel * abs(result.t))
    assert_matches(result.p_two_tail, p_two, input_rel * abs(result.t))
    assert_digits(result.t_crit_one_tail, crit_one)
    assert_digits(result.t_crit_two_tail, crit_two)


def groups_of(*tables_and_sides: tuple[str, int]) -> list[GroupSummary]:
    return [GroupSummary(*TTESTS[name][side]) for name, side in tables_and_sides]


# ANOVA: the groups (taken from the t-tests over the same data) and the printed Between row.
ANOVAS = {
    "2.1": (
        groups_of(("2.4", 0), ("2.4", 1), ("2.2", 1)),
        ("44.92178", "32.85276", "2", "57", "38.96996", "2.15E-11", "3.158843"),
        1e-5,
    ),
    "3.1": (
        groups_of(("3.2", 0), ("3.2", 1), ("3.3", 1)),
        ("15.29355", "0.61519", "2", "18", "223.7389", "1.934E-13", "3.554557"),
        1e-5,
    ),
    "3.13": (
        groups_of(("3.14", 0), ("3.15", 0), ("3.14", 1)),
        ("9596021", "523.5513", "2", "144", "1319667", "1.1E-307", "3.058928"),
        1e-5,
    ),
    "3.17": (
        groups_of(("3.18", 0), ("3.19", 1), ("3.18", 1)),
        ("0.003548", "0.002542", "2", "18", "12.56164", "0.000385", "3.554557"),
        5e-3,
    ),
}


@pytest.mark.parametrize("name", ANOVAS)
def test_paper_anova_tables_from_their_groups(name: str) -> None:
    groups, printed, input_rel = ANOVAS[name]
    result = one_way_anova(groups, alpha=EXCEL_ALPHA)
    ss_b, ss_w, df_b, df_w, f, p, f_crit = printed
    assert_matches(result.ss_between, ss_b, input_rel)
    assert_matches(result.ss_within, ss_w, input_rel)
    assert (result.df_between, result.df_within) == (int(df_b), int(df_w))
    assert_matches(result.f, f, input_rel)
    # p moves ~ (df_between / 2) * F * rel(F) in relative terms far in the tail
    assert_matches(result.p_value, p, input_rel * result.f)
    assert_digits(result.f_crit, f_crit)
    table = result.table()
    assert list(table["Source of Variation"]) == ["Between Groups", "Within Groups"]
    assert table.loc[0, "MS"] == pytest.approx(result.ss_between / result.df_between)


def groups_with_sums(counts: list[int], ss_between: float, ss_within: float) -> list[GroupSummary]:
    """Groups of the given sizes whose sums of squares are exactly the printed ones."""
    n = np.array(counts, dtype=float)
    z = np.arange(len(counts), dtype=float)
    z -= (n * z).sum() / n.sum()
    scale = math.sqrt(ss_between / (n * z**2).sum())
    variance = ss_within / (n.sum() - len(counts))
    return [
        GroupSummary(str(i), 0.88 + scale * z[i], variance, counts[i]) for i in range(len(counts))
    ]


# Tables that print only the ANOVA block: df (hence group sizes), SS, F, P-value, F crit.
ANOVA_BLOCKS = {
    "3.5": ([49] * 7, "6.4888779", "53.883417", "6.743766", "9.25E-07", "2.12559"),
    "3.6": ([49] * 5, "1.513631", "37.488241", "2.422569", "0.048949", "2.40926"),
    "3.7": ([43] * 7, "17.68199", "652.2421", "1.328368", "0.244222", "2.129473"),
    "3.8": ([48] * 6 + [50], "3.25316", "124.0169", "1.447109", "0.19596", "2.126001"),
    "3.9": ([49] * 7, "0.001626", "0.024618", "3.697693", "0.001424", "2.125591"),
    "3.10": ([49] * 5, "0.000154", "0.021116", "0.438458", "0.780756", "2.409257"),
    "3.11": ([43] * 7, "0.107511", "5.448758", "0.966834", "0.447881", "2.129473"),
    "3.12": ([48] * 6 + [50], "0.002552", "0.120533", "1.167848", "0.323101", "2.126001"),
}


@pytest.mark.parametrize("name", ANOVA_BLOCKS)
def test_paper_anova_blocks(name: str) -> None:
    counts, ss_b, ss_w, f, p, f_crit = ANOVA_BLOCKS[name]
    result = one_way_anova(groups_with_sums(counts, float(ss_b), float(ss_w)), alpha=EXCEL_ALPHA)
    input_rel = half_unit(ss_b) + half_unit(ss_w)
    assert_matches(result.f, f, input_rel)
    assert_matches(result.p_value, p, input_rel * result.f * len(counts))
    assert_digits(result.f_crit, f_crit)


def test_paper_alpha_matters_for_table_3_6() -> None:
    """Table 3.6 is not significant at the paper's 0.01 but would be at its printed 0.05."""
    groups = groups_with_sums([49] * 5, 1.513631, 37.488241)
    assert not one_way_anova(groups, alpha=0.01).significant
    at_05 = one_way_anova(groups, alpha=0.05)
    assert at_05.significant and at_05.f > at_05.f_crit
