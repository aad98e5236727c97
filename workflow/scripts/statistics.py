"""Snakemake script of rule ``statistics``: the tests' tables from results/metrics.parquet."""

from scriptlib import log_to

from iotscope.stats.pipeline import write_tables


def main(smk) -> None:
    log = log_to(smk.log[0])
    written = write_tables(
        smk.input[0], smk.output[0], alpha=smk.params.alpha, models=smk.params.models
    )
    log.info("wrote %d files into %s", len(written), smk.output[0])


main(snakemake)  # noqa: F821
