"""The tuning rules in the workflow: the DAG with `hyperparameters: tuned`; best.yaml feeding it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml
from workflow_helpers import dry_run, snakemake, with_settings

from iotscope.hyperparameters import resolve_hyperparameters

REPO = Path(__file__).resolve().parents[1]
TUNED = "hyperparameters: tuned\n"
MODELS = ("cnn2d", "cnn1d")  # the tiny config's models
WORKERS = 2  # the tiny config's tuning.workers
TRAINING_JOBS_PER_MODEL = {"train_optimized": 1, "train_packets": 4, "train_cv": 2}


def test_tuned_plans_one_study_per_model_before_the_training(tmp_path: Path) -> None:
    counts = dry_run(tmp_path / "work", configfile=with_settings(tmp_path, "tuned", TUNED))
    assert counts["tune"] == len(MODELS) * WORKERS
    assert counts["tune_summary"] == counts["tuned_hyperparameters"] == len(MODELS)
    assert counts["tuning_report"] == 1
    assert "hyperparameters" not in counts  # the paper preset is not written
    assert counts["train_packets"] == len(MODELS) * TRAINING_JOBS_PER_MODEL["train_packets"]


def test_a_search_space_key_the_model_lacks_stops_before_any_job(tmp_path: Path) -> None:
    settings = TUNED + "tuning: {search_space: {cnn1d: {kernel_size: {choices: [2, 3]}}}}\n"
    workdir = tmp_path / "work"
    result = snakemake(
        workdir, "--cores", "1", configfile=with_settings(tmp_path, "bad", settings), check=False
    )
    assert result.returncode != 0
    assert "tuning.search_space.cnn1d.kernel_size: model 'cnn1d' has no hyperparameter" in (
        result.stdout + result.stderr
    )
    assert not (workdir / "results").exists() and not (workdir / "data").exists()


def _finished_tuning(workdir: Path) -> dict[str, dict[str, object]]:
    """Files of a finished run up to the tuning, oldest first: what Snakemake finds after it."""
    best = {}
    upstream = [
        "data/simulated/telescope.pcap",
        "data/simulated/labels.csv",
        "results/packets/telescope.parquet",
        "results/flows.parquet",
        "results/splits.parquet",
    ]
    for model in MODELS:
        upstream += [f"results/tuning/{model}/workers/{k}.json" for k in range(WORKERS)]
    outputs = ("summary.json", "trials.parquet", "history.svg", "importance.svg")
    upstream += [f"results/tuning/{model}/{name}" for model in MODELS for name in outputs]
    sources = (REPO / "src" / "iotscope" / "models").glob("*.py")
    stamp = max([time.time() - 1000, *(p.stat().st_mtime + 1 for p in sources)])
    for name in upstream:
        path = workdir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
        os.utime(path, (stamp, stamp))
        stamp += 1
    for model in MODELS:
        chosen = {"dropout": 0.15, "learning_rate": 0.002, "optimizer": "sgd"}
        best[model] = {
            "model": model,
            "trial": 7,
            "value": 0.3,
            "parameters": chosen,
            "hyperparameters": {**resolve_hyperparameters(model), **chosen},
        }
        path = workdir / f"results/tuning/{model}/best.yaml"
        path.write_text(yaml.safe_dump(best[model]))
        os.utime(path, (stamp, stamp))
    return best


@pytest.mark.slow
def test_best_yaml_feeds_training_and_retuning_one_model_reruns_only_it(tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    configs = with_settings(tmp_path, "tuned", TUNED)
    best = _finished_tuning(workdir)
    hparams = [f"results/hparams/{model}.yaml" for model in MODELS]
    snakemake(workdir, "--cores", "1", *hparams, configfile=configs)
    for model in MODELS:
        written = yaml.safe_load((workdir / f"results/hparams/{model}.yaml").read_text())
        assert written == best[model]["hyperparameters"]

    # every training job done after the tuning: nothing is left to run ...
    time.sleep(1)
    runs = _training_outputs(workdir)
    assert dry_run(workdir, *runs, configfile=configs) == {}
    # ... until cnn1d is retuned to other values: then its jobs rerun, and only its
    time.sleep(1)
    retuned = {**best["cnn1d"], "hyperparameters": {**best["cnn1d"]["hyperparameters"], "pool": 2}}
    (workdir / "results/tuning/cnn1d/best.yaml").write_text(yaml.safe_dump(retuned))
    counts = dry_run(workdir, *runs, configfile=configs)
    assert counts.pop("tuned_hyperparameters") == 1
    assert counts == TRAINING_JOBS_PER_MODEL


def _training_outputs(workdir: Path) -> list[str]:
    """Write stand-ins for every training job's outputs of the tiny config; return their paths."""
    dirs = []
    for model in MODELS:
        dirs.append(f"results/runs/optimized/{model}")
        dirs += [f"results/runs/packets/{model}/n{n}/run{r}" for n in (20, 30) for r in (0, 1)]
        dirs += [f"results/runs/cv/{model}/fold{f}" for f in (0, 1)]
    paths = [f"{d}/{name}" for d in dirs for name in ("metrics.json", "predictions.parquet")]
    for name in paths:
        (workdir / name).parent.mkdir(parents=True, exist_ok=True)
        (workdir / name).write_text("")
    return paths
