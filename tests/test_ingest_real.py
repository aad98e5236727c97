"""Ingest of real captures (IoT Sentinel pcaps, DarkVec telescope CSVs) checked independently."""

from __future__ import annotations

import csv
import gzip
import json
from collections import Counter

import dpkt
import pyarrow.parquet as pq
import pytest

from iotscope.data.ingest import CaptureError, ingest_capture
from iotscope.data.packets import META_ABSENT


def _sentinel_captures(real_data):
    captures = sorted((real_data / "iot-sentinel").glob("*/*.pcap"))
    if not captures:
        pytest.skip(f"no IoT Sentinel captures under {real_data / 'iot-sentinel'}")
    return captures


def _dpkt_syns_by_mac(path) -> Counter[str]:
    """SYN-without-ACK IPv4 TCP packets per source MAC, counted with dpkt."""
    counts: Counter[str] = Counter()
    with open(path, "rb") as stream:
        for _, frame in dpkt.pcap.Reader(stream):
            eth = dpkt.ethernet.Ethernet(frame)
            ip = eth.data
            if not (isinstance(ip, dpkt.ip.IP) and isinstance(ip.data, dpkt.tcp.TCP)):
                continue
            if ip.offset == 0 and ip.data.flags & 0x12 == 0x02:
                counts[":".join(f"{b:02x}" for b in eth.src)] += 1
    return counts


def test_iot_sentinel_syn_counts_per_mac_match_dpkt(real_data, tmp_path):
    devices: Counter[str] = Counter()
    checked = 0
    for capture in _sentinel_captures(real_data):
        expected = _dpkt_syns_by_mac(capture)
        out = tmp_path / "packets.parquet"
        if not expected:
            with pytest.raises(CaptureError, match="no TCP SYN"):
                ingest_capture(capture, out, host_key="mac")
            continue
        report = ingest_capture(capture, out, host_key="mac")
        table = pq.read_table(out)
        assert Counter(table.column("host").to_pylist()) == expected, capture
        with open(capture, "rb") as stream:
            assert report.read == sum(1 for _ in dpkt.pcap.Reader(stream))
        device_mac = (capture.parent / "_iotdevice-mac.txt").read_text().strip().lower()
        devices[device_mac] += expected[device_mac]
        checked += 1
    assert checked > 20
    assert sum(devices.values()) > 100  # the listed IoT devices do open TCP connections


def test_iot_sentinel_options_match_dpkt(real_data, tmp_path):
    capture = next(c for c in _sentinel_captures(real_data) if _dpkt_syns_by_mac(c))
    ingest_capture(capture, tmp_path / "p.parquet", host_key="mac")
    rows = pq.read_table(tmp_path / "p.parquet").to_pylist()
    expected = []
    with open(capture, "rb") as stream:
        for _, frame in dpkt.pcap.Reader(stream):
            ip = dpkt.ethernet.Ethernet(frame).data
            tcp = ip.data if isinstance(ip, dpkt.ip.IP) else None
            if isinstance(tcp, dpkt.tcp.TCP) and tcp.flags & 0x12 == 0x02:
                options = dict(dpkt.tcp.parse_opts(tcp.opts))
                mss = options.get(dpkt.tcp.TCP_OPT_MSS)
                mss = int.from_bytes(mss, "big") if mss else None
                expected.append((ip.ttl, tcp.win, mss, dpkt.tcp.TCP_OPT_SACKOK in options))
    assert [(r["ttl"], r["window"], r["mss"], r["sack_ok"]) for r in rows] == expected


def _darkvec(real_data):
    files = sorted((real_data / "darkvec-telescope").glob("*.csv.gz"))
    if not files:
        pytest.skip(f"no DarkVec samples under {real_data / 'darkvec-telescope'}")
    return files


def test_darkvec_csv(real_data, tmp_path):
    for sample in _darkvec(real_data):
        with gzip.open(sample, "rt", newline="") as stream:
            rows = list(csv.DictReader(stream))
        syns = [r for r in rows if r["proto"] == "6" and int(r["tcp_flags"]) & 0x12 == 0x02]
        report = ingest_capture(sample, tmp_path / "p.parquet")
        table = pq.read_table(tmp_path / "p.parquet")
        assert (report.read, report.kept) == (len(rows), len(syns))
        assert report.skipped["udp"] == sum(r["proto"] == "17" for r in rows)
        assert table.column("host").to_pylist() == [r["src_ip"] for r in syns]
        assert table.column("mss").null_count == sum(r["t_mss"] == "-" for r in syns)
        assert table.column("sack_ok").null_count == sum(r["t_sackp"] == "-" for r in syns)
        mirai = [r["mirai"] == "1" for r in syns]
        assert any(mirai)
        seq, dst = table.column("seq").to_pylist(), table.column("dst_ip").to_pylist()
        assert [d is not None and d == s for s, d in zip(seq, dst, strict=True)] == mirai
        assert seq == [int(r["tcp_seq"]) for r in syns]
        absent = json.loads(table.schema.metadata[META_ABSENT])
        assert {"ip_id", "window", "ip_len", "df", "opt_len", "opt_layout"} == set(absent)
        assert table.column("window").null_count == table.num_rows
        with pytest.raises(CaptureError, match="host_key 'mac' needs source MAC addresses"):
            ingest_capture(sample, tmp_path / "m.parquet", host_key="mac")
