"""From a results table to the tables on disk: names, layouts, values, verdict, summary, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from scipy import stats
from stats_helpers import synthetic_metrics
from typer.testing import CliRunner

from iotscope.cli.stats import stats_command
from iotscope.stats import StatsInputError, write_tables
from iotscope.stats.tables import format_cell, to_markdown


@pytest.fixture(scope="module")
def metrics() -> pd.DataFrame:
    return synthetic_metrics(runs=8, folds=20)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory, metrics: pd.DataFrame) -> Path:
    root = tmp_path_factory.mktemp("stats")
    metrics.to_parquet(root / "metrics.parquet")
    write_tables(root / "metrics.parquet", root / "tables", alpha=0.01)
    return root / "tables"


def csv(out: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(out / f"{name}.csv", keep_default_na=False, dtype=str)


def test_every_paper_table_is_written(written: Path) -> None:
    names = json.loads((written / "summary.json").read_text())["tables"]
    expected = {
        "cv_accuracy_anova",
        "cv_accuracy_ttest_cnn2d_vs_cnn1d",
        "cv_accuracy_ttest_cnn2d_vs_mwcnn1d",
        "cv_accuracy_ttest_cnn1d_vs_mwcnn1d",
        "packets_accuracy_anova",
        "packets_accuracy_ttest_cnn1d_vs_mwcnn1d",
        "packets_accuracy_cnn1d_anova",
        "packets_accuracy_cnn2d_anova",
        "packets_accuracy_mwcnn1d_anova",
        "packets_accuracy_cnn1d_from230_anova",
        "packets_loss_cnn1d_from230_anova",
        "packets_loss_anova",
        "packets_loss_ttest_cnn2d_vs_cnn1d",
        "packets_fit_seconds_n298_anova",
        "packets_fit_seconds_n298_ttest_cnn1d_vs_mwcnn1d",
        "packets_critical",
        "cv_accuracy_pairwise",
        "cv_accuracy_bayesian",
        "cv_accuracy_tukey",
        "packets_accuracy_nemenyi",
        "packets_budgets_friedman",
        "anova_overview",
        "verdict",
    }
    assert expected <= set(names)
    for name in names:
        assert (written / f"{name}.csv").is_file() and (written / f"{name}.md").is_file()
    assert "skipped" not in names
    assert not list(written.glob(".*.tmp"))


def test_no_table_holds_nan_or_inf(written: Path) -> None:
    for path in written.glob("*.csv"):
        text = path.read_text().lower()
        assert "nan" not in text and "inf" not in text, path.name


def test_ttest_table_layout_and_values(written: Path, metrics: pd.DataFrame) -> None:
    table = csv(written, "cv_accuracy_ttest_cnn2d_vs_cnn1d").set_index("Statistics")
    assert list(table.index) == [
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
    ]
    assert list(table.columns) == ["2D-CNN", "1D-CNN"]
    cv = metrics[metrics["experiment"] == "cv"]
    a = cv.loc[cv["model"] == "cnn2d", "accuracy"]
    b = cv.loc[cv["model"] == "cnn1d", "accuracy"]
    reference = stats.ttest_ind(a, b)
    assert float(table.loc["t Stat", "2D-CNN"]) == pytest.approx(reference.statistic, rel=1e-12)
    assert float(table.loc["P(T<=t) two-tail", "2D-CNN"]) == pytest.approx(reference.pvalue)
    assert table.loc["Observations", "1D-CNN"] == "20"
    assert table.loc["df", "2D-CNN"] == "38"
    assert float(table.loc["t Critical two-tail", "2D-CNN"]) == pytest.approx(
        stats.t.isf(0.005, 38)
    )
    assert table.loc["df", "1D-CNN"] == ""


def test_anova_on_per_budget_means(written: Path, metrics: pd.DataFrame) -> None:
    """Table 3.1 is on one mean per budget, as the paper did: df within = 3 * (7 - 1)."""
    table = csv(written, "packets_accuracy_anova")
    assert list(table.columns) == [
        "Source of Variation",
        "SS",
        "df",
        "MS",
        "F",
        "P-value",
        "F crit",
    ]
    assert list(table["df"]) == ["2", "18"]
    packets = metrics[metrics["experiment"] == "packets"]
    means = packets.groupby(["model", "n_packets"])["accuracy"].mean()
    reference = stats.f_oneway(*(means.loc[m] for m in ("cnn2d", "cnn1d", "mwcnn1d")))
    assert float(table.loc[0, "F"]) == pytest.approx(reference.statistic)
    groups = csv(written, "packets_accuracy_anova_groups")
    assert list(groups["Groups"]) == ["2D-CNN", "1D-CNN", "MW-1D-CNN"]
    assert list(groups["Count"]) == ["7", "7", "7"]


def test_critical_counts_and_threshold_anova(written: Path) -> None:
    critical = csv(written, "packets_critical")
    anova = critical[(critical["test"] == "ANOVA") & (critical["metric"] == "accuracy")]
    by_model = dict(
        zip(anova["model"], zip(anova["status"], anova["critical n"], strict=True), strict=True)
    )
    assert by_model["1D-CNN"] == ("found", "230")
    assert by_model["2D-CNN"] == ("below_smallest_tested", "")
    from230 = csv(written, "packets_accuracy_cnn1d_from230_anova")
    assert list(from230["df"])[0] == "4"
    scan = csv(written, "packets_critical_scan")
    steps = scan[
        (scan["model"] == "1D-CNN") & (scan["metric"] == "accuracy") & (scan["test"] == "ANOVA")
    ]
    assert list(steps["from n"]) == ["200", "210", "230"]
    assert float(steps.iloc[-1]["p"]) == pytest.approx(float(from230.loc[0, "P-value"]))


def test_corrected_tests_are_weaker_than_the_paper_style_ones(written: Path) -> None:
    pairwise = csv(written, "cv_accuracy_pairwise")
    ratio = pairwise["n_test/n_train"].astype(float)
    assert np.allclose(ratio, 1 / 19)
    assert (pairwise["corrected p"].astype(float) >= 0).all()
    paired_se = pairwise["corrected CI95 high"].astype(float) - pairwise[
        "corrected CI95 low"
    ].astype(float)
    assert (paired_se > 0).all()
    bayes = csv(written, "cv_accuracy_bayesian")
    totals = bayes[["P(a > b)", "P(equivalent)", "P(b > a)"]].astype(float).sum(axis=1)
    assert np.allclose(totals, 1.0)


def test_verdict_and_summary(written: Path) -> None:
    verdict = csv(written, "verdict")
    assert set(verdict["Outcome"]) <= {
        "survives",
        "does not survive",
        "no difference under either test",
        "difference only under the corrected test",
        "reversed",
        "same",
        "differs",
    }
    row = verdict[verdict["Comparison"] == "run time: 1D-CNN vs MW-1D-CNN"].iloc[0]
    assert row["Conclusion"] == "1D-CNN better than MW-1D-CNN"
    assert row["Outcome"] == "survives"
    summary = json.loads((written / "summary.json").read_text())
    assert summary["alpha"] == 0.01
    assert summary["critical_packets"]["cnn1d"]["accuracy"]["n"] == 230
    assert summary["critical_packets"]["cnn2d"]["accuracy"]["status"] == "below_smallest_tested"
    run_times = summary["run_times"]
    assert run_times["fastest"] == "cnn1d"
    assert run_times["ratio_to_fastest"]["mwcnn1d"] == pytest.approx(
        run_times["mean_seconds"]["mwcnn1d"] / run_times["mean_seconds"]["cnn1d"]
    )
    cv = summary["comparisons"]["cv_accuracy"]
    assert cv["best"] == "cnn1d"
    assert {"p_pooled", "p_welch", "p_corrected_holm", "bayesian"} <= set(cv["pairs"][2])
    assert summary["comparisons"]["packets_fit_seconds_n298"]["winner"] == "cnn1d"


def test_degenerate_experiment_is_skipped_with_its_reason(tmp_path: Path) -> None:
    table = synthetic_metrics(runs=1, folds=5)
    missing = (table["experiment"] == "cv") & (table["model"] == "mwcnn1d") & (table["fold"] == 3)
    table[~missing].to_parquet(tmp_path / "metrics.parquet")
    paths = write_tables(tmp_path / "metrics.parquet", tmp_path / "out")
    skipped = csv(tmp_path / "out", "skipped")
    reasons = dict(zip(skipped["table"], skipped["reason"], strict=True))
    assert (
        "model 'mwcnn1d' has no accuracy for fold(s) [3]" in reasons["cv_accuracy corrected tests"]
    )
    assert "has 1 observation" in reasons["packets_accuracy_cnn1d_anova"]
    names = {p.stem for p in paths}
    assert "cv_accuracy_anova" in names and "packets_accuracy_anova" in names
    assert "cv_accuracy_bayesian" not in names
    for path in (tmp_path / "out").glob("*.csv"):
        assert "nan" not in path.read_text().lower(), path.name


def test_write_tables_rejects_a_missing_model(tmp_path: Path) -> None:
    synthetic_metrics(runs=2, folds=3).to_parquet(tmp_path / "metrics.parquet")
    with pytest.raises(StatsInputError, match="cnn3d"):
        write_tables(tmp_path / "metrics.parquet", tmp_path / "out", models=["cnn3d"])


def test_cli(tmp_path: Path) -> None:
    table = synthetic_metrics(runs=2, folds=4)
    table[table["experiment"] == "cv"].to_parquet(tmp_path / "metrics.parquet")
    cli = typer.Typer()
    cli.command("stats")(stats_command)
    cli.callback()(lambda: None)
    runner = CliRunner()
    help_text = runner.invoke(cli, ["stats", "--help"]).output
    assert "--alpha" in help_text and "results/metrics.parquet" in help_text
    out = tmp_path / "tables"
    args = ["stats", str(tmp_path / "metrics.parquet"), "--out", str(out), "--alpha", "0.05"]
    result = runner.invoke(cli, [*args, "--no-bayesian"])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output
    assert json.loads((out / "summary.json").read_text())["alpha"] == 0.05
    assert not (out / "cv_accuracy_bayesian.csv").exists()
    bad = runner.invoke(cli, [*args, "--model", "cnn3d"])
    assert bad.exit_code == 2 and "cnn3d" in bad.output


def test_markdown_formatting() -> None:
    assert format_cell(2.0243941639) == "2.024394"
    assert format_cell(38) == "38" and format_cell(38.0) == "38"
    assert format_cell(1.1292759567e-307) == "1.129276e-307"
    assert format_cell(None) == "" and format_cell(float("nan")) == ""
    text = to_markdown(pd.DataFrame({"a": ["x|y"], "b": [0.5]}), "Caption")
    assert text.splitlines() == ["*Caption*", "", "| a | b |", "|---|---|", "| x\\|y | 0.5 |"]
