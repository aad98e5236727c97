"""Packet tables, labels and flows files for the flow-builder, splits and loading tests."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from iotscope.data.packets import (
    META_ABSENT,
    META_COUNTS,
    META_LINKTYPE,
    META_SOURCE,
    PACKET_SCHEMA,
)
from iotscope.features import N_FEATURES

T0_NS = 1_700_000_000 * 10**9


def write_packets(
    path: Path, columns: dict[str, Sequence], *, absent: Sequence[str] = (), source: str = "cap"
) -> Path:
    """Write a packet table; columns not given are all null (and must be nullable)."""
    n = len(columns["ts"])
    arrays = []
    for field in PACKET_SCHEMA:
        values = columns.get(field.name)
        if values is None:
            arrays.append(pa.nulls(n, field.type))
        else:
            arrays.append(pa.array(list(values) if field.name == "host" else values, field.type))
    metadata = {
        META_SOURCE: json.dumps(source),
        META_LINKTYPE: json.dumps("ethernet"),
        META_COUNTS: json.dumps({"read": n, "kept": n, "skipped": {}}),
        META_ABSENT: json.dumps(list(absent)),
    }
    pq.write_table(pa.Table.from_arrays(arrays, schema=PACKET_SCHEMA.with_metadata(metadata)), path)
    return path


def random_packets(rng: np.random.Generator, hosts: Sequence[str], counts: Sequence[int]) -> dict:
    """Random packet columns for the given hosts and per-host counts, interleaved in time, with
    nulls in the optional fields."""
    host = np.repeat(np.asarray(hosts, dtype=object), counts)
    n = len(host)
    order = rng.permutation(n)
    host = host[order]
    ts = T0_NS + np.sort(rng.integers(0, 3600 * 10**9, n))
    # Some equal timestamps, so the tie-break order matters.
    ts[1::7] = ts[0:-1:7][: len(ts[1::7])]
    no_options = rng.random(n) < 0.4
    dst_ip = rng.integers(0, 2**32, n, dtype=np.uint32)
    seq = np.where(rng.random(n) < 0.3, dst_ip, rng.integers(0, 2**32, n, dtype=np.uint32))
    dst_missing = rng.random(n) < 0.1
    return {
        "ts": ts.astype("datetime64[ns]"),
        "host": host,
        "dst_ip": pa.array(dst_ip, mask=dst_missing),
        "ttl": rng.integers(1, 256, n, dtype=np.uint8),
        "ip_id": rng.integers(0, 2**16, n, dtype=np.uint16),
        "ip_len": np.where(no_options, 40, 60).astype(np.uint16),
        "df": rng.random(n) < 0.5,
        "src_port": rng.integers(0, 2**16, n, dtype=np.uint16),
        "dst_port": rng.integers(0, 2**16, n, dtype=np.uint16),
        "seq": seq,
        "window": rng.integers(0, 2**16, n, dtype=np.uint16),
        "flags": np.full(n, 2, np.uint8),
        "opt_len": np.where(no_options, 0, 20).astype(np.uint8),
        "mss": pa.array(rng.integers(500, 1461, n, dtype=np.uint16), mask=no_options),
        "wscale": pa.array(rng.integers(0, 15, n, dtype=np.uint8), mask=no_options),
        "sack_ok": pa.array(~no_options, mask=rng.random(n) < 0.05),
        "ts_present": ~no_options,
        "opt_layout": np.where(no_options, 0, rng.integers(1, 13, n)).astype(np.uint8),
    }


def write_labels(
    path: Path, rows: Sequence[tuple[str, ...]], header: str = "host,label,family"
) -> Path:
    path.write_text(header + "\n" + "".join(",".join(row) + "\n" for row in rows))
    return path


def write_flows(
    path: Path, hosts: Sequence[str], labels: Sequence[int], x: np.ndarray, n_packets: np.ndarray
) -> Path:
    """Write a flows file directly; rows of ``x`` beyond ``n_packets`` should be zero."""
    from iotscope.data.flows import META_T_MAX, flows_schema

    schema = flows_schema(x.shape[1]).with_metadata({META_T_MAX: str(x.shape[1])})
    table = pa.table(
        [
            pa.array(hosts, pa.string()),
            pa.array(labels, pa.int8()),
            pa.nulls(len(hosts), pa.string()),
            pa.array(n_packets, pa.int32()),
            pa.array(np.full(len(hosts), T0_NS), pa.timestamp("ns")),
            pa.FixedShapeTensorArray.from_numpy_ndarray(x, dim_names=["packet", "feature"]),
        ],
        schema=schema,
    )
    pq.write_table(table, path, row_group_size=64)
    return path


def random_flows(
    path: Path, rng: np.random.Generator, n_hosts: int, t_max: int, iot: float = 0.3
) -> Path:
    """A flows file of random hosts with random lengths (1..t_max+20 observed packets)."""
    hosts = [f"h{i:05d}" for i in range(n_hosts)]
    labels = (rng.random(n_hosts) < iot).astype(np.int8)
    n_packets = rng.integers(1, t_max + 20, n_hosts)
    x = rng.normal(5.0, 3.0, (n_hosts, t_max, N_FEATURES)).astype(np.float32)
    x[np.arange(t_max)[None, :] >= n_packets[:, None]] = 0
    return write_flows(path, hosts, labels, x, n_packets)
