"""Snakemake script of rule ``hyperparameters``: write results/hparams/{model}.yaml."""

from scriptlib import log_to

from iotscope.hyperparameters import resolve_hyperparameters, write_hyperparameters


def main(smk) -> None:
    log = log_to(smk.log[0])
    model = smk.wildcards.model
    selected = resolve_hyperparameters(model, smk.params.overrides)
    write_hyperparameters(smk.output[0], selected)
    log.info("%s: %s (overrides: %s)", model, selected, smk.params.overrides or "none")


main(snakemake)  # noqa: F821
