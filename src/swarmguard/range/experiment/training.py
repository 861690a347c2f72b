"""Training data from the warm-up capture, and the detectors trained on it.

Each zone's warm-up capture is metered into flows (``acquire.pcap.read_pcap``); a flow belongs to
an attack when it joins a ground-truth attempt (same rule as the measurements) and takes the
attempt's class, otherwise it is benign. The rows are written as CIC-IDS2017 CSV files (one per
class, by the sandbox's ``write_cic_csv``) in a directory per zone, which ``load_dataset`` reads.

The SVM is fitted here on all zones' rows. LSTM and GNN are trained by the real Flower
deployment: ``swarmguard coordinator --federate`` and one ``swarmguard agent --federate`` per zone,
as separate processes with TLS and CKKS, each agent on its own zone's rows only; every agent
saves the final global model, which the measured agents then load.

Example
-------
>>> CIC_LABEL["probe"], CIC_LABEL["benign"]
('PortScan', 'BENIGN')
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from swarmguard.range.experiment.artifacts import Attempt
from swarmguard.range.experiment.measure import Windows, attempt_mask

__all__ = [
    "CIC_LABEL",
    "FederatedModel",
    "ZoneData",
    "label_zone_flows",
    "train_federated",
    "train_local",
    "write_zone_dataset",
]

_log = logging.getLogger(__name__)

#: The CIC-IDS2017 ``Label`` text written for each class (it maps back to the same class).
CIC_LABEL: dict[str, str] = {
    "benign": "BENIGN",
    "probe": "PortScan",
    "dos": "DoS Hulk",
    "brute_force": "SSH-Patator",
    "web_attack": "Web Attack - Brute Force",
    "botnet": "Bot",
    "infiltration": "Infiltration",
    "exploit": "Heartbleed",
}


def label_zone_flows(
    flows: pa.Table, attempts: Sequence[Attempt], windows: Windows | None = None
) -> list[str]:
    """The class of every flow: the category of the attempt it joins, else ``benign``."""
    w = windows or Windows()
    n = flows.num_rows
    labels = np.full(n, "benign", dtype=object)
    if n == 0:
        return []
    ts = flows.column("ts").cast(pa.int64()).to_numpy() / 1e6
    src = np.asarray(flows.column("src_ip").to_pylist(), dtype=str)
    dst = np.asarray(flows.column("dest_ip").to_pylist(), dtype=str)
    for a in attempts:
        mask = attempt_mask(ts, src, dst, a, w) & (labels == "benign")
        labels[mask] = a.category if a.category in CIC_LABEL else "exploit"
    return [str(x) for x in labels]


@dataclass
class ZoneData:
    """One zone's training rows: the directory of CSV files and the count per class."""

    zone: str
    path: Path
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        """All rows of the zone."""
        return sum(self.counts.values())


def write_zone_dataset(zone: str, flows: pa.Table, labels: Sequence[str], out: Path) -> ZoneData:
    """Write one CIC-IDS2017 CSV per class under ``out``; return what was written."""
    from swarmguard.sandbox.report import write_cic_csv

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    arr = np.asarray(labels, dtype=object)
    data = ZoneData(zone, out)
    for cls in sorted(set(labels)):
        part = flows.filter(pa.array(arr == cls))
        data.counts[cls] = write_cic_csv(part, CIC_LABEL[cls], out / f"{cls}.csv")
    return data


def train_local(detector: str, zones: Sequence[ZoneData], out: Path, seed: int) -> Path:
    """Fit ``detector`` on all zones' rows pooled; save it to ``out``."""
    from swarmguard.acquire.datasets import load_dataset
    from swarmguard.detect.base import DETECTORS
    from swarmguard.records.dataset import LabeledTable

    rows = LabeledTable.concat([load_dataset(z.path) for z in zones if z.rows])
    model = DETECTORS.get(detector)(seed=seed)  # type: ignore[call-arg]
    model.fit(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    return out


@dataclass
class FederatedModel:
    """A model trained by the Flower deployment, with its report and who trained it."""

    detector: str
    path: Path
    report: dict[str, Any]
    zones: dict[str, int]
    seconds: float


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sg(*args: str) -> list[str]:
    return [sys.executable, "-m", "swarmguard", *args]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
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


@contextlib.contextmanager
def _processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    try:
        yield procs
    finally:
        _stop(procs)


def federation_material(workdir: Path) -> tuple[Path, Path]:
    """TLS certificates and CKKS keys for one federation (``swarmguard certs`` / ``keys``)."""
    certs, keys = workdir / "certs", workdir / "keys"
    if not (certs / "ca.pem").exists():
        subprocess.run(
            _sg("certs", "--out", str(certs), "--host", "127.0.0.1"),
            env=_env(),
            check=True,
            capture_output=True,
            timeout=120,
        )
    if not (keys / "ckks-public.ctx").exists():
        subprocess.run(
            _sg("federate", "keys", "--out", str(keys)),
            env=_env(),
            check=True,
            capture_output=True,
            timeout=120,
        )
    return certs, keys


def train_federated(
    detector: str,
    zones: Sequence[ZoneData],
    workdir: Path,
    *,
    seed: int,
    rounds: int,
    epochs: int = 1,
    timeout_s: float = 900.0,
    progress: Callable[[str], None] = lambda _m: None,
) -> FederatedModel:
    """Train ``detector`` across one agent per zone with the Flower deployment (TLS + CKKS)."""
    sites = [z for z in zones if z.rows]
    if not sites:
        raise ValueError("no zone has training rows from the warm-up capture")
    workdir.mkdir(parents=True, exist_ok=True)
    certs, keys = federation_material(workdir.parent)
    port = _free_port()
    coord = workdir / "coordinator"
    coord.mkdir(exist_ok=True)
    report_path = workdir / "report.json"
    report_path.unlink(missing_ok=True)
    start = time.monotonic()
    env = _env()
    with _processes() as procs:
        procs.append(
            subprocess.Popen(
                _sg(
                    "coordinator",
                    "--federate",
                    "--detector",
                    detector,
                    "--clients",
                    str(len(sites)),
                    "--rounds",
                    str(rounds),
                    "--epochs",
                    str(epochs),
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
                    str(report_path),
                    "--seed",
                    str(seed),
                    "--timeout",
                    str(int(timeout_s)),
                ),
                env=env,
                start_new_session=True,
                stdout=subprocess.DEVNULL,
                stderr=(coord / "stderr.log").open("wb"),
            )
        )
        models: list[Path] = []
        for z in sites:
            site = workdir / f"agent-{z.zone}"
            site.mkdir(exist_ok=True)
            model = site / f"{detector}.model"
            model.unlink(missing_ok=True)
            models.append(model)
            procs.append(
                subprocess.Popen(
                    _sg(
                        "agent",
                        "--federate",
                        "--coordinator",
                        f"127.0.0.1:{port}",
                        "--data",
                        str(z.path),
                        "--format",
                        "cic-ids2017",
                        "--ca",
                        str(certs / "ca.pem"),
                        "--secret-key",
                        str(keys / "ckks-secret.ctx"),
                        "--port",
                        str(_free_port()),
                        "--workdir",
                        str(site),
                        "--model-out",
                        str(model),
                        "--max-seconds",
                        str(int(timeout_s) + 30),
                    ),
                    env=env,
                    start_new_session=True,
                    stdout=subprocess.DEVNULL,
                    stderr=(site / "stderr.log").open("wb"),
                )
            )
        coordinator = procs[0]
        deadline = time.monotonic() + timeout_s + 30
        shown = -1
        while coordinator.poll() is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"federated {detector}: no result in {timeout_s:.0f} s")
            elapsed = int(time.monotonic() - start)
            if elapsed // 15 != shown:
                shown = elapsed // 15
                progress(f"federated {detector}: {len(sites)} agents training ({elapsed} s)")
            time.sleep(0.5)
        if coordinator.returncode != 0:
            tail = (coord / "stderr.log").read_text(errors="replace")[-600:]
            raise RuntimeError(f"federated {detector}: coordinator failed: {tail.strip()}")
        waited = time.monotonic() + 30
        while not all(m.exists() for m in models) and time.monotonic() < waited:
            time.sleep(0.5)
    missing = [str(m) for m in models if not m.exists()]
    if missing:
        raise RuntimeError(f"federated {detector}: no global model saved at {missing[0]}")
    report: dict[str, Any] = json.loads(report_path.read_text(encoding="utf-8"))
    return FederatedModel(
        detector=detector,
        path=models[0],
        report=report,
        zones={z.zone: z.rows for z in sites},
        seconds=time.monotonic() - start,
    )
