"""Snakemake script of rule ``figures_packets``: Figures 4.1-4.3."""

from scriptlib import log_to

from iotscope.plots import write_packet_figures


def main(smk) -> None:
    log_to(smk.log[0])
    paths = {name: smk.output[name] for name in ("accuracy", "loss", "fit_seconds")}
    write_packet_figures(smk.input[0], paths, models=smk.params.models)


main(snakemake)  # noqa: F821
