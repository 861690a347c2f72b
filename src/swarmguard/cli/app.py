"""The Typer application: one sub-command per module in this package."""

from __future__ import annotations

import typer

__all__ = ["app", "main"]

app = typer.Typer(
    name="swarmguard",
    help="Network security monitoring by cooperating AI agents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Network security monitoring by cooperating AI agents."""


def main() -> None:
    """Entry point of the ``swarmguard`` script."""
    app()
