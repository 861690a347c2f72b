#!/usr/bin/env python3
"""Sample: ordinary browsing, the benign class (harmless, written for swarmguard).

It looks up three web sites and fetches their front page, pausing between them.
"""

# swarmguard-label: BENIGN

from __future__ import annotations

import time
import urllib.request

SITES = ("www.news.example", "docs.python.example", "weather.example")


def main() -> None:
    """Fetch each front page once."""
    for site in SITES:
        with urllib.request.urlopen(f"http://{site}/", timeout=3) as resp:
            resp.read()
        time.sleep(0.2)


if __name__ == "__main__":
    main()
