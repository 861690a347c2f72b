"""Start the real deployment: SuperLink + ServerApp (coordinator), SuperNode + ClientApp (agent).

Flower 1.42's SuperLink serves its Fleet, Control and runtime APIs over HTTP(S) on one port
(``--port``); SuperNodes connect to it and run the ClientApp in subprocesses, the SuperLink runs
the ServerApp in a subprocess. Both start the ``flwr-serverapp`` / ``flwr-clientapp`` executables,
so the directory of the running interpreter (the virtual environment's ``bin/``) is put first on
``PATH``. Runtime dependency installation is disabled: the apps are this installed package.

The run itself is submitted with ``flwr run APP_DIR`` against a Flower app directory written by
``write_app`` (a ``pyproject.toml`` naming our ServerApp and ClientApp and holding the run config)
and a Flower home (``FLWR_HOME``) whose ``config.toml`` names the SuperLink and its CA.

Examples
--------
>>> import tempfile
>>> with tempfile.TemporaryDirectory() as d:
...     app = write_app(Path(d) / "app", {"detector": "lstm", "rounds": 5})
...     'serverapp = "swarmguard.federate.flower.server_app:app"' in app.read_text()
True
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

__all__ = [
    "RunConfigValue",
    "agent_env",
    "flower_env",
    "start_superlink",
    "start_supernode",
    "submit_run",
    "wait_for_port",
    "write_app",
    "write_flower_home",
]

RunConfigValue = str | int | float | bool


def _toml_value(value: RunConfigValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value)


def _components(protect: str) -> list[str]:
    if protect == "secagg":  # SecAgg+ lives in Flower's older wiring: see secagg_app
        return [
            'serverapp = "swarmguard.federate.flower.secagg_app:server_app"',
            'clientapp = "swarmguard.federate.flower.secagg_app:client_app"',
        ]
    return [
        'serverapp = "swarmguard.federate.flower.server_app:app"',
        'clientapp = "swarmguard.federate.flower.client_app:app"',
    ]


def write_app(directory: Path, run_config: Mapping[str, RunConfigValue]) -> Path:
    """Write the Flower app project for a federation run; return its ``pyproject.toml``."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = [
        "[build-system]",
        'requires = ["hatchling"]',
        'build-backend = "hatchling.build"',
        "",
        "[project]",
        'name = "swarmguard-federation"',
        'version = "1.0.0"',
        'description = "swarmguard federated training run"',
        'license = "Apache-2.0"',
        "dependencies = []",
        "",
        "[tool.flwr.app]",
        'publisher = "swarmguard"',
        "",
        "[tool.flwr.app.components]",
        *_components(str(run_config.get("protect", "none"))),
        "",
        "[tool.flwr.app.config]",
        *(f"{k} = {_toml_value(v)}" for k, v in run_config.items()),
        "",
    ]
    path = directory / "pyproject.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def write_flower_home(directory: Path, address: str, ca_cert: Path | None) -> Path:
    """Write ``FLWR_HOME/config.toml`` naming the SuperLink; return the home directory.

    Without ``ca_cert`` the connection is marked ``insecure`` (tests without TLS only).
    """
    directory.mkdir(parents=True, exist_ok=True)
    lines = ["[superlink]", 'default = "swarmguard"', "", "[superlink.swarmguard]"]
    lines.append(f"address = {json.dumps(address)}")
    if ca_cert is None:
        lines.append("insecure = true")
    else:
        lines.append(f"root-certificates = {json.dumps(str(ca_cert.resolve()))}")
    (directory / "config.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory


def flower_env(flower_home: Path | None = None) -> dict[str, str]:
    """The environment for Flower processes: this interpreter's ``bin/`` first on ``PATH``."""
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    if flower_home is not None:
        env["FLWR_HOME"] = str(flower_home)
    return env


def agent_env(extra_pythonpath: str | None = None) -> dict[str, str]:
    """``flower_env`` plus an optional ``PYTHONPATH`` entry (plug-in detectors, tests)."""
    env = flower_env()
    if extra_pythonpath:
        env["PYTHONPATH"] = extra_pythonpath + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _exe(name: str) -> str:
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} not found: install swarmguard[federated]")
    return found


def start_superlink(
    *,
    port: int,
    workdir: Path,
    server_cert: Path | None,
    server_key: Path | None,
    ca_cert: Path | None,
    host: str = "127.0.0.1",
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``flower-superlink`` on ``host:port`` (TLS when certificates are given)."""
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [
        _exe("flower-superlink"),
        "--host",
        host,
        "--port",
        str(port),
        "--disable-runtime-dependency-installation",
        "--isolation",
        "subprocess",
    ]
    if server_cert and server_key and ca_cert:
        cmd += [
            "--ssl-certfile",
            str(server_cert),
            "--ssl-keyfile",
            str(server_key),
            "--ssl-ca-certfile",
            str(ca_cert),
        ]
    else:
        cmd.append("--insecure")
    with (workdir / "superlink.log").open("wb") as log:
        return subprocess.Popen(
            cmd,
            cwd=workdir,
            env=env or flower_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def start_supernode(
    *,
    superlink: str,
    port: int,
    node_config: Mapping[str, RunConfigValue],
    workdir: Path,
    ca_cert: Path | None,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``flower-supernode`` connected to ``superlink`` with this agent's node config."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = " ".join(f"{k}={_toml_value(v)}" for k, v in node_config.items())
    cmd = [
        _exe("flower-supernode"),
        "--superlink",
        superlink,
        "--port",
        str(port),
        "--node-config",
        config,
        "--isolation",
        "subprocess",
    ]
    cmd += ["--root-certificates", str(ca_cert)] if ca_cert else ["--insecure"]
    with (workdir / "supernode.log").open("wb") as log:
        return subprocess.Popen(
            cmd,
            cwd=workdir,
            env=env or flower_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for_port(host: str, port: int, timeout_s: float) -> None:
    """Wait until something accepts TCP connections on ``host:port``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"nothing listens on {host}:{port} after {timeout_s:.0f} s"
                ) from None
            time.sleep(0.2)


def submit_run(app_dir: Path, flower_home: Path, *, timeout_s: float = 300) -> str:
    """Submit the run with ``flwr run``; return its output (raises on failure)."""
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        res = subprocess.run(
            [_exe("flwr"), "run", str(app_dir)],
            env=flower_env(flower_home),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        last = (res.stdout + res.stderr).strip()
        if res.returncode == 0:
            return last
        if "unavailable" not in last:
            break
        time.sleep(1.0)  # the SuperLink may still be starting
    raise RuntimeError(f"flwr run failed: {last[-500:]}")
