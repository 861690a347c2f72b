#!/usr/bin/env python3
"""Sample: an HTTP beacon that calls home on a timer (harmless, written for swarmguard).

It resolves ``c2.beacon.example`` and asks ``GET /beacon?id=<host>&seq=<n>`` four times, half
a second apart, the way a bot checks in with its command server.
"""

# swarmguard-label: Bot

from __future__ import annotations

import time
import urllib.request

C2 = "c2.beacon.example"
BEATS = 4


def main() -> None:
    """Check in ``BEATS`` times."""
    for seq in range(BEATS):
        url = f"http://{C2}/beacon?id=sandbox&seq={seq}"
        with urllib.request.urlopen(url, timeout=3) as resp:
            resp.read()
        time.sleep(0.5)


if __name__ == "__main__":
    main()
