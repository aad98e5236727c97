"""Packets -> flow tensors -> splits: simulate (or the user's captures), ingest, flows, splits."""


rule simulate:
    output:
        pcap=SIMULATED_PCAP,
        labels=SIMULATED_LABELS,
    log:
        "logs/simulate/telescope.log",
    benchmark:
        "logs/benchmarks/simulate/telescope.tsv"
    conda:
        "../envs/iotscope.yaml"
    params:
        simulate=config["data"]["simulate"],
        seed=config["seed"],
    script:
        "../workflow/scripts/simulate.py"


rule ingest:
    input:
        lambda wildcards: CAPTURES[wildcards.capture],
    output:
        PACKETS,
    log:
        "logs/ingest/{capture}.log",
    benchmark:
        "logs/benchmarks/ingest/{capture}.tsv"
    conda:
        "../envs/iotscope.yaml"
    params:
        host_key=config["data"]["captures"]["host_key"],
        syn_only=config["data"]["captures"]["syn_only"],
        on_error=config["data"]["captures"]["on_error"],
    script:
        "../workflow/scripts/ingest.py"


rule flows:
    input:
        packets=expand(PACKETS, capture=sorted(CAPTURES)),
        labels=labels_file(),
    output:
        FLOWS,
    log:
        "logs/flows/flows.log",
    benchmark:
        "logs/benchmarks/flows/flows.tsv"
    conda:
        "../envs/iotscope.yaml"
    threads: config["flows"]["threads"]
    params:
        t_max=T_MAX,
        min_packets=config["flows"]["min_packets"],
        memory_limit=config["flows"]["memory_limit"],
    script:
        "../workflow/scripts/flows.py"


rule splits:
    input:
        FLOWS,
    output:
        SPLITS,
    log:
        "logs/splits/splits.log",
    benchmark:
        "logs/benchmarks/splits/splits.tsv"
    conda:
        "../envs/iotscope.yaml"
    params:
        splits=config["splits"],
        seed=config["seed"],
    script:
        "../workflow/scripts/splits.py"
