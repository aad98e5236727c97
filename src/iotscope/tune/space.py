"""The hyperparameter search space of each model: the paper's Table 1.1, editable from the config.

:data:`PAPER_SEARCH_SPACE` is the one place the paper's ranges are written down. A config may
replace any dimension of a model (``tuning.search_space.<model>.<key>``) with one of three forms::

    kernel_height: {choices: [2, 4, 8, 16]}      # categorical
    dropout: {low: 0.1, high: 0.3}               # uniform float (add ``log: true`` for log-uniform)
    layers: {low: 1, high: 4, step: 1}           # integer range, ends included

or drop it with ``null``, which fixes that hyperparameter at the paper's selected value. Keys are
checked against the model's hyperparameters; a key the model does not have is an error that names
it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna

Choice = bool | int | float | str


class SearchSpaceError(ValueError):
    """A search space in the config is malformed or names a key the model does not have."""


@dataclass(frozen=True)
class Categorical:
    """One of a fixed list of values."""

    choices: tuple[Choice, ...]

    def suggest(self, trial: optuna.Trial, name: str) -> Choice:
        return trial.suggest_categorical(name, self.choices)

    def describe(self) -> str:
        return ", ".join(str(choice) for choice in self.choices)


@dataclass(frozen=True)
class FloatRange:
    """A float drawn uniformly (or log-uniformly) from ``[low, high]``."""

    low: float
    high: float
    log: bool = False

    def suggest(self, trial: optuna.Trial, name: str) -> float:
        return trial.suggest_float(name, self.low, self.high, log=self.log)

    def describe(self) -> str:
        return f"{'LogU' if self.log else 'U'}({self.low:g}, {self.high:g})"


@dataclass(frozen=True)
class IntRange:
    """An integer from ``low`` to ``high`` (both included) in steps of ``step``."""

    low: int
    high: int
    step: int = 1

    def suggest(self, trial: optuna.Trial, name: str) -> int:
        return trial.suggest_int(name, self.low, self.high, step=self.step)

    def describe(self) -> str:
        """The paper's ``Begin:Step:End`` notation."""
        return f"{self.low}:{self.step}:{self.high}"


Dimension = Categorical | FloatRange | IntRange

_COMMON: dict[str, Dimension] = {
    "batch_size": Categorical((256, 512, 1024)),
    "filters": Categorical((32, 64, 128)),
    "activation": Categorical(("relu", "sigmoid", "tanh")),
    "dropout": FloatRange(0.1, 0.3),
    "optimizer": Categorical(("sgd", "adam", "rmsprop")),
    "learning_rate": FloatRange(0.0009, 0.00225),
}

PAPER_SEARCH_SPACE: dict[str, dict[str, Dimension]] = {
    "cnn2d": {
        **_COMMON,
        "kernel_size": Categorical((2, 3)),
        "pool": Categorical((2, 3)),
        "layers": IntRange(1, 4),
    },
    "cnn1d": {
        **_COMMON,
        "kernel_height": Categorical((2, 4, 8, 16, 32, 64)),
        "pool": Categorical((2, 3)),
        "layers": IntRange(1, 4),
    },
    "mwcnn1d": {**_COMMON, "max_height": IntRange(40, 80, 10)},
}
"""The search space of the paper's Table 1.1, per model."""


def _number(value: object, *, where: str, integer: bool) -> int | float:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        kind = "an integer" if integer else "a number"
        raise SearchSpaceError(f"{where}: expected {kind}, got {value!r}")
    return value


def parse_dimension(spec: object, *, where: str) -> Dimension:
    """Turn one config entry (``{choices: [...]}``, ``{low, high}``, ``{low, high, step}``) into a
    dimension; ``where`` names the entry in error messages."""
    if not isinstance(spec, Mapping):
        raise SearchSpaceError(
            f"{where}: expected a mapping such as {{choices: [...]}} or {{low: ..., high: ...}}, "
            f"got {spec!r}"
        )
    keys = set(spec)
    if keys == {"choices"}:
        choices = spec["choices"]
        if not isinstance(choices, list | tuple) or not choices:
            raise SearchSpaceError(f"{where}.choices: expected a non-empty list, got {choices!r}")
        for choice in choices:
            if not isinstance(choice, bool | int | float | str):
                raise SearchSpaceError(f"{where}.choices: {choice!r} is not a number or a string")
        if len(set(choices)) != len(choices):
            raise SearchSpaceError(f"{where}.choices: values repeat in {list(choices)}")
        return Categorical(tuple(choices))
    if keys in ({"low", "high"}, {"low", "high", "log"}, {"low", "high", "step"}):
        integer = "step" in keys
        low = _number(spec["low"], where=f"{where}.low", integer=integer)
        high = _number(spec["high"], where=f"{where}.high", integer=integer)
        if low > high:
            raise SearchSpaceError(f"{where}: low {low!r} is above high {high!r}")
        if integer:
            step = _number(spec["step"], where=f"{where}.step", integer=True)
            if step < 1:
                raise SearchSpaceError(f"{where}.step: must be at least 1, got {step!r}")
            return IntRange(int(low), int(high), int(step))
        log = spec.get("log", False)
        if not isinstance(log, bool):
            raise SearchSpaceError(f"{where}.log: expected true or false, got {log!r}")
        if log and low <= 0:
            raise SearchSpaceError(f"{where}: a log-uniform range needs low > 0, got {low!r}")
        return FloatRange(float(low), float(high), log)
    raise SearchSpaceError(
        f"{where}: unknown form with keys {sorted(keys)}; use {{choices: [...]}}, "
        "{low: ..., high: ...} (optionally log: true) or {low: ..., high: ..., step: ...}"
    )


def resolve_search_space(
    model: str,
    overrides: Mapping[str, Any] | None,
    *,
    allowed_keys: Iterable[str],
    where: str = "tuning.search_space",
) -> dict[str, Dimension]:
    """The search space of ``model``: the paper's, with ``overrides`` (one model's config entry).

    A key outside ``allowed_keys`` (the model's hyperparameters) raises :class:`SearchSpaceError`
    naming it; ``null`` removes a dimension, fixing that hyperparameter at the model's default.
    """
    if model not in PAPER_SEARCH_SPACE:
        raise SearchSpaceError(
            f"{where}: unknown model {model!r}; known: {sorted(PAPER_SEARCH_SPACE)}"
        )
    allowed = set(allowed_keys)
    space = dict(PAPER_SEARCH_SPACE[model])
    if overrides is None:
        return space
    if not isinstance(overrides, Mapping):
        raise SearchSpaceError(f"{where}.{model}: expected a mapping of keys, got {overrides!r}")
    for key, spec in overrides.items():
        if key not in allowed:
            raise SearchSpaceError(
                f"{where}.{model}.{key}: model {model!r} has no hyperparameter {key!r}; "
                f"its hyperparameters are {sorted(allowed)}"
            )
        if spec is None:
            space.pop(key, None)
        else:
            space[key] = parse_dimension(spec, where=f"{where}.{model}.{key}")
    return space


def model_search_spaces(
    models: Iterable[str],
    overrides: Mapping[str, Any] | None,
    *,
    fixed: Mapping[str, Iterable[str]] | None = None,
    where: str = "tuning.search_space",
) -> dict[str, dict[str, Dimension]]:
    """Resolve and check the search space of every model in ``models`` against the model registry.

    ``fixed`` names, per model, hyperparameters held at a configured value
    (``hyperparameter_overrides``): they leave the search space, and searching them as well is
    an error. Call it when the workflow starts: a wrong key stops the run before any job.
    Overrides for a model that is not being tuned are checked too, so that a typo never lies
    dormant.
    """
    from iotscope.models import MODELS, PAPER_HYPERPARAMETERS

    models = list(models)
    overrides = overrides or {}
    fixed = fixed or {}
    if not isinstance(overrides, Mapping):
        raise SearchSpaceError(f"{where}: expected a mapping of model names, got {overrides!r}")
    for name in overrides:
        if name not in MODELS:
            raise SearchSpaceError(f"{where}.{name}: unknown model; known: {sorted(MODELS)}")
    spaces = {}
    for name in models + [m for m in overrides if m not in models]:
        model_overrides = overrides.get(name) or {}
        held = set(fixed.get(name, ()))
        both = sorted(held & set(model_overrides))
        if both:
            raise SearchSpaceError(
                f"{where}.{name}: {both} fixed by hyperparameter_overrides.{name} and searched "
                "here; remove them from one of the two"
            )
        space = resolve_search_space(
            name, model_overrides, allowed_keys=PAPER_HYPERPARAMETERS[name], where=where
        )
        spaces[name] = {key: dim for key, dim in space.items() if key not in held}
    return {name: spaces[name] for name in models}


def space_as_config(space: Mapping[str, Dimension]) -> dict[str, dict[str, object]]:
    """The config form of a resolved space (for fingerprints and logs)."""
    forms: dict[str, dict[str, object]] = {}
    for name, dimension in space.items():
        if isinstance(dimension, Categorical):
            forms[name] = {"choices": list(dimension.choices)}
        elif isinstance(dimension, IntRange):
            forms[name] = {"low": dimension.low, "high": dimension.high, "step": dimension.step}
        else:
            forms[name] = {"low": dimension.low, "high": dimension.high, "log": dimension.log}
    return forms


def suggest(trial: optuna.Trial, space: Mapping[str, Dimension]) -> dict[str, Choice]:
    """Draw one value per dimension of ``space`` for ``trial``."""
    return {name: dimension.suggest(trial, name) for name, dimension in space.items()}
