"""Snakemake script of rule ``tune_summary``: best.yaml, trials.parquet and figures of a study."""

from pathlib import Path

from scriptlib import log_to

from iotscope.hyperparameters import resolve_hyperparameters
from iotscope.tune.results import write_study_outputs
from iotscope.tune.study import open_study_of_workers


def main(smk) -> None:
    log = log_to(smk.log[0])
    model = smk.wildcards.model
    study = open_study_of_workers(smk.input.workers)
    best = write_study_outputs(
        study,
        model=model,
        base=resolve_hyperparameters(model, smk.params.fixed),
        epochs=smk.params.epochs,
        out_dir=Path(smk.output.best).parent,
    )
    log.info("%s: best trial %d, validation loss %.4f", model, best["trial"], best["value"])


main(snakemake)  # noqa: F821
