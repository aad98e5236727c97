"""The ``iotscope`` command-line application object; subcommands live in sibling modules."""

import typer

app = typer.Typer(
    name="iotscope",
    help=(
        "Classify hosts seen by a network telescope as IoT or non-IoT from their TCP SYN packets.\n\n"
        "Typical order: simulate (or bring captures) -> ingest -> flows -> splits -> train -> stats."
    ),
    no_args_is_help=True,
    add_completion=False,
)
