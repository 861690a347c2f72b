"""The detector ``swarmguard detect`` uses when no model is given.

Until a rule set ships (rule engine issue), the default is the SVM trained on the CIC-IDS2017 demo
sample that ships in ``data/demo/``. It is trained on first use (a few seconds) and cached under
``$XDG_CACHE_HOME/swarmguard`` keyed by a hash of the training files, so it is rebuilt whenever the
sample or swarmguard changes. Nothing pickled is committed to the repository.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from swarmguard import __version__
from swarmguard.acquire.datasets import load_dataset
from swarmguard.detect.svm import SvmDetector
from swarmguard.errors import SwarmguardError

__all__ = ["default_detector", "demo_data_dir"]

log = logging.getLogger(__name__)


def demo_data_dir() -> Path:
    """Where the shipped demo samples are (``SWARMGUARD_DEMO_DATA`` overrides)."""
    env = os.environ.get("SWARMGUARD_DEMO_DATA")
    path = Path(env) if env else Path(__file__).resolve().parents[3] / "data" / "demo"
    if not path.is_dir():
        raise SwarmguardError(
            f"demo data not found at {path}; set SWARMGUARD_DEMO_DATA or pass --model"
        )
    return path


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "swarmguard"


def default_detector(seed: int = 0) -> SvmDetector:
    """Return the default SVM, training and caching it on first use."""
    train_dir = demo_data_dir() / "cic-ids2017"
    digest = hashlib.sha256(f"{__version__}:{seed}".encode())
    for f in sorted(train_dir.glob("*.csv")):
        digest.update(f.name.encode())
        digest.update(f.read_bytes())
    cached = _cache_dir() / f"default-svm-{digest.hexdigest()[:16]}.joblib"
    if cached.is_file():
        try:
            return SvmDetector.load(cached)
        except (SwarmguardError, TypeError) as exc:
            log.warning("ignoring unreadable cached model %s: %s", cached, exc)
    log.info("training the default SVM on %s", train_dir)
    det = SvmDetector(seed=seed)
    det.fit(load_dataset(train_dir, "cic-ids2017"))
    try:
        det.save(cached)
    except OSError as exc:
        log.warning("could not cache the default model at %s: %s", cached, exc)
    return det
