"""A real federation on loopback: a coordinator and three agents as separate processes.

TLS with certificates from ``swarmguard certs``, CKKS keys from ``swarmguard federate keys``; the
coordinator gets the public context only. Each agent trains on its own partition of NSL-KDD rows
(the small logistic fake detector keeps CI fast; the LSTM runs the same code path). Every process
is started in its own process group and killed at the end, also on failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

FAKES = Path(__file__).resolve().parents[1] / "unit" / "federate"
ROUNDS = 5
CLIENTS = 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = str(FAKES) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _sg(*args: str) -> list[str]:
    return [sys.executable, "-m", "swarmguard", *args]


def _kill_leftovers(marker: str) -> None:
    """SIGKILL the process group of any process naming this test's directory (ours only)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if marker in cmd:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                group = os.getpgid(int(proc.name))
                if group != os.getpgrp():
                    os.killpg(group, signal.SIGKILL)
                else:
                    os.kill(int(proc.name), signal.SIGKILL)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    try:
        yield procs
    finally:
        _kill_after(procs)
        _kill_leftovers(str(tmp_path))


def _kill_after(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(5)


def _descendants(pid: int) -> list[int]:
    out = [pid]
    for child in Path(f"/proc/{pid}/task").glob("*/children"):
        for c in child.read_text().split():
            out += _descendants(int(c))
    return out


def _open_paths(pids: list[int]) -> set[str]:
    paths: set[str] = set()
    for pid in pids:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            paths.add(cmd)
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    paths.add(os.readlink(fd))
        except OSError:
            pass
    return paths


@pytest.mark.slow
def test_three_agents_five_rounds_ckks_over_tls(
    datasets_dir: Path, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    env = _env()
    certs, keys = tmp_path / "certs", tmp_path / "keys"
    subprocess.run(
        _sg("certs", "--out", str(certs), "--host", "127.0.0.1"),
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    subprocess.run(
        _sg("federate", "keys", "--out", str(keys)),
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    lines = (datasets_dir / "nsl-kdd" / "KDDTrain+_20Percent.txt").read_bytes().splitlines(True)
    port = _free_port()
    # the coordinator's own directory holds only public material
    coord = tmp_path / "coordinator"
    coord.mkdir()
    report = tmp_path / "report.json"
    processes.append(
        subprocess.Popen(
            _sg(
                "coordinator",
                "--federate",
                "--detector",
                "fakes:LogRegDetector",
                "--clients",
                str(CLIENTS),
                "--rounds",
                str(ROUNDS),
                "--protect",
                "ckks",
                "--certs",
                str(certs),
                "--public-key",
                str(keys / "ckks-public.ctx"),
                "--port",
                str(port),
                "--workdir",
                str(coord),
                "--json",
                str(report),
                "--timeout",
                "240",
            ),
            env=env,
            start_new_session=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    )
    for i in range(CLIENTS):
        site = tmp_path / f"agent{i}"
        (site / "debug").mkdir(parents=True)
        data = site / "KDDTrain+.txt"
        data.write_bytes(b"".join(lines[i * 1500 : (i + 1) * 1500]))
        processes.append(
            subprocess.Popen(
                _sg(
                    "agent",
                    "--federate",
                    "--coordinator",
                    f"127.0.0.1:{port}",
                    "--data",
                    str(data),
                    "--ca",
                    str(certs / "ca.pem"),
                    "--secret-key",
                    str(keys / "ckks-secret.ctx"),
                    "--port",
                    str(_free_port()),
                    "--workdir",
                    str(site),
                    "--model-out",
                    str(site / "model.pkl"),
                    "--debug-dir",
                    str(site / "debug"),
                    "--max-seconds",
                    "260",
                ),
                env=env,
                start_new_session=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    coordinator = processes[0]
    seen: set[str] = set()
    try:
        while coordinator.poll() is None:
            seen |= _open_paths(_descendants(coordinator.pid))
            with contextlib.suppress(subprocess.TimeoutExpired):
                coordinator.wait(0.5)
    finally:
        if coordinator.poll() is None:
            os.killpg(coordinator.pid, signal.SIGKILL)
    _, err = coordinator.communicate(timeout=10)
    assert coordinator.returncode == 0, (
        err.decode()[-2000:] + (coord / "superlink.log").read_text()[-3000:]
    )

    r = json.loads(report.read_text())
    assert r["rounds"] == ROUNDS and r["clients"] == CLIENTS and r["protect"] == "ckks"
    assert len(r["per_round"]) == ROUNDS
    # the coordinator never held the secret key: its context was public, no process of its
    # tree ever had the secret file open or on its command line, and its directory has none
    assert r["coordinator_holds_secret_key"] is False
    assert seen, "watched no coordinator process"
    assert not any("ckks-secret" in p for p in seen)
    assert not any(p.name.startswith("ckks-secret") for p in coord.rglob("*"))
    # the encrypted aggregate each agent decrypted equals the plaintext weighted sum
    for rnd in range(1, ROUNDS + 1):
        weighted = [
            np.load(f) for f in sorted((tmp_path).glob(f"agent*/debug/weighted-r{rnd}-*.npy"))
        ]
        assert len(weighted) == CLIENTS
        plain = np.sum(weighted, axis=0)
        decrypted = sorted(tmp_path.glob(f"agent*/debug/aggregate-r{rnd}-*.npy"))
        assert len(decrypted) >= CLIENTS
        for f in decrypted:
            assert np.abs(np.load(f) - plain).max() < 1e-3
    # every agent saved the same final global model
    sys.path.insert(0, str(FAKES))
    models = [
        pickle.loads((tmp_path / f"agent{i}" / "model.pkl").read_bytes()) for i in range(CLIENTS)
    ]
    for m in models[1:]:
        np.testing.assert_allclose(m.w, models[0].w, atol=1e-3)
        assert m.threshold == pytest.approx(models[0].threshold)
