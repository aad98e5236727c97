"""Configuration checks, wildcard constraints and every path of the workflow, in one place."""

import re
from pathlib import Path

from snakemake.utils import validate

from iotscope.models import MODELS
from iotscope.workflow_config import (
    capture_files as named_captures,
    load_schema,
    raise_for,
    schema_problems,
    study_problems,
)

REPO = Path(workflow.basedir)
CONFIG_SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"

raise_for(
    schema_problems(config, load_schema(CONFIG_SCHEMA)),
    "workflow/schemas/config.schema.yaml",
)
validate(config, schema=str(CONFIG_SCHEMA), set_default=True)
raise_for(study_problems(config), "checked against the model registry")

MODEL_NAMES = config["models"]
N_PACKETS = config["experiments"]["packets"]["n_packets"]
RUNS = list(range(config["experiments"]["packets"]["runs"]))
FOLDS = list(range(config["splits"]["folds"]))
T_MAX = config["flows"]["t_max"]


def fail(message):
    """Stop before any job: ``message`` names the configuration key at fault."""
    raise ValueError(f"invalid configuration: {message}")


def hyperparameter_overrides(model):
    return dict(config["hyperparameter_overrides"].get(model, {}))


def capture_files():
    """Capture name -> file. The simulated telescope is one capture named ``telescope``."""
    if config["data"]["source"] == "simulated":
        return {"telescope": SIMULATED_PCAP}
    return named_captures(config["data"]["captures"]["files"])


def labels_file():
    if config["data"]["source"] == "simulated":
        return SIMULATED_LABELS
    return config["data"]["captures"]["labels"]


# Paths -----------------------------------------------------------------------------------

SIMULATED_PCAP = "data/simulated/telescope.pcap"
SIMULATED_LABELS = "data/simulated/labels.csv"
PACKETS = "results/packets/{capture}.parquet"
FLOWS = "results/flows.parquet"
SPLITS = "results/splits.parquet"
HPARAMS = "results/hparams/{model}.yaml"
MODEL_SOURCE = "src/iotscope/models/{model}.py"
RUN_DIRS = {
    "optimized": "results/runs/optimized/{model}",
    "packets": "results/runs/packets/{model}/n{n_packets}/run{run}",
    "cv": "results/runs/cv/{model}/fold{fold}",
}
METRICS = "results/metrics.parquet"
TABLES = "results/tables"
STATISTICS = "results/tables/statistics"
FIGURES = "results/figures"
SUMMARY = "results/summary.md"
CAPTURES = capture_files()


def run_file(experiment, name):
    """``metrics.json`` or ``predictions.parquet`` of one training job, as a wildcard pattern."""
    return f"{RUN_DIRS[experiment]}/{name}"


def model_source(wildcards):
    """The model's source file: editing it reruns that model's jobs."""
    return str(REPO / MODEL_SOURCE.format(model=wildcards.model))


def training_inputs(wildcards):
    """The few files one training job reads."""
    return {
        "flows": FLOWS,
        "splits": SPLITS,
        "hyperparameters": HPARAMS.format(model=wildcards.model),
        "source": model_source(wildcards),
    }


def all_metrics():
    """Every training job's metrics.json: the aggregation's input."""
    return [
        *expand(run_file("optimized", "metrics.json"), model=MODEL_NAMES),
        *expand(
            run_file("packets", "metrics.json"),
            model=MODEL_NAMES,
            n_packets=N_PACKETS,
            run=RUNS,
        ),
        *expand(run_file("cv", "metrics.json"), model=MODEL_NAMES, fold=FOLDS),
    ]


def report_outputs():
    """Every table and figure of the report."""
    return [
        *expand(f"{TABLES}/{{name}}.{{ext}}", name=OPTIMIZED_TABLES, ext=("csv", "md")),
        STATISTICS,
        *expand(f"{FIGURES}/{{name}}.svg", name=PACKET_FIGURES),
        f"{FIGURES}/cv_accuracy.svg",
        *expand(f"{FIGURES}/{{curve}}_{{model}}.svg", curve=CURVES, model=MODEL_NAMES),
    ]


OPTIMIZED_TABLES = ("optimized_runtime", "optimized_scores")
PACKET_FIGURES = ("accuracy_vs_packets", "loss_vs_packets", "runtime_vs_packets")
CURVES = ("roc", "roc_zoom", "pr", "pr_weighted")


wildcard_constraints:
    model="|".join(map(re.escape, MODELS)),
    n_packets=r"\d+",
    run=r"\d+",
    fold=r"\d+",
    capture=r"[^/]+",
