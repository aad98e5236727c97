"""The packet table: what ingest writes and the flow builder reads (one row per kept packet).

Header fields are null only where the source does not carry them (a telescope CSV has no IP ID
and no TCP window). Option fields are null where the option is absent from the packet, or the
source does not say. The flow builder maps nulls to the feature defaults (``mss`` 0,
``wscale`` -1, the rest 0) and records wholly absent columns in the flows metadata.
"""

from __future__ import annotations

import pyarrow as pa

PACKET_SCHEMA = pa.schema(
    [
        pa.field("ts", pa.timestamp("ns"), nullable=False),
        pa.field("host", pa.string(), nullable=False),  # source IPv4 (dotted) or source MAC
        pa.field("dst_ip", pa.uint32()),
        pa.field("ttl", pa.uint8()),
        pa.field("ip_id", pa.uint16()),
        pa.field("ip_len", pa.uint16()),
        pa.field("df", pa.bool_()),
        pa.field("src_port", pa.uint16()),
        pa.field("dst_port", pa.uint16()),
        pa.field("seq", pa.uint32()),
        pa.field("window", pa.uint16()),
        pa.field("flags", pa.uint8()),
        pa.field("opt_len", pa.uint8()),
        pa.field("mss", pa.uint16()),
        pa.field("wscale", pa.uint8()),
        pa.field("sack_ok", pa.bool_()),
        pa.field("ts_present", pa.bool_()),
        pa.field("opt_layout", pa.uint8()),  # code in iotscope.features.OPTION_LAYOUTS
    ]
)
PACKET_COLUMNS: tuple[str, ...] = tuple(PACKET_SCHEMA.names)

# Keys of the packet table's schema metadata (values are UTF-8 JSON).
META_SOURCE = b"iotscope.source"  # the capture file's path as given
META_LINKTYPE = b"iotscope.linktype"  # pcap link type name, or "csv"
META_COUNTS = b"iotscope.counts"  # {"read": n, "kept": n, "skipped": {reason: n}}
META_ABSENT = b"iotscope.absent_columns"  # columns the source does not carry
