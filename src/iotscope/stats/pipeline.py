"""From the results table to every statistics table, the verdict and ``summary.json``."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from iotscope.io import atomic_path
from iotscope.stats.anova import check_alpha
from iotscope.stats.compare import TableSet
from iotscope.stats.cv import cv_section
from iotscope.stats.packets import packets_section
from iotscope.stats.results import display_name, order_models, read_metrics
from iotscope.stats.verdict import verdict_table


def write_tables(
    metrics_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    alpha: float = 0.01,
    confidence: float = 0.95,
    rope: float | None = 0.01,
    threshold: int | None = None,
    models: Sequence[str] | None = None,
) -> list[Path]:
    """Write every statistics table for ``metrics_path`` under ``out_dir``; return the paths.

    ``alpha`` is the significance level of every test and critical value (the paper: 0.01).
    ``rope`` is the half-width of the region of practical equivalence for the Bayesian test, in
    the units of the metric (None skips that test). ``threshold`` fixes the smallest packet budget
    of the "budgets >= n" ANOVAs (default: each model's critical packet count).
    """
    check_alpha(alpha)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = read_metrics(metrics_path, models=models)
    ts = TableSet(out, alpha, confidence)
    ts.summary.update(
        alpha=alpha,
        confidence=confidence,
        rope=rope,
        metrics_path=str(metrics_path),
        models=order_models(sorted(set(table["model"]))),
        display_names={m: display_name(m) for m in set(table["model"])},
        comparisons={},
    )
    cv_section(ts, table[table["experiment"] == "cv"], rope)
    packets_section(ts, table[table["experiment"] == "packets"], threshold)
    if ts.anovas:
        ts.add(
            "anova_overview",
            pd.DataFrame(ts.anovas),
            "Every one-way ANOVA with its effect sizes (eta and omega squared)",
        )
    if ts.verdicts:
        ts.add("verdict", verdict_table(ts.verdicts), "Which paper-style conclusions survive")
    ts.summary["verdict"] = [asdict(v) for v in ts.verdicts]
    ts.summary["skipped"] = ts.skipped
    if ts.skipped:
        ts.add("skipped", pd.DataFrame(ts.skipped), "Tables not computed, and why")
    ts.summary["tables"] = ts.names
    summary_path = out / "summary.json"
    with atomic_path(summary_path) as tmp:
        text = json.dumps(json_safe(ts.summary), indent=2, allow_nan=False, default=_json_default)
        tmp.write_text(text + "\n", encoding="utf-8")
    return [*ts.paths, summary_path]


def json_safe(value: object) -> object:
    """NaN (a metric the table lacks for a model) as null, so summary.json is strict JSON."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, float | np.floating) and not np.isfinite(value):
        return None
    return value


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to summary.json")
