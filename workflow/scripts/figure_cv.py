"""Snakemake script of rule ``figure_cv``: cross-validation accuracy per model."""

from scriptlib import log_to

from iotscope.plots import write_cv_figure


def main(smk) -> None:
    log_to(smk.log[0])
    write_cv_figure(smk.input[0], smk.output[0], models=smk.params.models)


main(snakemake)  # noqa: F821
