"""``results/summary.md``: the study's results section in prose, with this run's numbers.

It reads the tidy results table (``results/metrics.parquet``) and the statistics module's
``summary.json`` and says, as the paper's results section does, which model wins and by how much
under which test, where each model's critical packet count lies, and how the run times compare;
then which of those paper-style conclusions survive the tests that allow for what the paper's
tests ignore.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from iotscope.aggregate import hours_minutes_seconds, optimized_runs
from iotscope.io import atomic_path
from iotscope.stats.results import display_name, order_models


def format_p(p: float | None) -> str:
    """A p-value as the paper writes it: ``p = 3.85e-04``, or ``p = 0.244``."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "p not computed"
    if p < 0.001:
        return f"p = {p:.2e}"
    return f"p = {p:.3f}"


def percent(value: float) -> str:
    return f"{100 * value:.2f}%"


def _names(models: Sequence[str]) -> str:
    names = [display_name(m) for m in models]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _verdict(significant: bool, alpha: float) -> str:
    return (
        f"significant at alpha = {alpha}" if significant else f"not significant at alpha = {alpha}"
    )


def optimized_section(metrics: pd.DataFrame, models: Sequence[str]) -> list[str]:
    runs = optimized_runs(metrics, models)
    lines = [
        "## Optimized models",
        "",
        "Each model trained once on all packets per host and scored on the held-out test hosts "
        "(Tables 1.2 and 1.3).",
        "",
        "| Model | Accuracy | Loss | AUC-ROC | Weighted F-measure | Training time |",
        "|---|---|---|---|---|---|",
    ]
    for row in runs.itertuples():
        auc = "n/a" if pd.isna(row.auc) else f"{row.auc:.3f}"
        lines.append(
            f"| {display_name(row.model)} | {row.accuracy:.3f} | {row.loss:.3f} | {auc} | "
            f"{row.f1_weighted:.3f} | {hours_minutes_seconds(row.fit_seconds)} |"
        )
    best = runs.sort_values("accuracy", ascending=False).iloc[0]
    ranked = runs.sort_values("accuracy", ascending=False)
    sentence = (
        f"The optimized {display_name(best.model)} is the most accurate "
        f"({best.accuracy:.3f} on {int(best.n_eval)} test hosts)"
    )
    if len(ranked) > 1:
        runner = ranked.iloc[1]
        sentence += (
            f", {100 * (best.accuracy - runner.accuracy):.2f} points ahead of the "
            f"{display_name(runner.model)}"
        )
    with_auc = runs.dropna(subset=["auc"])
    if not with_auc.empty:
        top = with_auc.sort_values("auc", ascending=False).iloc[0]
        sentence += f"; the highest AUC-ROC is the {display_name(top.model)}'s ({top.auc:.3f})"
    lines += ["", sentence + ". A single run per model carries no test of its own.", ""]
    return lines


def comparison_sentences(
    comparison: Mapping[str, object], what: str, alpha: float, unit: str = "points"
) -> list[str]:
    """The ANOVA, the best model and its pairwise tests, as sentences."""
    means = comparison["means"]
    higher = comparison.get("higher_is_better", True)
    order = sorted(means, key=means.__getitem__, reverse=bool(higher))
    scale = 100 if unit == "points" else 1
    listing = ", ".join(f"{display_name(m)} {means[m] * scale:.2f}" for m in order)
    lines = [
        f"Mean {what}: {listing}. One-way ANOVA between the models: "
        f"F = {comparison['anova_f']:.3g}, {format_p(comparison['anova_p'])}, "
        f"{_verdict(bool(comparison['anova_significant']), alpha)}."
    ]
    best = comparison["best"]
    for pair in comparison.get("pairs", []):
        if best not in (pair["a"], pair["b"]):
            continue
        other = pair["b"] if pair["a"] == best else pair["a"]
        gap = abs(float(pair["difference"])) * scale
        tests = [f"pooled two-sample t-test {format_p(pair['p_pooled'])}"]
        if pair.get("p_welch_holm") is not None:
            tests.append(f"Welch with Holm correction {format_p(pair['p_welch_holm'])}")
        if pair.get("p_corrected_holm") is not None:
            tests.append(f"Nadeau-Bengio corrected, Holm {format_p(pair['p_corrected_holm'])}")
        if pair.get("p_nemenyi") is not None:
            tests.append(f"Nemenyi after Friedman {format_p(pair['p_nemenyi'])}")
        lines.append(
            f"The {display_name(best)} leads the {display_name(other)} by {gap:.2f} {unit} "
            f"({'; '.join(tests)})."
        )
    winner, corrected = comparison.get("winner"), comparison.get("winner_corrected")
    if winner:
        lines.append(
            f"By the paper's tests the {display_name(winner)} wins: it is significantly better "
            "than every other model."
        )
    else:
        lines.append("By the paper's tests no model is significantly better than all others.")
    if "winner_corrected" in comparison:
        if corrected:
            lines.append(f"The corrected tests agree: the {display_name(corrected)} wins.")
        else:
            lines.append("Under the corrected tests no model is separated from all others.")
    return lines


def critical_sentence(model: str, entry: Mapping[str, object]) -> str:
    status, n = entry["status"], entry.get("n")
    if status == "found":
        text = (
            f"the {display_name(model)} keeps its accuracy down to {n} packets per host and loses "
            f"it below (critical packet count {n})"
        )
    elif status == "below_smallest_tested":
        text = (
            f"the {display_name(model)} shows no significant change over every budget tested, so "
            f"its critical packet count lies below {entry['smallest_tested']}"
        )
    else:
        text = (
            f"the {display_name(model)} changes significantly even between the two largest "
            "budgets: no critical packet count within the tested range"
        )
    friedman = entry.get("friedman")
    if isinstance(friedman, Mapping) and friedman.get("status") is not None:
        same = (friedman["status"], friedman.get("n")) == (status, n)
        text += (
            "; the rank-based scan agrees"
            if same
            else (f"; the rank-based scan says {friedman['message']}")
        )
    return text


def packets_section(summary: Mapping[str, object], alpha: float) -> list[str]:
    comparisons = summary.get("comparisons", {})
    lines: list[str] = ["## Packet restriction", ""]
    if "packets_accuracy" in comparisons:
        lines += comparison_sentences(
            comparisons["packets_accuracy"], "accuracy over the packet budgets (percent)", alpha
        )
    if "packets_loss" in comparisons:
        loss = comparisons["packets_loss"]
        means = loss["means"]
        lowest = min(means, key=means.__getitem__)
        lines.append(
            f"By loss, the {display_name(lowest)} has the lowest mean ({means[lowest]:.3f}); "
            f"one-way ANOVA between the models {format_p(loss['anova_p'])}, "
            f"{_verdict(bool(loss['anova_significant']), alpha)}."
        )
    critical = summary.get("critical_packets", {})
    found = [
        critical_sentence(model, metrics["accuracy"])
        for model, metrics in critical.items()
        if "accuracy" in metrics
    ]
    if found:
        lines += ["", "Critical packet counts (accuracy): " + "; ".join(found) + "."]
    lines.append("")
    return lines if len(lines) > 3 else []


def run_time_section(summary: Mapping[str, object], alpha: float) -> list[str]:
    times = summary.get("run_times")
    if not times or not times.get("fastest"):
        return []
    n, fastest = times["n_packets"], times["fastest"]
    ratios = times["ratio_to_fastest"]
    seconds = times["mean_seconds"]
    others = [m for m in ratios if m != fastest]
    lines = [
        "## Run time",
        "",
        f"At {n} packets per host the {display_name(fastest)} trains fastest "
        f"({seconds[fastest]:.1f} s on average)"
        + (
            "; "
            + ", ".join(
                f"the {display_name(m)} takes {ratios[m]:.2f} times as long ({seconds[m]:.1f} s)"
                for m in others
            )
            if others
            else ""
        )
        + ".",
    ]
    comparison = summary.get("comparisons", {}).get(f"packets_fit_seconds_n{n}")
    if comparison:
        lines.append(
            f"One-way ANOVA between the run times: {format_p(comparison['anova_p'])}, "
            f"{_verdict(bool(comparison['anova_significant']), alpha)}."
        )
    at_critical = times.get("seconds_at_critical", {})
    if at_critical:
        lines.append(
            "At its critical packet count: "
            + ", ".join(f"{display_name(m)} {s:.1f} s" for m, s in at_critical.items())
            + "."
        )
    return [*lines, ""]


def verdict_section(summary: Mapping[str, object]) -> list[str]:
    verdicts = summary.get("verdict") or []
    if not verdicts:
        return []
    lines = [
        "## Which conclusions survive",
        "",
        "| Comparison | Paper-style test | Conclusion | Corrected test | Conclusion | Outcome |",
        "|---|---|---|---|---|---|",
    ]
    for v in verdicts:
        lines.append(
            f"| {v['comparison']} | {v['paper_test']} ({format_p(v['paper_p'])}) | "
            f"{v['paper_conclusion']} | {v['corrected_test']} ({format_p(v['corrected_p'])}) | "
            f"{v['corrected_conclusion']} | {v['outcome']} |"
        )
    return [*lines, ""]


def summary_markdown(
    metrics: pd.DataFrame, summary: Mapping[str, object], models: Sequence[str], alpha: float
) -> str:
    """The whole of ``summary.md``."""
    models = order_models(list(models))
    counts = metrics.groupby("experiment").size().to_dict()
    lines = [
        "# Results",
        "",
        f"{len(metrics)} training jobs compared the {_names(models)}: "
        f"{counts.get('optimized', 0)} optimized, {counts.get('packets', 0)} packet-restriction "
        f"and {counts.get('cv', 0)} cross-validation runs. Every test uses alpha = {alpha}; the "
        "tables behind each number are in `results/tables/`.",
        "",
    ]
    lines += optimized_section(metrics, models)
    cv = summary.get("comparisons", {}).get("cv_accuracy")
    if cv:
        folds = metrics.loc[metrics["experiment"] == "cv", "fold"].nunique()
        lines += [
            "## Cross-validation",
            "",
            *comparison_sentences(cv, f"accuracy over {folds} folds (percent)", alpha),
            "",
        ]
    lines += packets_section(summary, alpha)
    lines += run_time_section(summary, alpha)
    lines += verdict_section(summary)
    skipped = summary.get("skipped") or []
    if skipped:
        lines += [
            "## Not computed",
            "",
            *(f"- {s.get('table', s)}: {s.get('reason', '')}" for s in skipped),
            "",
        ]
    return "\n".join(lines)


def write_summary(
    *,
    metrics_path: str | os.PathLike,
    statistics_dir: str | os.PathLike,
    out_path: str | os.PathLike,
    models: Sequence[str],
    alpha: float,
) -> str:
    """Write ``summary.md`` from the results table and ``statistics_dir/summary.json``."""
    metrics = pd.read_parquet(metrics_path)
    summary_path = Path(statistics_dir) / "summary.json"
    try:
        summary = json.loads(summary_path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{summary_path}: cannot read the statistics summary: {error}") from error
    text = summary_markdown(metrics, summary, models, alpha)
    with atomic_path(out_path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return text
