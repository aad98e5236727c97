"""Snakemake script of rule ``flows``: packet tables + labels -> results/flows.parquet."""

from scriptlib import log_to

from iotscope.data.flows import build_flows


def main(smk) -> None:
    log = log_to(smk.log[0])
    report = build_flows(
        list(smk.input.packets),
        smk.input.labels,
        smk.output[0],
        t_max=smk.params.t_max,
        min_packets=smk.params.min_packets,
        memory_limit=smk.params.memory_limit,
        threads=smk.threads,
    )
    log.info("%s", report)


main(snakemake)  # noqa: F821
