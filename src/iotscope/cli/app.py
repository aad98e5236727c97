"""The ``iotscope`` command-line application object; subcommands live in sibling modules."""

import typer

import iotscope

app = typer.Typer(
    name="iotscope",
    help=(
        "Classify hosts seen by a network telescope as IoT or non-IoT from their TCP SYN"
        " packets.\n\nTypical order: simulate (or bring captures) -> ingest -> flows -> splits"
        " -> train (or tune, then train) -> stats."
    ),
    no_args_is_help=True,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"iotscope {iotscope.__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Keep subcommands named even while only one is registered."""
