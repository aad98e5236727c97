"""The study's figures as pure functions: data in, ``matplotlib.figure.Figure`` out.

Figures 4.1-4.3 of the paper (accuracy, loss and run time against the number of packets, one
line per model with a 95% confidence band over the runs), the cross-validation accuracy per model,
and per optimized model its ROC curve, the ROC curve's top-left corner, the precision-recall curve
and the class-weighted precision-recall curve (Figures 1.1-3.4).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn import metrics as skm  # noqa: E402

from iotscope.io import atomic_path  # noqa: E402
from iotscope.stats.results import display_name as model_label  # noqa: E402

PACKET_METRICS: dict[str, str] = {
    "accuracy": "Accuracy",
    "loss": "Loss (cross-entropy)",
    "fit_seconds": "Training time (s)",
}
ZOOM_FPR = 0.2


def _experiment(
    metrics: pd.DataFrame, experiment: str, models: Sequence[str] | None
) -> pd.DataFrame:
    rows = metrics[metrics["experiment"] == experiment].copy()
    if rows.empty:
        raise ValueError(f"the metrics table has no {experiment!r} rows")
    order = list(models) if models is not None else sorted(rows["model"].unique())
    rows = rows[rows["model"].isin(order)]
    rows["Model"] = pd.Categorical(rows["model"].map(model_label), [model_label(m) for m in order])
    return rows


def metric_vs_packets(
    metrics: pd.DataFrame, metric: str, models: Sequence[str] | None = None
) -> Figure:
    """``metric`` of the packets experiment against n_packets: mean per model, 95% CI band."""
    if metric not in PACKET_METRICS:
        raise ValueError(f"metric must be one of {sorted(PACKET_METRICS)}, got {metric!r}")
    rows = _experiment(metrics, "packets", models)
    rows["n_packets"] = rows["n_packets"].astype(int)
    rows[metric] = rows[metric].astype(float)
    figure, axes = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
    sns.lineplot(
        data=rows,
        x="n_packets",
        y=metric,
        hue="Model",
        style="Model",
        markers=True,
        dashes=False,
        errorbar=("ci", 95),
        ax=axes,
    )
    axes.set_xlabel("Packets per host (n)")
    axes.set_ylabel(PACKET_METRICS[metric])
    axes.set_xticks(sorted(rows["n_packets"].unique()))
    runs = rows.groupby(["model", "n_packets"]).size().max()
    axes.set_title(f"{PACKET_METRICS[metric]} against packets per host ({runs} runs each)")
    return figure


def cv_accuracy(metrics: pd.DataFrame, models: Sequence[str] | None = None) -> Figure:
    """Accuracy of each cross-validation fold per model: box plot with the folds as points."""
    rows = _experiment(metrics, "cv", models)
    rows["accuracy"] = rows["accuracy"].astype(float)
    figure, axes = plt.subplots(figsize=(5.6, 4.2), layout="constrained")
    sns.boxplot(data=rows, x="Model", y="accuracy", hue="Model", ax=axes, fliersize=0, legend=False)
    sns.stripplot(data=rows, x="Model", y="accuracy", color="black", size=3, alpha=0.7, ax=axes)
    axes.set_xlabel("")
    axes.set_ylabel("Accuracy")
    folds = rows.groupby("model").size().max()
    axes.set_title(f"{folds}-fold cross-validation accuracy")
    return figure


def _labels_scores(predictions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    missing = {"label", "p_iot"} - set(predictions.columns)
    if missing:
        raise ValueError(f"predictions lack column(s) {sorted(missing)}")
    y = predictions["label"].to_numpy(dtype=np.int64)
    if np.unique(y).size != 2:
        raise ValueError("ROC and precision-recall curves need both classes among the predictions")
    return y, predictions["p_iot"].to_numpy(dtype=np.float64)


def roc_curve(predictions: pd.DataFrame, model: str, *, zoom: bool = False) -> Figure:
    """ROC curve of one model's test predictions; ``zoom`` shows false-positive rates up to 0.2."""
    y, p = _labels_scores(predictions)
    fpr, tpr, _ = skm.roc_curve(y, p)
    auc = skm.roc_auc_score(y, p)
    figure, axes = plt.subplots(figsize=(4.8, 4.6), layout="constrained")
    axes.plot(fpr, tpr, label=f"{model_label(model)} (AUC = {auc:.3f})")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="chance")
    axes.set_xlabel("False positive rate")
    axes.set_ylabel("True positive rate")
    if zoom:
        low = float(tpr[fpr <= ZOOM_FPR].min())
        axes.set_xlim(0, ZOOM_FPR)
        axes.set_ylim(max(0.0, low - 0.02), 1.0)
        axes.set_title(f"ROC of the optimized {model_label(model)}, FPR <= {ZOOM_FPR}")
    else:
        axes.set_title(f"ROC of the optimized {model_label(model)}")
    axes.legend(loc="lower right")
    return figure


def balanced_weights(y: np.ndarray) -> np.ndarray:
    """Sample weights that give both classes the same total weight."""
    counts = np.bincount(y, minlength=2).astype(np.float64)
    return (len(y) / (2 * counts))[y]


def precision_recall(predictions: pd.DataFrame, model: str, *, weighted: bool = False) -> Figure:
    """Precision-recall curve of the IoT class; ``weighted`` weighs the samples so that both
    classes count equally (the curve the classes' imbalance does not tilt)."""
    y, p = _labels_scores(predictions)
    weights = balanced_weights(y) if weighted else None
    precision, recall, _ = skm.precision_recall_curve(y, p, sample_weight=weights)
    average = skm.average_precision_score(y, p, sample_weight=weights)
    base = float(np.average(y, weights=weights))
    figure, axes = plt.subplots(figsize=(4.8, 4.6), layout="constrained")
    axes.step(recall, precision, where="post", label=f"{model_label(model)} (AP = {average:.3f})")
    axes.axhline(base, linestyle="--", color="grey", linewidth=1, label="chance")
    axes.set_xlabel("Recall (IoT)")
    axes.set_ylabel("Precision (IoT)")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    kind = "Class-weighted precision-recall" if weighted else "Precision-recall"
    axes.set_title(f"{kind} of the optimized {model_label(model)}")
    axes.legend(loc="lower left")
    return figure


def save_figure(figure: Figure, path: str | os.PathLike) -> None:
    """Write ``figure`` atomically in the format of ``path``'s suffix, then close it."""
    suffix = os.path.splitext(os.fspath(path))[1].lstrip(".") or "svg"
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format=suffix)
    plt.close(figure)


def write_packet_figures(
    metrics_path: str | os.PathLike,
    paths: dict[str, str | os.PathLike],
    models: Sequence[str] | None = None,
) -> None:
    """Figures 4.1-4.3: ``paths`` maps a metric of :data:`PACKET_METRICS` to its figure file."""
    metrics = pd.read_parquet(metrics_path)
    for metric, path in paths.items():
        save_figure(metric_vs_packets(metrics, metric, models), path)


def write_cv_figure(
    metrics_path: str | os.PathLike, path: str | os.PathLike, models: Sequence[str] | None = None
) -> None:
    save_figure(cv_accuracy(pd.read_parquet(metrics_path), models), path)


CURVES = {
    "roc": lambda predictions, model: roc_curve(predictions, model),
    "roc_zoom": lambda predictions, model: roc_curve(predictions, model, zoom=True),
    "pr": lambda predictions, model: precision_recall(predictions, model),
    "pr_weighted": lambda predictions, model: precision_recall(predictions, model, weighted=True),
}


def write_curve_figures(
    predictions_path: str | os.PathLike, model: str, paths: dict[str, str | os.PathLike]
) -> None:
    """Figures 1.1-3.4 of one model: ``paths`` maps a name of :data:`CURVES` to its file."""
    predictions = pd.read_parquet(predictions_path)
    for name, path in paths.items():
        save_figure(CURVES[name](predictions, model), path)
