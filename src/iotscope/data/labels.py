"""Reading a labels file: which hosts are IoT and which are not.

A labels file is a CSV with a header and the columns ``host`` and ``label``, and optionally
``family`` (the population or device type a host belongs to, kept for multi-class work)::

    host,label,family
    198.51.100.7,iot,mirai
    203.0.113.20,non-iot,zmap

``label`` is ``iot`` or ``non-iot`` (case and surrounding spaces are ignored). Hosts are the
same keys as the packet table's ``host`` column: dotted IPv4 addresses or MAC addresses.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

LABEL_VALUES: dict[str, int] = {"iot": 1, "non-iot": 0}
"""Accepted label strings and the integer each becomes (1 = IoT)."""

REQUIRED_COLUMNS: tuple[str, ...] = ("host", "label")


class LabelError(ValueError):
    """A labels file that cannot be used as it is; the message names the file and the values."""


def read_labels(path: str | os.PathLike) -> pd.DataFrame:
    """Read a labels CSV into a frame with columns ``host`` (str), ``label`` (int8, 1 = IoT)
    and ``family`` (nullable str; all null when the file has no such column).

    Raises :class:`LabelError` for a missing column, an empty host, a label other than
    ``iot``/``non-iot`` (all offending values are listed) or a host listed more than once.
    """
    path = Path(path)
    if not path.is_file():
        raise LabelError(f"{path}: labels file not found")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    frame.columns = [str(column).strip() for column in frame.columns]
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        raise LabelError(
            f"{path}: missing column(s) {', '.join(missing)}; "
            f"found {', '.join(map(str, frame.columns)) or 'none'} "
            "(expected a header line 'host,label[,family]')"
        )
    if frame.empty:
        raise LabelError(f"{path}: no labelled hosts")

    hosts = frame["host"].str.strip()
    blank = frame.index[hosts == ""]
    if len(blank):
        lines = ", ".join(str(i + 2) for i in blank[:10])
        raise LabelError(f"{path}: empty host on line(s) {lines}")

    label_text = frame["label"].str.strip().str.lower()
    unknown = sorted(set(label_text) - set(LABEL_VALUES))
    if unknown:
        shown = ", ".join(repr(value) for value in unknown[:20])
        more = f" and {len(unknown) - 20} more" if len(unknown) > 20 else ""
        raise LabelError(
            f"{path}: unknown label value(s) {shown}{more}; "
            f"expected one of {', '.join(LABEL_VALUES)}"
        )

    duplicated = sorted(set(hosts[hosts.duplicated()]))
    if duplicated:
        shown = ", ".join(duplicated[:20])
        more = f" and {len(duplicated) - 20} more" if len(duplicated) > 20 else ""
        raise LabelError(f"{path}: {len(duplicated)} host(s) listed more than once: {shown}{more}")

    if "family" in frame.columns:
        family = frame["family"].str.strip().replace("", None)
    else:
        family = pd.Series([None] * len(frame), index=frame.index)
    return pd.DataFrame(
        {
            "host": hosts.astype(str).to_numpy(),
            "label": label_text.map(LABEL_VALUES).astype("int8").to_numpy(),
            "family": pd.array(family.to_numpy(dtype=object), dtype="string"),
        }
    )
