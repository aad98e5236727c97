"""Snakemake script of rule ``summary``: results/summary.md, the results section in prose."""

from scriptlib import log_to

from iotscope.report import write_summary


def main(smk) -> None:
    log_to(smk.log[0])
    write_summary(
        metrics_path=smk.input.metrics,
        statistics_dir=smk.input.statistics,
        out_path=smk.output[0],
        models=smk.params.models,
        alpha=smk.params.alpha,
    )


main(snakemake)  # noqa: F821
