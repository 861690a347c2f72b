"""Where the public reference data lies: datasets, SigmaHQ rules, CALDERA profiles.

It is not in the repository. ``$SWARMGUARD_SHARED`` names its folder; otherwise the parent of
``$SWARMGUARD_DATASETS``; otherwise ``shared/`` beside the checkout (where CI lays it).

Examples
--------
>>> import os
>>> os.environ["SWARMGUARD_SHARED"] = "/data/shared"
>>> str(shared_dir() / "caldera" / "data")
'/data/shared/caldera/data'
>>> del os.environ["SWARMGUARD_SHARED"]
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["REPO", "shared_dir"]

REPO = Path(__file__).resolve().parents[2]
"""The checkout this package runs from (an editable install)."""


def shared_dir() -> Path:
    """The shared data folder (it may not exist: callers say what is missing)."""
    if shared := os.environ.get("SWARMGUARD_SHARED"):
        return Path(shared)
    if datasets := os.environ.get("SWARMGUARD_DATASETS"):
        return Path(datasets).parent
    return REPO.parent / "shared"
