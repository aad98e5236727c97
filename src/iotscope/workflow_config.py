"""Checks of the workflow's configuration that run before Snakemake schedules any job.

``rules/common.smk`` calls :func:`config_problems`; each problem is one line naming the key and
the value, so a misspelt key or an impossible value stops the run with a message a user can act
on (Snakemake's own schema validation prints the whole schema instead).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from iotscope.hyperparameters import resolve_hyperparameters
from iotscope.models import MODELS, check_hyperparameters

CAPTURE_SUFFIX = re.compile(r"(\.(pcapng|pcap|cap|csv))?(\.gz)?$", flags=re.IGNORECASE)


class ConfigError(ValueError):
    """The workflow configuration is invalid; the message lists every problem found."""


def load_schema(path: str | os.PathLike) -> dict[str, Any]:
    return yaml.safe_load(Path(path).read_text())


def schema_problems(config: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """Every violation of the JSON schema, as ``key.path: message``."""
    validator = jsonschema.Draft202012Validator(schema)
    problems = []
    for error in sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.path))):
        key = ".".join(map(str, error.absolute_path)) or "(top level)"
        problems.append(f"{key}: {error.message}")
    return problems


def study_problems(config: Mapping[str, Any]) -> list[str]:
    """What the schema cannot say: model names, hyperparameter keys and sizes, packet counts.

    ``config`` must already satisfy the schema, with its defaults filled in.
    """
    problems = []
    models = config["models"]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        problems.append(f"models: unknown model(s) {unknown}; known: {sorted(MODELS)}")
    overrides = config["hyperparameter_overrides"]
    problems += [
        f"hyperparameter_overrides.{m}: unknown model; known: {sorted(MODELS)}"
        for m in overrides
        if m not in MODELS
    ]
    t_max = config["flows"]["t_max"]
    n_packets = config["experiments"]["packets"]["n_packets"]
    too_long = [n for n in n_packets if n > t_max]
    if too_long:
        problems.append(
            f"experiments.packets.n_packets: {too_long} exceed flows.t_max ({t_max}); "
            "a host has at most t_max packets"
        )
    for model in (m for m in models if m in MODELS):
        selected = resolve_hyperparameters(model, overrides.get(model, {}))
        for n in sorted({*n_packets, t_max}):
            try:
                check_hyperparameters(model, n, selected)
            except ValueError as error:
                problems.append(f"hyperparameter_overrides.{model} (n_packets={n}): {error}")
                break
    problems += capture_problems(config["data"])
    return problems


def capture_problems(data: Mapping[str, Any]) -> list[str]:
    if data["source"] != "captures":
        return []
    captures = data["captures"]
    problems = []
    if not captures["files"]:
        problems.append("data.captures.files: empty, but data.source is captures")
    if not captures["labels"]:
        problems.append("data.captures.labels: required when data.source is captures")
    try:
        capture_files(captures["files"])
    except ConfigError as error:
        problems.append(str(error))
    return problems


def capture_name(path: str | os.PathLike) -> str:
    """A capture's name in result paths: its file name without the capture extensions."""
    return CAPTURE_SUFFIX.sub("", Path(path).name)


def capture_files(paths: Iterable[str]) -> dict[str, str]:
    """Capture name -> file; two files of one name are an error naming both."""
    files: dict[str, str] = {}
    for path in paths:
        name = capture_name(path)
        if not name:
            raise ConfigError(f"data.captures.files: {path!r} has no name left without its suffix")
        if name in files:
            raise ConfigError(
                f"data.captures.files: {files[name]!r} and {path!r} share the name {name!r}; "
                "rename one"
            )
        files[name] = path
    return files


def raise_for(problems: list[str], where: str) -> None:
    if problems:
        raise ConfigError(
            f"invalid configuration ({where}):\n" + "\n".join(f"  {p}" for p in problems)
        )
