"""`iotscope ingest`: one capture file -> one packet table."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from iotscope.cli.app import app
from iotscope.data.ingest import CaptureError, IngestReport, ingest_capture


class HostKey(enum.StrEnum):
    ip = "ip"
    mac = "mac"


class OnError(enum.StrEnum):
    raise_ = "raise"
    skip = "skip"


HELP = (
    "Read a capture and write its TCP SYN packets as a packet table, one row per packet.\n\n"
    "Accepts pcap and pcapng (Ethernet, 802.1Q VLAN, Linux cooked SLL/SLL2, raw IP link types) "
    "and telescope CSV tables with the DarkVec columns. IPv6, ARP, UDP and everything else is "
    "skipped and counted. Run it once per capture file; 'iotscope flows' then joins the "
    "tables.\n\n"
    "Example: iotscope ingest data/simulated/telescope.pcap results/packets/telescope.parquet"
)


@app.command(help=HELP)
def ingest(
    capture: Annotated[
        Path,
        typer.Argument(
            help="Capture file: .pcap or .pcapng (optionally .gz), or a telescope .csv / .csv.gz.",
            exists=True,
            dir_okay=False,
        ),
    ],
    out: Annotated[
        Path,
        typer.Argument(help="Packet table to write (parquet), e.g. results/packets/day1.parquet."),
    ],
    host_key: Annotated[
        HostKey,
        typer.Option(
            help="What identifies a host: its source IPv4 address (telescopes) or its source MAC "
            "address (LAN captures; needs Ethernet or Linux cooked frames)."
        ),
    ] = HostKey.ip,
    all_tcp: Annotated[
        bool,
        typer.Option("--all-tcp", help="Keep every IPv4 TCP packet, not only SYN without ACK."),
    ] = False,
    on_error: Annotated[
        OnError,
        typer.Option(
            help="On a corrupt or truncated capture: 'raise' stops with the byte offset; 'skip' "
            "keeps the packets before the damage and reports how much was dropped."
        ),
    ] = OnError.raise_,
) -> None:
    """Read a capture and write its TCP SYN packets as a packet table (see HELP)."""
    console = Console(stderr=True)
    try:
        with console.status(f"Reading {capture} ..."):
            report = ingest_capture(
                capture,
                out,
                host_key=host_key.value,
                syn_only=not all_tcp,
                on_error=on_error.value,
            )
    except CaptureError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=2) from exc
    console.print(_summary(report))


def _summary(report: IngestReport) -> Table:
    table = Table(title=f"{report.source} -> {report.out_path}", show_header=False)
    table.add_row("format", f"{report.format} ({report.linktype})")
    table.add_row("packets read", f"{report.read:,}")
    table.add_row("packets kept", f"{report.kept:,}")
    table.add_row("hosts", f"{report.hosts:,}")
    for reason, count in report.skipped.items():
        table.add_row(f"skipped: {reason}", f"{count:,}")
    if report.absent_columns:
        table.add_row("absent columns", ", ".join(report.absent_columns))
    if report.damage is not None:
        damage = report.damage
        table.add_row(
            "[yellow]damage skipped[/yellow]",
            f"at byte {damage.offset}: {damage.reason} ({damage.bytes_dropped:,} bytes dropped)",
        )
    return table
