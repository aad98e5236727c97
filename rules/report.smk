"""Figures and the plain-text summary; `snakemake --report results/report.html` collects them."""


localrules:
    figures_packets,
    figure_cv,
    figures_curves,
    summary,


rule figures_packets:
    input:
        METRICS,
    output:
        accuracy=report(
            f"{FIGURES}/accuracy_vs_packets.svg",
            caption="../workflow/report/accuracy_vs_packets.rst",
            category="Packet restriction",
        ),
        loss=report(
            f"{FIGURES}/loss_vs_packets.svg",
            caption="../workflow/report/loss_vs_packets.rst",
            category="Packet restriction",
        ),
        fit_seconds=report(
            f"{FIGURES}/runtime_vs_packets.svg",
            caption="../workflow/report/runtime_vs_packets.rst",
            category="Packet restriction",
        ),
    log:
        "logs/figures_packets/figures_packets.log",
    benchmark:
        "logs/benchmarks/figures_packets/figures_packets.tsv"
    conda:
        "../envs/iotscope.yaml"
    params:
        models=MODEL_NAMES,
    script:
        "../workflow/scripts/figures_packets.py"


rule figure_cv:
    input:
        METRICS,
    output:
        report(
            f"{FIGURES}/cv_accuracy.svg",
            caption="../workflow/report/cv_accuracy.rst",
            category="Cross-validation",
        ),
    log:
        "logs/figure_cv/figure_cv.log",
    benchmark:
        "logs/benchmarks/figure_cv/figure_cv.tsv"
    conda:
        "../envs/iotscope.yaml"
    params:
        models=MODEL_NAMES,
    script:
        "../workflow/scripts/figure_cv.py"


rule figures_curves:
    input:
        run_file("optimized", "predictions.parquet"),
    output:
        roc=report(
            f"{FIGURES}/roc_{{model}}.svg",
            caption="../workflow/report/roc.rst",
            category="Optimized models",
            subcategory="{model}",
        ),
        roc_zoom=report(
            f"{FIGURES}/roc_zoom_{{model}}.svg",
            caption="../workflow/report/roc_zoom.rst",
            category="Optimized models",
            subcategory="{model}",
        ),
        pr=report(
            f"{FIGURES}/pr_{{model}}.svg",
            caption="../workflow/report/pr.rst",
            category="Optimized models",
            subcategory="{model}",
        ),
        pr_weighted=report(
            f"{FIGURES}/pr_weighted_{{model}}.svg",
            caption="../workflow/report/pr_weighted.rst",
            category="Optimized models",
            subcategory="{model}",
        ),
    log:
        "logs/figures_curves/{model}.log",
    benchmark:
        "logs/benchmarks/figures_curves/{model}.tsv"
    conda:
        "../envs/iotscope.yaml"
    script:
        "../workflow/scripts/figures_curves.py"


rule summary:
    input:
        metrics=METRICS,
        statistics=STATISTICS,
        runtime=rules.optimized_tables.output.runtime,
        scores=rules.optimized_tables.output.scores,
    output:
        report(SUMMARY, caption="../workflow/report/summary.rst", category="Summary"),
    log:
        "logs/summary/summary.log",
    benchmark:
        "logs/benchmarks/summary/summary.tsv"
    conda:
        "../envs/iotscope.yaml"
    params:
        models=MODEL_NAMES,
        alpha=config["statistics"]["alpha"],
    script:
        "../workflow/scripts/summary.py"
