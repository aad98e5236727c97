"""Ingest throughput: iotscope's vectorised reader against a straightforward dpkt loop.

Simulates a telescope capture (or takes one with --capture), then on the same file, in one run,
and pinned to one CPU core:

* ``iotscope``: ``ingest_capture`` end to end (read, decode, build the table, write parquet),
  and the decoding alone (framing, header fields, options, host strings);
* ``dpkt``: a plain loop that parses every frame with dpkt and collects the same fields of the
  TCP SYN packets into Python lists.

Both must keep the same number of packets. Prints packets/s and the speed-up, by wall-clock
time and by CPU time (the process's own, which a busy machine disturbs less).

    python benchmarks/ingest.py                     # ~1.5 M packets
    python benchmarks/ingest.py --hosts 1000        # quicker
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import dpkt
import pyarrow as pa

from iotscope.data.ingest import ingest_capture, packet_table
from iotscope.data.pcap import decode_tcp, read_frames
from iotscope.data.simulate import simulate_telescope


def dpkt_loop(path: Path) -> int:
    """Parse every frame with dpkt; collect the packet-table fields of TCP SYNs. Returns kept."""
    names = "ts src dst ttl ip_id ip_len sport dport seq window flags mss wscale sack ts_opt"
    columns: dict[str, list] = {name: [] for name in names.split()}
    with open(path, "rb") as stream:
        for stamp, frame in dpkt.pcap.Reader(stream):
            ip = dpkt.ethernet.Ethernet(frame).data
            tcp = ip.data if isinstance(ip, dpkt.ip.IP) else None
            if not isinstance(tcp, dpkt.tcp.TCP) or tcp.flags & 0x12 != 0x02:
                continue
            options = dict(dpkt.tcp.parse_opts(tcp.opts))
            mss = options.get(dpkt.tcp.TCP_OPT_MSS)
            wscale = options.get(dpkt.tcp.TCP_OPT_WSCALE)
            values = (stamp, ip.src, ip.dst, ip.ttl, ip.id, ip.len, tcp.sport, tcp.dport, tcp.seq,
                      tcp.win, tcp.flags, int.from_bytes(mss, "big") if mss else None,
                      wscale[0] if wscale else None, dpkt.tcp.TCP_OPT_SACKOK in options,
                      dpkt.tcp.TCP_OPT_TIMESTAMP in options)  # fmt: skip
            for column, value in zip(columns.values(), values, strict=True):
                column.append(value)
    return len(columns["ts"])


def decode_only(path: Path) -> int:
    frames = read_frames(path)
    columns, _ = decode_tcp(frames)
    return packet_table(columns).num_rows


def timed(run: Callable[[], object]) -> tuple[float, float, object]:
    """Wall-clock and CPU seconds of ``run()``, and its result."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def best_of(repeat: int, run: Callable[[], object]) -> tuple[float, float, object]:
    """The run with the shortest wall-clock time."""
    return min((timed(run) for _ in range(repeat)), key=lambda t: t[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--capture", type=Path, help="existing pcap to use instead of simulating")
    parser.add_argument("--hosts", type=int, default=7500, help="simulated hosts (~200 SYNs each)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of iotscope (best is kept)")
    parser.add_argument(
        "--core", type=int, default=None, help="CPU core to pin to (default: any one)"
    )
    args = parser.parse_args()

    core = args.core if args.core is not None else min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)

    with tempfile.TemporaryDirectory() as tmp:
        capture = args.capture
        if capture is None:
            capture = Path(tmp) / "telescope.pcap"
            start = time.perf_counter()
            summary = simulate_telescope(capture, Path(tmp) / "labels.csv", hosts=args.hosts)
            print(
                f"simulated {summary.packets:,} packets ({summary.bytes / 2**20:.0f} MiB) "
                f"in {time.perf_counter() - start:.1f} s"
            )
        out = Path(tmp) / "packets.parquet"
        full, full_cpu, report = best_of(args.repeat, lambda: ingest_capture(capture, out))
        decode, decode_cpu, kept = best_of(args.repeat, lambda: decode_only(capture))
        dpkt_time, dpkt_cpu, dpkt_kept = timed(lambda: dpkt_loop(capture))

    if not (report.kept == kept == dpkt_kept):
        raise SystemExit(f"kept packets differ: iotscope {report.kept}/{kept}, dpkt {dpkt_kept}")
    n = report.read
    print(f"capture: {n:,} packets, {report.kept:,} TCP SYN kept, pinned to core {core}")
    print(f"{'':38s}{'wall s':>8s} {'M pkt/s':>8s} {'CPU s':>8s} {'M pkt/s':>8s}")
    for label, wall, cpu in (
        ("iotscope ingest_capture (to parquet)", full, full_cpu),
        ("iotscope decode only", decode, decode_cpu),
        ("dpkt loop", dpkt_time, dpkt_cpu),
    ):
        print(f"{label:38s}{wall:8.3f} {n / wall / 1e6:8.2f} {cpu:8.3f} {n / cpu / 1e6:8.2f}")
    print(
        f"speed-up over dpkt (wall): {dpkt_time / full:.1f}x end to end, "
        f"{dpkt_time / decode:.1f}x decoding; (CPU): {dpkt_cpu / full_cpu:.1f}x, "
        f"{dpkt_cpu / decode_cpu:.1f}x"
    )


if __name__ == "__main__":
    main()
