"""Writing a table as CSV (full precision, for machines) and Markdown (7 significant digits, for
people), each atomically so that a file that exists is complete."""

from __future__ import annotations

import math
import numbers
import re
from pathlib import Path

import pandas as pd

from iotscope.io import atomic_path

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_]*$")


def format_cell(value: object) -> str:
    """Excel-like display: integers as such, other numbers to 7 significant digits, blanks empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        if number.is_integer() and abs(number) < 1e15:
            return str(int(number))
        return f"{number:.7g}"
    return str(value).replace("|", "\\|")


def to_markdown(table: pd.DataFrame, caption: str) -> str:
    header = [format_cell(c) for c in table.columns]
    lines = [
        f"*{caption}*",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(format_cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def write_table(table: pd.DataFrame, out_dir: Path, name: str, caption: str) -> list[Path]:
    """Write ``out_dir/name.csv`` and ``out_dir/name.md``; returns both paths."""
    if not NAME_PATTERN.match(name):
        raise ValueError(f"table name {name!r} must be lower-case letters, digits and underscores")
    csv_path, md_path = out_dir / f"{name}.csv", out_dir / f"{name}.md"
    with atomic_path(csv_path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.17g")
    with atomic_path(md_path) as tmp:
        tmp.write_text(to_markdown(table, caption), encoding="utf-8")
    return [csv_path, md_path]
