"""What every workflow script does first: send its output to the job's log file.

Snakemake puts this folder on ``sys.path`` for the scripts in it. Where the ``iotscope`` package
is not installed in the job's environment (``--sdm conda``), the repository's ``src`` folder is
used instead.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from pathlib import Path

if importlib.util.find_spec("iotscope") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))


def log_to(path: str | os.PathLike) -> logging.Logger:
    """Send logging records, warnings, stdout and stderr (tracebacks included) to ``path``."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a", buffering=1)  # noqa: SIM115  (lives as long as the job)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(handle.fileno(), 1)
    os.dup2(handle.fileno(), 2)
    sys.stdout = sys.stderr = handle
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=[logging.StreamHandler(handle)],
        force=True,
    )
    logging.captureWarnings(True)
    return logging.getLogger("iotscope.workflow")
