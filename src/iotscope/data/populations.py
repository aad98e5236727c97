"""The populations of the simulated telescope: who scans, with which stack, how often.

Each population (a :class:`Family`) draws per-host generator parameters, a
:class:`HostProfiles`, grounded in published scanner fingerprints (p0f signatures, JA4T
write-ups, the Mirai source); :mod:`iotscope.data.simulate` turns profiles into packets.

IoT (label ``iot``)
    ``mirai``: Mirai-family bots: raw SYNs without options, TCP sequence number equal to the
    destination address, initial TTL 64, a fixed random window and source port per bot, random
    IP ID, port 23 for about 90% and 2323 for 10% of probes; variants add 80, 8080, 5555,
    37215, 52869, 7547. Bursty timing. ``busybox``: old-Linux/BusyBox ``connect()`` scanners
    (options mss,sok,ts,nop,ws and two older layouts; windows 5840/14600/29200; small window
    scales; 100-250 Hz timestamp clocks; kernel retransmissions; bursty). ``android``: ADB worms
    on TV boxes (modern Linux stack, window 65535, port 5555). ``mirai-nat``: a Mirai bot behind
    a NAT that also carries a Windows PC's scanning, so one address mixes two stacks.
non-IoT (label ``non-iot``)
    ``crafted``: commodity raw-socket scanners and botnets with initial TTL 255 and (mostly) no
    options, the bulk of real darknet traffic. ``zmap`` (IP ID 54321, window 65535), ``masscan``
    (window 1024, fixed source port), ``nmap`` (window 1024-4096 with MSS, TTL 37-59),
    ``windows`` (infected hosts: TTL 128, windows 8192/64240/65535, mss,nop,ws,nop,nop,sok,
    ports 445/139/1433/3389, a host-wide IP ID counter, sequential source ports),
    ``linux-server`` (cloud VMs: window 64240 with wscale 7, ports 22/6379/2375/80/...; older
    servers on 2.6/3.x kernels with the windows of old IoT stacks), and ``server-mirai``:
    Linux servers running Mirai variants, whose single packets look exactly like an IoT bot's.

``difficulty`` (0..1) sets how much of what a single packet cannot tell apart is mixed in: the
share of the look-alike populations (``server-mirai``, ``mirai-nat``, old-kernel servers), how
close the look-alikes' port mixes and timing are to the IoT bots', and the per-packet
:class:`Noise`. What separates the look-alikes shows only over many packets: port mixes,
burstiness and rate, a second stack behind a NAT.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from enum import IntEnum

import numpy as np

from iotscope.features import option_layout_code

_LINUX = option_layout_code("mss,sok,ts,nop,ws")
_WINDOWS = option_layout_code("mss,nop,ws,nop,nop,sok")
_WINDOWS_NOWS = option_layout_code("mss,nop,nop,sok")
_BUSYBOX = option_layout_code("mss,nop,nop,ts,nop,ws")
_LINUX_NOWS = option_layout_code("mss,sok,ts")
_MSS_ONLY = option_layout_code("mss")


class IpId(IntEnum):
    """How a host fills the IP ID field."""

    RANDOM = 0  # per packet (Mirai, nmap, masscan) or per connection (Linux)
    FIXED = 1  # one value (zmap's 54321)
    COUNTER = 2  # a host-wide counter that other traffic also advances (Windows)


class SrcPort(IntEnum):
    """How a host picks TCP source ports."""

    FIXED = 0  # one port for the whole scan (Mirai, masscan, nmap)
    RANDOM = 1  # per connection in [lo, hi] (Linux, zmap)
    SEQUENTIAL = 2  # a host-wide ephemeral counter (Windows)


@dataclass
class HostProfiles:
    """Per-host generator parameters of one population: every field has one entry per host."""

    host: np.ndarray  # index into the simulation's address table
    initial_ttl: np.ndarray
    hops: np.ndarray  # usual hop count to the telescope
    flap_hops: np.ndarray  # hop count on the alternative route
    flap: np.ndarray  # per-packet probability of taking the alternative route
    ip_id_mode: np.ndarray
    ip_id_base: np.ndarray
    ip_id_step: np.ndarray  # mean counter increment between two packets seen (COUNTER mode)
    df: np.ndarray
    sport_mode: np.ndarray
    sport_base: np.ndarray
    sport_lo: np.ndarray
    sport_hi: np.ndarray
    seq_is_dst: np.ndarray
    window: np.ndarray
    flags: np.ndarray
    layout: np.ndarray
    mss: np.ndarray
    wscale: np.ndarray
    ts_hz: np.ndarray  # timestamp clock rate; 0 = randomised per connection (Linux >= 4.10)
    ts_offset: np.ndarray
    ports: np.ndarray  # (hosts, P) destination ports
    port_cdf: np.ndarray  # (hosts, P) cumulative probabilities of ``ports``
    random_port: np.ndarray  # share of probes to a uniformly random port
    rate: np.ndarray  # probes per second seen by the telescope while active
    gap_prob: np.ndarray  # probability that a probe is followed by an idle gap
    gap_mean: np.ndarray  # mean idle gap in seconds
    start: np.ndarray  # first probe, seconds after the capture start
    retx_prob: np.ndarray  # probability of each SYN retransmission (kernel stacks only)
    rto: np.ndarray  # (hosts, 2) seconds from a SYN to its first and second retransmission


@dataclass(frozen=True)
class Noise:
    """Per-packet noise levels derived from the difficulty."""

    jitter: float  # sigma of the log-normal factor on inter-arrival times
    loss: float  # probability that an original SYN is lost when a retransmission follows
    flap: float  # upper bound of the per-host route-flap probability


def noise_for(difficulty: float) -> Noise:
    """Timing jitter, loss before retransmission and route flaps grow with the difficulty."""
    return Noise(jitter=0.2 + 0.6 * difficulty, loss=0.3 * difficulty, flap=0.3 * difficulty)


def _log_uniform(rng: np.random.Generator, low: float, high: float, k: int) -> np.ndarray:
    return np.exp(rng.uniform(np.log(low), np.log(high), k))


def _pick(rng: np.random.Generator, values: list, weights: list[float], k: int) -> np.ndarray:
    weights_ = np.asarray(weights, dtype=float)
    return np.asarray(values)[rng.choice(len(values), size=k, p=weights_ / weights_.sum())]


def _port_mix(
    rng: np.random.Generator, k: int, ports: list[int], mean: list[float], concentration: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per-host port tables: Dirichlet draws around ``mean`` (``inf`` concentration: exact)."""
    mean_ = np.asarray(mean, dtype=float) / np.sum(mean)
    if np.isinf(concentration):
        probs = np.broadcast_to(mean_, (k, len(ports)))
    else:
        probs = rng.dirichlet(mean_ * concentration, size=k)
    table = np.broadcast_to(np.asarray(ports, dtype=np.uint16), (k, len(ports)))
    return table.copy(), np.cumsum(probs, axis=1)


def _merge_ports(
    first: tuple[np.ndarray, np.ndarray], second: tuple[np.ndarray, np.ndarray], take: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per host, the port table of ``second`` where ``take`` else ``first`` (same width)."""
    return np.where(take[:, None], second[0], first[0]), np.where(
        take[:, None], second[1], first[1]
    )


def _profiles(
    rng: np.random.Generator, host: np.ndarray, noise: Noise, **values: object
) -> HostProfiles:
    """Profiles of ``len(host)`` hosts: defaults, overridden by ``values`` (scalars broadcast)."""
    k = len(host)
    hops = np.clip(np.rint(rng.normal(14, 4, k)), 3, 30).astype(np.int16)
    flap_hops = np.clip(hops + rng.choice([-2, -1, 1, 2], size=k), 1, 30)
    defaults: dict[str, object] = {
        "initial_ttl": 64,
        "hops": hops,
        "flap_hops": flap_hops,
        "flap": rng.uniform(0, noise.flap, k) * (rng.random(k) < 0.5),
        "ip_id_mode": IpId.RANDOM,
        "ip_id_base": rng.integers(0, 1 << 16, k),
        "ip_id_step": 1.0,
        "df": False,
        "sport_mode": SrcPort.RANDOM,
        "sport_base": rng.integers(1024, 1 << 16, k),
        "sport_lo": 32768,
        "sport_hi": 60999,
        "seq_is_dst": False,
        "flags": 0x02,
        "layout": 0,
        "mss": 1460,
        "wscale": 0,
        "ts_hz": 0.0,
        "ts_offset": rng.integers(0, 1 << 32, k),
        "random_port": 0.0,
        "gap_prob": 0.0,
        "gap_mean": 60.0,
        "start": rng.uniform(0, 3600, k),
        "retx_prob": 0.0,
        "rto": np.array([1.0, 3.0]),
    }
    unknown = set(values) - {f.name for f in fields(HostProfiles)}
    if unknown:
        raise TypeError(f"unknown host profile fields: {sorted(unknown)}")
    merged = defaults | values
    out = {"host": host}
    for name in (f.name for f in fields(HostProfiles) if f.name != "host"):
        value = np.asarray(merged[name])
        wide = name in ("ports", "port_cdf", "rto")
        shape = (k, value.shape[-1]) if wide else (k,)
        out[name] = np.broadcast_to(value, shape).copy()
    return HostProfiles(**out)


# --- populations -------------------------------------------------------------------------------
# Each takes (rng, host indices, difficulty, noise) and returns one or more HostProfiles sharing
# those host indices (several for a NAT address carrying two stacks).

_MIRAI_VARIANT_PORTS = [23, 2323, 80, 8080, 5555, 37215, 52869, 7547, 81, 8443, 22, 6379]
_MIRAI_IOT_MIX = [0.58, 0.07, 0.07, 0.06, 0.06, 0.05, 0.05, 0.04, 0.01, 0.01, 0.0, 0.0]
_MIRAI_SERVER_MIX = [0.25, 0.05, 0.12, 0.12, 0.1, 0.08, 0.08, 0.06, 0.02, 0.02, 0.05, 0.05]


def _mirai_bots(
    rng: np.random.Generator, host: np.ndarray, difficulty: float, noise: Noise, *, server: bool
) -> HostProfiles:
    """Mirai-family scanners; ``server`` for non-IoT Linux servers running a variant."""
    k = len(host)
    plain = _port_mix(rng, k, _MIRAI_VARIANT_PORTS, [0.9, 0.1] + [0.0] * 10, np.inf)
    if server:
        # Variants on servers scan a wider port mix, steadily and faster; with difficulty their
        # mix and timing move towards the IoT bots' until single hosts are ambiguous.
        pull = 0.75 * difficulty
        mix = (1 - pull) * np.array(_MIRAI_SERVER_MIX) + pull * np.array(_MIRAI_IOT_MIX)
        variant = _port_mix(rng, k, _MIRAI_VARIANT_PORTS, list(mix + 1e-3), 20.0)
        # The rest run the plain 23/2323 scanner: nothing in their ports tells them apart.
        ports = _merge_ports(plain, variant, rng.random(k) < 0.85 - 0.4 * difficulty)
        bursty = rng.random(k) < 0.6 * difficulty
        rate = _log_uniform(rng, 0.05, 3.0, k)
    else:
        variant = _port_mix(rng, k, _MIRAI_VARIANT_PORTS, [m + 1e-3 for m in _MIRAI_IOT_MIX], 20.0)
        ports = _merge_ports(plain, variant, rng.random(k) < 0.4)
        bursty = rng.random(k) < 0.9
        rate = _log_uniform(rng, 0.02, 1.0, k)
    return _profiles(
        rng,
        host,
        noise,
        ip_id_mode=IpId.RANDOM,
        sport_mode=SrcPort.FIXED,
        seq_is_dst=True,
        window=rng.integers(1, 1 << 16, k),
        ports=ports[0],
        port_cdf=ports[1],
        rate=rate,
        gap_prob=np.where(bursty, rng.uniform(0.02, 0.15, k), 0.0),
        gap_mean=_log_uniform(rng, 30, 900, k),
    )


def _iot_mirai(
    rng: np.random.Generator, host: np.ndarray, difficulty: float, noise: Noise
) -> list[HostProfiles]:
    return [_mirai_bots(rng, host, difficulty, noise, server=False)]


def _server_mirai(
    rng: np.random.Generator, host: np.ndarray, difficulty: float, noise: Noise
) -> list[HostProfiles]:
    return [_mirai_bots(rng, host, difficulty, noise, server=True)]


def _busybox(
    rng: np.random.Generator, host: np.ndarray, difficulty: float, noise: Noise
) -> list[HostProfiles]:
    """Old-kernel IoT stacks scanning with connect(): bursty, telnet-heavy, retransmitting."""
    k = len(host)
    ports = [23, 2323, 22, 80, 8080, 81, 5555, 7547, 37215, 52869, 8443, 88]
    mix = _port_mix(
        rng, k, ports, [0.4, 0.1, 0.12, 0.1, 0.08, 0.04, 0.04, 0.04, 0.03, 0.03, 0.01, 0.01], 10.0
    )
    window = _pick(rng, [5840, 14600, 29200], [0.3, 0.35, 0.35], k)
    old = window == 5840  # 2.6 kernels: 3 s initial RTO
    return [
        _profiles(
            rng,
            host,
            noise,
            df=True,
            window=window,
            layout=_pick(rng, [_LINUX, _BUSYBOX, _LINUX_NOWS], [0.75, 0.15, 0.1], k),
            mss=_pick(rng, [1460, 1452, 1440, 1400], [0.7, 0.15, 0.1, 0.05], k),
            wscale=_pick(rng, [0, 1, 2, 3, 4, 5, 6, 7], [1, 2, 4, 4, 2, 2, 2, 3], k),
            ts_hz=_pick(rng, [100.0, 250.0], [0.6, 0.4], k),
            ports=mix[0],
            port_cdf=mix[1],
            random_port=0.02,
            rate=_log_uniform(rng, 0.05, 2.0, k),
            gap_prob=rng.uniform(0.03, 0.2, k),
            gap_mean=_log_uniform(rng, 30, 900, k),
            retx_prob=rng.uniform(0.2, 0.7, k),
            rto=np.where(old[:, None], [3.0, 6.0], [1.0, 2.0]),
        )
    ]


def _android(
    rng: np.random.Generator, host: np.ndarray, difficulty: float, noise: Noise
) -> list[HostProfiles]:
    """ADB worms on Android TV boxes: a modern Linux stack hunting port 5555."""
    k = len(host)
    mix = _port_mix(rng, k, [5555, 5554, 23, 80, 8080], [0.8, 0.05, 0.05, 0.05, 0.05], 15.0)
    return [
        _profiles(
            rng,
            host,
            noise,
            df=True,
            window=65535,
            layout=_LINUX,
            mss=_pick(rng, [1460, 1400], [0.8, 0.2], k),
            wscale=_pick(rng, [6, 7, 8, 9], [0.3, 0.2, 0.3, 0.2], k),
            ports=mix[0],
            port_cdf=mix[1],
            rate=_log_uniform(rng, 0.02, 1.0, k),
            gap_prob=rng.uniform(0.0, 0.1, k),
            gap_mean=_log_uniform(rng, 30, 600, k),
            retx_prob=rng.uniform(0.2, 0.6, k),
        )
    ]


def _crafted(
    rng: np.random.Generator, host: np.ndarray, difficulty: float, noise: Noise
) -> list[HostProfiles]:
    """Raw-socket scanners and botnets with initial TTL 255 and no options."""
    k = len(host)
    ports = [23, 80, 8080, 22, 443, 445, 3389, 5555, 6379, 1433, 8443, 81]
    mix = _port_mix(
        rng, k, ports, [0.12, 0.12, 0.1, 0.1, 0.08, 0.08, 0.08, 0.08, 0.06, 0.06, 0.06, 0.06], 2.0
    )
    with_mss = rng.random(k) < 0.1
    return [
        _profiles(
            rng,
            host,
            noise,
            initial_ttl=255,
            sport_mode=_pick(rng, [SrcPort.FIXED, SrcPort.RANDOM], [0.5, 0.5], k),
            sport_lo=1024,
            sport_hi=65535,
            window=_pick(
                rng,
                [1024, 65535, 29200, 14600, 5840, 8192, 16384],
                [0.3, 0.3, 0.1, 0.1, 0.05, 0.1, 0.05],
                k,
            ),
            layout=np.where(with_mss, _MSS_ONLY, 0),
            ports=mix[0],
            port_cdf=mix[1],
            random_port=rng.uniform(0.0, 1.0, k),
            rate=_log_uniform(rng, 0.02, 5.0, k),
            gap_prob=rng.uniform(0.0, 0.05, k),
        )
    ]


def _zmap(
    rng: np.random.Generator, host: np.ndarray, difficulty: float, noise: Noise
) -> list[HostProfiles]:
    """ZMap: IP ID 54321, window 65535, no options, one port per scan."""
    k = len(host)
    one = _port_mix(rng, k, [80, 443, 22, 23, 8080, 3389, 445, 7547], [1] * 8, 0.05)
    return [
        _profiles(
            rng,
            host,
            noise,
            initial_ttl=255,
            ip_id_mode=IpId.FIXED,
            ip_id_base=54321,
            window=65535,
            ports=one[0],
            port_cdf=one[1],
            random_port=_pick(rng, [0.0, 1.0], [0.7, 0.3], k),
            rate=_log_uniform(rng, 0.1, 10.0, k),
        )
    ]


def _masscan(
    rng: np.random.Generator, host: np.ndarray, difficulty: float, noise: Noise
) -> list[HostProfiles]:
    """Masscan: window 1024, no options, fixed source port, ports over wide ranges."""
    k = len(host)
    mix = _port_mix(rng, k, [80, 443, 8080, 22, 3389, 6379], [1] * 6, 1.0)
    return [
        _profiles(
            rng,
            host,
            noise,
            initial_ttl=255,
            sport_mode=SrcPort.FIXED,
            window=1024,
            ports=mix[0],
            port_cdf=mix[1],
            random_port=rng.uniform(0.3, 1.0, k),
            rate=_log_uniform(rng, 0.1, 10.0, k),
        )
    ]


def _nmap(
    rng: np.random.Generator, host: np.ndarray, difficulty: float, noise: Noise
) -> list[HostProfiles]:
    """Nmap SYN scan: window 1024-4096 with an MSS option, random TTL 37-59."""
    k = len(host)
    top = [80, 23, 443, 21, 22, 25, 3389, 110, 445, 139, 143, 53, 135, 3306, 8080, 1723]
    mix = _port_mix(rng, k, top, [1] * len(top), 5.0)
    return [
        _profiles(
            rng,
            host,
            noise,
            initial_ttl=rng.integers(37, 60, k),
            hops=np.zeros(k, dtype=np.int16),  # the TTL is drawn as received
            flap_hops=np.zeros(k, dtype=np.int16),
            sport_mode=SrcPort.FIXED,
            window=_pick(rng, [1024, 2048, 3072, 4096], [0.7, 0.1, 0.1, 0.1], k),
            layout=_MSS_ONLY,
            ports=mix[0],
            port_cdf=mix[1],
            random_port=0.3,
            rate=_log_uniform(rng, 0.05, 5.0, k),
        )
    ]


def _windows_stack(
    rng: np.random.Generator, host: np.ndarray, noise: Noise, **values: object
) -> HostProfiles:
    """Windows 7, 10/11 and XP-era stacks; ``values`` override the drawn parameters."""
    k = len(host)
    version = rng.choice(3, size=k, p=[0.35, 0.5, 0.15])  # 7, 10/11, XP/2003
    mix = _port_mix(
        rng, k, [445, 139, 1433, 3389, 135, 80], [0.55, 0.12, 0.12, 0.12, 0.05, 0.04], 8.0
    )
    defaults = dict(
        initial_ttl=128,
        ip_id_mode=IpId.COUNTER,
        ip_id_step=_log_uniform(rng, 2.0, 2000.0, k),
        df=True,
        sport_mode=SrcPort.SEQUENTIAL,
        sport_lo=np.where(version == 2, 1025, 49152),
        sport_hi=np.where(version == 2, 5000, 65535),
        window=np.choose(version, [8192, 64240, 65535]),
        layout=np.where(version == 2, _WINDOWS_NOWS, _WINDOWS),
        wscale=np.where(version == 0, 2, 8),
        ports=mix[0],
        port_cdf=mix[1],
        rate=_log_uniform(rng, 0.02, 2.0, k),
        gap_prob=rng.uniform(0.0, 0.05, k),
        retx_prob=rng.uniform(0.3, 0.8, k),
        rto=np.where((version == 1)[:, None], [1.0, 2.0], [3.0, 6.0]),
    )
    return _profiles(rng, host, noise, **(defaults | values))


def _windows(
    rng: np.random.Generator, host: np.ndarray, difficulty: float, noise: Noise
) -> list[HostProfiles]:
    """Infected Windows hosts spreading over SMB, NetBIOS, MSSQL and RDP."""
    return [_windows_stack(rng, host, noise)]


def _linux_server(
    rng: np.random.Generator, host: np.ndarray, difficulty: float, noise: Noise
) -> list[HostProfiles]:
    """Cloud VMs and servers scanning with connect(): modern kernel options, wscale 7."""
    k = len(host)
    ports = [22, 6379, 2375, 80, 8080, 443, 3306, 5432, 9200, 23, 2376, 7001, 8088, 27017]
    mean = [0.3, 0.1, 0.08, 0.1, 0.08, 0.06, 0.06, 0.04, 0.04, 0.05, 0.03, 0.02, 0.02, 0.02]
    mix = _port_mix(rng, k, ports, mean, 6.0)
    # Long-lived servers on 2.6/3.x kernels send the same windows as old IoT stacks.
    old = rng.random(k) < 0.15 + 0.6 * difficulty
    window = np.where(
        old,
        _pick(rng, [29200, 14600, 5840], [1, 1, 1], k),
        _pick(rng, [64240, 62727], [0.92, 0.08], k),
    )
    return [
        _profiles(
            rng,
            host,
            noise,
            df=True,
            flags=_pick(rng, [0x02, 0xC2], [0.8, 0.2], k),  # some servers ask for ECN
            window=window,
            layout=_LINUX,
            mss=_pick(rng, [1460, 1448, 1420, 8961], [0.6, 0.15, 0.15, 0.1], k),
            wscale=7,
            ports=mix[0],
            port_cdf=mix[1],
            random_port=rng.uniform(0.0, 0.2, k),
            rate=_log_uniform(rng, 0.05, 5.0, k),
            gap_prob=rng.uniform(0.0, 0.05, k),
            retx_prob=rng.uniform(0.2, 0.7, k),
            rto=np.where((window == 5840)[:, None], [3.0, 6.0], [1.0, 2.0]),
        )
    ]


def _mirai_nat(
    rng: np.random.Generator, host: np.ndarray, difficulty: float, noise: Noise
) -> list[HostProfiles]:
    """A Mirai bot and a Windows PC behind one NAT address, on the same path (same hops)."""
    bot = _mirai_bots(rng, host, difficulty, noise, server=False)
    pc = _windows_stack(rng, host, noise, hops=bot.hops, flap_hops=bot.flap_hops, flap=bot.flap)
    return [bot, pc]


Population = Callable[[np.random.Generator, np.ndarray, float, Noise], list[HostProfiles]]


@dataclass(frozen=True)
class Family:
    """One generating population: its label and its share of the IoT or non-IoT hosts."""

    name: str
    label: str
    generate: Population
    share: Callable[[float], float]  # difficulty -> unnormalised weight within its label


FAMILIES: tuple[Family, ...] = (
    Family("mirai", "iot", _iot_mirai, lambda d: 0.5),
    Family("busybox", "iot", _busybox, lambda d: 0.25),
    Family("android", "iot", _android, lambda d: 0.06),
    Family("mirai-nat", "iot", _mirai_nat, lambda d: 0.05 + 0.3 * d),
    Family("crafted", "non-iot", _crafted, lambda d: 0.42),
    Family("zmap", "non-iot", _zmap, lambda d: 0.08),
    Family("masscan", "non-iot", _masscan, lambda d: 0.08),
    Family("nmap", "non-iot", _nmap, lambda d: 0.04),
    Family("windows", "non-iot", _windows, lambda d: 0.12),
    Family("linux-server", "non-iot", _linux_server, lambda d: 0.14),
    Family("server-mirai", "non-iot", _server_mirai, lambda d: 0.04 + 0.2 * d),
)
