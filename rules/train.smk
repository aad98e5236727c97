"""Hyperparameters per model, then the three experiments' training jobs."""


localrules:
    hyperparameters,


rule hyperparameters:
    input:
        source=model_source,
    output:
        HPARAMS,
    log:
        "logs/hyperparameters/{model}.log",
    benchmark:
        "logs/benchmarks/hyperparameters/{model}.tsv"
    conda:
        "../envs/iotscope.yaml"
    params:
        overrides=lambda wildcards: hyperparameter_overrides(wildcards.model),
    script:
        "../workflow/scripts/hyperparameters.py"


rule train_optimized:
    input:
        unpack(training_inputs),
    output:
        metrics=run_file("optimized", "metrics.json"),
        predictions=run_file("optimized", "predictions.parquet"),
    log:
        "logs/train_optimized/{model}.log",
    benchmark:
        "logs/benchmarks/train_optimized/{model}.tsv"
    conda:
        "../envs/iotscope.yaml"
    threads: config["training"]["threads"]
    resources:
        gpu=1,
    params:
        experiment="optimized",
        n_packets=T_MAX,
        evaluation="test",
        seed=config["seed"],
        training=config["training"],
    script:
        "../workflow/scripts/train.py"


rule train_packets:
    input:
        unpack(training_inputs),
    output:
        metrics=run_file("packets", "metrics.json"),
        predictions=run_file("packets", "predictions.parquet"),
    log:
        "logs/train_packets/{model}/n{n_packets}/run{run}.log",
    benchmark:
        "logs/benchmarks/train_packets/{model}/n{n_packets}/run{run}.tsv"
    conda:
        "../envs/iotscope.yaml"
    threads: config["training"]["threads"]
    resources:
        gpu=1,
    params:
        experiment="packets",
        n_packets=lambda wildcards: int(wildcards.n_packets),
        evaluation="test",
        seed=config["seed"],
        training=config["training"],
    script:
        "../workflow/scripts/train.py"


rule train_cv:
    input:
        unpack(training_inputs),
    output:
        metrics=run_file("cv", "metrics.json"),
        predictions=run_file("cv", "predictions.parquet"),
    log:
        "logs/train_cv/{model}/fold{fold}.log",
    benchmark:
        "logs/benchmarks/train_cv/{model}/fold{fold}.tsv"
    conda:
        "../envs/iotscope.yaml"
    threads: config["training"]["threads"]
    resources:
        gpu=1,
    params:
        experiment="cv",
        n_packets=T_MAX,
        seed=config["seed"],
        training=config["training"],
    script:
        "../workflow/scripts/train.py"
