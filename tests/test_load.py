"""load_split: shapes, which hosts each evaluation reads, normalisation fitted on training only."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
from flows_helpers import random_flows, write_flows

from iotscope.data.load import HostArrays, Normaliser, load_split, split_hosts
from iotscope.data.splits import SplitError, make_splits, read_splits
from iotscope.features import N_FEATURES

T_MAX = 8


@pytest.fixture
def data(tmp_path):
    flows = random_flows(tmp_path / "flows.parquet", np.random.default_rng(5), 400, T_MAX)
    splits = tmp_path / "splits.parquet"
    make_splits(flows, splits, folds=5, seed=2)
    return flows, splits


def _raw(flows):
    table = pq.read_table(flows)
    hosts = table["host"].to_pylist()
    x = table["x"].combine_chunks().to_numpy_ndarray()
    return {h: (x[i], int(table["n_packets"][i].as_py())) for i, h in enumerate(hosts)}


def _split_of(splits):
    table = pq.read_table(splits)
    return dict(zip(table["host"].to_pylist(), table["split"].to_pylist(), strict=True)), dict(
        zip(table["host"].to_pylist(), table["fold"].to_pylist(), strict=True)
    )


def test_shapes_dtypes_and_lengths(data):
    flows, splits = data
    train, held_out = load_split(flows, splits, evaluation="test", n_packets=5)
    raw = _raw(flows)
    for part in (train, held_out):
        assert isinstance(part, HostArrays)
        assert part.x.shape == (len(part.hosts), 5, 17) and part.x.dtype == np.float32
        assert part.y.dtype == np.int64 and part.y.shape == (len(part.hosts),)
        assert part.x.flags.c_contiguous and part.x.flags.writeable
        expected = [min(raw[h][1], 5) for h in part.hosts]
        assert part.lengths.tolist() == expected
    assert len(train) + len(held_out) == len(raw)


@pytest.mark.parametrize("evaluation", ["test", "val", 0, 3])
def test_each_evaluation_reads_the_right_hosts(data, evaluation):
    flows, splits = data
    split, fold = _split_of(splits)
    train, held_out = load_split(flows, splits, evaluation=evaluation, n_packets=2)
    train_hosts, eval_hosts = set(train.hosts), set(held_out.hosts)
    assert not train_hosts & eval_hosts
    if evaluation == "test":
        assert eval_hosts == {h for h, s in split.items() if s == "test"}
        assert train_hosts == {h for h, s in split.items() if s != "test"}
    elif evaluation == "val":
        assert eval_hosts == {h for h, s in split.items() if s == "val"}
        assert train_hosts == {h for h, s in split.items() if s == "train"}
    else:
        assert eval_hosts == {h for h, f in fold.items() if f == evaluation}
        assert train_hosts == {h for h, f in fold.items() if f not in (evaluation, -1)}
    labels = pq.read_table(flows, columns=["host", "label"]).to_pydict()
    label_of = dict(zip(labels["host"], labels["label"], strict=True))
    assert train.y.tolist() == [label_of[h] for h in train.hosts]


def test_val_evaluation_never_reads_test_hosts(data, tmp_path):
    """Poisoning test rows changes nothing, and equals a flows file without the test hosts."""
    flows, splits = data
    split, _ = _split_of(splits)
    table = pq.read_table(flows)
    hosts = table["host"].to_pylist()
    x = table["x"].combine_chunks().to_numpy_ndarray().copy()
    n_packets = table["n_packets"].to_numpy()
    test = np.array([split[h] == "test" for h in hosts])
    poisoned = x.copy()
    poisoned[test] = np.nan
    labels = table["label"].to_pylist()
    poisoned_path = write_flows(tmp_path / "poisoned.parquet", hosts, labels, poisoned, n_packets)
    keep = ~test
    without = write_flows(
        tmp_path / "without.parquet",
        [h for h, k in zip(hosts, keep, strict=True) if k],
        [y for y, k in zip(labels, keep, strict=True) if k],
        x[keep],
        n_packets[keep],
    )
    val_splits = tmp_path / "val_splits.parquet"
    pq.write_table(read_splits(splits).filter(~np.asarray(test)), val_splits)

    a_train, a_eval = load_split(poisoned_path, splits, evaluation="val", n_packets=T_MAX)
    b_train, b_eval = load_split(without, val_splits, evaluation="val", n_packets=T_MAX)
    assert np.isfinite(a_train.x).all() and np.isfinite(a_eval.x).all()
    np.testing.assert_array_equal(a_train.x, b_train.x)
    np.testing.assert_array_equal(a_eval.x, b_eval.x)
    train_hosts, eval_hosts = split_hosts(read_splits(splits), "val")
    assert not {split[h] for h in (*train_hosts, *eval_hosts)} & {"test"}


def test_zscore_fitted_on_real_training_rows_only(data):
    flows, splits = data
    raw_train, raw_eval = load_split(flows, splits, evaluation=1, n_packets=6, normalisation="none")
    train, held_out = load_split(flows, splits, evaluation=1, n_packets=6)
    real = np.concatenate([raw_train.x[i, :n] for i, n in enumerate(raw_train.lengths)])
    mean, std = real.astype(np.float64).mean(0), real.astype(np.float64).std(0)
    for raw, normed in ((raw_train, train), (raw_eval, held_out)):
        for i, n in enumerate(raw.lengths):
            expected = (raw.x[i, :n] - mean) / std
            np.testing.assert_allclose(normed.x[i, :n], expected, rtol=1e-4, atol=1e-4)
            assert np.all(normed.x[i, n:] == 0)
    normed_real = np.concatenate([train.x[i, :n] for i, n in enumerate(train.lengths)])
    np.testing.assert_allclose(normed_real.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(normed_real.std(0), 1, atol=1e-4)
    # The evaluation part keeps the training statistics, so its own are not exactly 0 and 1.
    eval_real = np.concatenate([held_out.x[i, :n] for i, n in enumerate(held_out.lengths)])
    assert np.abs(eval_real.mean(0)).max() > 1e-3


def test_center_subtracts_training_mean(data):
    flows, splits = data
    raw, _ = load_split(flows, splits, evaluation="test", n_packets=4, normalisation="none")
    centred, _ = load_split(flows, splits, evaluation="test", n_packets=4, normalisation="center")
    real = np.concatenate([raw.x[i, :n] for i, n in enumerate(raw.lengths)])
    mean = real.astype(np.float64).mean(0)
    i = int(np.argmax(raw.lengths))
    n = raw.lengths[i]
    np.testing.assert_allclose(centred.x[i, :n], raw.x[i, :n] - mean, rtol=1e-4, atol=1e-4)
    short = int(np.argmin(raw.lengths))
    assert np.all(centred.x[short, raw.lengths[short] :] == 0)


def test_constant_feature_is_only_centred():
    x = np.zeros((3, 4, N_FEATURES), np.float32)
    lengths = np.array([4, 2, 1])
    for i, n in enumerate(lengths):
        x[i, :n, 0] = 7.0
        x[i, :n, 1] = np.arange(n)
    normaliser = Normaliser.fit(x, lengths, "zscore")
    assert normaliser.scale[0] == 1 and normaliser.shift[0] == 7
    out = normaliser.apply(x.copy(), lengths)
    assert np.all(out[:, :, 0] == 0) and np.isfinite(out).all()
    assert np.all(out[1, 2:] == 0)


def test_bad_requests(data, tmp_path):
    flows, splits = data
    with pytest.raises(ValueError, match=f"n_packets=9 is outside 1..{T_MAX}"):
        load_split(flows, splits, evaluation="test", n_packets=9)
    with pytest.raises(ValueError, match="n_packets=0"):
        load_split(flows, splits, evaluation="test", n_packets=0)
    with pytest.raises(SplitError, match="fold 5 does not exist"):
        load_split(flows, splits, evaluation=5, n_packets=2)
    with pytest.raises(SplitError, match="evaluation must be"):
        load_split(flows, splits, evaluation="train", n_packets=2)
    with pytest.raises(ValueError, match="unknown normalisation 'minmax'"):
        load_split(flows, splits, evaluation="test", n_packets=2, normalisation="minmax")
    other = random_flows(tmp_path / "other.parquet", np.random.default_rng(9), 50, T_MAX)
    pq.write_table(pq.read_table(other).slice(0, 10), other)
    with pytest.raises(SplitError, match="not in .*other.parquet"):
        load_split(other, splits, evaluation="test", n_packets=2)
