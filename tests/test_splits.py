"""make_splits: stratified, seeded train/val/test and K folds; impossible requests."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from flows_helpers import random_flows, write_flows

from iotscope.data.splits import META_SPLITS, SplitError, assign_splits, make_splits, read_splits
from iotscope.features import N_FEATURES


@pytest.fixture
def flows_file(tmp_path):
    return random_flows(tmp_path / "flows.parquet", np.random.default_rng(0), 1000, t_max=4)


def _labels(path):
    return dict(
        zip(*pq.read_table(path, columns=["host", "label"]).to_pydict().values(), strict=True)
    )


def test_stratified_fractions_and_folds(flows_file, tmp_path):
    out = tmp_path / "splits.parquet"
    table = make_splits(flows_file, out, test_fraction=0.2, val_fraction=0.25, folds=10, seed=1)
    labels = _labels(flows_file)
    assert pq.read_table(out).equals(table)
    assert sorted(table["host"].to_pylist()) == sorted(labels)
    frame = table.to_pandas()
    frame["label"] = frame["host"].map(labels)
    for label, group in frame.groupby("label"):
        n = len(group)
        n_test = round(0.2 * n)
        assert (group["split"] == "test").sum() == n_test
        assert (group["split"] == "val").sum() == round(0.25 * (n - n_test))
        development = group[group["split"] != "test"]
        per_fold = development["fold"].value_counts()
        assert sorted(per_fold.index) == list(range(10)), label
        assert per_fold.max() - per_fold.min() <= 1
    assert (frame.loc[frame["split"] == "test", "fold"] == -1).all()
    assert (frame.loc[frame["split"] != "test", "fold"] >= 0).all()
    sizes = frame.loc[frame["split"] != "test", "fold"].value_counts()
    assert sizes.max() - sizes.min() <= 1
    meta = json.loads(pq.read_schema(out).metadata[META_SPLITS])
    assert meta["seed"] == 1 and meta["folds"] == 10


def test_same_seed_same_split_other_seed_differs(flows_file, tmp_path):
    a = make_splits(flows_file, tmp_path / "a.parquet", seed=3)
    b = make_splits(flows_file, tmp_path / "b.parquet", seed=3)
    c = make_splits(flows_file, tmp_path / "c.parquet", seed=4)
    assert a.equals(b)
    assert a["split"].to_pylist() != c["split"].to_pylist()


def test_no_validation_part(flows_file, tmp_path):
    table = make_splits(flows_file, tmp_path / "s.parquet", val_fraction=0.0, folds=5)
    assert "val" not in table["split"].to_pylist()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"test_fraction": 0.0}, "test_fraction"),
        ({"test_fraction": 1.0}, "test_fraction"),
        ({"val_fraction": 1.0}, "val_fraction"),
        ({"folds": 1}, "folds must be at least 2"),
        ({"folds": 8}, "label 1 has 6 host.*too few for 8 folds"),
        ({"test_fraction": 0.01}, "label 0 has 30 host.*no test host"),
        ({"val_fraction": 0.01, "folds": 2}, "no validation host"),
    ],
)
def test_impossible_requests(kwargs, message):
    labels = np.array([0] * 30 + [1] * 6)
    options = {"folds": 4} | kwargs
    with pytest.raises(SplitError, match=message):
        assign_splits(labels, **options)


def test_unlabelled_flows_cannot_be_split(tmp_path):
    x = np.zeros((3, 2, N_FEATURES), np.float32)
    path = write_flows(tmp_path / "f.parquet", ["a", "b", "c"], [None, 1, 0], x, np.ones(3))
    with pytest.raises(SplitError, match="1 host.*no label"):
        make_splits(path, tmp_path / "s.parquet")
    assert not (tmp_path / "s.parquet").exists()


def test_read_splits_rejects_bad_files(flows_file, tmp_path):
    good = make_splits(flows_file, tmp_path / "s.parquet", folds=5)
    renamed = pc.if_else(pc.equal(good["split"], "val"), "dev", good["split"])
    bad = good.set_column(1, "split", renamed)
    pq.write_table(bad, tmp_path / "bad.parquet")
    with pytest.raises(SplitError, match="unknown split name.*dev"):
        read_splits(tmp_path / "bad.parquet")
    with pytest.raises(SplitError, match="not found"):
        read_splits(tmp_path / "missing.parquet")
