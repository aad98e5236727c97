"""Snakemake script of rules ``train_optimized``, ``train_packets`` and ``train_cv``."""

from pathlib import Path

from scriptlib import log_to

from iotscope.hyperparameters import read_hyperparameters
from iotscope.train import run_seed, run_training_job


def main(smk) -> None:
    log_to(smk.log[0])
    wildcards = dict(smk.wildcards.items())
    run = int(wildcards["run"]) if "run" in wildcards else None
    fold = int(wildcards["fold"]) if "fold" in wildcards else None
    training = smk.params.training
    run_training_job(
        flows=smk.input.flows,
        splits=smk.input.splits,
        model=wildcards["model"],
        n_packets=smk.params.n_packets,
        hyperparameters=read_hyperparameters(smk.input.hyperparameters),
        seed=run_seed(smk.params.seed, run if run is not None else (fold or 0)),
        evaluation=fold if fold is not None else smk.params.evaluation,
        epochs=training["epochs"],
        out_dir=Path(smk.output.metrics).parent,
        experiment=smk.params.experiment,
        run=run,
        fold=fold,
        class_weight=training["class_weight"],
        precision=training["precision"],
        normalisation=training["normalisation"],
        threads=smk.threads,
        save_weights=training["save_weights"],
        gpu_lock_dir=training["gpu_lock_dir"],
        jobs_per_gpu=training["jobs_per_gpu"],
    )


main(snakemake)  # noqa: F821
