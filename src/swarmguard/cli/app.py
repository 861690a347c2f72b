"""The Typer application: one sub-command per module in this package."""

from __future__ import annotations

import typer

from swarmguard.cli.agent import agent_app
from swarmguard.cli.certs import certs_command
from swarmguard.cli.coordinator import coordinator_app
from swarmguard.cli.decisions import decisions_app
from swarmguard.cli.defend import defend_app
from swarmguard.cli.demo import demo_command
from swarmguard.cli.detect import detect_command
from swarmguard.cli.evaluate import evaluate_command
from swarmguard.cli.experiment import experiment_app
from swarmguard.cli.federate import federate_app
from swarmguard.cli.ingest import ingest_command
from swarmguard.cli.range import range_app
from swarmguard.cli.rules_test import rules_test_command
from swarmguard.cli.sandbox import sandbox_app
from swarmguard.cli.sigma_test import sigma_test_command
from swarmguard.cli.split import split_command

__all__ = ["app", "main"]

app = typer.Typer(
    name="swarmguard",
    help="Network security monitoring by cooperating AI agents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("ingest")(ingest_command)
app.command("detect")(detect_command)
app.command("evaluate")(evaluate_command)
app.command("split")(split_command)
app.command("demo")(demo_command)
app.command("rules-test")(rules_test_command)
app.command("sigma-test")(sigma_test_command)
app.add_typer(experiment_app, name="experiment")
app.add_typer(federate_app, name="federate")
app.command("certs")(certs_command)
app.add_typer(coordinator_app, name="coordinator")
app.add_typer(agent_app, name="agent")
app.add_typer(decisions_app, name="decisions")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(defend_app, name="defend")
app.add_typer(range_app, name="range")


@app.callback()
def _root() -> None:
    """Network security monitoring by cooperating AI agents."""


def main() -> None:
    """Entry point of the ``swarmguard`` script."""
    app()
