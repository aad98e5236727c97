"""`iotscope flows` and `iotscope splits` from the command line."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
from flows_helpers import random_packets, write_labels, write_packets
from typer.testing import CliRunner

from iotscope.cli import app
from iotscope.data.flows import read_flows_metadata

runner = CliRunner()


def _text(output: str) -> str:
    """Output with rich's line wrapping undone."""
    return " ".join(output.split())


def _packets(tmp_path, n_hosts=60):
    rng = np.random.default_rng(3)
    hosts = [f"192.0.2.{i}" for i in range(n_hosts)]
    columns = random_packets(rng, hosts, rng.integers(5, 40, n_hosts))
    path = write_packets(tmp_path / "packets.parquet", columns)
    rows = [(h, "iot" if i % 3 == 0 else "non-iot", "fam") for i, h in enumerate(hosts)]
    return path, write_labels(tmp_path / "labels.csv", rows), hosts


def test_flows_then_splits(tmp_path):
    packets, labels, hosts = _packets(tmp_path)
    flows = tmp_path / "results" / "flows.parquet"
    settings = tmp_path / "sim.yaml"
    settings.write_text("hosts: 60\ndifficulty: 0.5\n")
    result = runner.invoke(
        app,
        [
            "flows", str(packets), "--labels", str(labels), "--out", str(flows), "--t-max", "16",
            "--min-packets", "5", "--parameters", str(settings), "--param", "seed=4",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "hosts written" in result.output
    assert pq.read_table(flows).num_rows == len(hosts)
    meta = read_flows_metadata(flows)
    assert meta["parameters"] == {"hosts": 60, "difficulty": 0.5, "seed": 4}
    assert meta["t_max"] == 16

    splits = tmp_path / "results" / "splits.parquet"
    result = runner.invoke(app, ["splits", str(flows), "--out", str(splits), "--folds", "4"])
    assert result.exit_code == 0, result.output
    table = pq.read_table(splits)
    assert set(table["split"].to_pylist()) == {"train", "val", "test"}
    assert sorted(set(table["fold"].to_pylist())) == [-1, 0, 1, 2, 3]


def test_bad_labels_exit_with_the_reason(tmp_path):
    packets, _, _ = _packets(tmp_path)
    labels = write_labels(tmp_path / "bad.csv", [("192.0.2.1", "camera")], "host,label")
    out = tmp_path / "flows.parquet"
    result = runner.invoke(app, ["flows", str(packets), "--labels", str(labels), "-o", str(out)])
    assert result.exit_code == 2
    assert "unknown label value(s) 'camera'" in _text(result.output)
    assert not out.exists()


def test_impossible_split_exits_with_the_reason(tmp_path):
    packets, labels, _ = _packets(tmp_path)
    flows = tmp_path / "flows.parquet"
    assert (
        runner.invoke(app, ["flows", str(packets), "-l", str(labels), "-o", str(flows)]).exit_code
        == 0
    )
    result = runner.invoke(app, ["splits", str(flows), "-o", str(tmp_path / "s.parquet")])
    assert result.exit_code == 2
    assert "too few for 20 folds" in _text(result.output)


def test_help_explains_inputs():
    flows_help = _text(runner.invoke(app, ["flows", "--help"]).output)
    assert "host,label[,family]" in flows_help and "--min-packets" in flows_help
    splits_help = _text(runner.invoke(app, ["splits", "--help"]).output)
    assert "fold -1 for test" in splits_help
