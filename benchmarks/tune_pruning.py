"""What pruning saves: the same seeded tuning study with the median pruner and without it.

Runs one worker in this process on the given flows and splits (e.g. the demo's), once per pruner
setting, and prints the study's wall time, the trials pruned, the best validation loss and the
speed-up. Example (after `make demo`):

    .venv/bin/python benchmarks/tune_pruning.py --flows results-demo-root/results/flows.parquet \\
        --splits results-demo-root/results/splits.parquet --model cnn1d --trials 12 --epochs 6
"""

from __future__ import annotations

import argparse
import time

import optuna
import yaml

from iotscope.data.load import HostArrays
from iotscope.hyperparameters import resolve_hyperparameters
from iotscope.tune import TuningSettings, load_study, model_search_spaces
from iotscope.tune.results import summarise, trials_frame
from iotscope.tune.study import Objective, load_tuning_data, run_worker


def run(
    args: argparse.Namespace, pruner: str, train: HostArrays, val: HostArrays
) -> dict[str, float]:
    settings = TuningSettings(
        n_trials=args.trials,
        epochs=args.epochs,
        n_packets=args.n_packets,
        seed=args.seed,
        pruner=pruner,
        pruner_startup_trials=args.startup_trials,
        pruner_warmup_epochs=args.warmup_epochs,
        precision="fp32",
    )
    fixed = yaml.safe_load(args.fixed) if args.fixed else {}
    study = load_study(optuna.storages.InMemoryStorage(), f"bench-{pruner}", settings)
    objective = Objective(
        model=args.model,
        base=resolve_hyperparameters(args.model, fixed),
        space=model_search_spaces([args.model], {}, fixed={args.model: list(fixed)})[args.model],
        train=train,
        val=val,
        settings=settings,
        threads=args.threads,
    )
    started = time.perf_counter()
    run_worker(study, objective, worker=0, log=lambda message: None)
    seconds = time.perf_counter() - started
    summary = summarise(args.model, trials_frame(study, epochs=args.epochs))
    best = min((t.value for t in study.trials if t.value is not None), default=float("nan"))
    return {
        "seconds": seconds,
        "pruned": summary.pruned,
        "best": best,
        "estimated_unpruned": summary.wall_seconds_unpruned,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", default="results/flows.parquet")
    parser.add_argument("--splits", default="results/splits.parquet")
    parser.add_argument("--model", default="cnn1d")
    parser.add_argument("--n-packets", type=int, default=60)
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--startup-trials", type=int, default=3)
    parser.add_argument("--warmup-epochs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--fixed", help="YAML mapping of hyperparameters held fixed")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    train, val = load_tuning_data(args.flows, args.splits, n_packets=args.n_packets)
    print(
        f"{args.model}: {len(train)} training and {len(val)} validation hosts, "
        f"{args.trials} trials x {args.epochs} epochs"
    )
    results = {pruner: run(args, pruner, train, val) for pruner in ("none", "median")}
    for pruner, result in results.items():
        print(
            f"pruner {pruner:>6}: {result['seconds']:7.1f} s, {result['pruned']:2d} pruned, "
            f"best validation loss {result['best']:.4f}, "
            f"estimated without pruning {result['estimated_unpruned']:.1f} s (wall)"
        )
    speedup = results["none"]["seconds"] / results["median"]["seconds"]
    print(f"speed-up from pruning: {speedup:.2f}x")


if __name__ == "__main__":
    main()
