"""Every job's metrics.json -> results/metrics.parquet -> the statistics tables."""


localrules:
    aggregate,
    optimized_tables,
    statistics,


rule aggregate:
    input:
        all_metrics(),
    output:
        METRICS,
    log:
        "logs/aggregate/aggregate.log",
    benchmark:
        "logs/benchmarks/aggregate/aggregate.tsv"
    conda:
        "../envs/iotscope.yaml"
    script:
        "../workflow/scripts/aggregate.py"


rule optimized_tables:
    input:
        METRICS,
    output:
        runtime=report(
            f"{TABLES}/optimized_runtime.csv",
            caption="../workflow/report/optimized_runtime.rst",
            category="Optimized models",
            subcategory="Tables",
        ),
        scores=report(
            f"{TABLES}/optimized_scores.csv",
            caption="../workflow/report/optimized_scores.rst",
            category="Optimized models",
            subcategory="Tables",
        ),
        runtime_markdown=f"{TABLES}/optimized_runtime.md",
        scores_markdown=f"{TABLES}/optimized_scores.md",
    log:
        "logs/optimized_tables/optimized_tables.log",
    benchmark:
        "logs/benchmarks/optimized_tables/optimized_tables.tsv"
    conda:
        "../envs/iotscope.yaml"
    params:
        models=MODEL_NAMES,
    script:
        "../workflow/scripts/optimized_tables.py"


rule statistics:
    input:
        METRICS,
    output:
        report(
            directory(STATISTICS),
            patterns=["{name}.csv"],
            labels={"table": "{name}"},
            caption="../workflow/report/statistics.rst",
            category="Statistics",
        ),
    log:
        "logs/statistics/statistics.log",
    benchmark:
        "logs/benchmarks/statistics/statistics.tsv"
    conda:
        "../envs/iotscope.yaml"
    params:
        alpha=config["statistics"]["alpha"],
        models=MODEL_NAMES,
    script:
        "../workflow/scripts/statistics.py"
