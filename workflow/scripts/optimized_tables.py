"""Snakemake script of rule ``optimized_tables``: the paper's Tables 1.2 and 1.3."""

from pathlib import Path

from scriptlib import log_to

from iotscope.aggregate import write_optimized_tables


def main(smk) -> None:
    log = log_to(smk.log[0])
    written = write_optimized_tables(
        smk.input[0], Path(smk.output.runtime).parent, models=smk.params.models
    )
    log.info("wrote %s", ", ".join(map(str, written)))


main(snakemake)  # noqa: F821
