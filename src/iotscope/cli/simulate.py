"""`iotscope simulate`: write the synthetic telescope capture and its labels."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from iotscope.cli.app import app
from iotscope.data.populations import FAMILIES
from iotscope.data.simulate import TELESCOPE_PREFIX, SimulationSummary, simulate_telescope

HELP = (
    "Write a synthetic network-telescope capture: the default dataset of the workflow.\n\n"
    "The capture is a real pcap file (Ethernet, IPv4 TCP SYN packets with correct checksums and "
    "TCP options), so it goes through 'iotscope ingest' exactly like a real capture. Beside it, "
    "a labels CSV lists every source host with its label (iot or non-iot) and the population "
    "that generated it: Mirai-family and BusyBox IoT bots, Android ADB worms, and zmap, "
    "masscan, nmap, crafted TTL-255 scanners, infected Windows hosts and Linux servers, plus "
    "the hard cases (servers running Mirai variants, IoT bots behind a NAT with a PC).\n\n"
    "--difficulty (0 to 1) sets how much of what one packet cannot tell apart is mixed in; the "
    "default 0.5 keeps a first-packet signature rule near the majority baseline while a model "
    "that sees many packets does clearly better. The same options and seed give the same "
    "bytes.\n\n"
    "Example: iotscope simulate data/simulated/telescope.pcap data/simulated/labels.csv "
    "--hosts 2000 --seed 0"
)


@app.command(help=HELP)
def simulate(
    pcap: Annotated[
        Path,
        typer.Argument(help="Capture to write (classic pcap), e.g. data/simulated/telescope.pcap."),
    ],
    labels: Annotated[
        Path,
        typer.Argument(
            help="Labels to write (CSV: host,label,family), e.g. data/simulated/labels.csv."
        ),
    ],
    hosts: Annotated[int, typer.Option(min=1, help="Number of source hosts.")] = 2000,
    iot_fraction: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Share of IoT hosts (0.17: the original study's 7,193 of 42,167).",
        ),
    ] = 0.17,
    min_packets: Annotated[
        int, typer.Option(min=2, help="Fewest SYN packets a host sends (drawn uniformly per host).")
    ] = 20,
    max_packets: Annotated[int, typer.Option(min=2, help="Most SYN packets a host sends.")] = 400,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same files.")] = 0,
    difficulty: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="0: populations separable from one packet; 1: many look-alikes and heavy noise.",
        ),
    ] = 0.5,
    start_time: Annotated[
        float, typer.Option(help="Capture start, seconds since the Unix epoch.")
    ] = 1_700_000_000.0,
    telescope: Annotated[
        str, typer.Option(help="IPv4 prefix of the telescope (destination addresses).")
    ] = TELESCOPE_PREFIX,
) -> None:
    """Write the synthetic telescope capture and its labels (see HELP)."""
    if max_packets < min_packets:
        raise typer.BadParameter(
            f"--max-packets {max_packets} is below --min-packets {min_packets}",
            param_hint="--max-packets",
        )
    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task("Generating packets", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, description="Writing packets", completed=done, total=total)

        try:
            summary = simulate_telescope(
                pcap,
                labels,
                hosts=hosts,
                iot_fraction=iot_fraction,
                min_packets=min_packets,
                max_packets=max_packets,
                seed=seed,
                difficulty=difficulty,
                start_time=start_time,
                telescope=telescope,
                progress=advance,
            )
        except ValueError as error:
            raise typer.BadParameter(str(error)) from error
    console.print(_summary_table(summary))


def _summary_table(summary: SimulationSummary) -> Table:
    table = Table(
        title=f"{summary.pcap_path}: {summary.packets:,} packets, {summary.bytes:,} bytes"
    )
    table.add_column("family")
    table.add_column("label")
    table.add_column("hosts", justify="right")
    for family in FAMILIES:
        if family.name in summary.families:
            table.add_row(family.name, family.label, f"{summary.families[family.name]:,}")
    table.add_row("all", f"{summary.iot_hosts:,} iot", f"{summary.hosts:,}", style="bold")
    return table
