#!/usr/bin/env python3
"""Sample: a TCP connect port scanner (harmless, written for swarmguard).

It resolves ``scan-target.example`` and tries to connect to ports 1-60 one after the other.
"""

# swarmguard-label: PortScan

from __future__ import annotations

import socket

TARGET = "scan-target.example"
PORTS = range(1, 61)


def main() -> None:
    """Connect to every port; print the ones that accepted."""
    addr = socket.gethostbyname(TARGET)
    opened = []
    for port in PORTS:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((addr, port)) == 0:
                opened.append(port)
    print(f"{addr}: {len(opened)} open")


if __name__ == "__main__":
    main()
