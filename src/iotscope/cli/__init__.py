"""Command-line interface: ``iotscope --help`` lists the subcommands."""

from iotscope.cli.app import app

__all__ = ["app"]
