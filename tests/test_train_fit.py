"""fit / evaluate on small random arrays with a tiny model, and the classification metrics."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from iotscope.features import N_FEATURES
from iotscope.metrics import METRIC_KEYS, classification_metrics
from iotscope.train import (
    class_weights,
    evaluate,
    fit,
    make_optimizer,
    parse_evaluation,
    resolve_precision,
    run_seed,
)

HP = {"batch_size": 32, "optimizer": "adam", "learning_rate": 0.01}


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny models on one thread: threads of a busy machine would only wait on each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@dataclass(frozen=True)
class Arrays:
    """Same fields as iotscope.data.load.HostArrays."""

    x: np.ndarray
    y: np.ndarray
    hosts: np.ndarray


def _arrays(n: int = 200, iot_fraction: float = 0.2, seed: int = 0) -> Arrays:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < iot_fraction).astype(np.int64)
    x = rng.normal(size=(n, 12, N_FEATURES)).astype(np.float32)
    x[y == 1, :, 3] += 1.5
    return Arrays(x=x, y=y, hosts=np.array([f"10.0.0.{i}" for i in range(n)], dtype=object))


def _model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Flatten(), nn.Linear(12 * N_FEATURES, 16), nn.Tanh(), nn.Dropout(0.2), nn.Linear(16, 2)
    )


def test_fit_learns_and_evaluate_returns_probabilities() -> None:
    data = _arrays()
    model = _model()
    result = fit(model, data, hyperparameters=HP, epochs=8, device="cpu", seed=1)
    assert result.epochs == 8 and len(result.train_loss) == 8
    assert result.train_loss[-1] < result.train_loss[0]
    assert result.precision_mode == "fp32"
    p = evaluate(model, data, device="cpu")
    assert p.shape == (200,) and p.dtype == np.float64
    assert ((p >= 0) & (p <= 1)).all()
    assert classification_metrics(data.y, p)["auc"] > 0.9


def test_fit_is_reproducible_and_seed_dependent() -> None:
    data = _arrays()

    def losses(seed: int) -> tuple[float, ...]:
        return fit(_model(), data, hyperparameters=HP, epochs=3, device="cpu", seed=seed).train_loss

    assert losses(5) == losses(5)
    assert losses(5) != losses(6)


def test_balanced_weights_follow_sklearn_and_change_the_loss() -> None:
    y = np.array([0] * 90 + [1] * 10)
    np.testing.assert_allclose(class_weights(y, "balanced"), [100 / 180, 100 / 20])
    assert class_weights(y, "none") is None
    with pytest.raises(ValueError, match="both classes"):
        class_weights(np.zeros(5, dtype=np.int64), "balanced")
    with pytest.raises(ValueError, match="'sometimes'"):
        class_weights(y, "sometimes")

    data = _arrays(iot_fraction=0.1)
    weighted = fit(_model(), data, hyperparameters=HP, epochs=1, device="cpu", seed=0)
    plain = fit(
        _model(), data, hyperparameters=HP, epochs=1, device="cpu", seed=0, class_weight="none"
    )
    assert weighted.class_weights is not None and plain.class_weights is None
    assert weighted.class_weights[1] > 4 * weighted.class_weights[0]
    assert weighted.train_loss[0] != pytest.approx(plain.train_loss[0], rel=1e-3)


def test_one_log_line_per_epoch_with_validation_loss(caplog: pytest.LogCaptureFixture) -> None:
    data = _arrays()
    seen: list[tuple[int, float, float | None]] = []
    with caplog.at_level(logging.INFO, logger="iotscope.train"):
        fit(
            _model(),
            data,
            hyperparameters=HP,
            epochs=3,
            device="cpu",
            validation=_arrays(n=50, seed=1),
            on_epoch=lambda *args: seen.append(args),
        )
    lines = [r.getMessage() for r in caplog.records if r.name == "iotscope.train"]
    assert len(lines) == 3
    assert lines[0].startswith("epoch 1/3  loss ")
    assert all("val_loss" in line and line.endswith(" s") for line in lines)
    assert [epoch for epoch, _, _ in seen] == [1, 2, 3]
    assert all(val is not None and val > 0 for _, _, val in seen)


def test_on_epoch_exceptions_stop_training() -> None:
    class Pruned(Exception):
        pass

    def prune(epoch: int, loss: float, val: float | None) -> None:
        if epoch == 2:
            raise Pruned

    with pytest.raises(Pruned):
        fit(_model(), _arrays(), hyperparameters=HP, epochs=5, device="cpu", on_epoch=prune)


def test_bad_training_settings_are_named() -> None:
    data = _arrays(n=20)
    with pytest.raises(ValueError, match="batch_size"):
        fit(_model(), data, hyperparameters={**HP, "batch_size": 0}, epochs=1, device="cpu")
    with pytest.raises(ValueError, match="'adagrad'"):
        fit(_model(), data, hyperparameters={**HP, "optimizer": "adagrad"}, epochs=1, device="cpu")
    with pytest.raises(ValueError, match="learning_rate"):
        fit(
            _model(),
            data,
            hyperparameters={"batch_size": 8, "optimizer": "sgd"},
            epochs=1,
            device="cpu",
        )
    with pytest.raises(ValueError, match="epochs"):
        fit(_model(), data, hyperparameters=HP, epochs=0, device="cpu")


def test_optimizers_by_name() -> None:
    params = list(_model().parameters())
    assert isinstance(make_optimizer("sgd", iter(params), 0.1), torch.optim.SGD)
    rmsprop = make_optimizer("rmsprop", iter(params), 0.1)
    assert isinstance(rmsprop, torch.optim.RMSprop)
    assert rmsprop.defaults["alpha"] == 0.9 and rmsprop.defaults["lr"] == 0.1
    assert make_optimizer("adam", iter(params), 0.1).defaults["eps"] == 1e-7


def test_precision_resolution() -> None:
    cpu = torch.device("cpu")
    assert resolve_precision("fp32", cpu) == "fp32"
    assert resolve_precision("bf16-mixed", cpu) == "bf16-mixed"
    assert resolve_precision("auto", cpu) in ("fp32", "bf16-mixed")
    with pytest.raises(ValueError, match="'fp16'"):
        resolve_precision("fp16", cpu)


def test_bf16_mixed_keeps_fp32_master_weights() -> None:
    model = _model()
    result = fit(
        model, _arrays(), hyperparameters=HP, epochs=2, device="cpu", precision="bf16-mixed"
    )
    assert result.precision_mode == "bf16-mixed"
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert result.train_loss[-1] < result.train_loss[0]


def test_run_seeds_are_distinct_and_stable() -> None:
    seeds = [run_seed(7, run) for run in range(2000)]
    assert len(set(seeds)) == len(seeds)
    assert run_seed(7, 3) == seeds[3]
    assert run_seed(8, 3) != seeds[3]
    assert all(0 <= s < 2**32 for s in seeds)


def test_parse_evaluation() -> None:
    assert parse_evaluation("test") == "test"
    assert parse_evaluation("val") == "val"
    assert parse_evaluation(3) == 3
    assert parse_evaluation("fold12") == 12
    assert parse_evaluation("4") == 4
    with pytest.raises(ValueError, match="'train'"):
        parse_evaluation("train")


def test_classification_metrics_by_hand() -> None:
    y = np.array([0, 0, 0, 1, 1, 1, 1, 0])
    p = np.array([0.1, 0.6, 0.2, 0.9, 0.4, 0.8, 0.7, 0.3])
    m = classification_metrics(y, p)
    assert set(m) == set(METRIC_KEYS)
    assert m["confusion"] == [[3, 1], [1, 3]]
    assert m["accuracy"] == pytest.approx(6 / 8)
    assert m["precision"] == pytest.approx(3 / 4) and m["recall"] == pytest.approx(3 / 4)
    assert m["auc"] == pytest.approx(15 / 16)
    expected_loss = -np.mean(np.where(y == 1, np.log(p), np.log(1 - p)))
    assert m["loss"] == pytest.approx(expected_loss)
    single = classification_metrics(np.zeros(3, dtype=int), np.array([0.2, 0.7, 0.1]))
    assert single["auc"] is None and single["precision"] == 0.0
    with pytest.raises(ValueError, match="within"):
        classification_metrics(y, p + 1)
