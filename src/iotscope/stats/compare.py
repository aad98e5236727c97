"""The model-versus-model comparison every experiment shares, and the table collector."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from iotscope.stats.anova import AnovaResult, one_way_anova
from iotscope.stats.effect import magnitude
from iotscope.stats.errors import StatsInputError
from iotscope.stats.posthoc import FriedmanResult, holm, tukey_hsd
from iotscope.stats.results import display_name, order_models, slug
from iotscope.stats.tables import write_table
from iotscope.stats.ttest import TTestResult, two_sample_ttest
from iotscope.stats.verdict import Verdict, pair_verdict

log = logging.getLogger(__name__)

T = TypeVar("T")

LOWER_IS_BETTER = {"loss", "fit_seconds"}


@dataclass
class TableSet:
    """Collects the tables written, the ones skipped (and why), the summary and the verdicts."""

    out_dir: Path
    alpha: float
    confidence: float
    paths: list[Path] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    anovas: list[dict[str, object]] = field(default_factory=list)
    friedman_rows: list[dict[str, object]] = field(default_factory=list)
    critical_rows: list[tuple] = field(default_factory=list)
    summary: dict[str, object] = field(default_factory=dict)

    def add(self, name: str, table: pd.DataFrame, caption: str) -> None:
        self.paths += write_table(table, self.out_dir, name, caption)
        self.names.append(name)

    def add_anova(self, name: str, anova: AnovaResult, caption: str) -> None:
        """The ANOVA table, its per-group summary (``{name}_groups``) and a row of the overview."""
        self.add(name, anova.table(), f"One-way ANOVA between {caption}")
        self.add(f"{name}_groups", anova.groups_table(self.confidence), f"Groups of {caption}")
        self.anovas.append(omnibus_row(name, anova))

    def attempt(self, name: str, compute: Callable[[], T]) -> T | None:
        """Run one comparison; on input it cannot be computed from, record why and go on."""
        try:
            return compute()
        except StatsInputError as error:
            log.warning("skipped %s: %s", name, error)
            self.skipped.append({"table": name, "reason": str(error)})
            return None

    @property
    def ci(self) -> str:
        return f"CI{round(self.confidence * 100)}"


@dataclass(frozen=True)
class Comparison:
    """The paper-style ANOVA and pairwise t-tests between models on one metric."""

    prefix: str
    metric: str
    models: tuple[str, ...]
    groups: dict[str, np.ndarray]
    anova: AnovaResult
    pooled: dict[tuple[str, str], TTestResult]
    welch: dict[tuple[str, str], TTestResult]
    pooled_holm: dict[tuple[str, str], float]
    welch_holm: dict[tuple[str, str], float]

    @property
    def higher_is_better(self) -> bool:
        return self.metric not in LOWER_IS_BETTER

    def means(self) -> dict[str, float]:
        return {m: float(self.groups[m].mean()) for m in self.models}

    def best(self) -> str:
        means = self.means()
        return (max if self.higher_is_better else min)(means, key=means.__getitem__)


def compare_models(
    ts: TableSet, prefix: str, metric: str, groups: dict[str, np.ndarray], caption: str
) -> Comparison | None:
    """ANOVA, every pairwise t-test (pooled and Welch, Holm-adjusted), Tukey HSD, group summary."""
    models = tuple(order_models(list(groups)))
    named = {display_name(m): groups[m] for m in models}
    anova = ts.attempt(f"{prefix}_anova", lambda: one_way_anova(named, alpha=ts.alpha))
    if anova is None:
        return None
    ts.add_anova(f"{prefix}_anova", anova, caption)
    pooled, welch = {}, {}
    for a, b in combinations(models, 2):
        name = f"{prefix}_ttest_{slug(a)}_vs_{slug(b)}"
        names = (display_name(a), display_name(b))
        kwargs = dict(names=names, alpha=ts.alpha, confidence=ts.confidence)
        result = ts.attempt(
            name, lambda a=a, b=b, kw=kwargs: two_sample_ttest(groups[a], groups[b], **kw)
        )
        if result is None:
            continue
        pooled[a, b] = result
        welch[a, b] = two_sample_ttest(groups[a], groups[b], equal_var=False, **kwargs)
        ts.add(
            name,
            result.table(),
            f"Two-sample t-test assuming equal variances, {names[0]} vs {names[1]}: {caption}",
        )
    pairs = list(pooled)
    pooled_holm = dict(zip(pairs, holm([pooled[p].p_two_tail for p in pairs]), strict=True))
    welch_holm = dict(zip(pairs, holm([welch[p].p_two_tail for p in pairs]), strict=True))
    comparison = Comparison(
        prefix, metric, models, groups, anova, pooled, welch, pooled_holm, welch_holm
    )
    tukey = ts.attempt(f"{prefix}_tukey", lambda: tukey_hsd(named, confidence=ts.confidence))
    if tukey is not None:
        ts.add(f"{prefix}_tukey", tukey, f"Tukey HSD between {caption}")
    return comparison


def pairwise_table(
    ts: TableSet, comparison: Comparison, extra: pd.DataFrame | None = None
) -> pd.DataFrame:
    rows = []
    for (a, b), p in comparison.pooled.items():
        w = comparison.welch[a, b]
        low, high = p.difference_ci()
        wlow, whigh = w.difference_ci()
        rows.append(
            {
                "a": display_name(a),
                "b": display_name(b),
                "mean a": p.a.mean,
                "mean b": p.b.mean,
                "difference": p.difference,
                f"{ts.ci} low": low,
                f"{ts.ci} high": high,
                "Cohen's d": p.cohens_d,
                "effect": magnitude(p.cohens_d),
                "pooled t": p.t,
                "pooled df": p.df,
                "pooled p": p.p_two_tail,
                "pooled p Holm": comparison.pooled_holm[a, b],
                "Welch t": w.t,
                "Welch df": w.df,
                "Welch p": w.p_two_tail,
                "Welch p Holm": comparison.welch_holm[a, b],
                f"Welch {ts.ci} low": wlow,
                f"Welch {ts.ci} high": whigh,
            }
        )
    table = pd.DataFrame(rows)
    if extra is not None:
        table = table.merge(extra, on=["a", "b"], how="left")
    return table


def comparison_summary(comparison: Comparison) -> dict[str, object]:
    """Key numbers for the report: means, ANOVA, pairwise p-values, best model and winner.

    ``best`` has the best mean; ``winner`` is ``best`` only if the paper-style t-test separates it
    from every other model at alpha, else None.
    """
    best = comparison.best()
    means = comparison.means()
    pairs = []
    for (a, b), p in comparison.pooled.items():
        pairs.append(
            {
                "a": a,
                "b": b,
                "difference": p.difference,
                "p_pooled": p.p_two_tail,
                "p_pooled_one_tail": p.p_one_tail,
                "p_welch": comparison.welch[a, b].p_two_tail,
                "p_pooled_holm": comparison.pooled_holm[a, b],
                "p_welch_holm": comparison.welch_holm[a, b],
                "cohens_d": p.cohens_d,
                "significant_paper": p.significant,
            }
        )
    against = [p for p in pairs if best in (p["a"], p["b"])]
    winner = best if against and all(p["significant_paper"] for p in against) else None
    return {
        "metric": comparison.metric,
        "higher_is_better": comparison.higher_is_better,
        "means": means,
        "anova_f": comparison.anova.f,
        "anova_p": comparison.anova.p_value,
        "anova_significant": comparison.anova.significant,
        "eta_squared": comparison.anova.eta_squared,
        "best": best,
        "winner": winner,
        "pairs": pairs,
    }


def add_pair_verdict(
    ts: TableSet,
    comparison: Comparison,
    pair: dict[str, object],
    label: str,
    paper_test: str,
    corrected_test: str,
    p_corrected: float,
) -> None:
    """Mark ``pair`` (one of :func:`comparison_summary`'s pairs) significant or not after the
    correction, and add its verdict: the paper's ``paper_test`` against ``corrected_test``."""
    a, b = pair["a"], pair["b"]
    names = (display_name(a), display_name(b))
    pair["significant_corrected"] = p_corrected < ts.alpha
    pooled = comparison.pooled[a, b]
    ts.verdicts.append(
        pair_verdict(
            f"{label}: {names[0]} vs {names[1]}",
            names,
            pooled.difference,
            paper_test,
            pooled.p_two_tail,
            corrected_test,
            p_corrected,
            ts.alpha,
            higher_is_better=comparison.higher_is_better,
        )
    )


def omnibus_row(name: str, anova: AnovaResult) -> dict[str, object]:
    return {
        "table": name,
        "groups": ", ".join(g.name for g in anova.groups),
        "F": anova.f,
        "df between": anova.df_between,
        "df within": anova.df_within,
        "P-value": anova.p_value,
        "eta squared": anova.eta_squared,
        "omega squared": anova.omega_squared,
        "significant": anova.significant,
    }


def friedman_row(subject: str, result: FriedmanResult, blocks: str) -> dict[str, object]:
    return {
        "subject": subject,
        "treatments": ", ".join(result.treatments),
        "blocks": f"{result.blocks} {blocks}",
        "incomplete blocks dropped": result.dropped_blocks,
        "chi-square": result.statistic,
        "p": result.p_value,
        "significant": result.significant,
    }


def nemenyi_table(result: FriedmanResult, label: str) -> pd.DataFrame:
    return result.nemenyi.reset_index(names=label)
