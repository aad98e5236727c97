"""Tiny real studies: workers as processes sharing one study, kills, restarts, outputs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest
import yaml
from optuna.trial import TrialState
from tune_helpers import T_MAX, start_workers, tiny_space, wait_all, write_tiny_data
from typer.testing import CliRunner

from iotscope.cli import app
from iotscope.hyperparameters import resolve_hyperparameters
from iotscope.tune import TuningSettings, load_study, model_search_spaces, open_storage
from iotscope.tune.budget import OUTCOME_ATTR, WORKER_ATTR
from iotscope.tune.results import (
    parameter_table,
    study_table,
    summarise,
    trials_frame,
)
from iotscope.tune.space import PAPER_SEARCH_SPACE
from iotscope.tune.study import Objective, load_tuning_data, run_worker

REPO = Path(__file__).resolve().parents[1]
SETTINGS = {
    "n_trials": 6,
    "epochs": 2,
    "n_packets": T_MAX,
    "pruner": "median",
    "pruner_startup_trials": 2,
    "pruner_warmup_epochs": 0,
    "heartbeat_interval": 0.5,
    "grace_period": 5.0,
    "precision": "fp32",
}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, set[str]]:
    return write_tiny_data(tmp_path_factory.mktemp("tune-data"))


def _job(data, directory: Path, name: str, **settings: object) -> dict[str, object]:
    flows, splits, _ = data
    return {
        "flows": flows,
        "splits": splits,
        "model": "cnn1d",
        "space": tiny_space(),
        "settings": {**SETTINGS, **settings},
        "journal": directory / "journal.log",
        "name": name,
        "out_dir": directory / "workers",
    }


def _study(directory: Path, name: str, storage: str | None = None) -> optuna.Study:
    return optuna.load_study(
        study_name=name, storage=open_storage(storage, directory / "journal.log")
    )


def _assert_exact_and_disjoint(
    study: optuna.Study, n: int, reports: list[Path], killed: int | None = None
) -> pd.DataFrame:
    """Exactly ``n`` counted trials, none left running, none run by two workers; ``killed`` is
    the pid of a worker killed before it could write its report."""
    frame = trials_frame(study, epochs=SETTINGS["epochs"])
    counted = frame[frame["counted"]]
    assert len(counted) == n
    assert not (frame["state"] == "RUNNING").any()
    assert counted["number"].is_unique
    ran = [t["number"] for path in reports for t in json.loads(path.read_text())["trials"]]
    assert len(ran) == len(set(ran)), f"a trial ran twice: {sorted(ran)}"
    by_killed = {
        t.number for t in study.trials if t.system_attrs.get(WORKER_ATTR, {}).get("pid") == killed
    }
    assert not by_killed & set(ran)
    assert set(counted["number"]) <= set(ran) | by_killed
    # every finished trial names one worker, the one that reported it
    owners = {
        t["number"]: json.loads(p.read_text())["worker"]
        for p in reports
        for t in json.loads(p.read_text())["trials"]
    }
    for trial in study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED)):
        if trial.number not in by_killed:
            assert trial.system_attrs[WORKER_ATTR]["worker"] == owners[trial.number]
    return frame


def test_the_command_runs_two_workers_to_exactly_n_trials_and_writes_outputs(
    data, tmp_path: Path
) -> None:
    flows, splits, _ = data
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump(tiny_space()))
    out = tmp_path / "cnn1d"
    args = ["tune", "--model", "cnn1d", "--flows", str(flows), "--splits", str(splits)]
    args += ["--out", str(out), "--trials", "6", "--workers", "2", "--epochs", "2"]
    args += ["--n-packets", str(T_MAX), "--search-space", str(space), "--threads", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    reports = sorted((out / "workers").glob("*.json"))
    assert len(reports) == 2
    name = json.loads(reports[0].read_text())["study"]
    study = optuna.load_study(study_name=name, storage=open_storage(None, out / "journal.log"))
    frame = _assert_exact_and_disjoint(study, 6, reports)
    assert frame["worker"].nunique() == 2, "both workers ran trials"
    # the test hosts have NaN features: a finite loss for every trial shows none was read
    counted = frame[frame["counted"]]
    assert counted["value"].notna().all() and (counted["outcome"] != "diverged").all()

    base = resolve_hyperparameters("cnn1d")
    written = yaml.safe_load((out / "best.yaml").read_text())
    complete = frame[frame["state"] == "COMPLETE"]
    assert written["trial"] == int(complete.loc[complete["value"].idxmin(), "number"])
    assert written["value"] == pytest.approx(complete["value"].min())
    assert written["hyperparameters"] == {**base, **written["parameters"]}
    assert set(written["parameters"]) == set(PAPER_SEARCH_SPACE["cnn1d"])
    assert f"best trial {written['trial']}" in result.output
    table = pd.read_parquet(out / "trials.parquet")
    assert len(table) == len(frame) and {"params_filters", "duration_s", "pruned"} <= set(table)
    for figure in ("history.svg", "importance.svg"):
        assert (out / figure).read_text().startswith("<?xml")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["trials"] == 6 and summary["wall_seconds"] > 0


def test_a_killed_worker_loses_only_its_trial_and_a_rerun_continues(data, tmp_path: Path) -> None:
    # no pruning and more epochs, so that the victim is surely caught inside a trial
    job = _job(data, tmp_path, "kill", n_trials=6, epochs=6, pruner="none")
    victim, survivor = start_workers(2, **job)
    _study_when_running(tmp_path, "kill", victim.pid)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    wait_all([survivor])
    study = _study(tmp_path, "kill")
    trials = study.get_trials()
    stale = [t for t in trials if t.system_attrs.get(OUTCOME_ATTR) == "stale"]
    assert len(stale) == 1 and stale[0].system_attrs[WORKER_ATTR]["pid"] == victim.pid
    _assert_exact_and_disjoint(study, 6, [tmp_path / "workers" / "1.json"], killed=victim.pid)

    # rerun with a larger budget: the same study continues to exactly 8
    wait_all(start_workers(1, **{**job, "settings": {**job["settings"], "n_trials": 8}}))
    study = _study(tmp_path, "kill")
    frame = trials_frame(study, epochs=6)
    assert frame["counted"].sum() == 8
    assert set(frame["number"]) == set(range(len(frame)))


def _study_when_running(directory: Path, name: str, pid: int, timeout: float = 60) -> None:
    """Wait until worker ``pid`` is inside a trial, past its first epoch."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.1)
        try:
            trials = _study(directory, name).get_trials(deepcopy=False)
        except KeyError:
            continue
        mine = [
            t
            for t in trials
            if t.state == TrialState.RUNNING
            and t.system_attrs.get(WORKER_ATTR, {}).get("pid") == pid
            and t.user_attrs.get("epochs_completed")
        ]
        if mine:
            return
    raise AssertionError(f"worker {pid} never got into a trial")


def test_postgres_storage_two_workers(data, tmp_path: Path) -> None:
    url = os.environ.get("IOTSCOPE_TEST_POSTGRES_URL")
    started = False
    # the server runs as another user under root: its folder must not be inside tmp_path (0700)
    env = {**os.environ, "IOTSCOPE_POSTGRES_DIR": tempfile.mkdtemp(prefix="iotscope-pg-")}
    if not url:
        result = subprocess.run(
            [str(REPO / ".ci" / "postgres.sh"), "start"], capture_output=True, text=True, env=env
        )
        if result.returncode != 0:
            pytest.skip(f"no PostgreSQL server could be started: {result.stderr.strip()[-300:]}")
        url, started = result.stdout.strip().splitlines()[-1], True
    try:
        name = f"pg-{os.getpid()}-{time.time_ns()}"
        wait_all(start_workers(2, **_job(data, tmp_path, name, n_trials=4, epochs=1), storage=url))
        study = _study(tmp_path, name, storage=url)
        _assert_exact_and_disjoint(study, 4, sorted((tmp_path / "workers").glob("*.json")))
        optuna.delete_study(study_name=name, storage=url)
    finally:
        if started:
            subprocess.run([str(REPO / ".ci" / "postgres.sh"), "stop"], env=env, check=False)


def _in_process(data, space: dict, settings: TuningSettings, seed_worker: int = 0):
    flows, splits, _ = data
    train, val = load_tuning_data(flows, splits, n_packets=T_MAX)
    study = load_study(optuna.storages.InMemoryStorage(), "s", settings, worker=seed_worker)
    objective = Objective(
        model="cnn1d",
        base=resolve_hyperparameters("cnn1d"),
        space=model_search_spaces(["cnn1d"], {"cnn1d": space})["cnn1d"],
        train=train,
        val=val,
        settings=settings,
        threads=1,
    )
    report = run_worker(study, objective, worker=seed_worker, log=lambda message: None)
    return study, report


def test_the_objective_reads_only_train_and_val_hosts(data) -> None:
    flows, splits, test_hosts = data
    train, val = load_tuning_data(flows, splits, n_packets=T_MAX)
    split = pd.read_parquet(splits).set_index("host")["split"]
    assert set(split[list(train.hosts)]) == {"train"}
    assert set(split[list(val.hosts)]) == {"val"}
    assert not test_hosts & (set(train.hosts) | set(val.hosts))


def test_impossible_combinations_fail_with_a_reason_and_the_study_goes_on(data) -> None:
    space = {**tiny_space(), "kernel_height": {"choices": [3, T_MAX + 4]}}
    settings = TuningSettings(**{**SETTINGS, "n_trials": 5, "epochs": 1, "pruner": "none"})
    study, _ = _in_process(data, space, settings)
    frame = trials_frame(study, epochs=1)
    infeasible = frame[frame["outcome"] == "infeasible"]
    assert len(frame) == 5 and frame["counted"].all()
    assert len(infeasible) >= 1 and (frame["state"] == "COMPLETE").any()
    assert infeasible["fail_reason"].str.contains("kernel_height").all()
    assert (infeasible["params_kernel_height"] == T_MAX + 4).all()


def test_a_seeded_single_worker_study_reproduces(data) -> None:
    settings = TuningSettings(**{**SETTINGS, "n_trials": 2, "epochs": 1, "pruner": "none"})

    def run() -> list[tuple[dict, float]]:
        study, _ = _in_process(data, tiny_space(), settings)
        return [(t.params, t.value) for t in study.trials]

    first, second = run(), run()
    assert [p for p, _ in first] == [p for p, _ in second]
    assert [v for _, v in first] == pytest.approx([v for _, v in second])
    other, _ = _in_process(data, tiny_space(), settings, seed_worker=1)
    assert [t.params for t in other.trials] != [p for p, _ in first]


def test_pruning_saves_time_and_the_saving_is_recorded(data) -> None:
    settings = TuningSettings(
        **{**SETTINGS, "n_trials": 6, "epochs": 3, "pruner_startup_trials": 2}
    )
    study, _ = _in_process(data, tiny_space(), settings)
    frame = trials_frame(study, epochs=3)
    pruned = frame[frame["pruned"]]
    summary = summarise("cnn1d", frame)
    assert summary.pruned == len(pruned)
    assert len(pruned) >= 1, "the median pruner stopped no trial of this seeded study"
    assert (pruned["epochs_completed"] < 3).all()
    expected = (pruned["duration_s"] * 3 / pruned["epochs_completed"]).sum()
    assert summary.trial_seconds_unpruned == pytest.approx(
        frame["duration_s"].sum() - pruned["duration_s"].sum() + expected
    )
    assert summary.pruning_speedup > 1
    studies = study_table([summary])
    assert studies.loc[0, "trials"] == 6 and studies.loc[0, "paper_time"] == "2:59:16"
    spaces = model_search_spaces(["cnn1d"], {"cnn1d": tiny_space()})
    best = {"cnn1d": {"hyperparameters": {**resolve_hyperparameters("cnn1d"), "filters": 8}}}
    from iotscope.models import PAPER_HYPERPARAMETERS

    parameters = parameter_table(["cnn1d"], spaces, PAPER_HYPERPARAMETERS, best)
    row = parameters.set_index("parameter").loc["filters"]
    assert (row["paper_space"], row["space"], row["paper"], row["tuned"]) == (
        "32, 64, 128",
        "4, 8",
        "32",
        "8",
    )
