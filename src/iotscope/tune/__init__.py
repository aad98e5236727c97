"""Hyperparameter tuning: Optuna TPE over each model's search space, parallel over workers.

* :mod:`iotscope.tune.space`: the search spaces (the paper's Table 1.1 and config overrides);
* :mod:`iotscope.tune.budget`: how workers share a study's trial budget exactly;
* :mod:`iotscope.tune.study`: the worker job (storage, sampler, pruner, the objective);
* :mod:`iotscope.tune.results`: ``best.yaml``, ``trials.parquet``, times, figures, report tables.

Trials train on the ``train`` hosts of ``splits.parquet`` and are scored on its ``val`` hosts;
the test hosts, on which the study's results are reported, are never loaded.
"""

from iotscope.tune.space import (
    PAPER_SEARCH_SPACE,
    Categorical,
    FloatRange,
    IntRange,
    SearchSpaceError,
    model_search_spaces,
    resolve_search_space,
)
from iotscope.tune.study import TuningSettings, load_study, open_storage, study_name, tune_worker

__all__ = [
    "PAPER_SEARCH_SPACE",
    "Categorical",
    "FloatRange",
    "IntRange",
    "SearchSpaceError",
    "TuningSettings",
    "load_study",
    "model_search_spaces",
    "open_storage",
    "resolve_search_space",
    "study_name",
    "tune_worker",
]
