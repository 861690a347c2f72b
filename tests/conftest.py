"""Shared fixtures: where the public datasets live.

The datasets are not in the repository; they sit in ``../shared/datasets`` beside the checkout
(CI lays them there too). ``SWARMGUARD_DATASETS`` overrides the location.
"""

from __future__ import annotations

import os
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
