"""A tiny, independent capture writer for the ingest tests: frames built with struct, byte by byte.

Deliberately written without any of iotscope's code, so that a test reading these files back
through :mod:`iotscope.data.pcap` checks the parser against a second implementation.
"""

from __future__ import annotations

import gzip
import ipaddress
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

SYN, ACK = 0x02, 0x10


def nop() -> bytes:
    return b"\x01"


def eol() -> bytes:
    return b"\x00"


def mss(value: int) -> bytes:
    return struct.pack(">BBH", 2, 4, value)


def ws(shift: int) -> bytes:
    return struct.pack(">BBB", 3, 3, shift)


def sok() -> bytes:
    return b"\x04\x02"


def ts(value: int, echo: int = 0) -> bytes:
    return struct.pack(">BBII", 8, 10, value, echo)


def ipv4(src: str, dst: str, proto: int, payload: bytes, *, ttl: int = 64, ip_id: int = 1,
         df: bool = False, frag: int = 0, ip_options: bytes = b"") -> bytes:  # fmt: skip
    """An IPv4 header (``ip_options`` a multiple of 4 bytes) in front of ``payload``."""
    length = 20 + len(ip_options)
    header = struct.pack(
        ">BBHHHBBH4s4s", 0x40 | length // 4, 0, length + len(payload), ip_id,
        (0x4000 if df else 0) | frag, ttl, proto, 0, ipaddress.IPv4Address(src).packed,
        ipaddress.IPv4Address(dst).packed,
    )  # fmt: skip
    return header + ip_options + payload


def tcp(sport: int, dport: int, *, seq: int = 0, flags: int = SYN, window: int = 1024,
        options: bytes = b"") -> bytes:  # fmt: skip
    options += b"\x00" * (-len(options) % 4)
    offset = (20 + len(options)) // 4
    return (
        struct.pack(">HHIIBBHHH", sport, dport, seq, 0, offset << 4, flags, window, 0, 0) + options
    )


def syn(src: str = "198.51.100.7", dst: str = "203.0.113.9", *, sport: int = 40000,
        dport: int = 23, seq: int = 7, flags: int = SYN, window: int = 1024, options: bytes = b"",
        ttl: int = 64, ip_id: int = 1, df: bool = False) -> bytes:  # fmt: skip
    """An IPv4 TCP packet (a SYN unless ``flags`` says otherwise)."""
    segment = tcp(sport, dport, seq=seq, flags=flags, window=window, options=options)
    return ipv4(src, dst, 6, segment, ttl=ttl, ip_id=ip_id, df=df)


def udp(src: str = "198.51.100.7", dst: str = "203.0.113.9") -> bytes:
    return ipv4(src, dst, 17, struct.pack(">HHHH", 5353, 53, 8, 0))


def ipv6_tcp() -> bytes:
    segment = tcp(40000, 80)
    src = ipaddress.IPv6Address("2001:db8::1").packed
    dst = ipaddress.IPv6Address("2001:db8::2").packed
    return struct.pack(">IHBB", 6 << 28, len(segment), 6, 64) + src + dst + segment


def arp() -> bytes:
    return bytes.fromhex("0001080006040001") + bytes(20)


def mac_bytes(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


def ethernet(payload: bytes, *, src: str = "02:00:00:00:00:01", dst: str = "02:00:00:00:00:02",
             ethertype: int = 0x0800, vlans: Sequence[int] = ()) -> bytes:  # fmt: skip
    """An Ethernet II frame; ``vlans`` are TPIDs of stacked tags (0x88A8 outer, 0x8100 inner)."""
    tags = b"".join(struct.pack(">HH", tpid, 100 + i) for i, tpid in enumerate(vlans))
    frame = mac_bytes(dst) + mac_bytes(src) + tags + struct.pack(">H", ethertype) + payload
    return frame + b"\x00" * max(0, 60 - len(frame))


def sll(payload: bytes, *, src: str = "02:00:00:00:00:01", protocol: int = 0x0800) -> bytes:
    """A Linux cooked (SLL) header in front of ``payload``."""
    return (
        struct.pack(">HHH", 0, 1, 6)
        + mac_bytes(src)
        + b"\x00\x00"
        + struct.pack(">H", protocol)
        + payload
    )


def sll2(payload: bytes, *, src: str = "02:00:00:00:00:01", protocol: int = 0x0800) -> bytes:
    """A Linux cooked v2 (SLL2) header in front of ``payload``."""
    return struct.pack(">HHIHBB", protocol, 0, 3, 1, 0, 6) + mac_bytes(src) + b"\x00\x00" + payload


def _open(path: Path, gz: bool):
    return gzip.open(path, "wb") if gz else open(path, "wb")


def write_pcap(path: Path, packets: Iterable[tuple[int, bytes]], *, linktype: int = 1,
               order: str = "<", nano: bool = False, gz: bool = False,
               snaplen: int = 65535) -> Path:  # fmt: skip
    """Classic pcap of ``(timestamp in ns, frame)`` pairs."""
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    with _open(path, gz) as out:
        out.write(struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype))
        for stamp, frame in packets:
            sec, frac = divmod(stamp, 1_000_000_000)
            frac = frac if nano else frac // 1000
            out.write(struct.pack(order + "IIII", sec, frac, len(frame), len(frame)) + frame)
    return path


def record_offsets(packets: Sequence[tuple[int, bytes]]) -> list[int]:
    """Byte offset of each record header in a classic pcap written by :func:`write_pcap`."""
    offsets, at = [], 24
    for _, frame in packets:
        offsets.append(at)
        at += 16 + len(frame)
    return offsets


@dataclass
class Interface:
    linktype: int
    tsresol: int = 6  # if_tsresol byte
    tsoffset: int = 0


def block(order: str, kind: int, body: bytes) -> bytes:
    body += b"\x00" * (-len(body) % 4)
    length = 12 + len(body)
    return struct.pack(order + "II", kind, length) + body + struct.pack(order + "I", length)


def _option(order: str, code: int, value: bytes) -> bytes:
    return struct.pack(order + "HH", code, len(value)) + value + b"\x00" * (-len(value) % 4)


def pcapng_section(interfaces: Sequence[Interface], packets: Iterable[tuple], *,
                   order: str = "<") -> bytes:  # fmt: skip
    """One pcapng section. ``packets``: ``(interface, ticks, frame)`` for enhanced packet blocks,
    ``("simple", frame)`` for simple packet blocks; ``ticks`` in the interface's resolution."""
    out = block(order, 0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1))
    for interface in interfaces:
        options = _option(order, 2, b"eth0")
        if interface.tsresol != 6:
            options += _option(order, 9, bytes([interface.tsresol]))
        if interface.tsoffset:
            options += _option(order, 14, struct.pack(order + "q", interface.tsoffset))
        options += struct.pack(order + "HH", 0, 0)
        out += block(order, 1, struct.pack(order + "HHI", interface.linktype, 0, 0) + options)
    for packet in packets:
        if packet[0] == "simple":
            frame = packet[1]
            out += block(order, 3, struct.pack(order + "I", len(frame)) + frame)
            continue
        iface, ticks, frame = packet
        head = struct.pack(
            order + "IIIII", iface, ticks >> 32, ticks & 0xFFFFFFFF, len(frame), len(frame)
        )
        out += block(order, 6, head + frame)
    return out


def write_bytes(path: Path, data: bytes, *, gz: bool = False) -> Path:
    with _open(path, gz) as out:
        out.write(data)
    return path
