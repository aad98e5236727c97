"""Snakemake script of rule ``simulate``: write the simulated telescope capture and its labels."""

from scriptlib import log_to

from iotscope.data.simulate import simulate_telescope


def main(smk) -> None:
    log = log_to(smk.log[0])
    summary = simulate_telescope(
        smk.output.pcap, smk.output.labels, seed=smk.params.seed, **smk.params.simulate
    )
    log.info("%s", summary)


main(snakemake)  # noqa: F821
