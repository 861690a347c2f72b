"""``swarmguard agent --federate``: run a SuperNode and the ClientApp on this agent's data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from swarmguard.cli.console import guarded, setup_logging

__all__ = ["agent_app", "agent_command"]


def agent_command(
    ctx: typer.Context,
    federate: Annotated[bool, typer.Option("--federate", help="take part in training")] = False,
    coordinator: Annotated[
        str, typer.Option(help="coordinator SuperLink as host:port")
    ] = "127.0.0.1:9092",
    data: Annotated[Path | None, typer.Option(help="this agent's training data")] = None,
    fmt: Annotated[str, typer.Option("--format", help="dataset format or auto")] = "auto",
    ca: Annotated[Path | None, typer.Option(help="ca.pem from `swarmguard certs`")] = None,
    insecure: Annotated[bool, typer.Option(help="no TLS (tests on loopback only)")] = False,
    secret_key: Annotated[
        Path | None, typer.Option(help="ckks-secret.ctx (needed for --protect ckks runs)")
    ] = None,
    importance: Annotated[float, typer.Option(help="this site's importance")] = 1.0,
    port: Annotated[int, typer.Option(help="local SuperNode runtime port")] = 9094,
    model_out: Annotated[Path | None, typer.Option(help="save the final model here")] = None,
    workdir: Annotated[Path, typer.Option(help="logs")] = Path("agent"),
    max_seconds: Annotated[
        float | None, typer.Option(help="stop after this many seconds (default: run on)")
    ] = None,
    debug_dir: Annotated[
        Path | None,
        typer.Option(hidden=True, help="tests only: write plaintext updates and aggregates here"),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """The edge agent: `run --config` runs it; --federate serves federated training."""
    if ctx.invoked_subcommand is not None:
        return
    setup_logging(verbose)
    with guarded():
        if not federate:
            raise ValueError("give --federate or a sub-command (run); see --help")
        if data is None:
            raise ValueError("give --data: this agent's training rows")
        if ca is None and not insecure:
            raise ValueError("give --ca ca.pem (from swarmguard certs) or --insecure")
        from swarmguard.federate.flower.service import run_agent

        code = run_agent(
            superlink=coordinator,
            data=data,
            workdir=workdir,
            ca_cert=ca,
            secret_key=secret_key,
            fmt=fmt,
            importance=importance,
            port=port,
            model_out=model_out,
            max_seconds=max_seconds,
            extra_node_config={"debug-dir": str(debug_dir.resolve())} if debug_dir else None,
        )
        if code:
            raise RuntimeError(f"the SuperNode exited with status {code}; see {workdir}")


agent_app = typer.Typer(
    help=agent_command.__doc__, invoke_without_command=True, pretty_exceptions_enable=False
)
agent_app.callback()(agent_command)

from swarmguard.cli.agent_run import agent_run_command  # noqa: E402

agent_app.command("run")(agent_run_command)
