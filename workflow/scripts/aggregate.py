"""Snakemake script of rule ``aggregate``: every metrics.json -> results/metrics.parquet."""

from scriptlib import log_to

from iotscope.aggregate import write_metrics_table


def main(smk) -> None:
    log = log_to(smk.log[0])
    rows = write_metrics_table(list(smk.input), smk.output[0])
    log.info("%d training jobs -> %s", rows, smk.output[0])


main(snakemake)  # noqa: F821
