"""Every log parser on truncated, corrupt and mis-encoded input: a clear error, no crash, no hang.

"Clear error" means ``InputError`` (naming the file), or, with ``skip_bad``, a result with the
bad input counted. Any other exception type is a failure.
"""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swarmguard.acquire.logs import read_logs
from swarmguard.errors import InputError, SkipLog
from swarmguard.shared_data import shared_dir

REGRESSION = shared_dir() / "sigma" / "regression_data"
EVTX = sorted(REGRESSION.rglob("*.evtx"))[:3] if REGRESSION.is_dir() else []
FORMATS = ["auto", "evtx", "evtx-json", "auth", "access", "jsonl"]
SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _run(path: Path, fmt: str) -> None:
    try:
        read_logs(path, fmt)
    except InputError as exc:
        assert str(path) in str(exc)
    skips = SkipLog()
    try:
        read_logs(path, fmt, skip_bad=True, skip_log=skips)
    except InputError as exc:  # a file-level problem (not EVTX at all, empty, bad gzip)
        assert str(path) in str(exc)


@pytest.mark.skipif(not EVTX, reason="no .evtx samples")
@pytest.mark.parametrize("cut", [0, 1, 100, 4096, 4200, 65536, 70000])
def test_truncated_evtx(tmp_path: Path, cut: int) -> None:
    data = EVTX[0].read_bytes()
    path = tmp_path / "t.evtx"
    path.write_bytes(data[:cut])
    _run(path, "evtx")
    _run(path, "auto")


@pytest.mark.skipif(not EVTX, reason="no .evtx samples")
@given(seed=st.integers(0, 2**32 - 1), flips=st.integers(1, 200))
@SETTINGS
def test_corrupt_evtx(tmp_path: Path, seed: int, flips: int) -> None:
    rng = random.Random(seed)
    data = bytearray(EVTX[seed % len(EVTX)].read_bytes())
    for _ in range(flips):
        data[rng.randrange(len(data))] = rng.randrange(256)
    path = tmp_path / "c.evtx"
    path.write_bytes(bytes(data))
    _run(path, "evtx")


@given(blob=st.binary(max_size=2000), fmt=st.sampled_from(FORMATS))
@SETTINGS
def test_garbage_bytes(tmp_path: Path, blob: bytes, fmt: str) -> None:
    path = tmp_path / "g.log"
    path.write_bytes(blob)
    _run(path, fmt)


@given(
    text=st.text(max_size=500),
    fmt=st.sampled_from(FORMATS),
    encoding=st.sampled_from(["utf-16", "latin-1", "utf-8"]),
)
@SETTINGS
def test_wrong_encodings(tmp_path: Path, text: str, fmt: str, encoding: str) -> None:
    path = tmp_path / "e.log"
    path.write_bytes(text.encode(encoding, errors="replace"))
    _run(path, fmt)


@given(cut=st.integers(0, 400), fmt=st.sampled_from(FORMATS))
@SETTINGS
def test_truncated_gzip(tmp_path: Path, cut: int, fmt: str) -> None:
    payload = gzip.compress(b'{"Event": {"System": {"EventID": 1}}}\n' * 30)
    path = tmp_path / "t.gz"
    path.write_bytes(payload[:cut])
    _run(path, fmt)
