"""A synthetic network telescope: the embedded default dataset.

:func:`simulate_telescope` writes a real classic pcap (Ethernet, IPv4, TCP SYN) and a
``labels.csv`` (``host,label,family``), so the default workflow runs through the same ingest as
real captures. The hosts come from the populations of :mod:`iotscope.data.populations`; here
their profiles become packets: probe times (rate, idle gaps, jitter), destination and source
ports, IP IDs, sequence numbers, kernel retransmissions of unanswered SYNs (and originals lost
before them), route flaps that change the hop count, and TCP timestamps. The telescope sees
every host's packets interleaved in time order.

The default ``difficulty`` 0.5 is calibrated (``tests/test_calibration.py``) so that a
first-packet signature rule (initial TTL, window, option layout) stays near the majority-class
baseline while a cheap model that sees 50 packets per host does clearly better, and nothing
reaches perfect accuracy.

Everything is drawn from one seeded numpy generator and vectorised over hosts and packets:
the same arguments give byte-identical files.
"""

from __future__ import annotations

import csv
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from iotscope.data.pcap_writer import SynPackets, write_pcap
from iotscope.data.populations import FAMILIES, HostProfiles, IpId, Noise, SrcPort, noise_for
from iotscope.io import atomic_path

TELESCOPE_PREFIX = "198.18.0.0/15"  # RFC 2544 benchmarking space: never routed, safe to invent


@dataclass(frozen=True)
class SimulationSummary:
    """What :func:`simulate_telescope` wrote."""

    pcap_path: Path
    labels_path: Path
    hosts: int
    iot_hosts: int
    packets: int
    bytes: int  # size of the pcap file
    families: dict[str, int]
    parameters: dict[str, object]


# --- packets -----------------------------------------------------------------------------------


def _segment_positions(counts: np.ndarray) -> np.ndarray:
    """For segments of the given lengths laid end to end, each element's position in its segment."""
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return np.arange(starts.size) - starts


def _probe_times(
    rng: np.random.Generator, prof: HostProfiles, ph: np.ndarray, noise: Noise
) -> np.ndarray:
    """Seconds after the capture start of each probe (``ph``: the probe's row in ``prof``)."""
    iat = rng.exponential(1.0, ph.size) / prof.rate[ph]
    iat *= rng.lognormal(0.0, noise.jitter, ph.size)
    gap = rng.random(ph.size) < prof.gap_prob[ph]
    iat[gap] += rng.exponential(1.0, int(gap.sum())) * prof.gap_mean[ph[gap]]
    first = _segment_positions(np.bincount(ph, minlength=len(prof.host))) == 0
    iat[first] = prof.start[ph[first]]
    total = np.cumsum(iat)
    before = (total - iat)[first]  # cumulative time of everything ahead of each host's first
    return total - np.repeat(before, np.bincount(ph, minlength=len(prof.host)))


def _draw_ports(rng: np.random.Generator, prof: HostProfiles, ph: np.ndarray) -> np.ndarray:
    """Destination port of each probe: from its host's port table, or uniformly random."""
    u = rng.random(ph.size)
    column = (prof.port_cdf[ph] < u[:, None]).sum(axis=1)
    column = np.minimum(column, prof.ports.shape[1] - 1)
    ports = prof.ports[ph, column]
    uniform = rng.random(ph.size) < prof.random_port[ph]
    ports[uniform] = rng.integers(1, 1 << 16, int(uniform.sum()))
    return ports


def _draw_src_ports(rng: np.random.Generator, prof: HostProfiles, ph: np.ndarray) -> np.ndarray:
    """Source port of each probe, by its host's :class:`SrcPort` mode."""
    mode = prof.sport_mode[ph]
    lo = prof.sport_lo[ph].astype(np.int64)
    span = prof.sport_hi[ph].astype(np.int64) - lo + 1
    out = prof.sport_base[ph].astype(np.int64)
    random_ = mode == SrcPort.RANDOM
    out[random_] = lo[random_] + rng.integers(0, span[random_])
    # A host-wide counter advanced by this scan's connections and, now and then, other traffic.
    steps = rng.geometric(0.7, ph.size)
    counter = _segmented_cumsum(steps, ph) + rng.integers(0, 1 << 16, len(prof.host))[ph]
    seq_ = mode == SrcPort.SEQUENTIAL
    out[seq_] = lo[seq_] + counter[seq_] % span[seq_]
    return out.astype(np.uint16)


def _draw_ip_ids(rng: np.random.Generator, prof: HostProfiles, ph: np.ndarray) -> np.ndarray:
    """IP ID of each probe's first copy, by its host's :class:`IpId` mode."""
    mode = prof.ip_id_mode[ph]
    out = rng.integers(0, 1 << 16, ph.size)
    fixed = mode == IpId.FIXED
    out[fixed] = prof.ip_id_base[ph[fixed]]
    counter = mode == IpId.COUNTER
    # Every packet the host sends elsewhere between two probes seen here also takes an ID.
    steps = rng.geometric(1.0 / prof.ip_id_step[ph], ph.size)
    ids = _segmented_cumsum(steps, ph) + prof.ip_id_base[ph].astype(np.int64)
    out[counter] = ids[counter]
    return (out % (1 << 16)).astype(np.uint16)


def _segmented_cumsum(values: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """Cumulative sum restarting at each new value of the sorted ``segment`` array."""
    total = np.cumsum(values)
    counts = np.bincount(segment)
    starts = np.cumsum(counts) - counts
    offset = (total - values)[starts[counts > 0]]
    return total - np.repeat(offset, counts[counts > 0])


def _emit(
    rng: np.random.Generator,
    prof: HostProfiles,
    counts: np.ndarray,
    src_ip: np.ndarray,
    telescope: ipaddress.IPv4Network,
    noise: Noise,
    start_us: int,
) -> SynPackets:
    """``counts[i]`` SYN packets of the i-th host of ``prof``, host by host (not in time order)."""
    ph = np.repeat(np.arange(len(prof.host)), counts)  # one probe per packet to be kept
    n = ph.size
    times = _probe_times(rng, prof, ph, noise)

    # Kernel stacks retransmit an unanswered SYN; the telescope never answers. A lost original
    # leaves only its retransmissions.
    p = prof.retx_prob[ph]
    first_retx = rng.random(n) < p
    retx = first_retx.astype(np.int64) + (first_retx & (rng.random(n) < p))
    lost = (retx > 0) & (rng.random(n) < noise.loss)
    copies = retx + 1 - lost

    dst = int(telescope.network_address) + rng.integers(0, telescope.num_addresses, n)
    probe = {
        "dst_ip": dst.astype(np.uint32),
        "dst_port": _draw_ports(rng, prof, ph),
        "src_port": _draw_src_ports(rng, prof, ph),
        "seq": np.where(prof.seq_is_dst[ph], dst, rng.integers(0, 1 << 32, n)).astype(np.uint32),
        "ip_id": _draw_ip_ids(rng, prof, ph),
        "flap": rng.random(n) < prof.flap[ph],
        "conn_ts": rng.integers(0, 1 << 32, n),
    }

    pk = np.repeat(np.arange(n), copies)
    copy = _segment_positions(copies) + lost[pk]
    host_row = ph[pk]
    rto = np.concatenate([np.zeros((len(prof.host), 1)), np.cumsum(prof.rto, axis=1)], axis=1)
    delay = rto[host_row, copy] * (1 + 0.002 * rng.random(pk.size))
    seconds = times[pk] + delay
    keep = _segment_positions(np.bincount(host_row, minlength=len(prof.host))) < counts[host_row]
    pk, copy, host_row, seconds = pk[keep], copy[keep], host_row[keep], seconds[keep]

    hops = np.where(probe["flap"][pk], prof.flap_hops[host_row], prof.hops[host_row])
    ttl = np.clip(prof.initial_ttl[host_row].astype(np.int64) - hops, 1, 255)
    hz = prof.ts_hz[host_row]
    clock = np.where(hz > 0, prof.ts_offset[host_row], probe["conn_ts"][pk])
    # Old kernels: one host clock at ts_hz; Linux >= 4.10: a random offset per connection, 1 kHz.
    ticks = np.where(hz > 0, seconds * hz, delay[keep] * 1000.0).astype(np.int64)
    tsval = (clock + ticks) % (1 << 32)
    packets = SynPackets(
        ts_us=start_us + np.rint(seconds * 1e6).astype(np.int64),
        src_ip=src_ip[prof.host[host_row]],
        dst_ip=probe["dst_ip"][pk],
        ttl=ttl.astype(np.uint8),
        ip_id=((probe["ip_id"][pk].astype(np.int64) + copy) % (1 << 16)).astype(np.uint16),
        df=prof.df[host_row],
        src_port=probe["src_port"][pk],
        dst_port=probe["dst_port"][pk],
        seq=probe["seq"][pk],
        window=prof.window[host_row].astype(np.uint16),
        flags=prof.flags[host_row].astype(np.uint8),
        layout=prof.layout[host_row].astype(np.uint8),
        mss=prof.mss[host_row].astype(np.uint16),
        wscale=prof.wscale[host_row].astype(np.uint8),
        tsval=tsval.astype(np.uint32),
    )
    return packets


# --- the capture -------------------------------------------------------------------------------

_RESERVED = tuple(
    ipaddress.IPv4Network(net)
    for net in ("10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12")
    + ("192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.51.100.0/24", "203.0.113.0/24")
)


def _source_addresses(
    rng: np.random.Generator, k: int, telescope: ipaddress.IPv4Network
) -> np.ndarray:
    """``k`` distinct unicast, publicly routable-looking IPv4 addresses outside the telescope."""
    out = np.empty(0, dtype=np.uint32)
    while out.size < k:
        draw = rng.integers(1 << 24, 224 << 24, 2 * k + 16, dtype=np.int64)
        bad = np.zeros(draw.size, dtype=bool)
        for net in (*_RESERVED, telescope):
            low = int(net.network_address)
            bad |= (draw >= low) & (draw < low + net.num_addresses)
        out = np.concatenate([out, draw[~bad].astype(np.uint32)])
        _, first = np.unique(out, return_index=True)
        out = out[np.sort(first)]
    return out[:k]


def _family_sizes(hosts: int, iot_fraction: float, difficulty: float) -> dict[str, int]:
    """Hosts per family: exact label totals split by the families' shares, largest remainder."""
    iot = round(hosts * iot_fraction)
    sizes: dict[str, int] = {}
    for label, total in (("iot", iot), ("non-iot", hosts - iot)):
        members = [f for f in FAMILIES if f.label == label]
        weights = np.array([f.share(difficulty) for f in members])
        exact = total * weights / weights.sum()
        floor = np.floor(exact).astype(int)
        floor[np.argsort(floor - exact, kind="stable")[: total - floor.sum()]] += 1
        sizes |= {f.name: int(size) for f, size in zip(members, floor, strict=True)}
    return sizes


def _check(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value!r}")


def simulate_packets(
    *,
    hosts: int = 2000,
    iot_fraction: float = 0.17,
    min_packets: int = 20,
    max_packets: int = 400,
    seed: int = 0,
    difficulty: float = 0.5,
    start_time: float = 1_700_000_000.0,
    telescope: str = TELESCOPE_PREFIX,
) -> tuple[SynPackets, list[tuple[str, str, str]]]:
    """The capture's packets in time order and its ``(host, label, family)`` rows, unwritten."""
    _check("hosts", hosts, 1, 10**8)
    _check("iot_fraction", iot_fraction, 0.0, 1.0)
    if min_packets < 2:
        raise ValueError(
            f"min_packets must be at least 2 (a NAT address carries two stacks), got {min_packets}"
        )
    _check("max_packets", max_packets, min_packets, 10**6)
    _check("difficulty", difficulty, 0.0, 1.0)
    try:
        network = ipaddress.IPv4Network(telescope, strict=False)
    except ValueError as error:
        raise ValueError(
            f"telescope prefix {telescope!r} is not an IPv4 network: {error}"
        ) from None
    rng = np.random.default_rng(seed)
    noise = noise_for(difficulty)
    addresses = _source_addresses(rng, hosts, network)
    counts = rng.integers(min_packets, max_packets + 1, hosts)
    order = rng.permutation(hosts)
    start_us = int(round(start_time * 1e6))

    parts: list[SynPackets] = []
    rows: list[tuple[str, str, str]] = []
    begin = 0
    sizes = _family_sizes(hosts, iot_fraction, difficulty)
    for family in FAMILIES:
        size = sizes[family.name]
        members = np.sort(order[begin : begin + size])
        begin += size
        if size == 0:
            continue
        profiles = family.generate(rng, members, difficulty, noise)
        for prof, share in zip(
            profiles, _split_counts(rng, counts[members], len(profiles)), strict=True
        ):
            parts.append(_emit(rng, prof, share, addresses, network, noise, start_us))
        rows.extend(
            (str(ipaddress.IPv4Address(int(addresses[h]))), family.label, family.name)
            for h in members
        )
    packets = SynPackets.concatenate(parts)
    packets = packets.take(np.argsort(packets.ts_us, kind="stable"))
    rows.sort(key=lambda row: int(ipaddress.IPv4Address(row[0])))
    return packets, rows


def _split_counts(rng: np.random.Generator, counts: np.ndarray, ways: int) -> list[np.ndarray]:
    """Split each host's packet count between the stacks sharing its address (at least 1 each)."""
    if ways == 1:
        return [counts]
    if ways != 2:
        raise ValueError(f"cannot split hosts between {ways} stacks")
    share = rng.uniform(0.15, 0.85, counts.size)
    first = np.clip(rng.binomial(counts - 2, share) + 1, 1, counts - 1)
    return [first, counts - first]


def simulate_telescope(
    pcap_path: str | Path,
    labels_path: str | Path,
    *,
    hosts: int = 2000,
    iot_fraction: float = 0.17,
    min_packets: int = 20,
    max_packets: int = 400,
    seed: int = 0,
    difficulty: float = 0.5,
    start_time: float = 1_700_000_000.0,
    telescope: str = TELESCOPE_PREFIX,
    progress: Callable[[int, int], None] | None = None,
) -> SimulationSummary:
    """Write a synthetic telescope capture (classic pcap, Ethernet) and its ``labels.csv``.

    ``hosts`` sources, ``round(hosts * iot_fraction)`` of them IoT, each sending between
    ``min_packets`` and ``max_packets`` SYNs (uniformly drawn, the same for every family, so the
    count itself says nothing about the label), interleaved in time order from ``start_time``
    (seconds since the epoch). ``difficulty`` in [0, 1] mixes in the look-alike populations and
    per-packet noise. ``progress(done, total)`` is called as packets are written. Both files are
    written atomically; the same arguments give the same bytes.
    """
    parameters = {
        "hosts": hosts,
        "iot_fraction": iot_fraction,
        "min_packets": min_packets,
        "max_packets": max_packets,
        "seed": seed,
        "difficulty": difficulty,
        "start_time": start_time,
        "telescope": telescope,
    }
    packets, rows = simulate_packets(**parameters)
    with atomic_path(pcap_path) as tmp, tmp.open("wb") as stream:
        done = 0

        def advance(step: int) -> None:
            nonlocal done
            done += step
            if progress is not None:
                progress(done, len(packets))

        written = write_pcap(stream, packets, progress=advance)
    with atomic_path(labels_path) as tmp, tmp.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["host", "label", "family"])
        writer.writerows(rows)
    families: dict[str, int] = {}
    for _, _, family in rows:
        families[family] = families.get(family, 0) + 1
    return SimulationSummary(
        pcap_path=Path(pcap_path),
        labels_path=Path(labels_path),
        hosts=len(rows),
        iot_hosts=sum(label == "iot" for _, label, _ in rows),
        packets=len(packets),
        bytes=written,
        families=families,
        parameters=parameters,
    )
