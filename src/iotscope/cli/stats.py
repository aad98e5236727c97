"""`iotscope stats`: the paper's statistics tables, and corrected ones, from a results table."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from iotscope.cli.app import app
from iotscope.stats import StatsInputError, write_tables

HELP = (
    "Turn a results table into the paper's ANOVA and t-test tables, plus corrected tests.\n\n"
    "Writes one-way ANOVAs and two-sample t-tests in the paper's (Excel's) layout for the "
    "cross-validation, packet-budget and run-time experiments, and the critical packet count of "
    "each model. Beside them: Welch and Holm-adjusted t-tests, Tukey HSD, effect sizes with "
    "confidence intervals, the Nadeau–Bengio corrected t-test for cross-validation folds, "
    "Friedman/Nemenyi rank tests, a Bayesian correlated t-test, a verdict table (which "
    "paper-style conclusions survive) and summary.json.\n\n"
    "Example: iotscope stats results/metrics.parquet --out results/tables --alpha 0.01"
)


@app.command("stats", help=HELP)
def stats_command(
    metrics: Annotated[
        Path,
        typer.Argument(
            help="The results table (results/metrics.parquet): one row per trained model.",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for the tables ({name}.csv and {name}.md).")
    ] = Path("results/tables"),
    alpha: Annotated[
        float,
        typer.Option(help="Significance level of every test and critical value (the paper: 0.01)."),
    ] = 0.01,
    confidence: Annotated[
        float, typer.Option(help="Level of the confidence intervals of means and differences.")
    ] = 0.95,
    rope: Annotated[
        float,
        typer.Option(
            help="Half-width of the region of practical equivalence of the Bayesian test, in the "
            "metric's units (0.01 = one percentage point of accuracy)."
        ),
    ] = 0.01,
    bayesian: Annotated[
        bool, typer.Option(help="Run the Bayesian correlated t-test on cross-validation folds.")
    ] = True,
    threshold: Annotated[
        int | None,
        typer.Option(
            help="Smallest packet budget of the 'budgets >= n' ANOVAs (paper Table 3.6). "
            "Default: each model's critical packet count.",
            show_default=False,
        ),
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            "-m",
            help="Compare only these models (repeat the option); each must be in the table.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write every statistics table for METRICS under --out (see HELP)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    console = Console(stderr=True)
    try:
        with console.status("computing statistics tables"):
            paths = write_tables(
                metrics,
                out,
                alpha=alpha,
                confidence=confidence,
                rope=rope if bayesian else None,
                threshold=threshold,
                models=model or None,
            )
    except (StatsInputError, FileNotFoundError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(code=2) from error
    tables = sorted({p.stem for p in paths if p.suffix == ".csv"})
    console.print(f"wrote {len(tables)} tables (CSV + Markdown) and summary.json to {out}")
    verdict = out / "verdict.csv"
    if verdict.exists():
        show_verdict(console, verdict)


def show_verdict(console: Console, path: Path) -> None:
    """Print the verdict table: each paper-style conclusion beside the corrected one."""
    columns = ("Comparison", "Conclusion", "Conclusion (corrected)", "Outcome")
    table = Table(title="Paper-style conclusions against the corrected tests")
    for column in columns:
        table.add_column(column)
    for record in pd.read_csv(path, keep_default_na=False).to_dict("records"):
        table.add_row(*(str(record[c]) for c in columns))
    console.print(table)
