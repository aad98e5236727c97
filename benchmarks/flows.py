"""Flow-builder benchmark: packet tables -> flows.parquet, wall time and peak memory.

Generates a synthetic telescope day with numpy (default 15 M SYN packets from 50,000 hosts with
heavy-tailed per-host counts, interleaved in time and split into hourly packet tables), then runs
:func:`iotscope.data.flows.build_flows` in a fresh process and prints its seconds, packets per
second and peak resident memory (``getrusage`` of that process, so generation does not count).

    python benchmarks/flows.py                       # 15 M packets, the target: < 60 s, < 4 GiB
    python benchmarks/flows.py --packets 3000000     # a quicker run
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from iotscope.data.packets import PACKET_SCHEMA
from iotscope.features import OPTION_LAYOUTS

DAY_NS = 86_400 * 10**9
START_NS = 1_700_000_000 * 10**9


def host_counts(rng: np.random.Generator, packets: int, hosts: int) -> np.ndarray:
    """Heavy-tailed packets per host (every host at least one) summing to ``packets``."""
    weights = rng.lognormal(mean=0.0, sigma=1.2, size=hosts)
    counts = 1 + np.floor(weights / weights.sum() * (packets - hosts)).astype(np.int64)
    shortfall = packets - int(counts.sum())
    np.add.at(counts, rng.choice(hosts, size=shortfall, replace=True), 1)
    return counts


def host_names(hosts: int) -> pa.Array:
    """Distinct dotted IPv4 source addresses."""
    return pa.array([f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in range(hosts)])


def packet_table(
    rng: np.random.Generator, names: pa.Array, host_index: np.ndarray, ts: np.ndarray
) -> pa.Table:
    """A packet table in PACKET_SCHEMA for the given per-row host indices and timestamps."""
    n = len(ts)
    host = pc.take(names, pa.array(host_index))
    layout = rng.integers(0, len(OPTION_LAYOUTS), n).astype(np.uint8)
    no_options = layout == 0
    dst_ip = rng.integers(0xC0000200, 0xC00002FF, n, dtype=np.uint32)
    mirai = rng.random(n) < 0.1
    seq = np.where(mirai, dst_ip, rng.integers(0, 2**32, n, dtype=np.uint32))
    columns = {
        "ts": pa.array(ts, pa.timestamp("ns")),
        "host": host,
        "dst_ip": pa.array(dst_ip),
        "ttl": pa.array(rng.integers(30, 255, n, dtype=np.uint8)),
        "ip_id": pa.array(rng.integers(0, 2**16, n, dtype=np.uint16)),
        "ip_len": pa.array(np.where(no_options, 40, 60).astype(np.uint16)),
        "df": pa.array(rng.random(n) < 0.5),
        "src_port": pa.array(rng.integers(1024, 2**16, n, dtype=np.uint16)),
        "dst_port": pa.array(rng.choice(np.array([23, 2323, 22, 80, 445], np.uint16), n)),
        "seq": pa.array(seq),
        "window": pa.array(rng.choice(np.array([1024, 5840, 14600, 64240, 65535], np.uint16), n)),
        "flags": pa.array(np.full(n, 2, np.uint8)),
        "opt_len": pa.array(np.where(no_options, 0, 20).astype(np.uint8)),
        "mss": pa.array(np.full(n, 1460, np.uint16), mask=no_options),
        "wscale": pa.array(rng.integers(0, 15, n, dtype=np.uint8), mask=no_options),
        "sack_ok": pa.array(~no_options),
        "ts_present": pa.array(~no_options & (rng.random(n) < 0.7)),
        "opt_layout": pa.array(layout),
    }
    return pa.table(columns, schema=PACKET_SCHEMA)


def generate(directory: Path, packets: int, hosts: int, files: int, seed: int) -> list[Path]:
    """Write ``files`` packet tables (consecutive time slices of one day) into ``directory``."""
    rng = np.random.default_rng(seed)
    host_index = rng.permutation(
        np.repeat(np.arange(hosts, dtype=np.int32), host_counts(rng, packets, hosts))
    )
    ts = np.sort(rng.integers(START_NS, START_NS + DAY_NS, packets))
    names = host_names(hosts)
    paths = []
    for part, (hosts_part, ts_part) in enumerate(
        zip(np.array_split(host_index, files), np.array_split(ts, files), strict=True)
    ):
        path = directory / f"packets-{part:02d}.parquet"
        pq.write_table(packet_table(rng, names, hosts_part, ts_part), path)
        paths.append(path)
    return paths


def _build(paths: list[Path], out: Path, options: dict, results: multiprocessing.Queue) -> None:
    from iotscope.data.flows import build_flows

    started = time.perf_counter()
    report = build_flows(paths, None, out, **options)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    results.put((seconds, cpu, usage.ru_maxrss * 1024, report.hosts, report.packets))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=15_000_000)
    parser.add_argument("--hosts", type=int, default=50_000)
    parser.add_argument("--files", type=int, default=24, help="packet tables (hourly captures)")
    parser.add_argument("--t-max", type=int, default=298)
    parser.add_argument("--min-packets", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-limit", default="2GB", help="DuckDB memory limit")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, help="keep the generated tables here")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="iotscope-flows-bench-") as tmp:
        directory = args.workdir or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        paths = generate(directory, args.packets, args.hosts, args.files, args.seed)
        print(
            f"generated {args.packets:,} packets from {args.hosts:,} hosts in {len(paths)} "
            f"tables in {time.perf_counter() - started:.1f} s"
        )
        options = {
            "t_max": args.t_max,
            "min_packets": args.min_packets,
            "threads": args.threads,
            "memory_limit": args.memory_limit,
        }
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        process = context.Process(
            target=_build, args=(paths, directory / "flows.parquet", options, results)
        )
        process.start()
        process.join()
        if process.exitcode != 0:
            print(f"build_flows failed (exit code {process.exitcode})", file=sys.stderr)
            return 1
        seconds, cpu, peak_bytes, hosts, packets = results.get()
        size = (directory / "flows.parquet").stat().st_size

    print(
        f"build_flows: {seconds:.1f} s wall, {packets / seconds / 1e6:.2f} M packets/s "
        f"({cpu:.1f} s CPU over {args.threads} thread(s))"
    )
    print(f"peak RSS: {peak_bytes / 2**30:.2f} GiB (DuckDB memory_limit {args.memory_limit})")
    print(f"flows: {hosts:,} hosts x {args.t_max} packets x 17 features, {size / 2**20:.0f} MiB")
    ok = seconds < 60 and peak_bytes < 4 * 2**30
    print(f"target (< 60 s, < 4 GiB peak): {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
