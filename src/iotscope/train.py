"""Train one model on one split and evaluate it: the job behind every cell of the study.

:func:`fit` moves the training tensors to the device once and slices every batch there by index
from a seeded permutation, so a batch costs no host-to-device copy and no Python work per sample.
:func:`evaluate` returns the predicted probability of the IoT class. :func:`run_training_job` is the
whole job: load the split, check the hyperparameters, take a GPU (or the CPU), fit, evaluate, and
write ``metrics.json`` and ``predictions.parquet`` atomically.

Losses: training minimises cross-entropy with the class weights chosen by ``class_weight``
(``balanced`` gives class c the weight ``n_samples / (n_classes * count_c)``, as scikit-learn; each
batch's loss is the weighted mean, as :func:`torch.nn.functional.cross_entropy`). Validation and
evaluation losses are unweighted, so they compare across weightings.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import platform
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import iotscope
from iotscope.data.load import HostArrays, load_split
from iotscope.gpu import acquire_device
from iotscope.io import atomic_path
from iotscope.metrics import classification_metrics
from iotscope.models import build_model, check_hyperparameters, with_defaults

logger = logging.getLogger(__name__)

ClassWeight = Literal["balanced", "none"]
PRECISIONS: tuple[str, ...] = ("fp32", "bf16-mixed", "auto")
CLASS_WEIGHTS: tuple[str, ...] = ("balanced", "none")
OPTIMIZERS: tuple[str, ...] = ("sgd", "adam", "rmsprop")
EVAL_BATCH_SIZE = 4096


@dataclass(frozen=True)
class FitResult:
    """What one call of :func:`fit` did: per-epoch losses, time, and the settings it resolved."""

    train_loss: tuple[float, ...]
    val_loss: tuple[float | None, ...]
    epochs: int
    seconds: float
    class_weights: tuple[float, ...] | None
    precision_mode: str
    samples_per_second: float


def run_seed(base_seed: int, run: int) -> int:
    """Seed of run ``run`` of an experiment: distinct per run, and the same on every rerun.

    Derived with numpy's ``SeedSequence`` (a hash of both numbers) rather than ``base + run``, so
    that the runs of neighbouring base seeds do not overlap. The result fits in 32 bits.
    """
    if base_seed < 0 or run < 0:
        raise ValueError(f"base_seed and run must be non-negative, got {base_seed} and {run}")
    return int(np.random.SeedSequence([base_seed, run]).generate_state(1, dtype=np.uint32)[0])


def _cpuinfo(key: str) -> str | None:
    """The value of the first ``key`` line of /proc/cpuinfo; None where there is none."""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith(key):
                return line.partition(":")[2].strip()
    return None


def cpu_has_amx() -> bool:
    """Whether this CPU has AMX bf16 tiles (the only CPU feature that makes bf16 training pay)."""
    flags = _cpuinfo("flags")
    if flags is not None:
        return "amx_bf16" in flags.split()
    return "AMX" in torch.backends.cpu.get_cpu_capability().upper()


def has_fast_bf16(device: torch.device) -> bool:
    """Whether bf16 matrix products run natively (and faster than fp32) on ``device``."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        return cpu_has_amx()
    return False


def resolve_precision(precision: str, device: torch.device) -> str:
    """``fp32`` or ``bf16-mixed``; ``auto`` picks bf16-mixed only where hardware makes it fast."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        return "bf16-mixed" if has_fast_bf16(device) else "fp32"
    return precision


def autocast(mode: str, device: torch.device) -> contextlib.AbstractContextManager[Any]:
    """bf16 autocast for ``bf16-mixed`` (the weights and the optimiser stay fp32), else nothing."""
    if mode == "bf16-mixed":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def class_weights(y: np.ndarray, class_weight: str) -> np.ndarray | None:
    """Per-class loss weights: ``balanced`` = ``n / (2 * count_c)``; ``none`` gives ``None``."""
    if class_weight not in CLASS_WEIGHTS:
        raise ValueError(f"class_weight must be balanced or none, got {class_weight!r}")
    if class_weight == "none":
        return None
    counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=2)
    if (counts == 0).any():
        raise ValueError(
            f"class_weight 'balanced' needs both classes in the training set, got counts {counts}"
        )
    return counts.sum() / (len(counts) * counts.astype(np.float64))


def training_settings(hyperparameters: Mapping[str, object]) -> tuple[int, str, float]:
    """``batch_size``, ``optimizer`` and ``learning_rate`` from a hyperparameter dict, checked."""
    missing = [k for k in ("batch_size", "optimizer", "learning_rate") if k not in hyperparameters]
    if missing:
        raise ValueError(f"hyperparameters lack the training key(s) {', '.join(missing)}")
    batch_size = hyperparameters["batch_size"]
    optimizer = hyperparameters["optimizer"]
    learning_rate = hyperparameters["learning_rate"]
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(
            f"hyperparameter batch_size must be a positive integer, got {batch_size!r}"
        )
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"hyperparameter optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    if not isinstance(learning_rate, int | float) or not 0 < float(learning_rate) < math.inf:
        raise ValueError(f"hyperparameter learning_rate must be positive, got {learning_rate!r}")
    return batch_size, str(optimizer), float(learning_rate)


def make_optimizer(
    name: str, parameters: Iterator[nn.Parameter], learning_rate: float
) -> torch.optim.Optimizer:
    """The optimiser by name, with the original study's Keras defaults where torch's differ.

    Keras' RMSprop decays with rho 0.9 (torch: alpha 0.99) and both Keras optimisers use
    epsilon 1e-7 (torch: 1e-8).
    """
    if name == "sgd":
        return torch.optim.SGD(parameters, lr=learning_rate)
    if name == "adam":
        return torch.optim.Adam(parameters, lr=learning_rate, eps=1e-7)
    if name == "rmsprop":
        return torch.optim.RMSprop(parameters, lr=learning_rate, alpha=0.9, eps=1e-7)
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}")


def _to_device(data: HostArrays, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.as_tensor(np.ascontiguousarray(data.x, dtype=np.float32)).to(device)
    y = torch.as_tensor(np.asarray(data.y, dtype=np.int64)).to(device)
    return x, y


@torch.no_grad()
def _logits(
    model: nn.Module, x: torch.Tensor, *, mode: str, device: torch.device, batch_size: int
) -> torch.Tensor:
    model.eval()
    chunks = []
    for start in range(0, x.shape[0], batch_size):
        with autocast(mode, device):
            chunks.append(model(x[start : start + batch_size]).float())
    return torch.cat(chunks) if chunks else torch.empty((0, 2), device=device)


def fit(
    model: nn.Module,
    train: HostArrays,
    *,
    hyperparameters: Mapping[str, object],
    epochs: int,
    device: torch.device | str,
    class_weight: ClassWeight = "balanced",
    precision: str = "fp32",
    seed: int = 0,
    validation: HostArrays | None = None,
    on_epoch: Callable[[int, float, float | None], None] | None = None,
    threads: int | None = None,
) -> FitResult:
    """Train ``model`` in place for ``epochs`` epochs and return the losses and timings.

    The batch order of every epoch comes from a ``torch.Generator`` seeded with ``seed`` (the same
    order on every device); dropout draws from torch's global generator, also seeded here. Weight
    initialisation happens when the model is built: seed before building it. ``on_epoch(epoch,
    train_loss, val_loss)`` runs after each epoch; whatever it raises (``optuna.TrialPruned``)
    propagates and ends training. On a CPU, subnormal floats are flushed to zero from here on.
    """
    device = torch.device(device)
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if threads is not None:
        torch.set_num_threads(threads)
    batch_size, optimizer_name, learning_rate = training_settings(hyperparameters)
    mode = resolve_precision(precision, device)
    if len(train.y) == 0:
        raise ValueError("the training set is empty")
    weights = class_weights(train.y, class_weight)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    else:
        # Saturated sigmoid / tanh units send subnormal gradients into the convolutions' backward
        # pass, which x86 CPUs then run several times slower; flushing them to zero (values below
        # 1e-38) changes no result that matters and keeps a step's time independent of the data.
        torch.set_flush_denormal(True)

    torch.manual_seed(seed)
    order = torch.Generator().manual_seed(seed)
    x, y = _to_device(train, device)
    val = _to_device(validation, device) if validation is not None else None
    weight = None if weights is None else torch.tensor(weights, dtype=torch.float32, device=device)
    # Channels-last 4-d weights make oneDNN / cuDNN run the 2-d convolutions in NHWC layout
    # (about 1.2x faster on a CPU); 1-d models are unaffected.
    model.to(device, memory_format=torch.channels_last)
    optimizer = make_optimizer(optimizer_name, model.parameters(), learning_rate)
    n = x.shape[0]

    train_losses: list[float] = []
    val_losses: list[float | None] = []
    started = time.perf_counter()
    for epoch in range(1, epochs + 1):
        epoch_start = time.perf_counter()
        model.train()
        permutation = torch.randperm(n, generator=order).to(device)
        total = torch.zeros((), dtype=torch.float32, device=device)
        for start in range(0, n, batch_size):
            index = permutation[start : start + batch_size]
            with autocast(mode, device):
                logits = model(x.index_select(0, index))
            loss = F.cross_entropy(logits.float(), y.index_select(0, index), weight=weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach() * index.numel()
        train_loss = total.item() / n
        val_loss = None
        if val is not None:
            val_logits = _logits(
                model, val[0], mode=mode, device=device, batch_size=EVAL_BATCH_SIZE
            )
            val_loss = F.cross_entropy(val_logits, val[1]).item()
        seconds = time.perf_counter() - epoch_start
        train_losses.append(train_loss)
        val_losses.append(val_loss)
        shown_val = "-" if val_loss is None else f"{val_loss:.4f}"
        logger.info(
            "epoch %d/%d  loss %.4f  val_loss %s  %.2f s",
            epoch,
            epochs,
            train_loss,
            shown_val,
            seconds,
        )
        if on_epoch is not None:
            on_epoch(epoch, train_loss, val_loss)
    elapsed = time.perf_counter() - started
    return FitResult(
        train_loss=tuple(train_losses),
        val_loss=tuple(val_losses),
        epochs=epochs,
        seconds=elapsed,
        class_weights=None if weights is None else tuple(float(w) for w in weights),
        precision_mode=mode,
        samples_per_second=n * epochs / elapsed if elapsed > 0 else math.inf,
    )


def evaluate(
    model: nn.Module,
    data: HostArrays,
    *,
    device: torch.device | str,
    precision: str = "fp32",
    batch_size: int = EVAL_BATCH_SIZE,
) -> np.ndarray:
    """Probability of the IoT class (label 1) for every host of ``data``, as float64."""
    device = torch.device(device)
    mode = resolve_precision(precision, device)
    x, _ = _to_device(data, device)
    model.to(device)
    logits = _logits(model, x, mode=mode, device=device, batch_size=batch_size)
    return torch.softmax(logits, dim=1)[:, 1].double().cpu().numpy()


def parse_evaluation(evaluation: str | int) -> str | int:
    """``"test"``, ``"val"`` or a fold number (``3``, ``"3"`` or ``"fold3"``)."""
    if isinstance(evaluation, int) and not isinstance(evaluation, bool):
        fold = evaluation
    elif isinstance(evaluation, str) and evaluation in ("test", "val"):
        return evaluation
    elif isinstance(evaluation, str) and evaluation.removeprefix("fold").strip().isdigit():
        fold = int(evaluation.removeprefix("fold").strip())
    else:
        raise ValueError(f"evaluation must be test, val or a fold number, got {evaluation!r}")
    if fold < 0:
        raise ValueError(f"evaluation fold must be non-negative, got {fold}")
    return fold


def package_versions() -> dict[str, str]:
    """Versions that decide the numbers: python, iotscope, torch, numpy, scikit-learn, pyarrow."""
    import pyarrow
    import sklearn

    return {
        "python": platform.python_version(),
        "iotscope": iotscope.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "pyarrow": pyarrow.__version__,
    }


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's model name where /proc/cpuinfo tells it."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return _cpuinfo("model name") or platform.processor() or platform.machine()


def write_predictions(path: Path, hosts: np.ndarray, labels: np.ndarray, p_iot: np.ndarray) -> None:
    """``predictions.parquet``: host, label (int8, 1 IoT), p_iot (float64), written atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "host": pa.array(np.asarray(hosts).astype(str), type=pa.string()),
            "label": pa.array(np.asarray(labels, dtype=np.int8)),
            "p_iot": pa.array(np.asarray(p_iot, dtype=np.float64)),
        }
    )
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def run_training_job(
    *,
    flows: str | os.PathLike,
    splits: str | os.PathLike,
    model: str,
    n_packets: int,
    hyperparameters: Mapping[str, object],
    seed: int,
    evaluation: str | int,
    epochs: int = 30,
    out_dir: str | os.PathLike,
    experiment: str,
    run: int | None = None,
    fold: int | None = None,
    class_weight: ClassWeight = "balanced",
    precision: str = "auto",
    normalisation: str = "zscore",
    threads: int = 1,
    save_weights: bool = False,
    gpu_lock_dir: str | os.PathLike | None = None,
    jobs_per_gpu: int = 1,
    gpu_timeout: float = 3600.0,
) -> dict[str, object]:
    """Train ``model`` on one split, evaluate it, and write ``out_dir/metrics.json`` and
    ``out_dir/predictions.parquet`` (and ``model.pt`` with ``save_weights``).

    ``evaluation="test"`` trains on train ∪ val and evaluates on the test hosts; a fold number k
    trains on the other folds and evaluates on fold k; ``"val"`` (tuning) trains on train and
    evaluates on val. Hyperparameters left out take the study's selected values; the record
    holds the complete set. Returns the record written to ``metrics.json``.
    """
    check_hyperparameters(model, n_packets, hyperparameters)
    hyperparameters = with_defaults(model, hyperparameters)
    training_settings(hyperparameters)
    class_weights(np.array([0, 1]), class_weight)
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    evaluation = parse_evaluation(evaluation)
    if fold is None and isinstance(evaluation, int):
        fold = evaluation
    out = Path(out_dir)

    train, held_out = load_split(
        flows, splits, evaluation=evaluation, n_packets=n_packets, normalisation=normalisation
    )
    torch.set_num_threads(threads)
    with acquire_device(
        lock_dir=gpu_lock_dir, jobs_per_gpu=jobs_per_gpu, timeout=gpu_timeout
    ) as lease:
        device = torch.device(lease.device)
        if device.type == "cuda" and not torch.cuda.is_available():
            logger.warning(
                "%s, but torch sees no usable GPU: training on the CPU", lease.description
            )
            device = torch.device("cpu")
        torch.manual_seed(seed)
        net = build_model(model, n_packets, **hyperparameters)
        fitted = fit(
            net,
            train,
            hyperparameters=hyperparameters,
            epochs=epochs,
            device=device,
            class_weight=class_weight,
            precision=precision,
            seed=seed,
        )
        eval_start = time.perf_counter()
        p_iot = evaluate(net, held_out, device=device, precision=fitted.precision_mode)
        eval_seconds = time.perf_counter() - eval_start
        name = device_name(device)
        gpu_id = lease.gpu_id
        visible = lease.visible_devices

    record: dict[str, object] = {
        "experiment": experiment,
        "model": model,
        "n_packets": n_packets,
        "run": run,
        "fold": fold,
        "seed": seed,
        "epochs": epochs,
        "hyperparameters": hyperparameters,
        "class_weight": class_weight,
        "precision_mode": fitted.precision_mode,
        "device": device.type,
        **classification_metrics(held_out.y, p_iot),
        "n_train": int(len(train.y)),
        "n_eval": int(len(held_out.y)),
        "fit_seconds": fitted.seconds,
        "eval_seconds": eval_seconds,
        "versions": package_versions(),
        "evaluation": evaluation,
        "normalisation": normalisation,
        "threads": threads,
        "class_weights": fitted.class_weights,
        "train_loss": list(fitted.train_loss),
        "train_samples_per_second": fitted.samples_per_second,
        "device_name": name,
        "gpu_id": gpu_id,
        "cuda_visible_devices": visible,
    }
    out.mkdir(parents=True, exist_ok=True)
    write_predictions(out / "predictions.parquet", held_out.hosts, held_out.y, p_iot)
    if save_weights:
        with atomic_path(out / "model.pt") as tmp:
            torch.save(net.state_dict(), tmp)
    with atomic_path(out / "metrics.json") as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
    logger.info(
        "%s %s n=%d seed %d: auc %s, f1 %.4f, fit %.1f s",
        experiment,
        model,
        n_packets,
        seed,
        "n/a" if record["auc"] is None else f"{record['auc']:.4f}",
        record["f1"],
        fitted.seconds,
    )
    return record
