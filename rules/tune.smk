"""Hyperparameter tuning (hyperparameters: tuned): one Optuna study per model, tuning.workers jobs.

Each worker job (rule tune, one GPU) runs trials of the model's shared study until it holds
tuning.n_trials trials; the study lives in its storage (a journal file by default), so a rerun
after an interruption continues it. tune_summary writes best.yaml, trials.parquet and figures;
tuned_hyperparameters turns best.yaml into results/hparams/{model}.yaml, the file every training
job of that model reads, so retuning one model reruns only that model's jobs.
"""

from iotscope.tune import SearchSpaceError, TuningSettings, model_search_spaces

TUNING = config["tuning"]
TUNED = config["hyperparameters"] == "tuned"
TUNING_DIR = "results/tuning"
TUNING_WORKERS = list(range(TUNING["workers"]))
TUNING_WORKER_REPORT = f"{TUNING_DIR}/{{model}}/workers/{{worker}}.json"
TUNING_BEST = f"{TUNING_DIR}/{{model}}/best.yaml"
TUNING_SUMMARY = f"{TUNING_DIR}/{{model}}/summary.json"
TUNING_TABLES = {
    "parameters": f"{TUNING_DIR}/parameters.csv",
    "studies": f"{TUNING_DIR}/studies.csv",
    "markdown": f"{TUNING_DIR}/tuning.md",
}
TUNING_OUTPUTS = list(TUNING_TABLES.values()) if TUNED else []


# Per model, the hyperparameters hyperparameter_overrides hold fixed (they are not searched).
TUNING_FIXED = {model: list(hyperparameter_overrides(model)) for model in MODEL_NAMES}


# Everything a trial depends on except the model: the worker scripts' settings.
TUNING_SETTINGS = {
    "n_trials": TUNING["n_trials"],
    "epochs": TUNING["epochs"],
    "n_packets": T_MAX,
    "seed": TUNING["seed"],
    "pruner": TUNING["pruner"],
    "pruner_startup_trials": TUNING["pruner_startup_trials"],
    "pruner_warmup_epochs": TUNING["pruner_warmup_epochs"],
    "heartbeat_interval": TUNING["heartbeat_interval"],
    "grace_period": TUNING["grace_period"],
    "class_weight": config["training"]["class_weight"],
    "precision": config["training"]["precision"],
    "normalisation": config["training"]["normalisation"],
}


# Check the search spaces and settings now: a wrong key stops the run before any job.
try:
    SEARCH_SPACES = model_search_spaces(
        MODEL_NAMES, TUNING["search_space"], fixed=TUNING_FIXED
    )
    TuningSettings(**TUNING_SETTINGS)
except (SearchSpaceError, ValueError) as error:
    fail(str(error))


if TUNED:

    localrules:
        tune_summary,
        tuned_hyperparameters,
        tuning_report,

    ruleorder: tuned_hyperparameters > hyperparameters

    rule tune:
        input:
            flows=FLOWS,
            splits=SPLITS,
            source=model_source,
        output:
            TUNING_WORKER_REPORT,
        log:
            "logs/tune/{model}/worker{worker}.log",
        benchmark:
            "logs/benchmarks/tune/{model}/worker{worker}.tsv"
        wildcard_constraints:
            worker=r"\d+",
        conda:
            "../envs/iotscope.yaml"
        threads: config["training"]["threads"]
        resources:
            gpu=1,
        params:
            settings=TUNING_SETTINGS,
            search_space=lambda wildcards: TUNING["search_space"].get(
                wildcards.model, {}
            ),
            fixed=lambda wildcards: hyperparameter_overrides(wildcards.model),
            storage=TUNING["storage"],
            journal=f"{TUNING_DIR}/{{model}}/journal.log",
            study_name=TUNING["study_name"],
            gpu_lock_dir=config["training"]["gpu_lock_dir"],
            jobs_per_gpu=config["training"]["jobs_per_gpu"],
        script:
            "../workflow/scripts/tune.py"

    rule tune_summary:
        input:
            workers=lambda wildcards: expand(
                TUNING_WORKER_REPORT, model=wildcards.model, worker=TUNING_WORKERS
            ),
        output:
            best=TUNING_BEST,
            summary=TUNING_SUMMARY,
            trials=f"{TUNING_DIR}/{{model}}/trials.parquet",
            history=report(
                f"{TUNING_DIR}/{{model}}/history.svg",
                caption="../workflow/report/tuning_history.rst",
                category="Hyperparameter tuning",
                subcategory="{model}",
            ),
            importance=report(
                f"{TUNING_DIR}/{{model}}/importance.svg",
                caption="../workflow/report/tuning_importance.rst",
                category="Hyperparameter tuning",
                subcategory="{model}",
            ),
        log:
            "logs/tune_summary/{model}.log",
        benchmark:
            "logs/benchmarks/tune_summary/{model}.tsv"
        conda:
            "../envs/iotscope.yaml"
        params:
            epochs=TUNING["epochs"],
            fixed=lambda wildcards: hyperparameter_overrides(wildcards.model),
        script:
            "../workflow/scripts/tune_summary.py"

    rule tuned_hyperparameters:
        input:
            TUNING_BEST,
        output:
            HPARAMS,
        log:
            "logs/tuned_hyperparameters/{model}.log",
        benchmark:
            "logs/benchmarks/tuned_hyperparameters/{model}.tsv"
        conda:
            "../envs/iotscope.yaml"
        script:
            "../workflow/scripts/tune_hparams.py"

    rule tuning_report:
        input:
            best=expand(TUNING_BEST, model=MODEL_NAMES),
            summary=expand(TUNING_SUMMARY, model=MODEL_NAMES),
        output:
            parameters=report(
                TUNING_TABLES["parameters"],
                caption="../workflow/report/tuning_parameters.rst",
                category="Hyperparameter tuning",
            ),
            studies=report(
                TUNING_TABLES["studies"],
                caption="../workflow/report/tuning_studies.rst",
                category="Hyperparameter tuning",
            ),
            markdown=TUNING_TABLES["markdown"],
        log:
            "logs/tuning_report/tuning_report.log",
        benchmark:
            "logs/benchmarks/tuning_report/tuning_report.tsv"
        conda:
            "../envs/iotscope.yaml"
        params:
            models=MODEL_NAMES,
            search_space=TUNING["search_space"],
            fixed=TUNING_FIXED,
        script:
            "../workflow/scripts/tune_report.py"
