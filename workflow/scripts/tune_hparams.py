"""Snakemake script of rule ``tuned_hyperparameters``: results/hparams/{model}.yaml."""

from scriptlib import log_to

from iotscope.hyperparameters import write_hyperparameters
from iotscope.tune.results import read_best


def main(smk) -> None:
    log = log_to(smk.log[0])
    best = read_best(smk.input[0])
    write_hyperparameters(smk.output[0], best["hyperparameters"])
    log.info("%s: tuned hyperparameters of trial %d: %s", best["model"], best["trial"], best)


main(snakemake)  # noqa: F821
