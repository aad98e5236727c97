"""`iotscope train`: one training job (what each of the workflow's training rules runs)."""

from __future__ import annotations

import logging
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from iotscope.cli.app import app
from iotscope.cli.options import FLOWS_PATH, SPLITS_PATH, FlowsOption, NPacketsOption
from iotscope.features import T_MAX


class ClassWeightChoice(StrEnum):
    balanced = "balanced"
    none = "none"


class PrecisionChoice(StrEnum):
    auto = "auto"
    fp32 = "fp32"
    bf16_mixed = "bf16-mixed"


class NormalisationChoice(StrEnum):
    zscore = "zscore"
    center = "center"
    none = "none"


@app.command()
def train(
    model: Annotated[
        str, typer.Option(help="Model to train: cnn2d, cnn1d or mwcnn1d.", show_default=False)
    ],
    out: Annotated[
        Path,
        typer.Option(
            help="Folder for metrics.json and predictions.parquet (created if missing).",
            show_default=False,
        ),
    ],
    flows: FlowsOption = FLOWS_PATH,
    splits: Annotated[
        Path, typer.Option(help="Host splits written by `iotscope splits`.")
    ] = SPLITS_PATH,
    n_packets: NPacketsOption = T_MAX,
    hyperparameters: Annotated[
        Path | None,
        typer.Option(
            help="YAML mapping of hyperparameters (e.g. results/hparams/cnn1d.yaml). "
            "Default: the paper's selected values for the model.",
        ),
    ] = None,
    evaluation: Annotated[
        str,
        typer.Option(
            help="What to evaluate on: 'test' (train on train+val), 'val' (train on train), "
            "or a fold number such as 3 or fold3 (train on the other folds).",
        ),
    ] = "test",
    seed: Annotated[
        int | None,
        typer.Option(
            help="Random seed of the job. Give either --seed or --run.", show_default=False
        ),
    ] = None,
    run: Annotated[
        int | None,
        typer.Option(
            help="Run number of a repeated experiment; its seed derives from --base-seed and it.",
            show_default=False,
        ),
    ] = None,
    base_seed: Annotated[int, typer.Option(help="Study seed that --run derives from.")] = 0,
    epochs: Annotated[int, typer.Option(help="Training epochs (the study used 30).")] = 30,
    experiment: Annotated[str, typer.Option(help="Experiment name recorded in metrics.json.")] = (
        "adhoc"
    ),
    class_weight: Annotated[
        ClassWeightChoice, typer.Option(help="Weight the loss by inverse class frequency, or not.")
    ] = ClassWeightChoice.balanced,
    precision: Annotated[
        PrecisionChoice,
        typer.Option(help="Arithmetic: auto picks bf16-mixed where the hardware makes it fast."),
    ] = PrecisionChoice.auto,
    normalisation: Annotated[
        NormalisationChoice,
        typer.Option(help="Feature scaling, fitted on the training hosts only."),
    ] = NormalisationChoice.zscore,
    threads: Annotated[int, typer.Option(help="CPU threads torch may use.")] = 1,
    save_weights: Annotated[
        bool, typer.Option("--save-weights", help="Also write the trained weights to model.pt.")
    ] = False,
    jobs_per_gpu: Annotated[
        int, typer.Option(help="Jobs that may share one GPU (small models leave a GPU idle).")
    ] = 1,
    gpu_lock_dir: Annotated[
        Path | None,
        typer.Option(
            help="Node-local folder of the GPU lock files. "
            "Default: $IOTSCOPE_GPU_LOCK_DIR, else a folder in the temporary directory.",
        ),
    ] = None,
) -> None:
    """Train one model on one split, evaluate it, and write metrics.json + predictions.parquet.

    Example: iotscope train --model cnn1d --n-packets 100 --run 0 --epochs 5 --out runs/try
    """
    from iotscope.data.splits import SplitError
    from iotscope.hyperparameters import read_hyperparameters, resolve_hyperparameters
    from iotscope.models import MODELS, InvalidHyperparameters
    from iotscope.train import run_seed, run_training_job

    if (seed is None) == (run is None):
        raise typer.BadParameter("give exactly one of --seed and --run", param_hint="--seed/--run")
    if model not in MODELS:
        raise typer.BadParameter(
            f"{model!r} is not one of {', '.join(MODELS)}", param_hint="--model"
        )
    job_seed = seed if seed is not None else run_seed(base_seed, run)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        chosen = read_hyperparameters(hyperparameters) if hyperparameters is not None else None
        record = run_training_job(
            flows=flows,
            splits=splits,
            model=model,
            n_packets=n_packets,
            hyperparameters=resolve_hyperparameters(model, base=chosen),
            seed=job_seed,
            evaluation=evaluation,
            epochs=epochs,
            out_dir=out,
            experiment=experiment,
            run=run,
            class_weight=class_weight.value,
            precision=precision.value,
            normalisation=normalisation.value,
            threads=threads,
            save_weights=save_weights,
            gpu_lock_dir=gpu_lock_dir,
            jobs_per_gpu=jobs_per_gpu,
        )
    except (InvalidHyperparameters, SplitError, FileNotFoundError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from error
    auc = "n/a" if record["auc"] is None else f"{record['auc']:.4f}"
    typer.echo(
        f"{model}: accuracy {record['accuracy']:.4f}, AUC {auc}, F1 {record['f1']:.4f} "
        f"on {record['n_eval']} hosts ({record['fit_seconds']:.1f} s training) -> {out}"
    )
