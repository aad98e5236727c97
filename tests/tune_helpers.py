"""Tiny tuning studies for the tests: synthetic flows and splits, and worker processes.

The flows file has the real schema (iotscope.data.flows.flows_schema). The features of the test
hosts are NaN, so that a trial whose training or scoring touched a test host would get a NaN loss.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from iotscope.data.flows import META_FEATURES, META_MIN_PACKETS, META_T_MAX, flows_schema
from iotscope.features import FEATURE_NAMES, N_FEATURES

TESTS = Path(__file__).resolve().parent
T_MAX = 12


def write_tiny_data(
    directory: Path, *, hosts: int = 240, t_max: int = T_MAX, seed: int = 0
) -> tuple[Path, Path, set[str]]:
    """Write flows.parquet and splits.parquet of ``hosts`` separable hosts; return the paths and
    the test hosts (whose features are NaN)."""
    rng = np.random.default_rng(seed)
    names = [f"10.0.{i // 250}.{i % 250 + 1}" for i in range(hosts)]
    label = (rng.random(hosts) < 0.3).astype(np.int8)
    x = rng.normal(size=(hosts, t_max, N_FEATURES)).astype(np.float32)
    x[:, :, :4] += 1.5 * label[:, None, None]
    split = np.array(["train"] * hosts, dtype=object)
    order = rng.permutation(hosts)
    split[order[: hosts // 5]] = "test"
    split[order[hosts // 5 : 2 * hosts // 5]] = "val"
    test = split == "test"
    x[test] = np.nan
    fold = np.where(test, -1, rng.integers(0, 2, hosts)).astype(np.int32)
    schema = flows_schema(t_max).with_metadata(
        {
            META_FEATURES: json.dumps(list(FEATURE_NAMES)),
            META_T_MAX: json.dumps(t_max),
            META_MIN_PACKETS: json.dumps(1),
        }
    )
    flows = pa.table(
        [
            pa.array(names, pa.string()),
            pa.array(label, pa.int8()),
            pa.array([None] * hosts, pa.string()),
            pa.array(np.full(hosts, t_max, np.int32)),
            pa.array(np.arange(hosts).astype("datetime64[s]").astype("datetime64[ns]")),
            pa.FixedShapeTensorArray.from_numpy_ndarray(x, dim_names=["packet", "feature"]),
        ],
        schema=schema,
    )
    flows_path, splits_path = directory / "flows.parquet", directory / "splits.parquet"
    pq.write_table(flows, flows_path)
    splits = pa.table(
        {"host": pa.array(names), "split": pa.array(list(split)), "fold": pa.array(fold)}
    )
    pq.write_table(splits, splits_path)
    return flows_path, splits_path, {n for n, s in zip(names, split, strict=True) if s == "test"}


def tiny_space() -> dict[str, dict[str, object]]:
    """A cnn1d search space small enough to train in a blink on T_MAX packets."""
    return {
        "batch_size": {"choices": [32, 64]},
        "filters": {"choices": [4, 8]},
        "kernel_height": {"choices": [2, 3]},
        "layers": {"low": 1, "high": 2, "step": 1},
        "pool": {"choices": [2]},
    }


def worker_command(**job: object) -> list[str]:
    """A command that runs ``iotscope.tune.tune_worker`` for ``job`` (JSON-able keyword args)."""
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(TESTS)!r})\n"
        "import tune_helpers\n"
        "tune_helpers.run_worker_job(json.loads(sys.argv[1]))\n"
    )
    return [sys.executable, "-c", code, json.dumps(job, default=str)]


def run_worker_job(job: dict[str, object]) -> None:
    """Body of a worker process started with :func:`worker_command`."""
    import logging

    import optuna

    from iotscope.hyperparameters import resolve_hyperparameters
    from iotscope.tune import TuningSettings, model_search_spaces, tune_worker

    logging.basicConfig(level=logging.INFO, stream=sys.stdout)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    model = str(job["model"])
    tune_worker(
        flows=job["flows"],
        splits=job["splits"],
        model=model,
        worker=int(job["worker"]),
        base=resolve_hyperparameters(model),
        space=model_search_spaces([model], {model: job["space"]})[model],
        settings=TuningSettings(**job["settings"]),
        journal=job["journal"],
        name=str(job["name"]),
        storage=job.get("storage"),
        out=job["out"],
        threads=1,
        log=logging.getLogger("worker").info,
    )


def start_workers(n: int, **job: object) -> list[subprocess.Popen[str]]:
    """Start ``n`` worker processes of one study; worker k writes ``{out_dir}/{k}.json``."""
    out_dir = Path(str(job.pop("out_dir")))
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    return [
        subprocess.Popen(
            worker_command(**job, worker=k, out=out_dir / f"{k}.json"),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        for k in range(n)
    ]


def wait_all(processes: list[subprocess.Popen[str]], timeout: float = 120) -> list[str]:
    """Wait for the processes; raise with their output if one fails."""
    outputs = []
    for process in processes:
        output, _ = process.communicate(timeout=timeout)
        if process.returncode != 0:
            raise AssertionError(f"worker failed ({process.returncode}):\n{output[-6000:]}")
        outputs.append(output)
    return outputs
