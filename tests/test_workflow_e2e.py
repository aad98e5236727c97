"""The real workflow end to end on tests/configs/tiny.yaml, interrupted once and resumed, then
the dry-runs that show Snakemake reruns only what a change invalidates."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from workflow_helpers import (
    TINY_JOBS,
    TRAINING_RULES,
    copy_workflow,
    dry_run,
    job_counts,
    snakemake,
    snakemake_command,
    with_settings,
)

pytestmark = pytest.mark.slow

TRAINING_JOBS = sum(TINY_JOBS[rule] for rule in TRAINING_RULES)


@dataclass
class Study:
    workdir: Path
    snakefile: Path
    planned: dict[str, int]
    finished_before_kill: dict[Path, int]
    resumed: dict[str, int]


def metrics_files(workdir: Path) -> dict[Path, int]:
    return {path: path.stat().st_mtime_ns for path in workdir.glob("results/runs/**/metrics.json")}


def finished_outputs(log: str) -> set[str]:
    """Output files of the jobs Snakemake's log reports as finished."""
    outputs: dict[str, list[str]] = {}
    current: list[str] = []
    for line in log.splitlines():
        line = line.strip()
        if line.startswith("output: "):
            current = [name.strip() for name in line.removeprefix("output: ").split(",")]
        elif line.startswith("jobid: "):
            outputs[line.removeprefix("jobid: ")] = current
    finished = re.findall(r"Finished jobid: (\d+) ", log)
    return {name for jobid in finished for name in outputs.get(jobid, [])}


def run_until_a_training_job_finishes(
    workdir: Path, snakefile: Path, timeout: float = 900
) -> set[Path]:
    """Start the study; SIGKILL Snakemake and all its jobs once it reports a training job done.

    Returns the metrics.json files of the training jobs Snakemake had recorded as finished.
    """
    log_path = workdir / "interrupted.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            snakemake_command(workdir, "--cores", "2", snakefile=snakefile),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        try:
            while not re.search(r"Finished jobid: \d+ \(Rule: train_", log_path.read_text()):
                if process.poll() is not None:
                    raise AssertionError(
                        f"snakemake ended ({process.returncode}) before a training job finished:"
                        f"\n{log_path.read_text()[-4000:]}"
                    )
                if time.monotonic() > deadline:
                    raise AssertionError("no training job finished in time")
                time.sleep(0.2)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    finished = finished_outputs(log_path.read_text())
    return {workdir / name for name in finished if name.endswith("metrics.json")}


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    snakefile = copy_workflow(tmp_path_factory.mktemp("workflow"))
    workdir = tmp_path_factory.mktemp("study")
    planned = dry_run(workdir, snakefile=snakefile)
    finished = run_until_a_training_job_finishes(workdir, snakefile)
    present = metrics_files(workdir)
    finished_mtimes = {path: present[path] for path in finished}
    snakemake(workdir, "--unlock", "--cores", "1", snakefile=snakefile)
    resumed = snakemake(workdir, "--cores", "2", "--rerun-incomplete", snakefile=snakefile)
    snakemake(workdir, "--report", "results/report.html", "--cores", "1", snakefile=snakefile)
    return Study(
        workdir, snakefile, planned, finished_mtimes, job_counts(resumed.stdout + resumed.stderr)
    )


def test_plan_has_one_job_per_grid_cell(study: Study) -> None:
    assert study.planned == TINY_JOBS


def test_resumed_run_does_not_redo_finished_training_jobs(study: Study) -> None:
    assert study.finished_before_kill, "the run was killed before any training job finished"
    resumed_training = sum(study.resumed.get(rule, 0) for rule in TRAINING_RULES)
    assert resumed_training == TRAINING_JOBS - len(study.finished_before_kill)
    for path, mtime in study.finished_before_kill.items():
        assert path.stat().st_mtime_ns == mtime, f"{path} was rewritten"


def test_nothing_left_to_do_after_the_run(study: Study) -> None:
    assert dry_run(study.workdir, snakefile=study.snakefile) == {}


def test_metrics_table_has_one_row_per_training_job(study: Study) -> None:
    table = pd.read_parquet(study.workdir / "results" / "metrics.parquet")
    assert len(table) == TRAINING_JOBS
    per_experiment = table.groupby("experiment").size().to_dict()
    assert per_experiment == {"optimized": 2, "packets": 8, "cv": 4}
    assert set(table["model"]) == {"cnn2d", "cnn1d"}
    packets = table[table["experiment"] == "packets"]
    assert sorted(packets["n_packets"].unique()) == [20, 30]
    assert sorted(packets["run"].unique()) == [0, 1]
    assert sorted(table.loc[table["experiment"] == "cv", "fold"].unique()) == [0, 1]
    assert table.loc[table["experiment"] != "packets", "n_packets"].eq(30).all()
    assert table["accuracy"].between(0, 1).all()
    hyperparameters = table["hyperparameters"].map(json.loads)
    cnn1d = hyperparameters[table["model"] == "cnn1d"]
    assert all(h["kernel_height"] == 4 for h in cnn1d), "the override did not reach the jobs"
    assert table["seed"].nunique() > 1


def test_tables_figures_and_summary_are_written(study: Study) -> None:
    results = study.workdir / "results"
    expected = [
        "tables/optimized_runtime.csv",
        "tables/optimized_runtime.md",
        "tables/optimized_scores.csv",
        "tables/optimized_scores.md",
        "tables/statistics/summary.json",
        "figures/accuracy_vs_packets.svg",
        "figures/loss_vs_packets.svg",
        "figures/runtime_vs_packets.svg",
        "figures/cv_accuracy.svg",
        *(
            f"figures/{curve}_{model}.svg"
            for curve in ("roc", "roc_zoom", "pr", "pr_weighted")
            for model in ("cnn2d", "cnn1d")
        ),
        "summary.md",
    ]
    for name in expected:
        path = results / name
        assert path.is_file() and path.stat().st_size > 0, f"{name} missing or empty"
    assert list((results / "tables" / "statistics").glob("*.csv"))
    runtime = pd.read_csv(results / "tables" / "optimized_runtime.csv")
    assert list(runtime["Model"]) == ["2D-CNN", "1D-CNN"]
    summary = (results / "summary.md").read_text()
    assert "1D-CNN" in summary and "2D-CNN" in summary


def test_report_builds_with_every_figure(study: Study) -> None:
    report = study.workdir / "results" / "report.html"
    assert report.stat().st_size > 100_000
    text = report.read_text(errors="replace")
    for name in ("accuracy_vs_packets.svg", "cv_accuracy.svg", "roc_zoom_cnn1d.svg"):
        assert name in text


def test_every_job_has_a_log_and_a_benchmark(study: Study) -> None:
    logs = study.workdir / "logs"
    for rule in TRAINING_RULES:
        expected = TINY_JOBS[rule]
        assert len(list((logs / rule).rglob("*.log"))) == expected
        assert len(list((logs / "benchmarks" / rule).rglob("*.tsv"))) == expected
    assert (logs / "train_optimized" / "cnn1d.log").read_text().strip(), "empty training log"


def downstream_of_one_model(model_jobs: dict[str, int]) -> dict[str, int]:
    return {
        **model_jobs,
        "aggregate": 1,
        "optimized_tables": 1,
        "statistics": 1,
        "figures_packets": 1,
        "figure_cv": 1,
        "figures_curves": 1,
        "summary": 1,
        "all": 1,
    }


ONE_MODEL = {"hyperparameters": 1, "train_optimized": 1, "train_packets": 4, "train_cv": 2}


def test_changing_one_hyperparameter_reruns_only_that_model(study: Study, tmp_path: Path) -> None:
    configs = with_settings(
        tmp_path, "dropout", "hyperparameter_overrides: {cnn1d: {dropout: 0.2}}"
    )
    planned = dry_run(study.workdir, configfile=configs, snakefile=study.snakefile)
    assert planned == downstream_of_one_model(ONE_MODEL)


def test_editing_a_model_source_reruns_only_that_model(study: Study) -> None:
    source = study.snakefile.parent / "src" / "iotscope" / "models" / "cnn2d.py"
    original = source.read_text()
    source.write_text(original + "\n# an edit\n")
    try:
        planned = dry_run(study.workdir, snakefile=study.snakefile)
    finally:
        source.write_text(original)
    assert planned == downstream_of_one_model(ONE_MODEL)
