"""read_labels: the labels CSV and its errors."""

from __future__ import annotations

import pytest
from flows_helpers import write_labels

from iotscope.data.labels import LabelError, read_labels


def test_reads_labels_and_family(tmp_path):
    path = write_labels(
        tmp_path / "labels.csv",
        [
            ("10.0.0.1", "iot", "mirai"),
            ("10.0.0.2", " Non-IoT ", ""),
            ("aa:bb:cc:00:11:22", "IOT", "hue"),
        ],
    )
    labels = read_labels(path)
    assert labels["host"].tolist() == ["10.0.0.1", "10.0.0.2", "aa:bb:cc:00:11:22"]
    assert labels["label"].tolist() == [1, 0, 1]
    assert str(labels["label"].dtype) == "int8"
    assert labels["family"].tolist()[0] == "mirai" and labels["family"].isna().tolist()[1]


def test_family_column_is_optional(tmp_path):
    path = write_labels(tmp_path / "labels.csv", [("h1", "iot"), ("h2", "non-iot")], "host,label")
    labels = read_labels(path)
    assert labels["family"].isna().all() and labels["label"].tolist() == [1, 0]


def test_unknown_labels_are_all_listed(tmp_path):
    rows = [("h1", "iot"), ("h2", "router"), ("h3", "benign"), ("h4", "router")]
    path = write_labels(tmp_path / "labels.csv", rows, "host,label")
    with pytest.raises(
        LabelError, match=r"labels.csv: unknown label value\(s\) 'benign', 'router'"
    ):
        read_labels(path)


def test_duplicate_hosts_are_an_error(tmp_path):
    rows = [("h1", "iot"), ("h2", "non-iot"), ("h1", "iot"), ("h3", "iot"), ("h3", "non-iot")]
    path = write_labels(tmp_path / "labels.csv", rows, "host,label")
    with pytest.raises(LabelError, match=r"2 host\(s\) listed more than once: h1, h3"):
        read_labels(path)


def test_missing_column_is_an_error(tmp_path):
    path = write_labels(tmp_path / "labels.csv", [("h1", "iot")], "address,class")
    with pytest.raises(LabelError, match=r"missing column\(s\) host, label"):
        read_labels(path)


def test_empty_host_names_the_line(tmp_path):
    path = write_labels(tmp_path / "labels.csv", [("h1", "iot"), ("", "iot")], "host,label")
    with pytest.raises(LabelError, match=r"empty host on line\(s\) 3"):
        read_labels(path)


def test_missing_or_empty_file(tmp_path):
    with pytest.raises(LabelError, match="not found"):
        read_labels(tmp_path / "none.csv")
    path = write_labels(tmp_path / "labels.csv", [], "host,label")
    with pytest.raises(LabelError, match="no labelled hosts"):
        read_labels(path)
