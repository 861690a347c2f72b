"""Where the public datasets are: ``$SWARMGUARD_DATASETS`` or ``../shared/datasets``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def datasets_dir() -> Path:
    env = os.environ.get("SWARMGUARD_DATASETS")
    path = Path(env) if env else REPO.parent / "shared" / "datasets"
    if not path.is_dir():
        sys.exit(f"public datasets not found at {path}; set SWARMGUARD_DATASETS")
    return path


def synflood_pcap() -> Path:
    return datasets_dir() / "pcaps" / "stopddos" / "pkt.TCP.synflood.spoofed.pcap"
