"""Shared fixtures: where the public datasets live.

The datasets are not in the repository; they sit in ``../shared/datasets`` beside the checkout
(CI lays them there too). ``SWARMGUARD_DATASETS`` overrides the location.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _datasets_dir() -> Path:
    env = os.environ.get("SWARMGUARD_DATASETS")
    return Path(env) if env else REPO.parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    path = _datasets_dir()
    if not path.is_dir():
        pytest.fail(f"public datasets not found at {path}; set SWARMGUARD_DATASETS")
    return path


@pytest.fixture(scope="session")
def shared_dir(datasets_dir: Path) -> Path:
    return datasets_dir.parent


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=20)


@pytest.fixture
def netns_pair() -> Iterator[tuple[str, str]]:
    """Two throwaway namespaces joined by a veth pair: 10.213.0.1 (first) and 10.213.0.2.

    The addresses exist only on that pair; both namespaces are deleted afterwards, also on
    failure.
    """
    if os.geteuid() != 0:
        pytest.skip("needs root to create network namespaces")
    if shutil.which("ip") is None or shutil.which("ping") is None:
        pytest.fail("the net test needs `ip` (iproute2) and `ping` (iputils-ping)")
    tag = uuid.uuid4().hex[:6]
    ns1, ns2 = f"sgcap1-{tag}", f"sgcap2-{tag}"
    try:
        _ip("netns", "add", ns1)
        _ip("netns", "add", ns2)
        _ip(
            "link",
            "add",
            f"sgv1{tag}",
            "netns",
            ns1,
            "type",
            "veth",
            "peer",
            "name",
            f"sgv2{tag}",
            "netns",
            ns2,
        )
        _ip("-n", ns1, "addr", "add", "10.213.0.1/24", "dev", f"sgv1{tag}")
        _ip("-n", ns2, "addr", "add", "10.213.0.2/24", "dev", f"sgv2{tag}")
        for ns, dev in ((ns1, f"sgv1{tag}"), (ns2, f"sgv2{tag}")):
            _ip("-n", ns, "link", "set", dev, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        yield ns1, ns2
    finally:
        for ns in (ns1, ns2):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)
