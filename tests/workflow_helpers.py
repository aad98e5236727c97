"""Running the real workflow from the tests: the repository's Snakefile in a scratch directory."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"
TINY = REPO / "tests" / "configs" / "tiny.yaml"

# Job counts of a fresh run of tests/configs/tiny.yaml: 2 models, 2 packet counts, 2 runs, 2 folds.
TINY_JOBS = {
    "simulate": 1,
    "ingest": 1,
    "flows": 1,
    "splits": 1,
    "hyperparameters": 2,
    "train_optimized": 2,
    "train_packets": 8,
    "train_cv": 4,
    "aggregate": 1,
    "optimized_tables": 1,
    "statistics": 1,
    "figures_packets": 1,
    "figure_cv": 1,
    "figures_curves": 2,
    "summary": 1,
    "all": 1,
}
TRAINING_RULES = ("train_optimized", "train_packets", "train_cv")


def snakemake_command(
    workdir: Path,
    *args: str,
    configfile: Path | Sequence[Path] = TINY,
    snakefile: Path = SNAKEFILE,
) -> list[str]:
    configfiles = [configfile] if isinstance(configfile, Path) else list(configfile)
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(snakefile),
        "--directory",
        str(workdir),
        "--configfile",
        *map(str, configfiles),
        *args,
    ]


def snakemake(
    workdir: Path,
    *args: str,
    configfile: Path | Sequence[Path] = TINY,
    snakefile: Path = SNAKEFILE,
    check: bool = True,
    timeout: float = 900,
) -> subprocess.CompletedProcess[str]:
    """Run snakemake to completion; raise with its output when ``check`` and it fails."""
    result = subprocess.run(
        snakemake_command(workdir, *args, configfile=configfile, snakefile=snakefile),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({result.returncode}):\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-8000:]}"
        )
    return result


def job_counts(output: str) -> dict[str, int]:
    """Jobs per rule from the 'Job stats' table Snakemake prints before running (or dry-running)."""
    counts: dict[str, int] = {}
    lines = output.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "Job stats:")
    except StopIteration:
        return counts
    for line in lines[start + 1 :]:
        match = re.fullmatch(r"\s*([A-Za-z_]\w*)\s+(\d+)\s*", line)
        if match is not None:
            name, count = match.groups()
            if name != "total":
                counts[name] = int(count)
        elif counts and not line.strip():
            break
    return counts


def dry_run(
    workdir: Path,
    *args: str,
    configfile: Path | Sequence[Path] = TINY,
    snakefile: Path = SNAKEFILE,
) -> dict[str, int]:
    """Jobs per rule that a real run would execute now."""
    result = snakemake(
        workdir, "--dry-run", "--cores", "2", *args, configfile=configfile, snakefile=snakefile
    )
    return job_counts(result.stdout + result.stderr)


def copy_workflow(target: Path) -> Path:
    """A copy of the workflow's definition (and the model sources it tracks) under ``target``,
    so that a test can edit a model's source without touching the repository; returns its
    Snakefile. The code that runs is still the installed package."""
    for folder in ("rules", "workflow", "config", "envs", "profiles"):
        shutil.copytree(
            REPO / folder, target / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    models = target / "src" / "iotscope" / "models"
    models.mkdir(parents=True)
    for source in (REPO / "src" / "iotscope" / "models").glob("*.py"):
        shutil.copy2(source, models / source.name)
    shutil.copy2(SNAKEFILE, target / "Snakefile")
    return target / "Snakefile"


def with_settings(tmp_path: Path, name: str, settings: str) -> list[Path]:
    """tests/configs/tiny.yaml plus a config file holding ``settings`` (YAML) on top of it."""
    extra = tmp_path / f"{name}.yaml"
    extra.write_text(settings)
    return [TINY, extra]
