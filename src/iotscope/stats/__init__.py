"""Statistics: the paper's ANOVA and t-test tables from a results table, and the tests it should
have used.

``iotscope stats results/metrics.parquet --out results/tables --alpha 0.01`` (or
:func:`write_tables`) writes each table twice, ``{name}.csv`` (full precision) and ``{name}.md``
(7 significant digits), plus ``summary.json``. Names are ``{experiment}_{metric}[_{model}]_{test}``
(the optimized runs' Tables 1.2 and 1.3 come from :mod:`iotscope.aggregate`):

- ``cv_accuracy_anova`` (2.1) and ``cv_accuracy_ttest_{a}_vs_{b}`` (2.2-2.4): models over the
  cross-validation folds, in Excel's layout.
- ``packets_accuracy_anova`` (3.1) and ``packets_accuracy_ttest_{a}_vs_{b}`` (3.2-3.4): models on
  their per-budget mean accuracies; ``packets_loss_anova`` (3.17), ``packets_loss_ttest_*``
  (3.18-3.20) likewise for the loss.
- ``packets_{accuracy,loss}_{model}_anova`` (3.5, 3.7-3.9, 3.11, 3.12): one model across every
  packet budget; ``packets_{accuracy,loss}_{model}_from{n}_anova`` (3.6, 3.10): budgets >= the
  model's critical packet count (or ``--threshold``).
- ``packets_fit_seconds_n{N}_anova`` (3.13) and ``packets_fit_seconds_n{N}_ttest_*`` (3.14-3.16):
  run times at the largest budget N.
- ``packets_critical`` and ``packets_critical_scan``: the critical packet count of each model
  (smallest n whose ANOVA over budgets >= n is not significant; "below the smallest tested" or
  "none found" otherwise), by ANOVA and by the Friedman test.
- Beyond the paper: ``{anova}_groups`` (count, sum, mean, variance, 95% CI of every group);
  ``*_pairwise`` (pooled and Welch t-tests, Holm-adjusted p, Cohen's d, 95% CI of every difference;
  for cross-validation also the Nadeau–Bengio corrected t-test); ``*_tukey`` (Tukey HSD);
  ``cv_accuracy_bayesian`` (Bayesian correlated t-test with a region of practical equivalence);
  ``*_friedman`` and ``*_nemenyi`` (rank tests blocked by fold, or by run across packet budgets);
  ``packets_fit_seconds_n{N}_robust_anova`` (Alexander-Govern); ``anova_overview`` (every ANOVA
  with eta and omega squared); ``verdict`` (which paper-style conclusions survive the corrected
  tests); ``skipped`` (tables that could not be computed, and why).

Critical values (F crit, t Critical) are at the configured alpha; the paper's tables print them at
Excel's default of 0.05 although its text tests at 0.01.

When to trust which: the paper-style tests treat cross-validation folds and repeated runs as
independent samples, yet the folds share most of their training data and the runs share one split,
so those tests understate the variance and overstate significance; wherever the two disagree, trust
the corrected tests (Nadeau–Bengio, Welch with Holm, Friedman with Nemenyi). The paper-style tables
are there to reproduce the paper and compare with it, and they can be taken at face value only
when a difference is large against the fold-to-fold and run-to-run spread.
"""

from iotscope.stats.anova import AnovaResult, one_way_anova
from iotscope.stats.corrected import bayesian_correlated_ttest, nadeau_bengio_ttest
from iotscope.stats.critical import CriticalCount, critical_packet_count
from iotscope.stats.errors import StatsInputError
from iotscope.stats.pipeline import write_tables
from iotscope.stats.posthoc import friedman, holm, tukey_hsd
from iotscope.stats.results import read_metrics
from iotscope.stats.summary import GroupSummary
from iotscope.stats.ttest import TTestResult, ttest_from_summaries, two_sample_ttest

__all__ = [
    "AnovaResult",
    "CriticalCount",
    "GroupSummary",
    "StatsInputError",
    "TTestResult",
    "bayesian_correlated_ttest",
    "critical_packet_count",
    "friedman",
    "holm",
    "nadeau_bengio_ttest",
    "one_way_anova",
    "read_metrics",
    "ttest_from_summaries",
    "tukey_hsd",
    "two_sample_ttest",
    "write_tables",
]
