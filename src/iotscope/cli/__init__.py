"""Command-line interface: ``iotscope --help`` lists the subcommands."""

from iotscope.cli import flows, ingest, simulate, stats, train, tune  # noqa: F401  (register commands)
from iotscope.cli.app import app

__all__ = ["app"]
