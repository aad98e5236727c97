"""Reading and checking the tidy results table (``results/metrics.parquet``)."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from iotscope.stats.errors import StatsInputError

EXPERIMENTS = ("optimized", "packets", "cv")
MODEL_ORDER = ("cnn2d", "cnn1d", "mwcnn1d")
DISPLAY_NAMES = {"cnn2d": "2D-CNN", "cnn1d": "1D-CNN", "mwcnn1d": "MW-1D-CNN"}
KEY_COLUMNS = {"packets": ("n_packets", "run"), "cv": ("fold",)}


def display_name(model: str) -> str:
    """The paper's name for a registered model ("cnn1d" -> "1D-CNN"); other names unchanged."""
    return DISPLAY_NAMES.get(model, model)


def slug(model: str) -> str:
    """A model name fit for a file stem."""
    return re.sub(r"[^a-z0-9]+", "_", model.lower()).strip("_")


def order_models(models: Sequence[str]) -> list[str]:
    """The paper's order (2D-CNN, 1D-CNN, MW-1D-CNN) first, then any other models by name."""
    known = [m for m in MODEL_ORDER if m in models]
    return known + sorted(set(models) - set(known))


def read_metrics(path: str | os.PathLike, *, models: Sequence[str] | None = None) -> pd.DataFrame:
    """Load the results table and check what the statistics rely on.

    Raises StatsInputError naming the file and the offending column, value or model; ``models``
    restricts the table to those models and requires each to be present.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: results table not found (run the aggregate step first)")
    table = pd.read_parquet(path)
    missing = [c for c in ("experiment", "model", "accuracy") if c not in table.columns]
    if missing:
        raise StatsInputError(f"{path}: missing column(s) {missing}; has {list(table.columns)}")
    unknown = sorted(set(table["experiment"].astype(str)) - set(EXPERIMENTS))
    if unknown:
        raise StatsInputError(
            f"{path}: column 'experiment' has unknown value(s) {unknown}; expected {EXPERIMENTS}"
        )
    table = table.assign(
        model=table["model"].astype(str), experiment=table["experiment"].astype(str)
    )
    if models is not None:
        present = set(table["model"])
        absent = [m for m in models if m not in present]
        if absent:
            raise StatsInputError(
                f"{path}: model(s) {absent} not in the results table; it has {sorted(present)}"
            )
        table = table[table["model"].isin(list(models))]
    for experiment, keys in KEY_COLUMNS.items():
        rows = table[table["experiment"] == experiment]
        if rows.empty:
            continue
        for key in keys:
            if key not in rows.columns or rows[key].isna().any():
                raise StatsInputError(
                    f"{path}: {experiment!r} rows need column {key!r} filled in every row"
                )
        duplicated = rows.duplicated(["model", *keys], keep=False)
        if duplicated.any():
            first = rows[duplicated].iloc[0]
            where = ", ".join(f"{k}={first[k]}" for k in ("model", *keys))
            raise StatsInputError(
                f"{path}: {int(duplicated.sum())} duplicated {experiment!r} rows (first: {where})"
            )
    return table.reset_index(drop=True)
