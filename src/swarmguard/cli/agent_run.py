"""``swarmguard agent run --config agent.toml``: the long-running edge agent.

Reads the TOML configuration (``examples/agent.toml``), starts detection, local response and
delivery to the coordinator, logs a progress line every ``--progress`` seconds, and stops
cleanly on SIGTERM or SIGINT (queued records stay on disk and are sent on the next start).
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from swarmguard.cli.console import guarded

__all__ = ["agent_run_command"]


def agent_run_command(
    config: Annotated[Path, typer.Option("--config", "-c", help="the agent's TOML configuration")],
    max_seconds: Annotated[
        float | None, typer.Option(help="stop after this many seconds (default: run on)")
    ] = None,
    progress: Annotated[float, typer.Option(help="seconds between progress lines")] = 10.0,
    policy: Annotated[
        str | None,
        typer.Option(help="override the configured policy: playbook, rl:default or rl:PATH"),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="only read and check the configuration")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logging")] = False,
) -> None:
    """Run the edge agent: sources, detectors, local policy and enforcers, coordinator link."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    with guarded():
        from swarmguard.agent.config import load_agent_config
        from swarmguard.agent.runtime import AgentRuntime

        cfg = load_agent_config(config)
        if policy is not None:
            cfg = cfg.model_copy(update={"policy": type(cfg.policy)(name=policy)})
        if check:
            typer.echo(f"{config}: ok (agent {cfg.agent_id}, {len(cfg.sources)} source(s))")
            return
        agent = AgentRuntime(cfg, progress_s=progress)
        stop = threading.Event()

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            logging.getLogger(__name__).info("signal %d: stopping", signum)
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        code = agent.run(stop, max_seconds=max_seconds)
        if code:
            raise typer.Exit(code)
