"""Cross-validation: the paper's tests on fold scores, and tests for folds sharing training data."""

from __future__ import annotations

import pandas as pd

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
from iotscope.stats.corrected import (
    BayesianCorrelatedResult,
    CorrectedTTestResult,
    bayesian_correlated_ttest,
    nadeau_bengio_ttest,
)
from iotscope.stats.errors import StatsInputError
from iotscope.stats.posthoc import friedman, holm
from iotscope.stats.results import display_name
from iotscope.stats.verdict import omnibus_verdict

Pair = tuple[str, str]


def fold_matrix(rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Folds x models, every model scored on every fold (the pairing of the corrected tests)."""
    matrix = rows.pivot(index="fold", columns="model", values=metric).sort_index()
    for model in matrix.columns:
        missing = matrix.index[matrix[model].isna()].tolist()
        if missing:
            raise StatsInputError(
                f"cross-validation: model {model!r} has no {metric} for fold(s) {missing}; "
                "the paired tests need every model on every fold"
            )
    return matrix


def test_train_ratio(rows: pd.DataFrame) -> float:
    """Mean n_eval / n_train over the folds: the Nadeau–Bengio variance inflation."""
    for column in ("n_train", "n_eval"):
        if column not in rows.columns or rows[column].isna().any():
            raise StatsInputError(
                f"cross-validation rows need column {column!r} in every row for the "
                "Nadeau–Bengio correction"
            )
    if (rows["n_train"] <= 0).any():
        raise StatsInputError("cross-validation rows have n_train <= 0")
    return float((rows["n_eval"] / rows["n_train"]).mean())


def corrected_tests(
    ts: TableSet, comparison: Comparison, rows: pd.DataFrame, rope: float | None
) -> tuple[
    pd.DataFrame,
    dict[Pair, CorrectedTTestResult],
    dict[Pair, float],
    dict[Pair, BayesianCorrelatedResult],
]:
    """Nadeau–Bengio tests (Holm-adjusted) and, with a rope, Bayesian tests for every pair."""

    def compute() -> tuple[dict[Pair, CorrectedTTestResult], dict[Pair, BayesianCorrelatedResult]]:
        matrix = fold_matrix(rows, comparison.metric)
        ratio = test_train_ratio(rows)
        corrected, bayes = {}, {}
        for a, b in comparison.pooled:
            names = (display_name(a), display_name(b))
            corrected[a, b] = nadeau_bengio_ttest(
                matrix[a],
                matrix[b],
                test_train_ratio=ratio,
                names=names,
                alpha=ts.alpha,
                confidence=ts.confidence,
            )
            if rope is not None:
                bayes[a, b] = bayesian_correlated_ttest(
                    matrix[a], matrix[b], test_train_ratio=ratio, rope=rope, names=names
                )
        return corrected, bayes

    done = ts.attempt("cv_accuracy corrected tests", compute)
    if done is None:
        return pd.DataFrame(), {}, {}, {}
    corrected, bayes = done
    adjusted = dict(zip(corrected, holm([r.p_two_tail for r in corrected.values()]), strict=True))
    records = []
    for (a, b), r in corrected.items():
        low, high = r.difference_ci()
        records.append(
            {
                "a": display_name(a),
                "b": display_name(b),
                "folds": r.folds,
                "n_test/n_train": r.test_train_ratio,
                "corrected t": r.t,
                "corrected df": r.df,
                "corrected p": r.p_two_tail,
                "corrected p Holm": adjusted[a, b],
                f"corrected {ts.ci} low": low,
                f"corrected {ts.ci} high": high,
            }
        )
    return pd.DataFrame(records), corrected, adjusted, bayes


def bayesian_table(bayes: dict[Pair, BayesianCorrelatedResult]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "a": display_name(a),
                "b": display_name(b),
                "rope": r.rope,
                "P(a > b)": r.p_a_greater,
                "P(equivalent)": r.p_equivalent,
                "P(b > a)": r.p_b_greater,
                "decision (0.95)": r.decision(),
            }
            for (a, b), r in bayes.items()
        ]
    )


def cv_section(ts: TableSet, rows: pd.DataFrame, rope: float | None) -> None:
    """Tables 2.1-2.4 (accuracy over the folds) and their corrected counterparts."""
    if rows.empty:
        return
    groups = {m: g["accuracy"].to_numpy(float) for m, g in rows.groupby("model")}
    comparison = compare_models(ts, "cv_accuracy", "accuracy", groups, "models in cross-validation")
    if comparison is None:
        return
    summary = comparison_summary(comparison)
    ts.summary["comparisons"]["cv_accuracy"] = summary
    extra, corrected, corrected_holm, bayes = corrected_tests(ts, comparison, rows, rope)
    ts.add(
        "cv_accuracy_pairwise",
        pairwise_table(ts, comparison, extra if corrected else None),
        "Every model pair in cross-validation: pooled, Welch and Nadeau–Bengio corrected t-tests",
    )
    if bayes:
        ts.add(
            "cv_accuracy_bayesian",
            bayesian_table(bayes),
            f"Bayesian correlated t-test, region of practical equivalence ±{rope}",
        )
    friedman_result = None
    if corrected:
        matrix = fold_matrix(rows, "accuracy")
        columns = {display_name(m): matrix[m] for m in comparison.models}
        friedman_result = ts.attempt(
            "cv_accuracy_friedman", lambda: friedman(pd.DataFrame(columns), alpha=ts.alpha)
        )
    if friedman_result is not None:
        ts.add(
            "cv_accuracy_friedman",
            pd.DataFrame([friedman_row("models", friedman_result, "folds")]),
            "Friedman test between models, blocked by fold",
        )
        ts.add(
            "cv_accuracy_nemenyi",
            nemenyi_table(friedman_result, "model"),
            "Nemenyi post-hoc p-values after the Friedman test (cross-validation)",
        )
    ts.verdicts.append(
        omnibus_verdict(
            "cross-validation accuracy: models",
            "one-way ANOVA",
            comparison.anova.p_value,
            "Friedman, blocked by fold",
            friedman_result.p_value if friedman_result else None,
            ts.alpha,
        )
    )
    for pair in summary["pairs"]:
        a, b = pair["a"], pair["b"]
        if (a, b) not in corrected:
            continue
        p_holm = float(corrected_holm[a, b])
        pair["p_corrected"] = corrected[a, b].p_two_tail
        pair["p_corrected_holm"] = p_holm
        add_pair_verdict(
            ts,
            comparison,
            pair,
            "cross-validation accuracy",
            "pooled t-test",
            "Nadeau–Bengio corrected t-test, Holm",
            p_holm,
        )
        if (a, b) in bayes:
            r = bayes[a, b]
            pair["bayesian"] = {
                "rope": r.rope,
                "p_a_greater": r.p_a_greater,
                "p_equivalent": r.p_equivalent,
                "p_b_greater": r.p_b_greater,
                "decision": r.decision(),
            }
    summary["winner_corrected"] = corrected_winner(summary, "p_corrected_holm", ts.alpha)


def corrected_winner(summary: dict, key: str, alpha: float) -> str | None:
    """The best model if the corrected p-values under ``key`` separate it from every other one."""
    best = summary["best"]
    against = [p for p in summary["pairs"] if best in (p["a"], p["b"])]
    if not against or any(key not in p for p in against):
        return None
    return best if all(p[key] < alpha for p in against) else None
