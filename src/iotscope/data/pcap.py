"""Vectorised reading of pcap and pcapng captures into IPv4 TCP header columns.

Nothing here makes a Python object per packet. A capture is one uint8 array (memory-mapped, or
decompressed when gzip-compressed) and every step works on arrays of byte offsets into it:

1. **Framing.** Records (pcap) and blocks (pcapng) each say how long they are, so their offsets
   form a chain that must be followed from the start. :func:`_walk` finds, in one vectorised scan
   of a window of the file, every offset where a record header *could* start (a plausible header
   whose extent fits in the file), then follows the chain through those candidates: runs of
   candidates that follow each other directly are taken whole, and a Python step is needed only
   where a false candidate (header-like bytes inside a packet) sits between two records. A record
   the scan did not offer ends the chain, which is how corruption and truncation are found, with
   their byte offset.
2. **Decoding.** Link-layer, IPv4 and TCP fields are gathered with fancy indexing on the byte
   array, one field for all packets at once; TCP options are parsed by stepping one option at a
   time across all packets that still have options left (at most 40 steps).

Supported: classic pcap in both byte orders with microsecond or nanosecond timestamps; pcapng
(several sections, each in its own byte order; several interfaces, each with its own link type
and timestamp resolution; enhanced, simple and obsolete packet blocks); link types Ethernet
(with 802.1Q/802.1ad VLAN tags, stacked), Linux cooked SLL and SLL2, raw IP and IPv4.
Everything that is not IPv4 TCP is counted by reason and skipped.
"""

from __future__ import annotations

import os
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from iotscope.features import OPTION_NAMES, option_layout_code

LINKTYPE_NAMES: dict[int, str] = {
    1: "ethernet",
    12: "raw",
    101: "raw",
    113: "linux_sll",
    228: "ipv4",
    229: "ipv6",
    276: "linux_sll2",
}
MAC_LINKTYPES = frozenset({1, 113, 276})  # link types whose frames carry a source MAC address

MAX_CAPLEN = 262_144  # libpcap's largest snapshot length
MAX_BLOCK = 1 << 24  # largest pcapng block accepted (16 MiB)
WINDOW = 1 << 25  # bytes of the file scanned per vectorised framing step (32 MiB)
MAX_VLAN_TAGS = 4

_PCAP_MAGICS: dict[bytes, tuple[str, int]] = {  # first 4 bytes -> (byte order, ticks per second)
    bytes.fromhex("d4c3b2a1"): ("<", 1_000_000),
    bytes.fromhex("a1b2c3d4"): (">", 1_000_000),
    bytes.fromhex("4d3cb2a1"): ("<", 1_000_000_000),
    bytes.fromhex("a1b23c4d"): (">", 1_000_000_000),
}
_SHB = 0x0A0D0D0A  # pcapng section header block type (a palindrome: same in both byte orders)
_IDB, _OPB, _SPB, _EPB = 1, 2, 3, 6
_BOM = 0x1A2B3C4D  # pcapng byte-order magic

ETHERTYPE_REASONS: dict[int, str] = {0x86DD: "ipv6", 0x0806: "arp"}
"""Skip reasons of the non-IPv4 ethertypes."""

# Header layouts gathered whole, one fancy index per packet set instead of one per field.
_TCP_FIELDS = {  # name: (format, offset in the TCP header)
    "src_port": (">u2", 0),
    "dst_port": (">u2", 2),
    "seq": (">u4", 4),
    "data_offset": ("u1", 12),
    "flags": ("u1", 13),
    "window": (">u2", 14),
}
_TCP_HEADER = np.dtype(
    {
        "names": list(_TCP_FIELDS),
        "formats": [f for f, _ in _TCP_FIELDS.values()],
        "offsets": [o for _, o in _TCP_FIELDS.values()],
        "itemsize": 20,
    }
)
_IPV4_FIELDS = {
    "ip_len": (">u2", 2),
    "ip_id": (">u2", 4),
    "frag": (">u2", 6),
    "ttl": ("u1", 8),
    "proto": ("u1", 9),
    "src_ip": (">u4", 12),
    "dst_ip": (">u4", 16),
}
_IPV4_TCP_HEADERS = np.dtype(  # an IPv4 header without options and the TCP header behind it
    {
        "names": list(_IPV4_FIELDS) + list(_TCP_FIELDS),
        "formats": [f for f, _ in _IPV4_FIELDS.values()] + [f for f, _ in _TCP_FIELDS.values()],
        "offsets": [o for _, o in _IPV4_FIELDS.values()]
        + [20 + o for _, o in _TCP_FIELDS.values()],
        "itemsize": 40,
    }
)
IP_PROTOCOL_REASONS: dict[int, str] = {1: "icmp", 17: "udp", 58: "icmpv6"}
"""Skip reasons of the non-TCP IP protocols, by protocol number."""


class CaptureError(ValueError):
    """A capture file that cannot be read: names the file, the byte offset (if known) and why."""

    def __init__(self, file: str | os.PathLike, offset: int | None, reason: str) -> None:
        self.file = os.fspath(file)
        self.offset = offset
        self.reason = reason
        where = f" at byte offset {offset}" if offset is not None else ""
        super().__init__(f"{self.file}{where}: {reason}")


@dataclass
class Damage:
    """Where reading stopped early under ``on_error="skip"``, and how much was left unread."""

    offset: int
    reason: str
    bytes_dropped: int


@dataclass
class Frames:
    """Packets of a capture as offsets into its bytes: the output of the framing step."""

    buf: np.ndarray  # uint8, the whole (decompressed) capture
    data: np.ndarray  # int64 offset of each packet's first link-layer byte
    caplen: np.ndarray  # int64 captured bytes of each packet
    linktype: np.ndarray  # int64 link type of each packet
    ts: np.ndarray  # int64 nanoseconds since the epoch
    format: str  # "pcap" or "pcapng"
    skipped: Counter[str] = field(default_factory=Counter)  # packets dropped while framing
    damage: Damage | None = None


@dataclass
class TcpColumns:
    """Header fields of the kept IPv4 TCP packets (numpy arrays, one entry per packet)."""

    ts: np.ndarray  # int64 ns
    src_ip: np.ndarray  # uint32
    src_mac: np.ndarray | None  # (n, 6) uint8, only when hosts are keyed by MAC
    dst_ip: np.ndarray  # uint32
    ttl: np.ndarray  # uint8
    ip_id: np.ndarray  # uint16
    ip_len: np.ndarray  # uint16
    df: np.ndarray  # bool
    src_port: np.ndarray  # uint16
    dst_port: np.ndarray  # uint16
    seq: np.ndarray  # uint32
    window: np.ndarray  # uint16
    flags: np.ndarray  # uint8
    opt_len: np.ndarray  # uint8
    mss: np.ndarray  # uint16, valid where has_mss
    has_mss: np.ndarray  # bool
    wscale: np.ndarray  # uint8, valid where has_wscale
    has_wscale: np.ndarray  # bool
    sack_ok: np.ndarray  # bool
    ts_present: np.ndarray  # bool
    opt_layout: np.ndarray  # uint8 code in iotscope.features.OPTION_LAYOUTS

    def __len__(self) -> int:
        return len(self.ts)


# --------------------------------------------------------------------------- reading the bytes


def load_bytes(
    path: str | os.PathLike, *, on_error: Literal["raise", "skip"]
) -> tuple[np.ndarray, Damage | None]:
    """The file's bytes as a uint8 array: memory-mapped, or decompressed if it is gzip.

    A gzip stream that ends early raises, or under ``on_error="skip"`` yields what decompressed.
    """
    with open(path, "rb") as stream:
        head = stream.read(2)
        if head != b"\x1f\x8b":
            if not head:
                return np.zeros(0, dtype=np.uint8), None
            # a plain ndarray view: memmap's subclass overhead on every index adds up
            return np.memmap(path, dtype=np.uint8, mode="r").view(np.ndarray), None
        compressed = head + stream.read()
    parts: list[bytes] = []
    rest = compressed
    while rest:
        inflater = zlib.decompressobj(wbits=31)
        try:
            parts.append(inflater.decompress(rest))
        except zlib.error as exc:
            return _gzip_damage(path, parts, f"corrupt gzip stream ({exc})", on_error)
        if not inflater.eof:
            return _gzip_damage(path, parts, "gzip stream ends early (truncated file)", on_error)
        rest = inflater.unused_data
    return np.frombuffer(b"".join(parts), dtype=np.uint8), None


def _gzip_damage(
    path: str | os.PathLike, parts: list[bytes], reason: str, on_error: str
) -> tuple[np.ndarray, Damage]:
    data = b"".join(parts)
    reason = f"{reason}, after {len(data)} decompressed bytes"
    if on_error == "raise":
        raise CaptureError(path, len(data), reason)
    return np.frombuffer(data, dtype=np.uint8), Damage(len(data), reason, 0)


def sniff_format(buf: np.ndarray) -> str | None:
    """``"pcap"``, ``"pcapng"`` or None, from the first bytes of a capture."""
    head = buf[:4].tobytes()
    if head in _PCAP_MAGICS:
        return "pcap"
    if len(head) == 4 and int.from_bytes(head, "little") == _SHB:
        return "pcapng"
    return None


def _strided(buf: np.ndarray, dtype: str | np.dtype) -> np.ndarray:
    """A read-only view giving the multi-byte value that starts at *every* byte offset.

    ``_strided(buf, ">u2")[i]`` is the big-endian 16-bit value of ``buf[i:i + 2]``, so one fancy
    index gathers a field at arbitrary, unaligned offsets.
    """
    dtype = np.dtype(dtype)
    count = max(len(buf) - dtype.itemsize + 1, 0)
    view = (
        np.ndarray((count,), dtype=dtype, buffer=buf, strides=(1,)) if count else np.zeros(0, dtype)
    )
    view.flags.writeable = False
    return view


class _Fields:
    """Gathers of header fields at arrays of offsets, clamped to stay in the buffer.

    Fields are read in network byte order unless another ``order`` is given.
    A clamped read returns garbage instead of raising; callers only use values of packets whose
    captured length covers the field.
    """

    def __init__(self, buf: np.ndarray, order: str = ">") -> None:
        self.buf = buf
        self.byteorder = "little" if order == "<" else "big"
        self._u16 = _strided(buf, f"{order}u2")
        self._u32 = _strided(buf, f"{order}u4")
        self._records: dict[int, np.ndarray] = {}

    def record(self, dtype: np.dtype, at: np.ndarray) -> np.ndarray:
        """Structured records of ``dtype`` starting at each offset (a copy, one gather).

        The gather moves opaque ``itemsize``-byte items, which numpy copies far faster than
        structured ones; the result is then viewed as ``dtype``. Subsets are cheapest taken the
        same way: ``records.view(f"V{itemsize}")[rows].view(dtype)``.
        """
        size = dtype.itemsize
        view = self._records.get(size)
        if view is None:
            view = self._records[size] = _strided(self.buf, f"V{size}")
        last = len(view) - 1  # the last offset where a whole record fits
        out = view[np.minimum(at, last)] if last >= 0 else np.zeros(len(at), f"V{size}")
        beyond = np.flatnonzero(at > last)
        if beyond.size:  # records running past the end of the file: read them zero-padded
            base = max(last + 1, 0)
            padded = np.zeros(2 * size, np.uint8)
            padded[: len(self.buf) - base] = self.buf[base:]
            tail = _strided(padded, f"V{size}")
            out[beyond] = tail[np.minimum(at[beyond] - base, len(tail) - 1)]
        return out.view(dtype)

    # Offsets are >= -1 (the "no header" marker), which numpy reads from the end: harmless.
    def u8(self, at: np.ndarray) -> np.ndarray:
        return self.buf[np.minimum(at, len(self.buf) - 1)]

    def u16(self, at: np.ndarray) -> np.ndarray:
        return self._u16[np.minimum(at, len(self._u16) - 1)].astype(np.uint16)

    def u32(self, at: np.ndarray) -> np.ndarray:
        return self._u32[np.minimum(at, len(self._u32) - 1)].astype(np.uint32)


# --------------------------------------------------------------------------- framing


class _Broken(Exception):
    """The record chain cannot continue at ``offset``."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(reason)
        self.offset = offset
        self.reason = reason


Candidates = Callable[[int, int], tuple[np.ndarray, np.ndarray]]


def _walk(first: int, end: int, candidates: Candidates) -> tuple[np.ndarray, int]:
    """Offsets of the records chained from ``first``, and the offset where the chain stops.

    ``candidates(lo, hi)`` returns the sorted offsets in ``[lo, hi)`` where a plausible record
    starts and, for each, the offset just past it. It must offer ``lo`` itself whenever a valid
    record starts there. The chain stops at ``end`` or at the first offset not offered.
    """
    parts: list[np.ndarray] = []
    pos = first
    while pos < end:
        starts, nexts = candidates(pos, min(pos + WINDOW, end))
        if len(starts) == 0 or starts[0] != pos:
            break
        chain = _chain(starts, nexts)
        parts.append(starts[chain])
        pos = int(nexts[chain[-1]])
    offsets = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    return offsets, pos


def _chain(starts: np.ndarray, nexts: np.ndarray) -> np.ndarray:
    """Indices of the candidates reached from ``starts[0]`` by following ``nexts``."""
    last = len(starts) - 1
    # A run ends at i when candidate i + 1 is not where record i ends (false candidate or stop).
    run_ends = np.append(np.flatnonzero(nexts[:-1] != starts[1:]), last)
    runs: list[np.ndarray] = []
    i = 0
    while True:
        k = int(run_ends[np.searchsorted(run_ends, i)])
        runs.append(np.arange(i, k + 1))
        target = nexts[k]
        j = int(np.searchsorted(starts, target))
        if j > last or starts[j] != target:
            return np.concatenate(runs)
        i = j


def _pcap_frames(path: str | os.PathLike, buf: np.ndarray, on_error: str) -> Frames:
    if len(buf) < 24:
        raise CaptureError(path, len(buf), "truncated pcap global header (24 bytes needed)")
    order, ticks = _PCAP_MAGICS[buf[:4].tobytes()]
    header = buf[:24].view(f"{order}u4")
    snaplen, linktype = int(header[4]), int(header[5]) & 0xFFFF
    max_caplen = max(snaplen, MAX_CAPLEN)
    u32 = _strided(buf, f"{order}u4")
    end = len(buf)
    # The two high bytes of ts_sec change once every 18 hours: a very selective first test.
    hi, mid = (3, 2) if order == "<" else (0, 1)

    def candidates(lo: int, top: int) -> tuple[np.ndarray, np.ndarray]:
        top = min(top, end - 15)
        if top <= lo:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        at = lo + np.flatnonzero(buf[lo + hi : top + hi] == buf[lo + hi])
        at = at[buf[at + mid] == buf[lo + mid]]
        incl = u32[at + 8].astype(np.int64)
        ok = (incl <= max_caplen) & (u32[at + 4] < ticks) & (at + 16 + incl <= end)
        return at[ok], (at + 16 + incl)[ok]

    records, stop = _walk(24, end, candidates)
    damage = None
    if stop < end:
        damage = _damage(
            path, stop, end, _pcap_problem(u32, stop, end, max_caplen, ticks), on_error
        )
    record = _Fields(buf).record(
        np.dtype([(f, f"{order}u4") for f in ("sec", "frac", "incl", "orig")]), records
    )
    sec, frac = record["sec"].astype(np.int64), record["frac"].astype(np.int64)
    return Frames(
        buf=buf,
        data=records + 16,
        caplen=record["incl"].astype(np.int64),
        linktype=np.full(len(records), linktype, dtype=np.int64),
        ts=sec * 1_000_000_000 + frac * (1_000_000_000 // ticks),
        format="pcap",
        damage=damage,
    )


def _pcap_problem(u32: np.ndarray, at: int, end: int, max_caplen: int, ticks: int) -> str:
    if at + 16 > end:
        return f"truncated record header ({end - at} of 16 bytes)"
    incl, frac = int(u32[at + 8]), int(u32[at + 4])
    if incl > max_caplen:
        return f"record length {incl} exceeds the maximum {max_caplen} (corrupt record header)"
    if frac >= ticks:
        return f"timestamp fraction {frac} is not below {ticks} (corrupt record header)"
    return f"truncated record: {incl} bytes of packet data announced, {end - at - 16} present"


def _damage(path: str | os.PathLike, at: int, end: int, reason: str, on_error: str) -> Damage:
    if on_error == "raise":
        raise CaptureError(path, at, reason)
    return Damage(at, reason, end - at)


@dataclass
class _Interface:
    linktype: int
    snaplen: int
    tsresol: int  # byte of the if_tsresol option: 10^-n, or 2^-n when bit 7 is set
    tsoffset: int  # seconds


def _pcapng_frames(path: str | os.PathLike, buf: np.ndarray, on_error: str) -> Frames:
    end = len(buf)
    pieces: list[dict[str, np.ndarray]] = []
    skipped: Counter[str] = Counter()
    damage = None
    pos = 0
    try:
        while pos < end:
            order, first = _section_header(buf, pos, end)
            fields_ = _Fields(buf, order)
            blocks, stop = _walk(first, end, _block_candidates(buf, fields_, order, end))
            packets, bad_block = _section_packets(fields_, blocks, skipped)
            pieces.append(packets)
            if bad_block is not None:
                raise _Broken(bad_block, "packet block announces more captured bytes than it holds")
            pos = stop
            if pos < end and int(fields_.u32(np.array([pos]))[0]) != _SHB:
                raise _Broken(pos, _block_problem(fields_, pos, end))
    except _Broken as broken:
        damage = _damage(path, broken.offset, end, broken.reason, on_error)
    names = ("data", "caplen", "linktype", "ts")
    columns = {
        name: np.concatenate([p[name] for p in pieces]) if pieces else np.zeros(0, np.int64)
        for name in names
    }
    return Frames(buf=buf, format="pcapng", skipped=skipped, damage=damage, **columns)


def _section_header(buf: np.ndarray, at: int, end: int) -> tuple[str, int]:
    """Byte order of the section whose header block starts at ``at``, and its first block."""
    if at + 28 > end:
        raise _Broken(at, f"truncated section header block ({end - at} of 28 bytes)")
    head = buf[at : at + 12].tobytes()
    if int.from_bytes(head[:4], "little") != _SHB:
        raise _Broken(at, "expected a pcapng section header block")
    orders = [
        o for o, name in (("<", "little"), (">", "big")) if int.from_bytes(head[8:], name) == _BOM
    ]
    if not orders:
        raise _Broken(at, "section header block without the byte-order magic 0x1A2B3C4D")
    order = orders[0]
    byteorder = "little" if order == "<" else "big"
    length = int.from_bytes(head[4:8], byteorder)
    if length % 4 or length < 28 or at + length > end:
        raise _Broken(at, f"section header block of impossible length {length}")
    if int.from_bytes(buf[at + length - 4 : at + length].tobytes(), byteorder) != length:
        raise _Broken(at, "section header block's trailing length does not match")
    return order, at + length


def _block_candidates(buf: np.ndarray, fields_: _Fields, order: str, end: int) -> Candidates:
    """Candidate pcapng blocks: 4-byte aligned, a sane length, and a matching trailing length."""

    def candidates(lo: int, top: int) -> tuple[np.ndarray, np.ndarray]:
        count = (min(top, end - 11) - lo + 3) // 4  # aligned offsets with a whole block header
        if count <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        words = buf[lo : lo + 4 * (count + 1)].view(f"{order}u4")
        kind, length = words[:count], words[1 : count + 1]
        ok = (length >= 12) & (length & 3 == 0) & (length <= MAX_BLOCK) & (kind != _SHB)
        at = lo + 4 * np.flatnonzero(ok)
        nexts = at + length[ok].astype(np.int64)
        fits = nexts <= end
        at, nexts = at[fits], nexts[fits]
        ok = fields_.u32(nexts - 4) == nexts - at
        return at[ok], nexts[ok]

    return candidates


def _block_problem(fields_: _Fields, at: int, end: int) -> str:
    if at + 12 > end:
        return f"truncated block header ({end - at} bytes left, 12 needed)"
    length = int(fields_.u32(np.array([at + 4]))[0])
    if length < 12 or length % 4 or length > MAX_BLOCK:
        return f"block of impossible length {length} (corrupt block header)"
    if at + length > end:
        return f"truncated block: {length} bytes announced, {end - at} present"
    return "block's trailing length does not match its header (corrupt block)"


def _section_packets(
    fields_: _Fields, blocks: np.ndarray, skipped: Counter[str]
) -> tuple[dict[str, np.ndarray], int | None]:
    """Packet offsets, lengths, link types and timestamps of one section's blocks.

    Also returns the offset of the first packet block that announces more captured bytes than
    it holds (the packets before it are kept), or None.
    """
    kind = fields_.u32(blocks)
    interfaces = [_interface(fields_, int(at)) for at in blocks[kind == _IDB]]
    is_packet = np.isin(kind, (_EPB, _OPB, _SPB))
    at, kind = blocks[is_packet], kind[is_packet]
    length = fields_.u32(at + 4).astype(np.int64)
    simple = kind == _SPB
    iface = np.where(kind == _OPB, fields_.u16(at + 8), fields_.u32(at + 8)).astype(np.int64)
    iface[simple] = 0
    caplen = np.where(simple, fields_.u32(at + 8), fields_.u32(at + 20)).astype(np.int64)
    room = np.where(simple, length - 16, length - 32)
    bad_block = None
    overfull = ~simple & (caplen > room)
    if overfull.any():
        first_bad = int(np.argmax(overfull))
        bad_block = int(at[first_bad])
        at, kind, simple, iface, caplen, room = (
            a[:first_bad] for a in (at, kind, simple, iface, caplen, room)
        )
    caplen = np.minimum(caplen, room)  # simple blocks: original length, cut to what is there
    if interfaces and interfaces[0].snaplen > 0:
        caplen = np.where(simple, np.minimum(caplen, interfaces[0].snaplen), caplen)
    units = (fields_.u32(at + 12).astype(np.uint64) << np.uint64(32)) | fields_.u32(at + 16)
    ts = _timestamps(units, iface, interfaces)
    ts[simple] = -1
    ts = _fill_simple_packet_times(ts, skipped)

    known = iface < len(interfaces)
    _count(skipped, ~known, "unknown_interface")
    linktypes = np.array([i.linktype for i in interfaces] + [-1], dtype=np.int64)
    keep = known & (ts >= 0)
    packets = {
        "data": np.where(simple, at + 12, at + 28)[keep],
        "caplen": caplen[keep],
        "linktype": linktypes[np.minimum(iface, len(interfaces))][keep],
        "ts": ts[keep],
    }
    return packets, bad_block


def _fill_simple_packet_times(ts: np.ndarray, skipped: Counter[str]) -> np.ndarray:
    """Give simple packet blocks (which carry no time) the time of the packet block before them.

    Packets with no timestamped block before them keep -1 and are counted as skipped.
    """
    has = ts >= 0
    if has.all():
        return ts
    last = np.maximum.accumulate(np.where(has, np.arange(len(ts)), -1))
    filled = np.where(last >= 0, ts[np.maximum(last, 0)], -1)
    skipped["simple_packet_without_time"] += int((filled < 0).sum())
    return filled


def _interface(fields_: _Fields, at: int) -> _Interface:
    """Link type, snapshot length and timestamp options of the interface block at ``at``."""

    def u(offset: int, size: int = 4) -> int:
        view = fields_.u16 if size == 2 else fields_.u32
        return int(view(np.array([offset]))[0])

    end = at + u(at + 4) - 4
    tsresol, tsoffset = 6, 0
    pos = at + 16
    while pos + 4 <= end:
        code, size = u(pos, 2), u(pos + 2, 2)
        if code == 0:
            break
        value = fields_.buf[pos + 4 : pos + 4 + size].tobytes()
        if code == 9 and size >= 1:
            tsresol = value[0]
        elif code == 14 and size >= 8:
            tsoffset = int.from_bytes(value[:8], fields_.byteorder, signed=True)
        pos += 4 + size + (-size % 4)
    return _Interface(u(at + 8, 2), u(at + 12), tsresol, tsoffset)


def _timestamps(units: np.ndarray, iface: np.ndarray, interfaces: list[_Interface]) -> np.ndarray:
    """Nanoseconds since the epoch from pcapng timestamp units, per interface resolution."""
    ns = np.zeros(len(units), dtype=np.int64)
    for number, interface in enumerate(interfaces):
        rows = iface == number
        if not rows.any():
            continue
        ticks = units[rows]
        exponent = interface.tsresol & 0x7F
        if interface.tsresol & 0x80:  # 2^-n seconds
            shift = np.uint64(exponent)
            frac = ticks & np.uint64((1 << exponent) - 1)
            value = (ticks >> shift) * np.uint64(1_000_000_000) + (
                (frac * np.uint64(1_000_000_000)) >> shift
            )
        elif exponent <= 9:
            value = ticks * np.uint64(10 ** (9 - exponent))
        else:
            value = ticks // np.uint64(10 ** (exponent - 9))
        ns[rows] = value.astype(np.int64) + interface.tsoffset * 1_000_000_000
    return ns


def read_frames(path: str | os.PathLike, *, on_error: Literal["raise", "skip"] = "raise") -> Frames:
    """Frame the packets of a pcap or pcapng file (optionally gzip-compressed)."""
    buf, damage = load_bytes(path, on_error=on_error)
    kind = sniff_format(buf)
    if kind is None:
        raise CaptureError(
            path,
            0,
            f"not a pcap or pcapng file (starts with {buf[:4].tobytes()!r}); "
            "telescope CSV tables must be named .csv or .csv.gz",
        )
    frames = (_pcap_frames if kind == "pcap" else _pcapng_frames)(path, buf, on_error)
    if damage is not None:  # a cut gzip stream usually also cuts the last record
        if frames.damage is None:
            frames.damage = damage
        else:
            reason = f"{damage.reason}; {frames.damage.reason}"
            frames.damage = Damage(frames.damage.offset, reason, frames.damage.bytes_dropped)
    return frames


# --------------------------------------------------------------------------- decoding


def decode_tcp(
    frames: Frames, *, host_key: Literal["ip", "mac"] = "ip", syn_only: bool = True
) -> tuple[TcpColumns, Counter[str]]:
    """IPv4 TCP header fields of the framed packets, and the other packets counted by reason."""
    skipped: Counter[str] = Counter()
    fields_ = _Fields(frames.buf)
    n = len(frames.data)
    pkt_end = frames.data + frames.caplen
    l3 = np.full(n, -1, dtype=np.int64)
    ethertype = np.zeros(n, dtype=np.int64)
    mac_at = np.full(n, -1, dtype=np.int64)
    _link_layers(fields_, frames, pkt_end, l3, ethertype, mac_at, skipped)

    alive = l3 >= 0
    first_byte = fields_.u8(l3)  # IP version and header length
    claims_v4 = alive & (ethertype == 0x0800)
    whole = l3 + 20 <= pkt_end
    is_v4 = claims_v4 & whole & (first_byte >> 4 == 4)
    _count(skipped, claims_v4 & ~whole, "truncated")
    _count(skipped, claims_v4 & whole & ~is_v4, "bad_ip_header")
    known = ethertype == 0x0800
    for value, reason in ETHERTYPE_REASONS.items():
        _count(skipped, alive & (ethertype == value), reason)
        known |= ethertype == value
    _count(skipped, alive & ~known, "other_ethertype")

    at = _rows(is_v4)
    l3, pkt_end, mac_at = l3[at], pkt_end[at], mac_at[at]
    ihl = (first_byte[at] & 0x0F).astype(np.int64) * 4
    l4 = l3 + ihl
    hdr = fields_.record(_IPV4_TCP_HEADERS, l3)
    with_ip_options = np.flatnonzero(ihl != 20)
    if with_ip_options.size:  # their TCP header starts later
        tcp = fields_.record(_TCP_HEADER, l4[with_ip_options])
        for name in _TCP_FIELDS:
            hdr[name][with_ip_options] = tcp[name]
    frag, proto, flags = hdr["frag"], hdr["proto"], hdr["flags"]
    doff = (hdr["data_offset"] >> 4).astype(np.int64) * 4
    checks = [  # in order; each packet is counted under the first it fails
        (ihl < 20, "bad_ip_header"),
        ((frag & 0x1FFF) != 0, "ip_fragment"),
        *((proto == p, reason) for p, reason in IP_PROTOCOL_REASONS.items()),
        (proto != 6, "other_ip_protocol"),
        (l4 + 20 > pkt_end, "truncated"),
        (doff < 20, "bad_tcp_header"),
    ]
    if syn_only:
        checks.append(((flags & 0x12) != 0x02, "not_syn"))
    if host_key == "mac":
        checks.append((mac_at < 0, "no_source_mac"))
    ok = np.ones(len(l3), dtype=bool)
    for failed, reason in checks:
        if failed.any():  # clean captures fail most checks nowhere: skip the bookkeeping
            _count(skipped, ok & failed, reason)
            ok &= ~failed

    keep = _rows(ok)
    l4, pkt_end, doff = l4[keep], pkt_end[keep], doff[keep]
    hdr = hdr.view(f"V{hdr.itemsize}")[keep].view(hdr.dtype)
    options = _parse_options(fields_, l4 + 20, np.minimum(l4 + doff, pkt_end), l4 + doff > pkt_end)
    src_mac = None
    if host_key == "mac":
        src_mac = frames.buf[np.clip(mac_at[keep][:, None] + np.arange(6), 0, len(frames.buf) - 1)]
    columns = TcpColumns(
        ts=frames.ts[at][keep],
        src_mac=src_mac,
        df=(hdr["frag"] & 0x4000) != 0,
        opt_len=(doff - 20).astype(np.uint8),
        **{name: hdr[name].astype(hdr.dtype[name].newbyteorder("=")) for name in _COPIED_FIELDS},
        **options,
    )
    return columns, skipped


_COPIED_FIELDS = (  # header fields that go into the packet table as they are
    "src_ip",
    "dst_ip",
    "ttl",
    "ip_id",
    "ip_len",
    "src_port",
    "dst_port",
    "seq",
    "window",
    "flags",
)


def _rows(mask: np.ndarray) -> np.ndarray | slice:
    """Index of the true entries of ``mask``; a whole slice (no copy) when all are true."""
    return slice(None) if mask.all() else np.flatnonzero(mask)


def _distinct(values: np.ndarray) -> list[int]:
    """Distinct values of a mostly constant array (one link type per capture, usually)."""
    if len(values) == 0:
        return []
    if (values == values[0]).all():
        return [int(values[0])]
    return np.unique(values).tolist()


def _count(skipped: Counter[str], mask: np.ndarray, reason: str) -> None:
    count = int(np.count_nonzero(mask))
    if count:
        skipped[reason] += count


def _link_layers(
    fields_: _Fields,
    frames: Frames,
    pkt_end: np.ndarray,
    l3: np.ndarray,
    ethertype: np.ndarray,
    mac_at: np.ndarray,
    skipped: Counter[str],
) -> None:
    """Fill, per packet, the offset of its network header, its ethertype and source MAC offset."""
    data, caplen = frames.data, frames.caplen
    for linktype in _distinct(frames.linktype):
        rows = _rows(frames.linktype == linktype)
        start, length = data[rows], caplen[rows]
        if linktype == 1:
            header = 14
            net, kind = start + 14, fields_.u16(start + 12).astype(np.int64)
            net, kind = _strip_vlan_tags(fields_, net, kind, pkt_end[rows])
            mac = start + 6
        elif linktype == 113:
            header = 16
            net, kind = start + 16, fields_.u16(start + 14).astype(np.int64)
            has_mac = (fields_.u16(start + 2) == 1) & (fields_.u16(start + 4) == 6)
            mac = np.where(has_mac, start + 6, -1)
        elif linktype == 276:
            header = 20
            net, kind = start + 20, fields_.u16(start).astype(np.int64)
            has_mac = (fields_.u16(start + 8) == 1) & (fields_.u8(start + 11) == 6)
            mac = np.where(has_mac, start + 12, -1)
        elif linktype in (12, 101, 228, 229):
            header = 1
            net = start
            version = fields_.u8(start) >> 4
            kind = np.select([version == 4, version == 6], [0x0800, 0x86DD], -1).astype(np.int64)
            if linktype == 228:
                kind = np.where(version == 4, 0x0800, -1)
            mac = np.full(len(start), -1, dtype=np.int64)
        else:
            skipped[f"unsupported_linktype_{linktype}"] += len(start)
            continue
        short = length < header
        if short.any():
            _count(skipped, short, "truncated")
            rows = np.flatnonzero(frames.linktype == linktype)[~short]
            net, kind, mac = net[~short], kind[~short], mac[~short]
        l3[rows], ethertype[rows], mac_at[rows] = net, kind, mac


def _strip_vlan_tags(
    fields_: _Fields, net: np.ndarray, kind: np.ndarray, pkt_end: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Skip stacked 802.1Q / 802.1ad tags: the ethertype and network offset behind them."""
    for _ in range(MAX_VLAN_TAGS):
        tagged = (kind == 0x8100) | (kind == 0x88A8) | (kind == 0x9100)
        tagged &= net + 4 <= pkt_end
        if not tagged.any():
            break
        kind = np.where(tagged, fields_.u16(net + 2), kind)
        net = np.where(tagged, net + 4, net)
    return net, kind


# TCP option kinds -> 4-bit codes used to spell a packet's option layout into one integer.
_KIND_CODE = np.full(256, 15, dtype=np.uint64)  # 15: an option kind with no name
for _code, _kind in enumerate(sorted(OPTION_NAMES), start=1):
    _KIND_CODE[_kind] = _code
_CODE_NAME = {code: OPTION_NAMES[kind] for code, kind in enumerate(sorted(OPTION_NAMES), start=1)}
_MAX_LAYOUT_ITEMS = 15  # 4 bits per option in a 64-bit key
_BAD_LAYOUT = np.uint64(1 << 63)  # malformed, truncated or too long to spell


_SIZE_OF = np.zeros(256, np.int64)  # the length an option must have for its value to be read
_SIZE_OF[[2, 3, 4, 8]] = [4, 3, 2, 10]


def _parse_options(
    fields_: _Fields, start: np.ndarray, stop: np.ndarray, truncated: np.ndarray
) -> dict[str, np.ndarray]:
    """MSS, window scale, SACK-permitted, timestamp and layout code of each packet's options.

    Steps through the options of all packets together: step i reads option i of every packet
    that still has option bytes left, so the layout key gets the same 4-bit slot for all.
    """
    n = len(start)
    mss = np.zeros(n, np.uint16)
    wscale = np.zeros(n, np.uint8)
    has_mss, has_wscale, sack_ok, ts_present = (np.zeros(n, bool) for _ in range(4))
    key = np.zeros(n, np.uint64)
    rows = np.flatnonzero(start < stop)  # the state below is kept for these packets only
    at, end, spelled = start[rows], stop[rows], np.zeros(len(rows), np.uint64)
    step = 0
    while rows.size:
        kind = fields_.u8(at)
        size = fields_.u8(at + 1).astype(np.int64)
        size[kind <= 1] = 1  # end-of-list and no-operation are one byte long
        malformed = (kind > 1) & ((at + 2 > end) | (size < 2) | (at + size > end))
        if step < _MAX_LAYOUT_ITEMS:
            spelled |= np.where(malformed, _BAD_LAYOUT, _KIND_CODE[kind] << np.uint64(4 * step))
        else:
            spelled |= _BAD_LAYOUT
        sound = np.where(malformed | (size != _SIZE_OF[kind]), 0, kind)  # 0: value not read
        hit = sound == 2
        mss[rows[hit]] = fields_.u16(at[hit] + 2)
        has_mss[rows[hit]] = True
        hit = sound == 3
        wscale[rows[hit]] = fields_.u8(at[hit] + 2)
        has_wscale[rows[hit]] = True
        sack_ok[rows[sound == 4]] = True
        ts_present[rows[sound == 8]] = True
        at = at + size
        done = malformed | (kind == 0) | (at >= end)
        if done.any():
            key[rows[done]] = spelled[done]
            going = ~done
            rows, at, end, spelled = rows[going], at[going], end[going], spelled[going]
        step += 1
    key[truncated] |= _BAD_LAYOUT
    return {
        "mss": mss,
        "has_mss": has_mss,
        "wscale": wscale,
        "has_wscale": has_wscale,
        "sack_ok": sack_ok,
        "ts_present": ts_present,
        "opt_layout": _layout_codes(key),
    }


def _layout_codes(key: np.ndarray) -> np.ndarray:
    """Codes in ``OPTION_LAYOUTS`` of spelled option layouts (one lookup per distinct layout)."""
    inverse, distinct = pd.factorize(key, sort=False)
    codes = np.array([option_layout_code(_spell(int(k))) for k in distinct], dtype=np.uint8)
    return codes[inverse]


def _spell(key: int) -> str:
    """The layout string (``"mss,sok,ts,nop,ws"``) of a key built by :func:`_parse_options`."""
    if key & int(_BAD_LAYOUT):
        return "malformed"
    names = []
    while key:
        names.append(_CODE_NAME.get(key & 0xF, "unknown"))
        key >>= 4
    return ",".join(names)
