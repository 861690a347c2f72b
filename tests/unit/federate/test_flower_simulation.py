"""Flower's simulation engine (Ray) runs the project's ServerApp/ClientApp like the in-process one.

Same rows, same seeded fake detector (full-batch gradient descent: deterministic), so the two
engines must give the same global model: in the clear up to float summation order (1e-9), under
CKKS up to its encoding noise (the project's bound, 1e-3; observed about 2e-8).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from fakes import FAKE

from swarmguard.acquire.datasets import load_dataset
from swarmguard.eval.splits import split_rows
from swarmguard.federate.experiment import simulate
from swarmguard.federate.simulation import FederationConfig

ray = pytest.importorskip("ray", reason="flwr[simulation] (Ray) is not installed")

METRICS = ("tp", "fp", "tn", "fn", "f1", "detection_rate", "false_alarm_rate", "n_train")


def _ray_pids() -> set[int]:
    out = subprocess.run(["ps", "-eo", "pid=,stat=,args="], capture_output=True, text=True).stdout
    pids = set()
    for line in out.splitlines():
        pid, stat, args = (line.split(None, 2) + ["", ""])[:3]
        if "Z" not in stat and any(
            k in args for k in ("sg-flwr-", "raylet", "gcs_server", "ray::", "ray/_private")
        ):
            pids.add(int(pid))
    return pids


def _flower_dirs() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("sg-flwr-*"))


def test_flower_engine_matches_in_process_engine(datasets_dir: Path) -> None:
    rows = load_dataset(datasets_dir / "nsl-kdd" / "KDDTrain+_20Percent.txt")
    rows = rows.take(np.arange(3000))
    split = split_rows(rows, by="random", test_fraction=0.3, seed=0)
    train, test = rows.take(split.train), rows.take(split.test)
    ray_before, dirs_before = _ray_pids(), _flower_dirs()
    pythonpath = os.environ.get("PYTHONPATH")
    start = time.perf_counter()
    for protect, tolerance in (("none", 1e-9), ("ckks", 1e-3)):
        got = {}
        for engine in ("in-process", "flower"):
            cfg = FederationConfig(
                detector=FAKE, clients=3, rounds=2, protect=protect, seed=0, engine=engine
            )
            got[engine] = simulate(train, test, cfg, baselines=False, latency_samples=5)
        (ref, ref_result), (out, result) = got["in-process"], got["flower"]
        assert out["engine"] == "flower" and ref["engine"] == "in-process"
        assert set(out) == set(ref)
        assert (out["rounds"], out["clients"], out["protect"]) == (2, 3, protect)
        assert len(out["per_round"]) == 2 and out["seconds_per_round"] > 0
        assert out["bytes_per_round"]["up"] > 0 and out["bytes_per_round"]["down"] > 0
        assert out["client_rows"] == ref["client_rows"]
        np.testing.assert_allclose(out["client_weights"], ref["client_weights"], atol=1e-12)
        for a, b in zip(result.parameters, ref_result.parameters, strict=True):
            assert np.abs(a - b).max() < tolerance
        assert abs(result.threshold - ref_result.threshold) < 10 * tolerance
        assert {k: out[k] for k in METRICS} == {k: ref[k] for k in METRICS}
        assert out["f1"] > 0.8  # the logistic fake learns NSL-KDD well; not a quality claim
        if protect == "ckks":
            assert out["ciphertexts_per_update"] == ref["ciphertexts_per_update"] == 1
    assert time.perf_counter() - start < 90
    assert not ray.is_initialized()
    assert os.environ.get("PYTHONPATH") == pythonpath
    assert _flower_dirs() == dirs_before
    deadline = time.monotonic() + 10
    while _ray_pids() - ray_before and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _ray_pids() - ray_before
