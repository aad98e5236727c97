"""The hyperparameters a training job uses: a model's selected values with the study's overrides.

The workflow writes them to ``results/hparams/{model}.yaml`` once per model; every training job
of that model reads that file, so changing one model's values reruns that model's jobs only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import yaml

from iotscope.io import atomic_path
from iotscope.models import MODELS, PAPER_HYPERPARAMETERS


def resolve_hyperparameters(
    model: str,
    overrides: Mapping[str, object] | None = None,
    *,
    base: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """``base`` (default: the paper's Table 1.1 values for ``model``) updated with ``overrides``.

    Keys are not checked here; ``iotscope.models.check_hyperparameters`` does that with the
    sequence length at hand.
    """
    if model not in MODELS:
        raise KeyError(f"unknown model {model!r}; known: {sorted(MODELS)}")
    selected = dict(PAPER_HYPERPARAMETERS[model] if base is None else base)
    selected.update(overrides or {})
    return selected


def write_hyperparameters(path: str | os.PathLike, hyperparameters: Mapping[str, object]) -> None:
    """Write ``hyperparameters`` as YAML, keys sorted, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(yaml.safe_dump(dict(hyperparameters), sort_keys=True))


def read_hyperparameters(path: str | os.PathLike) -> dict[str, object]:
    """Read a file written by :func:`write_hyperparameters`."""
    with open(path) as handle:
        loaded = yaml.safe_load(handle)
    if not isinstance(loaded, dict):
        raise ValueError(
            f"{path}: expected a mapping of hyperparameters, got {type(loaded).__name__}"
        )
    return loaded
