"""Samples for tests and the demo: harmless programs written for swarmguard.

Each declares its label (``# swarmguard-label: ...``, a CIC-IDS2017 label) and, when it needs
raw sockets, ``# swarmguard-sandbox: net_raw``. They only make sense inside the sandbox: every
name they resolve and every address they reach is the simulated internet.

Examples
--------
>>> sorted(SAMPLES)[:3]
['benign_browse.py', 'dns_tunnel.py', 'fork_bomb.py']
>>> sample_path("http_beacon.py").is_file()
True
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["SAMPLES", "sample_path"]

#: File name -> what the sample does.
SAMPLES: dict[str, str] = {
    "http_beacon.py": "HTTP beacon calling home on a timer",
    "dns_tunnel.py": "data exfiltration in DNS TXT queries",
    "port_scan.py": "TCP connect port scan of 60 ports",
    "ftp_guess.py": "FTP password guessing, 12 tries",
    "http_exfil.py": "data exfiltration by HTTP POST",
    "benign_browse.py": "ordinary browsing (benign)",
    "nmap_scan.sh": "nmap connect scan of 100 ports",
    "hping3_syn.sh": "hping3 burst of 200 SYNs (raw sockets)",
    "fork_bomb.py": "fork bomb (limits test)",
    "memory_hog.py": "memory hog (limits test)",
}


def sample_path(name: str) -> Path:
    """Path of a shipped sample.

    Raises
    ------
    KeyError
        If there is no such sample.
    """
    if name not in SAMPLES:
        raise KeyError(f"no shipped sample {name!r}; known: {', '.join(sorted(SAMPLES))}")
    return Path(__file__).with_name(name)
