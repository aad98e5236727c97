"""Snakemake script of rule ``figures_curves``: ROC and precision-recall curves of one model."""

from scriptlib import log_to

from iotscope.plots import CURVES, write_curve_figures


def main(smk) -> None:
    log_to(smk.log[0])
    paths = {name: smk.output[name] for name in CURVES}
    write_curve_figures(smk.input[0], smk.wildcards.model, paths)


main(snakemake)  # noqa: F821
