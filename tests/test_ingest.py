"""Ingest of synthetic captures written by an independent writer (tests/ingest_helpers.py)."""

from __future__ import annotations

import ipaddress
import json
import random
import struct

import dpkt
import ingest_helpers as h
import pyarrow.parquet as pq
import pytest

from iotscope.data.ingest import CaptureError, ingest_capture
from iotscope.data.packets import META_ABSENT, META_COUNTS, META_LINKTYPE, PACKET_SCHEMA
from iotscope.features import OPTION_LAYOUT_OTHER, option_layout_code

T0 = 1_700_000_000_123_456_000  # ns
LINUX = h.mss(1460) + h.sok() + h.ts(99) + h.nop() + h.ws(7)
WINDOWS = h.mss(1400) + h.nop() + h.ws(8) + h.nop() + h.nop() + h.sok()


def _mixed() -> list[tuple[int, bytes]]:
    """Ethernet frames: three SYNs, a SYN-ACK, UDP, IPv6 and ARP."""
    return [
        (T0, h.ethernet(h.syn("198.51.100.7", "203.0.113.9", seq=0xCB007109, ttl=52))),
        (
            T0 + 1_000,
            h.ethernet(
                h.syn(
                    "198.51.100.8",
                    options=LINUX,
                    window=29200,
                    df=True,
                    ip_id=4242,
                    sport=51000,
                    dport=22,
                )
            ),
        ),  # fmt: skip
        (T0 + 2_000, h.ethernet(h.syn("198.51.100.8", options=WINDOWS, window=8192))),
        (T0 + 3_000, h.ethernet(h.syn(flags=h.SYN | h.ACK))),
        (T0 + 4_000, h.ethernet(h.udp())),
        (T0 + 5_000, h.ethernet(h.ipv6_tcp(), ethertype=0x86DD)),
        (T0 + 6_000, h.ethernet(h.arp(), ethertype=0x0806)),
    ]


def _ingest(tmp_path, capture, **kwargs):
    out = tmp_path / "packets.parquet"
    report = ingest_capture(capture, out, **kwargs)
    return report, pq.read_table(out)


def test_ethernet_fields_and_skips(tmp_path):
    capture = h.write_pcap(tmp_path / "mixed.pcap", _mixed())
    report, table = _ingest(tmp_path, capture)
    assert table.schema.remove_metadata() == PACKET_SCHEMA
    assert (report.read, report.kept, report.hosts) == (7, 3, 2)
    assert report.skipped == {"not_syn": 1, "udp": 1, "ipv6": 1, "arp": 1}
    rows = table.to_pylist()
    first, linux, windows = rows
    assert first["host"] == "198.51.100.7"
    assert first["dst_ip"] == int(ipaddress.IPv4Address("203.0.113.9"))
    assert first["seq"] == 0xCB007109 and first["ttl"] == 52 and first["flags"] == h.SYN
    assert (first["opt_len"], first["opt_layout"], first["mss"], first["wscale"]) == (
        0,
        0,
        None,
        None,
    )
    assert (first["sack_ok"], first["ts_present"], first["ip_len"]) == (False, False, 40)
    assert first["ts"].value == T0
    assert linux["opt_layout"] == option_layout_code("mss,sok,ts,nop,ws")
    assert (linux["mss"], linux["wscale"], linux["sack_ok"], linux["ts_present"]) == (
        1460,
        7,
        True,
        True,
    )
    assert (linux["window"], linux["df"], linux["ip_id"], linux["src_port"], linux["dst_port"]) == (
        29200, True, 4242, 51000, 22
    )  # fmt: skip
    assert linux["opt_len"] == 20 and linux["ip_len"] == 60
    assert windows["opt_layout"] == option_layout_code("mss,nop,ws,nop,nop,sok")
    assert (windows["mss"], windows["wscale"], windows["ts_present"]) == (1400, 8, False)
    meta = table.schema.metadata
    assert json.loads(meta[META_LINKTYPE]) == "ethernet"
    assert json.loads(meta[META_ABSENT]) == []
    counts = json.loads(meta[META_COUNTS])
    assert (counts["read"], counts["kept"], counts["skipped"]["udp"]) == (7, 3, 1)


def test_all_tcp_keeps_syn_ack(tmp_path):
    capture = h.write_pcap(tmp_path / "mixed.pcap", _mixed())
    report, table = _ingest(tmp_path, capture, syn_only=False)
    assert report.kept == 4 and "not_syn" not in report.skipped
    assert table.column("flags").to_pylist()[3] == h.SYN | h.ACK


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("nano", [False, True])
@pytest.mark.parametrize("gz", [False, True])
def test_pcap_variants_keep_time(tmp_path, order, nano, gz):
    stamp = T0 + 789  # sub-microsecond part survives only in nanosecond files
    capture = h.write_pcap(tmp_path / "v.pcap", [(stamp, h.ethernet(h.syn()))], order=order,
                           nano=nano, gz=gz)  # fmt: skip
    _, table = _ingest(tmp_path, capture)
    assert table.column("ts").to_pylist()[0].value == (stamp if nano else stamp - 789)


def test_vlan_and_qinq(tmp_path):
    frames = [
        (T0, h.ethernet(h.syn("192.0.2.1"), vlans=[0x8100])),
        (T0 + 1, h.ethernet(h.syn("192.0.2.2"), vlans=[0x88A8, 0x8100])),
        (T0 + 2, h.ethernet(h.udp(), vlans=[0x8100])),
    ]
    report, table = _ingest(tmp_path, h.write_pcap(tmp_path / "vlan.pcap", frames))
    assert table.column("host").to_pylist() == ["192.0.2.1", "192.0.2.2"]
    assert report.skipped == {"udp": 1}


@pytest.mark.parametrize(("linktype", "wrap"), [(113, h.sll), (276, h.sll2)])
def test_linux_cooked_by_ip_and_mac(tmp_path, linktype, wrap):
    frames = [
        (T0, wrap(h.syn("192.0.2.1"), src="aa:bb:cc:00:00:01")),
        (T0 + 1, wrap(h.syn("192.0.2.1"), src="aa:bb:cc:00:00:02")),
        (T0 + 2, wrap(h.ipv6_tcp(), protocol=0x86DD)),
    ]
    capture = h.write_pcap(tmp_path / "sll.pcap", frames, linktype=linktype)
    report, table = _ingest(tmp_path, capture)
    assert table.column("host").to_pylist() == ["192.0.2.1", "192.0.2.1"]
    assert report.skipped == {"ipv6": 1}
    _, table = _ingest(tmp_path, capture, host_key="mac")
    assert table.column("host").to_pylist() == ["aa:bb:cc:00:00:01", "aa:bb:cc:00:00:02"]


@pytest.mark.parametrize("linktype", [101, 12, 228])
def test_raw_ip(tmp_path, linktype):
    frames = [(T0, h.syn("192.0.2.5", options=h.mss(536))), (T0 + 1, h.ipv6_tcp())]
    capture = h.write_pcap(tmp_path / "raw.pcap", frames, linktype=linktype)
    report, table = _ingest(tmp_path, capture)
    assert table.column("host").to_pylist() == ["192.0.2.5"]
    assert table.column("mss").to_pylist() == [536]
    assert report.skipped == ({"other_ethertype": 1} if linktype == 228 else {"ipv6": 1})
    with pytest.raises(CaptureError, match="MAC"):
        ingest_capture(capture, tmp_path / "mac.parquet", host_key="mac")


def test_mac_hosts_from_ethernet(tmp_path):
    frames = [(T0, h.ethernet(h.syn(), src="20:f8:5e:ca:91:52"))]
    _, table = _ingest(tmp_path, h.write_pcap(tmp_path / "e.pcap", frames), host_key="mac")
    assert table.column("host").to_pylist() == ["20:f8:5e:ca:91:52"]


@pytest.mark.parametrize("order", ["<", ">"])
def test_pcapng_interfaces_resolutions_and_simple_blocks(tmp_path, order):
    interfaces = [h.Interface(1), h.Interface(101, tsresol=9, tsoffset=10), h.Interface(105)]
    packets = [
        (0, T0 // 1000, h.ethernet(h.syn("192.0.2.1"))),
        (1, T0 + 5, h.syn("192.0.2.2")),  # nanosecond ticks, 10 s offset
        ("simple", h.ethernet(h.syn("192.0.2.3"))),  # no time: takes the previous packet's
        (2, 0, b"\x00" * 40),  # 802.11: unsupported link type
    ]
    section = h.pcapng_section(interfaces, packets, order=order)
    section += h.block(order, 5, struct.pack(order + "III", 0, 0, 0))  # statistics: ignored
    other = h.pcapng_section([h.Interface(113)], [(0, 1, h.sll(h.syn("192.0.2.4")))], order=">")
    capture = h.write_bytes(tmp_path / "c.pcapng", section + other)
    report, table = _ingest(tmp_path, capture)
    assert report.format == "pcapng"
    assert table.column("host").to_pylist() == ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"]
    stamps = [t.value for t in table.column("ts").to_pylist()]
    assert stamps == [T0, T0 + 5 + 10**10, T0 + 5 + 10**10, 1000]
    assert report.skipped == {"unsupported_linktype_105": 1}
    assert report.linktype == "ethernet,raw,linktype_105,linux_sll"


def test_pcapng_gzip_and_binary_tsresol(tmp_path):
    interfaces = [h.Interface(1, tsresol=0x80 | 20)]  # 2^-20 s ticks
    ticks = (1_700_000_000 << 20) + (1 << 19)  # half a second
    section = h.pcapng_section(interfaces, [(0, ticks, h.ethernet(h.syn()))])
    _, table = _ingest(tmp_path, h.write_bytes(tmp_path / "c.pcapng.gz", section, gz=True))
    assert table.column("ts").to_pylist()[0].value == 1_700_000_000_500_000_000


def test_truncated_pcap_names_offset_and_skip_keeps_the_rest(tmp_path):
    frames = [(T0 + i, h.ethernet(h.syn(seq=i))) for i in range(5)]
    whole = h.write_pcap(tmp_path / "whole.pcap", frames).read_bytes()
    last = h.record_offsets(frames)[-1]
    capture = h.write_bytes(tmp_path / "cut.pcap", whole[: last + 30])
    with pytest.raises(CaptureError, match=rf"cut\.pcap at byte offset {last}: truncated record"):
        ingest_capture(capture, tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()
    report, table = _ingest(tmp_path, capture, on_error="skip")
    assert table.column("seq").to_pylist() == [0, 1, 2, 3]
    assert (report.damage.offset, report.damage.bytes_dropped) == (last, 30)


def test_corrupt_record_header_in_the_middle(tmp_path):
    frames = [(T0 + i, h.ethernet(h.syn(seq=i))) for i in range(6)]
    data = bytearray(h.write_pcap(tmp_path / "w.pcap", frames).read_bytes())
    bad = h.record_offsets(frames)[2]
    data[bad + 8 : bad + 12] = struct.pack("<I", 10_000_000)  # absurd captured length
    capture = h.write_bytes(tmp_path / "bad.pcap", bytes(data))
    with pytest.raises(CaptureError, match=rf"at byte offset {bad}: record length 10000000"):
        ingest_capture(capture, tmp_path / "out.parquet")
    report, table = _ingest(tmp_path, capture, on_error="skip")
    assert report.kept == 2 and report.damage.bytes_dropped == len(data) - bad


def test_truncated_pcapng_and_gzip(tmp_path):
    section = h.pcapng_section([h.Interface(1)], [(0, i, h.ethernet(h.syn())) for i in range(3)])
    capture = h.write_bytes(tmp_path / "cut.pcapng", section[:-10])
    with pytest.raises(CaptureError, match=r"at byte offset \d+: truncated block"):
        ingest_capture(capture, tmp_path / "out.parquet")
    report, _ = _ingest(tmp_path, capture, on_error="skip")
    assert report.kept == 2
    rng = random.Random(0)
    frames = [(T0 + i, h.ethernet(h.syn(seq=rng.getrandbits(32)))) for i in range(50)]
    packed = h.write_pcap(tmp_path / "p.pcap.gz", frames, gz=True).read_bytes()
    capture = h.write_bytes(tmp_path / "cut.pcap.gz", packed[: len(packed) // 2])
    with pytest.raises(CaptureError, match="gzip stream ends early"):
        ingest_capture(capture, tmp_path / "out.parquet")
    report, _ = _ingest(tmp_path, capture, on_error="skip")
    assert 0 < report.kept < 50


def test_empty_and_synless_captures_are_errors(tmp_path):
    empty = h.write_pcap(tmp_path / "empty.pcap", [])
    with pytest.raises(CaptureError, match="empty.pcap: the capture holds no packets"):
        ingest_capture(empty, tmp_path / "out.parquet")
    udp_only = h.write_pcap(tmp_path / "udp.pcap", [(T0, h.ethernet(h.udp()))])
    with pytest.raises(CaptureError, match=r"no TCP SYN .* among 1 read \(skipped: 1 udp\)"):
        ingest_capture(udp_only, tmp_path / "out.parquet")
    garbage = h.write_bytes(tmp_path / "junk.pcap", b"hello world, not a capture")
    with pytest.raises(CaptureError, match="junk.pcap at byte offset 0: not a pcap"):
        ingest_capture(garbage, tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()


def test_malformed_options_and_fragments_never_crash(tmp_path):
    frames = [
        (T0, h.ethernet(h.syn(options=b"\x02\x00\x05\xb4"))),  # option length 0
        (T0 + 1, h.ethernet(h.syn(options=b"\x02\x04\x05\xb4\x1e\x09" + bytes(6)))),  # kind 30
        (T0 + 2, h.ethernet(h.ipv4("192.0.2.1", "192.0.2.2", 6, bytes(20), frag=3))),
        (T0 + 3, h.ethernet(h.syn(options=h.mss(1460) + h.eol()))),
    ]
    report, table = _ingest(tmp_path, h.write_pcap(tmp_path / "m.pcap", frames))
    assert table.column("opt_layout").to_pylist() == [
        OPTION_LAYOUT_OTHER, OPTION_LAYOUT_OTHER, option_layout_code("mss,eol")
    ]  # fmt: skip
    assert table.column("mss").to_pylist() == [None, 1460, 1460]
    assert report.skipped == {"ip_fragment": 1}


def _dpkt_syn_counts(path) -> dict[str, int]:
    counts: dict[str, int] = {}
    with open(path, "rb") as stream:
        for _, frame in dpkt.pcap.Reader(stream):
            ip = dpkt.ethernet.Ethernet(frame).data
            tcp = ip.data if isinstance(ip, dpkt.ip.IP) else None
            if isinstance(tcp, dpkt.tcp.TCP) and tcp.flags & 0x12 == 0x02:
                host = str(ipaddress.IPv4Address(ip.src))
                counts[host] = counts.get(host, 0) + 1
    return counts


def test_many_packets_with_header_like_payloads_match_dpkt(tmp_path):
    """Payloads full of fake record headers and a clock crossing an 18-hour boundary."""
    rng = random.Random(1)
    base = (0x6553FFFF - 2) * 10**9  # ts_sec's second byte changes after two seconds
    frames = []
    for i in range(3000):
        src = f"10.{rng.randrange(4)}.{rng.randrange(256)}.{rng.randrange(256)}"
        stamp = base + i * 2_000_000
        fake = struct.pack("<IIII", stamp // 10**9, 0, 40, 40) * rng.randrange(4)
        flags = rng.choice([h.SYN, h.SYN, h.SYN | h.ACK, h.ACK])
        packet = h.ipv4(src, "203.0.113.1", 6, h.tcp(1000 + i, 23, flags=flags) + fake)
        frames.append((stamp, h.ethernet(packet)))
    capture = h.write_pcap(tmp_path / "many.pcap", frames)
    report, table = _ingest(tmp_path, capture)
    assert report.read == 3000
    ours: dict[str, int] = {}
    for host in table.column("host").to_pylist():
        ours[host] = ours.get(host, 0) + 1
    assert ours == _dpkt_syn_counts(capture)


def test_bad_arguments(tmp_path):
    capture = h.write_pcap(tmp_path / "a.pcap", _mixed())
    with pytest.raises(ValueError, match="host_key must be 'ip' or 'mac', not 'port'"):
        ingest_capture(capture, tmp_path / "o.parquet", host_key="port")
    with pytest.raises(CaptureError, match="missing.pcap: no such file"):
        ingest_capture(tmp_path / "missing.pcap", tmp_path / "o.parquet")


CSV_COLUMNS = (
    "0,ts,ethtype,src_ip,src_port,dst_ip,dst_port,proto,pck_len,tcp_flags,mirai,tcp_seq,ttl,"
    "t_mss,t_win,t_ts,t_sack,t_sackp"
)
CSV_ROWS = [  # DarkVec-style rows: Mirai SYN, Linux SYN with options, UDP, SYN-ACK, IPv6
    "2021-05-01 00:00:00.1,1619827200.100001,2048,src_ipaddr0,57340,dst_ipaddr0,23,6,60,2,1,"
    "2193663633,50,-,-,-,-,-",
    "2021-05-01 00:00:00.2,1619827200.2,2048,src_ipaddr1,41062,198.51.100.1,22,6,74,2,0,"
    "423849382,35,1460,7,1081342183,-,1",
    "2021-05-01 00:00:00.3,1619827200.3,2048,src_ipaddr2,53530,dst_ipaddr2,80,17,60,-,-,-,238,"
    "-,-,-,-,-",
    "2021-05-01 00:00:00.4,1619827200.4,2048,src_ipaddr1,41062,dst_ipaddr3,22,6,60,18,0,5,35,"
    "-,-,-,-,-",
    "2021-05-01 00:00:00.5,1619827200.5,34525,src_ipaddr3,1,dst_ipaddr4,2,6,80,2,0,5,35,-,-,-,-,-",
]
CSV_HEADER = CSV_COLUMNS + "\n"


def test_telescope_csv_nulls_and_mirai(tmp_path):
    text = CSV_HEADER + "\n".join(CSV_ROWS) + "\n"
    sample = h.write_bytes(tmp_path / "t.csv.gz", text.encode(), gz=True)
    report, table = _ingest(tmp_path, sample)
    assert (report.read, report.kept) == (5, 2)
    assert report.skipped == {"udp": 1, "not_syn": 1, "ipv6": 1}
    mirai, linux = table.to_pylist()
    assert mirai["host"] == "src_ipaddr0" and mirai["ts"].value == 1_619_827_200_100_001_000
    assert mirai["dst_ip"] == mirai["seq"] == 2193663633  # recovered from the Mirai mark
    assert (mirai["mss"], mirai["wscale"], mirai["sack_ok"], mirai["ts_present"]) == (None,) * 4
    assert linux["dst_ip"] == int(ipaddress.IPv4Address("198.51.100.1"))
    assert (linux["mss"], linux["wscale"], linux["sack_ok"], linux["ts_present"]) == (
        1460,
        7,
        True,
        True,
    )
    assert (linux["ip_id"], linux["window"], linux["opt_layout"]) == (None, None, None)
    assert "window" in report.absent_columns and "ttl" not in report.absent_columns


def test_telescope_csv_errors(tmp_path):
    lacking = h.write_bytes(tmp_path / "l.csv", b"ts,src_ip,ttl\n1.0,a,3\n")
    with pytest.raises(CaptureError, match=r"l\.csv: missing column\(s\) proto, tcp_flags"):
        ingest_capture(lacking, tmp_path / "o.parquet")
    bad_ttl = CSV_ROWS[0].replace(",50,", ",300,")
    wrong = h.write_bytes(tmp_path / "w.csv", (CSV_HEADER + bad_ttl + "\n").encode())
    with pytest.raises(CaptureError, match="column ttl: value 300 on data row 1 is not an integer"):
        ingest_capture(wrong, tmp_path / "o.parquet")
    ragged = h.write_bytes(tmp_path / "r.csv", (CSV_HEADER + CSV_ROWS[0] + "\n1,2,3\n").encode())
    with pytest.raises(CaptureError, match="r.csv: not a readable telescope CSV"):
        ingest_capture(ragged, tmp_path / "o.parquet")
    report, _ = _ingest(tmp_path, ragged, on_error="skip")
    assert report.skipped == {"malformed_row": 1} and report.kept == 1


def test_cli_prints_counts_and_fails_cleanly(tmp_path):
    from typer.testing import CliRunner

    from iotscope.cli import app

    capture = h.write_pcap(tmp_path / "mixed.pcap", _mixed())
    out = tmp_path / "packets.parquet"
    result = CliRunner().invoke(app, ["ingest", str(capture), str(out), "--all-tcp"])
    assert result.exit_code == 0, result.output
    assert "packets kept" in result.output and "skipped: udp" in result.output
    assert pq.read_table(out).num_rows == 4
    cut = h.write_bytes(tmp_path / "cut.pcap", capture.read_bytes()[:-5])
    result = CliRunner().invoke(app, ["ingest", str(cut), str(out)])
    assert result.exit_code == 2 and "byte offset" in result.output
    result = CliRunner().invoke(app, ["ingest", str(cut), str(out), "--on-error", "skip"])
    assert result.exit_code == 0 and "bytes dropped" in result.output


def test_small_scan_windows_give_the_same_packets(tmp_path, monkeypatch):
    """The framing scans the file window by window; a chain crossing windows must not break."""
    rng = random.Random(2)
    frames = [(T0 + i * 1000, h.ethernet(h.syn(f"10.0.0.{rng.randrange(1, 200)}", seq=i,
                                                options=rng.choice([b"", LINUX, WINDOWS]))))
              for i in range(400)]  # fmt: skip
    pcap = h.write_pcap(tmp_path / "w.pcap", frames)
    section = h.pcapng_section([h.Interface(1)], [(0, s // 1000, f) for s, f in frames])
    pcapng = h.write_bytes(tmp_path / "w.pcapng", section)
    expected = list(range(400))
    for window in (64, 100, 1 << 25):
        monkeypatch.setattr("iotscope.data.pcap.WINDOW", window)
        for capture in (pcap, pcapng):
            _, table = _ingest(tmp_path, capture)
            assert table.column("seq").to_pylist() == expected, (window, capture.name)


def test_ip_options_move_the_tcp_header(tmp_path):
    segment = h.tcp(4444, 8080, seq=99, window=5840, options=h.mss(1400))
    packet = h.ipv4("192.0.2.9", "192.0.2.1", 6, segment, ip_options=b"\x01\x01\x01\x00", ttl=7)
    frames = [(T0, h.ethernet(packet)), (T0 + 1, h.ethernet(h.syn(seq=5)))]
    _, table = _ingest(tmp_path, h.write_pcap(tmp_path / "o.pcap", frames))
    rows = table.to_pylist()
    assert [(r["src_port"], r["dst_port"], r["seq"], r["window"], r["mss"]) for r in rows] == [
        (4444, 8080, 99, 5840, 1400), (40000, 23, 5, 1024, None)
    ]  # fmt: skip
    assert (rows[0]["ttl"], rows[0]["ip_len"], rows[0]["host"]) == (7, 48, "192.0.2.9")


def test_short_packets_at_the_end_of_the_file(tmp_path):
    """Headers are gathered in fixed-size blocks; the last, short packets must read exactly."""
    short_tcp = h.ipv4("192.0.2.3", "192.0.2.1", 6, h.tcp(1, 2)[:10])
    for last, reason in ((h.udp(), "udp"), (short_tcp, "truncated")):
        frames = [(T0, h.syn("192.0.2.1")), (T0 + 1, last)]
        report, table = _ingest(tmp_path, h.write_pcap(tmp_path / "s.pcap", frames, linktype=101))
        assert table.column("host").to_pylist() == ["192.0.2.1"]
        assert report.skipped == {reason: 1}


@pytest.mark.parametrize("kind", ["pcap", "pcapng"])
def test_random_corruption_gives_capture_errors_only(tmp_path, kind):
    """Flipped bytes anywhere: a CaptureError naming an offset, or packets read; never a crash."""
    frames = [(T0 + i, h.ethernet(h.syn(options=LINUX if i % 2 else b""))) for i in range(30)]
    if kind == "pcap":
        clean = h.write_pcap(tmp_path / "c.pcap", frames).read_bytes()
    else:
        clean = h.pcapng_section([h.Interface(1)], [(0, s // 1000, f) for s, f in frames])
    rng = random.Random(3)
    for trial in range(60):
        data = bytearray(clean)
        for _ in range(rng.randrange(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        capture = h.write_bytes(
            tmp_path / f"x{trial}.{kind}", bytes(data[: rng.randrange(24, len(data) + 1)])
        )
        for on_error in ("raise", "skip"):
            try:
                report = ingest_capture(capture, tmp_path / "o.parquet", on_error=on_error)
            except CaptureError as exc:
                assert str(capture) in str(exc)
            else:
                assert report.kept <= 30
