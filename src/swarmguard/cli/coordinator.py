"""``swarmguard coordinator --federate``: run the SuperLink and the federation's ServerApp."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from swarmguard.cli.console import guarded, out, setup_logging

__all__ = ["coordinator_app", "coordinator_command"]


def coordinator_command(
    ctx: typer.Context,
    federate: Annotated[bool, typer.Option("--federate", help="run federated training")] = False,
    detector: Annotated[str, typer.Option(help="detector to train, e.g. lstm")] = "lstm",
    clients: Annotated[int, typer.Option(help="agents to wait for")] = 3,
    rounds: Annotated[int, typer.Option(help="federated rounds")] = 5,
    epochs: Annotated[int, typer.Option(help="local epochs per round")] = 1,
    protect: Annotated[str, typer.Option(help="none, ckks or secagg (Flower SecAgg+)")] = "ckks",
    strategy: Annotated[str, typer.Option(help="fedavg, fedprox, trimmed-mean or krum")] = "fedavg",
    certs: Annotated[
        Path | None, typer.Option(help="directory from `swarmguard certs` (TLS)")
    ] = None,
    insecure: Annotated[bool, typer.Option(help="no TLS (tests on loopback only)")] = False,
    public_key: Annotated[
        Path | None, typer.Option(help="ckks-public.ctx from `swarmguard federate keys`")
    ] = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="SuperLink port (HTTP API)")] = 9092,
    workdir: Annotated[Path, typer.Option(help="logs, app and report")] = Path("coordinator"),
    json_out: Annotated[Path | None, typer.Option("--json", help="also write the report")] = None,
    seed: Annotated[int, typer.Option(help="seeds the models")] = 0,
    timeout: Annotated[float, typer.Option(help="give up after this many seconds")] = 1800.0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """The coordinator: `serve` runs the service; --federate runs one federated training."""
    if ctx.invoked_subcommand is not None:
        return
    setup_logging(verbose)
    with guarded():
        if not federate:
            raise ValueError("give --federate or a sub-command (serve, token); see --help")
        if certs is None and not insecure:
            raise ValueError("give --certs DIR (from swarmguard certs) or --insecure")
        from swarmguard.federate.flower.service import CoordinatorSettings, run_coordinator

        report = run_coordinator(
            CoordinatorSettings(
                detector=detector,
                clients=clients,
                rounds=rounds,
                workdir=workdir,
                certs=certs,
                public_key=public_key,
                protect=protect,
                strategy=strategy,
                epochs=epochs,
                seed=seed,
                host=host,
                port=port,
                timeout_s=timeout,
            )
        )
        if json_out is not None:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        out.print(
            f"{report['rounds']} rounds with {report['clients']} agents, protect="
            f"{report['protect']}: {report['seconds_per_round']:.1f} s/round"
        )


coordinator_app = typer.Typer(
    help=coordinator_command.__doc__, invoke_without_command=True, pretty_exceptions_enable=False
)
coordinator_app.callback()(coordinator_command)

from swarmguard.cli.coordinator_serve import (  # noqa: E402
    coordinator_serve_command,
    coordinator_token_add_command,
)

coordinator_app.command("serve")(coordinator_serve_command)
token_app = typer.Typer(help="Per-agent tokens of the coordinator service.", no_args_is_help=True)
token_app.command("add")(coordinator_token_add_command)
coordinator_app.add_typer(token_app, name="token")
