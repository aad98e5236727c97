"""Packet budgets: the paper's Tables 3.1-3.20, the critical packet count, and rank-based checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from iotscope.stats.anova import one_way_anova
from iotscope.stats.compare import (
    Comparison,
    TableSet,
    add_pair_verdict,
    compare_models,
    comparison_summary,
    friedman_row,
    nemenyi_table,
    pairwise_table,
)
from iotscope.stats.critical import CriticalCount, critical_packet_count, rank_test_p_value
from iotscope.stats.cv import corrected_winner
from iotscope.stats.errors import StatsInputError
from iotscope.stats.posthoc import FriedmanResult, friedman
from iotscope.stats.results import display_name, order_models, slug
from iotscope.stats.verdict import Verdict, omnibus_verdict

METRICS = ("accuracy", "loss")


def has_metric(ts: TableSet, rows: pd.DataFrame, metric: str, name: str) -> bool:
    if metric in rows.columns and rows[metric].notna().all():
        return True
    ts.skipped.append({"table": name, "reason": f"column {metric!r} is missing or has empty cells"})
    return False


def packets_section(ts: TableSet, rows: pd.DataFrame, threshold: int | None) -> None:
    if rows.empty:
        return
    rows = rows.assign(n_packets=rows["n_packets"].astype(int), run=rows["run"].astype(int))
    models = order_models(sorted(set(rows["model"])))
    critical: dict[str, dict[str, CriticalCount]] = {}
    for metric in METRICS:
        if not has_metric(ts, rows, metric, f"packets_{metric}"):
            continue
        across_models(ts, rows, metric)
        for model in models:
            across_budgets(ts, rows[rows["model"] == model], model, metric)
        critical[metric] = critical_counts(ts, rows, models, metric)
    critical_tables(ts)
    if ts.friedman_rows:
        ts.add(
            "packets_budgets_friedman",
            pd.DataFrame(ts.friedman_rows),
            "Friedman test between packet budgets for each model, blocked by run",
        )
    for metric in METRICS:
        if metric in critical:
            from_threshold(ts, rows, models, metric, threshold, critical.get("accuracy", {}))
    if has_metric(ts, rows, "fit_seconds", "packets_fit_seconds"):
        run_times(ts, rows, models, critical.get("accuracy", {}))


def across_models(ts: TableSet, rows: pd.DataFrame, metric: str) -> None:
    """Tables 3.1-3.4 (accuracy) and 3.17-3.20 (loss): models compared on per-budget means."""
    prefix = f"packets_{metric}"
    means = rows.groupby(["model", "n_packets"])[metric].mean()
    groups = {m: means.loc[m].to_numpy(float) for m in sorted(set(rows["model"]))}
    caption = f"model {metric} across all packet budgets (one mean per budget, as in the paper)"
    comparison = compare_models(ts, prefix, metric, groups, caption)
    if comparison is None:
        return
    summary = comparison_summary(comparison)
    ts.summary["comparisons"][prefix] = summary
    blocks = rows.pivot(index=["n_packets", "run"], columns="model", values=metric)
    columns = {display_name(m): blocks[m] for m in comparison.models}
    result = ts.attempt(
        f"{prefix}_friedman", lambda: friedman(pd.DataFrame(columns), alpha=ts.alpha)
    )
    ts.add(
        f"{prefix}_pairwise",
        pairwise_table(ts, comparison, nemenyi_columns(comparison, result)),
        f"Every model pair: {caption}",
    )
    ts.verdicts.append(
        omnibus_verdict(
            f"packets {metric}: models",
            "one-way ANOVA on per-budget means",
            comparison.anova.p_value,
            "Friedman, blocked by budget and run",
            result.p_value if result else None,
            ts.alpha,
        )
    )
    if result is None:
        return
    ts.add(
        f"{prefix}_friedman",
        pd.DataFrame([friedman_row("models", result, "budget x run blocks")]),
        f"Friedman test between models on {metric}, blocked by packet budget and run",
    )
    ts.add(
        f"{prefix}_nemenyi", nemenyi_table(result, "model"), f"Nemenyi post-hoc p-values ({metric})"
    )
    pair_verdicts(ts, comparison, summary, result, f"packets {metric}", "Nemenyi after Friedman")


def nemenyi_columns(comparison: Comparison, result: FriedmanResult | None) -> pd.DataFrame | None:
    if result is None:
        return None
    return pd.DataFrame(
        [
            {
                "a": display_name(a),
                "b": display_name(b),
                "Nemenyi p": float(result.nemenyi.loc[display_name(a), display_name(b)]),
            }
            for a, b in comparison.pooled
        ]
    )


def pair_verdicts(
    ts: TableSet,
    comparison: Comparison,
    summary: dict,
    result: FriedmanResult,
    label: str,
    corrected_test: str,
) -> None:
    for pair in summary["pairs"]:
        p_corrected = float(result.nemenyi.loc[display_name(pair["a"]), display_name(pair["b"])])
        pair["p_nemenyi"] = p_corrected
        add_pair_verdict(
            ts,
            comparison,
            pair,
            label,
            "pooled t-test on per-budget means",
            corrected_test,
            p_corrected,
        )
    summary["winner_corrected"] = corrected_winner(summary, "p_nemenyi", ts.alpha)


def budget_samples(rows: pd.DataFrame, metric: str) -> dict[int, np.ndarray]:
    return {int(n): g[metric].to_numpy(float) for n, g in rows.groupby("n_packets")}


def budget_blocks(rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Runs x budgets; NaN where a run is missing at a budget (dropped by the Friedman test)."""
    return rows.pivot(index="run", columns="n_packets", values=metric).sort_index()


def across_budgets(ts: TableSet, rows: pd.DataFrame, model: str, metric: str) -> None:
    """Tables 3.5, 3.7, 3.8 (accuracy) and 3.9, 3.11, 3.12 (loss): one model, every budget."""
    name = f"packets_{metric}_{slug(model)}_anova"
    groups = {str(n): v for n, v in budget_samples(rows, metric).items()}
    anova = ts.attempt(name, lambda: one_way_anova(groups, alpha=ts.alpha))
    if anova is None:
        return
    ts.add_anova(name, anova, f"{metric} of {display_name(model)} at every packet budget")
    blocks = budget_blocks(rows, metric)
    blocks.columns = [str(c) for c in blocks.columns]
    result = ts.attempt(
        f"packets_{metric}_{slug(model)}_friedman", lambda: friedman(blocks, alpha=ts.alpha)
    )
    if result is not None:
        ts.summary.setdefault("budget_friedman", {}).setdefault(metric, {})[model] = {
            "p": result.p_value,
            "significant": result.significant,
        }
        ts.friedman_rows.append(
            friedman_row(display_name(model), result, "runs") | {"metric": metric}
        )
        ts.add(
            f"packets_{metric}_{slug(model)}_nemenyi",
            nemenyi_table(result, "packets"),
            f"Nemenyi post-hoc p-values between packet budgets: {metric} of {display_name(model)}",
        )
    ts.verdicts.append(
        omnibus_verdict(
            f"packets {metric}: {display_name(model)} across budgets",
            "one-way ANOVA",
            anova.p_value,
            "Friedman, blocked by run",
            result.p_value if result else None,
            ts.alpha,
        )
    )


def critical_counts(
    ts: TableSet, rows: pd.DataFrame, models: list[str], metric: str
) -> dict[str, CriticalCount]:
    """The paper's critical packet count (ANOVA scan) per model, and its Friedman-scan check."""
    found: dict[str, CriticalCount] = {}
    for model in models:
        own = rows[rows["model"] == model]
        label = f"packets_critical ({metric}, {model})"
        anova_scan = ts.attempt(
            label,
            lambda own=own: critical_packet_count(budget_samples(own, metric), alpha=ts.alpha),
        )
        if anova_scan is None:
            continue
        found[model] = anova_scan
        blocks = budget_blocks(own, metric)
        rank_scan = ts.attempt(
            f"{label} Friedman scan",
            lambda blocks=blocks: critical_packet_count(
                {int(n): blocks[n].to_numpy(float) for n in blocks.columns},
                alpha=ts.alpha,
                test=rank_test_p_value,
            ),
        )
        ts.critical_rows.append((model, metric, anova_scan, rank_scan))
        entry = critical_entry(anova_scan)
        if rank_scan is not None:
            entry["friedman"] = critical_entry(rank_scan)
        ts.summary.setdefault("critical_packets", {}).setdefault(model, {})[metric] = entry
        ts.verdicts.append(
            Verdict(
                f"critical packet count ({metric}): {display_name(model)}",
                "ANOVA over budgets >= n",
                anova_scan.scan[-1].p_value,
                anova_scan.message,
                "Friedman / signed-rank over budgets >= n",
                rank_scan.scan[-1].p_value if rank_scan else None,
                rank_scan.message if rank_scan else "not computed",
                (
                    "same"
                    if (rank_scan.status, rank_scan.n) == (anova_scan.status, anova_scan.n)
                    else "differs"
                )
                if rank_scan
                else "not computed",
            )
        )
    return found


def critical_entry(count: CriticalCount) -> dict[str, object]:
    return {
        "status": count.status,
        "n": count.n,
        "smallest_tested": count.tested[0],
        "largest_tested": count.tested[-1],
        "message": count.message,
    }


def critical_tables(ts: TableSet) -> None:
    if not ts.critical_rows:
        return
    summary, scan = [], []
    for model, metric, anova_scan, rank_scan in ts.critical_rows:
        for test, count in (("ANOVA", anova_scan), ("Friedman", rank_scan)):
            if count is None:
                continue
            summary.append(
                {
                    "model": display_name(model),
                    "metric": metric,
                    "test": test,
                    "status": count.status,
                    "critical n": count.n,
                    "message": count.message,
                }
            )
            scan += [
                {
                    "model": display_name(model),
                    "metric": metric,
                    "test": test,
                    "from n": step.from_n,
                    "budgets": ", ".join(map(str, step.lengths)),
                    "statistic": step.statistic,
                    "p": step.p_value,
                    "significant": step.significant,
                }
                for step in count.scan
            ]
    ts.add("packets_critical", pd.DataFrame(summary), "Critical packet count per model")
    ts.add(
        "packets_critical_scan", pd.DataFrame(scan), "Critical packet count: every step of the scan"
    )


def from_threshold(
    ts: TableSet,
    rows: pd.DataFrame,
    models: list[str],
    metric: str,
    threshold: int | None,
    accuracy_critical: dict[str, CriticalCount],
) -> None:
    """Tables 3.6 and 3.10: the ANOVA over budgets >= the critical count (or a fixed threshold)."""
    for model in models:
        start = threshold
        if start is None:
            count = accuracy_critical.get(model)
            if count is None or count.status != "found":
                continue
            start = count.n
        own = rows[(rows["model"] == model) & (rows["n_packets"] >= start)]
        name = f"packets_{metric}_{slug(model)}_from{start}_anova"
        groups = {str(n): v for n, v in budget_samples(own, metric).items()}
        anova = ts.attempt(name, lambda groups=groups: one_way_anova(groups, alpha=ts.alpha))
        if anova is not None:
            ts.add_anova(
                name, anova, f"{metric} of {display_name(model)} at packet budgets >= {start}"
            )


def run_times(
    ts: TableSet, rows: pd.DataFrame, models: list[str], accuracy_critical: dict[str, CriticalCount]
) -> None:
    """Tables 3.13-3.16: run times at the largest budget, with Welch/Holm and a robust ANOVA."""
    largest = int(rows["n_packets"].max())
    prefix = f"packets_fit_seconds_n{largest}"
    at_largest = rows[rows["n_packets"] == largest]
    groups = {m: g["fit_seconds"].to_numpy(float) for m, g in at_largest.groupby("model")}
    caption = f"model run times (fit seconds) at {largest} packets"
    comparison = compare_models(ts, prefix, "fit_seconds", groups, caption)
    by_n = rows.groupby(["model", "n_packets"])["fit_seconds"].mean()
    means = {m: float(by_n.loc[m, largest]) for m in models if (m, largest) in by_n.index}
    fastest = min(means, key=means.__getitem__) if means else None
    ts.summary["run_times"] = {
        "n_packets": largest,
        "mean_seconds": means,
        "fastest": fastest,
        "ratio_to_fastest": {m: s / means[fastest] for m, s in means.items()} if fastest else {},
        "mean_seconds_by_n": {
            m: {int(n): float(s) for n, s in by_n.loc[m].items()} for m in models
        },
        "seconds_at_critical": {
            m: float(by_n.loc[m, c.n])
            for m, c in accuracy_critical.items()
            if c.status == "found" and (m, c.n) in by_n.index
        },
    }
    if comparison is None:
        return
    summary = comparison_summary(comparison)
    ts.summary["comparisons"][prefix] = summary
    ts.add(f"{prefix}_pairwise", pairwise_table(ts, comparison), f"Every model pair: {caption}")
    named = [groups[m] for m in comparison.models]
    robust = ts.attempt(f"{prefix}_robust_anova", lambda: alexander_govern(named))
    if robust is not None:
        ts.add(
            f"{prefix}_robust_anova",
            pd.DataFrame(
                [{"test": "Alexander-Govern", "p": robust, "significant": robust < ts.alpha}]
            ),
            f"One-way comparison not assuming equal variances: {caption}",
        )
    ts.verdicts.append(
        omnibus_verdict(
            "run time: models",
            "one-way ANOVA",
            comparison.anova.p_value,
            "Alexander-Govern (unequal variances)",
            robust,
            ts.alpha,
        )
    )
    for pair in summary["pairs"]:
        add_pair_verdict(
            ts,
            comparison,
            pair,
            "run time",
            "pooled t-test",
            "Welch t-test, Holm",
            pair["p_welch_holm"],
        )
    summary["winner_corrected"] = corrected_winner(summary, "p_welch_holm", ts.alpha)


def alexander_govern(samples: list[np.ndarray]) -> float:
    """p-value of the Alexander-Govern test, a one-way ANOVA not assuming equal variances."""
    if any(np.ptp(s) == 0 for s in samples):
        raise StatsInputError("the Alexander-Govern test needs non-zero variance in every group")
    return float(stats.alexandergovern(*samples).pvalue)
