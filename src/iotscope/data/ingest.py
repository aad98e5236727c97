"""One capture file -> one packet table (parquet, :data:`iotscope.data.packets.PACKET_SCHEMA`).

:func:`ingest_capture` reads a pcap or pcapng file (detected by its magic number, optionally
gzip-compressed) or a telescope CSV (``.csv`` / ``.csv.gz``), keeps the IPv4 TCP packets (by
default only SYN without ACK), keys them by source IPv4 address or source MAC address, and
writes the table atomically. Everything it did not keep is counted by reason, both in the
returned :class:`IngestReport` and in the table's schema metadata.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from iotscope.data.packets import (
    META_ABSENT,
    META_COUNTS,
    META_LINKTYPE,
    META_SOURCE,
    PACKET_COLUMNS,
    PACKET_SCHEMA,
)
from iotscope.data.pcap import (
    LINKTYPE_NAMES,
    MAC_LINKTYPES,
    CaptureError,
    Damage,
    TcpColumns,
    decode_tcp,
    read_frames,
)
from iotscope.data.telescope_csv import is_telescope_csv, read_telescope_csv
from iotscope.io import atomic_path

__all__ = ["CaptureError", "IngestReport", "ingest_capture", "packet_table"]

HostKey = Literal["ip", "mac"]
OnError = Literal["raise", "skip"]
# Columns with few distinct values; dictionary-encoding the others only costs time.
_UNIQUE_MOSTLY = ("ts", "seq", "dst_ip", "ip_id", "src_port")
_DICTIONARY_COLUMNS = [c for c in PACKET_COLUMNS if c not in _UNIQUE_MOSTLY]
_DECIMAL = pa.array([str(i) for i in range(256)])
_HEX = pa.array([f"{i:02x}" for i in range(256)])


@dataclass(frozen=True)
class IngestReport:
    """What one ingest did: packets read, kept, skipped by reason, and any damage skipped over."""

    source: str
    out_path: str
    format: str  # "pcap", "pcapng" or "csv"
    linktype: str  # link type name(s), comma-separated; "csv" for a telescope CSV
    read: int
    kept: int
    hosts: int
    skipped: dict[str, int]
    absent_columns: tuple[str, ...]
    damage: Damage | None = None  # set only under on_error="skip"

    def counts(self) -> dict[str, object]:
        """The counts as stored in the packet table's metadata."""
        damage = None
        if self.damage is not None:
            damage = {
                "offset": self.damage.offset,
                "reason": self.damage.reason,
                "bytes_dropped": self.damage.bytes_dropped,
            }
        return {"read": self.read, "kept": self.kept, "skipped": self.skipped, "damage": damage}


def ingest_capture(
    path: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    host_key: HostKey = "ip",
    syn_only: bool = True,
    on_error: OnError = "raise",
) -> IngestReport:
    """Write the packet table of one capture file to ``out_path``; return what was done.

    Raises :class:`CaptureError` (naming the file, and the byte offset where known) for a
    corrupt or truncated capture, unless ``on_error="skip"``, which keeps the packets before the
    damage and reports the bytes dropped; and always for a capture with no packets or none kept.
    """
    if host_key not in ("ip", "mac"):
        raise ValueError(f"host_key must be 'ip' or 'mac', not {host_key!r}")
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', not {on_error!r}")
    if not os.path.exists(path):
        raise CaptureError(path, None, "no such file")
    if is_telescope_csv(path):
        table, report = _ingest_csv(path, out_path, host_key, syn_only, on_error)
    else:
        table, report = _ingest_pcap(path, out_path, host_key, syn_only, on_error)
    if report.read == 0:
        raise CaptureError(path, None, "the capture holds no packets")
    if report.kept == 0:
        wanted = "TCP SYN (without ACK)" if syn_only else "IPv4 TCP"
        raise CaptureError(
            path, None, f"no {wanted} packets among {report.read} read ({_reasons(report)})"
        )
    metadata = {
        META_SOURCE: json.dumps(os.fspath(path)),
        META_LINKTYPE: json.dumps(report.linktype),
        META_COUNTS: json.dumps(report.counts()),
        META_ABSENT: json.dumps(list(report.absent_columns)),
    }
    with atomic_path(out_path) as tmp:
        pq.write_table(
            table.replace_schema_metadata(metadata),
            tmp,
            compression="snappy",
            use_dictionary=_DICTIONARY_COLUMNS,
            column_encoding={"ts": "DELTA_BINARY_PACKED"},  # mostly increasing: small deltas
        )
    return report


def _reasons(report: IngestReport) -> str:
    if not report.skipped:
        return "nothing skipped"
    return "skipped: " + ", ".join(f"{n} {reason}" for reason, n in report.skipped.items())


def _ingest_pcap(
    path: str | os.PathLike,
    out_path: str | os.PathLike,
    host_key: HostKey,
    syn_only: bool,
    on_error: OnError,
) -> tuple[pa.Table, IngestReport]:
    frames = read_frames(path, on_error=on_error)
    linktypes = sorted(set(np.unique(frames.linktype).tolist()))
    if host_key == "mac" and linktypes and not MAC_LINKTYPES.intersection(linktypes):
        names = ", ".join(f"{LINKTYPE_NAMES.get(t, 'unknown')} ({t})" for t in linktypes)
        raise CaptureError(
            path, None, f"host_key 'mac' needs source MAC addresses; link type {names} has none"
        )
    columns, skipped = decode_tcp(frames, host_key=host_key, syn_only=syn_only)
    skipped.update(frames.skipped)
    table = packet_table(columns, host_key)
    report = IngestReport(
        source=os.fspath(path),
        out_path=os.fspath(out_path),
        format=frames.format,
        linktype=",".join(LINKTYPE_NAMES.get(t, f"linktype_{t}") for t in linktypes),
        read=len(frames.data) + sum(frames.skipped.values()),
        kept=table.num_rows,
        hosts=_count_distinct(table.column("host")),
        skipped=_sorted(skipped),
        absent_columns=(),
        damage=frames.damage,
    )
    return table, report


def _ingest_csv(
    path: str | os.PathLike,
    out_path: str | os.PathLike,
    host_key: HostKey,
    syn_only: bool,
    on_error: OnError,
) -> tuple[pa.Table, IngestReport]:
    packets = read_telescope_csv(path, host_key=host_key, syn_only=syn_only, on_error=on_error)
    n = len(packets.columns["ts"])
    arrays = [
        packets.columns.get(name, pa.nulls(n, PACKET_SCHEMA.field(name).type))
        for name in PACKET_COLUMNS
    ]
    table = pa.Table.from_arrays(arrays, schema=PACKET_SCHEMA)
    report = IngestReport(
        source=os.fspath(path),
        out_path=os.fspath(out_path),
        format="csv",
        linktype="csv",
        read=packets.read,
        kept=n,
        hosts=_count_distinct(table.column("host")),
        skipped=_sorted(packets.skipped),
        absent_columns=packets.absent,
        damage=packets.damage,
    )
    return table, report


def _sorted(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(((k, int(v)) for k, v in counter.items() if v), key=lambda kv: -kv[1]))


def _count_distinct(column: pa.ChunkedArray) -> int:
    return int(pc.count_distinct(column).as_py())


def packet_table(columns: TcpColumns, host_key: HostKey = "ip") -> pa.Table:
    """The packet table (PACKET_SCHEMA, capture order) of decoded IPv4 TCP packets."""
    hosts = _mac_strings(columns.src_mac) if host_key == "mac" else _ipv4_strings(columns.src_ip)
    arrays = {
        "ts": pa.array(columns.ts, pa.timestamp("ns")),
        "host": hosts,
        "mss": pa.array(columns.mss, pa.uint16(), mask=~columns.has_mss),
        "wscale": pa.array(columns.wscale, pa.uint8(), mask=~columns.has_wscale),
    }
    for name in PACKET_COLUMNS:
        if name not in arrays:
            field = PACKET_SCHEMA.field(name)
            arrays[name] = pa.array(getattr(columns, name), field.type)
    return pa.Table.from_arrays([arrays[name] for name in PACKET_COLUMNS], schema=PACKET_SCHEMA)


def _ipv4_strings(addresses: np.ndarray) -> pa.Array:
    """Dotted-quad strings of uint32 addresses, formatted once per distinct address."""
    codes, distinct = pd.factorize(addresses.astype(np.uint32), sort=False)
    distinct = np.asarray(distinct, dtype=np.uint32)
    octets = [pc.take(_DECIMAL, pa.array((distinct >> s) & 0xFF)) for s in (24, 16, 8, 0)]
    text = pc.binary_join_element_wise(*octets, ".")
    return pc.take(text, pa.array(codes))


def _mac_strings(macs: np.ndarray) -> pa.Array:
    """``aa:bb:cc:dd:ee:ff`` strings of (n, 6) uint8 MAC addresses."""
    value = np.zeros(len(macs), dtype=np.uint64)
    for byte in range(6):
        value = (value << np.uint64(8)) | macs[:, byte].astype(np.uint64)
    codes, distinct = pd.factorize(value, sort=False)
    distinct = np.asarray(distinct, dtype=np.uint64)
    octets = [
        pc.take(_HEX, pa.array((distinct >> np.uint64(s)) & np.uint64(0xFF)))
        for s in (40, 32, 24, 16, 8, 0)
    ]
    text = pc.binary_join_element_wise(*octets, ":")
    return pc.take(text, pa.array(codes))
