#!/usr/bin/env python3
"""Sample: a memory hog, to show the memory limit holds (harmless inside the sandbox).

It allocates and touches 16 MiB blocks until it is stopped, up to 4 GiB.
"""

# swarmguard-label: Malware

from __future__ import annotations

BLOCK = 16 << 20


def main() -> None:
    """Allocate and keep blocks."""
    kept = []
    for i in range(256):
        kept.append(bytearray(b"x" * BLOCK))
        print(f"{(i + 1) * 16} MiB", flush=True)


if __name__ == "__main__":
    main()
