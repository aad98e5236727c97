"""Splits: which hosts are held out for testing, which tune, and the K-fold assignment.

``splits.parquet`` is computed once from ``flows.parquet`` and read by every later job; nothing
re-splits on its own. Columns: ``host`` string, ``split`` (``train``, ``val`` or ``test``) and
``fold`` int16 (0..K-1 over the train and val hosts; -1 for test hosts).

Everything is stratified by label and seeded:

* ``test_fraction`` of each class becomes the held-out test set;
* ``val_fraction`` of each class's remaining hosts (train ∪ val) becomes the validation part,
  used only for tuning (train on ``train``, score on ``val``);
* the K folds are dealt round-robin over each class's shuffled train ∪ val hosts, so every fold
  holds each class in proportion (sizes differ by at most one per class). Folds ignore the
  train/val distinction: cross-validation trains on K-1 folds of train ∪ val.

Per class, the counts are rounded to the nearest integer and must leave at least one host in
each part, and at least one host of each class in every fold.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from iotscope.io import atomic_path

SPLIT_NAMES: tuple[str, ...] = ("train", "val", "test")
TEST_FOLD = -1
META_SPLITS = b"iotscope.splits"  # parameters and counts, JSON

SPLITS_SCHEMA = pa.schema(
    [
        pa.field("host", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),
        pa.field("fold", pa.int16(), nullable=False),
    ]
)


class SplitError(ValueError):
    """A split that cannot be made (or a splits file that cannot be used); the message says why."""


def make_splits(
    flows_path: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    test_fraction: float = 0.2,
    val_fraction: float = 0.2,
    folds: int = 20,
    seed: int = 0,
) -> pa.Table:
    """Assign every host of ``flows_path`` to train/val/test and to a fold; write ``out_path``.

    Returns the table written (rows in the flows file's host order).
    """
    flows_path = Path(flows_path)
    table = pq.read_table(flows_path, columns=["host", "label"])
    hosts = np.asarray(table["host"].to_numpy(zero_copy_only=False), dtype=object)
    if len(hosts) == 0:
        raise SplitError(f"{flows_path}: no hosts")
    if table["label"].null_count:
        raise SplitError(
            f"{flows_path}: {table['label'].null_count} host(s) have no label "
            "(flows built without a labels file cannot be split)"
        )
    if pc.count_distinct(table["host"]).as_py() != len(hosts):
        raise SplitError(f"{flows_path}: a host appears more than once")
    labels = table["label"].to_numpy()
    split, fold = assign_splits(
        labels,
        test_fraction=test_fraction,
        val_fraction=val_fraction,
        folds=folds,
        seed=seed,
    )
    counts = {
        name: {str(c): int(np.sum((split == name) & (labels == c))) for c in np.unique(labels)}
        for name in SPLIT_NAMES
    }
    metadata = {
        "flows": str(flows_path),
        "test_fraction": test_fraction,
        "val_fraction": val_fraction,
        "folds": folds,
        "seed": seed,
        "counts_by_label": counts,
    }
    out = pa.table(
        [pa.array(hosts, pa.string()), pa.array(split, pa.string()), pa.array(fold, pa.int16())],
        schema=SPLITS_SCHEMA.with_metadata({META_SPLITS: json.dumps(metadata)}),
    )
    with atomic_path(out_path) as tmp:
        pq.write_table(out, tmp)
    return out


def assign_splits(
    labels: np.ndarray,
    *,
    test_fraction: float = 0.2,
    val_fraction: float = 0.2,
    folds: int = 20,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified, seeded assignment for hosts with the given labels.

    Returns ``(split, fold)``: split names (object array) and fold numbers (int16, -1 = test).
    """
    if not 0 < test_fraction < 1:
        raise SplitError(f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction}")
    if not 0 <= val_fraction < 1:
        raise SplitError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if folds < 2:
        raise SplitError(f"folds must be at least 2, got {folds}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    split = np.empty(len(labels), dtype=object)
    fold = np.full(len(labels), TEST_FOLD, dtype=np.int16)
    next_fold = 0
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_test = round(test_fraction * len(members))
        rest = members[n_test:]
        n_val = round(val_fraction * len(rest))
        _check_counts(label, len(members), n_test, len(rest), n_val, val_fraction, folds)
        split[members[:n_test]] = "test"
        split[rest[:n_val]] = "val"
        split[rest[n_val:]] = "train"
        # Deal folds round-robin, continuing from the previous class so fold sizes stay even.
        fold[rest] = (next_fold + np.arange(len(rest))) % folds
        next_fold = (next_fold + len(rest)) % folds
    return split, fold


def _check_counts(
    label: object, n: int, n_test: int, n_rest: int, n_val: int, val_fraction: float, folds: int
) -> None:
    where = f"label {label} has {n} host(s)"
    if n_test == 0:
        raise SplitError(f"{where}: test_fraction leaves no test host of this label")
    if n_rest == 0:
        raise SplitError(f"{where}: test_fraction leaves no training host of this label")
    if val_fraction > 0 and n_val == 0:
        raise SplitError(f"{where}: val_fraction leaves no validation host of this label")
    if n_val == n_rest:
        raise SplitError(f"{where}: val_fraction leaves no train host of this label")
    if n_rest < folds:
        raise SplitError(
            f"{where}, {n_rest} of them outside the test set: too few for {folds} folds "
            "(every fold needs each label); lower folds or test_fraction"
        )


def read_splits(path: str | os.PathLike) -> pa.Table:
    """Read and check a splits file: columns, split names, folds."""
    path = Path(path)
    if not path.is_file():
        raise SplitError(f"{path}: splits file not found")
    table = pq.read_table(path)
    missing = [name for name in SPLITS_SCHEMA.names if name not in table.column_names]
    if missing:
        raise SplitError(f"{path}: missing column(s) {', '.join(missing)}")
    unknown = set(pc.unique(table["split"]).to_pylist()) - set(SPLIT_NAMES)
    if unknown:
        raise SplitError(f"{path}: unknown split name(s) {', '.join(sorted(map(str, unknown)))}")
    split = table["split"].to_numpy(zero_copy_only=False)
    fold = table["fold"].to_numpy()
    if np.any((split == "test") != (fold == TEST_FOLD)):
        raise SplitError(f"{path}: test hosts must have fold {TEST_FOLD} and only they")
    return table
