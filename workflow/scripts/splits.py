"""Snakemake script of rule ``splits``: the one seeded, stratified split every job reads."""

from iotscope.data.splits import make_splits
from scriptlib import log_to


def main(smk) -> None:
    log = log_to(smk.log[0])
    table = make_splits(smk.input[0], smk.output[0], seed=smk.params.seed, **smk.params.splits)
    counts = table.group_by("split").aggregate([("host", "count")]).to_pylist()
    log.info("hosts per split: %s", {row["split"]: row["host_count"] for row in counts})


main(snakemake)  # noqa: F821
