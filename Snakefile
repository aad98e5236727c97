# The iotscope study: data -> hyperparameters -> training -> metrics -> statistics -> report.
# Configuration keys: workflow/schemas/config.schema.yaml. Paths: rules/common.smk.


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/tune.smk"
include: "rules/train.smk"
include: "rules/stats.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        METRICS,
        SUMMARY,
        report_outputs(),
        TUNING_OUTPUTS,
