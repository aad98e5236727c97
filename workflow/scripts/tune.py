"""Snakemake script of rule ``tune``: one worker of a model's shared Optuna study."""

from scriptlib import log_to

from iotscope.hyperparameters import resolve_hyperparameters
from iotscope.tune import TuningSettings, model_search_spaces, study_name, tune_worker
from iotscope.tune.study import study_fingerprint


def main(smk) -> None:
    log = log_to(smk.log[0])
    model = smk.wildcards.model
    settings = TuningSettings(**smk.params.settings)
    base = resolve_hyperparameters(model, smk.params.fixed)
    space = model_search_spaces(
        [model], {model: smk.params.search_space}, fixed={model: list(smk.params.fixed)}
    )[model]
    files = [smk.input.flows, smk.input.splits, smk.input.source]
    fingerprint = study_fingerprint(space=space, settings=settings, base=base, files=files)
    tune_worker(
        flows=smk.input.flows,
        splits=smk.input.splits,
        model=model,
        worker=int(smk.wildcards.worker),
        base=base,
        space=space,
        settings=settings,
        journal=smk.params.journal,
        name=study_name(smk.params.study_name, model, fingerprint),
        storage=smk.params.storage,
        out=smk.output[0],
        threads=smk.threads,
        gpu_lock_dir=smk.params.gpu_lock_dir,
        jobs_per_gpu=smk.params.jobs_per_gpu,
        log=log.info,
    )


main(snakemake)  # noqa: F821
