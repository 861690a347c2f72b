"""Where the CALDERA data lives: ``$SWARMGUARD_CALDERA``, else ``../shared/caldera/data``."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def find_caldera() -> Path | None:
    """``$SWARMGUARD_CALDERA``, the shared data beside the repository, or /work/shared's."""
    env = os.environ.get("SWARMGUARD_CALDERA")
    candidates = [Path(env)] if env else []
    candidates += [REPO.parent / "shared" / "caldera" / "data", Path("/work/shared/caldera/data")]
    return next((c for c in candidates if c.is_dir()), None)


@pytest.fixture(scope="session")
def caldera() -> Path:
    """The CALDERA data folder (tests that need it skip without it)."""
    found = find_caldera()
    if found is None:
        pytest.skip("CALDERA data not present (set SWARMGUARD_CALDERA)")
    return found


@pytest.fixture(scope="session")
def profile_path(caldera: Path) -> Callable[[str], Path]:
    """The YAML file of the adversary profile with a given name."""

    def find(name: str) -> Path:
        for p in sorted(caldera.joinpath("adversaries").rglob("*.yml")):
            if f"name: {name}\n" in p.read_text(encoding="utf-8"):
                return p
        raise AssertionError(f"no profile named {name!r} in {caldera}")

    return find
