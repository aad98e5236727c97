"""The simulated telescope: real pcap bytes, reproducible, and the populations it promises.

The capture is read back with dpkt, an implementation independent of the simulator and of
iotscope's own pcap reader, and every header field is checked against the documented
fingerprints.
"""

from __future__ import annotations

import csv
import struct
from collections import Counter
from pathlib import Path

import dpkt
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from iotscope.cli import app
from iotscope.data.populations import FAMILIES
from iotscope.data.simulate import simulate_telescope
from iotscope.features import OPTION_LAYOUTS, OPTION_NAMES

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DARKVEC = SHARED / "data" / "real" / "darkvec-telescope"
HOSTS = 400
MIN_PACKETS, MAX_PACKETS = 20, 60


def _checksum_ok(data: bytes) -> bool:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f">{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total == 0xFFFF


def read_capture(path: Path) -> pd.DataFrame:
    """One row per packet, decoded with dpkt; checksums verified independently."""
    rows = []
    with path.open("rb") as stream:
        reader = dpkt.pcap.Reader(stream)
        assert reader.datalink() == dpkt.pcap.DLT_EN10MB
        for ts, frame in reader:
            eth = dpkt.ethernet.Ethernet(frame)
            ip = eth.data
            tcp = ip.data
            raw = bytes(ip)[: ip.len]
            pseudo = ip.src + ip.dst + struct.pack(">BBH", 0, 6, len(raw) - 20)
            names, wscale = [], -1
            for kind, value in dpkt.tcp.parse_opts(tcp.opts):
                names.append(OPTION_NAMES.get(kind, str(kind)))
                if kind == 3:
                    wscale = value[0]
                if kind == 0:
                    break
            layout = ",".join(names)
            rows.append(
                {
                    "ts": ts,
                    "frame_len": len(frame),
                    "ethertype": eth.type,
                    "host": dpkt.utils.inet_to_str(ip.src),
                    "dst": int.from_bytes(ip.dst, "big"),
                    "ttl": ip.ttl,
                    "ip_id": ip.id,
                    "df": bool(ip.df),
                    "ip_ok": _checksum_ok(raw[:20]),
                    "tcp_ok": _checksum_ok(pseudo + raw[20:]),
                    "sport": tcp.sport,
                    "dport": tcp.dport,
                    "seq": tcp.seq,
                    "tcp_flags": tcp.flags,
                    "window": tcp.win,
                    "layout": layout,
                    "wscale": wscale,
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("simulate")
    summary = simulate_telescope(
        root / "telescope.pcap",
        root / "labels.csv",
        hosts=HOSTS,
        min_packets=MIN_PACKETS,
        max_packets=MAX_PACKETS,
        seed=5,
    )
    packets = read_capture(root / "telescope.pcap")
    labels = pd.read_csv(root / "labels.csv", dtype=str)
    packets = packets.merge(labels, on="host", how="left", validate="many_to_one")
    return {"root": root, "summary": summary, "packets": packets, "labels": labels}


def _family(capture: dict[str, object], name: str) -> pd.DataFrame:
    packets = capture["packets"]
    rows = packets[packets.family == name]
    assert len(rows), f"no packets of family {name}"
    return rows


def test_pcap_holds_valid_ipv4_tcp_syns(capture: dict[str, object]) -> None:
    packets = capture["packets"]
    assert len(packets) == capture["summary"].packets
    assert (packets.ethertype == dpkt.ethernet.ETH_TYPE_IP).all()
    assert (packets.tcp_flags & dpkt.tcp.TH_SYN).all()
    assert not (packets.tcp_flags & dpkt.tcp.TH_ACK).any()
    assert packets.ip_ok.all(), "IP header checksum"
    assert packets.tcp_ok.all(), "TCP checksum"
    assert (packets.frame_len >= 60).all()
    assert packets.layout.isin(OPTION_LAYOUTS).all(), set(packets.layout) - set(OPTION_LAYOUTS)
    assert capture["summary"].bytes == (capture["root"] / "telescope.pcap").stat().st_size


def test_packets_are_interleaved_in_time_order(capture: dict[str, object]) -> None:
    packets = capture["packets"]
    assert packets.ts.is_monotonic_increasing
    assert packets.ts.iloc[0] >= 1_700_000_000.0
    switches = int((packets.host.to_numpy()[1:] != packets.host.to_numpy()[:-1]).sum())
    assert switches > len(packets) / 2, "a telescope sees hosts interleaved, not one after another"


def test_labels_match_the_capture(capture: dict[str, object]) -> None:
    labels, packets = capture["labels"], capture["packets"]
    assert list(labels.columns) == ["host", "label", "family"]
    assert labels.host.is_unique
    assert set(labels.host) == set(packets.host)
    assert set(labels.label) == {"iot", "non-iot"}
    assert (labels.label == "iot").sum() == round(HOSTS * 0.17) == capture["summary"].iot_hosts
    expected = {family.name: family.label for family in FAMILIES}
    assert (labels.label == labels.family.map(expected)).all()
    per_host = packets.groupby("host").size()
    assert per_host.between(MIN_PACKETS, MAX_PACKETS).all()
    assert dict(Counter(labels.family)) == capture["summary"].families


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    def files(name: str, seed: int) -> tuple[bytes, bytes]:
        simulate_telescope(tmp_path / f"{name}.pcap", tmp_path / f"{name}.csv", hosts=60, seed=seed)
        return (tmp_path / f"{name}.pcap").read_bytes(), (tmp_path / f"{name}.csv").read_bytes()

    first, again, other = files("a", 3), files("b", 3), files("c", 4)
    assert first == again
    assert first[0] != other[0] and first[1] != other[1]


def test_mirai_bots_carry_their_fingerprint(capture: dict[str, object]) -> None:
    bots = _family(capture, "mirai")
    assert (bots.seq == bots.dst).all()
    assert (bots.layout == "").all()
    assert bots.ttl.between(33, 64).all()
    assert (bots.groupby("host").sport.nunique() == 1).all(), "one source port per bot"
    assert (bots.groupby("host").window.nunique() == 1).all()
    assert bots.ip_id.nunique() > len(bots) / 2, "random IP IDs"
    telnet = bots.dport.isin([23, 2323]).mean()
    assert telnet > 0.7
    share_2323 = (bots.dport == 2323).sum() / bots.dport.isin([23, 2323]).sum()
    assert 0.05 < share_2323 < 0.2


def test_scanner_fingerprints(capture: dict[str, object]) -> None:
    zmap = _family(capture, "zmap")
    assert (zmap.ip_id == 54321).all() and (zmap.window == 65535).all()
    assert (zmap.layout == "").all() and (zmap.ttl > 128).all()
    masscan = _family(capture, "masscan")
    assert (masscan.window == 1024).all() and (masscan.layout == "").all()
    nmap = _family(capture, "nmap")
    assert nmap.window.isin([1024, 2048, 3072, 4096]).all() and (nmap.layout == "mss").all()
    assert nmap.ttl.between(37, 59).all()
    crafted = _family(capture, "crafted")
    assert (crafted.ttl > 128).all() and crafted.layout.isin(["", "mss"]).all()


def test_stack_fingerprints(capture: dict[str, object]) -> None:
    windows = _family(capture, "windows")
    assert windows.ttl.between(65, 128).all() and windows.df.all()
    assert windows.window.isin([8192, 64240, 65535]).all()
    assert windows.layout.isin(["mss,nop,ws,nop,nop,sok", "mss,nop,nop,sok"]).all()
    assert windows.dport.isin([445, 139, 1433, 3389]).mean() > 0.7
    servers = _family(capture, "linux-server")
    assert (servers.layout == "mss,sok,ts,nop,ws").all() and (servers.wscale == 7).all()
    assert (servers.window == 64240).any()
    busybox = _family(capture, "busybox")
    assert busybox.window.isin([5840, 14600, 29200]).all() and busybox.ttl.between(33, 64).all()
    assert busybox.layout.str.startswith("mss").all() and (busybox.wscale < 8).all()


def test_hard_cases(capture: dict[str, object]) -> None:
    lookalikes = _family(capture, "server-mirai")
    assert (lookalikes.seq == lookalikes.dst).all() and (lookalikes.layout == "").all()
    nat = _family(capture, "mirai-nat")
    buckets = nat.groupby("host").ttl.agg(lambda ttl: frozenset((ttl > 64).tolist()))
    assert (buckets == frozenset({True, False})).all(), "a NAT address mixes a bot and a PC"
    kernel = capture["packets"][capture["packets"].family.isin(["linux-server", "windows"])]
    repeats = kernel.groupby(["host", "dst", "sport", "seq"]).ts.agg(["size", "min", "max"])
    retransmitted = repeats[repeats["size"] > 1]
    assert len(retransmitted) > 0.05 * len(repeats), "kernel stacks retransmit unanswered SYNs"
    assert (retransmitted["max"] - retransmitted["min"]).between(0.9, 10).all()
    flapping = capture["packets"].groupby("host").ttl.nunique()
    assert (flapping > 1).mean() > 0.1, "route changes vary some hosts' hop counts"


def test_difficulty_mixes_in_lookalikes(tmp_path: Path) -> None:
    def lookalikes(difficulty: float) -> int:
        summary = simulate_telescope(
            tmp_path / "t.pcap",
            tmp_path / "l.csv",
            hosts=500,
            max_packets=30,
            difficulty=difficulty,
        )
        return summary.families["server-mirai"] + summary.families["mirai-nat"]

    assert lookalikes(0.0) < lookalikes(0.5) < lookalikes(1.0)


@pytest.mark.parametrize(
    ("keyword", "value", "message"),
    [
        ("hosts", 0, "hosts"),
        ("iot_fraction", 1.5, "iot_fraction"),
        ("difficulty", -0.1, "difficulty"),
        ("max_packets", 10, "max_packets"),
        ("min_packets", 1, "min_packets"),
        ("telescope", "198.18.0.0/99", "198.18.0.0/99"),
    ],
)
def test_bad_parameters_name_themselves(
    tmp_path: Path, keyword: str, value: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        simulate_telescope(tmp_path / "t.pcap", tmp_path / "l.csv", **{keyword: value})
    assert not (tmp_path / "t.pcap").exists()


def test_cli_writes_both_files(tmp_path: Path) -> None:
    runner = CliRunner()
    help_text = runner.invoke(app, ["simulate", "--help"]).output
    assert "--difficulty" in help_text and "labels" in help_text
    result = runner.invoke(
        app,
        ["simulate", str(tmp_path / "t.pcap"), str(tmp_path / "l.csv"), "--hosts", "30"]
        + ["--max-packets", "25", "--seed", "2"],
    )
    assert result.exit_code == 0, result.output
    with (tmp_path / "l.csv").open() as stream:
        assert len(list(csv.DictReader(stream))) == 30
    assert (tmp_path / "t.pcap").read_bytes()[:4] == b"\xd4\xc3\xb2\xa1"


@pytest.mark.skipif(not DARKVEC.is_dir(), reason=f"real telescope sample not found at {DARKVEC}")
def test_marginals_resemble_a_real_telescope(capture: dict[str, object]) -> None:
    """Loose agreement with the DarkVec sample: option-less SYNs dominate, TTL-255 scanners
    are the largest initial-TTL group at a similar hop count, and Mirai's mark is present
    but a minority."""
    real = pd.concat(pd.read_csv(path, na_values="-") for path in sorted(DARKVEC.glob("*.csv.gz")))
    real = real[(real.proto == 6) & (real.tcp_flags == 2)]
    sim = capture["packets"]
    marginals = {
        "no_options": (real.t_mss.isna().mean(), (sim.layout == "").mean()),
        "ttl_255": ((real.ttl > 128).mean(), (sim.ttl > 128).mean()),
        "ttl_64": (real.ttl.between(33, 64).mean(), sim.ttl.between(33, 64).mean()),
        "mirai": (real.mirai.mean(), (sim.seq == sim.dst).mean()),
    }
    for name, (real_share, sim_share) in marginals.items():
        assert abs(real_share - sim_share) < 0.35, (name, marginals)
    for _, sim_share in marginals.values():
        assert 0.01 < sim_share < 0.9, marginals
    for values in (real.ttl, sim.ttl):
        buckets = np.digitize(values, [33, 65, 129])
        assert np.bincount(buckets, minlength=4).argmax() == 3
        assert 8 <= 255 - np.median(values[values > 128]) <= 20
