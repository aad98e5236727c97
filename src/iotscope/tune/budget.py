"""How many trials a study has used of its budget, and which running trials are still alive.

Several workers share one study. Each claims a trial with ``study.ask()``; the storage numbers
trials atomically, so the claims have a total order. The budget of ``n`` trials counts:

* every COMPLETE and PRUNED trial;
* every FAIL whose failure belongs to the hyperparameters (``infeasible``: a combination the model
  rejects, such as a kernel taller than the sequence; ``diverged``: a non-finite validation loss;
  ``out_of_memory``): running such a trial again would fail again, so it is an outcome;
* every RUNNING trial whose worker is alive.

It does not count a FAIL whose worker died (``stale``), crashed on an error that is not the
trial's (``error``) or claimed a trial after the budget was full (``surplus``): those trials did
not finish, and rerunning the workers replaces them. A worker starts a trial only when the trials
counted before it, in trial-number order, are fewer than ``n``, so the study ends with exactly
``n`` counted trials whatever the number of workers.

A running trial is alive while its worker writes a heartbeat (a trial system attribute) at least
every ``grace`` seconds; a trial of a worker on this host whose process is gone is dead at once.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass

import optuna
from optuna.trial import FrozenTrial, TrialState

OUTCOME_ATTR = "iotscope:outcome"
REASON_ATTR = "fail_reason"
WORKER_ATTR = "iotscope:worker"
HEARTBEAT_ATTR = "iotscope:heartbeat"

COUNTED_FAILURES: frozenset[str] = frozenset({"infeasible", "diverged", "out_of_memory"})
"""FAIL outcomes that use up a trial of the budget; every other FAIL is replaced on a rerun."""


def outcome(trial: FrozenTrial) -> str:
    """``complete``, ``pruned``, ``running``, ``waiting`` or the recorded reason of a FAIL."""
    if trial.state == TrialState.FAIL:
        return str(trial.system_attrs.get(OUTCOME_ATTR, "error"))
    return trial.state.name.lower()


def worker_identity(worker: int) -> dict[str, object]:
    """What a worker writes on each trial it runs, so others can tell whether it is alive."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "worker": worker}


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def trial_alive(trial: FrozenTrial, *, grace: float, now: float | None = None) -> bool:
    """Whether a RUNNING trial's worker still runs it (see the module docstring)."""
    now = time.time() if now is None else now
    identity = trial.system_attrs.get(WORKER_ATTR)
    if (
        isinstance(identity, dict)
        and identity.get("host") == socket.gethostname()
        and not _process_alive(int(identity["pid"]))
    ):
        return False
    beat = trial.system_attrs.get(HEARTBEAT_ATTR)
    if beat is None:
        started = trial.datetime_start
        beat = started.timestamp() if started is not None else now
    return now - float(beat) <= grace


def counts(trial: FrozenTrial, *, grace: float, now: float | None = None) -> bool:
    """Whether ``trial`` uses up one trial of the budget."""
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    if trial.state == TrialState.FAIL:
        return outcome(trial) in COUNTED_FAILURES
    if trial.state == TrialState.RUNNING:
        return trial_alive(trial, grace=grace, now=now)
    return False


@dataclass(frozen=True)
class Budget:
    """Where a study stands against its budget of ``n`` trials."""

    n: int
    finished: int
    running: int

    @property
    def exhausted(self) -> bool:
        """Every trial of the budget has finished: the workers are done."""
        return self.finished >= self.n

    @property
    def full(self) -> bool:
        """No trial is left to start (some may still run)."""
        return self.finished + self.running >= self.n


def budget(trials: Iterable[FrozenTrial], n: int, *, grace: float) -> Budget:
    """Count the finished and the live running trials of the budget."""
    now = time.time()
    finished = running = 0
    for trial in trials:
        if trial.state == TrialState.RUNNING:
            running += trial_alive(trial, grace=grace, now=now)
        elif counts(trial, grace=grace, now=now):
            finished += 1
    return Budget(n=n, finished=finished, running=running)


def within_budget(trials: Iterable[FrozenTrial], number: int, n: int, *, grace: float) -> bool:
    """Whether trial ``number`` is one of the first ``n`` counted trials of the study."""
    now = time.time()
    before = sum(
        1 for trial in trials if trial.number < number and counts(trial, grace=grace, now=now)
    )
    return before < n


def fail_stale_trials(study: optuna.Study, *, grace: float) -> list[int]:
    """Mark RUNNING trials whose worker is gone as FAIL (outcome ``stale``); return the numbers."""
    storage = study._storage
    failed = []
    now = time.time()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if trial_alive(trial, grace=grace, now=now):
            continue
        try:
            storage.set_trial_system_attr(trial._trial_id, OUTCOME_ATTR, "stale")
            storage.set_trial_user_attr(
                trial._trial_id, REASON_ATTR, "its worker stopped (killed or lost) mid-trial"
            )
            storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
        failed.append(trial.number)
    return failed
