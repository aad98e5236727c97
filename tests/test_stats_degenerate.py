"""Input on which a test is undefined gets a clear message, never a table of NaN."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from stats_helpers import synthetic_metrics

from iotscope.stats import (
    GroupSummary,
    StatsInputError,
    critical_packet_count,
    friedman,
    nadeau_bengio_ttest,
    one_way_anova,
    read_metrics,
    ttest_from_summaries,
    tukey_hsd,
    two_sample_ttest,
)


def test_group_with_one_observation() -> None:
    with pytest.raises(StatsInputError, match=r"group '1D-CNN' has 1 observation"):
        one_way_anova({"1D-CNN": [0.9], "2D-CNN": [0.8, 0.85]})
    with pytest.raises(StatsInputError, match=r"'b' has 1 observation"):
        two_sample_ttest([0.9, 0.91], [0.8], names=("a", "b"))
    with pytest.raises(StatsInputError, match="1 observation"):
        GroupSummary("x", 0.9, 0.0, 1)


def test_zero_variance_in_every_group() -> None:
    with pytest.raises(StatsInputError, match="every group has zero variance"):
        one_way_anova({"a": [0.9, 0.9, 0.9], "b": [0.8, 0.8]})
    with pytest.raises(StatsInputError, match="both have zero variance"):
        two_sample_ttest([0.9, 0.9], [0.8, 0.8])
    with pytest.raises(StatsInputError, match="zero variance"):
        tukey_hsd({"a": [1.0, 1.0], "b": [2.0, 2.0]})
    with pytest.raises(StatsInputError, match="differences .* are all equal"):
        nadeau_bengio_ttest([0.9, 0.8, 0.7], [0.8, 0.7, 0.6], test_train_ratio=0.1)
    with pytest.raises(StatsInputError, match="identical values"):
        friedman(pd.DataFrame({"a": [1.0, 2.0], "b": [1.0, 2.0], "c": [1.0, 2.0]}))


def test_one_group_with_zero_variance_is_fine() -> None:
    result = ttest_from_summaries(GroupSummary("a", 1.0, 0.0, 5), GroupSummary("b", 0.9, 0.01, 5))
    assert np.isfinite(result.t) and np.isfinite(result.p_two_tail)


def test_fewer_than_two_groups() -> None:
    with pytest.raises(StatsInputError, match=r"at least 2 groups; got 1 \('only'\)"):
        one_way_anova({"only": [0.9, 0.8]})
    with pytest.raises(StatsInputError, match="got 0"):
        one_way_anova({})
    with pytest.raises(StatsInputError, match="at least 3 treatments"):
        friedman(pd.DataFrame({"a": [1.0, 2.0], "b": [2.0, 1.0]}))
    with pytest.raises(StatsInputError, match="at least 2 tested budgets"):
        critical_packet_count({298: [0.9, 0.91]})


def test_missing_values_and_mismatched_folds() -> None:
    with pytest.raises(StatsInputError, match=r"group 'a' holds 1 missing .* position 1"):
        one_way_anova({"a": [0.9, np.nan, 0.8], "b": [0.8, 0.7]})
    with pytest.raises(StatsInputError, match="'a' has 3 folds, 'b' has 2"):
        nadeau_bengio_ttest([0.9, 0.8, 0.7], [0.8, 0.7], test_train_ratio=0.1, names=("a", "b"))


def test_bad_parameters() -> None:
    with pytest.raises(StatsInputError, match="alpha must lie strictly between 0 and 1; got 1.5"):
        one_way_anova({"a": [1.0, 2.0], "b": [2.0, 3.0]}, alpha=1.5)
    with pytest.raises(StatsInputError, match="test_train_ratio"):
        nadeau_bengio_ttest([0.9, 0.8], [0.8, 0.75], test_train_ratio=-1)


def test_missing_model_in_results_table(tmp_path) -> None:
    path = tmp_path / "metrics.parquet"
    synthetic_metrics(runs=2, folds=3).to_parquet(path)
    with pytest.raises(StatsInputError, match=r"metrics.parquet: model\(s\) \['cnn3d'\] not in"):
        read_metrics(path, models=["cnn1d", "cnn3d"])


def test_bad_results_tables(tmp_path) -> None:
    path = tmp_path / "metrics.parquet"
    with pytest.raises(FileNotFoundError, match="metrics.parquet: results table not found"):
        read_metrics(path)
    table = synthetic_metrics(runs=2, folds=3)
    table.drop(columns="accuracy").to_parquet(path)
    with pytest.raises(StatsInputError, match=r"missing column\(s\) \['accuracy'\]"):
        read_metrics(path)
    table.assign(experiment="tuning").to_parquet(path)
    with pytest.raises(StatsInputError, match=r"unknown value\(s\) \['tuning'\]"):
        read_metrics(path)
    pd.concat([table, table.iloc[[5]]]).to_parquet(path)
    with pytest.raises(StatsInputError, match="duplicated 'packets' rows"):
        read_metrics(path)
    table.loc[table["experiment"] == "cv", "fold"] = pd.NA
    table.to_parquet(path)
    with pytest.raises(StatsInputError, match="'cv' rows need column 'fold'"):
        read_metrics(path)
