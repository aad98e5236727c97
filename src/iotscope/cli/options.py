"""What several commands share: the workflow's default file locations and common options."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

FLOWS_PATH = Path("results/flows.parquet")
SPLITS_PATH = Path("results/splits.parquet")

FlowsOption = Annotated[Path, typer.Option(help="Flow tensors written by `iotscope flows`.")]
NPacketsOption = Annotated[
    int, typer.Option(help="Use each host's first N packets (at most the flows' t_max).")
]
