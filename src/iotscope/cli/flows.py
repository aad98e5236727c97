"""`iotscope flows` (packet tables -> flows.parquet) and `iotscope splits` (-> splits.parquet)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.table import Table

from iotscope.cli.app import app
from iotscope.cli.options import FLOWS_PATH, SPLITS_PATH
from iotscope.data.flows import FlowsError, FlowsReport, build_flows
from iotscope.data.labels import LabelError
from iotscope.data.splits import SplitError, make_splits
from iotscope.features import N_FEATURES, T_MAX

FLOWS_HELP = (
    "Join packet tables into flows.parquet: one row per host holding its first T_max TCP SYN "
    f"packets in time order, each described by {N_FEATURES} features, plus its label.\n\n"
    "Give every packet table of the dataset (one per capture, as written by 'iotscope ingest') "
    "and a labels CSV with the header 'host,label[,family]' and labels 'iot' / 'non-iot'. Hosts "
    "missing from the labels file are left out and counted; hosts with fewer than "
    "--min-packets packets are dropped and counted. Without --labels every host is kept with "
    "an empty label (for scoring unlabelled traffic).\n\n"
    "The grouping and sorting run in DuckDB within --memory-limit, spilling to disk when the "
    "packets do not fit in memory.\n\n"
    "Example: iotscope flows results/packets/*.parquet --labels data/simulated/labels.csv "
    "--out results/flows.parquet"
)

SPLITS_HELP = (
    "Split the hosts of flows.parquet once, stratified by label and seeded: held-out test "
    "hosts, a validation part of the remaining hosts (for tuning only) and K cross-validation "
    "folds over all non-test hosts. Every later job reads splits.parquet (columns host, split "
    "in train/val/test, fold; fold -1 for test hosts).\n\n"
    "Example: iotscope splits results/flows.parquet --out results/splits.parquet --seed 0"
)


@app.command(help=FLOWS_HELP)
def flows(
    packets: Annotated[
        list[Path],
        typer.Argument(
            help="Packet tables (parquet) written by 'iotscope ingest', one per capture file.",
            exists=True,
            dir_okay=False,
        ),
    ],
    labels: Annotated[
        Path | None,
        typer.Option(
            "--labels",
            "-l",
            help="Labels CSV: columns host,label[,family]; label is iot or non-iot.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Flows file to write.")] = FLOWS_PATH,
    t_max: Annotated[
        int, typer.Option(help="Packets kept per host (the longest sequence a model can use).")
    ] = T_MAX,
    min_packets: Annotated[
        int, typer.Option(help="Hosts with fewer packets than this are dropped.")
    ] = 10,
    threads: Annotated[int, typer.Option(help="DuckDB worker threads.")] = 1,
    memory_limit: Annotated[
        str, typer.Option(help="DuckDB memory limit, e.g. 3GB; beyond it DuckDB spills to disk.")
    ] = "3GB",
    temp_dir: Annotated[
        Path | None,
        typer.Option(help="Folder for DuckDB's spill files (default: beside --out)."),
    ] = None,
    parameters: Annotated[
        Path | None,
        typer.Option(
            help="YAML or JSON file of settings to record in the flows metadata, e.g. the "
            "simulator's or ingest's configuration.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(help="KEY=VALUE to record in the flows metadata (repeatable)."),
    ] = None,
) -> None:
    """Build flows.parquet (see FLOWS_HELP)."""
    console = Console(stderr=True)
    try:
        recorded = _parameters(parameters, param or [])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with console.status(f"Building flows from {len(packets)} packet table(s) ..."):
                report = build_flows(
                    packets,
                    labels,
                    out,
                    t_max=t_max,
                    min_packets=min_packets,
                    threads=threads,
                    memory_limit=memory_limit,
                    temp_directory=temp_dir,
                    parameters=recorded,
                )
    except (FlowsError, LabelError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=2) from exc
    for warning in caught:
        console.print(f"[yellow]warning:[/yellow] {warning.message}")
    console.print(_flows_summary(report))


def _parameters(path: Path | None, pairs: list[str]) -> dict[str, object]:
    """Settings from a YAML/JSON file, then KEY=VALUE pairs (values parsed as YAML scalars)."""
    recorded: dict[str, object] = {}
    if path is not None:
        loaded = yaml.safe_load(path.read_text())
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: expected a mapping of settings, got {type(loaded).__name__}")
        recorded.update(loaded)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--param {pair!r}: expected KEY=VALUE")
        recorded[key] = yaml.safe_load(value)
    json.dumps(recorded)  # the metadata is JSON: fail here, not after the build
    return recorded


def _flows_summary(report: FlowsReport) -> Table:
    table = Table(title=f"flows -> {report.out_path}", show_header=False)
    table.add_row("packets read", f"{report.packets:,}")
    table.add_row("hosts seen", f"{report.hosts_seen:,}")
    table.add_row("hosts written", f"{report.hosts:,}")
    table.add_row("unlabelled (excluded)", f"{report.unlabelled:,}")
    table.add_row(f"fewer than {report.min_packets} packets", f"{report.too_few_packets:,}")
    table.add_row("labelled but never seen", f"{report.labelled_not_seen:,}")
    table.add_row("tensor per host", f"{report.t_max} packets x {N_FEATURES} features")
    table.add_row("seconds", f"{report.seconds:.1f}")
    return table


@app.command(help=SPLITS_HELP)
def splits(
    flows_path: Annotated[
        Path,
        typer.Argument(
            metavar="FLOWS",
            help="flows.parquet from 'iotscope flows'.",
            exists=True,
            dir_okay=False,
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Splits file to write.")] = SPLITS_PATH,
    test_fraction: Annotated[
        float, typer.Option(help="Share of each label's hosts held out for the final test.")
    ] = 0.2,
    val_fraction: Annotated[
        float,
        typer.Option(help="Share of each label's non-test hosts used as validation for tuning."),
    ] = 0.2,
    folds: Annotated[
        int, typer.Option(help="Cross-validation folds over the non-test hosts.")
    ] = 20,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same split.")] = 0,
) -> None:
    """Write splits.parquet (see SPLITS_HELP)."""
    console = Console(stderr=True)
    try:
        table = make_splits(
            flows_path,
            out,
            test_fraction=test_fraction,
            val_fraction=val_fraction,
            folds=folds,
            seed=seed,
        )
    except (SplitError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=2) from exc
    summary = Table(title=f"splits -> {out}", show_header=False)
    split = table["split"].to_pylist()
    for name in ("train", "val", "test"):
        summary.add_row(name, f"{split.count(name):,} hosts")
    summary.add_row("folds", f"{folds} over train + val")
    console.print(summary)
