"""Simulator throughput: how long the default telescope takes to generate and write.

Times ``simulate_packets`` (drawing every packet) and ``simulate_telescope`` (drawing and
writing the pcap and labels) for the full configuration's 50,000 hosts by default. Prints wall
and CPU seconds (the process's own, which a busy machine disturbs less), packets/s and peak
memory.

    python benchmarks/simulate.py                  # 50,000 hosts, ~10.5 M packets
    python benchmarks/simulate.py --hosts 5000     # quicker
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from iotscope.data.simulate import simulate_packets, simulate_telescope


def timed(work: Callable[[], object]) -> tuple[object, float, float]:
    """Run ``work``; return its result, wall seconds and CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=50_000)
    parser.add_argument("--max-packets", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    options = {"hosts": args.hosts, "max_packets": args.max_packets, "seed": args.seed}

    (packets, _), wall, cpu = timed(lambda: simulate_packets(**options))
    n = len(packets)
    del packets
    print(f"generate: {n:,} packets  wall {wall:.1f} s  CPU {cpu:.1f} s  {n / cpu / 1e6:.2f} M/s")
    with tempfile.TemporaryDirectory() as tmp:
        pcap, labels = Path(tmp) / "telescope.pcap", Path(tmp) / "labels.csv"
        summary, wall, cpu = timed(lambda: simulate_telescope(pcap, labels, **options))
        size = os.path.getsize(pcap) / 2**20
    rate = summary.packets / cpu / 1e6
    print(f"generate + write: {size:,.0f} MiB  wall {wall:.1f} s  CPU {cpu:.1f} s  {rate:.2f} M/s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"peak memory: {peak:.2f} GiB")


if __name__ == "__main__":
    main()
