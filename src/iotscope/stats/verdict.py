"""Which of the paper-style conclusions survive the tests that allow for what the paper ignored."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

VERDICT_COLUMNS = {
    "comparison": "Comparison",
    "paper_test": "Paper-style test",
    "paper_p": "p",
    "paper_conclusion": "Conclusion",
    "corrected_test": "Corrected test",
    "corrected_p": "p (corrected)",
    "corrected_conclusion": "Conclusion (corrected)",
    "outcome": "Outcome",
}


@dataclass(frozen=True)
class Verdict:
    comparison: str
    paper_test: str
    paper_p: float | None
    paper_conclusion: str
    corrected_test: str
    corrected_p: float | None
    corrected_conclusion: str
    outcome: str


def pair_conclusion(
    p: float, alpha: float, a: str, b: str, difference: float, *, higher_is_better: bool
) -> str:
    """ "A better than B" when p < alpha (direction from the sign of mean_a - mean_b)."""
    if p >= alpha:
        return "no significant difference"
    a_better = (difference > 0) == higher_is_better
    return f"{a} better than {b}" if a_better else f"{b} better than {a}"


def omnibus_conclusion(p: float, alpha: float) -> str:
    return "groups differ" if p < alpha else "no significant difference"


def outcome(paper_conclusion: str, corrected_conclusion: str) -> str:
    paper_sig = paper_conclusion != "no significant difference"
    corrected_sig = corrected_conclusion != "no significant difference"
    if paper_sig and paper_conclusion == corrected_conclusion:
        return "survives"
    if paper_sig and not corrected_sig:
        return "does not survive"
    if not paper_sig and not corrected_sig:
        return "no difference under either test"
    if not paper_sig:
        return "difference only under the corrected test"
    return "reversed"


def verdict_table(verdicts: list[Verdict]) -> pd.DataFrame:
    table = pd.DataFrame([asdict(v) for v in verdicts], columns=list(VERDICT_COLUMNS))
    return table.rename(columns=VERDICT_COLUMNS)


def omnibus_verdict(
    comparison: str,
    paper_test: str,
    paper_p: float,
    corrected_test: str,
    corrected_p: float | None,
    alpha: float,
) -> Verdict:
    """A verdict on "do the groups differ?"; ``corrected_p`` None when that test was skipped."""
    paper = omnibus_conclusion(paper_p, alpha)
    if corrected_p is None:
        return Verdict(
            comparison,
            paper_test,
            paper_p,
            paper,
            corrected_test,
            None,
            "not computed",
            "not computed",
        )
    corrected = omnibus_conclusion(corrected_p, alpha)
    return Verdict(
        comparison,
        paper_test,
        paper_p,
        paper,
        corrected_test,
        corrected_p,
        corrected,
        outcome(paper, corrected),
    )


def pair_verdict(
    comparison: str,
    names: tuple[str, str],
    difference: float,
    paper_test: str,
    paper_p: float,
    corrected_test: str,
    corrected_p: float,
    alpha: float,
    *,
    higher_is_better: bool,
) -> Verdict:
    """A verdict on "which of a, b is better?"; the direction comes from mean_a - mean_b."""
    paper = pair_conclusion(paper_p, alpha, *names, difference, higher_is_better=higher_is_better)
    corrected = pair_conclusion(
        corrected_p, alpha, *names, difference, higher_is_better=higher_is_better
    )
    return Verdict(
        comparison,
        paper_test,
        paper_p,
        paper,
        corrected_test,
        corrected_p,
        corrected,
        outcome(paper, corrected),
    )
