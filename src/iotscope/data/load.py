"""Loading a split for training: (hosts, first n packets, 17 features) float32 arrays and labels.

:func:`load_split` is the one way training and evaluation jobs read ``flows.parquet``. It reads
only the rows of the hosts the requested evaluation needs (:func:`split_hosts`), so tuning on
``val`` never reads a test host, and fits the normalisation on the training part only.

Normalisation is per feature, over the *real* packets of the training hosts: padding rows (below
a host's last packet) are left out of the statistics and stay exactly 0 afterwards, so a model
still sees where a short host's packets end. ``zscore`` subtracts the mean and divides by the
standard deviation (a feature that is constant over the training packets is only centred);
``center`` only subtracts the mean (what the original study's code did); ``none`` leaves the
raw feature values.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from iotscope.data.splits import TEST_FOLD, SplitError, read_splits
from iotscope.features import N_FEATURES

Evaluation = Literal["test", "val"] | int
"""``"test"``: train on train ∪ val, evaluate on test. ``"val"``: train on train, evaluate on
val (tuning only). ``k``: train on the train ∪ val hosts outside fold k, evaluate on fold k."""

NormalisationMethod = Literal["zscore", "center", "none"]
NORMALISATIONS: tuple[str, ...] = ("zscore", "center", "none")

_BLOCK_HOSTS = 2048  # hosts per block when normalising, to bound temporary memory


@dataclass(frozen=True)
class HostArrays:
    """Hosts' packet matrices and labels, row-aligned."""

    x: np.ndarray  # (N, n_packets, 17) float32, normalised; padding rows are 0
    y: np.ndarray  # (N,) int64, 1 = IoT
    hosts: np.ndarray  # (N,) str (object array)
    lengths: np.ndarray | None = None  # (N,) int32, real (non-padding) rows of each host

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class Normaliser:
    """Per-feature ``(x - shift) / scale`` applied to real packet rows; padding stays 0."""

    method: NormalisationMethod
    shift: np.ndarray  # (17,) float32
    scale: np.ndarray  # (17,) float32

    @classmethod
    def fit(cls, x: np.ndarray, lengths: np.ndarray, method: NormalisationMethod) -> Normaliser:
        """Statistics over the real rows ``x[i, :lengths[i]]`` of every host."""
        if method not in NORMALISATIONS:
            raise ValueError(
                f"unknown normalisation {method!r}; expected one of {', '.join(NORMALISATIONS)}"
            )
        ones = np.ones(x.shape[-1], dtype=np.float32)
        if method == "none":
            return cls(method, np.zeros_like(ones), ones)
        count = int(np.sum(lengths))
        if count == 0:
            raise ValueError("cannot fit a normalisation on no packets")
        # Padding rows are zero, so sums over all rows are sums over the real rows.
        mean = x.sum(axis=(0, 1), dtype=np.float64) / count
        if method == "center":
            return cls(method, mean.astype(np.float32), ones)
        squares = np.zeros_like(mean)
        for block, mask in _blocks(x, lengths):
            deviation = (block.astype(np.float64) - mean) * mask
            squares += np.einsum("hpf,hpf->f", deviation, deviation)
        std = np.sqrt(squares / count)
        scale = np.where(std > 0, std, 1.0)
        return cls(method, mean.astype(np.float32), scale.astype(np.float32))

    def apply(self, x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Normalise ``x`` in place (real rows only; padding rows are set to 0) and return it."""
        if self.method == "none":
            return x
        for block, mask in _blocks(x, lengths):
            block -= self.shift
            block /= self.scale
            block *= mask
        return x


def _blocks(x: np.ndarray, lengths: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(view of a block of hosts, its real-row mask of shape (hosts, packets, 1))``."""
    positions = np.arange(x.shape[1])
    for start in range(0, len(x), _BLOCK_HOSTS):
        stop = start + _BLOCK_HOSTS
        mask = (positions < lengths[start:stop, None])[..., None].astype(x.dtype)
        yield x[start:stop], mask


def split_hosts(splits: pa.Table, evaluation: Evaluation) -> tuple[np.ndarray, np.ndarray]:
    """The ``(training, evaluation)`` host names of ``splits`` for an evaluation."""
    split = splits["split"].to_numpy(zero_copy_only=False)
    fold = splits["fold"].to_numpy()
    hosts = np.asarray(splits["host"].to_numpy(zero_copy_only=False), dtype=object)
    development = split != "test"
    if evaluation == "test":
        train, held_out = development, split == "test"
    elif evaluation == "val":
        train, held_out = split == "train", split == "val"
        if not held_out.any():
            raise SplitError("the splits have no validation hosts (made with val_fraction=0)")
    elif isinstance(evaluation, (int, np.integer)) and not isinstance(evaluation, bool):
        folds = np.unique(fold[fold != TEST_FOLD])
        if evaluation not in folds:
            raise SplitError(
                f"fold {evaluation} does not exist; the splits have folds 0..{folds.max()}"
            )
        train, held_out = development & (fold != evaluation), fold == evaluation
    else:
        raise SplitError(f"evaluation must be 'test', 'val' or a fold number, got {evaluation!r}")
    return hosts[train], hosts[held_out]


def load_split(
    flows_path: str | os.PathLike,
    splits_path: str | os.PathLike,
    *,
    evaluation: Evaluation,
    n_packets: int,
    normalisation: NormalisationMethod = "zscore",
) -> tuple[HostArrays, HostArrays]:
    """Return ``(train, evaluation)`` arrays of each host's first ``n_packets`` packets.

    Only the hosts of the two parts are read from ``flows_path``; the normalisation is fitted on
    the training part and applied to both. Rows follow the flows file's host order.
    """
    flows_path = Path(flows_path)
    if isinstance(evaluation, str) and evaluation.isdigit():
        evaluation = int(evaluation)
    if normalisation not in NORMALISATIONS:
        raise ValueError(
            f"unknown normalisation {normalisation!r}; expected one of {', '.join(NORMALISATIONS)}"
        )
    t_max = _t_max(flows_path)
    if not 1 <= n_packets <= t_max:
        raise ValueError(
            f"n_packets={n_packets} is outside 1..{t_max}: {flows_path} holds the first "
            f"T_max={t_max} packets of each host"
        )
    train_hosts, eval_hosts = split_hosts(read_splits(splits_path), evaluation)
    table = pq.read_table(
        flows_path,
        columns=["host", "label", "n_packets", "x"],
        filters=pc.field("host").isin(pa.array(np.concatenate([train_hosts, eval_hosts]))),
    )
    hosts = np.asarray(table["host"].to_numpy(zero_copy_only=False), dtype=object)
    _check_hosts(hosts, train_hosts, eval_hosts, flows_path, splits_path)
    if table["label"].null_count:
        raise ValueError(f"{flows_path}: the requested hosts include unlabelled ones")

    in_train = np.isin(hosts, train_hosts)
    train = _gather(table, hosts, in_train, n_packets)
    held_out = _gather(table, hosts, ~in_train, n_packets)
    normaliser = Normaliser.fit(train.x, train.lengths, normalisation)
    normaliser.apply(train.x, train.lengths)
    normaliser.apply(held_out.x, held_out.lengths)
    return train, held_out


def _t_max(flows_path: Path) -> int:
    if not flows_path.is_file():
        raise FileNotFoundError(f"{flows_path}: flows file not found")
    field = pq.read_schema(flows_path).field("x")
    if not isinstance(field.type, pa.FixedShapeTensorType) or field.type.shape[1:] != [N_FEATURES]:
        raise ValueError(
            f"{flows_path}: column x is {field.type}, "
            f"expected fixed_shape_tensor(float, [T_max, {N_FEATURES}])"
        )
    return int(field.type.shape[0])


def _check_hosts(
    hosts: np.ndarray,
    train_hosts: np.ndarray,
    eval_hosts: np.ndarray,
    flows_path: Path,
    splits_path: str | os.PathLike,
) -> None:
    if len(hosts) != len(set(hosts)):
        raise ValueError(f"{flows_path}: a host appears more than once")
    missing = len(train_hosts) + len(eval_hosts) - len(hosts)
    if missing:
        raise SplitError(
            f"{missing} host(s) of {splits_path} are not in {flows_path} "
            "(were the splits made from another flows file?)"
        )


def _gather(table: pa.Table, hosts: np.ndarray, keep: np.ndarray, n_packets: int) -> HostArrays:
    """Copy the kept rows' first ``n_packets`` packets out of the (zero-copy) Arrow tensors."""
    x = np.empty((int(keep.sum()), n_packets, N_FEATURES), dtype=np.float32)
    position = 0
    offset = 0
    for chunk in table["x"].chunks:
        rows = len(chunk)
        chunk_keep = keep[offset : offset + rows]
        taken = int(chunk_keep.sum())
        if taken:
            view = chunk.to_numpy_ndarray()[:, :n_packets]
            np.compress(chunk_keep, view, axis=0, out=x[position : position + taken])
        position += taken
        offset += rows
    observed = table["n_packets"].to_numpy()[keep]
    return HostArrays(
        x=x,
        y=table["label"].to_numpy()[keep].astype(np.int64),
        hosts=hosts[keep],
        lengths=np.minimum(observed, n_packets).astype(np.int32),
    )
