"""Telescope packet tables in CSV, as published by telescope operators (the DarkVec layout).

Columns read (DarkVec names): ``ts`` (epoch seconds), ``ethtype``, ``src_ip``, ``src_port``,
``dst_ip``, ``dst_port``, ``proto``, ``tcp_flags`` (numeric), ``mirai`` (1 where the TCP sequence
number equals the destination address), ``tcp_seq``, ``ttl``, ``t_mss`` (MSS option),
``t_win`` (window-scale option), ``t_ts`` (timestamp option value) and ``t_sackp``
(SACK-permitted option). ``-`` marks a value the packet does not have and becomes an explicit
null. Other columns are ignored, except ones named like packet-table columns (``ip_id``,
``ip_len``, ``df``, ``window``, ``opt_len``, ``opt_layout``), which are read as they are.

What such a table cannot say is recorded, not invented: packet-table columns without a source
column are null and listed as absent. ``pck_len`` is the Ethernet frame length including padding,
not the IP length, so it is not used for ``ip_len``. Published tables anonymise addresses
(``dst_ipaddr17``); such a ``dst_ip`` is null, except where ``mirai`` is 1, which says the
destination equals ``tcp_seq`` and so recovers it.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from iotscope.data.packets import PACKET_SCHEMA
from iotscope.data.pcap import (
    ETHERTYPE_REASONS,
    IP_PROTOCOL_REASONS,
    CaptureError,
    Damage,
    load_bytes,
)

REQUIRED_COLUMNS = ("ts", "src_ip", "proto", "tcp_flags")
_TYPES: dict[str, pa.DataType] = {
    "ts": pa.float64(),
    "ethtype": pa.int64(),
    "src_ip": pa.string(),
    "src_port": pa.int64(),
    "dst_ip": pa.string(),
    "dst_port": pa.int64(),
    "proto": pa.int64(),
    "tcp_flags": pa.int64(),
    "mirai": pa.int64(),
    "tcp_seq": pa.int64(),
    "ttl": pa.int64(),
    "t_mss": pa.int64(),
    "t_win": pa.int64(),
    "t_ts": pa.float64(),
    "t_sackp": pa.int64(),
    # packet-table columns, when a table carries them under their own names
    "ip_id": pa.int64(),
    "ip_len": pa.int64(),
    "df": pa.int64(),
    "window": pa.int64(),
    "opt_len": pa.int64(),
    "opt_layout": pa.int64(),
}
# packet-table column -> (source column, largest valid value)
_INTEGER_COLUMNS: dict[str, tuple[str, int]] = {
    "ttl": ("ttl", 255),
    "ip_id": ("ip_id", 0xFFFF),
    "ip_len": ("ip_len", 0xFFFF),
    "src_port": ("src_port", 0xFFFF),
    "dst_port": ("dst_port", 0xFFFF),
    "seq": ("tcp_seq", 0xFFFFFFFF),
    "window": ("window", 0xFFFF),
    "flags": ("tcp_flags", 255),
    "opt_len": ("opt_len", 40),
    "mss": ("t_mss", 0xFFFF),
    "wscale": ("t_win", 255),
    "opt_layout": ("opt_layout", 255),
}


@dataclass
class CsvPackets:
    """The kept rows as packet-table columns (Arrow arrays), and what happened to the others."""

    columns: dict[str, pa.Array]
    read: int
    skipped: Counter[str]
    absent: tuple[str, ...]
    damage: Damage | None  # a truncated gzip stream, read up to its last whole line


def is_telescope_csv(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a CSV file (``.csv`` or ``.csv.gz``)."""
    name = os.fspath(path).lower()
    return name.endswith(".csv") or name.endswith(".csv.gz")


def read_telescope_csv(
    path: str | os.PathLike,
    *,
    host_key: Literal["ip", "mac"] = "ip",
    syn_only: bool = True,
    on_error: Literal["raise", "skip"] = "raise",
) -> CsvPackets:
    """Read a telescope CSV into packet-table columns; see the module docstring for the mapping."""
    if host_key == "mac":
        raise CaptureError(
            path, None, "host_key 'mac' needs source MAC addresses, and a telescope CSV has none"
        )
    buf, damage = load_bytes(path, on_error=on_error)
    data = buf.tobytes()
    if damage is not None:
        data = data[: data.rfind(b"\n") + 1]  # drop the partial last line
    table, malformed = _parse(path, data, on_error)
    missing = [name for name in REQUIRED_COLUMNS if name not in table.column_names]
    if missing:
        raise CaptureError(
            path,
            None,
            f"missing column(s) {', '.join(missing)}; a telescope CSV needs "
            f"{', '.join(REQUIRED_COLUMNS)} (found {', '.join(table.column_names)})",
        )
    skipped: Counter[str] = Counter()
    if malformed:
        skipped["malformed_row"] = malformed
    read = table.num_rows + malformed
    columns, absent = _columns(path, table)
    keep = pa.array(_kept_rows(table, syn_only, skipped))
    columns = {name: values.filter(keep) for name, values in columns.items()}
    return CsvPackets(columns, read, skipped, absent, damage)


def _parse(path: str | os.PathLike, data: bytes, on_error: str) -> tuple[pa.Table, int]:
    malformed = 0

    def skip_row(row: object) -> str:
        nonlocal malformed
        malformed += 1
        return "skip"

    parse = pacsv.ParseOptions(invalid_row_handler=skip_row if on_error == "skip" else None)
    convert = pacsv.ConvertOptions(
        column_types=_TYPES, null_values=["-", ""], strings_can_be_null=True
    )
    try:
        table = pacsv.read_csv(pa.BufferReader(data), parse_options=parse, convert_options=convert)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise CaptureError(path, None, f"not a readable telescope CSV: {exc}") from exc
    return table, malformed


def _column(table: pa.Table, name: str) -> np.ndarray | None:
    """A numeric column as float64 numpy (nulls as NaN), or None if the table lacks it."""
    if name not in table.column_names:
        return None
    return table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)


def _kept_rows(table: pa.Table, syn_only: bool, skipped: Counter[str]) -> np.ndarray:
    """Rows that are IPv4 TCP (SYN without ACK, if asked); the rest counted by reason."""
    checks: list[tuple[np.ndarray, str]] = []
    ethertype = _column(table, "ethtype")
    if ethertype is not None:
        checks += [(ethertype == value, reason) for value, reason in ETHERTYPE_REASONS.items()]
        checks.append((ethertype != 0x0800, "other_ethertype"))
    proto = _column(table, "proto")
    checks += [(proto == value, reason) for value, reason in IP_PROTOCOL_REASONS.items()]
    checks.append((proto != 6, "other_ip_protocol"))
    flags = _column(table, "tcp_flags")
    checks.append((np.isnan(flags), "bad_tcp_header"))
    if syn_only:
        checks.append((np.nan_to_num(flags).astype(np.int64) & 0x12 != 0x02, "not_syn"))
    ok = np.ones(table.num_rows, dtype=bool)
    for failed, reason in checks:
        count = int(np.count_nonzero(ok & failed))
        if count:
            skipped[reason] += count
        ok &= ~failed
    return ok


def _columns(path: str | os.PathLike, table: pa.Table) -> tuple[dict[str, pa.Array], tuple]:
    ts = _column(table, "ts")
    if np.isnan(ts).any():
        row = int(np.argmax(np.isnan(ts)))
        raise CaptureError(path, None, f"column ts has no value on data row {row + 1}")
    columns: dict[str, pa.Array] = {
        # microsecond resolution: float64 epoch seconds hold no more
        "ts": pa.array(np.round(ts * 1e6).astype(np.int64) * 1000, pa.timestamp("ns")),
        "host": table.column("src_ip").combine_chunks().cast(pa.string()),
    }
    if columns["host"].null_count:
        row = int(np.argmax(columns["host"].is_null().to_numpy(zero_copy_only=False)))
        raise CaptureError(path, None, f"column src_ip has no value on data row {row + 1}")
    absent = []
    for name, (source, largest) in _INTEGER_COLUMNS.items():
        values = _column(table, source)
        if values is None:
            absent.append(name)
            continue
        bad = ~np.isnan(values) & ((values < 0) | (values > largest) | (values % 1 != 0))
        if bad.any():
            row = int(np.argmax(bad))
            raise CaptureError(
                path,
                None,
                f"column {source}: value {values[row]:g} on data row {row + 1} is "
                f"not an integer in 0..{largest}",
            )
        columns[name] = _nullable(values, name)
    for name, source in (("df", "df"), ("sack_ok", "t_sackp"), ("ts_present", "t_ts")):
        values = _column(table, source)
        if values is None:
            absent.append(name)
            continue
        present = ~np.isnan(values)
        truth = values != 0 if name == "df" else present
        columns[name] = pa.array(truth, pa.bool_(), mask=~present)
    columns["dst_ip"] = _destination(table, columns.get("seq"))
    return columns, tuple(absent)


def _nullable(values: np.ndarray, name: str) -> pa.Array:
    kind = PACKET_SCHEMA.field(name).type
    missing = np.isnan(values)
    return pa.array(np.nan_to_num(values).astype(kind.to_pandas_dtype()), kind, mask=missing)


def _destination(table: pa.Table, seq: pa.Array | None) -> pa.Array:
    """Destination IPv4 addresses: dotted ones parsed, anonymised ones null unless Mirai-marked."""
    n = table.num_rows
    dst = np.zeros(n, dtype=np.uint32)
    known = np.zeros(n, dtype=bool)
    if "dst_ip" in table.column_names:
        text = table.column("dst_ip").combine_chunks()
        dotted = pc.fill_null(
            pc.match_substring_regex(text, r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$"), False
        )
        dotted = dotted.to_numpy(zero_copy_only=False)
        if dotted.any():
            parts = pc.split_pattern(text.filter(pa.array(dotted)), ".")
            octets = pc.list_flatten(parts).cast(pa.int64()).to_numpy().reshape(-1, 4)
            valid = (octets <= 255).all(axis=1)
            value = (octets[:, 0] << 24) | (octets[:, 1] << 16) | (octets[:, 2] << 8) | octets[:, 3]
            rows = np.flatnonzero(dotted)
            dst[rows[valid]] = value[valid].astype(np.uint32)
            known[rows[valid]] = True
    mirai = _column(table, "mirai")
    if mirai is not None and seq is not None:
        marked = ~known & (mirai == 1) & seq.is_valid().to_numpy(zero_copy_only=False)
        dst[marked] = seq.fill_null(0).to_numpy(zero_copy_only=False)[marked]
        known |= marked
    return pa.array(dst, pa.uint32(), mask=~known)
