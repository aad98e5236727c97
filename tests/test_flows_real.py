"""Flows from real telescope packet tables: the two DarkVec days, ingested, then joined."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from iotscope.data.flows import build_flows, read_flows_metadata
from iotscope.data.ingest import ingest_capture
from iotscope.features import FEATURE_NAMES

DAYS = ("darknet01_20210501.csv.gz", "darknet01_20210502.csv.gz")


@pytest.fixture
def darkvec_tables(real_data, tmp_path):
    paths = []
    for day in DAYS:
        out = tmp_path / day.replace(".csv.gz", ".parquet")
        ingest_capture(real_data / "darkvec-telescope" / day, out)
        paths.append(out)
    return paths


def test_two_days_join_per_host(darkvec_tables, tmp_path):
    out = tmp_path / "flows.parquet"
    report = build_flows(darkvec_tables, None, out, t_max=32, min_packets=3)
    packets = pd.concat([pq.read_table(path).to_pandas() for path in darkvec_tables])
    per_host = packets.groupby("host").size()
    flows = pq.read_table(out)
    assert report.packets == len(packets)
    assert report.hosts_seen == len(per_host)
    assert report.hosts == int((per_host >= 3).sum()) == flows.num_rows
    observed = dict(zip(flows["host"].to_pylist(), flows["n_packets"].to_pylist(), strict=True))
    assert observed == per_host[per_host >= 3].to_dict()

    meta = read_flows_metadata(out)
    absent = set().union(*(set(s["absent_columns"]) for s in meta["sources"]))
    assert set(meta["absent_columns"]) == absent and "window" in absent
    assert "window" in meta["absent_features"]
    x = flows["x"].combine_chunks().to_numpy_ndarray()
    # A real telescope: received TTLs near an initial 255 or 64, all inferred from real packets.
    first = x[:, 0]
    assert set(np.unique(first[:, FEATURE_NAMES.index("initial_ttl")])) <= {32, 64, 128, 255}
    assert np.all(x[:, 0, FEATURE_NAMES.index("log_iat")] == 0)
    window = FEATURE_NAMES.index("window")
    assert np.all(x[:, :, window] == 0)  # absent in the CSV: the documented default
