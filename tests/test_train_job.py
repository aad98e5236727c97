"""The training job end to end on a small flows file: outputs, reproducibility, folds, the CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from flows_helpers import write_flows
from typer.testing import CliRunner

from iotscope.cli import app
from iotscope.data.splits import make_splits
from iotscope.features import N_FEATURES
from iotscope.models import InvalidHyperparameters, with_defaults
from iotscope.train import run_seed, run_training_job

T_MAX = 16
CONTRACT_KEYS = {
    "experiment", "model", "n_packets", "run", "fold", "seed", "epochs", "hyperparameters",
    "class_weight", "precision_mode", "device", "accuracy", "loss", "auc", "precision", "recall",
    "f1", "precision_weighted", "recall_weighted", "f1_weighted", "confusion", "n_train", "n_eval",
    "fit_seconds", "eval_seconds", "versions",
}  # fmt: skip
TIMINGS = {"fit_seconds", "eval_seconds", "train_samples_per_second"}
SMALL = {
    "cnn1d": {"layers": 2, "filters": 8, "kernel_height": 3, "pool": 2, "batch_size": 32},
    "cnn2d": {"layers": 2, "filters": 4, "kernel_size": 3, "pool": 2, "batch_size": 32},
    "mwcnn1d": {"filters": 6, "max_height": 8, "batch_size": 32},
}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """240 hosts, a quarter IoT, whose IoT hosts differ in two features."""
    root = tmp_path_factory.mktemp("job")
    rng = np.random.default_rng(3)
    n = 240
    labels = (rng.random(n) < 0.25).astype(np.int8)
    n_packets = rng.integers(8, T_MAX + 4, n)
    x = rng.normal(0.0, 1.0, (n, T_MAX, N_FEATURES)).astype(np.float32)
    x[labels == 1, :, 1] += 1.0
    x[labels == 1, :, 7] -= 1.0
    x[np.arange(T_MAX)[None, :] >= n_packets[:, None]] = 0
    flows = write_flows(
        root / "flows.parquet",
        [f"10.0.{i // 250}.{i % 250}" for i in range(n)],
        labels,
        x,
        n_packets,
    )
    splits = root / "splits.parquet"
    make_splits(flows, splits, folds=3, seed=1)
    return flows, splits


def _job(data: tuple[Path, Path], out: Path, **overrides: object) -> dict:
    flows, splits = data
    settings: dict = {
        "flows": flows,
        "splits": splits,
        "model": "cnn1d",
        "n_packets": 12,
        "hyperparameters": SMALL["cnn1d"],
        "seed": 11,
        "evaluation": "test",
        "epochs": 3,
        "out_dir": out,
        "experiment": "optimized",
        "precision": "fp32",
        "gpu_lock_dir": out.parent / "locks",
    }
    settings.update(overrides)
    return run_training_job(**settings)


def _without_timings(path: Path) -> dict:
    record = json.loads(path.read_text())
    return {k: v for k, v in record.items() if k not in TIMINGS}


@pytest.mark.parametrize("model", sorted(SMALL))
def test_outputs_of_one_job(data: tuple[Path, Path], tmp_path: Path, model: str) -> None:
    out = tmp_path / model
    returned = _job(data, out, model=model, hyperparameters=SMALL[model], save_weights=True)
    record = json.loads((out / "metrics.json").read_text())
    assert record == json.loads(json.dumps(returned))
    assert set(record) >= CONTRACT_KEYS
    assert record["model"] == model and record["n_packets"] == 12
    assert record["run"] is None and record["fold"] is None and record["evaluation"] == "test"
    assert record["device"] == "cpu" and record["precision_mode"] == "fp32"
    assert record["class_weight"] == "balanced" and len(record["class_weights"]) == 2
    assert record["hyperparameters"] == with_defaults(model, SMALL[model])
    assert set(record["versions"]) >= {"python", "torch", "numpy", "iotscope"}
    assert len(record["train_loss"]) == record["epochs"] == 3
    (tn, fp), (fn, tp) = record["confusion"]
    assert tn + fp + fn + tp == record["n_eval"]
    assert record["accuracy"] == pytest.approx((tn + tp) / record["n_eval"])
    assert 0 <= record["auc"] <= 1 and record["fit_seconds"] > 0

    predictions = pq.read_table(out / "predictions.parquet").to_pandas()
    assert list(predictions.columns) == ["host", "label", "p_iot"]
    assert len(predictions) == record["n_eval"]
    assert predictions["p_iot"].between(0, 1).all()
    splits = pq.read_table(data[1]).to_pandas()
    test_hosts = set(splits.loc[splits["split"] == "test", "host"])
    assert set(predictions["host"]) == test_hosts
    assert record["n_train"] == len(splits) - len(test_hosts)
    assert (out / "model.pt").is_file()
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]


def test_same_seed_same_metrics_other_seed_other_metrics(
    data: tuple[Path, Path], tmp_path: Path
) -> None:
    for name in ("a", "b"):
        _job(data, tmp_path / name)
    _job(data, tmp_path / "c", seed=12)
    first, again, other = (_without_timings(tmp_path / n / "metrics.json") for n in "abc")
    assert first == again
    assert first["train_loss"] != other["train_loss"]
    predictions = [pq.read_table(tmp_path / n / "predictions.parquet") for n in "ab"]
    assert predictions[0].equals(predictions[1])


def test_fold_evaluation_trains_on_the_other_folds(data: tuple[Path, Path], tmp_path: Path) -> None:
    record = _job(data, tmp_path / "fold1", evaluation="fold1", experiment="cv", epochs=1)
    splits = pq.read_table(data[1]).to_pandas()
    cv_hosts = splits[splits["fold"] >= 0]
    assert record["fold"] == 1 and record["evaluation"] == 1
    assert record["n_eval"] == int((cv_hosts["fold"] == 1).sum())
    assert record["n_train"] == int((cv_hosts["fold"] != 1).sum())
    hosts = set(pq.read_table(tmp_path / "fold1" / "predictions.parquet")["host"].to_pylist())
    assert hosts == set(cv_hosts.loc[cv_hosts["fold"] == 1, "host"])


def test_impossible_hyperparameters_are_rejected_before_anything_heavy(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-flows.parquet"
    with pytest.raises(InvalidHyperparameters, match="kernel_height"):
        _job(
            (missing, missing),
            tmp_path / "out",
            hyperparameters={**SMALL["cnn1d"], "kernel_height": 40},
        )
    assert not (tmp_path / "out").exists()


def test_cli_trains_run_k_with_its_derived_seed(data: tuple[Path, Path], tmp_path: Path) -> None:
    hparams = tmp_path / "cnn1d.yaml"
    hparams.write_text("".join(f"{k}: {v}\n" for k, v in SMALL["cnn1d"].items()))
    out = tmp_path / "cli"
    args = [
        "train", "--model", "cnn1d", "--flows", str(data[0]), "--splits", str(data[1]),
        "--n-packets", "12", "--hyperparameters", str(hparams), "--run", "2", "--base-seed", "5",
        "--epochs", "1", "--out", str(out), "--precision", "fp32", "--class-weight", "none",
        "--gpu-lock-dir", str(tmp_path / "locks"),
    ]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    record = json.loads((out / "metrics.json").read_text())
    assert record["seed"] == run_seed(5, 2) and record["run"] == 2
    assert record["class_weight"] == "none" and record["class_weights"] is None
    assert record["hyperparameters"]["kernel_height"] == 3
    assert "AUC" in result.output


def test_cli_help_and_bad_input() -> None:
    runner = CliRunner()
    shown = runner.invoke(app, ["train", "--help"])
    assert shown.exit_code == 0
    for option in ("--flows", "--splits", "--n-packets", "--hyperparameters", "--evaluation"):
        assert option in shown.output
    both = runner.invoke(
        app, ["train", "--model", "cnn1d", "--out", "x", "--seed", "1", "--run", "1"]
    )
    assert both.exit_code != 0
    assert "exactly one of --seed and --run" in both.output


def test_cli_names_impossible_hyperparameters(data: tuple[Path, Path], tmp_path: Path) -> None:
    hparams = tmp_path / "tall.yaml"
    hparams.write_text("kernel_height: 500\n")
    args = ["train", "--model", "cnn1d", "--flows", str(data[0]), "--splits", str(data[1]),
            "--n-packets", "12", "--hyperparameters", str(hparams), "--seed", "1",
            "--out", str(tmp_path / "out")]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "error:" in result.output and "kernel_height" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a usable GPU")
def test_job_takes_a_gpu_lock_and_falls_back_without_cuda(
    data: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv("IOTSCOPE_GPU_IDS", "2,3")
    record = _job(data, tmp_path / "out", epochs=1)
    assert record["gpu_id"] == 2 and record["cuda_visible_devices"] == "2"
    assert record["device"] == "cpu"
    assert (tmp_path / "locks" / "gpu2.slot0.lock").is_file()
    assert "CUDA_VISIBLE_DEVICES" not in os.environ
