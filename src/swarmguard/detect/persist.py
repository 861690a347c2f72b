"""Save and load fitted detectors as one file: a manifest plus the pickled detector.

The file is a joblib pickle: load only models you trained or trust (as with any scikit-learn
model). The manifest records versions so a mismatch is reported instead of failing obscurely.

Examples
--------
>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "m.joblib"
>>> save_detector({"weights": [1, 2]}, "toy", path)
>>> load_detector(path, "toy")
{'weights': [1, 2]}
"""

from __future__ import annotations

import logging
import pickle
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import sklearn

from swarmguard import __version__
from swarmguard.errors import InputError

__all__ = ["load_detector", "model_detector_name", "save_detector"]

log = logging.getLogger(__name__)
_MAGIC = "swarmguard-model"


def save_detector(obj: object, name: str, path: Path) -> None:
    """Write ``obj`` (a fitted detector) under registry ``name`` to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    manifest = {
        "magic": _MAGIC,
        "detector": name,
        "swarmguard": __version__,
        "sklearn": sklearn.__version__,
        "saved_at": datetime.now(UTC).isoformat(),
    }
    joblib.dump({"manifest": manifest, "detector": obj}, path, compress=3)


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InputError(path, "model file not found")
    try:
        blob = joblib.load(path)
    except (pickle.UnpicklingError, EOFError, ValueError, KeyError, IndexError, OSError) as exc:
        raise InputError(path, f"not a swarmguard model file ({exc})") from exc
    if not isinstance(blob, dict) or blob.get("manifest", {}).get("magic") != _MAGIC:
        raise InputError(path, "not a swarmguard model file")
    return blob


def model_detector_name(path: Path) -> str:
    """The registry name of the detector saved in ``path``."""
    return str(_read(Path(path))["manifest"]["detector"])


def load_detector(path: Path, name: str) -> Any:
    """Read a detector saved by ``save_detector``; check it is a ``name`` model."""
    path = Path(path)
    blob = _read(path)
    manifest = blob["manifest"]
    if manifest["detector"] != name:
        raise InputError(path, f"model is a '{manifest['detector']}' detector, not '{name}'")
    if manifest["sklearn"] != sklearn.__version__:
        log.warning(
            "%s was saved with scikit-learn %s, running %s",
            path,
            manifest["sklearn"],
            sklearn.__version__,
        )
    return blob["detector"]
