"""The workflow's configuration and files: validation before any job, lint, formatting, envs."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate
from workflow_helpers import REPO, SNAKEFILE, TINY, job_counts, snakemake, with_settings

from iotscope.workflow_config import (
    capture_files,
    capture_name,
    load_schema,
    schema_problems,
    study_problems,
)

SCHEMA_PATH = REPO / "workflow" / "schemas" / "config.schema.yaml"


def merged(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and key in out else value
    return out


def problems(settings: str) -> list[str]:
    """What the workflow says about tests/configs/tiny.yaml with ``settings`` on top."""
    config = merged(yaml.safe_load(TINY.read_text()), yaml.safe_load(settings))
    found = schema_problems(config, load_schema(SCHEMA_PATH))
    if found:
        return found
    validate(config, str(SCHEMA_PATH), set_default=True)
    return study_problems(config)


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ("trainnig: {epochs: 1}", "(top level): Additional properties are not allowed ('trainnig'"),
        ("training: {epochs: 0}", "training.epochs: 0 is less than the minimum of 1"),
        ("training: {epoch: 3}", "training: Additional properties are not allowed ('epoch'"),
        ("data: {source: telescope}", "data.source: 'telescope' is not one of"),
        ("splits: {folds: 1}", "splits.folds: 1 is less than the minimum of 2"),
        ("models: [cnn2d, cnn3d]", "models: unknown model(s) ['cnn3d']"),
        ("hyperparameter_overrides: {cnn3d: {}}", "hyperparameter_overrides.cnn3d: unknown model"),
        (
            "hyperparameter_overrides: {cnn1d: {kernal_height: 3}}",
            "hyperparameter_overrides.cnn1d (n_packets=20): unknown hyperparameter(s) "
            "'kernal_height'",
        ),
        (
            "hyperparameter_overrides: {cnn1d: {kernel_height: 25}}",
            "hyperparameter_overrides.cnn1d (n_packets=20): ",
        ),
        ("experiments: {packets: {n_packets: [20, 31]}}", "[31] exceed flows.t_max (30)"),
        ("data: {source: captures}", "data.captures.files: empty, but data.source is captures"),
        (
            "data: {source: captures, captures: {files: [a/x.pcap, b/x.pcap.gz], labels: l.csv}}",
            "'a/x.pcap' and 'b/x.pcap.gz' share the name 'x'",
        ),
    ],
)
def test_a_wrong_key_or_value_is_named(setting: str, named: str) -> None:
    found = problems(setting)
    assert any(named in problem for problem in found), found


def test_the_shipped_configs_are_valid() -> None:
    for path in (REPO / "config" / "config.yaml", REPO / "config" / "demo.yaml", TINY):
        config = merged(yaml.safe_load((REPO / "config" / "config.yaml").read_text()), {})
        config = merged(config, yaml.safe_load(path.read_text()))
        assert schema_problems(config, load_schema(SCHEMA_PATH)) == [], path
        validate(config, str(SCHEMA_PATH), set_default=True)
        assert study_problems(config) == [], path


def test_capture_names_drop_capture_suffixes() -> None:
    assert capture_name("day/2024-05-01-00.pcap.gz") == "2024-05-01-00"
    assert capture_name("darknet01_20210501.csv.gz") == "darknet01_20210501"
    assert capture_name("Setup-A-1-STA.PCAPNG") == "Setup-A-1-STA"
    assert capture_files(["a.pcap", "b.csv"]) == {"a": "a.pcap", "b": "b.csv"}


@pytest.mark.slow
def test_a_wrong_key_stops_the_run_before_any_job(tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    configs = with_settings(tmp_path, "wrong", "training: {epochs: 1, threds: 2}")
    result = snakemake(workdir, "--cores", "1", configfile=configs, check=False)
    assert result.returncode != 0
    assert "training: Additional properties are not allowed ('threds'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (workdir / "results").exists() and not (workdir / "data").exists()


@pytest.mark.slow
def test_captures_get_one_ingest_job_each(tmp_path: Path) -> None:
    for name in ("hour00.pcap", "hour01.pcapng.gz", "labels.csv"):
        (tmp_path / name).write_bytes(b"")
    configs = with_settings(
        tmp_path,
        "captures",
        "data: {source: captures, captures: {files: [hour00.pcap, hour01.pcapng.gz], "
        "labels: labels.csv}}",
    )
    result = snakemake(tmp_path, "--dry-run", "--cores", "1", configfile=configs)
    output = result.stdout + result.stderr
    counts = job_counts(output)
    assert counts["ingest"] == 2 and "simulate" not in counts
    assert "results/packets/hour00.parquet" in output
    assert "results/packets/hour01.parquet" in output


@pytest.mark.slow
def test_the_full_protocol_plans_every_job(tmp_path: Path) -> None:
    result = snakemake(
        tmp_path, "--dry-run", "--cores", "4", configfile=REPO / "config" / "config.yaml"
    )
    counts = job_counts(result.stdout + result.stderr)
    assert counts["train_optimized"] == 3
    assert counts["train_packets"] == 3 * 7 * 49
    assert counts["train_cv"] == 3 * 20
    assert counts["hyperparameters"] == counts["figures_curves"] == 3
    assert counts["simulate"] == counts["ingest"] == counts["aggregate"] == 1


@pytest.mark.slow
def test_lint_is_clean(tmp_path: Path) -> None:
    result = snakemake(tmp_path, "--lint", check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Congratulations" in output, output


def test_snakefmt_formatting() -> None:
    snakefmt = Path(sys.executable).with_name("snakefmt")
    files = [SNAKEFILE, *sorted((REPO / "rules").glob("*.smk"))]
    unformatted = [
        path.relative_to(REPO)
        for path in files
        if subprocess.run([str(snakefmt), "--check", str(path)], capture_output=True).returncode
    ]
    assert unformatted == [], f"run snakefmt on {unformatted}"


def test_conda_env_pins_the_project_dependencies() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((REPO / "envs" / "iotscope.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip == project["dependencies"]
    minimum = project["requires-python"].removeprefix(">=")
    pythons = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")]
    assert pythons == [f"python={minimum}"]


def test_every_schema_key_has_a_description_and_a_default() -> None:
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())

    def walk(node: dict, path: str) -> None:
        for key, child in node.get("properties", {}).items():
            where = f"{path}{key}"
            assert "description" in child, f"{where} has no description"
            assert "default" in child, f"{where} has no default"
            if child.get("type") == "object":
                walk(child, where + ".")

    walk(schema, "")
    assert schema["additionalProperties"] is False


def test_config_yaml_is_the_schema_defaults() -> None:
    """config/config.yaml spells out the defaults, so a config on top of it or alone agree."""
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())

    def walk(node: dict, values: dict, path: str) -> None:
        for key, child in node["properties"].items():
            where = f"{path}{key}"
            if child.get("type") == "object" and "properties" in child:
                walk(child, values[key], where + ".")
            else:
                assert values[key] == child["default"], where

    walk(schema, config, "")
