"""What a finished study leaves behind: the trials table, the best trial, times and figures.

Times: the study's wall time runs from the first trial's start to the last trial's end (the
paper's Table 1.2 reports it as the tuning time). A pruned trial stopped after ``k`` of ``E``
epochs would have taken about ``E / k`` times as long unpruned, so the time the study would have
taken without pruning is estimated by scaling each pruned trial's duration that way.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import optuna
import pandas as pd
import yaml
from optuna.trial import FrozenTrial, TrialState

from iotscope.io import atomic_path
from iotscope.tune.budget import COUNTED_FAILURES, REASON_ATTR, WORKER_ATTR, outcome
from iotscope.tune.space import PAPER_SEARCH_SPACE, Dimension

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PAPER_TUNING_SECONDS: dict[str, int] = {
    "cnn2d": 4 * 3600 + 40 * 60 + 51,
    "cnn1d": 2 * 3600 + 59 * 60 + 16,
    "mwcnn1d": 19 * 3600 + 21 * 60 + 3,
}
"""The paper's tuning times, Table 1.2 (100 trials each on four RTX 2080 Ti GPUs)."""


def _duration(trial: FrozenTrial) -> float | None:
    if trial.datetime_start is None or trial.datetime_complete is None:
        return None
    return (trial.datetime_complete - trial.datetime_start).total_seconds()


def _epochs_completed(trial: FrozenTrial) -> int:
    return int(trial.user_attrs.get("epochs_completed", len(trial.intermediate_values)))


def trials_frame(study: optuna.Study, *, epochs: int) -> pd.DataFrame:
    """One row per trial of ``study``: number, state, value, ``params_*``, duration and more.

    ``counted`` says whether the trial is one of the budget (see :mod:`iotscope.tune.budget`);
    ``full_duration_s`` is the duration scaled up to ``epochs`` epochs for a pruned trial.
    """
    rows = []
    for trial in study.get_trials(deepcopy=False):
        kind = outcome(trial)
        duration = _duration(trial)
        done = _epochs_completed(trial)
        full = duration
        if trial.state == TrialState.PRUNED and duration is not None and done > 0:
            full = duration * epochs / done
        worker = trial.system_attrs.get(WORKER_ATTR) or {}
        rows.append(
            {
                "number": trial.number,
                "state": trial.state.name,
                "outcome": kind,
                "counted": trial.state in (TrialState.COMPLETE, TrialState.PRUNED)
                or kind in COUNTED_FAILURES,
                "value": trial.value,
                **{f"params_{name}": value for name, value in trial.params.items()},
                "datetime_start": trial.datetime_start,
                "datetime_complete": trial.datetime_complete,
                "duration_s": duration,
                "epochs_completed": done,
                "pruned": trial.state == TrialState.PRUNED,
                "full_duration_s": full,
                "fail_reason": trial.user_attrs.get(REASON_ATTR),
                "worker": worker.get("worker"),
                "host": worker.get("host"),
            }
        )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    return frame.sort_values("number", ignore_index=True)


@dataclass(frozen=True)
class StudySummary:
    """Counts and times of one model's study."""

    model: str
    trials: int
    complete: int
    pruned: int
    failed: int
    replaced: int
    wall_seconds: float
    trial_seconds: float
    trial_seconds_unpruned: float
    wall_seconds_unpruned: float

    @property
    def pruning_speedup(self) -> float:
        return self.trial_seconds_unpruned / self.trial_seconds if self.trial_seconds else 1.0


def summarise(model: str, frame: pd.DataFrame) -> StudySummary:
    """Counts and times from :func:`trials_frame`."""
    counted = frame[frame["counted"]]
    ran = frame.dropna(subset=["duration_s"])
    wall = 0.0
    if not ran.empty:
        wall = (ran["datetime_complete"].max() - ran["datetime_start"].min()).total_seconds()
    spent = float(ran["duration_s"].sum())
    unpruned = float(ran["full_duration_s"].sum())
    return StudySummary(
        model=model,
        trials=len(counted),
        complete=int((counted["state"] == "COMPLETE").sum()),
        pruned=int(counted["pruned"].sum()),
        failed=int((counted["state"] == "FAIL").sum()),
        replaced=int(((frame["state"] == "FAIL") & ~frame["counted"]).sum()),
        wall_seconds=wall,
        trial_seconds=spent,
        trial_seconds_unpruned=unpruned,
        wall_seconds_unpruned=wall * unpruned / spent if spent else wall,
    )


def best_record(study: optuna.Study, model: str, base: Mapping[str, object]) -> dict[str, object]:
    """The best COMPLETE trial: its sampled parameters, the full hyperparameters, value, number."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        raise ValueError(
            f"study {study.study_name!r}: no trial completed, so there is no best trial; see "
            "trials.parquet (fail_reason) and widen the search space or the trial count"
        )
    best = min(complete, key=lambda trial: trial.value)
    return {
        "model": model,
        "trial": best.number,
        "value": float(best.value),
        "objective": "validation loss (cross-entropy) of the val hosts after the last epoch",
        "parameters": dict(best.params),
        "hyperparameters": {**base, **best.params},
    }


def _save(figure: Figure, path: Path) -> None:
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        figure.savefig(tmp, format=path.suffix.lstrip("."), bbox_inches="tight")
    plt.close(figure)


def _message_figure(title: str, message: str) -> Figure:
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 2.5))
    axes.set_axis_off()
    axes.set_title(title)
    axes.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    return figure


def write_figures(study: optuna.Study, history: Path, importance: Path) -> None:
    """Optimisation history and parameter importances (fANOVA) as image files.

    Importances need at least two completed trials that differ; with fewer the figure says so.
    """
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    from optuna.visualization import matplotlib as optuna_plots

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    title = f"{study.study_name}: optimisation history"
    if complete:
        _save(optuna_plots.plot_optimization_history(study).figure, history)
    else:
        _save(_message_figure(title, "no trial completed"), history)
    title = f"{study.study_name}: parameter importances"
    try:
        importances = optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError) as error:
        importances, reason = None, str(error)
    else:
        reason = "too few completed trials to estimate parameter importances"
    if importances:
        _save(optuna_plots.plot_param_importances(study).figure, importance)
    else:
        _save(_message_figure(title, f"{reason} ({len(complete)} completed)"), importance)


def write_study_outputs(
    study: optuna.Study,
    *,
    model: str,
    base: Mapping[str, object],
    epochs: int,
    out_dir: str | os.PathLike,
    figure_format: str = "svg",
) -> dict[str, object]:
    """Write ``best.yaml``, ``trials.parquet``, ``summary.json`` and the two figures of a study."""
    out = Path(out_dir)
    frame = trials_frame(study, epochs=epochs)
    if frame.empty:
        raise ValueError(f"study {study.study_name!r} has no trials; run the tuning workers first")
    best = best_record(study, model, base)
    summary = summarise(model, frame)
    with atomic_path(out / "trials.parquet") as tmp:
        frame.to_parquet(tmp, index=False)
    with atomic_path(out / "summary.json") as tmp:
        record = {**asdict(summary), "pruning_speedup": summary.pruning_speedup}
        tmp.write_text(json.dumps(record, indent=2) + "\n")
    write_figures(study, out / f"history.{figure_format}", out / f"importance.{figure_format}")
    with atomic_path(out / "best.yaml") as tmp:
        record = {**best, "trials": summary.trials, "wall_seconds": round(summary.wall_seconds, 3)}
        tmp.write_text(yaml.safe_dump(record, sort_keys=False))
    return best


def _clock(seconds: float) -> str:
    """``H:MM:SS``, as the paper's Table 1.2."""
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _shown(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if not math.isclose(value, round(value)) else f"{value:g}"
    return "–" if value is None else str(value)


def parameter_table(
    models: Sequence[str],
    spaces: Mapping[str, Mapping[str, Dimension]],
    paper: Mapping[str, Mapping[str, object]],
    best: Mapping[str, Mapping[str, object]],
) -> pd.DataFrame:
    """Per model and parameter: the paper's space, this study's space, paper's and tuned values."""
    rows = []
    for model in models:
        keys = list(dict.fromkeys([*PAPER_SEARCH_SPACE[model], *spaces[model]]))
        for key in keys:
            paper_space = PAPER_SEARCH_SPACE[model].get(key)
            space = spaces[model].get(key)
            rows.append(
                {
                    "model": model,
                    "parameter": key,
                    "paper_space": paper_space.describe() if paper_space else "fixed",
                    "space": space.describe() if space else "fixed",
                    "paper": _shown(paper[model].get(key)),
                    "tuned": _shown(best[model]["hyperparameters"].get(key)),
                }
            )
    return pd.DataFrame(rows)


def study_table(summaries: Sequence[StudySummary]) -> pd.DataFrame:
    """Per model: trial counts and times with and without pruning, beside the paper's time."""
    rows = []
    for s in summaries:
        rows.append(
            {
                "model": s.model,
                "trials": s.trials,
                "complete": s.complete,
                "pruned": s.pruned,
                "failed": s.failed,
                "replaced": s.replaced,
                "wall_time": _clock(s.wall_seconds),
                "wall_time_without_pruning_est": _clock(s.wall_seconds_unpruned),
                "pruning_speedup": round(s.pruning_speedup, 2),
                "paper_time": _clock(PAPER_TUNING_SECONDS[s.model])
                if s.model in PAPER_TUNING_SECONDS
                else "–",
            }
        )
    return pd.DataFrame(rows)


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of ``frame``."""
    header = [str(column) for column in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(str(value) for value in row) + " |")
    return "\n".join(lines)


def write_tuning_report(
    parameters: pd.DataFrame,
    studies: pd.DataFrame,
    *,
    csv_parameters: Path,
    csv_studies: Path,
    markdown: Path,
) -> None:
    """The report's tuning section as two CSV tables and one Markdown file holding both."""
    with atomic_path(csv_parameters) as tmp:
        parameters.to_csv(tmp, index=False)
    with atomic_path(csv_studies) as tmp:
        studies.to_csv(tmp, index=False)
    text = (
        "## Hyperparameter tuning\n\n"
        "Best parameters of each model's study beside the paper's Table 1.1 (space and selected "
        "value). Trials were scored on the validation hosts only.\n\n"
        f"{markdown_table(parameters)}\n\n"
        "Trials, and tuning wall time (first trial start to last trial end) with pruning and "
        "as estimated without it, beside the paper's Table 1.2 time.\n\n"
        f"{markdown_table(studies)}\n"
    )
    with atomic_path(markdown) as tmp:
        tmp.write_text(text)


def read_best(path: str | os.PathLike) -> dict[str, object]:
    """Read a ``best.yaml`` written by :func:`write_study_outputs`, checking its keys."""
    with open(path) as handle:
        best = yaml.safe_load(handle)
    missing = [key for key in ("model", "trial", "value", "hyperparameters") if key not in best]
    if not isinstance(best, dict) or missing:
        raise ValueError(f"{path}: not a best.yaml of a tuning study (missing {missing})")
    return best


def write_tuning_tables(
    *,
    models: Sequence[str],
    best_files: Sequence[str | os.PathLike],
    summary_files: Sequence[str | os.PathLike],
    search_space: Mapping[str, object],
    fixed: Mapping[str, Sequence[str]],
    out: Mapping[str, Path],
) -> None:
    """The report's tuning section from each model's ``best.yaml`` and ``summary.json``.

    ``out`` maps ``parameters``, ``studies`` (CSV) and ``markdown`` to their paths.
    """
    from iotscope.models import PAPER_HYPERPARAMETERS
    from iotscope.tune.space import model_search_spaces

    spaces = model_search_spaces(models, search_space, fixed=fixed)
    best = {model: read_best(path) for model, path in zip(models, best_files, strict=True)}
    summaries = []
    for path in summary_files:
        record = json.loads(Path(path).read_text())
        record.pop("pruning_speedup", None)
        summaries.append(StudySummary(**record))
    write_tuning_report(
        parameter_table(models, spaces, PAPER_HYPERPARAMETERS, best),
        study_table(summaries),
        csv_parameters=out["parameters"],
        csv_studies=out["studies"],
        markdown=out["markdown"],
    )
