"""The flow builder: packet tables + labels -> ``flows.parquet``, one row per host.

Each host's row holds its first ``t_max`` packets in time order as a ``(t_max, 17)`` float32
matrix of the features in :data:`iotscope.features.FEATURE_NAMES`, zero padded below its last
packet. The group-by-host / sort / first-``t_max`` step and the feature arithmetic run in DuckDB
with a memory limit and a spill directory, so a telescope day larger than memory still builds;
only the final tensor (hosts x ``t_max`` x 17 float32) is held in memory, filled by scattering
DuckDB's result batches into it.

Columns of ``flows.parquet``: ``host`` string, ``label`` int8 (1 IoT, 0 non-IoT; null when built
without labels), ``family`` string (nullable), ``n_packets`` int32 (packets observed, which may
exceed ``t_max``), ``first_seen`` timestamp[ns], ``x`` ``fixed_shape_tensor(float32, [t_max, 17])``.
Rows are sorted by host. The schema metadata (``META_*`` keys below, JSON values) records the
feature names, ``t_max``, ``min_packets``, the sources, the host counts, the absent features and
the parameters of whatever produced the packets.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from iotscope.data.labels import read_labels
from iotscope.data.packets import (
    META_ABSENT,
    META_COUNTS,
    META_LINKTYPE,
    META_SOURCE,
    PACKET_COLUMNS,
)
from iotscope.features import FEATURE_NAMES, INITIAL_TTLS, N_FEATURES, T_MAX
from iotscope.io import atomic_path

META_FEATURES = b"iotscope.feature_names"
META_T_MAX = b"iotscope.t_max"
META_MIN_PACKETS = b"iotscope.min_packets"
META_SOURCES = b"iotscope.sources"  # one entry per packet table: path, capture, link type, counts
META_LABELS = b"iotscope.labels"  # the labels file, or null
META_FLOW_COUNTS = b"iotscope.flow_counts"  # packets and hosts seen, kept and dropped by reason
META_ABSENT_FEATURES = b"iotscope.absent_features"  # features some source could not provide
META_ABSENT_COLUMNS = b"iotscope.absent_columns"  # union of the packet tables' absent columns
META_PARAMETERS = b"iotscope.parameters"  # simulator / ingest parameters passed in

# Feature name -> DuckDB expression over one packet row plus ``prev_ns`` (the host's previous
# packet time). Nulls become the documented defaults: mss 0, wscale -1, everything else 0.
_INITIAL_TTL_SQL = (
    "CASE WHEN ttl IS NULL THEN 0 "
    + " ".join(f"WHEN ttl <= {value} THEN {value}" for value in INITIAL_TTLS[:-1])
    + f" ELSE {INITIAL_TTLS[-1]} END"
)
FEATURE_SQL: dict[str, str] = {
    "log_iat": "coalesce(ln(1 + (epoch_ns(ts) - prev_ns) / 1000.0), 0)",
    "ttl": "coalesce(ttl, 0)",
    "initial_ttl": _INITIAL_TTL_SQL,
    "ip_id": "coalesce(ip_id, 0)",
    "ip_len": "coalesce(ip_len, 0)",
    "df": "coalesce(df::INTEGER, 0)",
    "src_port": "coalesce(src_port, 0)",
    "dst_port": "coalesce(dst_port, 0)",
    "window": 'coalesce("window", 0)',
    "tcp_flags": "coalesce(flags, 0)",
    "opt_len": "coalesce(opt_len, 0)",
    "mss": "coalesce(mss, 0)",
    "wscale": "coalesce(wscale::INTEGER, -1)",
    "sack_ok": "coalesce(sack_ok::INTEGER, 0)",
    "ts_present": "coalesce(ts_present::INTEGER, 0)",
    "opt_layout": "coalesce(opt_layout, 0)",
    "seq_eq_dst": "coalesce((seq = dst_ip)::INTEGER, 0)",
}
# Feature name -> the packet-table columns it is computed from (for the absent-features record).
FEATURE_SOURCES: dict[str, tuple[str, ...]] = {
    "log_iat": ("ts",),
    "ttl": ("ttl",),
    "initial_ttl": ("ttl",),
    "ip_id": ("ip_id",),
    "ip_len": ("ip_len",),
    "df": ("df",),
    "src_port": ("src_port",),
    "dst_port": ("dst_port",),
    "window": ("window",),
    "tcp_flags": ("flags",),
    "opt_len": ("opt_len",),
    "mss": ("mss",),
    "wscale": ("wscale",),
    "sack_ok": ("sack_ok",),
    "ts_present": ("ts_present",),
    "opt_layout": ("opt_layout",),
    "seq_eq_dst": ("seq", "dst_ip"),
}
assert tuple(FEATURE_SQL) == FEATURE_NAMES == tuple(FEATURE_SOURCES)

_BATCH_ROWS = 1 << 20
_ROW_BITS = 40  # rows per packet table < 2**40; up to 2**23 tables
_ROW_GROUP_HOSTS = 4096


class FlowsError(ValueError):
    """Packet tables or labels from which no flows file can be built; the message says why."""


class UnseenLabelsWarning(UserWarning):
    """Some labelled hosts never appear in the packet tables."""


@dataclass(frozen=True)
class FlowsReport:
    """What :func:`build_flows` read, kept and dropped."""

    out_path: Path
    packets: int  # packet rows read from all tables
    hosts_seen: int  # distinct hosts in the packet tables
    hosts: int  # rows written (hosts kept)
    unlabelled: int  # hosts seen but absent from the labels file (excluded)
    too_few_packets: int  # labelled (or, without labels, any) hosts below min_packets (dropped)
    labelled_not_seen: int  # hosts in the labels file never seen in the packets
    t_max: int
    min_packets: int
    seconds: float


def build_flows(
    packet_paths: Sequence[str | os.PathLike],
    labels_path: str | os.PathLike | None,
    out_path: str | os.PathLike,
    *,
    t_max: int = T_MAX,
    min_packets: int = 10,
    threads: int = 1,
    memory_limit: str = "3GB",
    temp_directory: str | os.PathLike | None = None,
    parameters: Mapping[str, object] | None = None,
) -> FlowsReport:
    """Build ``out_path`` (flows.parquet) from packet tables written by ingest.

    ``packet_paths``: one packet table per capture file (see :mod:`iotscope.data.packets`).
    ``labels_path``: a labels CSV (:func:`iotscope.data.labels.read_labels`); hosts it does not
    list are excluded and counted, labelled hosts never seen give an :class:`UnseenLabelsWarning`.
    ``None`` keeps every host with a null label (for scoring unlabelled hosts).
    Hosts with fewer than ``min_packets`` packets are dropped and counted; the others keep their
    first ``t_max`` packets, ordered by timestamp (ties broken by file and row).
    ``threads``, ``memory_limit`` and ``temp_directory`` (spill space; default a temporary folder
    beside ``out_path``) configure DuckDB. ``parameters`` (JSON-serialisable) are stored in the
    metadata, e.g. the simulator's or ingest's settings.
    """
    started = time.perf_counter()
    if t_max < 1:
        raise FlowsError(f"t_max must be at least 1, got {t_max}")
    if min_packets < 1:
        raise FlowsError(f"min_packets must be at least 1, got {min_packets}")
    out_path = Path(out_path)
    parameters = dict(parameters or {})
    try:
        json.dumps(parameters)
    except TypeError as error:
        raise FlowsError(f"parameters must be JSON-serialisable: {error}") from error
    sources, absent_columns, total_rows = _inspect_packet_tables(packet_paths)
    if total_rows == 0:
        listed = ", ".join(str(source["path"]) for source in sources)
        raise FlowsError(f"the packet tables hold no packets: {listed}")
    labels = read_labels(labels_path) if labels_path is not None else None

    with tempfile.TemporaryDirectory(
        prefix=".flows-spill-", dir=temp_directory or _existing_parent(out_path)
    ) as spill:
        connection = duckdb.connect(
            config={
                "memory_limit": memory_limit,
                "threads": threads,
                "temp_directory": spill,
                "preserve_insertion_order": False,
            }
        )
        try:
            counts, kept = _select_hosts(connection, sources, labels, min_packets)
            if counts["labelled_not_seen"]:
                warnings.warn(
                    f"{labels_path}: {counts['labelled_not_seen']} labelled host(s) never seen "
                    "in the packet tables",
                    UnseenLabelsWarning,
                    stacklevel=2,
                )
            if kept.num_rows == 0:
                raise FlowsError(_nothing_kept_message(counts, labels_path, min_packets))
            x = _packet_tensor(connection, kept.num_rows, t_max)
        finally:
            connection.close()

    counts["hosts"] = kept.num_rows
    metadata = {
        META_FEATURES: list(FEATURE_NAMES),
        META_T_MAX: t_max,
        META_MIN_PACKETS: min_packets,
        META_SOURCES: sources,
        META_LABELS: None if labels_path is None else str(labels_path),
        META_FLOW_COUNTS: counts,
        META_ABSENT_COLUMNS: sorted(absent_columns),
        META_ABSENT_FEATURES: absent_features(absent_columns),
        META_PARAMETERS: parameters,
    }
    _write_flows(out_path, kept, x, metadata)
    return FlowsReport(
        out_path=out_path,
        t_max=t_max,
        min_packets=min_packets,
        seconds=time.perf_counter() - started,
        **counts,
    )


def absent_features(absent_columns: set[str] | Sequence[str]) -> list[str]:
    """Features (in feature order) computed from at least one absent packet-table column."""
    absent = set(absent_columns)
    return [name for name in FEATURE_NAMES if absent.intersection(FEATURE_SOURCES[name])]


def _existing_parent(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.parent


def _inspect_packet_tables(
    packet_paths: Sequence[str | os.PathLike],
) -> tuple[list[dict[str, object]], set[str], int]:
    """Check each packet table's columns; return per-file source records, absent columns, rows."""
    paths = [Path(path) for path in packet_paths]
    if not paths:
        raise FlowsError("no packet tables given: pass at least one packet parquet file")
    duplicates = sorted(str(path) for path, count in Counter(paths).items() if count > 1)
    if duplicates:
        raise FlowsError(f"packet table(s) given more than once: {', '.join(duplicates)}")
    sources: list[dict[str, object]] = []
    absent: set[str] = set()
    total = 0
    for path in paths:
        if not path.is_file():
            raise FlowsError(f"{path}: packet table not found")
        try:
            metadata = pq.read_metadata(path)
        except (pa.ArrowInvalid, OSError) as error:
            raise FlowsError(f"{path}: not a readable parquet file ({error})") from error
        schema = metadata.schema.to_arrow_schema()
        missing = [column for column in PACKET_COLUMNS if column not in schema.names]
        if missing:
            raise FlowsError(f"{path}: not a packet table, missing column(s) {', '.join(missing)}")
        if not pa.types.is_timestamp(schema.field("ts").type):
            raise FlowsError(f"{path}: column ts is {schema.field('ts').type}, expected timestamp")
        meta = schema.metadata or {}
        file_absent = _json_or(meta.get(META_ABSENT), [])
        absent.update(file_absent)
        sources.append(
            {
                "path": str(path),
                "capture": _json_or(meta.get(META_SOURCE), None),
                "linktype": _json_or(meta.get(META_LINKTYPE), None),
                "counts": _json_or(meta.get(META_COUNTS), None),
                "absent_columns": file_absent,
                "rows": metadata.num_rows,
            }
        )
        total += metadata.num_rows
    return sources, absent, total


def _json_or(value: bytes | None, default: object) -> object:
    return default if value is None else json.loads(value)


def _select_hosts(
    connection: duckdb.DuckDBPyConnection,
    sources: list[dict[str, object]],
    labels: pd.DataFrame | None,
    min_packets: int,
) -> tuple[dict[str, int], pa.Table]:
    """Create the ``packets`` view and the ``kept`` table (host index ``idx`` in host order)."""
    files = [str(source["path"]) for source in sources]
    # One scan per file; ``arrival`` (file position, then row) breaks ties in ts deterministically.
    # A single BIGINT key sorts markedly faster than two separate tie-break keys.
    columns = ", ".join(f'"{column}"' for column in PACKET_COLUMNS)
    scans = " UNION ALL ".join(
        f"SELECT {columns}, ({index}::BIGINT << {_ROW_BITS}) + file_row_number AS arrival "
        f"FROM read_parquet({_sql_string(file)}, file_row_number = true)"
        for index, file in enumerate(files)
    )
    connection.execute(f"CREATE VIEW packets AS {scans}")
    connection.execute(
        "CREATE TEMP TABLE seen AS SELECT host, count(*)::INTEGER AS n_packets, "
        "min(ts) AS first_seen FROM packets GROUP BY host"
    )
    if labels is None:
        connection.execute(
            "CREATE TEMP VIEW labelled AS SELECT *, NULL::TINYINT AS label, "
            "NULL::VARCHAR AS family FROM seen"
        )
        unlabelled = not_seen = 0
    else:
        connection.register("labels_frame", labels)
        connection.execute(
            "CREATE TEMP VIEW labelled AS SELECT s.*, l.label::TINYINT AS label, "
            "l.family::VARCHAR AS family FROM seen s JOIN labels_frame l USING (host)"
        )
        unlabelled = _scalars(
            connection, "SELECT count(*) FROM seen ANTI JOIN labels_frame USING (host)"
        )[0]
        not_seen = _scalars(
            connection, "SELECT count(*) FROM labels_frame ANTI JOIN seen USING (host)"
        )[0]
    connection.execute(
        "CREATE TEMP TABLE kept AS SELECT (row_number() OVER (ORDER BY host) - 1)::INTEGER "
        "AS idx, host, label, family, n_packets, first_seen FROM labelled "
        f"WHERE n_packets >= {int(min_packets)}"
    )
    packets, hosts_seen = _scalars(connection, "SELECT sum(n_packets), count(*) FROM seen")
    labelled_hosts = _scalars(connection, "SELECT count(*) FROM labelled")[0]
    kept = connection.sql(
        "SELECT host, label, family, n_packets, first_seen FROM kept ORDER BY idx"
    ).to_arrow_table()
    counts = {
        "packets": int(packets),
        "hosts_seen": int(hosts_seen),
        "unlabelled": int(unlabelled),
        "too_few_packets": int(labelled_hosts - kept.num_rows),
        "labelled_not_seen": int(not_seen),
    }
    return counts, kept


def _scalars(connection: duckdb.DuckDBPyConnection, query: str) -> tuple:
    """The single row of a query's result."""
    return connection.sql(query).fetchall()[0]


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _packet_tensor(connection: duckdb.DuckDBPyConnection, n_hosts: int, t_max: int) -> np.ndarray:
    """The ``(n_hosts, t_max, 17)`` float32 tensor of the kept hosts' first packets."""
    features = ",\n".join(f'({sql})::FLOAT AS "{name}"' for name, sql in FEATURE_SQL.items())
    query = f"""
        SELECT idx, rn, {features}
        FROM (
            SELECT k.idx, p.*,
                   row_number() OVER w AS rn,
                   lag(epoch_ns(p.ts)) OVER w AS prev_ns
            FROM packets p JOIN kept k ON p.host = k.host
            WINDOW w AS (PARTITION BY k.idx ORDER BY p.ts, p.arrival)
            QUALIFY rn <= {int(t_max)}
        )
    """
    x = np.zeros((n_hosts, t_max, N_FEATURES), dtype=np.float32)
    rows = x.reshape(n_hosts * t_max, N_FEATURES)
    reader = connection.sql(query).to_arrow_reader(_BATCH_ROWS)
    for batch in reader:
        idx = batch.column(0).to_numpy().astype(np.int64)
        rn = batch.column(1).to_numpy().astype(np.int64)
        values = np.empty((batch.num_rows, N_FEATURES), dtype=np.float32)
        for j in range(N_FEATURES):
            values[:, j] = batch.column(2 + j).to_numpy()
        rows[idx * t_max + (rn - 1)] = values
    return x


def _nothing_kept_message(
    counts: dict[str, int], labels_path: str | os.PathLike | None, min_packets: int
) -> str:
    seen = counts["hosts_seen"]
    if labels_path is not None and counts["unlabelled"] == seen:
        return f"none of the {seen} hosts seen in the packet tables is listed in {labels_path}"
    return (
        f"no host has at least min_packets={min_packets} packets "
        f"({seen} hosts seen, {counts['unlabelled']} unlabelled, "
        f"{counts['too_few_packets']} with too few packets)"
    )


def flows_schema(t_max: int) -> pa.Schema:
    """The Arrow schema of ``flows.parquet`` for a given ``t_max`` (without metadata)."""
    return pa.schema(
        [
            pa.field("host", pa.string(), nullable=False),
            pa.field("label", pa.int8()),
            pa.field("family", pa.string()),
            pa.field("n_packets", pa.int32(), nullable=False),
            pa.field("first_seen", pa.timestamp("ns"), nullable=False),
            pa.field("x", _tensor_type(t_max), nullable=False),
        ]
    )


def _tensor_type(t_max: int) -> pa.DataType:
    return pa.fixed_shape_tensor(pa.float32(), [t_max, N_FEATURES], dim_names=["packet", "feature"])


def _write_flows(
    out_path: Path, kept: pa.Table, x: np.ndarray, metadata: dict[bytes, object]
) -> None:
    t_max = x.shape[1]
    schema = flows_schema(t_max).with_metadata(
        {key: json.dumps(value) for key, value in metadata.items()}
    )
    tensor = pa.FixedShapeTensorArray.from_numpy_ndarray(x, dim_names=["packet", "feature"])
    table = pa.table(
        [
            kept["host"].cast(pa.string()),
            kept["label"].cast(pa.int8()),
            kept["family"].cast(pa.string()),
            kept["n_packets"].cast(pa.int32()),
            kept["first_seen"].cast(pa.timestamp("ns")),
            tensor,
        ],
        schema=schema,
    )
    with atomic_path(out_path) as tmp:
        pq.write_table(
            table,
            tmp,
            row_group_size=_ROW_GROUP_HOSTS,
            compression="zstd",
            compression_level=1,
            use_dictionary=["family"],
            write_statistics=["host", "label", "n_packets", "first_seen"],
        )


def read_flows_metadata(path: str | os.PathLike) -> dict[str, object]:
    """The flows file's metadata with JSON values decoded, keyed by name without the prefix."""
    schema = pq.read_schema(path)
    return {
        key.decode().removeprefix("iotscope."): json.loads(value)
        for key, value in (schema.metadata or {}).items()
        if key.startswith(b"iotscope.")
    }


__all__ = [
    "FEATURE_SQL",
    "FlowsError",
    "FlowsReport",
    "UnseenLabelsWarning",
    "absent_features",
    "build_flows",
    "flows_schema",
    "read_flows_metadata",
]
