"""Collect the training jobs' ``metrics.json`` files into one tidy table, and the paper's
Tables 1.2 and 1.3 from the optimized runs.

``results/metrics.parquet`` has one row per job. Scalar keys of ``metrics.json`` become columns;
nested values (``hyperparameters``, ``versions``, ``confusion``, per-epoch losses) are stored as
JSON strings, so the table stays flat and every row has the same columns. The statistics module
reads only this table.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from iotscope.io import atomic_path
from iotscope.stats.results import display_name
from iotscope.stats.tables import write_table

EXPERIMENTS: tuple[str, ...] = ("optimized", "packets", "cv")
REQUIRED_KEYS: tuple[str, ...] = (
    "experiment",
    "model",
    "n_packets",
    "run",
    "fold",
    "seed",
    "accuracy",
    "loss",
    "auc",
    "fit_seconds",
)
INTEGER_COLUMNS: tuple[str, ...] = (
    "n_packets",
    "run",
    "fold",
    "seed",
    "epochs",
    "n_train",
    "n_eval",
)


class MetricsError(ValueError):
    """A ``metrics.json`` file is unreadable or lacks a required key."""


def read_metrics_file(path: str | os.PathLike) -> dict[str, object]:
    """One ``metrics.json`` as a flat record: nested values JSON-encoded, ``source`` added."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise MetricsError(f"{path}: cannot read metrics: {error}") from error
    if not isinstance(record, dict):
        raise MetricsError(f"{path}: expected a JSON object, got {type(record).__name__}")
    missing = [key for key in REQUIRED_KEYS if key not in record]
    if missing:
        raise MetricsError(f"{path}: missing key(s) {missing}")
    if record["experiment"] not in EXPERIMENTS:
        raise MetricsError(
            f"{path}: experiment {record['experiment']!r} is not one of {list(EXPERIMENTS)}"
        )
    flat: dict[str, object] = {}
    for key, value in record.items():
        if isinstance(value, dict | list):
            flat[key] = json.dumps(value, sort_keys=True)
        elif key == "evaluation":
            flat[key] = str(value)
        else:
            flat[key] = value
    flat["source"] = str(path)
    return flat


def metrics_table(paths: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """The tidy table of every job, ordered by experiment, model, n_packets, run, fold."""
    records = [read_metrics_file(path) for path in paths]
    if not records:
        raise MetricsError("no metrics.json files given")
    table = pd.DataFrame.from_records(records)
    for column in INTEGER_COLUMNS:
        if column in table:
            table[column] = table[column].astype("Int64")
    for column in ("accuracy", "loss", "auc", "fit_seconds", "eval_seconds"):
        if column in table:
            table[column] = table[column].astype("float64")
    order = {name: i for i, name in enumerate(EXPERIMENTS)}
    table = table.sort_values(
        ["experiment", "model", "n_packets", "run", "fold"],
        key=lambda column: column.map(order) if column.name == "experiment" else column,
        na_position="first",
    )
    return table.reset_index(drop=True)


def write_metrics_table(paths: Iterable[str | os.PathLike], out_path: str | os.PathLike) -> int:
    """Write ``results/metrics.parquet`` atomically; returns its number of rows."""
    table = metrics_table(paths)
    with atomic_path(out_path) as tmp:
        table.to_parquet(tmp, index=False)
    return len(table)


def hours_minutes_seconds(seconds: float) -> str:
    """``H:MM:SS``, the paper's format for run times."""
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def optimized_runs(metrics: pd.DataFrame, models: Sequence[str] | None = None) -> pd.DataFrame:
    """The optimized experiment's rows, one per model, in ``models`` order when given."""
    runs = metrics[metrics["experiment"] == "optimized"]
    duplicated = runs["model"][runs["model"].duplicated()].unique().tolist()
    if duplicated:
        raise MetricsError(f"more than one optimized run for model(s) {duplicated}")
    if runs.empty:
        raise MetricsError("the metrics table has no optimized run")
    order = list(models) if models is not None else sorted(runs["model"])
    missing = [m for m in order if m not in set(runs["model"])]
    if missing:
        raise MetricsError(f"no optimized run for model(s) {missing}")
    return runs.set_index("model").loc[order].reset_index()


def optimized_tables(
    metrics: pd.DataFrame, models: Sequence[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 1.2 (time, loss, accuracy, AUC-ROC) and Table 1.3 (weighted precision, recall,
    F-measure) of the optimized runs. Time is the training time of the optimized run."""
    runs = optimized_runs(metrics, models)
    labels = runs["model"].map(display_name)
    table_1_2 = pd.DataFrame(
        {
            "Model": labels,
            "Time (H:M:S)": runs["fit_seconds"].map(hours_minutes_seconds),
            "Seconds": runs["fit_seconds"].round(3),
            "Loss": runs["loss"].round(3),
            "Accuracy": runs["accuracy"].round(3),
            "AUC-ROC": runs["auc"].round(3),
        }
    )
    table_1_3 = pd.DataFrame(
        {
            "Model": labels,
            "Precision": runs["precision_weighted"].round(2),
            "Recall": runs["recall_weighted"].round(2),
            "F-Measure": runs["f1_weighted"].round(2),
        }
    )
    return table_1_2, table_1_3


def write_optimized_tables(
    metrics_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    models: Sequence[str] | None = None,
) -> list[Path]:
    """Write ``optimized_runtime`` (Table 1.2) and ``optimized_scores`` (Table 1.3) as CSV and
    Markdown into ``out_dir``."""
    metrics = pd.read_parquet(metrics_path)
    table_1_2, table_1_3 = optimized_tables(metrics, models)
    out = Path(out_dir)
    return [
        *write_table(
            table_1_2,
            out,
            "optimized_runtime",
            "Table 1.2: Run time, loss, accuracy and AUC-ROC of the optimized models",
        ),
        *write_table(
            table_1_3,
            out,
            "optimized_scores",
            "Table 1.3: Weighted precision, recall and F-measure of the optimized models",
        ),
    ]
