"""`iotscope tune`: tune one model's hyperparameters with Optuna on the validation hosts."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import yaml

from iotscope.cli.app import app
from iotscope.cli.options import FLOWS_PATH, SPLITS_PATH, FlowsOption, NPacketsOption
from iotscope.features import T_MAX

if TYPE_CHECKING:
    from iotscope.tune import TuningSettings
    from iotscope.tune.space import Dimension


class PrunerChoice(StrEnum):
    median = "median"
    hyperband = "hyperband"
    none = "none"


@app.command()
def tune(
    model: Annotated[
        str, typer.Option(help="Model to tune: cnn2d, cnn1d or mwcnn1d.", show_default=False)
    ],
    flows: FlowsOption = FLOWS_PATH,
    splits: Annotated[
        Path, typer.Option(help="Host splits written by `iotscope splits` (train/val/test).")
    ] = SPLITS_PATH,
    out: Annotated[
        Path,
        typer.Option(
            help="Folder for best.yaml, trials.parquet, summary.json, the figures and (with the "
            "default storage) the study's journal.log."
        ),
    ] = Path("results/tuning/{model}"),
    trials: Annotated[int, typer.Option(help="Trials in the study (the paper ran 100).")] = 100,
    workers: Annotated[
        int, typer.Option(help="Worker processes sharing the study on this machine.")
    ] = 1,
    epochs: Annotated[int, typer.Option(help="Training epochs per trial (the paper's 30).")] = 30,
    n_packets: NPacketsOption = T_MAX,
    pruner: Annotated[
        PrunerChoice, typer.Option(help="Stop hopeless trials early on their validation loss.")
    ] = PrunerChoice.median,
    seed: Annotated[int, typer.Option(help="Seed of the samplers and of each trial.")] = 0,
    storage: Annotated[
        str | None,
        typer.Option(
            help="Database URL (sqlite:///tuning.db, postgresql://user@host/db). Default: a "
            "journal file in --out.",
            show_default=False,
        ),
    ] = None,
    search_space: Annotated[
        Path | None,
        typer.Option(
            help="YAML file of dimensions replacing the paper's Table 1.1 space, e.g. "
            "'kernel_height: {choices: [2, 4, 8]}'; 'key: null' fixes a key at its default.",
            show_default=False,
        ),
    ] = None,
    threads: Annotated[int, typer.Option(help="CPU threads per worker.")] = 1,
) -> None:
    """Tune MODEL with Optuna's TPE sampler: train on the training hosts, score on the
    validation hosts (never the test hosts), and write the best trial to OUT/best.yaml.

    Example: iotscope tune --model cnn1d --trials 20 --epochs 5 --workers 2

    Interrupted? Run the same command again: the study continues where it stopped.
    """
    from iotscope.hyperparameters import resolve_hyperparameters
    from iotscope.tune import TuningSettings, model_search_spaces, study_name
    from iotscope.tune.study import study_fingerprint

    out_dir = Path(str(out).format(model=model))
    overrides = yaml.safe_load(search_space.read_text()) if search_space else None
    try:
        space = model_search_spaces([model], {model: overrides or {}})[model]
        settings = TuningSettings(
            n_trials=trials, epochs=epochs, n_packets=n_packets, seed=seed, pruner=pruner.value
        )
        base = resolve_hyperparameters(model)
    except (KeyError, ValueError) as error:
        raise typer.BadParameter(str(error)) from error
    for path in (flows, splits):
        if not path.is_file():
            raise typer.BadParameter(f"{path} does not exist; run `iotscope flows` and `splits`")
    fingerprint = study_fingerprint(
        space=space, settings=settings, base=base, files=[flows, splits]
    )
    job = _Job(
        model=model,
        flows=flows,
        splits=splits,
        base=base,
        space=space,
        settings=settings,
        journal=out_dir / "journal.log",
        name=study_name("iotscope", model, fingerprint),
        storage=storage,
        threads=threads,
        out_dir=out_dir,
    )
    _run_workers(job, workers)
    _write_outputs(job)


@dataclass(frozen=True)
class _Job:
    """One study run by the command (picklable: each worker process receives it)."""

    model: str
    flows: Path
    splits: Path
    base: dict[str, object]
    space: dict[str, Dimension]
    settings: TuningSettings
    journal: Path
    name: str
    storage: str | None
    threads: int
    out_dir: Path


def _worker_process(job: _Job, worker: int) -> None:
    """Body of one worker process: log to its file, run the worker."""
    from iotscope.tune import tune_worker

    log_path = job.out_dir / "workers" / f"{worker}.log"
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)s: %(message)s",
        handlers=[logging.FileHandler(log_path)],
        force=True,
    )
    tune_worker(
        flows=job.flows,
        splits=job.splits,
        model=job.model,
        worker=worker,
        base=job.base,
        space=job.space,
        settings=job.settings,
        journal=job.journal,
        name=job.name,
        storage=job.storage,
        out=job.out_dir / "workers" / f"{worker}.json",
        threads=job.threads,
        log=logging.getLogger("iotscope.tune").info,
    )


def _run_workers(job: _Job, workers: int) -> None:
    """Start the workers as processes, show the study's progress, fail if any worker fails."""
    import multiprocessing

    import optuna
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from iotscope.tune import open_storage
    from iotscope.tune.budget import budget

    (job.out_dir / "workers").mkdir(parents=True, exist_ok=True)
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_worker_process, args=(job, k)) for k in range(workers)]
    for process in processes:
        process.start()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    n = job.settings.n_trials
    columns = (
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns) as progress:
        task = progress.add_task(f"{job.model}: trials", total=n)
        while any(process.is_alive() for process in processes):
            time.sleep(1.0)
            try:
                storage = open_storage(job.storage, job.journal)
                study = optuna.load_study(study_name=job.name, storage=storage)
            except KeyError:
                continue
            done = budget(study.get_trials(deepcopy=False), n, grace=float("inf")).finished
            progress.update(task, completed=done)
    for process in processes:
        process.join()
    failed = [k for k, process in enumerate(processes) if process.exitcode != 0]
    if failed:
        logs = job.out_dir / "workers"
        typer.echo(f"workers {failed} failed: see {logs}/<worker>.log; rerun to continue", err=True)
        raise typer.Exit(1)


def _write_outputs(job: _Job) -> None:
    import optuna

    from iotscope.tune import open_storage
    from iotscope.tune.results import write_study_outputs

    study = optuna.load_study(study_name=job.name, storage=open_storage(job.storage, job.journal))
    best = write_study_outputs(
        study, model=job.model, base=job.base, epochs=job.settings.epochs, out_dir=job.out_dir
    )
    typer.echo(
        f"best trial {best['trial']}: validation loss {best['value']:.4f}; written to "
        f"{job.out_dir / 'best.yaml'} (train with its values: `iotscope train --hyperparameters`)"
    )
