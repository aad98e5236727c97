"""The tiny study through ``profiles/slurm`` on a real single-node SLURM cluster.

``.ci/slurm.sh`` installs and starts SLURM (munge, slurmctld, slurmd with four stand-in GPUs);
this module starts it, runs the workflow through the profile that users run, stops it, and
compares the results with a local run of the same configuration and seeds.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

pytestmark = [pytest.mark.slow, pytest.mark.slurm]

REPO = Path(__file__).resolve().parents[1]
SLURM_SCRIPT = REPO / ".ci" / "slurm.sh"
CONFIGS = (
    REPO / "tests" / "configs" / "tiny.yaml",
    REPO / "tests" / "configs" / "tiny-cluster.yaml",
)
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
TRAINING_RULES = ("train_optimized", "train_packets", "train_cv")
# Columns that legitimately differ between two runs of the same jobs on different executors:
# timings, and where the job ran.
RUN_SPECIFIC = {
    "fit_seconds",
    "eval_seconds",
    "train_samples_per_second",
    "versions",
    "device_name",
    "gpu_id",
    "cuda_visible_devices",
}


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory):
    """A running SLURM cluster; skipped where it cannot be started, but never in CI."""
    state = tmp_path_factory.mktemp("slurm-state")
    env = {**os.environ, "IOTSCOPE_SLURM_DIR": str(state)}
    started = subprocess.run(
        ["bash", str(SLURM_SCRIPT), "start"], env=env, capture_output=True, text=True
    )
    if started.returncode != 0:
        reason = f"SLURM could not be started: {started.stderr.strip()[-500:]}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    conf = re.search(r"SLURM_CONF=(\S+)", started.stdout).group(1)
    try:
        yield {**env, "SLURM_CONF": conf}
    finally:
        subprocess.run(["bash", str(SLURM_SCRIPT), "stop"], env=env, check=False)


def cluster_profile(target: Path) -> Path:
    """``profiles/slurm`` edited as its comments say, for a one-node cluster and the tiny study.

    Partition and account; one CPU per GPU (the tiny config trains with one thread) and memory
    requests that let four jobs share the node.
    """
    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    profile["default-resources"]["slurm_partition"] = "debug"
    del profile["default-resources"]["slurm_account"]
    profile["default-resources"]["mem_mb"] = 1000
    for resources in profile["set-resources"].values():
        resources["mem_mb"] = 2000
        for cpus in ("cpus_per_gpu", "cpus_per_task"):
            if cpus in resources:
                resources[cpus] = 1
    profile.update(
        {
            "slurm-no-account": True,
            "slurm-status-command": "squeue",
            "slurm-keep-successful-logs": True,
            "slurm-init-seconds-before-status-checks": 1,
            "seconds-between-status-checks": 2,
            "jobs": 4,
        }
    )
    target.mkdir(parents=True)
    (target / "config.yaml").write_text(yaml.safe_dump(profile))
    return target


def start_snakemake(workdir: Path, *args: str, env: dict[str, str] | None = None):
    command = [
        str(SNAKEMAKE),
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        *map(str, CONFIGS),
        *args,
    ]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def finish(process: subprocess.Popen[str], what: str) -> None:
    output, _ = process.communicate(timeout=900)
    assert process.returncode == 0, f"{what} failed:\n{output[-4000:]}"


@pytest.fixture(scope="module")
def runs(slurm_cluster: dict[str, str], tmp_path_factory: pytest.TempPathFactory):
    """The tiny study run through the SLURM profile and, at the same time, locally."""
    base = tmp_path_factory.mktemp("slurm-study")
    profile = cluster_profile(base / "profile")
    on_cluster = start_snakemake(base / "cluster", "--profile", str(profile), env=slurm_cluster)
    # the cluster run mostly waits on the scheduler: the local run fits in beside it
    local = start_snakemake(base / "local", "--cores", "1", "--resources", "gpu=1")
    finish(on_cluster, "the run through profiles/slurm")
    finish(local, "the local run")
    return base / "cluster", base / "local"


def sbatch_logs(workdir: Path, rule: str) -> list[Path]:
    return sorted((workdir / "logs" / "slurm" / f"rule_{rule}").rglob("*.log"))


def test_every_training_job_ran_as_an_sbatch_job(runs):
    cluster, _ = runs
    expected = sum(1 for _ in (cluster / "results" / "runs").rglob("metrics.json"))
    logs = [log for rule in TRAINING_RULES for log in sbatch_logs(cluster, rule)]
    job_ids = {int(log.stem) for log in logs}
    assert expected > 0
    assert len(job_ids) == len(logs) == expected


def test_each_job_used_the_gpu_slurm_gave_it(runs):
    cluster, _ = runs
    for rule in TRAINING_RULES:
        for job_log in (cluster / "logs" / rule).rglob("*.log"):
            text = job_log.read_text()
            granted = re.search(r"CUDA_VISIBLE_DEVICES=(\d+) was set by the environment", text)
            assert granted, f"{job_log} does not say which GPU SLURM gave the job"
            assert int(granted.group(1)) in range(4)
            assert "without a lock" in text  # the allocator respected it and took no other GPU


def test_cluster_metrics_equal_the_local_run(runs):
    cluster, local = runs
    on_cluster = pd.read_parquet(cluster / "results" / "metrics.parquet")
    at_home = pd.read_parquet(local / "results" / "metrics.parquet")
    keys = ["experiment", "model", "n_packets", "run", "fold"]
    columns = [c for c in at_home.columns if c not in RUN_SPECIFIC]
    left = on_cluster[columns].sort_values(keys, na_position="first").reset_index(drop=True)
    right = at_home[columns].sort_values(keys, na_position="first").reset_index(drop=True)
    pd.testing.assert_frame_equal(left, right)
    assert on_cluster["cuda_visible_devices"].notna().all()
    assert at_home["cuda_visible_devices"].isna().all()


def test_aggregations_stayed_local(runs):
    cluster, _ = runs
    submitted = {path.name.removeprefix("rule_") for path in (cluster / "logs" / "slurm").iterdir()}
    assert set(TRAINING_RULES) <= submitted
    assert not submitted & {"aggregate", "statistics", "summary", "hyperparameters"}
    assert (cluster / "results" / "summary.md").stat().st_size > 0
