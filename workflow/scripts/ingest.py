"""Snakemake script of rule ``ingest``: one capture file -> one packet table."""

from scriptlib import log_to

from iotscope.data.ingest import ingest_capture


def main(smk) -> None:
    log = log_to(smk.log[0])
    report = ingest_capture(
        smk.input[0],
        smk.output[0],
        host_key=smk.params.host_key,
        syn_only=smk.params.syn_only,
        on_error=smk.params.on_error,
    )
    log.info("%s", report)


main(snakemake)  # noqa: F821
