"""Snakemake script of rule ``tuning_report``: the report's tuning tables."""

from pathlib import Path

from scriptlib import log_to

from iotscope.tune.results import write_tuning_tables


def main(smk) -> None:
    log = log_to(smk.log[0])
    write_tuning_tables(
        models=smk.params.models,
        best_files=smk.input.best,
        summary_files=smk.input.summary,
        search_space=smk.params.search_space,
        fixed=smk.params.fixed,
        out={name: Path(path) for name, path in smk.output.items()},
    )
    log.info("tuning tables: %s", ", ".join(smk.output))


main(snakemake)  # noqa: F821
