"""The search spaces and the trial budget's bookkeeping (no training)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime

import optuna
import pytest
from optuna.distributions import IntDistribution
from optuna.trial import TrialState, create_trial

from iotscope.tune.budget import (
    HEARTBEAT_ATTR,
    OUTCOME_ATTR,
    WORKER_ATTR,
    budget,
    counts,
    fail_stale_trials,
    trial_alive,
    within_budget,
    worker_identity,
)
from iotscope.tune.space import (
    PAPER_SEARCH_SPACE,
    Categorical,
    FloatRange,
    IntRange,
    SearchSpaceError,
    model_search_spaces,
    parse_dimension,
    space_as_config,
)


def test_default_space_is_the_papers_table_1_1() -> None:
    described = {
        model: {key: dim.describe() for key, dim in space.items()}
        for model, space in PAPER_SEARCH_SPACE.items()
    }
    common = {
        "batch_size": "256, 512, 1024",
        "filters": "32, 64, 128",
        "activation": "relu, sigmoid, tanh",
        "dropout": "U(0.1, 0.3)",
        "optimizer": "sgd, adam, rmsprop",
        "learning_rate": "U(0.0009, 0.00225)",
    }
    assert described["cnn2d"] == {
        **common,
        "kernel_size": "2, 3",
        "pool": "2, 3",
        "layers": "1:1:4",
    }
    assert described["cnn1d"] == {
        **common,
        "kernel_height": "2, 4, 8, 16, 32, 64",
        "pool": "2, 3",
        "layers": "1:1:4",
    }
    assert described["mwcnn1d"] == {**common, "max_height": "40:10:80"}


def test_every_searched_key_is_a_hyperparameter_of_its_model() -> None:
    from iotscope.models import PAPER_HYPERPARAMETERS

    for model, space in PAPER_SEARCH_SPACE.items():
        assert set(space) <= set(PAPER_HYPERPARAMETERS[model]), model


def test_config_forms_parse_and_round_trip() -> None:
    assert parse_dimension({"choices": [2, 4]}, where="w") == Categorical((2, 4))
    assert parse_dimension({"low": 0.1, "high": 0.3}, where="w") == FloatRange(0.1, 0.3)
    assert parse_dimension({"low": 1e-4, "high": 1e-2, "log": True}, where="w").log
    assert parse_dimension({"low": 40, "high": 80, "step": 10}, where="w") == IntRange(40, 80, 10)
    space = PAPER_SEARCH_SPACE["mwcnn1d"]
    forms = space_as_config(space)
    assert {k: parse_dimension(v, where=k) for k, v in forms.items()} == space


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"choices": []}, "w.choices: expected a non-empty list"),
        ({"choices": [2, 2]}, "values repeat"),
        ({"low": 3, "high": 1}, "low 3 is above high 1"),
        ({"low": 1, "high": 4, "step": 0}, "w.step: must be at least 1"),
        ({"low": 1.5, "high": 4, "step": 1}, "w.low: expected an integer"),
        ({"low": 0, "high": 1, "log": True}, "log-uniform range needs low > 0"),
        ({"min": 0, "max": 1}, "unknown form with keys ['max', 'min']"),
        ([1, 2], "expected a mapping"),
    ],
)
def test_malformed_dimensions_are_named(spec: object, message: str) -> None:
    with pytest.raises(SearchSpaceError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_dimension(spec, where="w")


def test_a_key_the_model_lacks_stops_naming_it() -> None:
    with pytest.raises(SearchSpaceError, match=r"tuning\.search_space\.cnn1d\.kernel_size"):
        model_search_spaces(["cnn1d"], {"cnn1d": {"kernel_size": {"choices": [2, 3]}}})
    # also for a model that is not being tuned, and for an unknown model
    with pytest.raises(SearchSpaceError, match=r"search_space\.mwcnn1d\.layers"):
        model_search_spaces(["cnn1d"], {"mwcnn1d": {"layers": {"low": 1, "high": 2, "step": 1}}})
    with pytest.raises(SearchSpaceError, match=r"search_space\.cnn3d: unknown model"):
        model_search_spaces(["cnn1d"], {"cnn3d": {}})


def test_overrides_replace_drop_and_fix_dimensions() -> None:
    spaces = model_search_spaces(
        ["cnn1d", "mwcnn1d"],
        {"cnn1d": {"kernel_height": {"choices": [8, 16]}, "pool": None}},
        fixed={"mwcnn1d": ["max_height", "filters"]},
    )
    assert spaces["cnn1d"]["kernel_height"] == Categorical((8, 16))
    assert "pool" not in spaces["cnn1d"]
    assert set(PAPER_SEARCH_SPACE["mwcnn1d"]) - set(spaces["mwcnn1d"]) == {"max_height", "filters"}
    with pytest.raises(SearchSpaceError, match=r"\['max_height'\] fixed by hyperparameter_overr"):
        model_search_spaces(
            ["mwcnn1d"],
            {"mwcnn1d": {"max_height": {"low": 20, "high": 30, "step": 10}}},
            fixed={"mwcnn1d": ["max_height"]},
        )


def _trial(number: int, state: TrialState, **system_attrs: object):
    trial = create_trial(
        state=state,
        value=0.5 if state == TrialState.COMPLETE else None,
        params={"a": 1},
        distributions={"a": IntDistribution(0, 2)},
        system_attrs=system_attrs,
    )
    trial.number = number
    trial.datetime_start = datetime.now()
    return trial


def test_what_counts_toward_the_budget() -> None:
    me = worker_identity(0)
    now = time.time()
    trials = [
        _trial(0, TrialState.COMPLETE),
        _trial(1, TrialState.PRUNED),
        _trial(2, TrialState.FAIL, **{OUTCOME_ATTR: "infeasible"}),
        _trial(3, TrialState.FAIL, **{OUTCOME_ATTR: "stale"}),
        _trial(4, TrialState.FAIL, **{OUTCOME_ATTR: "surplus"}),
        _trial(5, TrialState.FAIL),  # no outcome recorded: an error, replaced
        _trial(6, TrialState.RUNNING, **{WORKER_ATTR: me, HEARTBEAT_ATTR: now}),
        _trial(7, TrialState.RUNNING, **{HEARTBEAT_ATTR: now - 1000}),
    ]
    assert [counts(t, grace=60) for t in trials] == [1, 1, 1, 0, 0, 0, 1, 0]
    state = budget(trials, 4, grace=60)
    assert (state.finished, state.running, state.full, state.exhausted) == (3, 1, True, False)
    assert within_budget(trials, 6, 4, grace=60)  # 3 counted before it
    assert not within_budget(trials, 8, 4, grace=60)  # 4 counted before it


def test_a_dead_worker_on_this_host_is_stale_at_once() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    dead = {**worker_identity(0), "pid": child.pid}
    fresh = _trial(0, TrialState.RUNNING, **{WORKER_ATTR: dead, HEARTBEAT_ATTR: time.time()})
    assert not trial_alive(fresh, grace=3600)
    alive = {**worker_identity(0), "pid": os.getpid()}
    assert trial_alive(_trial(1, TrialState.RUNNING, **{WORKER_ATTR: alive}), grace=3600)


def test_fail_stale_trials_marks_and_leaves_the_live() -> None:
    study = optuna.create_study()
    stale, live = study.ask(), study.ask()
    storage = study._storage
    storage.set_trial_system_attr(stale._trial_id, HEARTBEAT_ATTR, time.time() - 100)
    storage.set_trial_system_attr(live._trial_id, HEARTBEAT_ATTR, time.time())
    assert fail_stale_trials(study, grace=10) == [stale.number]
    frozen = study.trials
    assert frozen[0].state == TrialState.FAIL
    assert frozen[0].system_attrs[OUTCOME_ATTR] == "stale"
    assert "stopped" in frozen[0].user_attrs["fail_reason"]
    assert frozen[1].state == TrialState.RUNNING
