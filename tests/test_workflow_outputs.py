"""The workflow's own library code: the metrics table, Tables 1.2-1.3, the figures, summary.md."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from iotscope.aggregate import (
    MetricsError,
    hours_minutes_seconds,
    metrics_table,
    optimized_tables,
    write_metrics_table,
)
from iotscope.metrics import classification_metrics
from iotscope.plots import (
    balanced_weights,
    metric_vs_packets,
    precision_recall,
    roc_curve,
    save_figure,
    write_curve_figures,
)
from iotscope.report import format_p, summary_markdown

# A model's true skill: the better model separates the classes more.
SKILL = {"cnn2d": 1.0, "cnn1d": 2.5}


def predictions(model: str, seed: int, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    label = (rng.random(n) < 0.3).astype(np.int8)
    score = rng.normal(label * SKILL[model], 1.0)
    return pd.DataFrame(
        {
            "host": [f"10.0.0.{i}" for i in range(n)],
            "label": label,
            "p_iot": 1 / (1 + np.exp(-score)),
        }
    )


def record(model: str, experiment: str, seed: int, **keys: object) -> dict[str, object]:
    frame = predictions(model, seed)
    n_packets = keys.pop("n_packets", 30)
    return {
        "experiment": experiment,
        "model": model,
        "n_packets": n_packets,
        "run": keys.get("run"),
        "fold": keys.get("fold"),
        "seed": seed,
        "epochs": 1,
        "hyperparameters": {"filters": 32, "dropout": 0.2},
        "class_weight": "balanced",
        "precision_mode": "fp32",
        "device": "cpu",
        **classification_metrics(frame["label"].to_numpy(), frame["p_iot"].to_numpy()),
        "n_train": 1600,
        "n_eval": len(frame),
        "fit_seconds": 10.0 * (1 + (model == "cnn2d")) * n_packets / 30 + seed % 3,
        "eval_seconds": 0.1,
        "versions": {"torch": "2.13.0"},
        "evaluation": "test" if keys.get("fold") is None else keys["fold"],
    }


@pytest.fixture
def metrics_dir(tmp_path: Path) -> Path:
    seed = 0
    for model in SKILL:
        records = [record(model, "optimized", seed)]
        for n in (20, 30):
            for run in range(3):
                seed += 1
                records.append(record(model, "packets", seed, n_packets=n, run=run))
        for fold in range(3):
            seed += 1
            records.append(record(model, "cv", seed, fold=fold))
        for i, rec in enumerate(records):
            path = tmp_path / "runs" / model / str(i) / "metrics.json"
            path.parent.mkdir(parents=True)
            path.write_text(json.dumps(rec))
    return tmp_path


def test_metrics_table_is_tidy(metrics_dir: Path, tmp_path: Path) -> None:
    paths = sorted(metrics_dir.glob("runs/**/metrics.json"))
    out = tmp_path / "metrics.parquet"
    assert write_metrics_table(paths, out) == len(paths) == 2 * (1 + 6 + 3)
    table = pd.read_parquet(out)
    assert list(table["experiment"].drop_duplicates()) == ["optimized", "packets", "cv"]
    assert json.loads(table.loc[0, "hyperparameters"]) == {"dropout": 0.2, "filters": 32}
    assert json.loads(table.loc[0, "versions"]) == {"torch": "2.13.0"}
    assert json.loads(table.loc[0, "confusion"])[0][0] >= 0
    assert str(table["run"].dtype) == "Int64" and table["run"].isna().sum() == 2 + 6
    assert table["fold"].dropna().astype(int).tolist() == [0, 1, 2, 0, 1, 2]
    assert set(table["evaluation"]) == {"test", "0", "1", "2"}


def test_metrics_table_rejects_a_broken_file(tmp_path: Path) -> None:
    bad = tmp_path / "metrics.json"
    bad.write_text(json.dumps({"experiment": "packets", "model": "cnn1d"}))
    with pytest.raises(MetricsError, match=r"metrics.json: missing key\(s\) \['n_packets'"):
        metrics_table([bad])
    bad.write_text("{")
    with pytest.raises(MetricsError, match="cannot read metrics"):
        metrics_table([bad])


def test_optimized_tables_follow_the_paper(metrics_dir: Path) -> None:
    table = metrics_table(sorted(metrics_dir.glob("runs/**/metrics.json")))
    runtime, scores = optimized_tables(table, ["cnn2d", "cnn1d"])
    assert list(runtime["Model"]) == ["2D-CNN", "1D-CNN"]
    assert list(runtime.columns) == [
        "Model",
        "Time (H:M:S)",
        "Seconds",
        "Loss",
        "Accuracy",
        "AUC-ROC",
    ]
    assert runtime["AUC-ROC"].iloc[1] > runtime["AUC-ROC"].iloc[0]
    assert list(runtime["Time (H:M:S)"]) == ["0:00:20", "0:00:10"]
    optimized = table[table["experiment"] == "optimized"].set_index("model")
    assert scores["Precision"].iloc[1] == round(optimized.loc["cnn1d", "precision_weighted"], 2)
    with pytest.raises(MetricsError, match=r"no optimized run for model\(s\) \['mwcnn1d'\]"):
        optimized_tables(table, ["cnn1d", "mwcnn1d"])


def test_hours_minutes_seconds() -> None:
    assert hours_minutes_seconds(16851) == "4:40:51"
    assert hours_minutes_seconds(59.6) == "0:01:00"


def test_figures_are_svg(metrics_dir: Path, tmp_path: Path) -> None:
    table = metrics_table(sorted(metrics_dir.glob("runs/**/metrics.json")))
    figure = metric_vs_packets(table, "accuracy", ["cnn2d", "cnn1d"])
    assert [t.get_text() for t in figure.axes[0].get_legend().get_texts()] == ["2D-CNN", "1D-CNN"]
    save_figure(figure, tmp_path / "accuracy.svg")
    assert (tmp_path / "accuracy.svg").read_text().lstrip().startswith("<?xml")
    frame = predictions("cnn1d", 0)
    frame.to_parquet(tmp_path / "predictions.parquet")
    paths = {name: tmp_path / f"{name}.svg" for name in ("roc", "roc_zoom", "pr", "pr_weighted")}
    write_curve_figures(tmp_path / "predictions.parquet", "cnn1d", paths)
    assert all(path.stat().st_size > 5000 for path in paths.values())
    zoomed = roc_curve(frame, "cnn1d", zoom=True)
    assert zoomed.axes[0].get_xlim() == (0.0, 0.2)
    with pytest.raises(ValueError, match="metric must be one of"):
        metric_vs_packets(table, "f2")


def test_weighted_precision_recall_counts_both_classes_equally() -> None:
    y = np.array([1, 0, 0, 0])
    weights = balanced_weights(y)
    assert weights[y == 1].sum() == pytest.approx(weights[y == 0].sum())
    frame = predictions("cnn2d", 1)
    weighted = precision_recall(frame, "cnn2d", weighted=True)
    chance = weighted.axes[0].lines[-1].get_ydata()[0]
    assert chance == pytest.approx(0.5)
    with pytest.raises(ValueError, match="both classes"):
        roc_curve(frame.assign(label=1), "cnn2d")


def test_format_p() -> None:
    assert format_p(3.85e-4) == "p = 3.85e-04"
    assert format_p(0.2441) == "p = 0.244"
    assert format_p(None) == "p not computed"


def test_summary_reads_like_a_results_section(metrics_dir: Path, tmp_path: Path) -> None:
    from iotscope.stats.pipeline import write_tables

    paths = sorted(metrics_dir.glob("runs/**/metrics.json"))
    write_metrics_table(paths, tmp_path / "metrics.parquet")
    write_tables(tmp_path / "metrics.parquet", tmp_path / "statistics", alpha=0.01)
    summary = json.loads((tmp_path / "statistics" / "summary.json").read_text())
    metrics = pd.read_parquet(tmp_path / "metrics.parquet")
    text = summary_markdown(metrics, summary, ["cnn1d", "cnn2d"], 0.01)
    assert text.startswith("# Results")
    assert "20 training jobs compared the 2D-CNN and 1D-CNN" in text
    assert "## Optimized models" in text and "## Cross-validation" in text
    assert "## Packet restriction" in text and "## Run time" in text
    assert "The optimized 1D-CNN is the most accurate" in text
    cv_means = metrics[metrics["experiment"] == "cv"].groupby("model")["accuracy"].mean()
    assert f"1D-CNN {100 * cv_means['cnn1d']:.2f}" in text
    assert "the 2D-CNN takes 1.91 times as long (21.0 s)" in text
    assert "Critical packet counts (accuracy)" in text
