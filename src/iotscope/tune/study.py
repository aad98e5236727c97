"""One tuning worker: claim trials of a shared Optuna study and train each on the validation split.

Every worker of a model opens the same study (a journal file by default, or any database URL),
samples with its own seeded TPE sampler, and scores a trial by the validation loss of the
``val`` hosts after the last epoch, having trained on the ``train`` hosts only (the test hosts are
never loaded). Each epoch's validation loss is reported to the pruner, which may stop a hopeless
trial early. See :mod:`iotscope.tune.budget` for how the workers share the trial budget.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import optuna
from optuna.trial import TrialState

from iotscope.features import T_MAX
from iotscope.tune.budget import (
    HEARTBEAT_ATTR,
    OUTCOME_ATTR,
    REASON_ATTR,
    WORKER_ATTR,
    budget,
    fail_stale_trials,
    outcome,
    within_budget,
    worker_identity,
)
from iotscope.tune.space import Dimension, suggest

if TYPE_CHECKING:
    from iotscope.data.load import HostArrays

logger = logging.getLogger(__name__)

Pruner = Literal["median", "hyperband", "none"]
PRUNERS: tuple[str, ...] = ("median", "hyperband", "none")


@dataclass(frozen=True)
class TuningSettings:
    """How one model is tuned (the workflow's ``tuning`` config section)."""

    n_trials: int = 100
    epochs: int = 30
    n_packets: int = T_MAX
    seed: int = 0
    pruner: Pruner = "median"
    pruner_startup_trials: int = 5
    pruner_warmup_epochs: int = 3
    heartbeat_interval: float = 30.0
    grace_period: float = 120.0
    class_weight: str = "balanced"
    precision: str = "fp32"
    normalisation: str = "zscore"

    def __post_init__(self) -> None:
        if self.n_trials < 1:
            raise ValueError(f"tuning.n_trials must be at least 1, got {self.n_trials}")
        if self.epochs < 1:
            raise ValueError(f"tuning.epochs must be at least 1, got {self.epochs}")
        if self.pruner not in PRUNERS:
            raise ValueError(f"tuning.pruner must be one of {PRUNERS}, got {self.pruner!r}")
        if not 0 < self.heartbeat_interval < self.grace_period:
            raise ValueError(
                "tuning.heartbeat_interval must be positive and below tuning.grace_period, got "
                f"{self.heartbeat_interval} and {self.grace_period}"
            )


def open_storage(storage: str | None, journal: str | os.PathLike) -> optuna.storages.BaseStorage:
    """Optuna storage: a journal file at ``journal`` when ``storage`` is empty, else the URL.

    The journal works across processes and, on a shared filesystem, across nodes. SQLite gets a
    long lock timeout so that concurrent workers wait instead of failing.
    """
    if not storage:
        path = Path(journal)
        path.parent.mkdir(parents=True, exist_ok=True)
        backend = optuna.storages.journal.JournalFileBackend(str(path))
        return optuna.storages.JournalStorage(backend)
    import random

    import sqlalchemy.exc

    engine_kwargs: dict[str, object] = {}
    if storage.startswith("sqlite"):
        engine_kwargs["connect_args"] = {"timeout": 60}
    else:
        engine_kwargs["pool_pre_ping"] = True
    for _ in range(4):
        try:
            return optuna.storages.RDBStorage(storage, engine_kwargs=engine_kwargs)
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
            # workers starting together on an empty database race to create its tables
            time.sleep(0.5 + random.random())
    return optuna.storages.RDBStorage(storage, engine_kwargs=engine_kwargs)


def make_pruner(settings: TuningSettings) -> optuna.pruners.BasePruner:
    """The pruner named by ``settings.pruner``; steps are epochs, counted from 1.

    The median pruner leaves the first ``pruner_startup_trials`` trials alone, and every trial
    trains ``pruner_warmup_epochs`` epochs before it may be stopped.
    """
    if settings.pruner == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=settings.pruner_startup_trials,
            n_warmup_steps=settings.pruner_warmup_epochs + 1,
        )
    if settings.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=settings.epochs)
    return optuna.pruners.NopPruner()


def worker_seed(seed: int, worker: int) -> int:
    """Sampler seed of a worker: workers of one study draw differently, reruns draw the same."""
    return seed * 1009 + worker


def load_study(
    storage: optuna.storages.BaseStorage,
    name: str,
    settings: TuningSettings,
    *,
    worker: int = 0,
) -> optuna.Study:
    """Create the study or join it, with this worker's sampler and the configured pruner."""
    sampler = optuna.samplers.TPESampler(seed=worker_seed(settings.seed, worker))
    return optuna.create_study(
        storage=storage,
        study_name=name,
        direction="minimize",
        sampler=sampler,
        pruner=make_pruner(settings),
        load_if_exists=True,
    )


class _Heartbeat:
    """Writes the time into a trial's system attributes every ``interval`` seconds."""

    def __init__(self, storage: optuna.storages.BaseStorage, trial_id: int, interval: float):
        self._storage = storage
        self._trial_id = trial_id
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._storage.set_trial_system_attr(self._trial_id, HEARTBEAT_ATTR, time.time())
            except optuna.exceptions.UpdateFinishedTrialError:
                return
            except Exception as error:  # a storage hiccup must not stop the beat for good
                logger.warning("heartbeat of trial id %d failed: %s", self._trial_id, error)

    def __enter__(self) -> _Heartbeat:
        self._storage.set_trial_system_attr(self._trial_id, HEARTBEAT_ATTR, time.time())
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class TrialInfeasible(Exception):
    """The sampled combination cannot be built for the sequence length (e.g. kernel too tall)."""


@dataclass
class WorkerReport:
    """What one worker did: its trial numbers with their outcomes and seconds."""

    model: str
    worker: int
    device: str
    trials: list[dict[str, object]] = field(default_factory=list)
    stale_failed: list[int] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Objective:
    """What scores a trial: train ``base`` updated with a sample of ``space`` on ``train`` and
    take the loss on ``val`` after the last epoch."""

    model: str
    base: Mapping[str, object]
    space: Mapping[str, Dimension]
    train: HostArrays
    val: HostArrays
    settings: TuningSettings
    device: str = "cpu"
    threads: int | None = None

    def __call__(self, trial: optuna.Trial) -> float:
        """Raises :class:`TrialInfeasible` for a combination the model rejects and
        ``optuna.TrialPruned`` when the pruner stops the trial."""
        import torch

        from iotscope.models import InvalidHyperparameters, build_model, check_hyperparameters
        from iotscope.train import fit

        settings = self.settings
        hyperparameters = {**self.base, **suggest(trial, self.space)}
        try:
            check_hyperparameters(self.model, settings.n_packets, hyperparameters)
        except InvalidHyperparameters as error:
            raise TrialInfeasible(str(error)) from error
        seed = settings.seed + trial.number
        torch.manual_seed(seed)
        network = build_model(self.model, settings.n_packets, **hyperparameters)
        losses: list[float] = []

        def on_epoch(epoch: int, train_loss: float, val_loss: float | None) -> None:
            assert val_loss is not None
            losses.append(val_loss)
            trial.set_user_attr("epochs_completed", epoch)
            if not math.isfinite(val_loss):
                return
            trial.report(val_loss, epoch)
            if epoch < settings.epochs and trial.should_prune():
                raise optuna.TrialPruned(
                    f"pruned after epoch {epoch}: validation loss {val_loss:.4f}"
                )

        fit(
            network,
            self.train,
            hyperparameters=hyperparameters,
            epochs=settings.epochs,
            device=self.device,
            class_weight=settings.class_weight,
            precision=settings.precision,
            seed=seed,
            validation=self.val,
            on_epoch=on_epoch,
            threads=self.threads,
        )
        return losses[-1]


def _is_out_of_memory(error: BaseException) -> bool:
    import torch

    return isinstance(error, torch.OutOfMemoryError) or "out of memory" in str(error).lower()


def _free_device_memory() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _close(
    study: optuna.Study, trial: optuna.Trial, state: TrialState, kind: str, reason: str
) -> None:
    storage = study._storage
    storage.set_trial_system_attr(trial._trial_id, OUTCOME_ATTR, kind)
    trial.set_user_attr(REASON_ATTR, reason)
    study.tell(trial, state=state)


def run_worker(
    study: optuna.Study,
    objective: Objective,
    *,
    worker: int,
    poll: float | None = None,
    log: Callable[[str], object] = logger.info,
) -> WorkerReport:
    """Run trials of ``study`` until it holds ``objective.settings.n_trials`` counted trials.

    When the budget is full but other workers' trials still run, the worker waits for them to end
    (or to go stale, whereupon it takes over their place in the budget), so that a killed worker
    never leaves the study short.
    """
    settings = objective.settings
    grace = settings.grace_period
    poll = min(settings.heartbeat_interval, 2.0) if poll is None else poll
    report = WorkerReport(model=objective.model, worker=worker, device=objective.device)
    identity = worker_identity(worker)
    started = time.perf_counter()
    while True:
        stale = fail_stale_trials(study, grace=grace)
        if stale:
            log(f"marked stale trials {stale} as failed (their worker stopped); they are replaced")
            report.stale_failed.extend(stale)
        state = budget(study.get_trials(deepcopy=False), settings.n_trials, grace=grace)
        if state.exhausted:
            break
        if state.full:
            time.sleep(poll)
            continue
        trial = study.ask()
        study._storage.set_trial_system_attr(trial._trial_id, WORKER_ATTR, identity)
        trials = study.get_trials(deepcopy=False)
        if not within_budget(trials, trial.number, settings.n_trials, grace=grace):
            _close(study, trial, TrialState.FAIL, "surplus", "claimed after the budget was full")
            continue
        report.trials.append(_run_trial(study, trial, objective, log))
    report.seconds = time.perf_counter() - started
    log(f"worker {worker}: study {study.study_name} has {settings.n_trials} trials; stopping")
    return report


def _run_trial(
    study: optuna.Study,
    trial: optuna.Trial,
    objective: Objective,
    log: Callable[[str], object],
) -> dict[str, object]:
    """Run one claimed trial and record its outcome; errors that are not the trial's propagate."""
    begun = time.perf_counter()
    try:
        kind, detail = _evaluate(study, trial, objective)
    except optuna.exceptions.UpdateFinishedTrialError:
        # another worker saw no heartbeat for grace_period seconds and failed the trial
        kind, detail = "stale", "failed by another worker while running; result dropped"
    seconds = time.perf_counter() - begun
    log(f"trial {trial.number}: {kind} ({detail}) in {seconds:.1f} s; params {trial.params}")
    frozen = study._storage.get_trial(trial._trial_id)
    return {"number": trial.number, "outcome": outcome(frozen), "seconds": seconds}


def _evaluate(study: optuna.Study, trial: optuna.Trial, objective: Objective) -> tuple[str, str]:
    """Score ``trial`` and tell the study its state; return the outcome and a detail."""
    with _Heartbeat(study._storage, trial._trial_id, objective.settings.heartbeat_interval):
        try:
            value = objective(trial)
        except optuna.TrialPruned as pruned:
            study.tell(trial, state=TrialState.PRUNED)
            kind, detail = "pruned", str(pruned)
        except TrialInfeasible as error:
            _close(study, trial, TrialState.FAIL, "infeasible", str(error))
            kind, detail = "infeasible", str(error)
        except optuna.exceptions.UpdateFinishedTrialError:
            raise
        except Exception as error:
            if not _is_out_of_memory(error):
                _close(study, trial, TrialState.FAIL, "error", f"{type(error).__name__}: {error}")
                raise
            _free_device_memory()
            _close(study, trial, TrialState.FAIL, "out_of_memory", str(error))
            kind, detail = "out_of_memory", str(error)
        else:
            if math.isfinite(value):
                study.tell(trial, value)
                kind, detail = "complete", f"validation loss {value:.4f}"
            else:
                _close(study, trial, TrialState.FAIL, "diverged", f"validation loss {value}")
                kind, detail = "diverged", f"validation loss {value}"
    return kind, detail


def study_name(prefix: str, model: str, fingerprint: str | None = None) -> str:
    """Name of a model's study in the storage: ``{prefix}-{model}[-{fingerprint}]``."""
    return f"{prefix}-{model}" if fingerprint is None else f"{prefix}-{model}-{fingerprint}"


def study_fingerprint(
    *,
    space: Mapping[str, Dimension],
    settings: TuningSettings,
    base: Mapping[str, object],
    files: Sequence[str | os.PathLike] = (),
) -> str:
    """A short hash of what a study's trials depend on.

    It covers the search space, the trial settings (not the trial count, so raising it continues
    the study), the fixed hyperparameters, and each file's content (small files, such as the
    model's source) or size and modification time (large ones, such as the flows). A rerun after
    an interruption gets the same fingerprint and continues the study; a change starts a new one.
    """
    import hashlib
    import json

    from iotscope.tune.space import space_as_config

    trial_settings = {k: v for k, v in asdict(settings).items() if k != "n_trials"}
    files_part: list[object] = []
    for path in files:
        stat = os.stat(path)
        if stat.st_size <= 1 << 20:
            files_part.append(hashlib.sha256(Path(path).read_bytes()).hexdigest())
        else:
            files_part.append([stat.st_size, stat.st_mtime_ns])
    parts = {
        "space": space_as_config(space),
        "settings": trial_settings,
        "base": dict(base),
        "files": files_part,
    }
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def load_tuning_data(
    flows: str | os.PathLike,
    splits: str | os.PathLike,
    *,
    n_packets: int,
    normalisation: str = "zscore",
) -> tuple[HostArrays, HostArrays]:
    """The ``train`` hosts to fit on and the ``val`` hosts to score on; never the test hosts."""
    from iotscope.data.load import load_split

    return load_split(
        flows, splits, evaluation="val", n_packets=n_packets, normalisation=normalisation
    )


def tune_worker(
    *,
    flows: str | os.PathLike,
    splits: str | os.PathLike,
    model: str,
    worker: int,
    base: Mapping[str, object],
    space: Mapping[str, Dimension],
    settings: TuningSettings,
    journal: str | os.PathLike,
    name: str,
    storage: str | None = None,
    out: str | os.PathLike | None = None,
    threads: int | None = None,
    gpu_lock_dir: str | os.PathLike | None = None,
    jobs_per_gpu: int = 1,
    log: Callable[[str], object] = logger.info,
) -> WorkerReport:
    """The whole worker job: take a GPU (or the CPU), load the data, run trials, write ``out``.

    ``out`` (JSON, written atomically) lists the trials this worker ran; the study itself lives in
    the storage, which outlives the job, so that a rerun continues it.
    """
    import json

    from iotscope.gpu import acquire_device
    from iotscope.io import atomic_path

    with acquire_device(lock_dir=gpu_lock_dir, jobs_per_gpu=jobs_per_gpu, log=log) as lease:
        import iotscope.models
        import iotscope.train  # noqa: F401  (imported before the first trial's clock starts)

        train, val = load_tuning_data(
            flows, splits, n_packets=settings.n_packets, normalisation=settings.normalisation
        )
        log(
            f"{model}: {len(train.y)} training hosts, {len(val.y)} validation hosts, "
            f"{settings.n_packets} packets, {settings.epochs} epochs per trial, "
            f"{settings.n_trials} trials in the study, pruner {settings.pruner}"
        )
        study = load_study(open_storage(storage, journal), name, settings, worker=worker)
        objective = Objective(
            model=model,
            base=base,
            space=space,
            train=train,
            val=val,
            settings=settings,
            device=lease.device,
            threads=threads,
        )
        report = run_worker(study, objective, worker=worker, log=log)
    if out is not None:
        with atomic_path(out) as tmp:
            record = {"study": name, "storage": storage, "journal": str(journal)}
            record.update(report.as_dict())
            tmp.write_text(json.dumps(record, indent=2) + "\n")
    return report


def open_study_of_workers(worker_files: Sequence[str | os.PathLike]) -> optuna.Study:
    """Load the study that the workers which wrote ``worker_files`` (their JSON reports) shared."""
    import json

    records = [json.loads(Path(path).read_text()) for path in worker_files]
    if not records:
        raise ValueError("no worker reports given")
    where = {(r["study"], r["storage"], r["journal"]) for r in records}
    if len(where) != 1:
        listed = ", ".join(str(path) for path in worker_files)
        raise ValueError(
            f"worker reports {listed} name different studies {sorted(where)}: an input (the "
            "flows, the splits or the model's source) changed while the workers ran; rerun "
            "the workflow, which reruns the workers of the changed inputs"
        )
    name, storage, journal = where.pop()
    return optuna.load_study(study_name=name, storage=open_storage(storage, journal))
