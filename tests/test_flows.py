"""build_flows: features, ordering, padding, host filtering, metadata and bad inputs."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from flows_helpers import T0_NS, random_packets, write_labels, write_packets

from iotscope.data.flows import (
    FlowsError,
    UnseenLabelsWarning,
    build_flows,
    read_flows_metadata,
)
from iotscope.features import FEATURE_NAMES, infer_initial_ttl

F = {name: i for i, name in enumerate(FEATURE_NAMES)}


def reference_features(frames: list[pd.DataFrame], t_max: int) -> dict[str, np.ndarray]:
    """Per-host feature matrices computed independently with pandas (files in the given order)."""
    packets = pd.concat(frames, ignore_index=True).sort_values("ts", kind="stable")
    out = {}
    for host, group in packets.groupby("host", sort=False):
        group = group.iloc[:t_max]
        ts = group["ts"].astype("int64").to_numpy()
        iat = np.concatenate([[0.0], np.log1p(np.diff(ts) / 1000.0)])
        ttl = group["ttl"].to_numpy()
        dst = group["dst_ip"]
        seq_eq = (dst.notna() & (group["seq"] == dst)).astype(float).to_numpy()
        columns = {
            "log_iat": iat,
            "ttl": ttl,
            "initial_ttl": infer_initial_ttl(ttl),
            "ip_id": group["ip_id"],
            "ip_len": group["ip_len"],
            "df": group["df"].astype(float),
            "src_port": group["src_port"],
            "dst_port": group["dst_port"],
            "window": group["window"],
            "tcp_flags": group["flags"],
            "opt_len": group["opt_len"],
            "mss": group["mss"].fillna(0),
            "wscale": group["wscale"].fillna(-1),
            "sack_ok": group["sack_ok"].astype(float).fillna(0),
            "ts_present": group["ts_present"].astype(float),
            "opt_layout": group["opt_layout"],
            "seq_eq_dst": seq_eq,
        }
        matrix = np.zeros((t_max, len(FEATURE_NAMES)), dtype=np.float32)
        for name, values in columns.items():
            matrix[: len(group), F[name]] = np.asarray(values, dtype=np.float64)
        out[host] = matrix
    return out


@pytest.fixture
def two_files(tmp_path):
    """Two packet tables of one capture day: 12 hosts, packets of each spread over both."""
    rng = np.random.default_rng(7)
    hosts = [f"192.0.2.{i}" for i in range(12)]
    counts = [3, 5, 9, 10, 11, 25, 40, 2, 60, 17, 12, 30]
    columns = random_packets(rng, hosts, counts)
    n = len(columns["ts"])
    parts = np.sort(rng.permutation(n)[: n // 2])
    second = np.setdiff1d(np.arange(n), parts)
    paths, frames = [], []
    for index, rows in enumerate((parts, second)):
        subset = {key: _take(value, rows) for key, value in columns.items()}
        path = write_packets(tmp_path / f"p{index}.parquet", subset, source=f"cap{index}.pcap")
        paths.append(path)
        frames.append(pq.read_table(path).to_pandas())
    return paths, frames, dict(zip(hosts, counts, strict=True))


def _take(values, rows):
    if isinstance(values, pa.Array):
        return values.take(pa.array(rows))
    return np.asarray(values)[rows]


def test_features_match_an_independent_computation(two_files, tmp_path):
    paths, frames, counts = two_files
    out = tmp_path / "flows.parquet"
    report = build_flows(paths, None, out, t_max=20, min_packets=10, threads=2)
    table = pq.read_table(out)
    expected = reference_features(frames, t_max=20)
    kept = sorted(host for host, count in counts.items() if count >= 10)
    assert table["host"].to_pylist() == kept
    x = table["x"].combine_chunks().to_numpy_ndarray()
    assert x.shape == (len(kept), 20, 17) and x.dtype == np.float32
    for row, host in enumerate(kept):
        np.testing.assert_allclose(x[row], expected[host], rtol=1e-6, atol=1e-6, err_msg=host)
    assert table["n_packets"].to_pylist() == [counts[host] for host in kept]
    assert report.hosts == len(kept)
    assert report.too_few_packets == sum(count < 10 for count in counts.values())
    assert report.packets == sum(counts.values())


def test_first_seen_and_padding(two_files, tmp_path):
    paths, frames, counts = two_files
    out = tmp_path / "flows.parquet"
    build_flows(paths, None, out, t_max=50, min_packets=1)
    table = pq.read_table(out)
    packets = pd.concat(frames)
    first = packets.groupby("host")["ts"].min()
    x = table["x"].combine_chunks().to_numpy_ndarray()
    for row, host in enumerate(table["host"].to_pylist()):
        assert table["first_seen"][row].value == first[host].value
        real = min(counts[host], 50)
        assert np.all(x[row, real:] == 0)
        assert np.all(x[row, :real, F["ttl"]] > 0)


def test_tie_break_by_file_then_row(tmp_path):
    """Equal timestamps keep file order, then row order."""
    same = [T0_NS + 5] * 2
    first = write_packets(tmp_path / "a.parquet", {"ts": same, "host": ["h", "h"], "ttl": [1, 2]})
    second = write_packets(tmp_path / "b.parquet", {"ts": same, "host": ["h", "h"], "ttl": [3, 4]})
    out = tmp_path / "flows.parquet"
    build_flows([second, first], None, out, t_max=4, min_packets=1)
    x = pq.read_table(out)["x"].combine_chunks().to_numpy_ndarray()
    assert x[0, :, F["ttl"]].tolist() == [3, 4, 1, 2]
    assert x[0, :, F["log_iat"]].tolist() == [0, 0, 0, 0]


def test_null_defaults_and_hand_computed_values(tmp_path):
    columns = {
        "ts": [T0_NS, T0_NS + 1_000, T0_NS + 1_000 + 9_000_000],
        "host": ["198.51.100.1"] * 3,
        "dst_ip": [0xC0000201, None, 7],
        "seq": [0xC0000201, 5, 7],
        "ttl": [50, 64, 200],
        "mss": [None, 1460, None],
        "wscale": [None, 7, 0],
        "df": [True, None, False],
    }
    path = write_packets(tmp_path / "p.parquet", columns)
    out = tmp_path / "flows.parquet"
    build_flows([path], None, out, t_max=5, min_packets=3)
    x = pq.read_table(out)["x"].combine_chunks().to_numpy_ndarray()[0]
    assert x[:3, F["log_iat"]] == pytest.approx([0.0, math.log(2.0), math.log(9_001.0)])
    assert x[:3, F["initial_ttl"]].tolist() == [64, 64, 255]
    assert x[:3, F["mss"]].tolist() == [0, 1460, 0]
    assert x[:3, F["wscale"]].tolist() == [-1, 7, 0]
    assert x[:3, F["df"]].tolist() == [1, 0, 0]
    assert x[:3, F["seq_eq_dst"]].tolist() == [1, 0, 1]
    assert x[:3, F["ip_id"]].tolist() == [0, 0, 0]  # absent column -> 0
    assert np.all(x[3:] == 0)


def test_labels_join_counts_and_warning(two_files, tmp_path):
    paths, _, counts = two_files
    labels = write_labels(
        tmp_path / "labels.csv",
        [
            ("192.0.2.3", "iot", "mirai"),
            ("192.0.2.5", "non-iot", ""),
            ("192.0.2.8", "IoT", "busybox"),
            ("192.0.2.0", "non-iot", "zmap"),  # 3 packets: dropped
            ("203.0.113.9", "iot", "mirai"),  # never seen
            ("203.0.113.10", "non-iot", "zmap"),  # never seen
        ],
    )
    out = tmp_path / "flows.parquet"
    with pytest.warns(UnseenLabelsWarning, match="2 labelled host"):
        report = build_flows(paths, labels, out, t_max=10, min_packets=10)
    table = pq.read_table(out)
    assert table["host"].to_pylist() == ["192.0.2.3", "192.0.2.5", "192.0.2.8"]
    assert table["label"].to_pylist() == [1, 0, 1]
    assert table["family"].to_pylist() == ["mirai", None, "busybox"]
    assert table.schema.field("label").type == pa.int8()
    assert report.unlabelled == len(counts) - 4
    assert report.too_few_packets == 1
    assert report.labelled_not_seen == 2
    assert read_flows_metadata(out)["flow_counts"]["unlabelled"] == len(counts) - 4


def test_without_labels_every_host_has_null_label(two_files, tmp_path):
    paths, _, _ = two_files
    out = tmp_path / "flows.parquet"
    build_flows(paths, None, out, t_max=10, min_packets=10)
    table = pq.read_table(out)
    assert table["label"].null_count == table.num_rows > 0


def test_schema_and_metadata(tmp_path):
    base = {"ts": [T0_NS, T0_NS + 10], "host": ["h1", "h1"], "ttl": [64, 64]}
    first = write_packets(tmp_path / "a.parquet", base, absent=["ip_id", "window"], source="a.csv")
    second = write_packets(tmp_path / "b.parquet", base, absent=["seq"], source="b.pcap")
    out = tmp_path / "flows.parquet"
    build_flows([first, second], None, out, t_max=7, min_packets=2, parameters={"seed": 3})
    schema = pq.read_schema(out)
    tensor = schema.field("x").type
    assert isinstance(tensor, pa.FixedShapeTensorType)
    assert tensor.value_type == pa.float32() and tensor.shape == [7, 17]
    assert schema.field("n_packets").type == pa.int32()
    assert pa.types.is_timestamp(schema.field("first_seen").type)
    meta = read_flows_metadata(out)
    assert meta["feature_names"] == list(FEATURE_NAMES)
    assert meta["t_max"] == 7 and meta["min_packets"] == 2
    assert [source["capture"] for source in meta["sources"]] == ["a.csv", "b.pcap"]
    assert [source["path"] for source in meta["sources"]] == [str(first), str(second)]
    assert meta["absent_columns"] == ["ip_id", "seq", "window"]
    assert meta["absent_features"] == ["ip_id", "window", "seq_eq_dst"]
    assert meta["parameters"] == {"seed": 3}
    assert json.loads(schema.metadata[b"iotscope.t_max"]) == 7


def test_small_memory_limit_gives_the_same_tensor(tmp_path):
    rng = np.random.default_rng(1)
    hosts = [f"10.0.{i // 256}.{i % 256}" for i in range(2000)]
    columns = random_packets(rng, hosts, rng.integers(1, 200, len(hosts)))
    path = write_packets(tmp_path / "p.parquet", columns)
    small, large = tmp_path / "small.parquet", tmp_path / "large.parquet"
    build_flows([path], None, small, t_max=100, min_packets=5, memory_limit="40MB", threads=1)
    build_flows([path], None, large, t_max=100, min_packets=5, memory_limit="2GB", threads=2)
    a, b = pq.read_table(small), pq.read_table(large)
    assert a["host"].equals(b["host"])
    np.testing.assert_array_equal(
        a["x"].combine_chunks().to_numpy_ndarray(), b["x"].combine_chunks().to_numpy_ndarray()
    )


def test_no_packet_tables_is_an_error(tmp_path):
    with pytest.raises(FlowsError, match="no packet tables"):
        build_flows([], None, tmp_path / "flows.parquet")


def test_empty_packet_table_is_an_error(tmp_path):
    path = write_packets(tmp_path / "empty.parquet", {"ts": [], "host": []})
    with pytest.raises(FlowsError, match="hold no packets.*empty.parquet"):
        build_flows([path], None, tmp_path / "flows.parquet")
    assert not (tmp_path / "flows.parquet").exists()


def test_not_a_packet_table_names_file_and_columns(tmp_path):
    path = tmp_path / "other.parquet"
    pq.write_table(pa.table({"ts": pa.array([1], pa.timestamp("ns")), "host": ["a"]}), path)
    with pytest.raises(FlowsError, match=r"other.parquet: not a packet table.*dst_ip"):
        build_flows([path], None, tmp_path / "flows.parquet")


def test_same_table_twice_is_an_error(two_files, tmp_path):
    paths, _, _ = two_files
    with pytest.raises(FlowsError, match="more than once"):
        build_flows([paths[0], paths[0]], None, tmp_path / "flows.parquet")


def test_no_host_with_enough_packets(two_files, tmp_path):
    paths, _, _ = two_files
    with pytest.raises(FlowsError, match="min_packets=1000"):
        build_flows(paths, None, tmp_path / "flows.parquet", min_packets=1000)


def test_no_labelled_host_seen(two_files, tmp_path):
    paths, _, _ = two_files
    labels = write_labels(tmp_path / "labels.csv", [("203.0.113.1", "iot", "mirai")])
    with pytest.warns(UnseenLabelsWarning), pytest.raises(FlowsError, match="none of the 12"):
        build_flows(paths, labels, tmp_path / "flows.parquet")


def test_failed_build_leaves_existing_output_untouched(two_files, tmp_path):
    paths, _, _ = two_files
    out = tmp_path / "flows.parquet"
    out.write_bytes(b"previous")
    with pytest.raises(FlowsError):
        build_flows(paths, None, out, min_packets=1000)
    assert out.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "flows.parquet",
        "p0.parquet",
        "p1.parquet",
    ]


def test_column_order_and_extra_columns_do_not_matter(tmp_path):
    columns = {"ts": [T0_NS, T0_NS + 1], "host": ["h", "h"], "ttl": [10, 20], "window": [5, 6]}
    plain = write_packets(tmp_path / "a.parquet", columns)
    table = pq.read_table(plain)
    shuffled = table.select(list(reversed(table.column_names))).append_column(
        "comment", pa.array(["x", "y"])
    )
    pq.write_table(shuffled, tmp_path / "b.parquet")
    out = tmp_path / "flows.parquet"
    build_flows([plain, tmp_path / "b.parquet"], None, out, t_max=4, min_packets=1)
    x = pq.read_table(out)["x"].combine_chunks().to_numpy_ndarray()[0]
    assert x[:, F["ttl"]].tolist() == [10, 10, 20, 20]
    assert x[:, F["window"]].tolist() == [5, 5, 6, 6]
