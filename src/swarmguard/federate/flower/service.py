"""The two long-running roles of a real federation, as plain functions the CLI calls.

``run_coordinator`` starts the SuperLink (TLS with the ``swarmguard certs`` files), submits the
federation run (our ServerApp) with ``flwr run``, waits for the coordinator's report and stops
the SuperLink. ``run_agent`` starts a SuperNode that runs our ClientApp on this agent's own data
and key, until it is stopped. Every process is started in its own process group and the whole
group is stopped on exit, also on errors.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swarmguard.federate.crypto.ckks import context_is_private, load_context
from swarmguard.federate.flower.deploy import (
    RunConfigValue,
    agent_env,
    flower_env,
    start_superlink,
    start_supernode,
    submit_run,
    wait_for_port,
    write_app,
    write_flower_home,
)
from swarmguard.federate.strategies import make_strategy

__all__ = ["CoordinatorSettings", "run_agent", "run_coordinator", "stop_group"]

log = logging.getLogger(__name__)


def stop_group(proc: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """Stop ``proc`` and every process in its group (SIGTERM, then SIGKILL)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(grace_s)


@contextlib.contextmanager
def _terminate_as_exit() -> Iterator[None]:
    """Turn SIGTERM into ``SystemExit`` so ``finally`` blocks stop our child processes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _exit(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, _exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@dataclass(frozen=True)
class CoordinatorSettings:
    """What the coordinator runs; see ``swarmguard coordinator --help``."""

    detector: str
    clients: int
    rounds: int
    workdir: Path
    certs: Path | None
    public_key: Path | None
    protect: str = "ckks"
    strategy: str = "fedavg"
    epochs: int = 1
    seed: int = 0
    host: str = "127.0.0.1"
    port: int = 9092
    timeout_s: float = 1800.0
    node_wait_s: float = 300.0

    def validate(self) -> None:
        """Raise ``ValueError`` / ``FileNotFoundError`` for unusable settings."""
        if self.clients < 1 or self.rounds < 1 or self.epochs < 1:
            raise ValueError("--clients, --rounds and --epochs must be at least 1")
        if self.protect not in ("none", "ckks", "secagg"):
            raise ValueError("--protect must be none, ckks or secagg")
        if self.protect == "secagg" and (self.strategy != "fedavg" or self.clients < 3):
            raise ValueError("--protect secagg runs FedAvg with at least 3 agents")
        make_strategy(self.strategy, clients=self.clients)
        if self.protect == "ckks" and self.strategy in ("krum", "trimmed-mean"):
            raise ValueError(f"strategy {self.strategy} needs --protect none")
        if self.protect == "ckks":
            if self.public_key is None:
                raise ValueError("--protect ckks needs --public-key ckks-public.ctx")
            if not self.public_key.is_file():
                raise FileNotFoundError(f"{self.public_key}: no such file")
            if context_is_private(load_context(self.public_key)):
                raise ValueError(
                    f"{self.public_key} holds the secret key; the coordinator must get "
                    "ckks-public.ctx only"
                )
        if self.certs is not None:
            for name in ("ca.pem", "server.pem", "server.key"):
                if not (self.certs / name).is_file():
                    raise FileNotFoundError(f"{self.certs / name}: no such file (swarmguard certs)")


def run_coordinator(settings: CoordinatorSettings) -> dict[str, Any]:
    """Run one federation as the coordinator; return the ServerApp's report."""
    settings.validate()
    work = settings.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    report = work / "report.json"
    report.unlink(missing_ok=True)
    run_config: dict[str, RunConfigValue] = {
        "detector": settings.detector,
        "clients": settings.clients,
        "rounds": settings.rounds,
        "epochs": settings.epochs,
        "protect": settings.protect,
        "strategy": settings.strategy,
        "seed": settings.seed,
        "report": str(report),
        "node-wait-s": settings.node_wait_s,
        "public-key": str(settings.public_key.resolve()) if settings.public_key else "",
    }
    app_dir = write_app(work / "app", run_config).parent
    ca = settings.certs / "ca.pem" if settings.certs else None
    home = write_flower_home(work / "flwr-home", f"{settings.host}:{settings.port}", ca)
    with _terminate_as_exit():
        link = start_superlink(
            port=settings.port,
            workdir=work,
            host=settings.host,
            server_cert=settings.certs / "server.pem" if settings.certs else None,
            server_key=settings.certs / "server.key" if settings.certs else None,
            ca_cert=ca,
            env=flower_env(),
        )
        try:
            return _await_report(link, app_dir, home, report, settings)
        finally:
            stop_group(link)


def _await_report(
    link: subprocess.Popen[bytes],
    app_dir: Path,
    home: Path,
    report: Path,
    settings: CoordinatorSettings,
) -> dict[str, Any]:
    wait_for_port(settings.host, settings.port, 60)
    log.info("SuperLink up on %s:%d", settings.host, settings.port)
    submit_run(app_dir, home)
    deadline = time.monotonic() + settings.timeout_s
    while not report.exists():
        if link.poll() is not None:
            raise RuntimeError(f"the SuperLink exited ({link.returncode}); see {settings.workdir}")
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"no report after {settings.timeout_s:.0f} s; see {settings.workdir}"
            )
        time.sleep(0.5)
    time.sleep(0.5)  # the report is written in one call; let it land
    result: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    return result


def run_agent(
    *,
    superlink: str,
    data: Path,
    workdir: Path,
    ca_cert: Path | None,
    secret_key: Path | None,
    fmt: str = "auto",
    importance: float = 1.0,
    port: int = 9094,
    model_out: Path | None = None,
    max_seconds: float | None = None,
    extra_node_config: dict[str, RunConfigValue] | None = None,
    extra_pythonpath: str | None = None,
) -> int:
    """Run this agent's SuperNode until it exits, is stopped, or ``max_seconds`` pass."""
    if not data.exists():
        raise FileNotFoundError(f"{data}: no such file or directory")
    if secret_key is not None and not secret_key.is_file():
        raise FileNotFoundError(f"{secret_key}: no such file")
    if ca_cert is not None and not ca_cert.is_file():
        raise FileNotFoundError(f"{ca_cert}: no such file")
    node_config: dict[str, RunConfigValue] = {
        "data": str(data.resolve()),
        "format": fmt,
        "importance": importance,
    }
    if secret_key is not None:
        node_config["secret-key"] = str(secret_key.resolve())
    if model_out is not None:
        node_config["model-out"] = str(model_out.resolve())
    node_config.update(extra_node_config or {})
    with _terminate_as_exit():
        node = start_supernode(
            superlink=superlink,
            port=port,
            node_config=node_config,
            workdir=workdir.resolve(),
            ca_cert=ca_cert,
            env=agent_env(extra_pythonpath),
        )
        try:
            return node.wait(max_seconds)
        except subprocess.TimeoutExpired:
            return 0
        finally:
            stop_group(node)
