"""The three CNNs of the study, by registry name, with their hyperparameters.

Every model takes ``(batch, n_packets, n_features)`` float tensors and returns ``(batch, 2)``
logits (non-IoT, IoT); the loss is applied in training. A hyperparameter dict holds architecture
keys (constructor arguments) and the training keys :data:`TRAINING_KEYS`; keys left out take the
study's selected values, :data:`PAPER_HYPERPARAMETERS`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from torch import nn

from iotscope.features import N_FEATURES
from iotscope.models import cnn1d, cnn2d, mwcnn1d
from iotscope.models.cnn1d import CNN1D
from iotscope.models.cnn2d import CNN2D
from iotscope.models.head import (
    OPTIMIZERS,
    TRAINING_KEYS,
    InvalidHyperparameters,
    choice_problem,
    integer_problem,
    raise_if_any,
)
from iotscope.models.mwcnn1d import MWCNN1D

__all__ = [
    "CNN1D",
    "CNN2D",
    "MODELS",
    "MWCNN1D",
    "PAPER_HYPERPARAMETERS",
    "TRAINING_KEYS",
    "InvalidHyperparameters",
    "build_model",
    "check_hyperparameters",
    "hyperparameter_keys",
    "with_defaults",
]

_MODULES: dict[str, ModuleType] = {module.NAME: module for module in (cnn2d, cnn1d, mwcnn1d)}

MODELS: dict[str, type[nn.Module]] = {"cnn2d": CNN2D, "cnn1d": CNN1D, "mwcnn1d": MWCNN1D}

PAPER_HYPERPARAMETERS: dict[str, dict[str, Any]] = {
    name: dict(module.PAPER_HYPERPARAMETERS) for name, module in _MODULES.items()
}
"""Per model, the study's selected values (Table 1.1): architecture and training keys."""


def _module(name: str) -> ModuleType:
    if name not in _MODULES:
        raise InvalidHyperparameters(f"unknown model {name!r}; the models are {', '.join(MODELS)}")
    return _MODULES[name]


def hyperparameter_keys(name: str) -> tuple[str, ...]:
    """Every hyperparameter key of model ``name``: its architecture keys, then the training keys."""
    return _module(name).ARCHITECTURE_KEYS + TRAINING_KEYS


def with_defaults(name: str, hyperparameters: Mapping[str, Any]) -> dict[str, Any]:
    """``hyperparameters`` completed with the study's selected values for the keys left out."""
    return {**PAPER_HYPERPARAMETERS[_module(name).NAME], **hyperparameters}


def _training_problems(hyperparameters: Mapping[str, Any]) -> list[str]:
    problems = [
        integer_problem("batch_size", hyperparameters["batch_size"], 1),
        choice_problem("optimizer", hyperparameters["optimizer"], OPTIMIZERS),
    ]
    rate = hyperparameters["learning_rate"]
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not math.isfinite(rate):
        problems.append(f"learning_rate={rate!r} must be a number")
    elif rate <= 0:
        problems.append(f"learning_rate={rate} must be positive")
    return [p for p in problems if p]


def check_hyperparameters(
    name: str,
    n_packets: int,
    hyperparameters: Mapping[str, Any],
    *,
    n_features: int = N_FEATURES,
) -> None:
    """Raise :class:`InvalidHyperparameters` if model ``name`` cannot be built and trained with
    ``hyperparameters`` (keys left out take the selected values) on ``n_packets`` packets.

    The message names every offending key and value: an unknown model or key, a value of the
    wrong type or range, a kernel taller than the sequence that reaches it, a pooling that leaves
    nothing.
    """
    module = _module(name)
    known = hyperparameter_keys(name)
    unknown = sorted(set(hyperparameters) - set(known))
    if unknown:
        raise InvalidHyperparameters(
            f"unknown hyperparameter(s) {', '.join(map(repr, unknown))} for {name}; "
            f"its keys are {', '.join(known)}"
        )
    for key, value in (("n_packets", n_packets), ("n_features", n_features)):
        problem = integer_problem(key, value, 1)
        if problem:
            raise InvalidHyperparameters(f"invalid input shape for {name}: {problem}")
    merged = with_defaults(name, hyperparameters)
    architecture = {key: merged[key] for key in module.ARCHITECTURE_KEYS}
    problems = _training_problems(merged) + module.architecture_problems(
        n_packets, n_features, **architecture
    )
    raise_if_any(name, n_packets, problems)


def build_model(
    name: str, n_packets: int, n_features: int = N_FEATURES, **hyperparameters: Any
) -> nn.Module:
    """Model ``name`` for ``n_packets`` x ``n_features`` inputs, checked first.

    ``hyperparameters`` may hold any of :func:`hyperparameter_keys` (training keys are checked and
    otherwise ignored here); keys left out take the study's selected values. Every model has
    ``flops_per_sample()`` and a ``hyperparameters`` dict of its architecture.
    """
    check_hyperparameters(name, n_packets, hyperparameters, n_features=n_features)
    architecture = {k: v for k, v in hyperparameters.items() if k not in TRAINING_KEYS}
    return MODELS[name](n_packets, n_features, **architecture)
