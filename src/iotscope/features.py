"""The per-packet features of a flow tensor: one named, ordered list used everywhere.

The original study used 17 features but never published them; this is iotscope's documented
choice. Each row of a host's matrix is one TCP SYN packet described by these features, in this
order. Ingest writes the raw header fields (see ``iotscope.data.packets``); the flow builder turns
them into these features.
"""

from __future__ import annotations

import numpy as np

FEATURE_NAMES: tuple[str, ...] = (
    "log_iat",  # ln(1 + microseconds since the host's previous SYN); 0 for its first
    "ttl",  # IP time to live as received
    "initial_ttl",  # inferred initial TTL: the smallest of 32, 64, 128, 255 that is >= ttl
    "ip_id",  # IP identification field
    "ip_len",  # IP total length in bytes
    "df",  # IP don't-fragment flag (0/1)
    "src_port",  # TCP source port
    "dst_port",  # TCP destination port
    "window",  # TCP receive window (unscaled)
    "tcp_flags",  # TCP flags byte
    "opt_len",  # TCP options length in bytes
    "mss",  # MSS option value, 0 if absent
    "wscale",  # window-scale option shift, -1 if absent
    "sack_ok",  # SACK-permitted option present (0/1)
    "ts_present",  # timestamp option present (0/1)
    "opt_layout",  # code of the option layout in OPTION_LAYOUTS (0 none, OTHER if unlisted)
    "seq_eq_dst",  # TCP sequence number equals the destination IPv4 address (Mirai's mark)
)
N_FEATURES: int = len(FEATURE_NAMES)
T_MAX: int = 298
"""Packets kept per host in a flow tensor unless told otherwise: the longest sequence the study's
models read."""

# TCP option kinds by name, as used in layout strings.
OPTION_NAMES: dict[int, str] = {0: "eol", 1: "nop", 2: "mss", 3: "ws", 4: "sok", 5: "sack", 8: "ts"}

# p0f-style option layouts of SYN packets, code = index. Unlisted layouts get OPTION_LAYOUT_OTHER.
OPTION_LAYOUTS: tuple[str, ...] = (
    "",  # no options: Mirai, zmap, masscan, most crafted scanners
    "mss",  # nmap SYN scan, some embedded stacks
    "mss,sok,ts,nop,ws",  # Linux >= 2.6 connect()
    "mss,nop,ws,nop,nop,sok",  # Windows Vista and later
    "mss,nop,nop,sok",  # Windows without window scaling
    "mss,nop,ws,sok,ts",  # BSD-like stacks
    "mss,nop,ws,nop,nop,ts,sok,eol",  # macOS / iOS
    "mss,nop,nop,ts,nop,ws",  # some BusyBox builds
    "mss,sok",  # old embedded Linux without timestamps
    "mss,nop,ws",  # stripped-down stacks
    "mss,sok,ts",  # Linux with window scaling off
    "mss,nop,nop,sok,nop,ws",  # Windows XP-era
)
OPTION_LAYOUT_OTHER: int = len(OPTION_LAYOUTS)
_LAYOUT_CODES: dict[str, int] = {layout: code for code, layout in enumerate(OPTION_LAYOUTS)}

INITIAL_TTLS: tuple[int, ...] = (32, 64, 128, 255)


def option_layout_code(layout: str) -> int:
    """Code of an option layout string such as ``"mss,sok,ts,nop,ws"``."""
    return _LAYOUT_CODES.get(layout, OPTION_LAYOUT_OTHER)


def infer_initial_ttl(ttl: np.ndarray) -> np.ndarray:
    """Smallest common initial TTL at or above each received TTL (hop count is the difference)."""
    ttl = np.asarray(ttl)
    candidates = np.asarray(INITIAL_TTLS, dtype=np.int16)
    index = np.searchsorted(candidates, ttl, side="left")
    return candidates[np.minimum(index, len(candidates) - 1)]
