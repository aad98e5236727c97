"""Encoding IPv4 TCP SYN packets into a classic pcap file, vectorised over all packets.

Every packet is first laid out in a fixed-size record (pcap record header, Ethernet, IPv4, TCP
and room for the longest option list) as one row of a structured numpy array; the rows are then
cut to their true lengths with one boolean mask, which in row-major order yields the
concatenated variable-length pcap records. There is no Python object per packet.

The frames are what a telescope's capture port sees: Ethernet II frames padded to the 60-byte
minimum, IPv4 without options, correct IP and TCP checksums, TCP options encoded byte for byte
from the p0f-style layouts of :data:`iotscope.features.OPTION_LAYOUTS`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import BinaryIO

import numpy as np

from iotscope.features import OPTION_LAYOUTS

PCAP_MAGIC = 0xA1B2C3D4  # classic pcap, microsecond timestamps
LINKTYPE_ETHERNET = 1
SNAPLEN = 65535
# Documentation MAC addresses (RFC 7042): the telescope's capture port and its upstream router.
ETH_DST = bytes.fromhex("00005e005301")
ETH_SRC = bytes.fromhex("00005e005302")
ETHERTYPE_IPV4 = 0x0800
MIN_FRAME = 60  # Ethernet minimum frame without FCS; shorter frames are zero padded
MAX_OPTIONS = 40  # the TCP header has room for 40 option bytes

_REC = 16  # pcap record header
_IP = _REC + 14
_TCP = _IP + 20
_OPT = _TCP + 20
RECORD_ROOM = _OPT + MAX_OPTIONS

_RECORD_DTYPE = np.dtype(
    {
        "names": [
            "ts_sec", "ts_usec", "incl_len", "orig_len",
            "ver_ihl", "ip_len", "ip_id", "frag", "ttl", "proto", "ip_sum", "src", "dst",
            "sport", "dport", "seq", "offset", "flags", "window", "tcp_sum",
        ],
        "formats": [
            "<u4", "<u4", "<u4", "<u4",
            "u1", ">u2", ">u2", ">u2", "u1", "u1", ">u2", ">u4", ">u4",
            ">u2", ">u2", ">u4", "u1", "u1", ">u2", ">u2",
        ],
        "offsets": [
            0, 4, 8, 12,
            _IP, _IP + 2, _IP + 4, _IP + 6, _IP + 8, _IP + 9, _IP + 10, _IP + 12, _IP + 16,
            _TCP, _TCP + 2, _TCP + 4, _TCP + 12, _TCP + 13, _TCP + 14, _TCP + 16,
        ],
        "itemsize": RECORD_ROOM,
    }
)  # fmt: skip


@dataclass
class SynPackets:
    """Column arrays of IPv4 TCP SYN packets, one entry per packet, in the order to be written."""

    ts_us: np.ndarray  # int64 microseconds since the epoch
    src_ip: np.ndarray  # uint32
    dst_ip: np.ndarray  # uint32
    ttl: np.ndarray  # uint8
    ip_id: np.ndarray  # uint16
    df: np.ndarray  # bool
    src_port: np.ndarray  # uint16
    dst_port: np.ndarray  # uint16
    seq: np.ndarray  # uint32
    window: np.ndarray  # uint16
    flags: np.ndarray  # uint8 TCP flags byte
    layout: np.ndarray  # uint8 code into OPTION_LAYOUTS
    mss: np.ndarray  # uint16, used where the layout has "mss"
    wscale: np.ndarray  # uint8, used where the layout has "ws"
    tsval: np.ndarray  # uint32, used where the layout has "ts"

    def __len__(self) -> int:
        return len(self.ts_us)

    def take(self, index: np.ndarray | slice) -> SynPackets:
        """The packets at ``index`` (an index array or a slice)."""
        return SynPackets(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @classmethod
    def concatenate(cls, parts: list[SynPackets]) -> SynPackets:
        return cls(
            **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)}
        )


@dataclass(frozen=True)
class _Layout:
    """A layout's option bytes (padded to a 4-byte multiple) and where its values go."""

    template: bytes
    mss_at: int | None
    ws_at: int | None
    ts_at: int | None


def _encode_layout(layout: str) -> _Layout:
    """Option bytes of a layout string such as ``"mss,sok,ts,nop,ws"`` with zero values."""
    out = bytearray()
    where: dict[str, int] = {}
    sizes = {"eol": b"\x00", "nop": b"\x01", "mss": b"\x02\x04\x00\x00", "ws": b"\x03\x03\x00"}
    sizes |= {"sok": b"\x04\x02", "ts": b"\x08\x0a" + bytes(8)}
    for name in filter(None, layout.split(",")):
        if name not in sizes:
            raise ValueError(f"option layout {layout!r}: cannot encode option {name!r}")
        where[name] = len(out) + 2
        out += sizes[name]
    out += bytes(-len(out) % 4)  # pad with end-of-list bytes
    if len(out) > MAX_OPTIONS:
        raise ValueError(f"option layout {layout!r} needs {len(out)} bytes, over {MAX_OPTIONS}")
    return _Layout(bytes(out), where.get("mss"), where.get("ws"), where.get("ts"))


_LAYOUTS: tuple[_Layout, ...] = tuple(_encode_layout(layout) for layout in OPTION_LAYOUTS)
OPTION_BYTES = np.array([len(layout.template) for layout in _LAYOUTS], dtype=np.uint8)


def _fold(total: np.ndarray) -> np.ndarray:
    """One's-complement of a 32-bit sum of 16-bit words: the Internet checksum."""
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    return (~total & 0xFFFF).astype(np.uint16)


def _records(packets: SynPackets) -> np.ndarray:
    """Concatenated pcap records (header + frame) of ``packets`` as one uint8 array."""
    n = len(packets)
    rec = np.zeros(n, dtype=_RECORD_DTYPE)
    raw = rec.view(np.uint8).reshape(n, RECORD_ROOM)
    opt_len = OPTION_BYTES[packets.layout].astype(np.int64)
    ip_len = 40 + opt_len
    frame_len = np.maximum(MIN_FRAME, 14 + ip_len)

    rec["ts_sec"] = packets.ts_us // 1_000_000
    rec["ts_usec"] = packets.ts_us % 1_000_000
    rec["incl_len"] = frame_len
    rec["orig_len"] = frame_len
    raw[:, _REC : _REC + 14] = np.frombuffer(
        ETH_DST + ETH_SRC + struct.pack(">H", ETHERTYPE_IPV4), dtype=np.uint8
    )
    rec["ver_ihl"] = 0x45
    rec["ip_len"] = ip_len
    rec["ip_id"] = packets.ip_id
    rec["frag"] = np.where(packets.df, 0x4000, 0)
    rec["ttl"] = packets.ttl
    rec["proto"] = 6
    rec["src"] = packets.src_ip
    rec["dst"] = packets.dst_ip
    rec["sport"] = packets.src_port
    rec["dport"] = packets.dst_port
    rec["seq"] = packets.seq
    rec["offset"] = ((20 + opt_len) // 4) << 4
    rec["flags"] = packets.flags
    rec["window"] = packets.window
    option_words = _write_options(raw[:, _OPT:], packets)

    src = packets.src_ip.astype(np.int64)
    dst = packets.dst_ip.astype(np.int64)
    addresses = (src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF)
    ip_sum = 0x4500 + ip_len + packets.ip_id + rec["frag"] + (packets.ttl.astype(np.int64) << 8)
    rec["ip_sum"] = _fold(ip_sum + 6 + addresses)
    seq = packets.seq.astype(np.int64)
    header_words = (
        packets.src_port.astype(np.int64)
        + packets.dst_port
        + (seq >> 16)
        + (seq & 0xFFFF)
        + (rec["offset"].astype(np.int64) << 8)
        + packets.flags
        + packets.window
    )
    pseudo_header = addresses + 6 + (20 + opt_len)
    rec["tcp_sum"] = _fold(header_words + option_words + pseudo_header)

    keep = np.arange(RECORD_ROOM) < (_REC + frame_len)[:, None]
    return raw[keep]


def _write_options(options: np.ndarray, packets: SynPackets) -> np.ndarray:
    """Fill each row of ``options`` (uint8, n x MAX_OPTIONS) with its packet's option bytes.

    Returns each packet's sum of its option bytes as big-endian 16-bit words (for the checksum).
    """
    words = np.zeros(len(packets), dtype=np.int64)
    for code in np.unique(packets.layout):
        layout = _LAYOUTS[code]
        rows = np.flatnonzero(packets.layout == code)
        if not layout.template:
            continue
        block = np.broadcast_to(
            np.frombuffer(layout.template, dtype=np.uint8), (len(rows), len(layout.template))
        ).copy()
        if layout.mss_at is not None:
            mss = packets.mss[rows]
            block[:, layout.mss_at] = mss >> 8
            block[:, layout.mss_at + 1] = mss & 0xFF
        if layout.ws_at is not None:
            block[:, layout.ws_at] = packets.wscale[rows]
        if layout.ts_at is not None:
            tsval = packets.tsval[rows]
            for byte in range(4):
                block[:, layout.ts_at + byte] = (tsval >> (8 * (3 - byte))) & 0xFF
        options[rows, : len(layout.template)] = block
        pairs = block.astype(np.int64)
        words[rows] = (pairs[:, 0::2] << 8).sum(axis=1) + pairs[:, 1::2].sum(axis=1)
    return words


def pcap_header() -> bytes:
    """The 24-byte global header of a classic little-endian pcap with Ethernet frames."""
    return struct.pack("<IHHiIII", PCAP_MAGIC, 2, 4, 0, 0, SNAPLEN, LINKTYPE_ETHERNET)


def write_pcap(
    stream: BinaryIO,
    packets: SynPackets,
    *,
    chunk: int = 1 << 18,
    progress: Callable[[int], object] | None = None,
) -> int:
    """Write a pcap global header and ``packets`` in their order; return the bytes written.

    ``progress`` (optional) is called with the number of packets written after each chunk.
    """
    written = stream.write(pcap_header())
    for start in range(0, len(packets), chunk):
        part = packets.take(slice(start, start + chunk))
        written += stream.write(_records(part).tobytes())
        if progress is not None:
            progress(len(part))
    return written
