"""What the three CNNs share: the checked base class, the dense head, activations,
initialisation and argument checks.

The study's premise is that only the convolutional part differs between the models, so every
model ends in the same :class:`DenseHead`. Weights start as Keras 2.3.1 starts them (Glorot
uniform kernels, zero biases), the initialisation the selected hyperparameters were tuned under.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
}
"""Activation functions by hyperparameter value. All are non-decreasing, so that
``max(f(z)) == f(max(z))``, which the multi-window model relies on."""

OPTIMIZERS: tuple[str, ...] = ("sgd", "adam", "rmsprop")
TRAINING_KEYS: tuple[str, ...] = ("batch_size", "optimizer", "learning_rate")
"""The hyperparameters the training loop reads; every other key is a constructor argument."""
N_CLASSES = 2
HIDDEN_UNITS: tuple[int, ...] = (64, 32)


class InvalidHyperparameters(ValueError):
    """A hyperparameter combination that cannot be built or trained; the message names them."""


def architecture_keys(hyperparameters: Mapping[str, Any]) -> tuple[str, ...]:
    """The keys of ``hyperparameters`` that are not :data:`TRAINING_KEYS`, in their order."""
    return tuple(key for key in hyperparameters if key not in TRAINING_KEYS)


class CheckedModel(nn.Module):
    """Base of the three models: checks the architecture before any layer exists, records it.

    ``problems(n_packets, n_features, **architecture)`` lists what makes the architecture
    impossible; if it lists anything, :class:`InvalidHyperparameters` names it all.
    """

    def __init__(
        self,
        name: str,
        n_packets: int,
        n_features: int,
        problems: Callable[..., list[str]],
        architecture: dict[str, Any],
    ) -> None:
        super().__init__()
        self.hyperparameters: dict[str, Any] = architecture
        raise_if_any(name, n_packets, problems(n_packets, n_features, **architecture))
        self.n_packets = n_packets
        self.n_features = n_features
        self.activation: str = architecture["activation"]


class DenseHead(nn.Module):
    """flatten -> dropout -> Dense 64 ReLU -> Dense 32 ReLU -> dropout -> 2 logits."""

    def __init__(self, in_features: int, dropout: float) -> None:
        super().__init__()
        first, second = HIDDEN_UNITS
        self.in_features = in_features
        self.layers = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(in_features, first),
            nn.ReLU(),
            nn.Linear(first, second),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(second, N_CLASSES),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers(features)

    def flops(self) -> int:
        """Floating-point operations of one sample's forward pass (2 per multiply-add)."""
        return linear_flops(self.in_features, *HIDDEN_UNITS, N_CLASSES)


def linear_flops(*widths: int) -> int:
    """FLOPs of a chain of dense layers of the given widths, input first."""
    return sum(2 * a * b for a, b in zip(widths[:-1], widths[1:], strict=False))


def keras_init(module: nn.Module) -> None:
    """Glorot-uniform weights and zero biases for every convolution and dense layer."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear | nn.Conv1d | nn.Conv2d):
            nn.init.xavier_uniform_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


def ordinal(i: int) -> str:
    """1 -> '1st', 2 -> '2nd', 3 -> '3rd', 4 -> '4th' (for messages about layers)."""
    suffix = "th" if 10 <= i % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(i % 10, "th")
    return f"{i}{suffix}"


def integer_problem(key: str, value: object, minimum: int) -> str | None:
    """A message if ``value`` is not an integer >= ``minimum``, else None."""
    if isinstance(value, bool) or not isinstance(value, int):
        return f"{key}={value!r} must be an integer"
    if value < minimum:
        return f"{key}={value} must be at least {minimum}"
    return None


def choice_problem(
    key: str, value: object, choices: Mapping[str, object] | tuple[str, ...]
) -> str | None:
    """A message if ``value`` is not one of ``choices``, else None."""
    if value not in choices:
        return f"{key}={value!r} is not one of {', '.join(choices)}"
    return None


def dropout_problem(value: object) -> str | None:
    """A message if ``value`` is not a dropout rate in [0, 1), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return f"dropout={value!r} must be a number"
    if not 0.0 <= value < 1.0:
        return f"dropout={value} must be in [0, 1)"
    return None


def argument_problems(
    integers: Mapping[str, tuple[object, int]], activation: object, dropout: object
) -> list[str]:
    """Type and range problems of a model's arguments: each integer (with its minimum), the
    activation and the dropout rate, in that order."""
    candidates = [integer_problem(key, value, low) for key, (value, low) in integers.items()]
    candidates += [choice_problem("activation", activation, ACTIVATIONS), dropout_problem(dropout)]
    return [problem for problem in candidates if problem]


def raise_if_any(model: str, n_packets: int, problems: list[str]) -> None:
    """Raise :class:`InvalidHyperparameters` listing ``problems`` if there are any."""
    if problems:
        raise InvalidHyperparameters(
            f"invalid hyperparameters for {model} at n_packets={n_packets}: " + "; ".join(problems)
        )
