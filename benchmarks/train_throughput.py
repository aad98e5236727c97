"""Training throughput of each model: iotscope's loop against a deliberately plain PyTorch loop.

For every model at n = 298 packets with the selected hyperparameters (optimizer, learning rate,
loss with balanced class weights) the script times, on the CPU and on CUDA where present:

* ``plain``: a ``DataLoader`` over a ``TensorDataset`` on the host, each batch copied with
  ``.to(device)``, and for ``mwcnn1d`` the branch-loop form (one convolution per window height);
* ``iotscope``: :func:`iotscope.train.fit` (data on the device once, batches sliced there by
  index) with the model's own ``forward``, in fp32 and in bf16-mixed;
* ``branches`` (``mwcnn1d`` only): :func:`iotscope.train.fit` with the branch-loop form, so that
  the fused form's gain shows at equal precision.

It prints training samples per second, the ratio to the plain loop in fp32, the model's forward
FLOPs per sample and the model FLOP/s achieved (taking a training step as 3x the forward FLOPs).
Each configuration runs one warm-up step, then timed steps until ``--seconds`` have passed (at
least ``--min-steps``). On a CPU the batch is capped by ``--max-batch``: the time per sample of
these compute-bound models hardly depends on the batch size, and a full 1024-host batch of the
multi-window model takes minutes in the plain form.

    python benchmarks/train_throughput.py             # about 3 minutes on a 2-core CPU
    python benchmarks/train_throughput.py --quick     # a smoke run of under a minute
    python benchmarks/train_throughput.py --clock cpu --models mwcnn1d   # on a busy machine

``--auc-runs R`` instead trains R runs of each of ``--models`` in fp32 and in bf16-mixed on a
telescope of the demo's size (simulated, then ingested, flows and splits as in the workflow) and
prints the test AUCs, so that bf16's effect can be set against the run-to-run spread.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from iotscope.data.load import HostArrays
from iotscope.features import N_FEATURES
from iotscope.models import PAPER_HYPERPARAMETERS, build_model
from iotscope.train import class_weights, device_name, fit, has_fast_bf16, make_optimizer

CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}


class BranchLoop(nn.Module):
    """The multi-window model through its plain branch-loop form (same parameters)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, packets: torch.Tensor) -> torch.Tensor:
        return self.model.forward_branches(packets)


@dataclass(frozen=True)
class Measurement:
    model: str
    device: str
    form: str
    precision: str
    batch: int
    samples_per_second: float
    flops_per_sample: int


def _data(n: int, n_packets: int, seed: int) -> HostArrays:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.17).astype(np.int64)
    y[:2] = (0, 1)
    x = rng.normal(size=(n, n_packets, N_FEATURES)).astype(np.float32)
    return HostArrays(x=x, y=y, hosts=np.arange(n).astype(str).astype(object))


def _model(name: str, n_packets: int, form: str, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = build_model(name, n_packets, **PAPER_HYPERPARAMETERS[name])
    return BranchLoop(model) if form == "branches" else model


def _flops(model: nn.Module) -> int:
    inner = model.model if isinstance(model, BranchLoop) else model
    return int(inner.flops_per_sample())


def plain_samples_per_second(
    name: str,
    data: HostArrays,
    device: torch.device,
    batch: int,
    steps: int,
    clock: Callable[[], float],
    seed: int,
) -> float:
    """A plain PyTorch loop: DataLoader over host tensors, per-batch copies, plain model form,
    torch's default handling of subnormal floats."""
    torch.set_flush_denormal(False)
    model = _model(name, data.x.shape[1], "branches" if name == "mwcnn1d" else "model", seed)
    model.to(device)
    hp = PAPER_HYPERPARAMETERS[name]
    optimizer = make_optimizer(hp["optimizer"], model.parameters(), hp["learning_rate"])
    weight = torch.tensor(class_weights(data.y, "balanced"), dtype=torch.float32, device=device)
    dataset = TensorDataset(torch.from_numpy(data.x), torch.from_numpy(data.y))
    loader = DataLoader(dataset, batch_size=batch, shuffle=True, drop_last=True)
    model.train()
    start = None
    done = 0
    for step, (x, y) in enumerate(loader):
        if step == 1:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = clock()
        x, y = x.to(device), y.to(device)
        loss = F.cross_entropy(model(x), y, weight=weight)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        done += len(y) if step >= 1 else 0
        if step == steps:
            break
    if device.type == "cuda":
        torch.cuda.synchronize()
    return done / (clock() - start)


def iotscope_samples_per_second(
    name: str,
    data: HostArrays,
    device: torch.device,
    form: str,
    precision: str,
    batch: int,
    clock: Callable[[], float],
    seed: int,
) -> float:
    """iotscope.train.fit over ``data`` for one epoch, after a one-batch warm-up."""
    model = _model(name, data.x.shape[1], form, seed)
    hp = {**PAPER_HYPERPARAMETERS[name], "batch_size": batch}
    warm = HostArrays(x=data.x[:batch], y=data.y[:batch], hosts=data.hosts[:batch])
    fit(model, warm, hyperparameters=hp, epochs=1, device=device, precision=precision)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = clock()
    fit(model, data, hyperparameters=hp, epochs=1, device=device, precision=precision)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return len(data.y) / (clock() - start)


def _steps_for(seconds: float, min_steps: int, probe: float) -> int:
    return max(min_steps, int(seconds / max(probe, 1e-6)))


def measure(
    name: str, device: torch.device, args: argparse.Namespace, clock: Callable[[], float]
) -> Iterator[Measurement]:
    """Every configuration of one model on one device: plain first, branch-loop before fused."""
    selected = PAPER_HYPERPARAMETERS[name]["batch_size"]
    batch = selected if device.type == "cuda" else min(selected, args.max_batch)
    flops = _flops(_model(name, args.n_packets, "model", args.seed))
    probe_data = _data(batch, args.n_packets, args.seed)
    probe_start = clock()
    iotscope_samples_per_second(name, probe_data, device, "model", "fp32", batch, clock, args.seed)
    probe = (clock() - probe_start) / 2
    steps = _steps_for(args.seconds, args.min_steps, probe)
    data = _data(batch * (steps + 1), args.n_packets, args.seed)
    timed = HostArrays(x=data.x[batch:], y=data.y[batch:], hosts=data.hosts[batch:])
    plain = plain_samples_per_second(name, data, device, batch, steps, clock, args.seed)
    yield Measurement(name, device.type, "plain", "fp32", batch, plain, flops)
    forms = ["branches", "model"] if name == "mwcnn1d" else ["model"]
    for precision in ("fp32", "bf16-mixed"):
        for form in forms:
            speed = iotscope_samples_per_second(
                name, timed, device, form, precision, batch, clock, args.seed
            )
            label = "iotscope" if form == "model" else "branches"
            yield Measurement(name, device.type, label, precision, batch, speed, flops)


HEADER = (
    f"{'model':8} {'device':6} {'form':9} {'precision':10} {'batch':>5} {'samples/s':>10} "
    f"{'vs plain':>8} {'vs branches':>11} {'MFLOP/sample':>12} {'GFLOP/s':>8}"
)


def row(r: Measurement, earlier: list[Measurement]) -> str:
    """One printed line; the ratios refer to the plain fp32 loop and the branch loop measured
    earlier on the same device (the latter at the same precision)."""

    def find(form: str, precision: str | None = None) -> Measurement | None:
        return next(
            (
                m
                for m in earlier
                if (m.model, m.device, m.form) == (r.model, r.device, form)
                and precision in (None, m.precision)
            ),
            None,
        )

    plain = find("plain") or r
    branches = find("branches", r.precision) if r.form == "iotscope" else None
    vs_branches = (
        f"{r.samples_per_second / branches.samples_per_second:10.2f}x" if branches else " " * 11
    )
    return (
        f"{r.model:8} {r.device:6} {r.form:9} {r.precision:10} {r.batch:5d} "
        f"{r.samples_per_second:10.1f} {r.samples_per_second / plain.samples_per_second:7.2f}x "
        f"{vs_branches} {r.flops_per_sample / 1e6:12.1f} "
        f"{3 * r.flops_per_sample * r.samples_per_second / 1e9:8.1f}"
    )


DEMO_OVERRIDES: dict[str, dict[str, object]] = {
    "cnn2d": {},
    "cnn1d": {"kernel_height": 8},
    "mwcnn1d": {"max_height": 20, "filters": 32},
}


def compare_precisions(models: list[str], runs: int, epochs: int, seed: int) -> None:
    """Test AUC of ``runs`` runs per model in fp32 and bf16-mixed on demo-size simulated data."""
    from iotscope.data.flows import build_flows
    from iotscope.data.ingest import ingest_capture
    from iotscope.data.simulate import simulate_telescope
    from iotscope.data.splits import make_splits
    from iotscope.train import run_seed, run_training_job

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        simulate_telescope(
            root / "t.pcap", root / "labels.csv", hosts=1500, max_packets=120, seed=seed
        )
        ingest_capture(root / "t.pcap", root / "packets.parquet")
        build_flows(
            [root / "packets.parquet"], root / "labels.csv", root / "flows.parquet", t_max=60
        )
        make_splits(root / "flows.parquet", root / "splits.parquet", folds=3, seed=seed)
        print(f"{'model':8} {'precision':10} test AUC per run -> mean (sd); {epochs} epochs")
        for model in models:
            aucs: dict[str, list[float]] = {}
            for precision in ("fp32", "bf16-mixed"):
                aucs[precision] = [
                    run_training_job(
                        flows=root / "flows.parquet",
                        splits=root / "splits.parquet",
                        model=model,
                        n_packets=60,
                        hyperparameters=DEMO_OVERRIDES[model],
                        seed=run_seed(seed, run),
                        evaluation="test",
                        epochs=epochs,
                        out_dir=root / model / precision / str(run),
                        experiment="precision",
                        precision=precision,
                        threads=torch.get_num_threads(),
                    )["auc"]
                    for run in range(runs)
                ]
                values = np.array(aucs[precision])
                shown = " ".join(f"{v:.4f}" for v in values)
                print(
                    f"{model:8} {precision:10} {shown} -> {values.mean():.4f} "
                    f"({values.std(ddof=1) if runs > 1 else 0.0:.4f})",
                    flush=True,
                )
            difference = np.array(aucs["bf16-mixed"]) - np.array(aucs["fp32"])
            print(f"{model:8} bf16 - fp32 per run: {' '.join(f'{d:+.4f}' for d in difference)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["cnn2d", "cnn1d", "mwcnn1d"])
    parser.add_argument("--n-packets", type=int, default=298)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--seconds", type=float, default=6.0, help="timed seconds per config")
    parser.add_argument("--min-steps", type=int, default=2)
    parser.add_argument("--max-batch", type=int, default=32, help="batch cap on a CPU")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall")
    parser.add_argument("--devices", nargs="+", default=None, help="default: cpu (+ cuda)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    parser.add_argument("--auc-runs", type=int, default=0, help="compare fp32/bf16 test AUCs")
    parser.add_argument("--auc-epochs", type=int, default=3)
    args = parser.parse_args()
    if args.auc_runs:
        torch.set_num_threads(args.threads)
        compare_precisions(args.models, args.auc_runs, args.auc_epochs, args.seed)
        return
    if args.quick:
        args.seconds, args.min_steps, args.max_batch = 1.0, 1, 8
    torch.set_num_threads(args.threads)
    devices = args.devices or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    clock = CLOCKS[args.clock]
    print(
        f"torch {torch.__version__}, python {platform.python_version()}, threads {args.threads}, "
        f"clock {args.clock}, n_packets {args.n_packets}"
    )
    for name in devices:
        device = torch.device(name)
        print(f"{name}: {device_name(device)}; native fast bf16: {has_fast_bf16(device)}")
    print(HEADER)
    print("-" * len(HEADER))
    results: list[Measurement] = []
    for name in devices:
        for model in args.models:
            for measurement in measure(model, torch.device(name), args, clock):
                print(row(measurement, results), flush=True)
                results.append(measurement)


if __name__ == "__main__":
    main()
